package storage

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Derived state. The detector keeps its flags and its own values here; the
// storage package only stores bytes under keys, in transactions separate
// from the ledger's, and can drop it all for a rebuild.

// Flag returns the encoded flag with id.
func (t *ReadTx) Flag(id string) ([]byte, error) {
	v := t.tx.Bucket(bucketFlags).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("flag %q: %w", id, ErrNotFound)
	}
	return v, nil
}

// ForEachFlag calls fn for every flag in id order, with slices valid only
// during the call, until fn returns an error.
func (t *ReadTx) ForEachFlag(fn func(id string, flag []byte) error) error {
	return t.tx.Bucket(bucketFlags).ForEach(func(k, v []byte) error { return fn(string(k), v) })
}

// FlagCount is the number of stored flags.
func (t *ReadTx) FlagCount() int { return t.tx.Bucket(bucketFlags).Stats().KeyN }

// DetectorValue returns the detector's value under key, or nil.
func (t *ReadTx) DetectorValue(key string) []byte {
	return t.tx.Bucket(bucketDetector).Get([]byte(key))
}

// PutFlag stores an encoded flag under its id, replacing any before it.
func (t *WriteTx) PutFlag(id string, flag []byte) error {
	return t.tx.Bucket(bucketFlags).Put([]byte(id), flag)
}

// PutDetectorValue stores a detector value.
func (t *WriteTx) PutDetectorValue(key string, v []byte) error {
	return t.tx.Bucket(bucketDetector).Put([]byte(key), v)
}

// DropDerived deletes all derived state, in one durable transaction, so a
// rebuild starts from nothing but the log.
func (s *Store) DropDerived() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range derivedBuckets {
			if err := tx.DeleteBucket(name); err != nil {
				return fmt.Errorf("drop %s: %w", name, err)
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("recreate %s: %w", name, err)
			}
		}
		return nil
	})
}
