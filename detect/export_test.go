package detect

import (
	"reflect"

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
		cmp.AllowUnexported(State{}, history[Order]{}, history[Refusal]{}, dueItem{}),
		cmpopts.EquateEmpty())
}
