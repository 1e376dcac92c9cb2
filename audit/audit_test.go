package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

var update = flag.Bool("update", false, "rewrite testdata/record.golden")

// base is the time of the records the tests make.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

// sample is the i-th record a test appends.
func sample(i int) Record {
	return Record{
		Time:      base.Add(time.Duration(i) * time.Millisecond),
		Principal: "MX-ANAM/analyst",
		Via:       "grpc",
		Method:    "/chemledger.v1.AnalystService/GetFlag",
		Resources: []string{fmt.Sprintf("flags/R1-%04d", i)},
		Outcome:   "OK",
	}
}

// openStore opens a store at path (fsync off unless the options say
// otherwise) and closes it when the test ends.
func openStore(tb testing.TB, path string, opts Options) *Store {
	tb.Helper()
	opts.Path = path
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(opts)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// fill appends n sample records, one at a time, and returns them as stored.
func fill(tb testing.TB, s *Store, n int) []Record {
	tb.Helper()
	var out []Record
	for i := range n {
		r, err := s.Append(tb.Context(), sample(i))
		if err != nil {
			tb.Fatalf("Append(%d): %v", i, err)
		}
		out = append(out, r)
	}
	return out
}

// wantBroken fails unless err is a *ChainError naming seq.
func wantBroken(tb testing.TB, err error, seq uint64) {
	tb.Helper()
	var ce *ChainError
	if !errors.As(err, &ce) || !errors.Is(err, ErrBroken) {
		tb.Fatalf("error = %v, want a ChainError at record %d", err, seq)
	}
	if ce.Seq != seq {
		tb.Fatalf("error names record %d (%v), want %d", ce.Seq, err, seq)
	}
}

func TestConcurrentAppends(t *testing.T) {
	const goroutines, each = 64, 50
	const total = goroutines * each
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openStore(t, path, Options{NoSync: true})

	got := make([][]Record, goroutines)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r := sample(g*each + i)
				r.Principal = fmt.Sprintf("M%02d/analyst", g)
				stored, err := s.Append(t.Context(), r)
				if err != nil {
					errs <- fmt.Errorf("goroutine %d append %d: %w", g, i, err)
					return
				}
				got[g] = append(got[g], stored)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Every Append got its own seq, 0..total-1 with no gap, and what it was
	// told is exactly what is stored there.
	bySeq := make([]*Record, total)
	for g := range got {
		for i := range got[g] {
			r := &got[g][i]
			if r.Seq >= total || bySeq[r.Seq] != nil {
				t.Fatalf("goroutine %d got seq %d twice or out of range", g, r.Seq)
			}
			bySeq[r.Seq] = r
		}
	}
	stored, count, err := s.List(0, 2*total)
	if err != nil || count != total || len(stored) != total {
		t.Fatalf("List(0) = %d records, count %d, err %v; want %d", len(stored), count, err, total)
	}
	for i := range stored {
		if diff := cmp.Diff(*bySeq[i], stored[i]); diff != "" {
			t.Fatalf("record %d: returned by Append vs stored (-+):\n%s", i, diff)
		}
		if i > 0 && !bytes.Equal(stored[i].Prev, stored[i-1].Hash) {
			t.Fatalf("record %d prev %x, want record %d hash %x", i, stored[i].Prev, i-1, stored[i-1].Hash)
		}
	}
	if n, err := s.VerifyAll(); err != nil || n != total {
		t.Fatalf("VerifyAll = %d, %v; want %d, nil", n, err, total)
	}
	t.Logf("%d records in %d commits", s.committed.Load(), s.commits.Load())

	// Reopened, the store has them all and extends the same chain.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path, Options{NoSync: true})
	if n, err := s.VerifyAll(); err != nil || n != total {
		t.Fatalf("after reopen VerifyAll = %d, %v; want %d, nil", n, err, total)
	}
	next, err := s.Append(t.Context(), sample(total))
	if err != nil {
		t.Fatal(err)
	}
	if next.Seq != total || !bytes.Equal(next.Prev, stored[total-1].Hash) {
		t.Fatalf("after reopen appended seq %d prev %x, want seq %d prev %x", next.Seq, next.Prev, total, stored[total-1].Hash)
	}
	if n, err := s.VerifyAll(); err != nil || n != total+1 {
		t.Fatalf("VerifyAll = %d, %v; want %d, nil", n, err, total+1)
	}
}

// tamper rewrites the stored records of the closed store at path.
func tamper(tb testing.TB, path string, fn func(b *bolt.Bucket) error) {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return fn(tx.Bucket(bucketRecords)) }); err != nil {
		tb.Fatal(err)
	}
}

