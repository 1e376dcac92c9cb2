package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
)

// The backup file is a tar archive: ledger.db, then audit.db, then
// manifest.json (the BackupManifest in protojson), written in the order
// the daemon streams them. The manifest comes last because the daemon
// knows each file's SHA-256 only once it has sent it; a file without a
// manifest is not a backup (the stream was cut short), and restore
// refuses it.
const backupManifestName = "manifest.json"

// runBackup is `chemledgerd backup --to FILE`: a client of the running
// daemon (which holds the files' locks) that asks AdminService.Backup for
// an online copy and writes it to FILE, atomically.
func runBackup(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("chemledgerd backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("server", env("CHEMLEDGER_SERVER", "127.0.0.1:7070"), "the daemon's gRPC address (env CHEMLEDGER_SERVER)")
	ca := fs.String("ca", env("CHEMLEDGER_CA", ""), "CA certificate (PEM) that issued the server's certificate (env CHEMLEDGER_CA) (required)")
	cert := fs.String("cert", env("CHEMLEDGER_CERT", ""), "an admin's client certificate (PEM) (env CHEMLEDGER_CERT) (required)")
	key := fs.String("key", env("CHEMLEDGER_KEY", ""), "its private key (PEM) (env CHEMLEDGER_KEY) (required)")
	to := fs.String("to", env("CHEMLEDGER_BACKUP_TO", ""), "the backup file to write; it must not exist (env CHEMLEDGER_BACKUP_TO) (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("backup: unexpected arguments %q", fs.Args())
	}
	if *to == "" || *ca == "" || *cert == "" || *key == "" {
		return errors.New("backup: --to, --ca, --cert and --key are required (the certificate must be an admin's)")
	}
	if _, err := os.Stat(*to); err == nil {
		return fmt.Errorf("backup: %s exists; backup never overwrites a file", *to)
	}
	tlsCfg, err := pki.LoadClient(*ca, *cert, *key)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		return fmt.Errorf("backup: dial %s: %w", *addr, err)
	}
	defer conn.Close()
	start := time.Now()
	m, err := fetchBackup(ctx, chemledgerv1.NewAdminServiceClient(conn), *to)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	cp, _ := parseManifestCheckpoint(m)
	fmt.Fprintf(stderr, "backed up the log %q at checkpoint %d (root %x) and the audit trail up to record %d to %s in %v\n",
		m.GetOrigin(), cp.Size, cp.Root, m.GetAuditSeq(), *to, time.Since(start).Round(time.Millisecond))
	return nil
}

// fetchBackup streams a backup into path: a temporary file next to it,
// renamed once the manifest has arrived and every digest matched.
func fetchBackup(ctx context.Context, c chemledgerv1.AdminServiceClient, path string) (*chemledgerv1.BackupManifest, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Backup(ctx, &chemledgerv1.BackupRequest{})
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name()) // a no-op once renamed
	}()
	tw := tar.NewWriter(tmp)
	type got struct {
		size uint64
		sum  hash.Hash
	}
	files := map[string]*got{}
	var cur string
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the daemon ended the backup without a manifest")
		}
		if err != nil {
			return nil, err
		}
		if m := chunk.GetManifest(); m != nil {
			if err := checkManifestFiles(m, func(name string) (uint64, []byte, bool) {
				g, ok := files[name]
				if !ok {
					return 0, nil, false
				}
				return g.size, g.sum.Sum(nil), true
			}); err != nil {
				return nil, err
			}
			b, err := protojson.Marshal(m)
			if err != nil {
				return nil, err
			}
			if err := tw.WriteHeader(&tar.Header{Name: backupManifestName, Mode: 0o600, Size: int64(len(b)), ModTime: time.Now()}); err != nil {
				return nil, err
			}
			if _, err := tw.Write(b); err != nil {
				return nil, err
			}
			if err := tw.Close(); err != nil {
				return nil, err
			}
			if err := tmp.Sync(); err != nil {
				return nil, err
			}
			if err := tmp.Close(); err != nil {
				return nil, err
			}
			return m, os.Rename(tmp.Name(), path)
		}
		if chunk.GetFile() != cur {
			if _, seen := files[chunk.GetFile()]; seen || (chunk.GetFile() != server.BackupLedgerFile && chunk.GetFile() != server.BackupAuditFile) {
				return nil, fmt.Errorf("the daemon sent an unexpected file %q", chunk.GetFile())
			}
			cur = chunk.GetFile()
			files[cur] = &got{sum: sha256.New()}
			if err := tw.WriteHeader(&tar.Header{Name: cur, Mode: 0o600, Size: int64(chunk.GetSize()), ModTime: time.Now()}); err != nil {
				return nil, err
			}
		}
		g := files[cur]
		if _, err := tw.Write(chunk.GetData()); err != nil {
			return nil, fmt.Errorf("%s: %w", cur, err)
		}
		g.sum.Write(chunk.GetData())
		g.size += uint64(len(chunk.GetData()))
	}
}

// checkManifestFiles checks that the manifest names exactly the two files,
// with the sizes and digests have reports for each.
func checkManifestFiles(m *chemledgerv1.BackupManifest, have func(name string) (size uint64, sum []byte, ok bool)) error {
	if len(m.GetFiles()) != 2 {
		return fmt.Errorf("the manifest names %d files, want %s and %s", len(m.GetFiles()), server.BackupLedgerFile, server.BackupAuditFile)
	}
	for i, want := range []string{server.BackupLedgerFile, server.BackupAuditFile} {
		f := m.GetFiles()[i]
		if f.GetName() != want {
			return fmt.Errorf("the manifest's file %d is %q, want %q", i, f.GetName(), want)
		}
		size, sum, ok := have(want)
		switch {
		case !ok:
			return fmt.Errorf("%s: in the manifest but not in the backup", want)
		case size != f.GetSize():
			return fmt.Errorf("%s: %d bytes, the manifest says %d", want, size, f.GetSize())
		case !bytes.Equal(sum, f.GetSha256()):
			return fmt.Errorf("%s: SHA-256 %x, the manifest says %x", want, sum, f.GetSha256())
		}
	}
	return nil
}
