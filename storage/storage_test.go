package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openTestStore opens a store in a fresh directory with a short lock
// timeout and a small memory map.
func openTestStore(tb testing.TB, mutate ...func(*Options)) *Store {
	tb.Helper()
	opts := Options{LockTimeout: 100 * time.Millisecond}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := Open(filepath.Join(tb.TempDir(), "ledger.db"), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestOpenCreatesBuckets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	for round := range 2 {
		s, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatalf("open #%d: %v", round+1, err)
		}
		err = s.db.View(func(tx *bolt.Tx) error {
			for _, name := range allBuckets {
				if tx.Bucket(name) == nil {
					return fmt.Errorf("bucket %q missing", name)
				}
			}
			if v := tx.Bucket(bucketState).Get(keySchema); !bytes.Equal(v, u64(schemaVersion)) {
				return fmt.Errorf("schema version %x, want %x", v, u64(schemaVersion))
			}
			return nil
		})
		if err != nil {
			t.Errorf("open #%d: %v", round+1, err)
		}
		if err := s.View(func(tx *ReadTx) error {
			tree, err := tx.Tree()
			if err != nil || tree.Size != 0 || len(tree.Hashes) != 0 {
				return fmt.Errorf("Tree() = %+v, %v; want the empty tree", tree, err)
			}
			if _, _, err := tx.LatestCheckpoint(); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("LatestCheckpoint() error %v, want ErrNotFound", err)
			}
			return nil
		}); err != nil {
			t.Errorf("open #%d: %v", round+1, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenLocked(t *testing.T) {
	s := openTestStore(t)
	started := time.Now()
	s2, err := Open(s.Path(), Options{LockTimeout: 100 * time.Millisecond})
	took := time.Since(started)
	if err == nil {
		s2.Close()
		t.Fatalf("second Open(%s) succeeded, want ErrLocked", s.Path())
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second Open(%s) = %v, want ErrLocked", s.Path(), err)
	}
	if took > time.Second {
		t.Errorf("second Open(%s) took %v with a 100ms lock timeout", s.Path(), took)
	}
}

// TestOpenRefusesOtherSchema checks that a store of another schema is
// refused, and that the refused handle does not keep the file locked.
func TestOpenRefusesOtherSchema(t *testing.T) {
	s := openTestStore(t)
	path := s.Path()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketState).Put(keySchema, u64(schemaVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, readOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("read-only %v", readOnly), func(t *testing.T) {
			got, err := Open(path, Options{LockTimeout: 100 * time.Millisecond, ReadOnly: readOnly})
			if !errors.Is(err, ErrCorrupt) {
				if got != nil {
					got.Close()
				}
				t.Fatalf("Open(%s, read-only %v) = %v, want ErrCorrupt", path, readOnly, err)
			}
			if got != nil {
				t.Errorf("Open(%s, read-only %v) returned a store with error %v", path, readOnly, err)
				defer got.Close()
			}
			// A refused open must release the file: another open is told
			// about the schema, not about a lock.
			if again, err := Open(path, Options{LockTimeout: 100 * time.Millisecond}); !errors.Is(err, ErrCorrupt) {
				if again != nil {
					again.Close()
				}
				t.Errorf("Open(%s) after a refused open = %v, want ErrCorrupt (not ErrLocked)", path, err)
			}
		})
	}
}

func TestMetaRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Meta
	}{
		{name: "zero", m: Meta{}},
		{name: "typical", m: Meta{SubmissionID: "sub-1", Member: "US-CBP", ShipmentRef: "PEN-CN-2026-000871", CAS: "39742-60-4", Kind: "EXPORT_DECLARATION", IntegratedTime: 1772323200123456789, CheckpointSize: 42}},
		{name: "only kind", m: Meta{Kind: "TRANSIT"}},
		{name: "long strings", m: Meta{SubmissionID: strings.Repeat("s", 300), Member: strings.Repeat("m", 128), ShipmentRef: strings.Repeat("r", 127), CAS: strings.Repeat("c", 16384), Kind: "k"}},
		{name: "non-ASCII and NUL", m: Meta{SubmissionID: "é\x00ü", Member: "Aduana México", ShipmentRef: "\x00", CAS: "\xff"}},
		{name: "extreme numbers", m: Meta{IntegratedTime: -1, CheckpointSize: 1<<64 - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := encodeMeta(tc.m)
			got, err := decodeMeta(b)
			if err != nil || got != tc.m {
				t.Errorf("decodeMeta(encodeMeta(%+v)) = %+v, %v", tc.m, got, err)
			}
		})
	}
}