// edit changes one stored record's fields, and its hash too when rehash is
// set (a forger who knows the encoding).
func edit(seq uint64, rehash bool, change func(*Record)) func(*bolt.Bucket) error {
	return func(b *bolt.Bucket) error {
		var r Record
		if err := json.Unmarshal(b.Get(seqKey(seq)), &r); err != nil {
			return err
		}
		change(&r)
		if rehash {
			r.Hash = r.ComputeHash()
		}
		v, err := json.Marshal(r)
		if err != nil {
			return err
		}
		return b.Put(seqKey(seq), v)
	}
}

func TestTamper(t *testing.T) {
	const n, last = 40, 39
	principal := func(r *Record) { r.Principal = "US-CBP/analyst" }
	tests := []struct {
		name   string
		change func(*bolt.Bucket) error
		// Either VerifyAll fails naming verifyBad, or Open refuses naming
		// openBad.
		verifyBad, openBad uint64
		refused            bool
	}{
		{name: "principal changed", change: edit(17, false, principal), verifyBad: 17},
		{name: "resources dropped", change: edit(17, false, func(r *Record) { r.Resources = nil }), verifyBad: 17},
		{name: "time moved", change: edit(17, false, func(r *Record) { r.Time = r.Time.Add(time.Second) }), verifyBad: 17},
		{name: "outcome changed and rehashed", change: edit(17, true, func(r *Record) { r.Outcome = "PERMISSION_DENIED" }), verifyBad: 18},
		{name: "record removed", change: func(b *bolt.Bucket) error { return b.Delete(seqKey(17)) }, verifyBad: 17},
		{name: "records swapped", change: func(b *bolt.Bucket) error {
			a, c := bytes.Clone(b.Get(seqKey(17))), bytes.Clone(b.Get(seqKey(18)))
			if err := b.Put(seqKey(17), c); err != nil {
				return err
			}
			return b.Put(seqKey(18), a)
		}, verifyBad: 17},
		{name: "garbage", change: func(b *bolt.Bucket) error { return b.Put(seqKey(17), []byte("{")) }, verifyBad: 17},
		{name: "unknown field", change: func(b *bolt.Bucket) error {
			v := b.Get(seqKey(17))
			return b.Put(seqKey(17), append([]byte(`{"note":"x",`), v[1:]...))
		}, verifyBad: 17},
		{name: "first record removed", change: func(b *bolt.Bucket) error { return b.Delete(seqKey(0)) }, refused: true, openBad: 0},
		{name: "last principal changed", change: edit(last, false, principal), refused: true, openBad: last},
		{name: "last prev changed", change: edit(last, true, func(r *Record) { r.Prev = make([]byte, 32) }), refused: true, openBad: last},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.db")
			s := openStore(t, path, Options{NoSync: true})
			fill(t, s, n)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tamper(t, path, tc.change)

			s, err := Open(Options{Path: path, NoSync: true})
			if tc.refused {
				if err == nil {
					s.Close()
					t.Fatalf("Open accepted a store with a tampered tail")
				}
				wantBroken(t, err, tc.openBad)
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			got, err := s.VerifyAll()
			wantBroken(t, err, tc.verifyBad)
			if got != tc.verifyBad {
				t.Errorf("VerifyAll counted %d good records, want %d", got, tc.verifyBad)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "audit.db"), Options{NoSync: true})
	all := fill(t, s, 30)
	page, count, err := s.List(10, 10)
	if err != nil || count != 30 || len(page) != 10 || page[0].Seq != 10 {
		t.Fatalf("List(10, 10) = %d records from %v, count %d, err %v", len(page), page, count, err)
	}

	tests := []struct {
		name    string
		prev    []byte
		records func() []Record // a modified copy of page
		bad     uint64
		ok      bool
	}{
		{name: "middle run", prev: all[9].Hash, records: func() []Record { return page }, ok: true},
		{name: "from zero", records: func() []Record { return all[:10] }, ok: true},
		{name: "whole chain", records: func() []Record { return all }, ok: true},
		{name: "empty", records: func() []Record { return nil }, ok: true},
		{name: "one record", prev: all[9].Hash, records: func() []Record { return page[:1] }, ok: true},
		{name: "middle run without prev", records: func() []Record { return page }, bad: 10},
		{name: "wrong prev", prev: all[8].Hash, records: func() []Record { return page }, bad: 10},
		{name: "reordered", prev: all[9].Hash, records: func() []Record {
			r := slices.Clone(page)
			r[2], r[3] = r[3], r[2]
			return r
		}, bad: 12},
		{name: "removed", prev: all[9].Hash, records: func() []Record { return slices.Delete(slices.Clone(page), 3, 4) }, bad: 13},
		{name: "renumbered after removal", prev: all[9].Hash, records: func() []Record {
			r := slices.Delete(slices.Clone(page), 3, 4)
			for i := range r[3:] {
				r[3+i].Seq--
			}
			return r
		}, bad: 13},
		{name: "field changed", prev: all[9].Hash, records: func() []Record {
			r := slices.Clone(page)
			r[4].Method = "/chemledger.v1.AnalystService/ListFlags"
			return r
		}, bad: 14},
		{name: "resource added", prev: all[9].Hash, records: func() []Record {
			r := slices.Clone(page)
			r[4].Resources = append(slices.Clone(r[4].Resources), "entries/1")
			return r
		}, bad: 14},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.prev, tc.records())
			if tc.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			wantBroken(t, err, tc.bad)
		})
	}
}

