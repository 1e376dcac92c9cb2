// Package ledger is the log: it sequences admitted submissions into one
// append-only RFC 6962 Merkle tree, commits them in groups with one durable
// bbolt transaction per group, signs a checkpoint after every group, and
// answers each submitter with a receipt (index, leaf hash, signed
// checkpoint, inclusion proof) only after the commit is on disk. It also
// serves entries, checkpoints and proofs, and on open it refuses a store
// whose contents do not match its latest signed checkpoint.
//
// Admission (envelope parsing, signature checks, validation) happens before
// the ledger: by the time a Submission reaches Submit it is known good, and
// the only reasons left to refuse it are a reused submission id or the
// ledger being unable to write.
//
// It must not know the detector, the API types or the network: the server
// admits, the ledger appends, derive reads what was committed.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/storage"
)

// Submission is an admitted submission.
type Submission struct {
	// ID is the client-chosen submission id.
	ID string
	// Leaf is the exact envelope bytes that become the leaf.
	Leaf []byte
	// Member is the member whose key signed the envelope.
	Member string
	// Caller is whose share of the sequencer the submission is queued in
	// (see fairQueue): the authenticated caller, where that need not be
	// Member (in development without authentication, one caller submits
	// for anyone); empty means Member. A caller's submissions keep the
	// order it sent them in.
	Caller string
	// ShipmentRef, CAS and Kind are indexed for list filters.
	ShipmentRef string
	CAS         string
	Kind        string
	// EventKey is the member's own id of the event or registry entry
	// (member ‖ 0x00 ‖ id). A second submission of it under another
	// submission id is refused: a replayed envelope cannot become a second
	// shipment leg. (Dispositions are keyed by their signed payload.)
	EventKey string
	// Recheck, when set, runs on the sequencer just before the submission
	// is given an index, after every entry before it has committed or been
	// decided: what was checked at admission (a key, a certificate) may
	// have been revoked by an entry sequenced since. An error refuses it.
	Recheck func() error
	// OnCommit, when set, runs on the sequencer once the entry is durable
	// and before any later entry is decided (the batch is cut after it), so
	// a change of who may submit takes effect from the very next entry. It is
	// given the entry's index.
	OnCommit func(index uint64)
	// Upstream, on a mirror (Config.Mirror) and only there, is where the
	// entry is in the log being mirrored.
	Upstream *Upstream
}

// Receipt proves that an entry is in the log.
type Receipt struct {
	SubmissionID   string
	Index          uint64
	LeafHash       []byte
	Member         string
	IntegratedTime time.Time
	// Checkpoint is the first checkpoint that covers the entry, and
	// CheckpointNote its signed text; Proof is relative to it.
	Checkpoint     checkpoint.Checkpoint
	CheckpointNote []byte
	Proof          [][]byte
}

// Entry is an entry read back from the log.
type Entry struct {
	Index    uint64
	Leaf     []byte
	LeafHash []byte
	Meta     storage.Meta
}

var (
	// ErrConflict means the submission id was used before with other bytes.
	ErrConflict = errors.New("submission id already used for a different envelope")
	// ErrDuplicateEvent means the member's event id is already in the log
	// under another submission id.
	ErrDuplicateEvent = errors.New("event already in the log")
	// ErrNotFound means no entry has that index.
	ErrNotFound = errors.New("no such entry")
	// ErrTreeSize means a proof was asked for a tree size the log has not
	// reached, or sizes in the wrong order.
	ErrTreeSize = errors.New("tree size out of range")
	// ErrClosed means the ledger is shutting down.
	ErrClosed = errors.New("ledger closed")
	// ErrTampered means the stored log does not match what was signed.
	ErrTampered = errors.New("stored log does not match its signed checkpoint (tampering or corruption)")
	// ErrNoLog means the store holds no log and Config.NewLog was not set:
	// a store that was deleted, truncated or replaced by an empty file must
	// not become a new log signed with the old log's key.
	ErrNoLog = errors.New("the store holds no log")
)

