package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The file's whole schema. The audit store has its own file rather than
// buckets in the ledger's: reads are audited far more often than entries are
// written, and a separate file keeps those commits off the ledger's writer
// lock and lets either file be copied to an auditor alone.
var (
	// bucketRecords: seq (u64, big-endian so byte order is seq order) →
	// JSON of Record. Append-only.
	bucketRecords = []byte("records")
	// bucketState: keySchema → schemaVersion (u64); keyLedgerHead → the
	// latest ledger checkpoint the trail has seen, size (u64) ‖ root (32
	// bytes), absent until the first is recorded (anchor.go).
	bucketState   = []byte("state")
	keySchema     = []byte("schema")
	keyLedgerHead = []byte("ledger_head")
)

// schemaVersion changes whenever the record encoding or the layout above
// does; Open refuses a file of another version rather than misread it.
const schemaVersion = 1

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Options configure Open.
type Options struct {
	// Path is the bbolt file, conventionally <datadir>/audit.db.
	Path string
	// Linger is how long the writer waits for more records after the first
	// before committing; zero means DefaultLinger, negative means no wait.
	Linger time.Duration
	// MaxBatch bounds how many records share one commit; zero means
	// DefaultMaxBatch.
	MaxBatch int
	// LockTimeout is how long Open waits for another process's lock on the
	// file; zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// NoSync skips fsync. Tests only: an acknowledged record could be lost.
	NoSync bool
	// Logger receives commit failures; nil means slog.Default().
	Logger *slog.Logger
}

// Defaults of Options.
const (
	// DefaultLinger is the wait for company after the first record of a
	// batch. An fsync costs hundreds of microseconds to milliseconds whether
	// it carries one record or a thousand, so under concurrent reads a short
	// wait saves far more than it adds.
	DefaultLinger = 200 * time.Microsecond
	// DefaultMaxBatch is the most records one commit carries (~300 bytes
	// each, so a few hundred KiB per commit at most).
	DefaultMaxBatch = 1024
	// DefaultLockTimeout makes a second process fail fast rather than wait
	// forever for the file lock.
	DefaultLockTimeout = 500 * time.Millisecond
)

// DefaultOptions returns production options for the file at path.
func DefaultOptions(path string) Options {
	return Options{Path: path, Linger: DefaultLinger, MaxBatch: DefaultMaxBatch, LockTimeout: DefaultLockTimeout}
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit store is closed")

// Store is an open audit store.
type Store struct {
	db   *bolt.DB
	opts Options
	now  func() time.Time

	queue    chan *request
	closing  chan struct{}
	stopped  chan struct{}
	closeMu  sync.RWMutex
	isClosed bool

	// failures is how many upcoming commits InjectFailures asked to fail.
	failures atomic.Int64
	// writeErr is the error of the last commit, nil once one succeeds.
	writeErr atomic.Pointer[error]
	// commits and committed count successful commits and their records, so
	// a benchmark can report the batch size it got.
	commits, committed atomic.Uint64

	// The chain head, owned by the writer goroutine once Open returns:
	// the seq the next record gets and the hash it links to.
	nextSeq uint64
	head    [32]byte
}

// Open opens (creating if needed) the audit store at opts.Path, checks the
// tail of the stored chain and starts the writer. It refuses a file whose
// last record does not recompute or does not link to the one before it: a
// store that cannot vouch for its own head must not extend it.
func Open(opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("audit: no path")
	}
	if opts.Linger == 0 {
		opts.Linger = DefaultLinger
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := bolt.Open(opts.Path, 0o600, &bolt.Options{
		Timeout:      opts.LockTimeout,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("open audit store %s: locked by another process (waited %v)", opts.Path, opts.LockTimeout)
		}
		return nil, fmt.Errorf("open audit store %s: %w", opts.Path, err)
	}
	s := &Store{
		db:      db,
		opts:    opts,
		now:     time.Now,
		queue:   make(chan *request, 4*opts.MaxBatch),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if err := s.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open audit store %s: %w", opts.Path, err)
	}
	go s.run()
	return s, nil
}

// load creates the schema of a new file, or checks an old one's version and
// chain tail, and sets the head.
func (s *Store) load() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		st, err := tx.CreateBucketIfNotExists(bucketState)
		if err != nil {
			return err
		}
		want := binary.BigEndian.AppendUint64(nil, schemaVersion)
		switch v := st.Get(keySchema); {
		case v == nil:
			if err := st.Put(keySchema, want); err != nil {
				return err
			}
		case !bytes.Equal(v, want):
			return fmt.Errorf("schema version %x, want %d", v, schemaVersion)
		}
		b, err := tx.CreateBucketIfNotExists(bucketRecords)
		if err != nil {
			return err
		}
		return s.checkTailLocked(b)
	})
}

