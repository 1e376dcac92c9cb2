package detect

import (
	"container/heap"
	"slices"
	"strings"
	"time"

	"github.com/chemledger/chemledger/internal/refdata"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Engine evaluates the catalogue under one policy. It holds no history —
// that is the State's — and is never modified after NewEngine, so one Engine
// may serve any number of states and goroutines.
type Engine struct {
	policy    Policy
	version   string
	rules     []*compiledRule // catalogue order
	byID      map[string]*compiledRule
	chems     map[string]chemInfo // parent and salt CAS → catalogue entry
	registers map[string]bool
}

// chemInfo is the part of a catalogue entry the rules read, looked up once
// per engine rather than cloned per event.
type chemInfo struct {
	CAS, Name, UNTable string
	HS                 []string
	NoLegitimateUse    bool
}

// NewEngine compiles a policy. A policy without tables gets the embedded
// defaults.
func NewEngine(p Policy) *Engine {
	if p.Tables.Version == "" {
		p.Tables = DefaultTables()
	}
	e := &Engine{
		policy:    p,
		version:   p.Version + "+data." + p.Tables.Version + "+refdata." + refdata.Version,
		byID:      make(map[string]*compiledRule),
		chems:     make(map[string]chemInfo),
		registers: make(map[string]bool),
	}
	for i := range catalogue {
		r := &catalogue[i]
		cr := compileRule(r, p.Rules[r.ID])
		e.rules = append(e.rules, cr)
		e.byID[r.ID] = cr
	}
	for _, c := range refdata.Chemicals() {
		info := chemInfo{CAS: c.CAS, Name: c.Name, UNTable: c.UNTable, HS: c.HS, NoLegitimateUse: c.NoKnownLegitimateUse}
		e.chems[c.CAS] = info
		for _, s := range c.SaltCAS {
			e.chems[s] = info
		}
	}
	for _, c := range p.LicenceRegisters.Countries {
		e.registers[c] = true
	}
	return e
}

// PolicyVersion is the version recorded on every flag:
// "<policy>+data.<tables>+refdata.<refdata>".
func (e *Engine) PolicyVersion() string { return e.version }

// Apply folds one committed record into s and returns the flags it raises,
// in catalogue order. Rules see the history before the record; the record
// is folded in after. Records must be applied in log order, each once.
func (e *Engine) Apply(s *State, r Record) []Flag {
	switch {
	case r.Event != nil:
		leg, extra := e.leg(s, r)
		c := &evalCtx{e: e, v: s, rec: r, leg: leg, ev: r.Event, extra: extra}
		for _, cr := range e.rules {
			if cr.enabled && cr.rule.eval != nil {
				c.cr = cr
				cr.rule.eval(c)
			}
		}
		flags := e.raise(s, c.out)
		s.foldLeg(leg, extra, e.underThreshold(s, leg))
		if leg.Kind == chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION {
			e.scheduleArrival(s, leg)
		}
		return flags
	case r.Registry.GetReferenceUpdate() != nil:
		// Callers that pass the registry entry as it is (the case-file
		// verifier, the scorecard) get the same fold as the deriver.
		u := ReferenceFromProto(r.Registry.GetReferenceUpdate())
		r.Registry, r.Reference = nil, &u
		e.applyReference(s, r)
	case r.Registry != nil:
		return e.applyRegistry(s, r)
	case r.Reference != nil:
		e.applyReference(s, r)
	}
	return nil
}

// Sweep runs the time-based rules as of asOf and returns the flags they
// raise. A flag raised once is never raised again, however often Sweep runs.
// asOf is an input, never the clock: sweeping at log times (after each
// Apply, as of the entry's integrated time) makes a rebuild raise exactly
// the flags the live detector raised.
func (e *Engine) Sweep(s *State, asOf time.Time) []Flag {
	cr := e.byID["R1A"]
	var out []finding
	for s.due.Len() > 0 && !s.due[0].due.After(asOf) {
		it := heap.Pop(&s.due).(dueItem)
		sh, ok := s.Shipment(it.ref)
		if !cr.enabled || !ok || sh.Export == nil || sh.Receipt != nil || sh.Closed != nil {
			continue
		}
		th := cr.resolve(sh.Export.CAS, importingCountry(sh.Export))
		if due := arrivalDue(sh.Export, &th); !due.Equal(it.due) {
			continue // a corrected export declaration rescheduled it
		}
		out = append(out, missingArrival(cr, sh, th, it.due))
	}
	return e.raise(s, out)
}

// underThreshold reports whether a leg is a notification or export
// declaration below its chemical's reporting threshold (R11 counts those).
func (e *Engine) underThreshold(s View, l *Leg) bool {
	if !l.Amount.Known || l.Kind == chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION || !isOrder(l.Kind) {
		return false
	}
	th := e.byID["R11"].resolve(l.CAS, importingCountry(l))
	limit, _ := e.reportingThreshold(s, &th, l.CAS, l.Occurred)
	return limit > 0 && l.Amount.KG < limit
}

// scheduleArrival queues the check for the receipt of an exported shipment.
func (e *Engine) scheduleArrival(s *State, l *Leg) {
	sh, _ := s.Shipment(l.Ref)
	if sh == nil || sh.Receipt != nil || sh.Closed != nil {
		return
	}
	th := e.byID["R1A"].resolve(l.CAS, importingCountry(l))
	s.schedule(arrivalDue(l, &th), l.Ref)
}

// applyRegistry folds a registry entry and screens known parties against a
// newly listed one.
func (e *Engine) applyRegistry(s *State, r Record) []Flag {
	reg := r.Registry
	effective := r.Time.UTC()
	if reg.GetEffectiveTime() != nil {
		effective = reg.GetEffectiveTime().AsTime()
	}
	switch ch := reg.GetChange().(type) {
	case *chemledgerv1.RegistryEntry_Licence:
		l := ch.Licence
		var cas []string
		for _, c := range l.GetCas() {
			cas = append(cas, e.catalogueCAS(c))
		}
		slices.Sort(cas)
		s.foldLicence(l, effective, r.Index, *e.party(s, l.GetHolder()), slices.Compact(cas))
	case *chemledgerv1.RegistryEntry_AnnualRequirement:
		a := ch.AnnualRequirement
		s.foldALR(a, e.catalogueCAS(a.GetCas()), r.Index)
	case *chemledgerv1.RegistryEntry_WatchListEntry:
		w := ch.WatchListEntry
		p := *e.party(s, w.GetParty())
		key := p.Key
		if key == "" { // listed by identifiers only
			key = "ids:" + strings.Join(p.IDs, ",")
		}
		entry := WatchEntry{Key: w.GetList() + "|" + key, List: w.GetList(), Party: p, Reason: w.GetReason(), Index: r.Index}
		for _, a := range w.GetAliases() {
			if n := s.normName(a); n != "" {
				entry.Aliases = append(entry.Aliases, a)
				entry.AliasNorms = append(entry.AliasNorms, n)
			}
		}
		added, ok := s.foldWatch(entry, w.GetRemoved())
		if cr := e.byID["R27"]; ok && cr.enabled {
			c := &evalCtx{e: e, v: s, rec: r, cr: cr, added: &added}
			evalWatchList(c)
			return e.raise(s, c.out)
		}
	}
	return nil
}

func (e *Engine) catalogueCAS(cas string) string {
	if info, ok := e.chems[cas]; ok {
		return info.CAS
	}
	return cas
}

// leg reduces a shipment event to the facts the rules use.
func (e *Engine) leg(s *State, r Record) (*Leg, []*Party) {
	ev := r.Event
	l := &Leg{
		Index: r.Index, Member: r.Member, Kind: ev.GetKind(), Ref: ev.GetShipmentRef(),
		Logged: r.Time.UTC(), Occurred: r.Time.UTC(),
		HS: ev.GetChemical().GetHsCode(), Reply: ev.GetPenReply(), Incident: ev.GetIncidentKind(),
		Location: ev.GetLocationCountry(),
	}
	if t := ev.GetOccurredTime(); t != nil {
		l.Occurred = t.AsTime()
	}
	if t := ev.GetDispatchTime(); t != nil {
		l.Dispatch = t.AsTime()
	}
	if t := ev.GetArrivalTime(); t != nil {
		l.Arrival = t.AsTime()
	}
	if t := ev.GetReplyByTime(); t != nil {
		l.ReplyBy = t.AsTime()
	}
	cas := ev.GetChemical().GetCas()
	if info, ok := e.chems[cas]; ok {
		l.CAS, l.Chemical = info.CAS, info.Name
	} else {
		l.CAS, l.Chemical = cas, ev.GetChemical().GetName()
		if l.Chemical == "" {
			l.Chemical = "an uncatalogued chemical"
		}
	}
	l.Amount = amount(ev.GetQuantity(), ev.GetChemical(), l.CAS, e.policy.Tables.Densities)
	l.Exporter = e.party(s, ev.GetExporter())
	l.Importer = e.party(s, ev.GetImporter())
	if c := e.party(s, ev.GetConsignee()); c.Key != "" {
		l.Consignee, l.ConsigneeStated = c, true
	} else {
		l.Consignee = l.Importer
	}
	var extra []*Party
	for _, p := range ev.GetIntermediaries() {
		if q := e.party(s, p); q.Key != "" {
			extra = append(extra, q)
		}
	}
	return l, extra
}

// party normalises a declared party, interned in s so that the legs of a
// busy party share one copy. A party without a name has no key and is not
// compared.
func (e *Engine) party(s *State, p *chemledgerv1.Party) *Party {
	if p == nil {
		return &noParty
	}
	var raw strings.Builder
	raw.WriteString(p.GetName())
	raw.WriteByte(0)
	raw.WriteString(p.GetCountry())
	for _, id := range p.GetIdentifiers() {
		raw.WriteByte(0)
		raw.WriteString(id.GetScheme())
		raw.WriteByte(1)
		raw.WriteString(id.GetValue())
	}
	if q, ok := s.parties[raw.String()]; ok {
		return q
	}
	q := e.newParty(s, p)
	s.parties[raw.String()] = q
	return q
}

// noParty stands for a role the event leaves empty.
var noParty Party

func (e *Engine) newParty(s *State, p *chemledgerv1.Party) *Party {
	out := Party{Name: p.GetName(), Country: p.GetCountry()}
	for _, id := range p.GetIdentifiers() {
		if v := normID(id.GetValue()); v != "" {
			out.IDs = append(out.IDs, strings.ToUpper(strings.TrimSpace(id.GetScheme()))+":"+v)
		}
	}
	if len(out.IDs) > 1 {
		slices.Sort(out.IDs)
		out.IDs = slices.Compact(out.IDs)
	}
	if out.Norm = s.normName(out.Name); out.Norm == "" {
		return &Party{Name: out.Name, Country: out.Country, IDs: out.IDs}
	}
	out.setKeys()
	out.Profile = out.Key
	if len(out.IDs) > 0 {
		out.Profile += "|" + strings.Join(out.IDs, ",")
	}
	return &out
}

// importingCountry is the country a leg's per-country thresholds are
// looked up for: the importer's, else the consignee's, else where the event
// happened.
func importingCountry(l *Leg) string {
	switch {
	case l.Importer.Country != "":
		return l.Importer.Country
	case l.Consignee.Country != "":
		return l.Consignee.Country
	}
	return l.Location
}

// evalCtx is what a rule sees while it evaluates one record.
type evalCtx struct {
	e     *Engine
	v     View
	rec   Record
	leg   *Leg // nil for a registry record
	ev    *chemledgerv1.ShipmentEvent
	extra []*Party    // intermediaries
	added *WatchEntry // a watch-list entry just added
	cr    *compiledRule
	out   []finding
}

// th resolves the current rule's thresholds for the leg.
func (c *evalCtx) th() tvals { return c.cr.resolve(c.leg.CAS, importingCountry(c.leg)) }

// finding is a rule's result before it becomes a Flag.
type finding struct {
	cr        *compiledRule
	key       string // dedupe key within the rule
	severity  Severity
	ref       string
	subject   string
	cas       string
	countries []string
	evidence  []uint64
	th        tvals
	extra     []Threshold // figures from tables, recorded like thresholds
	vars      []string
	at        time.Time
	consume   [][2]string // scope, key pairs to mark as used
	// pattern opens or extends a group pattern (pattern.go); joined
	// selects the rule's JoinExplanation.
	pattern *patternUpdate
	joined  bool
}

// add records a finding of the current rule, dated at the record.
func (c *evalCtx) add(f finding) {
	f.cr = c.cr
	if f.th.defs == nil && c.leg != nil {
		f.th = c.th()
	}
	if f.at.IsZero() {
		f.at = c.rec.Time.UTC()
	}
	c.out = append(c.out, f)
}

// raise turns new findings into flags and records them in s, skipping any
// whose id was raised before (or earlier in the same batch).
func (e *Engine) raise(s *State, fs []finding) []Flag {
	var out []Flag
	for _, f := range fs {
		id := flagID(f.cr.rule.ID, f.key)
		if s.Raised(id) {
			continue
		}
		s.markRaised(id)
		for _, k := range f.consume {
			s.consume(k[0], k[1])
		}
		if f.pattern != nil {
			s.applyPattern(f.pattern, id)
		}
		tmpl, joins := f.cr.rule.Explanation, ""
		if f.joined {
			tmpl, joins = f.cr.rule.JoinExplanation, f.pattern.head0
		}
		sev := f.severity
		if sev == 0 {
			sev = f.cr.rule.Severity
		}
		th := append(f.th.list(), f.extra...)
		slices.SortFunc(th, func(a, b Threshold) int { return strings.Compare(a.Name, b.Name) })
		ev := slices.Clone(f.evidence)
		slices.Sort(ev)
		out = append(out, Flag{
			ID: id, RuleID: f.cr.rule.ID, RuleVersion: f.cr.rule.Version, PolicyVersion: e.version,
			Severity: sev, ShipmentRef: f.ref, Subject: f.subject, Countries: countries(f.countries),
			CAS: f.cas, RaisedAt: f.at, Thresholds: th,
			Explanation: render(tmpl, f.vars), Joins: joins, Evidence: slices.Compact(ev),
		})
	}
	return out
}

// countries sorts and deduplicates country codes, dropping empty ones.
func countries(cs []string) []string {
	var out []string
	for _, c := range cs {
		if c != "" {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// legCountries are the countries of a leg's parties and location.
func legCountries(ls ...*Leg) []string {
	var out []string
	for _, l := range ls {
		if l != nil {
			out = append(out, l.Exporter.Country, l.Importer.Country, l.Consignee.Country, l.Location)
		}
	}
	return out
}

// days converts a threshold in days to a duration.
func days(n float64) time.Duration { return time.Duration(n) * 24 * time.Hour }
