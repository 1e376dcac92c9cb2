package detect

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// StateDiff describes how two states differ, empty when they hold the same
// history; the memo of normalised names, a cache, is left out, and an empty
// slice equals a nil one.
func StateDiff(a, b *State) string {
	x, y := *a, *b
	x.names, y.names = nil, nil
	if reflect.DeepEqual(x, y) { // fast; cmp takes seconds on a big state
		return ""
	}
	return cmp.Diff(&x, &y,
		cmp.AllowUnexported(State{}, history[Order]{}, orderHistory{}, lotLine{}, timeline{}, history[Refusal]{}, dueItem{}),
		cmpopts.EquateEmpty())
}

// RoundTrip snapshots s and restores the snapshot, checking that nothing
// was lost and that the encoding is stable.
func RoundTrip(tb testing.TB, e *Engine, s *State) *State {
	tb.Helper()
	b, err := e.EncodeState(s)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := e.DecodeState(b)
	if err != nil {
		tb.Fatal(err)
	}
	if diff := StateDiff(s, r); diff != "" {
		tb.Fatalf("restored state differs (-before +restored):\n%s", diff)
	}
	again, err := e.EncodeState(r)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		tb.Fatalf("a restored state encodes differently (%d and %d bytes)", len(b), len(again))
	}
	return r
}
