package main

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/internal/atomicfile"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/storage"
)

// runRestore is `chemledgerd restore --from FILE --data-dir D`: it puts a
// backup's ledger.db and audit.db in place in a data dir that holds no
// ledger and no audit trail, after checking the manifest's digests, and,
// when the log's signing key is there, runs the start-up checks on the
// restored pair.
//
// It never replaces a ledger or an audit trail. A data dir that holds a
// newer log than the backup is refused as such (restoring would roll the
// log back, and its acknowledged entries since the backup would be gone);
// any other log is refused too, to be moved aside by the operator, who
// keeps it as evidence. Replacing one file by hand is refused at start
// by the cross-anchors (anchor.go).
//
// The backup is read into temporary files in D first (readBackupFile) and
// installed by installRestore; a later --from-mirror mode fetches the same
// two files and manifest from a mirror and installs them the same way.
func runRestore(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("chemledgerd restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", env("CHEMLEDGER_RESTORE_FROM", ""), "the backup file written by `chemledgerd backup` (env CHEMLEDGER_RESTORE_FROM) (required)")
	dataDir := fs.String("data-dir", env("CHEMLEDGER_DATA_DIR", "./chemledger-data"), "the data directory to restore into: it must hold no ledger.db and no audit.db (env CHEMLEDGER_DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("restore: unexpected arguments %q", fs.Args())
	}
	if *from == "" {
		return errors.New("restore: --from is required: the backup file")
	}
	layout := datadir.Layout{Dir: *dataDir}
	f, err := os.Open(*from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	if err := os.MkdirAll(layout.Dir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// Refuse before reading a byte of the backup into the data dir.
	m, err := readManifestOnly(*from)
	if err != nil {
		return fmt.Errorf("restore: %s: %w", *from, err)
	}
	cp, err := parseManifestCheckpoint(m)
	if err != nil {
		return fmt.Errorf("restore: %s: %w", *from, err)
	}
	if err := refuseExisting(layout, cp); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	staged, m, err := readBackupFile(f, layout.Dir)
	defer func() {
		for _, p := range staged {
			os.Remove(p) // a no-op once installed
		}
	}()
	if err != nil {
		return fmt.Errorf("restore: %s: %w", *from, err)
	}
	checked, err := installRestore(layout, m, staged)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stderr, "restored the log %q at checkpoint %d (root %x) and its audit trail up to record %d into %s\n",
		m.GetOrigin(), cp.Size, cp.Root, m.GetAuditSeq(), layout.Dir)
	if checked {
		fmt.Fprintln(stderr, "the start-up checks (full verification, both anchors) accept the restored pair")
	} else {
		fmt.Fprintf(stderr, "%s holds no log.key (a backup never carries the signing key): copy it in, with the members file and TLS certificates, before serving; the start-up checks run then\n", layout.Dir)
	}
	return nil
}

// parseManifestCheckpoint opens the manifest's checkpoint with the
// manifest's verifier key and origin.
func parseManifestCheckpoint(m *chemledgerv1.BackupManifest) (checkpoint.Checkpoint, error) {
	v, err := note.NewVerifier(m.GetVerifierKey())
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("the manifest's verifier key: %w", err)
	}
	cp, err := checkpoint.Open([]byte(m.GetCheckpoint()), m.GetOrigin(), v)
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("the manifest's checkpoint: %w", err)
	}
	return cp, nil
}

