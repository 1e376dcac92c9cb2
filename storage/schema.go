package storage

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// Every bucket and key encoding of the database is in this file.
//
// Numeric keys are big-endian so that bbolt's byte order is numeric order;
// append-only buckets are filled to 100% because their keys only grow.
var (
	// bucketEntries: index (u64) → the exact leaf bytes (a signed envelope).
	bucketEntries = []byte("entries")
	// bucketMeta: index (u64) → encoded Meta.
	bucketMeta = []byte("meta")
	// bucketNodes: tlog stored-hash index (u64) → 32-byte node hash. The
	// stored-hash index (Crosby–Wallach layout, golang.org/x/mod/sumdb/tlog)
	// numbers every perfect subtree in the order it is completed, so the
	// bucket is append-only too.
	bucketNodes = []byte("nodes")
	// bucketSubmissions: SHA-256 of the submission id → index (u64) ‖
	// SHA-256 of the leaf. The key is a digest, not the id, so that the id
	// is stored in one place only (the entry's Meta): an edit of its bytes
	// cannot keep the two copies equal, and the full check finds it
	// (VerifyIndexes); the idempotency lookup still finds the original
	// record under the id the client sends again, so a retry is never
	// appended twice (schema 2; schema 1 keyed the raw id).
	bucketSubmissions = []byte("submissions")
	// bucketEventKeys: member ‖ 0x00 ‖ the member's own event or entry id
	// → index (u64). A signed event replayed under a new submission id is
	// found here.
	bucketEventKeys = []byte("event_keys")
	// bucketCheckpoints: tree size (u64) → signed checkpoint note.
	bucketCheckpoints = []byte("checkpoints")
	// bucketState: named singletons (keyTree, keySchema, keyAuditHead).
	bucketState = []byte("state")
	// Secondary indexes for list filters: value ‖ 0x00 ‖ index (u64) → empty.
	bucketByRef    = []byte("by_shipment_ref")
	bucketByMember = []byte("by_member")
	bucketByCAS    = []byte("by_cas")
	bucketByKind   = []byte("by_kind")
	// bucketByTime: integrated time (unix ns, u64) ‖ index (u64) → empty.
	bucketByTime = []byte("by_time")

	// Derived state: everything below can be dropped and rebuilt from the
	// log (docs/architecture.md, invariant 1), so it is written in transactions of its own,
	// never in the ledger's commit.

	// bucketFlags: flag id → the flag, encoded by the detector.
	bucketFlags = []byte("derived_flags")
	// bucketDetector: named values of the detector (how far it has read,
	// its state snapshot, the policy version it ran with).
	bucketDetector = []byte("derived_detector")
)

// derivedBuckets are dropped and recreated by DropDerived.
var derivedBuckets = [][]byte{bucketFlags, bucketDetector}

var allBuckets = [][]byte{
	bucketEntries, bucketMeta, bucketNodes, bucketSubmissions, bucketEventKeys, bucketCheckpoints,
	bucketState, bucketByRef, bucketByMember, bucketByCAS, bucketByKind, bucketByTime,
	bucketFlags, bucketDetector,
}

// appendOnly buckets get keys in increasing order only.
var appendOnly = map[string]bool{
	string(bucketEntries): true, string(bucketMeta): true, string(bucketNodes): true,
	string(bucketCheckpoints): true, string(bucketByTime): true,
}

var (
	// keyTree holds the tree state: size (u64) ‖ the compact range's hashes.
	keyTree = []byte("tree")
	// keySchema holds the schema version (u64).
	keySchema = []byte("schema")
	// keyAuditHead holds the head of the audit trail the ledger last saw:
	// seq (u64) ‖ the record's hash (32 bytes). Absent until the first
	// anchor is written.
	keyAuditHead = []byte("audit_head")
)

// schemaVersion is bumped whenever a bucket or encoding changes meaning.
// Version 2 keys bucketSubmissions by the id's SHA-256; Open upgrades a
// version 1 file in place (migrateLocked).
const schemaVersion = 2

// submissionKey is the key of a submission id in bucketSubmissions.
func submissionKey(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

func encodeAuditHead(h AuditHead) []byte {
	return append(u64(h.Seq), h.Hash[:]...)
}

func decodeAuditHead(b []byte) (AuditHead, error) {
	if len(b) != 8+32 {
		return AuditHead{}, fmt.Errorf("%w: audit head is %d bytes", ErrCorrupt, len(b))
	}
	h := AuditHead{Seq: binary.BigEndian.Uint64(b)}
	copy(h.Hash[:], b[8:])
	return h, nil
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// nodeKey is the key of the node at (level, index) in bucketNodes.
func nodeKey(level uint, index uint64) []byte {
	return u64(uint64(tlog.StoredHashIndex(int(level), int64(index))))
}

// indexKey is the key of index under value in a secondary index.
func indexKey(value string, index uint64) []byte {
	k := make([]byte, 0, len(value)+9)
	k = append(k, value...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, index)
}

func timeKey(unixNano int64, index uint64) []byte {
	k := make([]byte, 0, 16)
	k = binary.BigEndian.AppendUint64(k, uint64(unixNano))
	return binary.BigEndian.AppendUint64(k, index)
}

// encodeTree encodes the tree state.
func encodeTree(t Tree) []byte {
	b := make([]byte, 0, 8+32*len(t.Hashes))
	b = binary.BigEndian.AppendUint64(b, t.Size)
	for _, h := range t.Hashes {
		b = append(b, h...)
	}
	return b
}

func decodeTree(b []byte) (Tree, error) {
	if len(b) < 8 || (len(b)-8)%32 != 0 {
		return Tree{}, fmt.Errorf("%w: tree state is %d bytes", ErrCorrupt, len(b))
	}
	t := Tree{Size: binary.BigEndian.Uint64(b)}
	for rest := b[8:]; len(rest) > 0; rest = rest[32:] {
		t.Hashes = append(t.Hashes, append([]byte(nil), rest[:32]...))
	}
	return t, nil
}

// Meta encoding: a version byte, the integrated time and the batch's tree
// size, then length-prefixed strings.
const metaVersion = 1

func encodeMeta(m Meta) []byte {
	b := make([]byte, 0, 64+len(m.SubmissionID)+len(m.Member)+len(m.ShipmentRef)+len(m.CAS)+len(m.Kind))
	b = append(b, metaVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(m.IntegratedTime))
	b = binary.BigEndian.AppendUint64(b, m.CheckpointSize)
	for _, s := range []string{m.SubmissionID, m.Member, m.ShipmentRef, m.CAS, m.Kind} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeMeta(b []byte) (Meta, error) {
	bad := fmt.Errorf("%w: entry metadata of %d bytes", ErrCorrupt, len(b))
	if len(b) < 17 || b[0] != metaVersion {
		return Meta{}, bad
	}
	m := Meta{
		IntegratedTime: int64(binary.BigEndian.Uint64(b[1:])),
		CheckpointSize: binary.BigEndian.Uint64(b[9:]),
	}
	rest := b[17:]
	for _, dst := range []*string{&m.SubmissionID, &m.Member, &m.ShipmentRef, &m.CAS, &m.Kind} {
		n, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < n {
			return Meta{}, bad
		}
		*dst = string(rest[k : k+int(n)])
		rest = rest[k+int(n):]
	}
	if len(rest) != 0 {
		return Meta{}, bad
	}
	return m, nil
}

// ErrCorrupt marks stored data that cannot be decoded.
var ErrCorrupt = errors.New("storage corrupt")
