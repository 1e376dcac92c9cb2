// Package scorecard computes the coalition's indicators per member and month
// from the log: how members answer pre-export notifications, whether exports
// arrive and reconcile, what incidents they share, and how they deal with the
// flags raised on their trade. It is derived state in the strict sense: a
// pure function of a prefix of the log (and of the flags the detector folds
// from that same prefix), so any member recounts every figure from its own
// copy and gets the same bytes. Every figure carries the log indexes (and
// flag ids) it counts, so a disputed figure can be drilled down to entries.
//
// It must not read the clock, do I/O or judge events (the rules are detect's).
package scorecard

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Entry is one log entry as the scorecard reads it. At most one of Event and
// Disposition is set; other entries (registry changes) are counted by no
// indicator and may be left out.
type Entry struct {
	Index  uint64
	Member string
	// Time is the log's integrated time for the entry; it stands in for an
	// event's occurred_time when that is unset.
	Time        time.Time
	Event       *chemledgerv1.ShipmentEvent
	Disposition *chemledgerv1.Disposition
}

// Flag is a detector flag as the scorecard reads it.
type Flag struct {
	ID       string
	RuleID   string
	RaisedAt time.Time
	Evidence []uint64
}

// Member is a coalition member and the country it speaks for.
type Member struct {
	ID      string
	Country string
}

// Checkpoint names the log state the figures were computed at.
type Checkpoint struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	// RootHash is base64, as in the checkpoint note.
	RootHash string `json:"root_hash"`
}

// Input is everything a scorecard is computed from. Entries are the log's
// entries [0, Checkpoint.Size) in index order (registry entries may be
// omitted); Flags are the detector's flags over the same prefix.
type Input struct {
	Checkpoint Checkpoint
	Members    []Member
	Entries    []Entry
	Flags      []Flag
	// KG reckons an event's quantity in kilograms of pure substance, as the
	// detector does (derive.Deriver.Amount); ok is false when it cannot be
	// reckoned (unknown unit, no quantity).
	KG func(*chemledgerv1.ShipmentEvent) (kg float64, ok bool)
}

// Tolerances and windows of the definitions.
const (
	// ReceiptWindow is how long after the expected arrival an import
	// declaration and a receipt confirmation may come and still count.
	ReceiptWindow = 30 * 24 * time.Hour
	// QuantityTolerance is the relative difference between exported and
	// received kilograms of pure substance above which a shipment counts as
	// a discrepancy. It is the detector's default R1 tolerance (0.5 %).
	QuantityTolerance = 0.005
	// OpenTooLong is how long a flag may stay without a disposition.
	OpenTooLong = 30 * 24 * time.Hour
)

// Card is the scorecard: the figures of every member and month.
type Card struct {
	Checkpoint Checkpoint `json:"checkpoint"`
	// AsOf is the latest integrated time in the prefix; "open longer than
	// 30 days" is judged at it, never at the wall clock.
	AsOf        time.Time    `json:"as_of"`
	Definitions []Definition `json:"definitions"`
	Rows        []Row        `json:"rows"`
}

// Definition says what an indicator is, in plain words.
type Definition struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Unit  string `json:"unit"`
	Words string `json:"definition"`
}

// Row is one member's figures for one calendar month (UTC).
type Row struct {
	Member  string   `json:"member"`
	Month   string   `json:"month"` // YYYY-MM
	Figures []Figure `json:"figures"`
}

// Figure is one indicator's value with what it counts. For a share,
// Value = Numerator / Denominator; for a count, Value = Numerator; for a
// median or percentile, Denominator is the number of observations. Defined
// is false when there was nothing to measure (a share of zero exports).
type Figure struct {
	ID          string  `json:"id"`
	Value       float64 `json:"value"`
	Defined     bool    `json:"defined"`
	Numerator   float64 `json:"numerator"`
	Denominator float64 `json:"denominator"`
	// Entries are the log indexes the figure counts, ascending: the
	// denominator's entries (the numerator's are among them).
	Entries []uint64 `json:"entries,omitempty"`
	// Flags are the ids of the flags the figure counts, sorted.
	Flags []string `json:"flags,omitempty"`
	// EntryCount and FlagCount are len(Entries) and len(Flags); they stay
	// when a figure travels without its lists (the API's GetScorecard).
	EntryCount int `json:"entry_count"`
	FlagCount  int `json:"flag_count"`
}

