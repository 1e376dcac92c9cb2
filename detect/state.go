package detect

import (
	"container/heap"
	"iter"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// State is the detector's in-memory index of the log, built only by
// Engine.Apply (and Engine.Sweep, which records what it raised), or
// restored by Engine.DecodeState from a snapshot so that a restart need
// not fold the log again (snapshot.go). It implements View. It is not safe for concurrent use: the detector folds the
// log in order, one entry at a time.
type State struct {
	shipments map[string]*Shipment
	licences  map[string]*Licence    // issuing country|number
	licenceBy map[string][]string    // party key, "ID:"+id or "NUM:"+number → licence keys
	alrs      map[string][]ALR       // country|cas → in log order
	imported  map[string]*Cumulative // country|cas|year
	orders    map[string]*orderHistory
	refusals  map[string]*history[Refusal]
	firstSeen map[string]Sighting
	// registered is the earliest first day of a licence the registry holds
	// for a party key or "ID:"+identifier (R21).
	registered map[string]Sighting
	lotSizes   map[string]*lotSizes // catalogue CAS → lots ordered (R21)
	start      time.Time
	started    bool
	watch      map[string]*WatchEntry
	profiles   map[string]Party
	parties    map[string]*Party // raw name, country and identifiers → interned
	raised     map[string]struct{}
	consumed   map[string]struct{}         // scope + "\x00" + key
	patterns   map[string]*Pattern         // group patterns flagged, by rule-specific key
	refs       map[string][]ReferenceEntry // kind|key → updates in log order
	refSets    int                         // synthesis-set updates among them
	due        dueQueue

	// names memoises NormalizeName by raw name; party names
	// repeat on every leg, and normalising is the costliest step of
	// folding an event.
	names map[string]string
}

// NewState returns an empty state: the detector before the first entry.
func NewState() *State {
	return &State{
		shipments:  make(map[string]*Shipment),
		licences:   make(map[string]*Licence),
		licenceBy:  make(map[string][]string),
		alrs:       make(map[string][]ALR),
		imported:   make(map[string]*Cumulative),
		orders:     make(map[string]*orderHistory),
		refusals:   make(map[string]*history[Refusal]),
		firstSeen:  make(map[string]Sighting),
		registered: make(map[string]Sighting),
		lotSizes:   make(map[string]*lotSizes),
		watch:      make(map[string]*WatchEntry),
		profiles:   make(map[string]Party),
		parties:    make(map[string]*Party),
		raised:     make(map[string]struct{}),
		consumed:   make(map[string]struct{}),
		patterns:   make(map[string]*Pattern),
		refs:       make(map[string][]ReferenceEntry),
		names:      make(map[string]string),
	}
}

var _ View = (*State)(nil)

// Shipment implements View.
func (s *State) Shipment(ref string) (*Shipment, bool) {
	sh, ok := s.shipments[ref]
	return sh, ok
}

// Licences implements View.
func (s *State) Licences(p Party) []Licence {
	var keys []string
	add := func(k string) { keys = append(keys, s.licenceBy[k]...) }
	if p.Key != "" {
		add(p.Key)
	}
	for _, id := range p.IDs {
		add("ID:" + id)
		if scheme, value, _ := strings.Cut(id, ":"); licenceScheme(scheme) {
			add("NUM:" + value)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var out []Licence
	for _, k := range keys {
		if l := s.licences[k]; holds(p, l) {
			out = append(out, *l)
		}
	}
	return out
}

// holds re-checks an index hit, since an amended licence may have changed
// holder since the index entry was made. A name matches only letter for
// letter: one that matches through look-alike letters is another party.
func holds(p Party, l *Licence) bool {
	if p.Key != "" && p.Letters == l.Holder.Letters {
		return true
	}
	for _, id := range p.IDs {
		if slices.Contains(l.Holder.IDs, id) {
			return true
		}
		if scheme, value, _ := strings.Cut(id, ":"); licenceScheme(scheme) && value == normID(l.Number) {
			return true
		}
	}
	return false
}

// licenceScheme reports whether an identifier scheme carries licence or
// registration numbers: LICENCE, DEA registrations, and national schemes —
// anything but the company identifiers EORI, TAX, LEI and AEO.
func licenceScheme(scheme string) bool {
	switch scheme {
	case "EORI", "TAX", "LEI", "AEO":
		return false
	}
	return true
}

// AnnualRequirement implements View.
func (s *State) AnnualRequirement(country, cas string, year int) (ALR, bool) {
	var best ALR
	found := false
	for _, a := range s.alrs[country+"|"+cas] {
		if a.Year <= year && (!found || a.Year >= best.Year) {
			best, found = a, true
		}
	}
	return best, found
}

// Imported implements View.
func (s *State) Imported(country, cas string, year int) Cumulative {
	if c := s.imported[importKey(country, cas, year)]; c != nil {
		return *c
	}
	return Cumulative{}
}

func importKey(country, cas string, year int) string {
	return country + "|" + cas + "|" + strconv.Itoa(year)
}

// Orders implements View.
func (s *State) Orders(consignee string, from, to time.Time) []Order {
	h := s.orders[consignee]
	if h == nil {
		return nil
	}
	lo := sort.Search(len(h.items), func(i int) bool { return !h.items[i].Occurred.Before(from) })
	hi := sort.Search(len(h.items), func(i int) bool { return h.items[i].Occurred.After(to) })
	if lo >= hi {
		return nil
	}
	return h.items[lo:hi:hi]
}

// Refusals implements View.
func (s *State) Refusals(party string) []Refusal {
	if h := s.refusals[party]; h != nil {
		return h.items
	}
	return nil
}

// FirstSeen implements View.
func (s *State) FirstSeen(party string) (Sighting, bool) {
	v, ok := s.firstSeen[party]
	return v, ok
}

// FirstRegistered implements View.
func (s *State) FirstRegistered(party string) (Sighting, bool) {
	v, ok := s.registered[party]
	return v, ok
}

// LotSizes implements View.
func (s *State) LotSizes(cas string, percentile float64) (float64, int) {
	ls := s.lotSizes[cas]
	if ls == nil {
		return 0, 0
	}
	return ls.percentile(percentile), ls.N
}

// LogStart implements View.
func (s *State) LogStart() (time.Time, bool) { return s.start, s.started }

// WatchList implements View.
func (s *State) WatchList() []WatchEntry {
	keys := make([]string, 0, len(s.watch))
	for k := range s.watch {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]WatchEntry, len(keys))
	for i, k := range keys {
		out[i] = *s.watch[k]
	}
	return out
}

// KnownProfile implements View.
func (s *State) KnownProfile(profile string) bool {
	_, ok := s.profiles[profile]
	return ok
}

// Profiles implements View.
func (s *State) Profiles() iter.Seq[Party] {
	return func(yield func(Party) bool) {
		keys := make([]string, 0, len(s.profiles))
		for k := range s.profiles {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !yield(s.profiles[k]) {
				return
			}
		}
	}
}

// Raised implements View.
func (s *State) Raised(flagID string) bool {
	_, ok := s.raised[flagID]
	return ok
}

// Consumed implements View.
func (s *State) Consumed(scope, key string) bool {
	_, ok := s.consumed[scope+"\x00"+key]
	return ok
}

// UnderThreshold implements View.
func (s *State) UnderThreshold(consignee, cas string, from, to time.Time, exporter string) (int, float64, bool) {
	h := s.orders[consignee]
	if h == nil || h.lots[cas] == nil {
		return 0, 0, false
	}
	ll := h.lots[cas]
	n, kg, two := ll.underWindow(from, to)
	if !two && n > 0 {
		lo, _ := ll.under.window(from, to)
		two = ll.exp[lo].Key != exporter
	}
	return n, kg, two
}

// AnyOrder implements View.
func (s *State) AnyOrder(consignee, cas string, from, to time.Time) bool {
	h := s.orders[consignee]
	return h != nil && h.lots[cas] != nil && h.lots[cas].any(from, to)
}

// Pattern implements View.
func (s *State) Pattern(key string) (Pattern, bool) {
	if p := s.patterns[key]; p != nil {
		return *p, true
	}
	return Pattern{}, false
}

// history is a per-party list in log order, trimmed to the look-back
// horizon so that decades of log do not make every lookup slower.
type history[T any] struct {
	items  []T
	newest time.Time
	kept   int // length after the last trim
}

func (h *history[T]) add(v T, at time.Time, occurred func(T) time.Time) {
	h.items = append(h.items, v)
	if at.After(h.newest) {
		h.newest = at
	}
	if len(h.items) < 32 || len(h.items) < 2*h.kept {
		return
	}
	cut := h.newest.AddDate(0, 0, -lookBackDays)
	h.items = slices.DeleteFunc(h.items, func(x T) bool { return occurred(x).Before(cut) })
	h.kept = len(h.items)
}

// sortNewestOrder moves the order just appended to its place by occurred
// time, after those with the same time: the items stay as a stable sort of
// the log order by occurred time would leave them. Orders mostly arrive in
// time order, so it rarely moves far.
func sortNewestOrder(items []Order) {
	for i := len(items) - 1; i > 0 && items[i].Occurred.Before(items[i-1].Occurred); i-- {
		items[i], items[i-1] = items[i-1], items[i]
	}
}

// foldLeg adds a shipment event to the indexes. extra are parties that
// appear in the event besides exporter, importer and consignee.
//
// under says the leg is an order below its reporting threshold (R11),
// which the engine judges because it holds the policy.
func (s *State) foldLeg(l *Leg, extra []*Party, under bool) {
	if !s.started || l.Occurred.Before(s.start) {
		s.start, s.started = l.Occurred, true
	}
	for _, p := range [3]*Party{l.Exporter, l.Importer, l.Consignee} {
		s.sight(p, l)
	}
	for _, p := range extra {
		s.sight(p, l)
	}

	sh := s.shipments[l.Ref]
	if sh == nil {
		sh = &Shipment{Ref: l.Ref}
		s.shipments[l.Ref] = sh
	}
	switch l.Kind {
	case chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION:
		sh.PEN = l
	case chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY:
		sh.Reply = l
	case chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION:
		sh.Export = l
	case chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
		sh.Receipt = l
	case chemledgerv1.EventKind_EVENT_KIND_INCIDENT:
		switch l.Incident {
		case chemledgerv1.IncidentKind_INCIDENT_KIND_SEIZURE, chemledgerv1.IncidentKind_INCIDENT_KIND_STOPPED_SHIPMENT:
			sh.Closed = l
		}
	}
	if isMovement(l.Kind) && sh.Movement == nil {
		sh.Movement = l
	}

	switch l.Kind {
	case chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION,
		chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION,
		chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION:
		if l.Consignee.Key != "" {
			h := s.orders[l.Consignee.Key]
			if h == nil {
				h = &orderHistory{}
				s.orders[l.Consignee.Key] = h
			}
			o := legOrder(l)
			o.Under = under
			h.addOrder(o)
		}
		if l.Amount.Known && l.Amount.KG > 0 {
			ls := s.lotSizes[l.CAS]
			if ls == nil {
				ls = &lotSizes{}
				s.lotSizes[l.CAS] = ls
			}
			ls.add(l.Amount.KG)
		}
	}
	if l.Kind == chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION && l.Importer.Country != "" && l.Amount.Known {
		k := importKey(l.Importer.Country, l.CAS, l.Occurred.Year())
		c := s.imported[k]
		if c == nil {
			c = &Cumulative{}
			s.imported[k] = c
		}
		c.KG += l.Amount.KG
		c.Evidence = append(c.Evidence, l.Index)
	}
	if r, ok := refusalOf(l, sh); ok {
		importer, consignee := l.Importer, l.Consignee
		if sh.PEN != nil && importer.Key == "" {
			importer = sh.PEN.Importer
		}
		if sh.PEN != nil && !l.ConsigneeStated {
			consignee = sh.PEN.Consignee
		}
		parties := []*Party{importer}
		if consignee.Key != importer.Key {
			parties = append(parties, consignee)
		}
		for _, p := range parties {
			if p.Key == "" {
				continue
			}
			h := s.refusals[p.Key]
			if h == nil {
				h = &history[Refusal]{}
				s.refusals[p.Key] = h
			}
			h.add(r, r.Occurred, func(r Refusal) time.Time { return r.Occurred })
		}
	}
}

// refusalOf reports whether a leg refuses or stops a shipment, with the
// chemical and exporter from the notification when the leg omits them.
func refusalOf(l *Leg, sh *Shipment) (Refusal, bool) {
	// A request for information is a question, not a refusal: it is
	// usually followed by a no-objection, and a buyer that meanwhile orders
	// from its other supplier is doing ordinary business. A seizure stops
	// the goods as surely as a stopped-shipment report does.
	refused := l.Kind == chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY && l.Reply == chemledgerv1.PenReply_PEN_REPLY_OBJECTION ||
		l.Kind == chemledgerv1.EventKind_EVENT_KIND_INCIDENT &&
			(l.Incident == chemledgerv1.IncidentKind_INCIDENT_KIND_STOPPED_SHIPMENT || l.Incident == chemledgerv1.IncidentKind_INCIDENT_KIND_SEIZURE)
	if !refused {
		return Refusal{}, false
	}
	r := Refusal{Index: l.Index, Reply: l.Reply, Incident: l.Incident, Ref: l.Ref, CAS: l.CAS, Exporter: l.Exporter, Occurred: l.Occurred}
	if sh.PEN != nil {
		if r.Exporter.Key == "" {
			r.Exporter = sh.PEN.Exporter
		}
		if r.CAS == "" {
			r.CAS = sh.PEN.CAS
		}
	}
	return r, true
}

func isMovement(k chemledgerv1.EventKind) bool {
	switch k {
	case chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION, chemledgerv1.EventKind_EVENT_KIND_TRANSIT,
		chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION, chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
		return true
	}
	return false
}

// sight records a party's first appearance in a shipment event and its
// profile.
func (s *State) sight(p *Party, l *Leg) {
	if p.Key == "" {
		return
	}
	s.seen(p, Sighting{Occurred: l.Occurred, Index: l.Index})
	if _, ok := s.profiles[p.Profile]; !ok {
		s.profiles[p.Profile] = *p
	}
}

// seen records a sighting of p if it is the earliest: from a shipment event,
// or from a registry entry (a licence granted years before the log began
// shows the party was trading then).
func (s *State) seen(p *Party, at Sighting) {
	if p.Key == "" {
		return
	}
	s.seenAs(p.Key, at)
	// Under its identifiers too: the same company named in another script
	// or transliteration on another leg (a national system writes names
	// its own way) is not a new counterparty.
	for _, id := range p.IDs {
		s.seenAs("ID:"+id, at)
	}
	// A name spelt with look-alike letters is also seen under its own
	// letters, so that it does not inherit the genuine company's history
	// (R21). Look-alike letters never survive into a Key, so the two kinds
	// of key cannot collide.
	if p.Letters != p.Key {
		s.seenAs(p.Letters, at)
	}
}

func (s *State) seenAs(key string, at Sighting) {
	if f, ok := s.firstSeen[key]; !ok || at.Occurred.Before(f.Occurred) {
		s.firstSeen[key] = at
	}
}

// foldLicence records a licence grant, amendment or revocation.
func (s *State) foldLicence(l *chemledgerv1.Licence, effective time.Time, index uint64, holder Party, cas []string) {
	key := l.GetIssuingCountry() + "|" + normID(l.GetNumber())
	cur := s.licences[key]
	if l.GetRevoked() {
		if cur == nil {
			// A revocation of a licence the registry never held still
			// records the number, so a later grant is seen as a re-grant.
			cur = &Licence{Number: l.GetNumber(), IssuingCountry: l.GetIssuingCountry(), Holder: holder, CAS: cas}
			s.licences[key] = cur
			s.indexLicence(key, cur)
		}
		cur.RevokedAt, cur.Index = effective, index
		return
	}
	next := &Licence{
		Number: l.GetNumber(), IssuingCountry: l.GetIssuingCountry(), Holder: holder, CAS: cas,
		ValidFrom: l.GetValidFrom().AsTime(), ValidUntil: l.GetValidUntil().AsTime(), Index: index,
	}
	if l.GetValidFrom() == nil {
		next.ValidFrom = effective
	}
	if l.GetValidUntil() == nil {
		next.ValidUntil = time.Time{}
	}
	s.licences[key] = next
	s.indexLicence(key, next)
	// The holder was known to its licensing authority from the licence's
	// first day. A revocation is no such evidence; nor is a watch-list
	// entry, which says nothing about the party having traded.
	// By the holder's own letters only: a licence issued to a look-alike
	// spelling is no history of the genuine company.
	at := Sighting{Occurred: next.ValidFrom, Index: index, Registry: true}
	reg := func(key string) {
		if f, ok := s.registered[key]; !ok || at.Occurred.Before(f.Occurred) {
			s.registered[key] = at
		}
	}
	if h := next.Holder.Letters; h != "" {
		reg(h)
	}
	for _, id := range next.Holder.IDs {
		reg("ID:" + id)
	}
}

func (s *State) indexLicence(key string, l *Licence) {
	add := func(k string) {
		if !slices.Contains(s.licenceBy[k], key) {
			s.licenceBy[k] = append(s.licenceBy[k], key)
		}
	}
	if l.Holder.Key != "" {
		add(l.Holder.Key)
	}
	for _, id := range l.Holder.IDs {
		add("ID:" + id)
	}
	add("NUM:" + normID(l.Number))
}

// foldALR records an annual legitimate requirement.
func (s *State) foldALR(a *chemledgerv1.AnnualRequirement, cas string, index uint64) {
	k := a.GetCountry() + "|" + cas
	s.alrs[k] = append(s.alrs[k], ALR{KG: a.GetKilograms(), Year: int(a.GetYear()), Index: index})
}

// foldWatch adds or removes a watch-list entry; it returns the entry when
// one was added.
func (s *State) foldWatch(e WatchEntry, removed bool) (WatchEntry, bool) {
	if removed {
		delete(s.watch, e.Key)
		return WatchEntry{}, false
	}
	s.watch[e.Key] = &e
	return e, true
}

func (s *State) markRaised(id string)               { s.raised[id] = struct{}{} }
func (s *State) consume(scope, key string)          { s.consumed[scope+"\x00"+key] = struct{}{} }
func (s *State) schedule(due time.Time, ref string) { heap.Push(&s.due, dueItem{due: due, ref: ref}) }

// dueItem is a shipment whose receipt is due.
type dueItem struct {
	due time.Time
	ref string
}

// dueQueue is a min-heap by due time, then reference, so Sweep pops in a
// deterministic order.
type dueQueue []dueItem

func (q dueQueue) Len() int { return len(q) }
func (q dueQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].ref < q[j].ref
}
func (q dueQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)   { *q = append(*q, x.(dueItem)) }
func (q *dueQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// normName returns NormalizeName(name), memoised.
func (s *State) normName(name string) string {
	if n, ok := s.names[name]; ok {
		return n
	}
	n := NormalizeName(name)
	s.names[name] = n
	return n
}

// normID reduces an identifier to upper-case letters and digits, so
// "DE 123-456" and "de123456" are one identifier.
func normID(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
