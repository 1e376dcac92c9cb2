package audit

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The trail and the ledger each keep the other's head, because each file
// alone can be replaced by an older copy of itself that is internally
// consistent: a chain cut back to an earlier record still verifies, and so
// does a ledger restored from an old backup. What one file cannot show,
// the other can: this file keeps the latest ledger checkpoint the trail has
// seen (RecordCheckpoint), and the ledger keeps the trail's head. The
// caller (chemledgerd) compares the two at start.

// LedgerHead is a ledger checkpoint as the trail recorded it.
type LedgerHead struct {
	Size uint64
	Root []byte
}

// LedgerHead returns the latest ledger checkpoint recorded in this file,
// if any.
func (s *Store) LedgerHead() (LedgerHead, bool, error) {
	var (
		h  LedgerHead
		ok bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketState).Get(keyLedgerHead)
		if v == nil {
			return nil
		}
		if len(v) != 8+32 {
			return fmt.Errorf("audit store %s: the recorded ledger checkpoint is %d bytes", s.opts.Path, len(v))
		}
		h, ok = LedgerHead{Size: binary.BigEndian.Uint64(v), Root: append([]byte(nil), v[8:]...)}, true
		return nil
	})
	return h, ok, err
}

// RecordCheckpoint durably records a ledger checkpoint the ledger has
// already committed. The record only grows: a checkpoint no larger than
// the one recorded is ignored, so that followers racing each other, or a
// start that records the size it opened at, never move it back.
func (s *Store) RecordCheckpoint(size uint64, root []byte) error {
	if len(root) != 32 {
		return fmt.Errorf("record ledger checkpoint %d: root of %d bytes", size, len(root))
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketState)
		if v := st.Get(keyLedgerHead); len(v) == 8+32 && binary.BigEndian.Uint64(v) >= size {
			return nil
		}
		return st.Put(keyLedgerHead, append(binary.BigEndian.AppendUint64(nil, size), root...))
	})
	if err != nil {
		return fmt.Errorf("record ledger checkpoint %d in the audit trail: %w", size, err)
	}
	return nil
}

// Last returns the last committed record, if the trail has any: the head
// the ledger records.
func (s *Store) Last() (Record, bool, error) {
	var (
		r  Record
		ok bool
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketRecords).Cursor().Last()
		if k == nil {
			return nil
		}
		var err error
		r, err = decode(k, v)
		ok = err == nil
		return err
	})
	return r, ok, err
}

// MethodNewTrail is the Method of the first record of a trail that an
// operator started: by creating the log (chemledgerd init), or explicitly
// over a lost one (--new-audit-trail).
const MethodNewTrail = "chemledgerd/new-audit-trail"

// NewTrail is the first record of a new trail. It names the ledger head
// the trail starts at and the head of the trail it replaces (previous: ""
// for a new log), so an auditor reading the trail from its start sees that
// it is not the original, from where, and what was lost.
func NewTrail(ledgerSize uint64, ledgerRoot []byte, previous string) Record {
	if previous == "" {
		previous = "none"
	}
	return Record{
		Principal: "operator",
		Via:       "chemledgerd",
		Method:    MethodNewTrail,
		Resources: []string{
			fmt.Sprintf("ledger checkpoint %d root %s", ledgerSize, hex.EncodeToString(ledgerRoot)),
			"previous trail: " + previous,
		},
		Outcome: "OK",
	}
}
