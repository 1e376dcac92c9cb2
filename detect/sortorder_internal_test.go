package detect

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestSortNewestOrderIsTheStableSort: appending orders one by one and
// moving each to its place leaves them exactly as a stable sort of the log
// order by occurred time would, however far back a late report reaches.
func TestSortNewestOrderIsTheStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for round := range 200 {
		var got, log []Order
		for i := range 1 + rng.IntN(300) {
			// Coarse times, so that equal times are common.
			o := Order{Index: uint64(i), Occurred: base.Add(time.Duration(rng.IntN(40)) * time.Hour)}
			log = append(log, o)
			got = append(got, o)
			sortNewestOrder(got)
		}
		want := slices.Clone(log)
		slices.SortStableFunc(want, func(a, b Order) int { return a.Occurred.Compare(b.Occurred) })
		if !slices.EqualFunc(got, want, func(a, b Order) bool { return a.Index == b.Index }) {
			t.Fatalf("round %d: orders out of the stable order", round)
		}
	}
}