// Indicator ids.
const (
	PENSent           = "pen_sent"
	PENReceived       = "pen_received"
	PENAnsweredOnTime = "pen_answered_on_time"
	ReplyHoursMedian  = "reply_hours_median"
	ReplyHoursP90     = "reply_hours_p90"
	ExportsWaited     = "exports_waited_for_reply"
	ExportsClosed     = "exports_closed_within_30d"
	KGExported        = "kg_exported_reconciled"
	KGReceived        = "kg_received_reconciled"
	QuantityMismatch  = "quantity_discrepancy_share"
	IncidentsShared   = "incidents_shared"
	IncidentsLinked   = "incidents_linked_share"
	Shipments         = "shipments"
	FlagsPer1000      = "flags_per_1000_shipments" // "…." + rule id for one rule
	Dispositions      = "dispositions_recorded"
	DispositionDays   = "flag_to_disposition_days_median"
	FlagsOpenLong     = "flags_open_over_30d_share"
)

// Definitions are the plain-words definitions, in report order.
func Definitions() []Definition {
	return []Definition{
		{PENSent, "Pre-export notifications sent", "count", "Pre-export notifications (PENs) the member signed whose occurred time falls in the month."},
		{PENReceived, "Pre-export notifications received", "count", "PENs in the month whose importer is in the member's country, whoever sent them."},
		{PENAnsweredOnTime, "PENs answered before the reply deadline", "share", "Of the PENs received in the month that state a reply-by time, the share with a PEN reply (same shipment reference, later in the log) occurring no later than that time."},
		{ReplyHoursMedian, "Median reply time", "hours", "Median, over the PENs received in the month that have a reply, of the hours from the PEN's occurred time to the first reply's."},
		{ReplyHoursP90, "90th percentile reply time", "hours", "90th percentile (nearest rank) of the same reply times."},
		{ExportsWaited, "Exports that waited for a reply", "share", "Of the export declarations the member signed in the month for a shipment that has a PEN, the share whose shipment had a PEN reply occurring before the export."},
		{ExportsClosed, "Exports closed within 30 days of arrival", "share", "Of the export declarations the member signed in the month that state an arrival time, the share whose shipment has both an import declaration and a receipt confirmation occurring no later than 30 days after that arrival time."},
		{KGExported, "Exported quantity, reconciled shipments", "kg pure", "Kilograms of pure substance declared on the member's export declarations in the month whose shipment has a receipt confirmation (the detector's conversion: unit, density, concentration)."},
		{KGReceived, "Received quantity, reconciled shipments", "kg pure", "Kilograms of pure substance on the first receipt confirmation of those same shipments."},
		{QuantityMismatch, "Quantity discrepancies over tolerance", "share", "Of those reconciled shipments, the share whose received kilograms differ from the exported by more than 0.5 % of the exported."},
		{IncidentsShared, "Incidents shared", "count", "Incident entries (seizures, stopped shipments, any incident kind) the member signed in the month."},
		{IncidentsLinked, "Incidents linked to a shipment", "share", "Of those incidents, the share that cite an entry or whose shipment reference appears on another shipment event in the log."},
		{Shipments, "Shipments in the member's trade", "count", "Distinct shipment references whose first event in the log occurred in the month and that have at least one event the member signed (the drill-down lists the member's events of them)."},
		{FlagsPer1000, "Flags per 1,000 shipments", "per 1,000", "Flags raised in the month whose evidence includes an entry the member signed, per 1,000 of the member's shipments in the month; also given per rule (id suffix)."},
		{Dispositions, "Dispositions recorded", "count", "Disposition entries the member signed in the month."},
		{DispositionDays, "Median time from flag to disposition", "days", "Median, over the flags counted for the member in the month that have a disposition, of the days from the flag's raising to its first disposition."},
		{FlagsOpenLong, "Flags open longer than 30 days", "share", "Of the flags counted for the member in the month, the share whose first disposition came more than 30 days after raising, or that have none and were raised more than 30 days before the scorecard's as-of time."},
	}
}