// refuseExisting refuses a data dir that already holds a ledger or an
// audit trail (of any size, even an empty file: restore never replaces a
// file), naming a newer log as such, and a signing key of another log.
func refuseExisting(layout datadir.Layout, backup checkpoint.Checkpoint) error {
	var have []string
	for _, p := range []string{layout.DB(), layout.Audit()} {
		if _, err := os.Stat(p); err == nil {
			have = append(have, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if len(have) > 0 {
		aside := fmt.Sprintf("move %s aside (keep it: it is evidence) and restore again, or restore into another data dir", strings.Join(have, " and "))
		if size, ok := ledgerSize(layout); ok && size > backup.Size {
			return fmt.Errorf("%s holds a newer log than the backup: its ledger is at checkpoint %d, the backup's at %d; restoring it would roll the log back and lose entries %d–%d: refused; %s",
				layout.Dir, size, backup.Size, backup.Size, size-1, aside)
		} else if ok {
			return fmt.Errorf("%s already holds a log (its ledger at checkpoint %d; the backup's at %d): restore never replaces one; %s", layout.Dir, size, backup.Size, aside)
		}
		return fmt.Errorf("%s already holds %s: restore never replaces a file; %s", layout.Dir, strings.Join(have, ", "), aside)
	}
	return nil
}

// ledgerSize is the latest checkpoint size of the data dir's ledger, if it
// can be read (not when the daemon holds it: then it is refused anyway).
func ledgerSize(layout datadir.Layout) (uint64, bool) {
	st, err := storage.Open(layout.DB(), storage.DefaultOptions())
	if err != nil {
		return 0, false
	}
	defer st.Close()
	var size uint64
	err = st.View(func(tx *storage.ReadTx) error {
		var err error
		size, _, err = tx.LatestCheckpoint()
		return err
	})
	return size, err == nil
}

// readManifestOnly reads just the manifest of a backup file.
func readManifestOnly(path string) (*chemledgerv1.BackupManifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("it ends before its manifest (%v): not a complete backup", err)
		}
		if err != nil {
			return nil, fmt.Errorf("not a backup file: %w", err)
		}
		if h.Name == backupManifestName {
			return decodeManifest(tr)
		}
	}
}

func decodeManifest(r io.Reader) (*chemledgerv1.BackupManifest, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	var m chemledgerv1.BackupManifest
	if err := protojson.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return &m, nil
}

// readBackupFile copies a backup's two files into temporary files in dir,
// checking them against its manifest; it returns their paths by name.
func readBackupFile(r io.Reader, dir string) (map[string]string, *chemledgerv1.BackupManifest, error) {
	staged := map[string]string{}
	type got struct {
		size uint64
		sum  hash.Hash
	}
	files := map[string]*got{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return staged, nil, fmt.Errorf("it ends before its manifest (%v): not a complete backup", err)
		}
		if err != nil {
			return staged, nil, fmt.Errorf("not a backup file: %w", err)
		}
		switch h.Name {
		case backupManifestName:
			m, err := decodeManifest(tr)
			if err != nil {
				return staged, nil, err
			}
			err = checkManifestFiles(m, func(name string) (uint64, []byte, bool) {
				g, ok := files[name]
				if !ok {
					return 0, nil, false
				}
				return g.size, g.sum.Sum(nil), true
			})
			return staged, m, err
		case server.BackupLedgerFile, server.BackupAuditFile:
			if _, dup := files[h.Name]; dup {
				return staged, nil, fmt.Errorf("%s twice", h.Name)
			}
			tmp, err := os.CreateTemp(dir, "."+h.Name+".restore-*")
			if err != nil {
				return staged, nil, err
			}
			staged[h.Name] = tmp.Name()
			g := &got{sum: sha256.New()}
			files[h.Name] = g
			n, err := io.Copy(io.MultiWriter(tmp, g.sum), tr)
			g.size = uint64(n)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return staged, nil, fmt.Errorf("%s: %w", h.Name, err)
			}
		default:
			return staged, nil, fmt.Errorf("unexpected file %q", h.Name)
		}
	}
}

// installRestore checks the data dir's log keys against the manifest,
// moves the staged files into place, and, with the signing key present,
// runs the start-up checks on them. It reports whether they ran.
func installRestore(layout datadir.Layout, m *chemledgerv1.BackupManifest, staged map[string]string) (checked bool, err error) {
	if b, err := os.ReadFile(layout.LogPub()); err == nil {
		if got := strings.TrimSpace(string(b)); got != m.GetVerifierKey() {
			return false, fmt.Errorf("%s is the key of another log (%s), not the backup's (%s)", layout.LogPub(), got, m.GetVerifierKey())
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	} else if err := atomicfile.Create(layout.LogPub(), []byte(m.GetVerifierKey()+"\n"), 0o644); err != nil {
		// The public key is the backup's to give; the signing key is not.
		return false, err
	}
	var keys datadir.LogKeys
	hasKey := false
	if _, err := os.Stat(layout.LogKey()); err == nil {
		if keys, err = datadir.ReadLogKeys(layout); err != nil {
			return false, err
		}
		if keys.VerifierKey != m.GetVerifierKey() {
			return false, fmt.Errorf("%s is the signing key of another log (verifier %s), not the backup's (%s)", layout.LogKey(), keys.VerifierKey, m.GetVerifierKey())
		}
		hasKey = true
	}
	// The ledger last: a data dir with a ledger and no trail is refused at
	// start, one with a trail and no ledger says the ledger is missing;
	// either way a cut-short restore does not serve.
	if err := os.Rename(staged[server.BackupAuditFile], layout.Audit()); err != nil {
		return false, err
	}
	if err := os.Rename(staged[server.BackupLedgerFile], layout.DB()); err != nil {
		return false, err
	}
	if !hasKey {
		return false, nil
	}
	return true, checkRestored(layout, keys, server.Describe)
}

// checkRestored runs on the restored pair the checks a start runs before
// it serves: the ledger's full verification, then both anchors. It
// records no heads, so the files stay as the backup had them. describe is
// how the service derives index fields from entries (server.Describe).
func checkRestored(layout datadir.Layout, keys datadir.LogKeys, describe storage.Describe) error {
	quiet := slog.New(slog.DiscardHandler)
	st, err := storage.Open(layout.DB(), storage.DefaultOptions())
	if err != nil {
		return err
	}
	defer st.Close()
	lcfg := ledger.DefaultConfig(keys.Signer, keys.Verifier)
	lcfg.Logger = quiet
	lcfg.Describe = describe
	l, err := ledger.Open(st, lcfg)
	if err != nil {
		return fmt.Errorf("the restored ledger %s fails its check: %w", layout.DB(), err)
	}
	defer l.Close()
	saw, anchored, err := l.AuditHead()
	if err != nil {
		return err
	}
	ao := audit.DefaultOptions(layout.Audit())
	ao.Logger = quiet
	a, err := audit.Open(ao)
	if err != nil {
		return fmt.Errorf("the restored audit trail %s: %w", layout.Audit(), err)
	}
	defer a.Close()
	if !anchored {
		return fmt.Errorf("the restored ledger %s records no audit head", layout.DB())
	}
	if err := checkAnchors(layout, a, l, saw, anchored, false, quiet); err != nil {
		return fmt.Errorf("the restored pair fails the start-up check: %w", err)
	}
	return nil
}
