package storage

import (
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// Snapshot is a consistent copy of the ledger file as of one read
// transaction, for an online backup: bbolt's Tx.WriteTo writes the pages
// that transaction sees while commits go on beside it. Close it (once
// written) so the pages it pins can be reused.
type Snapshot struct {
	tx *bolt.Tx
}

// Snapshot opens the read transaction a backup copies.
func (s *Store) Snapshot() (*Snapshot, error) {
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("begin the ledger snapshot: %w", err)
	}
	return &Snapshot{tx: tx}, nil
}

// Size is the size in bytes WriteTo writes.
func (s *Snapshot) Size() int64 { return s.tx.Size() }

// WriteTo writes the whole database file as of the snapshot.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) { return s.tx.WriteTo(w) }

// LatestCheckpoint is the newest signed checkpoint the snapshot holds.
func (s *Snapshot) LatestCheckpoint() (size uint64, note []byte, err error) {
	return (&ReadTx{tx: s.tx}).LatestCheckpoint()
}

// AuditHead is the audit trail's head the snapshot's ledger recorded.
func (s *Snapshot) AuditHead() (AuditHead, bool, error) { return (&ReadTx{tx: s.tx}).AuditHead() }

// Close ends the read transaction.
func (s *Snapshot) Close() error { return s.tx.Rollback() }