// shipment gathers one shipment reference's entries.
type shipment struct {
	first   time.Time // occurred time of its first entry in the log
	pen     *Entry
	replies []*Entry
	imports []*Entry
	rcpts   []*Entry
	other   int // events that are not incidents
	// signers are the members that signed an event of it, with those
	// entries (the drill-down of the shipments figure).
	signers map[string][]uint64
}

func occurred(e *Entry) time.Time {
	if t := e.Event.GetOccurredTime(); t != nil {
		return t.AsTime().UTC()
	}
	return e.Time.UTC()
}

func month(t time.Time) string { return t.UTC().Format("2006-01") }

type key struct{ member, month string }

// acc accumulates one figure.
type acc struct {
	num, den float64
	obs      []float64
	entries  []uint64
	flags    []string
}

// Compute computes the scorecard. It is deterministic: the same input gives
// the same Card, field for field.
func Compute(in Input) *Card {
	ships := map[string]*shipment{}
	var asOf time.Time
	for i := range in.Entries {
		e := &in.Entries[i]
		if e.Time.After(asOf) {
			asOf = e.Time.UTC()
		}
		ev := e.Event
		if ev == nil || ev.GetShipmentRef() == "" {
			continue
		}
		s := ships[ev.GetShipmentRef()]
		if s == nil {
			s = &shipment{first: occurred(e), signers: map[string][]uint64{}}
			ships[ev.GetShipmentRef()] = s
		}
		s.signers[e.Member] = append(s.signers[e.Member], e.Index)
		if ev.GetKind() != chemledgerv1.EventKind_EVENT_KIND_INCIDENT {
			s.other++
		}
		switch ev.GetKind() {
		case chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION:
			if s.pen == nil {
				s.pen = e
			}
		case chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY:
			s.replies = append(s.replies, e)
		case chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION:
			s.imports = append(s.imports, e)
		case chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
			s.rcpts = append(s.rcpts, e)
		}
	}
	country := map[string]string{}
	for _, m := range in.Members {
		country[m.ID] = m.Country
	}
	figs := map[key]map[string]*acc{}
	get := func(member, mon, id string) *acc {
		k := key{member, mon}
		if figs[k] == nil {
			figs[k] = map[string]*acc{}
		}
		a := figs[k][id]
		if a == nil {
			a = &acc{}
			figs[k][id] = a
		}
		return a
	}
	// Every member has a row for every month the log covers, so a month
	// with nothing in it shows as zeros, not as a gap.
	months := map[string]bool{}
	for i := range in.Entries {
		if in.Entries[i].Event != nil || in.Entries[i].Disposition != nil {
			months[month(occurredOrTime(&in.Entries[i]))] = true
		}
	}
	for _, m := range in.Members {
		for mon := range months {
			for _, d := range Definitions() {
				get(m.ID, mon, d.ID)
			}
		}
	}

	for i := range in.Entries {
		e := &in.Entries[i]
		if e.Disposition != nil {
			a := get(e.Member, month(e.Time), Dispositions)
			a.num++
			a.entries = append(a.entries, e.Index)
			continue
		}
		ev := e.Event
		if ev == nil {
			continue
		}
		mon := month(occurred(e))
		s := ships[ev.GetShipmentRef()]
		switch ev.GetKind() {
		case chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION:
			a := get(e.Member, mon, PENSent)
			a.num++
			a.entries = append(a.entries, e.Index)
			for _, m := range in.Members {
				if m.Country == "" || m.Country != ev.GetImporter().GetCountry() {
					continue
				}
				countReceived(get, m.ID, mon, e, s)
			}
		case chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION:
			countExport(get, e.Member, mon, e, s, in.KG)
		case chemledgerv1.EventKind_EVENT_KIND_INCIDENT:
			a := get(e.Member, mon, IncidentsShared)
			a.num++
			a.entries = append(a.entries, e.Index)
			b := get(e.Member, mon, IncidentsLinked)
			b.den++
			b.entries = append(b.entries, e.Index)
			if len(ev.GetReferences()) > 0 || (s != nil && s.other > 0) {
				b.num++
			}
		}
	}

	// Shipments per member and month, then the flags on them.
	for _, s := range ships {
		for m, ixs := range s.signers {
			a := get(m, month(s.first), Shipments)
			a.num++
			a.entries = append(a.entries, ixs...)
		}
	}
	signer := map[uint64]string{}
	for i := range in.Entries {
		signer[in.Entries[i].Index] = in.Entries[i].Member
	}
	firstDisp := map[string]time.Time{}
	for i := range in.Entries {
		e := &in.Entries[i]
		if e.Disposition == nil {
			continue
		}
		if _, ok := firstDisp[e.Disposition.GetFlagId()]; !ok {
			firstDisp[e.Disposition.GetFlagId()] = e.Time.UTC()
		}
	}
	for _, f := range in.Flags {
		mon := month(f.RaisedAt)
		on := map[string]bool{}
		for _, ix := range f.Evidence {
			if m, ok := signer[ix]; ok {
				on[m] = true
			}
		}
		for m := range on {
			for _, id := range []string{FlagsPer1000, FlagsPer1000 + "." + f.RuleID} {
				a := get(m, mon, id)
				a.num++
				a.flags = append(a.flags, f.ID)
			}
			open := get(m, mon, FlagsOpenLong)
			open.den++
			open.flags = append(open.flags, f.ID)
			if t, ok := firstDisp[f.ID]; ok {
				d := get(m, mon, DispositionDays)
				d.obs = append(d.obs, t.Sub(f.RaisedAt).Hours()/24)
				d.flags = append(d.flags, f.ID)
				if t.Sub(f.RaisedAt) > OpenTooLong {
					open.num++
				}
			} else if asOf.Sub(f.RaisedAt) > OpenTooLong {
				open.num++
			}
		}
	}

	card := &Card{Checkpoint: in.Checkpoint, AsOf: asOf, Definitions: Definitions()}
	keys := make([]key, 0, len(figs))
	for k := range figs {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.member, b.member), cmp.Compare(a.month, b.month))
	})
	for _, k := range keys {
		row := Row{Member: k.member, Month: k.month}
		// A flag raised in a month with no event of the member's (a
		// time-based rule's deadline) makes a row of its own.
		ship := figs[k][Shipments]
		if ship == nil {
			ship = &acc{}
		}
		ids := make([]string, 0, len(figs[k]))
		for id := range figs[k] {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool {
			return order(ids[i]) < order(ids[j]) || order(ids[i]) == order(ids[j]) && ids[i] < ids[j]
		})
		for _, id := range ids {
			row.Figures = append(row.Figures, finish(id, figs[k][id], ship))
		}
		card.Rows = append(card.Rows, row)
	}
	return card
}