func TestInjectFailures(t *testing.T) {
	for _, failures := range []int{1, 3} {
		t.Run(fmt.Sprint(failures), func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "audit.db"), Options{NoSync: true})
			before := fill(t, s, 5)
			s.InjectFailures(failures)
			for i := range failures {
				if r, err := s.Append(t.Context(), sample(100+i)); !errors.Is(err, errInjected) {
					t.Fatalf("Append %d after InjectFailures(%d) = seq %d, %v; want the injected error", i, failures, r.Seq, err)
				}
				if err := s.WriteError(); !errors.Is(err, errInjected) {
					t.Fatalf("WriteError = %v after a failed commit", err)
				}
			}
			r, err := s.Append(t.Context(), sample(200))
			if err != nil {
				t.Fatalf("Append after the failures: %v", err)
			}
			if r.Seq != 5 || !bytes.Equal(r.Prev, before[4].Hash) {
				t.Fatalf("Append after the failures = seq %d prev %x; want seq 5 prev %x", r.Seq, r.Prev, before[4].Hash)
			}
			if err := s.WriteError(); err != nil {
				t.Fatalf("WriteError = %v after a good commit", err)
			}
			if n, err := s.VerifyAll(); err != nil || n != 6 {
				t.Fatalf("VerifyAll = %d, %v; want 6, nil", n, err)
			}
		})
	}
}

