package derive

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chemledger/chemledger/detect"
)

// TestListFlagsIndexMatchesBruteForce: pages walked from the indexes, joined,
// equal a brute-force filter and sort over every flag, for random filters on
// every field and both orders and random page sizes, while flags arrive out
// of order, tie on raised time, and change status between queries.
func TestListFlagsIndexMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	rules := []string{"R1", "R3", "R11"}
	countries := []string{"MX", "CN", "IN", "NL"}
	cases := []string{"110-63-4", "103-79-7", "75-31-0"}
	statuses := []string{StatusOpen, StatusConfirmed, StatusDismissed, StatusEscalated}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	d := &Deriver{flags: newFlagSet()}
	var preload []*Flag
	newFlag := func(i int) *Flag {
		f := &Flag{Flag: detect.Flag{
			ID: fmt.Sprintf("%s-%04x", rules[r.IntN(len(rules))], i), Severity: detect.Severity(1 + r.IntN(4)),
			CAS: cases[r.IntN(len(cases))], ShipmentRef: fmt.Sprintf("S-%d", r.IntN(40)),
			Countries: []string{countries[r.IntN(2)], countries[2+r.IntN(2)]},
			RaisedAt:  start.Add(time.Duration(r.IntN(60)) * 24 * time.Hour), // many ties
		}}
		f.RuleID = f.ID[:strings.IndexByte(f.ID, '-')]
		if r.IntN(3) == 0 {
			f.ShipmentRef = ""
		}
		return f
	}
	for i := range 300 {
		preload = append(preload, newFlag(i))
	}
	d.flags.load(preload)
	next := 300

	conds := func() (string, matcher) {
		var parts []string
		if r.IntN(3) == 0 {
			parts = append(parts, fmt.Sprintf("rule_id = %q", rules[r.IntN(len(rules))]))
		}
		if r.IntN(3) == 0 {
			parts = append(parts, fmt.Sprintf("country = %q", countries[r.IntN(len(countries))]))
		}
		if r.IntN(4) == 0 {
			parts = append(parts, fmt.Sprintf("cas = %q", cases[r.IntN(len(cases))]))
		}
		if r.IntN(5) == 0 {
			parts = append(parts, fmt.Sprintf("shipment_ref = \"S-%d\"", r.IntN(40)))
		}
		if r.IntN(3) == 0 {
			parts = append(parts, "severity = "+strings.ToUpper(detect.Severity(1+r.IntN(4)).String()))
		}
		if r.IntN(3) == 0 {
			parts = append(parts, "status = "+statuses[r.IntN(len(statuses))])
		}
		since, until := r.IntN(60), r.IntN(60)
		if since > until {
			since, until = until, since
		}
		if r.IntN(3) == 0 {
			parts = append(parts, fmt.Sprintf("raised_time >= %q", start.AddDate(0, 0, since).Format(time.RFC3339)))
		}
		if r.IntN(3) == 0 {
			parts = append(parts, fmt.Sprintf("raised_time < %q", start.AddDate(0, 0, until+1).Format(time.RFC3339)))
		}
		expr := strings.Join(parts, " AND ")
		m, err := parseFlagFilter(expr)
		if err != nil {
			t.Fatalf("filter %q: %v", expr, err)
		}
		return expr, m
	}

	for round := range 400 {
		// Between queries: new flags (out of raised-time order), status
		// changes, a flag raised again with the same content.
		d.mu.Lock()
		for range r.IntN(4) {
			d.flags.put(newFlag(next))
			next++
		}
		ids := make([]string, 0, len(d.flags.byID))
		for id := range d.flags.byID {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for range r.IntN(3) {
			cp := *d.flags.byID[ids[r.IntN(len(ids))]]
			cp.History = append(slices.Clone(cp.History), StatusChange{Status: statuses[r.IntN(len(statuses))]})
			d.flags.put(&cp)
		}
		d.mu.Unlock()

		expr, m := conds()
		order := []string{OrderNewest, OrderMostSevere}[r.IntN(2)]
		var want []string
		all := d.Snapshot()
		slices.SortFunc(all, func(a, b Flag) int { return compareFlags(order)(&a, &b) })
		for i := range all {
			if m.match(&all[i]) {
				want = append(want, all[i].ID)
			}
		}
		var got []string
		token := ""
		for pages := 0; ; pages++ {
			page, nextToken, err := d.ListFlags(Query{Filter: expr, OrderBy: order, PageSize: 1 + r.IntN(7), PageToken: token})
			if err != nil {
				t.Fatalf("round %d %q: %v", round, expr, err)
			}
			for _, f := range page {
				got = append(got, f.ID)
			}
			if token = nextToken; token == "" || pages > len(all) {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d filter %q order %q:\n got %v\nwant %v", round, expr, order, got, want)
		}
		if len(d.flags.all) != len(d.flags.byID) {
			t.Fatalf("round %d: %d flags ordered, %d by id", round, len(d.flags.all), len(d.flags.byID))
		}
	}
}