func occurredOrTime(e *Entry) time.Time {
	if e.Event != nil {
		return occurred(e)
	}
	return e.Time
}

func countReceived(get func(string, string, string) *acc, member, mon string, pen *Entry, s *shipment) {
	a := get(member, mon, PENReceived)
	a.num++
	a.entries = append(a.entries, pen.Index)
	var reply *Entry
	for _, r := range s.replies {
		if r.Index > pen.Index {
			reply = r
			break
		}
	}
	if by := pen.Event.GetReplyByTime(); by != nil {
		b := get(member, mon, PENAnsweredOnTime)
		b.den++
		b.entries = append(b.entries, pen.Index)
		if reply != nil && !occurred(reply).After(by.AsTime()) {
			b.num++
			b.entries = append(b.entries, reply.Index)
		}
	}
	if reply != nil {
		h := occurred(reply).Sub(occurred(pen)).Hours()
		for _, id := range []string{ReplyHoursMedian, ReplyHoursP90} {
			c := get(member, mon, id)
			c.obs = append(c.obs, h)
			c.entries = append(c.entries, pen.Index, reply.Index)
		}
	}
}

func countExport(get func(string, string, string) *acc, member, mon string, ex *Entry, s *shipment, kg func(*chemledgerv1.ShipmentEvent) (float64, bool)) {
	if s == nil {
		return
	}
	if s.pen != nil && s.pen.Index < ex.Index {
		a := get(member, mon, ExportsWaited)
		a.den++
		a.entries = append(a.entries, ex.Index)
		for _, r := range s.replies {
			if r.Index < ex.Index && r.Index > s.pen.Index && occurred(r).Before(occurred(ex)) {
				a.num++
				a.entries = append(a.entries, r.Index)
				break
			}
		}
	}
	if arr := ex.Event.GetArrivalTime(); arr != nil {
		due := arr.AsTime().Add(ReceiptWindow)
		a := get(member, mon, ExportsClosed)
		a.den++
		a.entries = append(a.entries, ex.Index)
		imp := firstBy(s.imports, ex.Index, due)
		rc := firstBy(s.rcpts, ex.Index, due)
		if imp != nil && rc != nil {
			a.num++
			a.entries = append(a.entries, imp.Index, rc.Index)
		}
	}
	if kg == nil {
		return
	}
	var rc *Entry
	for _, r := range s.rcpts {
		if r.Index > ex.Index {
			rc = r
			break
		}
	}
	if rc == nil {
		return
	}
	exKG, ok1 := kg(ex.Event)
	rcKG, ok2 := kg(rc.Event)
	if !ok1 || !ok2 {
		return
	}
	e, r, q := get(member, mon, KGExported), get(member, mon, KGReceived), get(member, mon, QuantityMismatch)
	e.num += exKG
	r.num += rcKG
	for _, a := range []*acc{e, r, q} {
		a.entries = append(a.entries, ex.Index, rc.Index)
	}
	q.den++
	if math.Abs(rcKG-exKG) > QuantityTolerance*exKG {
		q.num++
	}
}

