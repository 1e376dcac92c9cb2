package storage

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// indexedLeaf is a test leaf that carries the fields the indexes are built
// from, as a signed envelope does; describeLeaf reads them back.
func indexedLeaf(i int) []byte {
	return fmt.Appendf(nil, "ref=PEN-%d|cas=75-09-%d|kind=K%d|event=ev-%d", i%3, i%2, i%2, i)
}

func describeLeaf(leaf []byte, m Meta) (Meta, error) {
	var d Meta
	for f := range strings.SplitSeq(string(leaf), "|") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "ref":
			d.ShipmentRef = v
		case "cas":
			d.CAS = v
		case "kind":
			d.Kind = v
		case "event":
			d.EventKey = m.Member + "\x00" + v
		default:
			return Meta{}, fmt.Errorf("field %q", k)
		}
	}
	return d, nil
}

// indexedStore holds six entries in two commits, indexed as the ledger
// indexes them.
func indexedStore(tb testing.TB) *Store {
	return indexedStoreOf(tb, [][2]int{{0, 3}, {3, 6}})
}

// indexedStoreOf holds entries in commits of the given [from, to) ranges.
func indexedStoreOf(tb testing.TB, batches [][2]int) *Store {
	tb.Helper()
	s := openTestStore(tb)
	for _, batch := range batches {
		if err := s.Update(func(tx *WriteTx) error {
			for i := batch[0]; i < batch[1]; i++ {
				leaf := indexedLeaf(i)
				m, _ := describeLeaf(leaf, Meta{Member: "MX-ANAM"})
				m.SubmissionID, m.Member = fmt.Sprintf("sub-%d", i), "MX-ANAM"
				m.IntegratedTime, m.CheckpointSize = int64(1000+batch[0]), uint64(batch[1])
				if err := tx.AppendEntry(uint64(i), leaf, m); err != nil {
					return err
				}
			}
			return tx.PutCheckpoint(uint64(batch[1]), []byte("note"))
		}); err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// rekey moves the value under key from to key to in bucket.
func rekey(tx *bolt.Tx, bucket, from, to []byte) error {
	b := tx.Bucket(bucket)
	v := bytes.Clone(b.Get(from))
	if v == nil {
		return fmt.Errorf("no key %q in %s", from, bucket)
	}
	if err := b.Delete(from); err != nil {
		return err
	}
	return b.Put(to, v)
}

// editMeta rewrites the metadata of entry i.
func editMeta(i uint64, edit func(*Meta)) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		m, err := decodeMeta(tx.Bucket(bucketMeta).Get(u64(i)))
		if err != nil {
			return err
		}
		edit(&m)
		return tx.Bucket(bucketMeta).Put(u64(i), encodeMeta(m))
	}
}

