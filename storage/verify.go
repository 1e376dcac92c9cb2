package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// The index kinds VerifyIndexes names in its errors.
const (
	IndexMeta        = "entry metadata"
	IndexSubmission  = "submission id"
	IndexIdempotency = "idempotency record"
	IndexEventID     = "event id index"
	IndexShipmentRef = "shipment reference index"
	IndexMember      = "member index"
	IndexCAS         = "CAS index"
	IndexKind        = "kind index"
	IndexTime        = "time index"
)

// IndexError is an index or record that does not agree with the entries.
type IndexError struct {
	// Index is one of the Index… kinds above.
	Index string
	// Entry is the entry whose record is wrong, or the size of the log
	// when the error is about a count.
	Entry  uint64
	Reason string
}

func (e *IndexError) Error() string {
	return fmt.Sprintf("%s: %s", e.Index, e.Reason)
}

// Unwrap makes errors.Is(err, ErrCorrupt) true.
func (e *IndexError) Unwrap() error { return ErrCorrupt }

// Describe derives from an entry's leaf (and the member recorded as its
// signer) the fields the indexes are built from: ShipmentRef, CAS, Kind and
// EventKey. It is the admission code's own derivation, so that what the
// indexes say can be checked against what the signed leaf says. It is
// called from several goroutines at once.
type Describe func(leaf []byte, m Meta) (Meta, error)

