package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Meta is what the ledger records about an entry besides its leaf bytes.
type Meta struct {
	SubmissionID string
	// Member is the member whose key signed the envelope.
	Member string
	// ShipmentRef, CAS and Kind feed the list filters.
	ShipmentRef string
	CAS         string
	Kind        string
	// EventKey is the member and its own id for the event or registry
	// entry (member ‖ 0x00 ‖ id); it is indexed, not stored in the record.
	EventKey string
	// IntegratedTime is when the entry joined the log (unix nanoseconds).
	IntegratedTime int64
	// CheckpointSize is the size of the first checkpoint that covers the
	// entry: the receipt of the entry is always relative to it, so a repeated
	// submission gets the very receipt the first one got.
	CheckpointSize uint64
}

// Tree is the persisted state of the Merkle tree: its size and the hashes of
// its compact range (the right edge), enough to extend it and compute its
// root without reading any other node.
type Tree struct {
	Size   uint64
	Hashes [][]byte
}

// Submission is an idempotency record.
type Submission struct {
	Index      uint64
	LeafDigest [32]byte
}

// ReadTx is a read-only view of the database.
type ReadTx struct {
	tx *bolt.Tx
}

// Tree returns the persisted tree state (zero for a new database).
func (t *ReadTx) Tree() (Tree, error) {
	v := t.tx.Bucket(bucketState).Get(keyTree)
	if v == nil {
		return Tree{}, nil
	}
	return decodeTree(v)
}

// Leaf returns the leaf bytes at index. The slice is valid only during the
// transaction.
func (t *ReadTx) Leaf(index uint64) ([]byte, error) {
	v := t.tx.Bucket(bucketEntries).Get(u64(index))
	if v == nil {
		return nil, fmt.Errorf("entry %d: %w", index, ErrNotFound)
	}
	return v, nil
}

// Meta returns the metadata of the entry at index.
func (t *ReadTx) Meta(index uint64) (Meta, error) {
	v := t.tx.Bucket(bucketMeta).Get(u64(index))
	if v == nil {
		return Meta{}, fmt.Errorf("entry %d metadata: %w", index, ErrNotFound)
	}
	m, err := decodeMeta(v)
	if err != nil {
		return Meta{}, fmt.Errorf("entry %d: %w", index, err)
	}
	return m, nil
}

// Node returns the hash of the perfect subtree at (level, index).
func (t *ReadTx) Node(level uint, index uint64) ([]byte, error) {
	return t.NodeReader().Node(level, index)
}

// NodeReader reads node hashes through one handle on their bucket: a proof
// reads O(log n) nodes, and a read transaction opens a bucket afresh on
// every lookup (bbolt caches bucket handles only in write transactions).
// It is valid for the transaction's life and, like it, for one goroutine.
type NodeReader struct{ b *bolt.Bucket }

// NodeReader returns a reader of stored node hashes.
func (t *ReadTx) NodeReader() NodeReader { return NodeReader{t.tx.Bucket(bucketNodes)} }

// Node returns the hash of the perfect subtree at (level, index); the bytes
// are valid for the transaction's life.
func (r NodeReader) Node(level uint, index uint64) ([]byte, error) {
	v := r.b.Get(nodeKey(level, index))
	if v == nil {
		return nil, fmt.Errorf("node (%d, %d): %w", level, index, ErrNotFound)
	}
	return v, nil
}

// Submission looks up a submission id.
func (t *ReadTx) Submission(id string) (Submission, bool, error) {
	v := t.tx.Bucket(bucketSubmissions).Get(submissionKey(id))
	if v == nil {
		return Submission{}, false, nil
	}
	if len(v) != 8+32 {
		return Submission{}, false, fmt.Errorf("submission %q: %w", id, ErrCorrupt)
	}
	s := Submission{Index: binary.BigEndian.Uint64(v)}
	copy(s.LeafDigest[:], v[8:])
	return s, true, nil
}