// checkTailLocked verifies the last record (and the one it links to) and
// sets the head from it. It runs inside Open's transaction.
func (s *Store) checkTailLocked(b *bolt.Bucket) error {
	c := b.Cursor()
	if k, _ := c.First(); k == nil {
		s.nextSeq, s.head = 0, zeroHash
		return nil
	} else if seq := binary.BigEndian.Uint64(k); seq != 0 {
		return &ChainError{Seq: 0, Reason: fmt.Sprintf("missing; the first stored record is %d", seq)}
	}
	k, v := c.Last()
	last, err := decode(k, v)
	if err != nil {
		return err
	}
	// The tail must link to the record before it, so that record is read
	// and checked too. (A forger who rewrites the tail and recomputes its
	// hash keeps the chain consistent; only an anchor of the head outside
	// this file catches that, or a cut-off tail.)
	prev := zeroHash[:]
	run := []Record{last}
	if last.Seq > 0 {
		pk, pv := c.Prev()
		before, err := decode(pk, pv)
		if err != nil {
			return err
		}
		prev = nil
		if before.Seq > 0 {
			prev = before.Prev
		}
		run = []Record{before, last}
	}
	if err := Verify(prev, run); err != nil {
		return fmt.Errorf("tail of the chain: %w", err)
	}
	s.nextSeq = last.Seq + 1
	copy(s.head[:], last.Hash)
	return nil
}

// decode reads the record stored under key k. A record whose JSON does not
// parse, or whose seq is not its key, is a broken chain at that key.
func decode(k, v []byte) (Record, error) {
	if len(k) != 8 {
		return Record{}, &ChainError{Reason: fmt.Sprintf("malformed key %x", k)}
	}
	seq := binary.BigEndian.Uint64(k)
	var r Record
	d := json.NewDecoder(bytes.NewReader(v))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return Record{}, &ChainError{Seq: seq, Reason: fmt.Sprintf("undecodable: %v", err)}
	}
	if r.Seq != seq {
		return Record{}, &ChainError{Seq: seq, Reason: fmt.Sprintf("stored under seq %d but says %d", seq, r.Seq)}
	}
	return r, nil
}

// Close stops accepting records, commits those already queued, stops the
// writer and closes the file.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.isClosed {
		s.closeMu.Unlock()
		return nil
	}
	s.isClosed = true
	close(s.closing)
	s.closeMu.Unlock()
	<-s.stopped
	return s.db.Close()
}

// List returns up to limit records from seq from, in seq order, and how many
// records the store holds. With limit <= 0 it returns only the count. The
// records are as stored, unverified: hand them to Verify.
func (s *Store) List(from uint64, limit int) ([]Record, uint64, error) {
	out, total, err := s.list(from, limit)
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// list is List that, when a record does not decode, also returns the records
// before it, so that VerifyAll can check them and count them.
func (s *Store) list(from uint64, limit int) (out []Record, total uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRecords).Cursor()
		k, _ := c.Last()
		if k == nil {
			return nil
		}
		// Seqs are contiguous from 0 (Verify and Open check it), so the
		// last key is the count less one.
		total = binary.BigEndian.Uint64(k) + 1
		if limit <= 0 || from >= total {
			return nil
		}
		out = make([]Record, 0, min(uint64(limit), total-from))
		for k, v := c.Seek(seqKey(from)); k != nil && len(out) < limit; k, v = c.Next() {
			r, err := decode(k, v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return out, total, fmt.Errorf("list audit records from %d: %w", from, err)
	}
	return out, total, nil
}

// verifyPage is how many records VerifyAll reads per transaction: large
// enough to be quick, small enough not to hold a read transaction (and the
// file's old pages) for long.
const verifyPage = 4096

// VerifyAll checks the whole chain, from seq 0 to the last record committed
// when it reaches the end, and returns how many records verified (on failure,
// how many before the first bad one, which the *ChainError names).
func (s *Store) VerifyAll() (uint64, error) {
	var (
		next uint64
		prev []byte
	)
	for {
		recs, _, listErr := s.list(next, verifyPage)
		if len(recs) == 0 {
			return next, listErr
		}
		if recs[0].Seq != next {
			return next, &ChainError{Seq: next, Reason: fmt.Sprintf("missing; the next stored record is %d", recs[0].Seq)}
		}
		if n, err := verify(prev, recs); err != nil {
			return next + uint64(n), err
		}
		if listErr != nil {
			return next + uint64(len(recs)), listErr
		}
		last := recs[len(recs)-1]
		prev, next = last.Hash, last.Seq+1
	}
}