// VerifyIndexes checks every record besides the leaves and the tree against
// the first size entries: each entry's metadata against what its leaf says
// (when describe is given), its idempotency record (found under its
// submission id, naming this entry and this leaf), its event id, its keys
// in every list index, and that no index holds a key no entry accounts for
// (each bucket's key count is the count the entries imply). The leaves and
// the tree are the ledger's to check; this reads the rest, so an edited
// submission id, event id or index key is refused instead of served, and
// an identical retry cannot be appended twice for a record that no longer
// matches.
//
// Without describe, an entry's own metadata is taken as what the leaf
// says, and event ids are checked only for how many there are.
func (t *ReadTx) VerifyIndexes(size uint64, describe Describe) error {
	var (
		entries = t.tx.Bucket(bucketEntries)
		meta    = t.tx.Bucket(bucketMeta)
		subs    = t.tx.Bucket(bucketSubmissions)
		events  = t.tx.Bucket(bucketEventKeys)
		byTime  = t.tx.Bucket(bucketByTime)
		lists   = []struct {
			name   string
			bucket *bolt.Bucket
			value  func(Meta) string
			count  int
		}{
			{IndexShipmentRef, t.tx.Bucket(bucketByRef), func(m Meta) string { return m.ShipmentRef }, 0},
			{IndexMember, t.tx.Bucket(bucketByMember), func(m Meta) string { return m.Member }, 0},
			{IndexCAS, t.tx.Bucket(bucketByCAS), func(m Meta) string { return m.CAS }, 0},
			{IndexKind, t.tx.Bucket(bucketByKind), func(m Meta) string { return m.Kind }, 0},
		}
		eventCount int
		lastTime   int64
	)
	var described []describedEntry
	latestCovered, _, err := t.LatestCheckpoint()
	if err != nil {
		return err
	}
	for i := range size {
		if describe != nil && i%describeChunk == 0 {
			described = describeRange(entries, meta, i, min(size, i+describeChunk), describe)
		}
		leaf := entries.Get(u64(i))
		if leaf == nil {
			return &IndexError{IndexMeta, i, fmt.Sprintf("entry %d is missing", i)}
		}
		v := meta.Get(u64(i))
		if v == nil {
			return &IndexError{IndexMeta, i, fmt.Sprintf("entry %d has no metadata record", i)}
		}
		m, err := decodeMeta(v)
		if err != nil {
			return &IndexError{IndexMeta, i, fmt.Sprintf("entry %d: %v", i, err)}
		}
		// A mirror may hold a tail beyond its latest checkpoint, copied
		// before the upstream checkpoint that will cover it: its entries
		// name that checkpoint before it is stored. A primary holds no
		// entry beyond its latest checkpoint.
		tail := i >= latestCovered
		if m.CheckpointSize <= i || (!tail && t.tx.Bucket(bucketCheckpoints).Get(u64(m.CheckpointSize)) == nil) {
			return &IndexError{IndexMeta, i, fmt.Sprintf("entry %d names checkpoint %d as the first that covers it, and there is no such stored checkpoint covering it", i, m.CheckpointSize)}
		}
		if m.IntegratedTime < lastTime {
			return &IndexError{IndexMeta, i, fmt.Sprintf("entry %d was integrated at %d, before entry %d (%d)", i, m.IntegratedTime, i-1, lastTime)}
		}
		lastTime = m.IntegratedTime
		want := m
		if describe != nil {
			d, err := described[i%describeChunk].m, described[i%describeChunk].err
			if err != nil {
				return &IndexError{IndexMeta, i, fmt.Sprintf("entry %d cannot be described: %v", i, err)}
			}
			for _, f := range []struct{ name, stored, leaf string }{
				{"shipment reference", m.ShipmentRef, d.ShipmentRef}, {"CAS number", m.CAS, d.CAS}, {"kind", m.Kind, d.Kind},
			} {
				if f.stored != f.leaf {
					return &IndexError{IndexMeta, i, fmt.Sprintf("entry %d's metadata says %s %q, its signed leaf says %q", i, f.name, f.stored, f.leaf)}
				}
			}
			want.EventKey = d.EventKey
		}

		rec := subs.Get(submissionKey(m.SubmissionID))
		digest := sha256.Sum256(leaf)
		switch {
		case rec == nil:
			return &IndexError{IndexSubmission, i, fmt.Sprintf("entry %d's submission id %q has no idempotency record: the stored id or its record was changed", i, m.SubmissionID)}
		case len(rec) != 8+32:
			return &IndexError{IndexIdempotency, i, fmt.Sprintf("the record of submission id %q (entry %d) is %d bytes", m.SubmissionID, i, len(rec))}
		case binary.BigEndian.Uint64(rec) != i:
			return &IndexError{IndexIdempotency, i, fmt.Sprintf("the record of submission id %q names entry %d, but the id is entry %d's", m.SubmissionID, binary.BigEndian.Uint64(rec), i)}
		case !bytes.Equal(rec[8:], digest[:]):
			return &IndexError{IndexIdempotency, i, fmt.Sprintf("the record of submission id %q (entry %d) was made for other bytes than the entry's", m.SubmissionID, i)}
		}

		if want.EventKey != "" {
			eventCount++
			switch v := events.Get([]byte(want.EventKey)); {
			case v == nil:
				return &IndexError{IndexEventID, i, fmt.Sprintf("entry %d's event id %q is not in the index", i, printableKey(want.EventKey))}
			case len(v) != 8:
				return &IndexError{IndexEventID, i, fmt.Sprintf("entry %d's event id %q is indexed to a %d-byte value", i, printableKey(want.EventKey), len(v))}
			case !bytes.Equal(v, u64(i)):
				return &IndexError{IndexEventID, i, fmt.Sprintf("entry %d's event id %q is indexed to entry %d", i, printableKey(want.EventKey), binary.BigEndian.Uint64(v))}
			}
		}
		for k := range lists {
			ix := &lists[k]
			val := ix.value(want)
			if val == "" {
				continue
			}
			ix.count++
			if ix.bucket.Get(indexKey(val, i)) == nil {
				return &IndexError{ix.name, i, fmt.Sprintf("entry %d is not indexed under %q", i, val)}
			}
		}
		if byTime.Get(timeKey(m.IntegratedTime, i)) == nil {
			return &IndexError{IndexTime, i, fmt.Sprintf("entry %d is not indexed under its integrated time %d", i, m.IntegratedTime)}
		}
	}

	// Every key the entries imply is present; equal counts mean no key is
	// there that no entry accounts for (an edited key is both).
	type keyCount struct {
		name   string
		bucket *bolt.Bucket
		want   int
	}
	counts := []keyCount{
		{IndexMeta, meta, int(size)},
		{IndexSubmission, subs, int(size)},
		{IndexTime, byTime, int(size)},
	}
	if describe != nil {
		counts = append(counts, keyCount{IndexEventID, events, eventCount})
	}
	for _, ix := range lists {
		counts = append(counts, keyCount{ix.name, ix.bucket, ix.count})
	}
	for _, c := range counts {
		if n := c.bucket.Stats().KeyN; n != c.want {
			return &IndexError{c.name, size, fmt.Sprintf("holds %d keys where the %d entries account for %d: a key was added or changed", n, size, c.want)}
		}
	}
	if describe == nil {
		if n := events.Stats().KeyN; n > int(size) {
			return &IndexError{IndexEventID, size, fmt.Sprintf("%d event ids for %d entries", n, size)}
		}
	}
	return nil
}

// describeChunk is how many entries describeRange describes at a time:
// enough to keep every core busy, few enough that their results take
// little memory however long the log.
const describeChunk = 4096

type describedEntry struct {
	m   Meta
	err error
}

// describeRange describes entries [from, to) on every core: decoding a
// leaf costs far more than the index lookups that check it, and a full
// check reads every leaf. Only the leaf bytes (which stay valid, and
// immutable, while the transaction is open) cross to the workers; the
// buckets are read on the calling goroutine. A missing or undecodable
// record is left for the caller's own checks to name.
func describeRange(entries, meta *bolt.Bucket, from, to uint64, describe Describe) []describedEntry {
	n := int(to - from)
	leaves, metas := make([][]byte, n), make([]Meta, n)
	for j := range n {
		leaves[j] = entries.Get(u64(from + uint64(j)))
		if v := meta.Get(u64(from + uint64(j))); v != nil {
			metas[j], _ = decodeMeta(v)
		}
	}
	out := make([]describedEntry, n)
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < n; j += workers {
				if leaves[j] != nil {
					out[j].m, out[j].err = describe(leaves[j], metas[j])
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// printableKey shows an event key (member ‖ 0x00 ‖ id) as member/id.
func printableKey(k string) string {
	return string(bytes.ReplaceAll([]byte(k), []byte{0}, []byte{'/'}))
}
