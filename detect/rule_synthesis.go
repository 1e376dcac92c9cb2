package detect

import (
	"strconv"
	"strings"
)

// evalSynthesisSet is R28: one consignee receives chemicals for different
// steps of one synthesis route within the window.
func evalSynthesisSet(c *evalCtx) {
	l := c.leg
	if !isOrder(l.Kind) || l.Consignee.Key == "" {
		return
	}
	th := c.th()
	window := days(th.get("window_days"))
	minSteps := int(th.get("min_steps"))
	for _, set := range c.e.policy.Tables.Sets {
		if set.step(l.CAS) < 0 {
			continue
		}
		scope := "R28|" + set.ID
		if c.v.Consumed(scope, l.Ref) {
			continue
		}
		latest := make(map[string]Order) // ref|cas → latest order
		for _, o := range c.v.Orders(l.Consignee.Key) {
			if o.Ref == l.Ref || set.step(o.CAS) < 0 || absDur(o.Occurred.Sub(l.Occurred)) > window || c.v.Consumed(scope, o.Ref) {
				continue
			}
			latest[o.Ref+"|"+o.CAS] = o
		}
		cands := []Order{legOrder(l)}
		for _, o := range latest {
			cands = append(cands, o)
		}
		sortOrders(cands)
		run := firstWindow(cands, l.Occurred, window, func(win []Order) bool {
			return stepsIn(set, win) >= minSteps
		})
		if run == nil {
			continue
		}
		var ev []uint64
		var list []string
		var consume [][2]string
		for _, o := range run {
			ev = append(ev, o.Index)
			consume = append(consume, [2]string{scope, o.Ref})
			name := o.CAS
			if ch, ok := c.e.chems[o.CAS]; ok {
				name = ch.Name
			}
			list = append(list, name+" ("+o.CAS+"), shipment "+o.Ref+", "+num(o.KG)+" kg on "+day(o.Occurred))
		}
		c.add(finding{
			key: l.Consignee.Key + "|" + set.ID + "|" + idx(minIndex(ev)), ref: l.Ref, subject: l.Consignee.Key,
			cas: l.CAS, countries: legCountries(l), evidence: ev, th: th, consume: consume,
			vars: []string{
				"consignee", partyText(l.Consignee), "country", countryText(l.Consignee.Country),
				"count", strconv.Itoa(stepsIn(set, run)), "set_name", set.Name,
				"window_days", num(th.get("window_days")), "list", strings.Join(list, "; "),
			},
		})
	}
}

// stepsIn counts the distinct steps of set among orders.
func stepsIn(set SynthesisSet, orders []Order) int {
	seen := make(map[int]bool)
	for _, o := range orders {
		if s := set.step(o.CAS); s >= 0 {
			seen[s] = true
		}
	}
	return len(seen)
}

func minIndex(xs []uint64) uint64 {
	m := xs[0]
	for _, x := range xs[1:] {
		m = min(m, x)
	}
	return m
}
