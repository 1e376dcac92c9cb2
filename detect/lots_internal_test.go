package detect

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// The windowed aggregates answer exactly what a walk over the orders would,
// whatever order the orders arrive in, and a line built order by order
// equals one rebuilt from the history (what a restored snapshot holds).
func TestLotLineMatchesAWalk(t *testing.T) {
	exporters := []*Party{{Key: "a|CN"}, {Key: "b|IN"}, {Key: "c|DE"}}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		seed      uint64
		exporters int
		disorder  int // days an order may occur before the newest
	}{
		{"in time order, one exporter", 1, 1, 0},
		{"in time order, three exporters", 2, 3, 0},
		{"out of order", 3, 3, 40},
		{"out of order, two exporters", 4, 2, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 7))
			h := &orderHistory{}
			for i := range 3000 {
				d := i / 3
				if tc.disorder > 0 {
					d -= rng.IntN(tc.disorder)
				}
				o := Order{
					Index: uint64(i), Ref: "S", CAS: "x", KG: float64(1 + rng.IntN(60)), Under: rng.IntN(3) != 0,
					Exporter: exporters[rng.IntN(tc.exporters)], Occurred: base.Add(time.Duration(d)*24*time.Hour + time.Duration(rng.IntN(86400))*time.Second),
				}
				h.addOrder(o)
				if i%97 != 0 {
					continue
				}
				from := o.Occurred.Add(-30 * 24 * time.Hour)
				to := o.Occurred.Add(30 * 24 * time.Hour)
				var n int
				var kg float64
				keys := map[string]bool{}
				anyOrder := false
				for _, it := range h.items {
					if it.Occurred.Before(from) || it.Occurred.After(to) {
						continue
					}
					anyOrder = true
					if it.Under {
						n++
						kg += it.KG
						keys[it.Exporter.Key] = true
					}
				}
				ll := h.lots["x"]
				gn, gkg, gtwo := ll.underWindow(from, to)
				if gn != n || math.Abs(gkg-kg) > 1e-6 || gtwo != (len(keys) >= 2) || ll.any(from, to) != anyOrder {
					t.Fatalf("after order %d: window gives n=%d kg=%v two=%v any=%v, a walk n=%d kg=%v exporters=%d any=%v",
						i, gn, gkg, gtwo, ll.any(from, to), n, kg, len(keys), anyOrder)
				}
			}
			again := &orderHistory{history: h.history}
			again.rebuildLots()
			if !reflect.DeepEqual(h.lots, again.lots) {
				t.Error("the lines built order by order differ from the lines rebuilt from the history")
			}
		})
	}
}
