package detect_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chemledger/chemledger/detect"
)

// foldResumed folds recs as fold does, but stops after the first k, takes a
// snapshot, restores it into a fresh state and goes on with that; k < 0
// folds straight through. Then it sweeps a year past the last record, so
// that every pending deadline comes due. It returns the flags encoded one
// per line and the state it ended with.
func foldResumed(tb testing.TB, e *detect.Engine, recs []detect.Record, sweepEvery, k int) ([]byte, *detect.State) {
	tb.Helper()
	s := detect.NewState()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	emit := func(fs []detect.Flag) {
		for _, f := range fs {
			if err := enc.Encode(f); err != nil {
				tb.Fatal(err)
			}
		}
	}
	var last time.Time
	for i, r := range recs {
		if i == k {
			s = detect.RoundTrip(tb, e, s)
			// The raised-flag memory came along: sweeping again as of the
			// last sweep raises nothing.
			if fs := e.Sweep(s, last); len(fs) != 0 {
				tb.Fatalf("restored state raised %d flags again, first %s", len(fs), fs[0].ID)
			}
		}
		emit(e.Apply(s, r))
		if (i+1)%sweepEvery == 0 {
			last = r.Time
			emit(e.Sweep(s, last))
		}
	}
	if k == len(recs) {
		s = detect.RoundTrip(tb, e, s)
	}
	emit(e.Sweep(s, recs[len(recs)-1].Time.AddDate(1, 0, 0)))
	return buf.Bytes(), s
}

// Folding [0, k), snapshotting, restoring and folding [k, n) gives the
// flags a straight fold of [0, n) gives, byte for byte, wherever the fold
// is cut and whatever the stream.
func TestSnapshotResumesTheFold(t *testing.T) {
	e := detect.NewEngine(detect.DefaultPolicy())
	// Few consignees make long per-party histories, so they get trimmed.
	for _, c := range []struct{ seed, consignees, perDay int }{{7, 300, 30}, {11, 40, 30}, {23, 1000, 60}} {
		g := newSynth(uint64(c.seed), c.consignees, c.perDay)
		recs := make([]detect.Record, 10000)
		for i := range recs {
			recs[i] = g.next()
		}
		want, straight := foldResumed(t, e, recs, 50, -1)
		for _, k := range []int{0, 1, 40, 4321, 9999, len(recs)} {
			t.Run(fmt.Sprintf("seed=%d/k=%d", c.seed, k), func(t *testing.T) {
				got, resumed := foldResumed(t, e, recs, 50, k)
				if !bytes.Equal(got, want) {
					t.Fatalf("resumed at %d: %d bytes of flags, straight: %d bytes\n%s", k, len(got), len(want), firstDiff(got, want))
				}
				if diff := detect.StateDiff(straight, resumed); diff != "" {
					t.Fatalf("final states differ (-straight +resumed):\n%s", diff)
				}
			})
		}
	}
}

func firstDiff(a, b []byte) string {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(al), len(bl)) {
		if !bytes.Equal(al[i], bl[i]) {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("one is a prefix of the other (%d and %d lines)", len(al), len(bl))
}

// snapshotAfter applies the next n records of g to a new state, without
// sweeping, and returns the state's snapshot.
func snapshotAfter(tb testing.TB, e *detect.Engine, g *synth, n int) []byte {
	tb.Helper()
	s := detect.NewState()
	for range n {
		e.Apply(s, g.next())
	}
	b, err := e.EncodeState(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Two folds of the same records snapshot to the same bytes, whatever order
// their maps iterate in.
func TestSnapshotIsDeterministic(t *testing.T) {
	e := detect.NewEngine(detect.DefaultPolicy())
	var snaps [2][]byte
	for i := range snaps {
		snaps[i] = snapshotAfter(t, e, newSynth(5, 200, 20), 5000)
	}
	if !bytes.Equal(snaps[0], snaps[1]) {
		t.Fatalf("two folds of the same records snapshot differently (%d and %d bytes)", len(snaps[0]), len(snaps[1]))
	}
}

// A snapshot that is damaged, truncated or taken under another policy is
// refused, never restored.
func TestSnapshotRefused(t *testing.T) {
	e := detect.NewEngine(detect.DefaultPolicy())
	good := snapshotAfter(t, e, newSynth(3, 100, 10), 2000)
	other := detect.DefaultPolicy()
	other.Version += "-other"
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x10
		return b
	}
	tests := []struct {
		name    string
		engine  *detect.Engine
		b       []byte
		version bool // ErrSnapshotVersion rather than damage
	}{
		{"empty", e, nil, false},
		{"truncated", e, good[:len(good)/2], false},
		{"flipped in the header", e, flip(len(good) / 100), false},
		{"flipped in the middle", e, flip(len(good) / 2), false},
		{"flipped in the checksum", e, flip(len(good) - 1), false},
		{"another policy", detect.NewEngine(other), good, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.engine.DecodeState(tt.b)
			if err == nil || s != nil {
				t.Fatalf("DecodeState(%d bytes) = %v, %v; want an error", len(tt.b), s, err)
			}
			if got := errors.Is(err, detect.ErrSnapshotVersion); got != tt.version {
				t.Errorf("DecodeState: %v; errors.Is(ErrSnapshotVersion) = %t, want %t", err, got, tt.version)
			}
		})
	}
}

// BenchmarkSnapshot encodes and decodes the state after 200,000 synthetic
// events (the stream of BenchmarkApply) and reports the snapshot's size.
func BenchmarkSnapshot(b *testing.B) {
	const n = 200_000
	e := detect.NewEngine(detect.DefaultPolicy())
	g := newSynth(1, 5000, 275)
	s := detect.NewState()
	for i := range n {
		r := g.next()
		e.Apply(s, r)
		if (i+1)%1000 == 0 {
			e.Sweep(s, r.Time)
		}
	}
	snap, err := e.EncodeState(s)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.EncodeState(s); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(snap))/(1<<20), "MiB")
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.DecodeState(snap); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(snap))/(1<<20), "MiB")
	})
}