// TestVerifyIndexesFindsEveryEditedIndex edits each kind of index or record
// that is not the leaf or the tree, as a hand or a bad disk would, and
// checks that the full check refuses it and names the index.
func TestVerifyIndexesFindsEveryEditedIndex(t *testing.T) {
	tests := []struct {
		name string
		edit func(*bolt.Tx) error
		want string // the index kind named; "" for no error
	}{
		{name: "untouched", edit: func(*bolt.Tx) error { return nil }},
		{name: "submission id bytes in the metadata", edit: editMeta(4, func(m *Meta) { m.SubmissionID = "sXb-4" }), want: IndexSubmission},
		{name: "submission id record key", edit: func(tx *bolt.Tx) error {
			k := submissionKey("sub-2")
			k2 := bytes.Clone(k)
			k2[5] ^= 1
			return rekey(tx, bucketSubmissions, k, k2)
		}, want: IndexSubmission},
		{name: "idempotency record's index", edit: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketSubmissions)
			v := bytes.Clone(b.Get(submissionKey("sub-1")))
			v[7] = 5
			return b.Put(submissionKey("sub-1"), v)
		}, want: IndexIdempotency},
		{name: "idempotency record's leaf digest", edit: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketSubmissions)
			v := bytes.Clone(b.Get(submissionKey("sub-3")))
			v[20] ^= 1
			return b.Put(submissionKey("sub-3"), v)
		}, want: IndexIdempotency},
		{name: "extra idempotency record", edit: func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketSubmissions)
			return b.Put(submissionKey("sub-99"), bytes.Clone(b.Get(submissionKey("sub-3"))))
		}, want: IndexSubmission},
		{name: "event id bytes", edit: func(tx *bolt.Tx) error {
			return rekey(tx, bucketEventKeys, []byte("MX-ANAM\x00ev-3"), []byte("MX-ANAM\x00eX-3"))
		}, want: IndexEventID},
		{name: "event id pointing elsewhere", edit: func(tx *bolt.Tx) error {
			return tx.Bucket(bucketEventKeys).Put([]byte("MX-ANAM\x00ev-3"), u64(4))
		}, want: IndexEventID},
		{name: "extra event id", edit: func(tx *bolt.Tx) error {
			return tx.Bucket(bucketEventKeys).Put([]byte("MX-ANAM\x00ev-77"), u64(4))
		}, want: IndexEventID},
		{name: "shipment reference index key", edit: func(tx *bolt.Tx) error {
			return rekey(tx, bucketByRef, indexKey("PEN-1", 4), indexKey("PEN-7", 4))
		}, want: IndexShipmentRef},
		{name: "member index key", edit: func(tx *bolt.Tx) error {
			return rekey(tx, bucketByMember, indexKey("MX-ANAM", 0), indexKey("MX-ANAN", 0))
		}, want: IndexMember},
		{name: "CAS index key", edit: func(tx *bolt.Tx) error {
			return rekey(tx, bucketByCAS, indexKey("75-09-1", 5), indexKey("75-09-1", 6))
		}, want: IndexCAS},
		{name: "kind index key", edit: func(tx *bolt.Tx) error {
			return rekey(tx, bucketByKind, indexKey("K0", 2), indexKey("K1", 2))
		}, want: IndexKind},
		{name: "extra kind index key", edit: func(tx *bolt.Tx) error {
			return tx.Bucket(bucketByKind).Put(indexKey("K9", 2), nil)
		}, want: IndexKind},
		{name: "time index key", edit: func(tx *bolt.Tx) error {
			return rekey(tx, bucketByTime, timeKey(1003, 5), timeKey(1004, 5))
		}, want: IndexTime},
		{name: "shipment reference in the metadata and its index", edit: func(tx *bolt.Tx) error {
			if err := editMeta(4, func(m *Meta) { m.ShipmentRef = "PEN-7" })(tx); err != nil {
				return err
			}
			return rekey(tx, bucketByRef, indexKey("PEN-1", 4), indexKey("PEN-7", 4))
		}, want: IndexMeta},
		{name: "member in the metadata and its index", edit: func(tx *bolt.Tx) error {
			// The member is not read from the leaf, but the entry's event
			// id was indexed under the member that signed it.
			if err := editMeta(3, func(m *Meta) { m.Member = "US-CBP" })(tx); err != nil {
				return err
			}
			return rekey(tx, bucketByMember, indexKey("MX-ANAM", 3), indexKey("US-CBP", 3))
		}, want: IndexEventID},
		{name: "kind in the metadata", edit: editMeta(1, func(m *Meta) { m.Kind = "K0" }), want: IndexMeta},
		{name: "first covering checkpoint in the metadata", edit: editMeta(1, func(m *Meta) { m.CheckpointSize = 5 }), want: IndexMeta},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := indexedStore(t)
			if err := s.db.Update(tt.edit); err != nil {
				t.Fatal(err)
			}
			var err error
			if verr := s.View(func(tx *ReadTx) error {
				err = tx.VerifyIndexes(6, describeLeaf)
				return nil
			}); verr != nil {
				t.Fatal(verr)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("VerifyIndexes of an untouched store: %v, want nil", err)
				}
				return
			}
			var ie *IndexError
			if !errors.As(err, &ie) || ie.Index != tt.want {
				t.Fatalf("VerifyIndexes after editing the %s = %v, want an *IndexError naming %q", tt.name, err, tt.want)
			}
			if !errors.Is(err, ErrCorrupt) || !strings.HasPrefix(err.Error(), tt.want+": ") {
				t.Errorf("error %q: want it to start with %q and wrap ErrCorrupt", err, tt.want)
			}
			t.Logf("%v", err)
		})
	}
}

