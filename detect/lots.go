package detect

import "time"

// Windowed aggregates over one consignee's orders of one chemical, so that
// R11 and R28 answer "is there enough in the window to bother?" with binary
// searches instead of a walk over every order a large buyer placed in it.
// They are filters: a rule that gets a yes still checks its orders exactly
// (View.Orders), which happens about once per flagged pattern, since a
// shipment joining a flagged pattern is handled without any walk
// (pattern.go). A filter must never say no where the exact check would say
// yes; it may say yes too often (both legs of one shipment count, consumed
// shipments count), which costs only time.
//
// They belong to the consignee's order history and hold exactly its orders:
// when the history is trimmed to the look-back horizon they are rebuilt
// from what it kept, and a restored snapshot rebuilds them the same way, so
// a filter answers alike in a straight fold and after a restart.

// lotLine is the orders of one consignee and chemical by occurred time: the
// times, and for the orders under the chemical's reporting threshold
// (R11) prefix sums of kilograms and the exporters.
type lotLine struct {
	all   timeline
	under timeline
	// kg are the under-threshold orders' kilograms; pre[i] is the sum of
	// kg[0:i], always summed from the front so that a line built order by
	// order equals one rebuilt from the history.
	kg  []float64
	pre []float64
	exp []*Party
	// diff[i] is the largest j <= i whose exporter differs from exp[i]'s,
	// or -1: two exporters are in under.t[lo:hi] exactly when
	// diff[hi-1] >= lo.
	diff []int32
}

// timeline is a sorted list of occurred times (Unix nanoseconds).
type timeline struct {
	t []int64
}

// insert adds t in order, after equal times, and returns its position.
// Orders arrive nearly in time order, so it rarely moves far.
func (tl *timeline) insert(t int64) int {
	tl.t = append(tl.t, t)
	i := len(tl.t) - 1
	for ; i > 0 && tl.t[i-1] > t; i-- {
		tl.t[i] = tl.t[i-1]
	}
	tl.t[i] = t
	return i
}

// window returns the positions [lo, hi) of the times in [from, to].
func (tl *timeline) window(from, to time.Time) (int, int) {
	return search(tl.t, from.UnixNano()), search(tl.t, to.UnixNano()+1)
}

// search returns the first position whose time is at least t.
func search(ts []int64, t int64) int {
	lo, hi := 0, len(ts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ts[m] < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// orderHistory is a consignee's orders with their per-chemical lines.
type orderHistory struct {
	history[Order]
	lots map[string]*lotLine // by catalogue CAS
}

// addOrder records an order, keeping the lines equal to the items.
func (h *orderHistory) addOrder(o Order) {
	before := len(h.items)
	h.add(o, o.Occurred, func(o Order) time.Time { return o.Occurred })
	sortNewestOrder(h.items)
	if len(h.items) <= before { // trimmed: the lines follow
		h.rebuildLots()
		return
	}
	h.lot(o.CAS).add(o)
}

func (h *orderHistory) lot(cas string) *lotLine {
	if h.lots == nil {
		h.lots = make(map[string]*lotLine)
	}
	ll := h.lots[cas]
	if ll == nil {
		ll = &lotLine{}
		h.lots[cas] = ll
	}
	return ll
}

// rebuildLots makes the lines again from the items, in their order.
func (h *orderHistory) rebuildLots() {
	h.lots = nil
	for _, o := range h.items {
		h.lot(o.CAS).add(o)
	}
}

// add records an order in the line.
func (ll *lotLine) add(o Order) {
	under := o.Under
	t := o.Occurred.UnixNano()
	ll.all.insert(t)
	if !under {
		return
	}
	if len(ll.pre) == 0 {
		ll.pre = append(ll.pre, 0)
	}
	p := ll.under.insert(t)
	ll.exp = append(ll.exp, nil)
	copy(ll.exp[p+1:], ll.exp[p:])
	ll.exp[p] = o.Exporter
	ll.kg = append(ll.kg, 0)
	copy(ll.kg[p+1:], ll.kg[p:])
	ll.kg[p] = o.KG
	ll.pre = append(ll.pre, 0)
	ll.diff = append(ll.diff, 0)
	ll.recompute(p)
}

// recompute rebuilds pre and diff from position p, where an order was
// just inserted.
func (ll *lotLine) recompute(p int) {
	for i := p; i < len(ll.kg); i++ {
		ll.pre[i+1] = ll.pre[i] + ll.kg[i]
		switch {
		case i == 0:
			ll.diff[i] = -1
		case ll.exp[i-1].Key != ll.exp[i].Key:
			ll.diff[i] = int32(i - 1)
		default:
			ll.diff[i] = ll.diff[i-1]
		}
	}
}

// underWindow sums the under-threshold orders in [from, to]: how many,
// their kilograms, and whether they come from two exporters or more.
func (ll *lotLine) underWindow(from, to time.Time) (n int, kg float64, twoExporters bool) {
	lo, hi := ll.under.window(from, to)
	if lo >= hi {
		return 0, 0, false
	}
	return hi - lo, ll.pre[hi] - ll.pre[lo], ll.diff[hi-1] >= int32(lo)
}

// any reports whether an order falls in [from, to].
func (ll *lotLine) any(from, to time.Time) bool {
	lo, hi := ll.all.window(from, to)
	return lo < hi
}
