package ledger

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/storage"
)

// A mirror is a ledger opened with Config.Mirror: it holds a copy of
// another log (its upstream), entry for entry, and never signs. Its entries
// come through the same sequencer and commit as a primary's, each with an
// Upstream position: the commit refuses one that would land at another
// index than the upstream gave it, and the entry that ends an upstream
// checkpoint's tree carries that checkpoint's signed note, which the commit
// checks against the tree it has built (size and root, signature by the
// upstream's key) and stores in place of a signature of its own. A commit
// that ends inside a checkpoint's range stores its entries and tree state
// but no checkpoint; nothing beyond the last stored checkpoint is served.

// Upstream is where an entry sits in the mirror's upstream.
type Upstream struct {
	// Index is the entry's index in the upstream log.
	Index uint64
	// CoveredBy is the size of the upstream checkpoint the mirror verified
	// the entry against.
	CoveredBy uint64
	// Checkpoint is set on the entry at CoveredBy-1: the upstream's signed
	// checkpoint note (with its cosignatures) for that size.
	Checkpoint []byte
}

var (
	// ErrMirror refuses a submission to a mirror: its entries come only
	// from its upstream.
	ErrMirror = errors.New("this node is a mirror: submit to the primary log")
	// ErrUpstream means entries from the upstream do not build the tree its
	// checkpoint commits to.
	ErrUpstream = errors.New("entries do not match the upstream checkpoint")
)

// Halt stops a mirror for good (until restart): WriteError reports why, so
// health does.
func (l *Ledger) Halt(reason error) { l.halted.Store(&reason) }

// Size is the number of entries stored, which on a mirror may run ahead of
// the latest checkpoint while a range is being copied.
func (l *Ledger) Size() uint64 { return l.stored.Load() }

// checkMirrorEntry is the commit's check of a mirrored entry's index.
func checkMirrorEntry(sub *Submission, index uint64) error {
	if sub.Upstream.Index != index {
		return fmt.Errorf("%w: the entry the upstream holds at %d would be entry %d here", ErrUpstream, sub.Upstream.Index, index)
	}
	return nil
}

// mirrorCheckpoint checks the upstream checkpoint note n against the tree
// the commit built (end entries, root).
func (l *Ledger) mirrorCheckpoint(n []byte, end uint64, root []byte) (checkpoint.Checkpoint, error) {
	cp, err := checkpoint.Open(n, l.origin, l.cfg.Verifier)
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: %v", ErrUpstream, err)
	}
	if cp.Size != end || !bytes.Equal(cp.Root, root) {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: the upstream checkpoint is of size %d, root %x; the mirrored entries make size %d, root %x",
			ErrUpstream, cp.Size, cp.Root, end, root)
	}
	return cp, nil
}

// rootAt is the root of the first size entries, from the stored nodes.
func rootAt(tx *storage.ReadTx, rf *compact.RangeFactory, size uint64) ([]byte, error) {
	if size == 0 {
		return hasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := tx.Node(id.Level, id.Index)
		if err != nil {
			return nil, fmt.Errorf("tree node (level %d, index %d): %w", id.Level, id.Index, err)
		}
		hashes[i] = h
	}
	r, err := rf.NewRange(0, size, hashes)
	if err != nil {
		return nil, err
	}
	return r.GetRootHash(nil)
}
