package storage

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// UpdateTimed is Update that also says how long bbolt spent writing the
// transaction's pages and meta page to the file and syncing them to disk
// (its TxStats write time: two fdatasyncs and the writes between them).
// The ledger reports it apart from the whole commit, so an operator can
// tell a slow disk from a slow batch.
func (s *Store) UpdateTimed(fn func(tx *WriteTx) error) (time.Duration, error) {
	var btx *bolt.Tx
	err := s.Update(func(tx *WriteTx) error {
		btx = tx.tx
		return fn(tx)
	})
	if btx == nil {
		return 0, err
	}
	// The stats stay on the closed transaction after its commit.
	st := btx.Stats()
	return st.GetWriteTime(), err
}
