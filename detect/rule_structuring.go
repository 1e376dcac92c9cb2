package detect

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// evalStructuring is R11: several shipments of one chemical to one
// consignee, from different exporters, each under the reporting threshold
// and together at or over it.
func evalStructuring(c *evalCtx) {
	l := c.leg
	if !isOrder(l.Kind) || l.Kind == chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION ||
		!l.Amount.Known || l.Consignee.Key == "" || c.v.Consumed("R11", l.Ref) {
		return
	}
	th := c.th()
	limit, source := c.e.reportingThreshold(c.v, &th, l.CAS, l.Occurred)
	th.set("reporting_threshold_kg", limit)
	var extra []Threshold
	if source != "" {
		extra = []Threshold{{Name: "reporting_threshold_source", Value: source}}
	}
	if limit <= 0 || l.Amount.KG >= limit {
		return
	}
	window := days(th.get("window_days"))
	pk := "R11|" + l.Consignee.Key + "|" + l.CAS
	if p, ok := c.v.Pattern(pk); ok && joins(p, l.Occurred, window) {
		c.add(finding{
			key: pk + "|" + l.Ref, ref: l.Ref, subject: l.Consignee.Key, cas: l.CAS, countries: legCountries(l),
			evidence: []uint64{p.FirstIndex, p.LastIndex, l.Index}, th: th, extra: extra, joined: true,
			consume: [][2]string{{"R11", l.Ref}},
			pattern: join(pk, p, l, 0),
			vars: append(joinVars(p, p.Count+1),
				"consignee", partyText(l.Consignee), "country", countryText(l.Consignee.Country),
				"chemical", l.Chemical, "cas", l.CAS, "ref", l.Ref, "kg", num(l.Amount.KG),
				"exporter", partyText(l.Exporter), "date", day(l.Occurred), "index", idx(l.Index),
				"reporting_threshold_kg", num(limit), "total_kg", num(p.KG+l.Amount.KG), "window_days", num(th.get("window_days"))),
		})
		return
	}
	// The filter first: without enough under-threshold orders from two
	// exporters in the window, no walk over the consignee's orders.
	n, kg, two := c.v.UnderThreshold(l.Consignee.Key, l.CAS, l.Occurred.Add(-window), l.Occurred.Add(window), l.Exporter.Key)
	if n+1 < int(th.get("min_shipments")) || kg+l.Amount.KG < limit*(1-1e-9) || th.get("min_exporters") >= 2 && !two {
		return
	}
	latest := make(map[string]Order)
	for _, o := range c.v.Orders(l.Consignee.Key, l.Occurred.Add(-window), l.Occurred.Add(window)) {
		if o.CAS != l.CAS || o.Ref == l.Ref || o.Kind == chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION ||
			c.v.Consumed("R11", o.Ref) {
			continue
		}
		if prev, ok := latest[o.Ref]; !ok || o.Index > prev.Index {
			latest[o.Ref] = o // the latest event of a reference wins
		}
	}
	cands := []Order{legOrder(l)}
	total := l.Amount.KG
	for _, o := range latest {
		if o.KG < limit {
			cands = append(cands, o)
			total += o.KG
		}
	}
	// Cheap refusals first: no window can reach the threshold when all the
	// candidates together do not.
	if len(cands) < int(th.get("min_shipments")) || total < limit {
		return
	}
	sortOrders(cands)
	set := firstWindow(cands, l.Occurred, window, func(win []Order) bool {
		total, exporters := 0.0, map[string]bool{}
		for _, o := range win {
			total += o.KG
			if o.Exporter.Key != "" {
				exporters[o.Exporter.Key] = true
			}
		}
		return len(win) >= int(th.get("min_shipments")) && total >= limit && len(exporters) >= int(th.get("min_exporters"))
	})
	if set == nil {
		return
	}
	var ev []uint64
	var list []string
	var consume [][2]string
	total, exporters := 0.0, map[string]bool{}
	for _, o := range set {
		ev = append(ev, o.Index)
		total += o.KG
		exporters[o.Exporter.Key] = true
		consume = append(consume, [2]string{"R11", o.Ref})
		list = append(list, o.Ref+" "+num(o.KG)+" kg from "+partyText(o.Exporter)+" on "+day(o.Occurred))
	}
	first := slices.MinFunc(ev, cmp.Compare)
	last := set[len(set)-1]
	c.add(finding{
		key: l.Consignee.Key + "|" + l.CAS + "|" + idx(first), ref: l.Ref, subject: l.Consignee.Key, cas: l.CAS,
		countries: legCountries(l), evidence: ev, th: th, extra: extra, consume: consume,
		pattern: &patternUpdate{key: pk, head: true, p: Pattern{
			FirstIndex: set[0].Index, First: set[0].Occurred, LastIndex: last.Index, Last: last.Occurred, Count: len(set), KG: total,
		}},
		vars: []string{
			"consignee", partyText(l.Consignee), "country", countryText(l.Consignee.Country),
			"count", strconv.Itoa(len(set)), "chemical", l.Chemical, "cas", l.CAS,
			"exporters", strconv.Itoa(len(exporters)), "first_date", day(set[0].Occurred),
			"last_date", day(set[len(set)-1].Occurred), "window_days", num(th.get("window_days")),
			"list", strings.Join(list, "; "), "reporting_threshold_kg", num(limit), "total_kg", num(total),
		},
	})
}

// isOrder reports whether an event kind names what a consignee ordered.
func isOrder(k chemledgerv1.EventKind) bool {
	switch k {
	case chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION,
		chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION,
		chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION:
		return true
	}
	return false
}

func legOrder(l *Leg) Order {
	return Order{Index: l.Index, Kind: l.Kind, Ref: l.Ref, CAS: l.CAS, KG: l.Amount.KG, Exporter: l.Exporter, Occurred: l.Occurred}
}

func sortOrders(os []Order) {
	slices.SortFunc(os, func(a, b Order) int {
		if c := a.Occurred.Compare(b.Occurred); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
}

// firstWindow returns the earliest run of orders (sorted by time) spanning
// at most window that contains the time t and satisfies ok, or nil.
func firstWindow(os []Order, t time.Time, window time.Duration, ok func([]Order) bool) []Order {
	for i := range os {
		start := os[i].Occurred
		if start.After(t) {
			break
		}
		if t.Sub(start) > window {
			continue
		}
		j := i
		for j < len(os) && os[j].Occurred.Sub(start) <= window {
			j++
		}
		if ok(os[i:j]) {
			return slices.Clone(os[i:j])
		}
	}
	return nil
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