// TestVerifyIndexesAcrossChunks: leaves are described a chunk at a time
// on every core; an edit in a later chunk is still found, at its entry.
func TestVerifyIndexesAcrossChunks(t *testing.T) {
	const n = describeChunk + describeChunk/2
	for _, tt := range []struct {
		name string
		edit func(*bolt.Tx) error
		want uint64 // the entry named; n for none
	}{
		{"untouched", func(*bolt.Tx) error { return nil }, n},
		{"kind of an entry in the second chunk", editMeta(n-7, func(m *Meta) { m.Kind = "K9" }), n - 7},
		{"kind of the first entry of the second chunk", editMeta(describeChunk, func(m *Meta) { m.Kind = "K9" }), describeChunk},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := indexedStoreOf(t, [][2]int{{0, n}})
			if err := s.db.Update(tt.edit); err != nil {
				t.Fatal(err)
			}
			err := s.View(func(tx *ReadTx) error { return tx.VerifyIndexes(n, describeLeaf) })
			var ie *IndexError
			switch {
			case tt.want == n && err != nil:
				t.Fatalf("VerifyIndexes(%d untouched entries) = %v", n, err)
			case tt.want != n && (!errors.As(err, &ie) || ie.Entry != tt.want || ie.Index != IndexMeta):
				t.Fatalf("VerifyIndexes after editing entry %d = %v, want an entry metadata error naming it", tt.want, err)
			}
		})
	}
}

// TestOpenMigratesSchema1 opens a file whose idempotency records are keyed
// by the raw submission id (schema 1): Open re-keys them, and a lookup by
// id finds each at its index.
func TestOpenMigratesSchema1(t *testing.T) {
	s := indexedStore(t)
	path := s.Path()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range 6 {
			id := fmt.Sprintf("sub-%d", i)
			if err := rekey(tx, bucketSubmissions, submissionKey(id), []byte(id)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketState).Put(keySchema, u64(1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a schema 1 file: %v", err)
	}
	defer s.Close()
	if err := s.View(func(tx *ReadTx) error {
		for i := range uint64(6) {
			id := fmt.Sprintf("sub-%d", i)
			rec, ok, err := tx.Submission(id)
			if err != nil || !ok || rec.Index != i || !rec.SameLeaf(indexedLeaf(int(i))) {
				return fmt.Errorf("Submission(%q) = %+v, %v, %v; want entry %d", id, rec, ok, err, i)
			}
		}
		return tx.VerifyIndexes(6, describeLeaf)
	}); err != nil {
		t.Error(err)
	}
}

func TestAuditHeadRoundTrip(t *testing.T) {
	s := openTestStore(t)
	want := AuditHead{Seq: 41, Hash: [32]byte{1, 2, 3, 31: 9}}
	if err := s.Update(func(tx *WriteTx) error { return tx.PutAuditHead(want) }); err != nil {
		t.Fatal(err)
	}
	var (
		got AuditHead
		ok  bool
	)
	if err := s.View(func(tx *ReadTx) (err error) { got, ok, err = tx.AuditHead(); return err }); err != nil || !ok || got != want {
		t.Fatalf("AuditHead() = %+v, %v, %v; want %+v", got, ok, err, want)
	}
}