// Config configures a Ledger.
type Config struct {
	// Signer signs checkpoints; its name is the log's origin.
	Signer note.Signer
	// Verifier is the signer's verifier, used to check stored checkpoints.
	Verifier note.Verifier
	// MaxBatch bounds how many submissions share one commit.
	MaxBatch int
	// Linger is how long the sequencer waits for more submissions before
	// committing a batch that is not full.
	Linger time.Duration
	// QueueSize bounds each member's submissions waiting for the
	// sequencer.
	QueueSize int
	// MemberShare bounds each member's submissions in one batch while
	// another member is submitting, so that one member cannot fill the
	// batches: see DefaultMemberShare.
	MemberShare int
	// VerifyOnOpen selects the start-up check.
	VerifyOnOpen Verification
	// NewLog lets Open start a new, empty log when the store holds none.
	// Only an explicit creation sets it (chemledgerd init, dev mode on an
	// empty data dir, tests); otherwise Open refuses such a store with
	// ErrNoLog.
	NewLog bool
	// Describe derives from a leaf the fields its indexes are built from,
	// as admission does; the full check (VerifyFull) checks every index
	// against it. Nil checks the indexes against the stored metadata only.
	Describe storage.Describe
	// Now is the clock (tests replace it).
	Now func() time.Time
	// Logger receives operational logs.
	Logger *slog.Logger
	// Hooks are called at points tests want to observe or fail; nil in
	// production.
	Hooks *Hooks
	// Mirror opens the ledger as a mirror of the log whose key Verifier
	// is: no Signer, and entries only with an Upstream position (mirror.go).
	Mirror bool
}

// Verification is how much of the store Open checks.
type Verification int

const (
	// VerifyFull rehashes every leaf and every stored node and rebuilds the
	// root: any flipped byte in any entry or node is found.
	VerifyFull Verification = iota
	// VerifyState checks only that the stored tree state yields the root of
	// the latest signed checkpoint: O(log n), for very large logs.
	VerifyState
)

// Defaults of Config.
const (
	// DefaultMaxBatch is the most submissions one commit carries; with ~500
	// byte entries one commit writes well under a megabyte.
	DefaultMaxBatch = 1024
	// DefaultLinger lets a batch gather for half a millisecond, about one
	// fsync, before it commits: under load that raises the batch size and
	// so the throughput (measured with cmd/ledgerbench), and alone it adds
	// half a millisecond to a submission that takes two fsyncs anyway.
	DefaultLinger = 500 * time.Microsecond
	// DefaultQueueSize is the number of one member's admitted submissions
	// that may wait for the sequencer before its Submit blocks.
	DefaultQueueSize = 8192
	// DefaultMemberShare is how many of one member's submissions a batch
	// carries while another member is submitting too (see fairQueue). It
	// is small because on two cores what a commit costs is mostly per
	// entry (admission, receipts, TLS all compete for the cores), so a
	// member's share is much of what another member's submission waits
	// for; it is still enough for one member to keep the sequencer busy,
	// since it queues more while a batch commits (measured with
	// cmd/ledgerbench fairness).
	DefaultMemberShare = 4
)

// Hooks let tests break the write path at chosen points.
type Hooks struct {
	// BeforeCommit runs inside the write transaction after all writes; an
	// error aborts the batch.
	BeforeCommit func(size uint64) error
}

// DefaultConfig returns a Config with the defaults and the given keys.
func DefaultConfig(signer note.Signer, verifier note.Verifier) Config {
	return Config{
		Signer:      signer,
		Verifier:    verifier,
		MaxBatch:    DefaultMaxBatch,
		Linger:      DefaultLinger,
		QueueSize:   DefaultQueueSize,
		MemberShare: DefaultMemberShare,
		Now:         time.Now,
		Logger:      slog.Default(),
	}
}

