package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/chemledger/chemledger/audit"
)

// fakeTrail stands in for the audit store: it counts appends and can fail
// them.
type fakeTrail struct {
	mu   sync.Mutex
	recs []audit.Record
	fail bool
}

func (f *fakeTrail) append(_ context.Context, r audit.Record) (audit.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return audit.Record{}, errors.New("disk gone")
	}
	f.recs = append(f.recs, r)
	return r, nil
}

func (f *fakeTrail) records() []audit.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]audit.Record(nil), f.recs...)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// N refusals of two kinds, from many goroutines at once, are each written
// once on their own and otherwise counted: four appends in all, whose
// counts sum to N, with the resources named up to the limit and the rest
// counted.
func TestRefusalsCountedPerKind(t *testing.T) {
	const n = 10000
	f := &fakeTrail{}
	r := newRefusals(time.Hour, f.append, quiet())
	kinds := []audit.Record{
		{Principal: "CN-GACC/submitter", Via: "grpc", Method: "/chemledger.v1.LedgerService/CreateEntry", Outcome: "RESOURCE_EXHAUSTED"},
		{Principal: "", Via: "grpc", Method: "/chemledger.v1.LedgerService/GetEntry", Outcome: "UNAUTHENTICATED"},
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		now = map[string]int{}
	)
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < n; i += 8 {
				rec := kinds[i%2]
				rec.Time = time.Now()
				rec.Resources = []string{fmt.Sprintf("entries/%d", i%40)}
				if r.record(rec) {
					mu.Lock()
					now[rec.Outcome]++
					mu.Unlock()
					f.append(t.Context(), rec)
				}
			}
		})
	}
	wg.Wait()
	for _, k := range kinds {
		if now[k.Outcome] != 1 {
			t.Errorf("%s: %d refusals written on their own, want 1 (the first)", k.Outcome, now[k.Outcome])
		}
	}
	if got := len(f.records()); got != 2 {
		t.Errorf("%d appends before the windows close, want 2", got)
	}
	r.close()
	recs := f.records()
	if len(recs) != 4 {
		t.Fatalf("%d appends for %d refusals of 2 kinds, want 4: %+v", len(recs), n, recs)
	}
	sum := map[string]uint64{}
	for _, rec := range recs {
		sum[rec.Outcome] += max(1, rec.Count)
		if rec.Count > 1 {
			if len(rec.Resources) != maxCountedResources+1 {
				t.Errorf("counted record names %d resources, want %d and a count of the rest: %q", len(rec.Resources), maxCountedResources, rec.Resources)
			}
			if rec.Last.Before(rec.Time) {
				t.Errorf("counted record: first %v after last %v", rec.Time, rec.Last)
			}
		}
	}
	for _, k := range kinds {
		if sum[k.Outcome] != n/2 {
			t.Errorf("%s: records count %d refusals, want %d", k.Outcome, sum[k.Outcome], n/2)
		}
	}
	// After close, a refusal is written on its own.
	if !r.record(kinds[0]) {
		t.Error("a refusal after close was counted, want it written at once (nothing would flush it)")
	}
}

// A window closes by itself, and one whose record cannot be written keeps
// its count for the next try rather than dropping it.
func TestRefusalWindowClosesAndRetries(t *testing.T) {
	f := &fakeTrail{fail: true}
	r := newRefusals(20*time.Millisecond, f.append, quiet())
	rec := audit.Record{Principal: "CN-GACC/submitter", Via: "grpc", Method: "/chemledger.v1.LedgerService/CreateEntry", Outcome: "RESOURCE_EXHAUSTED", Time: time.Now()}
	r.record(rec) // the first, which the caller writes
	for range 5 {
		if r.record(rec) {
			t.Fatal("a refusal within the window was not counted")
		}
	}
	time.Sleep(100 * time.Millisecond) // the window closed, its write failed
	f.mu.Lock()
	f.fail = false
	f.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for len(f.records()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.close()
	var sum uint64
	for _, got := range f.records() {
		sum += max(1, got.Count)
	}
	if sum != 5 {
		t.Errorf("records after a failed write count %d refusals, want 5: %+v", sum, f.records())
	}
}
