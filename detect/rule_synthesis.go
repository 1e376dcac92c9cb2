package detect

import (
	"math/bits"
	"strconv"
	"strings"
	"time"
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
	for _, set := range c.e.synthesisSets(c.v, l.Occurred) {
		if set.step(l.CAS) < 0 {
			continue
		}
		scope := "R28|" + set.ID
		if c.v.Consumed(scope, l.Ref) {
			continue
		}
		pk := scope + "|" + l.Consignee.Key
		if p, ok := c.v.Pattern(pk); ok && joins(p, l.Occurred, window) {
			steps := stepBit(set.step(l.CAS)) | stepBits(p.Steps)
			c.add(finding{
				key: pk + "|" + l.Ref, ref: l.Ref, subject: l.Consignee.Key, cas: l.CAS, countries: legCountries(l),
				evidence: []uint64{p.FirstIndex, p.LastIndex, l.Index}, th: th, joined: true,
				consume: [][2]string{{scope, l.Ref}}, pattern: join(pk, p, l, uint64(stepBit(set.step(l.CAS)))),
				vars: append(joinVars(p, p.Count+1),
					"consignee", partyText(l.Consignee), "country", countryText(l.Consignee.Country),
					"chemical", l.Chemical, "cas", l.CAS, "ref", l.Ref, "kg", num(l.Amount.KG),
					"kind", kindText(l.Kind), "date", day(l.Occurred), "index", idx(l.Index), "set_name", set.Name,
					"steps", strconv.Itoa(steps.OnesCount()), "window_days", num(th.get("window_days"))),
			})
			continue
		}
		from, to := l.Occurred.Add(-window), l.Occurred.Add(window)
		if !c.stepsNear(set, l, from, to, minSteps) {
			continue // the usual case, answered by a few binary searches
		}
		near := c.v.Orders(l.Consignee.Key, from, to)
		if !reachesSteps(set, l.CAS, near, minSteps) {
			continue
		}
		type refCAS struct{ ref, cas string }
		latest := make(map[refCAS]Order) // latest order per shipment and chemical
		for _, o := range near {
			if o.Ref == l.Ref || set.step(o.CAS) < 0 || c.v.Consumed(scope, o.Ref) {
				continue
			}
			if prev, ok := latest[refCAS{o.Ref, o.CAS}]; !ok || o.Index > prev.Index {
				latest[refCAS{o.Ref, o.CAS}] = o
			}
		}
		cands := []Order{legOrder(l)}
		for _, o := range latest {
			cands = append(cands, o)
		}
		if stepsIn(set, cands) < minSteps {
			continue // no window can hold more steps than all of them
		}
		sortOrders(cands)
		run := firstWindow(cands, l.Occurred, window, func(win []Order) bool {
			return stepsIn(set, win) >= c.stepsNeeded(win, minSteps)
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
		head := Pattern{FirstIndex: run[0].Index, First: run[0].Occurred, LastIndex: run[0].Index, Last: run[0].Occurred}
		refs := map[string]bool{}
		for _, o := range run {
			head.Steps |= uint64(stepBit(set.step(o.CAS)))
			head.KG += o.KG
			refs[o.Ref] = true
			if !o.Occurred.Before(head.Last) {
				head.Last, head.LastIndex = o.Occurred, o.Index
			}
		}
		head.Count = len(refs)
		c.add(finding{
			key: l.Consignee.Key + "|" + set.ID + "|" + idx(minIndex(ev)), ref: l.Ref, subject: l.Consignee.Key,
			cas: l.CAS, countries: legCountries(l), evidence: ev, th: th, consume: consume,
			pattern: &patternUpdate{key: pk, head: true, p: head},
			vars: []string{
				"consignee", partyText(l.Consignee), "country", countryText(l.Consignee.Country),
				"count", strconv.Itoa(stepsIn(set, run)), "set_name", set.Name,
				"window_days", num(th.get("window_days")), "list", strings.Join(list, "; "),
			},
		})
	}
}

// stepsNeeded is min steps when a scheduled chemical (UN Table I or II) is
// among the orders, one more when all are unscheduled: aniline and
// propionic anhydride, or red phosphorus and hydriodic acid, go to the same
// chemical distributors every day, and two of them together are ordinary
// trade; with a scheduled precursor, or a third step, they make a route.
func (c *evalCtx) stepsNeeded(orders []Order, min int) int {
	for _, o := range orders {
		if c.e.chems[o.CAS].UNTable != "" {
			return min
		}
	}
	return min + 1
}

// stepsNear reports whether the consignee's orders in [from, to] and the
// leg cover at least min steps of set, counting every order (a filter: the
// exact check excludes the leg's own shipment and orders already used). Its
// cost is one binary search per chemical of the set, however many orders
// the consignee placed.
//
// Like the exact check it asks one step more of a combination without a
// scheduled chemical (stepsNeeded), so that a distributor's daily aniline
// and propionic anhydride do not send every order to the exact check.
func (c *evalCtx) stepsNear(set SynthesisSet, l *Leg, from, to time.Time, min int) bool {
	own := set.step(l.CAS)
	n := 1
	scheduled := c.e.chems[l.CAS].UNTable != ""
	for i, st := range set.Steps {
		if i == own {
			continue
		}
		found := false
		for _, cas := range st { // every alternative: one may be scheduled
			if c.v.AnyOrder(l.Consignee.Key, cas, from, to) {
				found = true
				scheduled = scheduled || c.e.chems[cas].UNTable != ""
			}
		}
		if found {
			n++
		}
	}
	if !scheduled {
		min++
	}
	return n >= min
}

// reachesSteps reports whether the chemical cas and the orders together
// cover at least min steps of set, before anything is excluded.
func reachesSteps(set SynthesisSet, cas string, orders []Order, min int) bool {
	var seen [64]bool
	n := 0
	mark := func(s int) {
		if s >= 0 && s < len(seen) && !seen[s] {
			seen[s] = true
			n++
		}
	}
	mark(set.step(cas))
	for i := range orders {
		if n >= min {
			return true
		}
		mark(set.step(orders[i].CAS))
	}
	return n >= min || len(set.Steps) > len(seen) // a set that large is checked the slow way
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

// stepBits marks synthesis steps, one bit each; steps past 63 are not
// marked (no set comes near that many).
type stepBits uint64

func stepBit(step int) stepBits {
	if step < 0 || step >= 64 {
		return 0
	}
	return 1 << step
}

// OnesCount is the number of steps marked.
func (b stepBits) OnesCount() int { return bits.OnesCount64(uint64(b)) }

func minIndex(xs []uint64) uint64 {
	m := xs[0]
	for _, x := range xs[1:] {
		m = min(m, x)
	}
	return m
}
