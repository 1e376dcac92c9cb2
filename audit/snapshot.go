package audit

import (
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// Snapshot is a consistent copy of the audit trail's file as of one read
// transaction, for an online backup while records go on being appended.
type Snapshot struct {
	tx *bolt.Tx
}

// Snapshot opens the read transaction a backup copies.
func (s *Store) Snapshot() (*Snapshot, error) {
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("begin the audit trail snapshot: %w", err)
	}
	return &Snapshot{tx: tx}, nil
}

// Size is the size in bytes WriteTo writes.
func (s *Snapshot) Size() int64 { return s.tx.Size() }

// WriteTo writes the whole trail file as of the snapshot.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) { return s.tx.WriteTo(w) }

// Last is the snapshot's last record, if it has one.
func (s *Snapshot) Last() (Record, bool, error) {
	k, v := s.tx.Bucket(bucketRecords).Cursor().Last()
	if k == nil {
		return Record{}, false, nil
	}
	r, err := decode(k, v)
	return r, err == nil, err
}

// Close ends the read transaction.
func (s *Snapshot) Close() error { return s.tx.Rollback() }
