package ledger

import (
	"context"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"

	"github.com/chemledger/chemledger/storage"
)

// InclusionProof returns the audit path of the entry at index in the tree of
// size treeSize (0: the latest checkpoint's size). It reads O(log n) stored
// nodes.
func (l *Ledger) InclusionProof(ctx context.Context, index, treeSize uint64) (size uint64, hashes [][]byte, err error) {
	latest, _ := l.Checkpoint()
	if treeSize == 0 {
		treeSize = latest.Size
	}
	switch {
	case treeSize > latest.Size:
		return 0, nil, fmt.Errorf("%w: tree size %d is beyond the latest checkpoint (%d)", ErrTreeSize, treeSize, latest.Size)
	case index >= latest.Size:
		return 0, nil, fmt.Errorf("entry %d: %w (the log has %d entries)", index, ErrNotFound, latest.Size)
	case index >= treeSize:
		return 0, nil, fmt.Errorf("%w: entry %d is not in a tree of size %d", ErrTreeSize, index, treeSize)
	}
	err = l.store.View(func(tx *storage.ReadTx) error {
		hashes, err = inclusionProof(newNodeCache(tx), index, treeSize)
		return err
	})
	return treeSize, hashes, err
}

// ConsistencyProof proves that the tree of size first is a prefix of the
// tree of size second (0: the latest checkpoint's size).
func (l *Ledger) ConsistencyProof(ctx context.Context, first, second uint64) (size uint64, hashes [][]byte, err error) {
	latest, _ := l.Checkpoint()
	if second == 0 {
		second = latest.Size
	}
	switch {
	case second > latest.Size:
		return 0, nil, fmt.Errorf("%w: tree size %d is beyond the latest checkpoint (%d)", ErrTreeSize, second, latest.Size)
	case first == 0 || first > second:
		return 0, nil, fmt.Errorf("%w: want 1 ≤ first (%d) ≤ second (%d)", ErrTreeSize, first, second)
	}
	err = l.store.View(func(tx *storage.ReadTx) error {
		nodes, err := proof.Consistency(first, second)
		if err != nil {
			return err
		}
		hashes, err = fetch(newNodeCache(tx), nodes)
		return err
	})
	return second, hashes, err
}

// CheckpointAt returns the signed checkpoint of a tree size the log signed.
func (l *Ledger) CheckpointAt(ctx context.Context, size uint64) ([]byte, error) {
	var n []byte
	err := l.store.View(func(tx *storage.ReadTx) error {
		v, err := tx.Checkpoint(size)
		n = append([]byte(nil), v...)
		return err
	})
	return n, err
}

func inclusionProof(nc *nodeCache, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return fetch(nc, nodes)
}

// nodeCache reads stored nodes within one read transaction through one
// bucket handle, and remembers those read: the receipts of one batch are
// proofs against the same checkpoint, so their paths share most nodes (the
// upper levels, and the batch's own subtrees). It lives no longer than the
// transaction, so what it holds is the transaction's view.
type nodeCache struct {
	r    storage.NodeReader
	seen map[compact.NodeID][]byte
}

func newNodeCache(tx *storage.ReadTx) *nodeCache {
	return &nodeCache{r: tx.NodeReader(), seen: make(map[compact.NodeID][]byte, 64)}
}

// node returns the hash at id; the bytes are valid while the transaction is.
func (c *nodeCache) node(id compact.NodeID) ([]byte, error) {
	if h, ok := c.seen[id]; ok {
		return h, nil
	}
	h, err := c.r.Node(id.Level, id.Index)
	if err != nil {
		return nil, err
	}
	c.seen[id] = h
	return h, nil
}

// fetch reads the stored nodes a proof needs and folds the ones that stand
// for a subtree not stored whole (the tree's ragged right edge).
func fetch(nc *nodeCache, nodes proof.Nodes) ([][]byte, error) {
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, err := nc.node(id)
		if err != nil {
			return nil, fmt.Errorf("proof node: %w", err)
		}
		hashes[i] = append([]byte(nil), h...)
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}
