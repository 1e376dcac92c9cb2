// Package storage keeps the ledger in one bbolt file: entries by index, their
// metadata, the Merkle tree's node hashes, idempotency records, secondary
// indexes for list filters, the tree state and every signed checkpoint. It
// is the only package that imports bbolt for the ledger (the audit trail of
// reads keeps a file of its own, in package audit, so that auditing a read
// never waits on the ledger's writer), and it knows nothing of gRPC or of
// Merkle hashing: the ledger package decides what to write, this package
// writes it in one transaction.
//
// Transaction contract: Update runs fn in a single read-write transaction
// and returns only after the commit is on disk (fsync), or an error after
// which nothing of fn's writes is visible. fn must not keep state across
// calls or retain the transaction. View runs fn in a read-only transaction on
// a consistent snapshot; many may run at once, next to one Update.
package storage

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Options configure Open.
type Options struct {
	// LockTimeout is how long Open waits for the file lock another process
	// holds before failing with ErrLocked.
	LockTimeout time.Duration
	// InitialMmapSize is the initial size of the memory map, which avoids
	// remapping (and blocking readers) while a young database grows.
	InitialMmapSize int
	// MaxSize, when above zero, caps the file size; a commit that would grow
	// past it fails with ErrNoSpace. Zero means no cap.
	MaxSize int
	// ReadOnly opens the file for reading only (verification tools).
	ReadOnly bool
}

// Defaults of Options.
const (
	// DefaultLockTimeout makes a second process fail fast with a clear
	// message rather than wait forever on the lock.
	DefaultLockTimeout = 500 * time.Millisecond
	// DefaultInitialMmapSize is 256 MiB, mapped lazily by the kernel.
	DefaultInitialMmapSize = 256 << 20
)

// DefaultOptions returns the options for a production store.
func DefaultOptions() Options {
	return Options{LockTimeout: DefaultLockTimeout, InitialMmapSize: DefaultInitialMmapSize}
}

var (
	// ErrLocked means another process has the database open.
	ErrLocked = errors.New("database is locked by another process")
	// ErrNoSpace means the database reached its size cap or the disk is full.
	ErrNoSpace = errors.New("no space left for the database")
	// ErrNotFound means there is no such record.
	ErrNotFound = errors.New("not found")
)

// Store is an open database.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (creating if needed) the database at path.
func Open(path string, opts Options) (*Store, error) {
	bo := &bolt.Options{
		Timeout:         opts.LockTimeout,
		InitialMmapSize: opts.InitialMmapSize,
		ReadOnly:        opts.ReadOnly,
		FreelistType:    bolt.FreelistMapType,
		MaxSize:         opts.MaxSize,
	}
	db, err := bolt.Open(path, 0o600, bo)
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open %s: %w (waited %v for its lock; is another chemledgerd running on this data dir?)", path, ErrLocked, opts.LockTimeout)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if opts.ReadOnly {
		if err := s.checkSchema(); err != nil {
			db.Close()
			return nil, err
		}
		return s, nil
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		st := tx.Bucket(bucketState)
		switch v := st.Get(keySchema); {
		case v == nil:
			return st.Put(keySchema, u64(schemaVersion))
		case bytes.Equal(v, u64(1)):
			return migrateLocked(tx)
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise %s: %w", path, err)
	}
	if err := s.checkSchema(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// migrateLocked upgrades a schema 1 file to schema 2 inside Open's
// transaction: the idempotency records are re-keyed by the SHA-256 of
// their submission id. It is one transaction, so a crash leaves either
// version whole.
func migrateLocked(tx *bolt.Tx) error {
	type kv struct{ k, v []byte }
	var recs []kv
	if err := tx.Bucket(bucketSubmissions).ForEach(func(k, v []byte) error {
		recs = append(recs, kv{submissionKey(string(k)), bytes.Clone(v)})
		return nil
	}); err != nil {
		return err
	}
	if err := tx.DeleteBucket(bucketSubmissions); err != nil {
		return fmt.Errorf("migrate to schema 2: %w", err)
	}
	b, err := tx.CreateBucket(bucketSubmissions)
	if err != nil {
		return fmt.Errorf("migrate to schema 2: %w", err)
	}
	for _, r := range recs {
		if err := b.Put(r.k, r.v); err != nil {
			return fmt.Errorf("migrate to schema 2: %w", err)
		}
	}
	return tx.Bucket(bucketState).Put(keySchema, u64(schemaVersion))
}

func (s *Store) checkSchema() error {
	return s.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketState)
		if st == nil {
			return fmt.Errorf("%s: %w: no state bucket", s.path, ErrCorrupt)
		}
		if v := st.Get(keySchema); !bytes.Equal(v, u64(schemaVersion)) {
			return fmt.Errorf("%s: %w: schema version %x, want %d", s.path, ErrCorrupt, v, schemaVersion)
		}
		return nil
	})
}

// SetMaxSize changes the cap on the file size (0: none), as when an operator
// frees disk space. It takes the writer's lock, so it never races a commit.
func (s *Store) SetMaxSize(n int) error {
	return s.db.Update(func(*bolt.Tx) error {
		s.db.MaxSize = n
		return nil
	})
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Update runs fn in one read-write transaction and commits it durably.
func (s *Store) Update(fn func(tx *WriteTx) error) error {
	err := s.db.Update(func(btx *bolt.Tx) error {
		return fn(&WriteTx{ReadTx{tx: btx}})
	})
	if err != nil && isNoSpace(err) {
		return fmt.Errorf("%w: %v", ErrNoSpace, err)
	}
	return err
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(tx *ReadTx) error) error {
	return s.db.View(func(btx *bolt.Tx) error {
		return fn(&ReadTx{tx: btx})
	})
}

// OpenReadTxs is the number of read transactions open now. A reader that
// kept one open between pages of a long listing would pin every page it can
// see (the file could not reuse them) and hold off the remap a growing file
// needs; tests use this to see that none stays open.
func (s *Store) OpenReadTxs() int { return s.db.Stats().OpenTxN }

// Check runs bbolt's own consistency check of the file's pages.
func (s *Store) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

func isNoSpace(err error) bool {
	return errors.Is(err, bolterrors.ErrMaxSizeReached) || errors.Is(err, errENOSPC)
}