func TestDecodeMetaRejectsCorrupt(t *testing.T) {
	valid := encodeMeta(Meta{SubmissionID: "sub-1", Member: "US-CBP", ShipmentRef: "PEN-1", CAS: "39742-60-4", Kind: "TRANSIT", IntegratedTime: 7, CheckpointSize: 8})
	header := valid[:17]
	cases := []struct {
		name string
		b    []byte
	}{
		{name: "empty", b: nil},
		{name: "header only", b: header},
		{name: "other version", b: append([]byte{metaVersion + 1}, valid[1:]...)},
		{name: "trailing byte", b: append(bytes.Clone(valid), 0)},
		{name: "length beyond the end", b: append(bytes.Clone(header), 0x7f, 'a')},
		{name: "huge length", b: binary.AppendUvarint(bytes.Clone(header), 1<<63)},
		{name: "overlong varint", b: append(bytes.Clone(header), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
		{name: "four strings", b: append(bytes.Clone(header), 0, 0, 0, 0)},
	}
	for n := range len(valid) {
		cases = append(cases, struct {
			name string
			b    []byte
		}{name: fmt.Sprintf("truncated to %d bytes", n), b: valid[:n]})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := decodeMeta(tc.b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("decodeMeta(%x) = %+v, %v; want ErrCorrupt", tc.b, got, err)
			}
		})
	}
}

func TestTreeRoundTripAndCorrupt(t *testing.T) {
	tree := Tree{Size: 5, Hashes: [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}}
	got, err := decodeTree(encodeTree(tree))
	if err != nil || got.Size != tree.Size || !slices.EqualFunc(got.Hashes, tree.Hashes, bytes.Equal) {
		t.Errorf("decodeTree(encodeTree(%+v)) = %+v, %v", tree, got, err)
	}
	for _, b := range [][]byte{nil, make([]byte, 7), make([]byte, 8+31), make([]byte, 8+33)} {
		if got, err := decodeTree(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeTree(%d bytes) = %+v, %v; want ErrCorrupt", len(b), got, err)
		}
	}
}

