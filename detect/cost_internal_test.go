package detect

import (
	"fmt"
	"testing"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// countingView counts the orders a rule walks.
type countingView struct {
	*State
	walked int
}

func (v *countingView) Orders(consignee string, from, to time.Time) []Order {
	os := v.State.Orders(consignee, from, to)
	v.walked += len(os)
	return os
}

// A large legitimate buyer's history does not make a rule's work per event
// grow: a consignee with thousands of ordinary orders in the window (one
// supplier, one step of a synthesis set) gets a new ordinary order, and R11
// and R28 decide without walking its orders. Before the windowed
// aggregates (lots.go) both walked every order in their window.
func TestRuleCostDoesNotGrowWithVolume(t *testing.T) {
	supplier := &Party{Key: "sunpharma|IN", Letters: "sunpharma|IN", Name: "Sun Pharma", Country: "IN"}
	buyer := &Party{Key: "bigpharma|US", Letters: "bigpharma|US", Name: "Big Pharma", Country: "US"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(i int, at time.Time, cas string, kg float64) *Leg {
		return &Leg{
			Index: uint64(i), Kind: chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION, Ref: fmt.Sprintf("S%d", i),
			Occurred: at, Logged: at, CAS: cas, Chemical: cas, Amount: Amount{Known: true, KG: kg, Value: kg, Unit: "KGM", Percent: 100},
			Exporter: supplier, Importer: buyer, Consignee: buyer, ConsigneeStated: true,
		}
	}
	for _, tc := range []struct {
		rule string
		// chems are the chemicals the buyer orders in turn: ephedrine
		// under its 50 kg reporting threshold (one step of a set), or a
		// distributor's aniline and propionic anhydride (two steps of the
		// fentanyl set, both unscheduled).
		chems []string
	}{
		{"R11", []string{"299-42-3"}},
		{"R28", []string{"299-42-3"}},
		{"R28", []string{"62-53-3", "123-62-6"}},
	} {
		for _, orders := range []int{100, 10_000} {
			rule := tc.rule
			t.Run(fmt.Sprintf("%s %v %d orders", rule, tc.chems, orders), func(t *testing.T) {
				e := NewEngine(DefaultPolicy())
				s := NewState()
				// Orders every few minutes within the last 20 days.
				step := 20 * 24 * time.Hour / time.Duration(orders)
				for i := range orders {
					l := mk(i+1, base.Add(time.Duration(i)*step), tc.chems[i%len(tc.chems)], 40)
					s.foldLeg(l, nil, e.underThreshold(s, l))
				}
				l := mk(orders+1, base.Add(21*24*time.Hour), tc.chems[0], 40)
				v := &countingView{State: s}
				c := &evalCtx{e: e, v: v, rec: Record{Index: l.Index, Time: l.Logged}, leg: l, cr: e.byID[rule]}
				c.cr.rule.eval(c)
				if len(c.out) != 0 {
					t.Fatalf("%s raised %d findings on one supplier's ordinary orders", rule, len(c.out))
				}
				if v.walked != 0 {
					t.Errorf("%s walked %d orders to decide on one new order, want 0", rule, v.walked)
				}
			})
		}
	}
}