// A failed commit fails every Append in its batch, not only the first.
func TestFailedBatchFailsEveryAppend(t *testing.T) {
	const batch = 8
	// The batch commits exactly when it is full, so all eight share it.
	s := openStore(t, filepath.Join(t.TempDir(), "audit.db"), Options{NoSync: true, MaxBatch: batch, Linger: time.Minute})
	s.InjectFailures(1)
	errs := make([]error, batch)
	var wg sync.WaitGroup
	for i := range batch {
		wg.Go(func() { _, errs[i] = s.Append(t.Context(), sample(i)) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, errInjected) {
			t.Errorf("Append %d of the failed batch = %v, want the injected error", i, err)
		}
	}
	if _, n, err := s.List(0, 0); err != nil || n != 0 {
		t.Fatalf("after a failed batch the store holds %d records (%v), want 0", n, err)
	}
}

func TestAppendNormalizes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openStore(t, path, Options{NoSync: true})
	mexico := time.FixedZone("CST", -6*3600)
	long := strings.Repeat("é", MaxFieldBytes) // 2 bytes a rune
	many := make([]string, MaxResources+5)
	for i := range many {
		many[i] = fmt.Sprintf("entries/%d", i)
	}
	tests := []struct {
		name  string
		in    Record
		check func(t *testing.T, got Record)
	}{
		{name: "time to UTC microseconds", in: Record{Time: time.Date(2026, 1, 2, 3, 4, 5, 123456789, mexico)}, check: func(t *testing.T, got Record) {
			if want := time.Date(2026, 1, 2, 9, 4, 5, 123456000, time.UTC); !got.Time.Equal(want) || got.Time.Location() != time.UTC {
				t.Errorf("Time = %v, want %v", got.Time, want)
			}
		}},
		{name: "zero time is now", in: Record{}, check: func(t *testing.T, got Record) {
			if d := time.Since(got.Time); d < 0 || d > time.Minute {
				t.Errorf("Time = %v, want about now", got.Time)
			}
		}},
		{name: "invalid UTF-8", in: Record{Time: base, Principal: "MX-ANAM/\xff\xfe", Method: "GET /\xc3"}, check: func(t *testing.T, got Record) {
			if got.Principal != "MX-ANAM/\uFFFD" || got.Method != "GET /\uFFFD" {
				t.Errorf("Principal, Method = %q, %q; want invalid bytes replaced", got.Principal, got.Method)
			}
		}},
		{name: "long field", in: Record{Time: base, Method: "GET /" + long}, check: func(t *testing.T, got Record) {
			if len(got.Method) > MaxFieldBytes || !strings.HasSuffix(got.Method, "é…") {
				t.Errorf("Method is %d bytes ending %q; want at most %d, cut on a rune and marked", len(got.Method), got.Method[len(got.Method)-8:], MaxFieldBytes)
			}
		}},
		{name: "many resources", in: Record{Time: base, Resources: many}, check: func(t *testing.T, got Record) {
			if len(got.Resources) != MaxResources+1 || got.Resources[MaxResources] != "… 5 more" {
				t.Errorf("kept %d resources ending %q; want %d and a count of the rest", len(got.Resources), got.Resources[len(got.Resources)-1], MaxResources+1)
			}
		}},
		{name: "caller's chain fields ignored", in: Record{Time: base, Seq: 99, Prev: []byte("x"), Hash: []byte("y")}, check: func(t *testing.T, got Record) {
			if len(got.Prev) != 32 || !bytes.Equal(got.Hash, got.ComputeHash()) {
				t.Errorf("Seq %d Prev %x Hash %x: the store's chain fields were not set", got.Seq, got.Prev, got.Hash)
			}
		}},
	}
	var appended []Record
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Append(t.Context(), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
			appended = append(appended, got)
		})
	}
	// What Append returned is what reads back, byte for byte, after a reopen.
	s.Close()
	s = openStore(t, path, Options{NoSync: true})
	stored, _, err := s.List(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(appended, stored); diff != "" {
		t.Errorf("returned by Append vs stored (-+):\n%s", diff)
	}
	if _, err := s.VerifyAll(); err != nil {
		t.Error(err)
	}
}

