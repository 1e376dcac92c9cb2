package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/storage"
)

// load restores the tree from the store and checks it against the latest
// signed checkpoint, or (with Config.NewLog) starts a new log with a signed
// empty checkpoint.
// It never replays the log to rebuild state: the tree state is stored; the
// full check only reads and hashes.
func (l *Ledger) load() error {
	var (
		tree    storage.Tree
		cpSize  uint64
		cpNote  []byte
		haveCP  bool
		started = time.Now()
	)
	err := l.store.View(func(tx *storage.ReadTx) error {
		var err error
		if tree, err = tx.Tree(); err != nil {
			return err
		}
		cpSize, cpNote, err = tx.LatestCheckpoint()
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		haveCP = true
		cpNote = append([]byte(nil), cpNote...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read tree state: %w", err)
	}

	if !haveCP && l.cfg.Mirror {
		// A mirror that has copied nothing yet, or only part of its first
		// range: it serves the empty tree until a checkpoint is stored.
		r, err := l.rf.NewRange(0, tree.Size, tree.Hashes)
		if err != nil {
			return fmt.Errorf("%w: stored tree state: %v", ErrTampered, err)
		}
		l.tree = r
		l.stored.Store(tree.Size)
		l.publish(checkpoint.Checkpoint{Origin: l.origin, Size: 0, Root: hasher.EmptyRoot()}, nil)
		return nil
	}
	if !haveCP {
		if tree.Size != 0 {
			return fmt.Errorf("%w: the tree holds %d entries but there is no signed checkpoint", ErrTampered, tree.Size)
		}
		if !l.cfg.NewLog {
			return fmt.Errorf("%w: %s has no signed checkpoint", ErrNoLog, l.store.Path())
		}
		return l.initEmpty()
	}

	cp, err := checkpoint.Open(cpNote, l.origin, l.cfg.Verifier)
	if err != nil {
		return fmt.Errorf("%w: the latest stored checkpoint does not verify with the log key: %v", ErrTampered, err)
	}
	// A mirror may hold entries past its latest checkpoint: a range it
	// was copying when it stopped.
	tail := l.cfg.Mirror && tree.Size > cp.Size
	if cp.Size != cpSize || cp.Size != tree.Size && !tail {
		return fmt.Errorf("%w: the latest checkpoint is for %d entries, stored under size %d, but the tree state holds %d", ErrTampered, cp.Size, cpSize, tree.Size)
	}
	r, err := l.rf.NewRange(0, tree.Size, tree.Hashes)
	if err != nil {
		return fmt.Errorf("%w: stored tree state: %v", ErrTampered, err)
	}
	root, err := rootOf(r)
	if err != nil {
		return err
	}
	if tail {
		if err := l.store.View(func(tx *storage.ReadTx) error {
			root, err = rootAt(tx, l.rf, cp.Size)
			return err
		}); err != nil {
			return fmt.Errorf("%w: %v", ErrTampered, err)
		}
	}
	if !bytes.Equal(root, cp.Root) {
		return fmt.Errorf("%w: the stored tree state of %d entries has root %x, the signed checkpoint says %x", ErrTampered, tree.Size, root, cp.Root)
	}
	if l.cfg.VerifyOnOpen == VerifyFull {
		if err := l.verifyAll(cp, tree.Size); err != nil {
			return err
		}
	}
	if tree.Size > 0 {
		err := l.store.View(func(tx *storage.ReadTx) error {
			m, err := tx.Meta(tree.Size - 1)
			l.lastTime = m.IntegratedTime
			return err
		})
		if err != nil {
			return fmt.Errorf("%w: %v", ErrTampered, err)
		}
	}
	l.tree = r
	l.stored.Store(tree.Size)
	l.publish(cp, cpNote)
	l.cfg.Logger.Info("log verified", "origin", l.origin, "size", cp.Size, "root", fmt.Sprintf("%x", cp.Root),
		"full", l.cfg.VerifyOnOpen == VerifyFull, "took", time.Since(started).Round(time.Millisecond))
	return nil
}

func rootOf(r *compact.Range) ([]byte, error) {
	if r.End() == 0 {
		return hasher.EmptyRoot(), nil
	}
	return r.GetRootHash(nil)
}

func (l *Ledger) initEmpty() error {
	cp, n, err := l.sign(0, hasher.EmptyRoot())
	if err != nil {
		return err
	}
	err = l.store.Update(func(tx *storage.WriteTx) error {
		if err := tx.PutTree(storage.Tree{}); err != nil {
			return err
		}
		return tx.PutCheckpoint(0, n)
	})
	if err != nil {
		return fmt.Errorf("start new log: %w", err)
	}
	l.tree = l.rf.NewEmptyRange(0)
	l.publish(cp, n)
	l.cfg.Logger.Info("new log", "origin", l.origin)
	return nil
}

// verifyAll rehashes every entry and recomputes every stored node in one
// pass over two cursors (leaves and nodes are both stored in the order the
// tree completes them), and checks the recomputed root against cp. There
// are size entries: cp's, or on a mirror copying a range, more.
func (l *Ledger) verifyAll(cp checkpoint.Checkpoint, size uint64) error {
	return l.store.View(func(tx *storage.ReadTx) error {
		nodes := tx.Nodes()
		key, stored, ok := nodes.First()
		var bad error
		visit := func(id compact.NodeID, h []byte) {
			if bad != nil {
				return
			}
			want := uint64(tlog.StoredHashIndex(int(id.Level), int64(id.Index)))
			switch {
			case !ok || key != want:
				bad = fmt.Errorf("%w: tree node (level %d, index %d) is missing", ErrTampered, id.Level, id.Index)
			case !bytes.Equal(stored, h) && id.Level == 0:
				bad = fmt.Errorf("%w: entry %d does not hash to the leaf hash the tree holds for it: the entry or its stored leaf hash was changed", ErrTampered, id.Index)
			case !bytes.Equal(stored, h):
				bad = fmt.Errorf("%w: tree node (level %d, index %d) does not match the entries below it", ErrTampered, id.Level, id.Index)
			}
			key, stored, ok = nodes.Next()
		}
		r := l.rf.NewEmptyRange(0)
		var root []byte
		if cp.Size == 0 {
			root = hasher.EmptyRoot()
		}
		err := tx.ForEachLeaf(0, func(index uint64, leaf []byte) (bool, error) {
			if index != r.End() {
				return false, fmt.Errorf("%w: entry %d is missing", ErrTampered, r.End())
			}
			if index >= size {
				return false, fmt.Errorf("%w: entry %d is beyond the signed tree of %d entries", ErrTampered, index, cp.Size)
			}
			if err := r.Append(hasher.HashLeaf(leaf), visit); err != nil {
				return false, err
			}
			if r.End() == cp.Size {
				var err error
				if root, err = r.GetRootHash(nil); err != nil {
					return false, err
				}
			}
			return bad == nil, bad
		})
		if err != nil {
			return err
		}
		if r.End() != size {
			return fmt.Errorf("%w: %d entries are stored, the signed checkpoint covers %d", ErrTampered, r.End(), cp.Size)
		}
		if ok {
			return fmt.Errorf("%w: the store holds tree nodes beyond the signed tree", ErrTampered)
		}
		if !bytes.Equal(root, cp.Root) {
			return fmt.Errorf("%w: the entries hash to root %x, the signed checkpoint says %x", ErrTampered, root, cp.Root)
		}
		// The indexes and idempotency records are not under the tree:
		// check each against the entries, or an edited one is served (and
		// an edited submission id lets a retry append a second leaf).
		if err := tx.VerifyIndexes(size, l.cfg.Describe); err != nil {
			return fmt.Errorf("%w: %v", ErrTampered, err)
		}
		return nil
	})
}