// EventKey looks up a member's own event id: the index of the entry that
// carries it.
func (t *ReadTx) EventKey(key string) (uint64, bool) {
	v := t.tx.Bucket(bucketEventKeys).Get([]byte(key))
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// AuditHead is the head of the audit trail as the ledger last saw it: the
// seq of its last record and that record's hash.
type AuditHead struct {
	Seq  uint64
	Hash [32]byte
}

// AuditHead returns the audit trail's head the ledger recorded, if any.
func (t *ReadTx) AuditHead() (AuditHead, bool, error) {
	v := t.tx.Bucket(bucketState).Get(keyAuditHead)
	if v == nil {
		return AuditHead{}, false, nil
	}
	h, err := decodeAuditHead(v)
	return h, err == nil, err
}

// Checkpoint returns the signed checkpoint of the given tree size.
func (t *ReadTx) Checkpoint(size uint64) ([]byte, error) {
	v := t.tx.Bucket(bucketCheckpoints).Get(u64(size))
	if v == nil {
		return nil, fmt.Errorf("checkpoint of size %d: %w", size, ErrNotFound)
	}
	return v, nil
}

// LatestCheckpoint returns the newest signed checkpoint and its size.
func (t *ReadTx) LatestCheckpoint() (size uint64, note []byte, err error) {
	k, v := t.tx.Bucket(bucketCheckpoints).Cursor().Last()
	if k == nil {
		return 0, nil, fmt.Errorf("latest checkpoint: %w", ErrNotFound)
	}
	return binary.BigEndian.Uint64(k), v, nil
}

// ForEachLeaf calls fn for every entry from index start in order, with a
// slice valid only during the call, until fn returns false or an error.
func (t *ReadTx) ForEachLeaf(start uint64, fn func(index uint64, leaf []byte) (bool, error)) error {
	c := t.tx.Bucket(bucketEntries).Cursor()
	for k, v := c.Seek(u64(start)); k != nil; k, v = c.Next() {
		more, err := fn(binary.BigEndian.Uint64(k), v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// NodeCursor walks stored node hashes in the order they were completed.
type NodeCursor struct{ c *bolt.Cursor }

// Nodes returns a cursor over bucketNodes.
func (t *ReadTx) Nodes() NodeCursor { return NodeCursor{t.tx.Bucket(bucketNodes).Cursor()} }

// First returns the first stored node as (stored-hash index, hash).
func (n NodeCursor) First() (uint64, []byte, bool) { return decodeNode(n.c.First()) }

// Next returns the next stored node.
func (n NodeCursor) Next() (uint64, []byte, bool) { return decodeNode(n.c.Next()) }

func decodeNode(k, v []byte) (uint64, []byte, bool) {
	if k == nil {
		return 0, nil, false
	}
	return binary.BigEndian.Uint64(k), v, true
}

// Count returns the number of keys in the entries, meta and submissions
// buckets, for consistency checks.
func (t *ReadTx) Count() (entries, meta, submissions int) {
	return t.tx.Bucket(bucketEntries).Stats().KeyN, t.tx.Bucket(bucketMeta).Stats().KeyN, t.tx.Bucket(bucketSubmissions).Stats().KeyN
}

// WriteTx is a read-write transaction.
type WriteTx struct {
	ReadTx
}

func (t *WriteTx) bucket(name []byte) *bolt.Bucket {
	b := t.tx.Bucket(name)
	if appendOnly[string(name)] {
		b.FillPercent = 1.0
	}
	return b
}

// AppendEntry stores a new entry at index with its metadata, idempotency
// record and index keys. The caller guarantees index is the next one.
func (t *WriteTx) AppendEntry(index uint64, leaf []byte, m Meta) error {
	k := u64(index)
	if err := t.bucket(bucketEntries).Put(k, leaf); err != nil {
		return fmt.Errorf("put entry %d: %w", index, err)
	}
	if err := t.bucket(bucketMeta).Put(k, encodeMeta(m)); err != nil {
		return fmt.Errorf("put entry %d metadata: %w", index, err)
	}
	digest := sha256.Sum256(leaf)
	if err := t.bucket(bucketSubmissions).Put(submissionKey(m.SubmissionID), append(k, digest[:]...)); err != nil {
		return fmt.Errorf("put submission %q: %w", m.SubmissionID, err)
	}
	if m.EventKey != "" {
		if err := t.bucket(bucketEventKeys).Put([]byte(m.EventKey), k); err != nil {
			return fmt.Errorf("put event key of entry %d: %w", index, err)
		}
	}
	for _, ix := range []struct {
		bucket []byte
		value  string
	}{{bucketByRef, m.ShipmentRef}, {bucketByMember, m.Member}, {bucketByCAS, m.CAS}, {bucketByKind, m.Kind}} {
		if ix.value == "" {
			continue
		}
		if err := t.bucket(ix.bucket).Put(indexKey(ix.value, index), nil); err != nil {
			return fmt.Errorf("index entry %d: %w", index, err)
		}
	}
	if err := t.bucket(bucketByTime).Put(timeKey(m.IntegratedTime, index), nil); err != nil {
		return fmt.Errorf("index entry %d by time: %w", index, err)
	}
	return nil
}

// PutNode stores the hash of the perfect subtree at (level, index).
func (t *WriteTx) PutNode(level uint, index uint64, hash []byte) error {
	return t.bucket(bucketNodes).Put(nodeKey(level, index), hash)
}

// PutTree stores the tree state.
func (t *WriteTx) PutTree(tree Tree) error {
	return t.bucket(bucketState).Put(keyTree, encodeTree(tree))
}

// PutAuditHead records the audit trail's head.
func (t *WriteTx) PutAuditHead(h AuditHead) error {
	return t.bucket(bucketState).Put(keyAuditHead, encodeAuditHead(h))
}

// PutCheckpoint stores the signed checkpoint of a tree size.
func (t *WriteTx) PutCheckpoint(size uint64, note []byte) error {
	return t.bucket(bucketCheckpoints).Put(u64(size), note)
}

// SameLeaf reports whether a submission record was made for leaf.
func (s Submission) SameLeaf(leaf []byte) bool {
	d := sha256.Sum256(leaf)
	return bytes.Equal(d[:], s.LeafDigest[:])
}