// firstBy is the first entry after index from that occurred no later than due.
func firstBy(es []*Entry, from uint64, due time.Time) *Entry {
	for _, e := range es {
		if e.Index > from && !occurred(e).After(due) {
			return e
		}
	}
	return nil
}

func order(id string) int {
	for i, d := range Definitions() {
		if d.ID == id {
			return i
		}
	}
	// Per-rule flag rates sort right after the total.
	for i, d := range Definitions() {
		if d.ID == FlagsPer1000 {
			return i
		}
	}
	return len(Definitions())
}

func finish(id string, a *acc, ship *acc) Figure {
	f := Figure{ID: id, Numerator: a.num, Denominator: a.den}
	f.Entries = sortedUnique(a.entries)
	f.Flags = slices.Compact(slices.Sorted(slices.Values(a.flags)))
	f.EntryCount, f.FlagCount = len(f.Entries), len(f.Flags)
	switch {
	case id == ReplyHoursMedian || id == DispositionDays:
		f.Denominator = float64(len(a.obs))
		f.Value, f.Defined = percentile(a.obs, 50)
	case id == ReplyHoursP90:
		f.Denominator = float64(len(a.obs))
		f.Value, f.Defined = percentile(a.obs, 90)
	case id == FlagsPer1000 || len(id) > len(FlagsPer1000) && id[:len(FlagsPer1000)+1] == FlagsPer1000+".":
		f.Denominator = ship.num
		if ship.num > 0 {
			f.Value, f.Defined = 1000*a.num/ship.num, true
		}
	case a.den > 0:
		f.Value, f.Defined = a.num/a.den, true
	case isShare(id):
		// nothing to measure
	default:
		f.Value, f.Defined = a.num, true
	}
	return f
}

func isShare(id string) bool {
	for _, d := range Definitions() {
		if d.ID == id {
			return d.Unit == "share"
		}
	}
	return false
}

// percentile is the nearest-rank percentile: the smallest observation with
// at least p % of the observations at or below it.
func percentile(obs []float64, p float64) (float64, bool) {
	if len(obs) == 0 {
		return 0, false
	}
	s := slices.Sorted(slices.Values(obs))
	r := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(r, 1)-1], true
}

func sortedUnique(xs []uint64) []uint64 {
	if len(xs) == 0 {
		return nil
	}
	return slices.Compact(slices.Sorted(slices.Values(xs)))
}