func TestAppendRefused(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "audit.db"), Options{NoSync: true})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Append(ctx, sample(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append with a cancelled context = %v, want context.Canceled", err)
	}
	if _, n, _ := s.List(0, 0); n != 0 {
		t.Errorf("a cancelled Append stored a record: count %d", n)
	}
	s.Close()
	if _, err := s.Append(t.Context(), sample(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	openStore(t, path, Options{NoSync: true})
	if s, err := Open(Options{Path: path, LockTimeout: 50 * time.Millisecond}); err == nil {
		s.Close()
		t.Fatal("a second Open of the same file succeeded")
	}
}

// golden is the record whose hash testdata/record.golden pins.
var golden = Record{
	Seq:       41,
	Time:      time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC),
	Principal: "MX-ANAM/analyst",
	Via:       "grpc",
	Method:    "/chemledger.v1.AnalystService/GetFlag",
	Resources: []string{"flags/R1-0f3a", "shipments/PEN-2026-0001"},
	Outcome:   "PERMISSION_DENIED",
	Prev:      bytes.Repeat([]byte{0xab}, 32),
}

// The encoding must never change silently: every stored chain depends on it.
func TestComputeHashGolden(t *testing.T) {
	got := hex.EncodeToString(golden.ComputeHash()) + "\n"
	path := filepath.Join("testdata", "record.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("ComputeHash of the golden record = %s want %s (if the change is intended, bump the domain string and schemaVersion, then go test -update)", got, want)
	}
}

// reference is the encoding as ComputeHash's comment documents it, written
// from the comment alone, as an auditor would.
func reference(r Record) []byte {
	u64 := func(b []byte, n uint64) []byte { return binary.BigEndian.AppendUint64(b, n) }
	str := func(b []byte, s string) []byte { return append(u64(b, uint64(len(s))), s...) }
	b := []byte("chemledger-audit-v1\n")
	b = u64(b, r.Seq)
	b = u64(b, uint64(r.Time.UnixMicro()))
	b = str(b, r.Principal)
	b = str(b, r.Via)
	b = str(b, r.Method)
	b = u64(b, uint64(len(r.Resources)))
	for _, s := range r.Resources {
		b = str(b, s)
	}
	b = str(b, r.Outcome)
	b = str(b, string(r.Prev))
	h := sha256.Sum256(b)
	return h[:]
}

func TestComputeHashMatchesDocumentation(t *testing.T) {
	tests := []struct {
		name string
		r    Record
	}{
		{name: "golden", r: golden},
		{name: "zero", r: Record{}},
		{name: "before 1970", r: Record{Time: time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)}},
		{name: "unauthenticated", r: Record{Seq: 1, Time: base, Via: "http", Method: "GET /v1/flags", Outcome: "UNAUTHENTICATED", Prev: zeroHash[:]}},
		{name: "unicode", r: Record{Principal: "BR-RFB/análise", Resources: []string{"", "filter: cas=64-17-5 ∧ member=MX"}}},
		{name: "hash ignored", r: Record{Seq: 3, Hash: []byte("not part of it")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := tc.r.ComputeHash(), reference(tc.r); !bytes.Equal(got, want) {
				t.Errorf("ComputeHash(%+v) = %x, the documented encoding gives %x", tc.r, got, want)
			}
		})
	}
	// Length prefixes keep neighbouring fields from trading bytes.
	a := Record{Principal: "MX-ANAM/analyst", Via: "grpc"}
	b := Record{Principal: "MX-ANAM/analystg", Via: "rpc"}
	c := Record{Resources: []string{"entries/1entries/2"}}
	d := Record{Resources: []string{"entries/1", "entries/2"}}
	if bytes.Equal(a.ComputeHash(), b.ComputeHash()) || bytes.Equal(c.ComputeHash(), d.ComputeHash()) {
		t.Error("records that differ only in where a field boundary falls hash alike")
	}
}

// BenchmarkAppend is the latency an audit write adds to a read: concurrent
// Appends with real fsync, reporting the median and 99th percentile.
func BenchmarkAppend(b *testing.B) {
	for _, par := range []int{1, 8} {
		b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", par), func(b *testing.B) {
			s := openStore(b, filepath.Join(b.TempDir(), "audit.db"), Options{})
			var (
				mu        sync.Mutex
				latencies = make([]time.Duration, 0, b.N)
			)
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for i := 0; pb.Next(); i++ {
					start := time.Now()
					if _, err := s.Append(context.Background(), sample(i)); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			if len(latencies) == 0 {
				return
			}
			slices.Sort(latencies)
			pct := func(p float64) float64 {
				return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds())
			}
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			if c := s.commits.Load(); c > 0 {
				b.ReportMetric(float64(s.committed.Load())/float64(c), "records/commit")
			}
		})
	}
}