// Ledger is an open log.
type Ledger struct {
	store  *storage.Store
	cfg    Config
	origin string
	rf     *compact.RangeFactory

	queue    *fairQueue
	closing  chan struct{}
	stopped  chan struct{}
	closeMu  sync.RWMutex
	isClosed bool

	// mu guards the latest published state, read by every request.
	mu       sync.RWMutex
	latest   checkpoint.Checkpoint
	noteText []byte
	// grown is closed, and replaced, whenever a new checkpoint is
	// published, so followers of the log can wait for it without polling.
	grown chan struct{}

	// writeErr is the error of the last commit, nil once one succeeds:
	// health reports the ledger degraded while writes fail.
	writeErr atomic.Pointer[error]
	// observer, when set, is told of every commit.
	observer atomic.Pointer[Observer]
	// halted, on a mirror, is why it stopped following its upstream.
	halted atomic.Pointer[error]
	// stored is the number of entries in the store (the tree's size).
	stored atomic.Uint64

	// Owned by the sequencer goroutine.
	tree     *compact.Range
	lastTime int64
}

var hasher = rfc6962.DefaultHasher

// Open verifies the store against its latest signed checkpoint and starts
// the sequencer. A store with no log gets a signed checkpoint of the empty
// tree only if cfg.NewLog is set, and is refused with ErrNoLog otherwise.
func Open(store *storage.Store, cfg Config) (*Ledger, error) {
	switch {
	case cfg.Verifier == nil:
		return nil, errors.New("ledger: a checkpoint verifier is required")
	case cfg.Mirror && cfg.Signer != nil:
		return nil, errors.New("ledger: a mirror does not sign")
	case cfg.Mirror:
	case cfg.Signer == nil:
		return nil, errors.New("ledger: a checkpoint signer is required")
	case cfg.Signer.Name() != cfg.Verifier.Name() || cfg.Signer.KeyHash() != cfg.Verifier.KeyHash():
		return nil, errors.New("ledger: the checkpoint verifier is not the signer's")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MemberShare <= 0 {
		cfg.MemberShare = DefaultMemberShare
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Ledger{
		store:   store,
		cfg:     cfg,
		origin:  cfg.Verifier.Name(),
		rf:      &compact.RangeFactory{Hash: hasher.HashChildren},
		queue:   newFairQueue(cfg.QueueSize, cfg.MemberShare, DefaultActiveFor, time.Now),
		closing: make(chan struct{}),
		stopped: make(chan struct{}),
		grown:   make(chan struct{}),
	}
	if err := l.load(); err != nil {
		return nil, err
	}
	go l.sequence()
	return l, nil
}

// WriteError is the error of the last commit, or nil when the last commit
// succeeded: while it is set, reads work and writes fail.
func (l *Ledger) WriteError() error {
	if p := l.halted.Load(); p != nil {
		return *p
	}
	if p := l.writeErr.Load(); p != nil {
		return *p
	}
	return nil
}

// AuditHead is the head of the audit trail the ledger last recorded, if
// any (RecordAuditHead).
func (l *Ledger) AuditHead() (storage.AuditHead, bool, error) {
	var (
		h  storage.AuditHead
		ok bool
	)
	err := l.store.View(func(tx *storage.ReadTx) (err error) {
		h, ok, err = tx.AuditHead()
		return err
	})
	return h, ok, err
}

// RecordAuditHead stores the head of the audit trail in the ledger's file,
// durably, so that a start can refuse an audit trail that is shorter than
// what the ledger saw (a rolled-back or replaced audit.db). The caller
// passes only a head the audit trail has already committed.
func (l *Ledger) RecordAuditHead(h storage.AuditHead) error {
	if err := l.store.Update(func(tx *storage.WriteTx) error { return tx.PutAuditHead(h) }); err != nil {
		return fmt.Errorf("record the audit trail's head (record %d): %w", h.Seq, err)
	}
	return nil
}

// Origin is the checkpoint origin line that names the log.
func (l *Ledger) Origin() string { return l.origin }

// VerifierKey is the note verifier key text of the log, if known.
func (l *Ledger) Verifier() note.Verifier { return l.cfg.Verifier }

// Checkpoint returns the latest checkpoint and its signed note.
func (l *Ledger) Checkpoint() (checkpoint.Checkpoint, []byte) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.latest, l.noteText
}

// Close stops accepting submissions, lets the sequencer finish the batch it
// is committing, and fails what is still queued with ErrClosed. It does not
// close the store.
func (l *Ledger) Close() error {
	l.closeMu.Lock()
	if l.isClosed {
		l.closeMu.Unlock()
		return nil
	}
	l.isClosed = true
	close(l.closing)
	l.closeMu.Unlock()
	<-l.stopped
	return nil
}

// publish makes a new checkpoint visible to readers and wakes followers.
func (l *Ledger) publish(c checkpoint.Checkpoint, noteText []byte) {
	l.mu.Lock()
	l.latest, l.noteText = c, noteText
	close(l.grown)
	l.grown = make(chan struct{})
	l.mu.Unlock()
}

// WaitBeyond blocks until the log holds more than size entries, or ctx
// ends, and returns the latest size.
func (l *Ledger) WaitBeyond(ctx context.Context, size uint64) (uint64, error) {
	for {
		l.mu.RLock()
		latest, grown := l.latest.Size, l.grown
		l.mu.RUnlock()
		if latest > size {
			return latest, nil
		}
		select {
		case <-grown:
		case <-ctx.Done():
			return latest, ctx.Err()
		}
	}
}

func (l *Ledger) sign(size uint64, root []byte) (checkpoint.Checkpoint, []byte, error) {
	c := checkpoint.Checkpoint{Origin: l.origin, Size: size, Root: root}
	n, err := checkpoint.Sign(c, l.cfg.Signer)
	if err != nil {
		return checkpoint.Checkpoint{}, nil, fmt.Errorf("sign checkpoint %d: %w", size, err)
	}
	return c, n, nil
}

// Entry reads one entry.
func (l *Ledger) Entry(ctx context.Context, index uint64) (*Entry, error) {
	// Serve only what a published checkpoint covers: a commit is in the
	// store a moment before its checkpoint is published.
	if cp, _ := l.Checkpoint(); index >= cp.Size {
		return nil, fmt.Errorf("entry %d: %w", index, ErrNotFound)
	}
	var e *Entry
	err := l.store.View(func(tx *storage.ReadTx) error {
		var err error
		e, err = readEntry(tx, index)
		return err
	})
	return e, err
}

func readEntry(tx *storage.ReadTx, index uint64) (*Entry, error) {
	leaf, err := tx.Leaf(index)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("entry %d: %w", index, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	m, err := tx.Meta(index)
	if err != nil {
		return nil, err
	}
	lh, err := tx.Node(0, index)
	if err != nil {
		return nil, err
	}
	return &Entry{Index: index, Leaf: append([]byte(nil), leaf...), LeafHash: append([]byte(nil), lh...), Meta: m}, nil
}

// List returns up to limit entries at or after start matching f, and where
// the next page starts (done when there is none).
func (l *Ledger) List(ctx context.Context, f storage.Filter, start uint64, limit int) (entries []*Entry, next uint64, done bool, err error) {
	// Stop at the published checkpoint, as Entry does.
	cp, _ := l.Checkpoint()
	err = l.store.View(func(tx *storage.ReadTx) error {
		p, err := tx.List(f, start, limit)
		if err != nil {
			return err
		}
		if k := slices.IndexFunc(p.Indexes, func(i uint64) bool { return i >= cp.Size }); k >= 0 || !p.Done && p.Next >= cp.Size {
			if k >= 0 {
				p.Indexes = p.Indexes[:k]
			}
			p.Done = true
		}
		for _, i := range p.Indexes {
			e, err := readEntry(tx, i)
			if err != nil {
				return err
			}
			entries = append(entries, e)
		}
		next, done = p.Next, p.Done
		return nil
	})
	return entries, next, done, err
}