// appendMetas writes one entry per meta, in order from index 0, in one
// transaction.
func appendMetas(tb testing.TB, s *Store, metas []Meta) {
	tb.Helper()
	if err := s.Update(func(tx *WriteTx) error {
		for i, m := range metas {
			if err := tx.AppendEntry(uint64(i), []byte(fmt.Sprintf("leaf %d", i)), m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

// listAll pages through List with the limits limit returns, checking every
// page, and returns all indexes found.
func listAll(tb testing.TB, s *Store, f Filter, limit func() int) []uint64 {
	tb.Helper()
	var all []uint64
	start := uint64(0)
	for pages := 0; ; pages++ {
		if pages > 100000 {
			tb.Fatalf("List(%+v) did not reach Done after %d pages", f, pages)
		}
		n := limit()
		var p Page
		if err := s.View(func(tx *ReadTx) error {
			var err error
			p, err = tx.List(f, start, n)
			return err
		}); err != nil {
			tb.Fatalf("List(%+v, %d, %d): %v", f, start, n, err)
		}
		if len(p.Indexes) > n {
			tb.Fatalf("List(%+v, %d, %d) returned %d indexes", f, start, n, len(p.Indexes))
		}
		for i, x := range p.Indexes {
			if x < start || (i > 0 && x <= p.Indexes[i-1]) {
				tb.Fatalf("List(%+v, %d, %d) = %v: not ascending from the start", f, start, n, p.Indexes)
			}
		}
		all = append(all, p.Indexes...)
		if p.Done {
			return all
		}
		if p.Next <= start || (len(p.Indexes) > 0 && p.Next <= p.Indexes[len(p.Indexes)-1]) {
			tb.Fatalf("List(%+v, %d, %d) = %+v: next page does not move forward", f, start, n, p)
		}
		start = p.Next
	}
}

func TestListMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(values ...string) string { return values[rng.IntN(len(values))] }
	s := openTestStore(t)

	const entries = 1500
	metas := make([]Meta, entries)
	now := int64(1_772_323_200_000_000_000)
	for i := range metas {
		// Time never decreases along the log, and often repeats.
		now += int64(rng.IntN(3)) * 1000
		metas[i] = Meta{
			SubmissionID:   fmt.Sprintf("sub-%d", i),
			Member:         pick("US-CBP", "MX-ANAM", "CN-GACC"),
			ShipmentRef:    pick("", "PEN-1", "PEN-2", "PEN-3", "PEN-4", "PEN-5"),
			CAS:            pick("", "39742-60-4", "79-09-4", "110-89-4"),
			Kind:           pick("", "EXPORT_DECLARATION", "TRANSIT", "IMPORT_DECLARATION"),
			IntegratedTime: now,
		}
	}
	appendMetas(t, s, metas)
	first, last := metas[0].IntegratedTime, metas[entries-1].IntegratedTime
	randomTime := func() int64 { return first - 2000 + rng.Int64N(last-first+4000) }

	for n := range 400 {
		var f Filter
		if rng.IntN(3) == 0 {
			f.ShipmentRef = pick("PEN-1", "PEN-2", "PEN-3", "PEN-4", "PEN-5", "PEN-none")
		}
		if rng.IntN(3) == 0 {
			f.Member = pick("US-CBP", "MX-ANAM", "CN-GACC", "XX-NONE")
		}
		if rng.IntN(3) == 0 {
			f.CAS = pick("39742-60-4", "79-09-4", "110-89-4", "0-00-0")
		}
		if rng.IntN(3) == 0 {
			f.Kind = pick("EXPORT_DECLARATION", "TRANSIT", "IMPORT_DECLARATION", "INCIDENT")
		}
		if rng.IntN(3) == 0 {
			f.SinceNano = randomTime()
		}
		if rng.IntN(3) == 0 {
			f.UntilNano = randomTime()
		}
		var want []uint64
		for i, m := range metas {
			if f.matches(m) {
				want = append(want, uint64(i))
			}
		}
		got := listAll(t, s, f, func() int { return 1 + rng.IntN(40) })
		if !slices.Equal(got, want) {
			t.Errorf("filter #%d %+v: paged List = %v (%d), want %v (%d)", n, f, got, len(got), want, len(want))
		}
	}
}

func TestListMaxScan(t *testing.T) {
	s := openTestStore(t)
	const entries = MaxScan + 500
	metas := make([]Meta, entries)
	for i := range metas {
		metas[i] = Meta{SubmissionID: fmt.Sprintf("sub-%d", i), Member: "US-CBP", Kind: "TRANSIT", IntegratedTime: int64(1000 + i)}
	}
	metas[entries-1].Kind = "INCIDENT"
	appendMetas(t, s, metas)

	list := func(f Filter, start uint64, limit int) Page {
		t.Helper()
		var p Page
		if err := s.View(func(tx *ReadTx) error {
			var err error
			p, err = tx.List(f, start, limit)
			return err
		}); err != nil {
			t.Fatalf("List(%+v, %d, %d): %v", f, start, limit, err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		f    Filter
		want []uint64
	}{
		{name: "matches nothing", f: Filter{Member: "US-CBP", Kind: "PEN_REPLY"}},
		{name: "matches only the last entry", f: Filter{Member: "US-CBP", Kind: "INCIDENT"}, want: []uint64{entries - 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := list(tc.f, 0, 100)
			if len(p.Indexes) != 0 || p.Done || p.Next != MaxScan {
				t.Fatalf("first page of %+v = %d indexes, next %d, done %v; want an empty page, next %d, not done", tc.f, len(p.Indexes), p.Next, p.Done, MaxScan)
			}
			if got := listAll(t, s, tc.f, func() int { return 100 }); !slices.Equal(got, tc.want) {
				t.Errorf("paging %+v = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
}

func TestUpdateMaxSize(t *testing.T) {
	const maxSize = 2 << 20
	s := openTestStore(t, func(o *Options) { o.MaxSize = maxSize })
	big := bytes.Repeat([]byte("x"), 64<<10)
	err := s.Update(func(tx *WriteTx) error {
		for i := range 64 { // 4 MiB
			if err := tx.AppendEntry(uint64(i), big, Meta{SubmissionID: fmt.Sprintf("sub-%d", i), IntegratedTime: 1}); err != nil {
				return err
			}
		}
		return tx.PutCheckpoint(64, []byte("note"))
	})
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Update of 4 MiB under a %d-byte cap = %v, want ErrNoSpace", maxSize, err)
	}
	if err := s.View(func(tx *ReadTx) error {
		if n, m, sub := tx.Count(); n+m+sub != 0 {
			return fmt.Errorf("%d entries, %d metadata, %d submissions written by a failed update", n, m, sub)
		}
		if _, _, err := tx.LatestCheckpoint(); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("a checkpoint was written by a failed update (%v)", err)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if fi, err := os.Stat(s.Path()); err != nil || fi.Size() > maxSize {
		t.Errorf("file size %v (%v), want at most %d", fi.Size(), err, maxSize)
	}
	// The store still takes writes that fit.
	appendMetas(t, s, []Meta{{SubmissionID: "small", IntegratedTime: 1}})
}

func TestDerivedStateDropsWithoutTouchingTheLog(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ledger.db"), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(func(tx *WriteTx) error {
		if err := tx.AppendEntry(0, []byte("leaf"), Meta{SubmissionID: "s-0"}); err != nil {
			return err
		}
		if err := tx.PutFlag("R1-00aa", []byte("flag")); err != nil {
			return err
		}
		return tx.PutDetectorValue("applied", []byte{1})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.DropDerived(); err != nil {
		t.Fatal(err)
	}
	if err := s.View(func(tx *ReadTx) error {
		if _, err := tx.Flag("R1-00aa"); !errors.Is(err, ErrNotFound) {
			t.Errorf("flag after DropDerived: %v, want ErrNotFound", err)
		}
		if v := tx.DetectorValue("applied"); v != nil {
			t.Errorf("detector value after DropDerived: %x", v)
		}
		if n := tx.FlagCount(); n != 0 {
			t.Errorf("%d flags after DropDerived", n)
		}
		if leaf, err := tx.Leaf(0); err != nil || string(leaf) != "leaf" {
			t.Errorf("entry 0 after DropDerived: %q, %v; the log must be untouched", leaf, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// OpenReadTxs counts the read transactions open now: one inside View, none
// once it returns. With the production memory map a commit goes ahead
// while a reader is open; with a map the file outgrows (as openTestStore's
// is), bbolt's remap would wait for every open reader, which is why a long
// listing must not keep one open between its pages.
func TestOpenReadTxs(t *testing.T) {
	s := openTestStore(t, func(o *Options) { o.InitialMmapSize = DefaultInitialMmapSize })
	if n := s.OpenReadTxs(); n != 0 {
		t.Fatalf("OpenReadTxs of a fresh store = %d, want 0", n)
	}
	err := s.View(func(*ReadTx) error {
		if n := s.OpenReadTxs(); n != 1 {
			t.Errorf("OpenReadTxs inside View = %d, want 1", n)
		}
		// A write commits while a reader is open (bbolt's MVCC): the
		// reader only pins the pages it can see.
		done := make(chan error, 1)
		go func() {
			done <- s.Update(func(tx *WriteTx) error {
				return tx.AppendEntry(0, []byte("leaf"), Meta{SubmissionID: "a", Member: "US-CBP"})
			})
		}()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			return errors.New("a commit waited 5 s for an open reader")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.OpenReadTxs(); n != 0 {
		t.Fatalf("OpenReadTxs after View = %d, want 0", n)
	}
}
