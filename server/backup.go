package server

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/chemledger/chemledger/audit"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

// The names of the two files of a backup, as in the data directory.
const (
	BackupLedgerFile = "ledger.db"
	BackupAuditFile  = "audit.db"
)

// backupChunkSize is the data in one streamed message: well under the
// 4 MiB a gRPC message may carry by default.
const backupChunkSize = 256 << 10

// BackupSource opens the pair of read transactions a backup copies. It is
// the daemon's, not the server's, because only the daemon knows when the
// anchors between the two files are still (cmd/chemledgerd/anchor.go):
// a pair taken while an anchor is written may not pass each other's
// start-up check.
type BackupSource interface {
	OpenBackup() (*BackupSnapshot, error)
}

// BackupSnapshot is the ledger and the audit trail as a backup copies them.
type BackupSnapshot struct {
	Ledger *storage.Snapshot
	Audit  *audit.Snapshot
}

// Close ends both read transactions.
func (b *BackupSnapshot) Close() error {
	return errors.Join(b.Ledger.Close(), b.Audit.Close())
}

// errNoBackup is the refusal of a server assembled without a backup source.
var errNoBackup = errors.New("this server takes no backups")

// Backup streams ledger.db, then audit.db, then the manifest with each
// file's SHA-256, computed as it is sent.
func (s *adminService) Backup(_ *chemledgerv1.BackupRequest, stream chemledgerv1.AdminService_BackupServer) error {
	if s.backup == nil {
		return toStatus(s.log, errNoBackup)
	}
	snap, err := s.backup.OpenBackup()
	if err != nil {
		return toStatus(s.log, err)
	}
	defer snap.Close()
	m := &chemledgerv1.BackupManifest{Origin: s.origin, VerifierKey: s.verifierKey}
	size, note, err := snap.Ledger.LatestCheckpoint()
	if err != nil {
		return toStatus(s.log, fmt.Errorf("backup: %w", err))
	}
	m.Checkpoint = string(note)
	last, ok, err := snap.Audit.Last()
	if err != nil || !ok {
		return toStatus(s.log, fmt.Errorf("backup: the audit trail has no last record (%v)", err))
	}
	m.AuditSeq, m.AuditHash = last.Seq, last.Hash
	for _, f := range []struct {
		name string
		w    io.WriterTo
		size int64
	}{{BackupLedgerFile, snap.Ledger, snap.Ledger.Size()}, {BackupAuditFile, snap.Audit, snap.Audit.Size()}} {
		cw := &chunkWriter{stream: stream, file: f.name, sum: sha256.New(), size: uint64(f.size)}
		n, err := f.w.WriteTo(cw)
		if err == nil {
			err = cw.flush()
		}
		if err != nil {
			// The client sees the stream end with an error, never a
			// manifest, so a cut-short file is never taken for a backup.
			return toStatus(s.log, fmt.Errorf("backup %s: %w", f.name, err))
		}
		m.Files = append(m.Files, &chemledgerv1.BackupFile{Name: f.name, Size: uint64(n), Sha256: cw.sum.Sum(nil)})
	}
	s.log.Info("backup streamed", "checkpoint_size", size, "audit_seq", m.AuditSeq)
	return stream.Send(&chemledgerv1.BackupChunk{Manifest: m})
}

// chunkWriter sends what it is written as BackupChunks of one file.
type chunkWriter struct {
	stream chemledgerv1.AdminService_BackupServer
	file   string
	sum    hash.Hash
	buf    []byte
	// size is sent on the first chunk, then cleared.
	size uint64
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.sum.Write(p)
	n := len(p)
	for len(p) > 0 {
		k := min(backupChunkSize-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == backupChunkSize {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *chunkWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.stream.Send(&chemledgerv1.BackupChunk{File: w.file, Data: w.buf, Size: w.size})
	w.size = 0
	w.buf = make([]byte, 0, backupChunkSize)
	return err
}
