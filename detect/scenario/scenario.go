package scenario

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/chemledger/chemledger/internal/datadir"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Config says what year to generate.
type Config struct {
	// Seed selects the year: the same Config always gives the same
	// Scenario.
	Seed uint64
	// Start is the first day (UTC midnight is used; zero means
	// 2026-01-01).
	Start time.Time
	// Days is how many days PENs are sent on (at least MinDays). The legs
	// of the last shipments run up to about 80 days past the end.
	Days int
	// Companies is the number of legitimate companies: exporters,
	// importers, consignees, forwarders and brokers (at least
	// MinCompanies). The parties of injected cases come on top.
	Companies int
	// ShipmentsPerMonth is the legitimate volume, in shipments per
	// 30.4-day month (at least 1).
	ShipmentsPerMonth int
}

const (
	// MinDays is the shortest year generated: rule R21 needs 180 days of
	// history before a new counterparty counts as new, and its cases come
	// after that.
	MinDays = 300
	// MinCompanies is the core roster, every role the trade lanes need.
	MinCompanies = 30
)

// DefaultConfig is a calendar year from 2026-01-01 with forty-five
// companies and sixty legitimate shipments a month.
func DefaultConfig() Config {
	return Config{Seed: 1, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 365, Companies: 45, ShipmentsPerMonth: 60}
}

func (c Config) normalised() Config {
	if c.Start.IsZero() {
		c.Start = DefaultConfig().Start
	}
	c.Start = c.Start.UTC().Truncate(day)
	c.Days = max(c.Days, MinDays)
	c.Companies = max(c.Companies, MinCompanies)
	c.ShipmentsPerMonth = max(c.ShipmentsPerMonth, 1)
	return c
}

// Item is one log entry to submit, in order.
type Item struct {
	// Member is the demo member that signs it: the member of the event's
	// location_country, or of the registry entry's country.
	Member string
	// Time is when it is submitted; items are in Time order.
	Time time.Time
	// Event and Registry: exactly one is set.
	Event    *chemledgerv1.ShipmentEvent
	Registry *chemledgerv1.RegistryEntry
}

// Case is an injected diversion pattern and the rule that must flag it.
type Case struct {
	// RuleID is the rule of reference/domain.md §9 ("R1", "R1A", ...).
	RuleID string
	// ShipmentRef is the shipment the rule should flag: for patterns
	// spread over several shipments, the one that completes the pattern.
	ShipmentRef string
	// Subject is what the finding is about: a party as its registered name
	// and country, "name|CC" (a detector keys parties by a normalised form
	// of the name); a country's annual requirement as "CC|CAS|year"; or,
	// for a finding about one shipment, its reference.
	Subject string
	// Note says what was injected, in plain words.
	Note string
}

// Pattern lists every shipment of an injected group pattern (R11, R12,
// R28), all of which the rule's flags must cite; Case is the labelled case.
type Pattern struct {
	Case      Case
	Shipments []string
}

// Scenario is a generated year.
type Scenario struct {
	Items []Item
	Cases []Case
	// CleanShipments are the references of legitimate shipments, which no
	// rule should flag. Shipments that only set a case up (the imports
	// that fill an ALR before the one that exceeds it, the refused
	// notification before company shopping) are in neither list.
	CleanShipments []string
	// Patterns are the shipments of the group-pattern cases, in case order.
	Patterns []Pattern
}

// Generate builds the year cfg describes. It is deterministic: it draws
// only from a PCG generator seeded with cfg.Seed and never reads the clock.
func Generate(cfg Config) Scenario {
	cfg = cfg.normalised()
	g := &generator{
		cfg:       cfg,
		r:         rand.New(rand.NewPCG(cfg.Seed, 0x63686d6c6564676e)),
		start:     cfg.Start,
		end:       cfg.Start.Add(time.Duration(cfg.Days) * day),
		companies: roster(cfg.Companies),
		seq:       make(map[string]int),
		alrFixed:  make(map[string]float64),
	}
	g.cleanTrade()
	g.injectCases()
	g.legitimateRegistry()
	return g.finish()
}

type generator struct {
	cfg        Config
	r          *rand.Rand
	start, end time.Time
	companies  []*company
	shipments  []*shipment
	clean      []*shipment
	cases      []pendingCase
	registry   []*regItem
	// seq numbers authorisations and other running numbers.
	seq map[string]int
	// alrFixed are the ALRs the R9 cases set, by "CC|CAS".
	alrFixed map[string]float64
}

type pendingCase struct {
	rule    string
	s       *shipment
	pattern []*shipment
	subject string // empty: the shipment reference
	note    string
}

// regItem is a registry entry waiting for its id.
type regItem struct {
	entry   *chemledgerv1.RegistryEntry
	country string // the reporting member's country
	submit  time.Time
}

// members maps a country to its demo member.
var members = func() map[string]string {
	m := make(map[string]string, len(datadir.DemoMembers))
	for _, d := range datadir.DemoMembers {
		m[d.Country] = d.ID
	}
	return m
}()

func isMember(country string) bool { _, ok := members[country]; return ok }

// cleanTrade generates the legitimate shipments: every consignee opens
// trade within the first 60 days (so no rule takes a regular customer for a
// new one later in the year), then lanes are drawn by weight.
func (g *generator) cleanTrade() {
	var feasible []lane
	for _, ln := range lanes {
		if len(g.sellers(ln)) > 0 && len(g.buyers(ln)) > 0 {
			feasible = append(feasible, ln)
		}
	}
	total := int(math.Round(float64(g.cfg.ShipmentsPerMonth) * float64(g.cfg.Days) / 30.4))
	for _, c := range g.companies {
		if c.role != consigneeRole || len(g.clean) >= total {
			continue
		}
		var mine []lane
		for _, ln := range feasible {
			if ln.to == c.country() && c.buys(ln.prod) {
				mine = append(mine, ln)
			}
		}
		if len(mine) == 0 {
			continue
		}
		ln := g.pickLane(mine)
		g.cleanShipment(ln, c, g.start.Add(day+g.between(0, 59*day)))
	}
	span := time.Duration(g.cfg.Days-1) * day
	for len(g.clean) < total {
		ln := g.pickLane(feasible)
		buyers := g.buyers(ln)
		g.cleanShipment(ln, buyers[g.r.IntN(len(buyers))], g.start.Add(day+g.between(0, span)))
	}
}

func (g *generator) cleanShipment(ln lane, cons *company, t0 time.Time) {
	sellers := g.sellers(ln)
	p := productByKey[ln.prod]
	s := g.newShipment(ln, sellers[g.r.IntN(len(sellers))], cons, g.packs(p), t0)
	g.addPEN(s)
	g.addReply(s, noObjection, s.penAt.Add(g.between(day, 9*day)), "")
	g.exportToReceipt(s, g.weighed(s.qty))
	g.shipments = append(g.shipments, s)
	g.clean = append(g.clean, s)
}

// packs draws a package count, smaller orders being the more common.
func (g *generator) packs(p *product) int {
	n := p.minPacks + int(float64(p.maxPacks-p.minPacks+1)*math.Pow(g.r.Float64(), 1.6))
	return min(n, p.maxPacks)
}

func (g *generator) pickLane(ls []lane) lane {
	var sum float64
	for _, ln := range ls {
		sum += ln.weight
	}
	x := g.r.Float64() * sum
	for _, ln := range ls {
		if x < ln.weight {
			return ln
		}
		x -= ln.weight
	}
	return ls[len(ls)-1]
}

func (g *generator) sellers(ln lane) []*company {
	var out []*company
	for _, c := range g.companies {
		if c.country() == ln.from && c.sells(ln.prod) {
			out = append(out, c)
		}
	}
	return out
}

func (g *generator) buyers(ln lane) []*company {
	var out []*company
	for _, c := range g.companies {
		if c.country() == ln.to && c.buys(ln.prod) {
			out = append(out, c)
		}
	}
	return out
}

// finish puts every leg and registry entry in submission order, then
// numbers shipments, events and entries in that order, as national systems
// would.
func (g *generator) finish() Scenario {
	type pending struct {
		submit time.Time
		leg    *leg
		reg    *regItem
	}
	var all []pending
	for _, r := range g.registry {
		all = append(all, pending{submit: r.submit, reg: r})
	}
	for _, s := range g.shipments {
		for _, l := range s.legs {
			all = append(all, pending{submit: l.submit, leg: l})
		}
	}
	slices.SortStableFunc(all, func(a, b pending) int { return a.submit.Compare(b.submit) })

	counter := func(key string) int { g.seq[key]++; return g.seq[key] }
	for _, p := range all {
		if p.leg == nil || p.leg.s.ref != "" {
			continue
		}
		s := p.leg.s
		prefix := "PEN"
		if s.ucr {
			prefix = "UCR"
		}
		year := p.leg.at.Year()
		s.ref = fmt.Sprintf("%s-%s-%d-%06d", prefix, s.exportCountry(), year, 100+counter(fmt.Sprint("ref|", prefix, s.exportCountry(), year)))
	}

	codes := map[chemledgerv1.EventKind]string{
		kindReply: "PENR", kindExport: "EXP", kindTransit: "TRN", kindImport: "IMP", kindReceipt: "REC", kindIncident: "INC",
	}
	items := make([]Item, 0, len(all))
	for _, p := range all {
		if p.reg != nil {
			member := members[p.reg.country]
			year := p.reg.entry.GetEffectiveTime().AsTime().Year()
			p.reg.entry.EntryId = fmt.Sprintf("%s-REG-%d-%05d", member, year, counter(fmt.Sprint("reg|", member, year)))
			items = append(items, Item{Member: member, Time: p.submit, Registry: p.reg.entry})
			continue
		}
		l := p.leg
		member := members[l.country]
		id := l.s.ref
		if l.kind != kindPEN {
			code := codes[l.kind]
			id = fmt.Sprintf("%s-%s-%d-%06d", member, code, l.at.Year(), counter(fmt.Sprint("ev|", member, code, l.at.Year())))
		}
		items = append(items, Item{Member: member, Time: p.submit, Event: l.event(id)})
	}

	out := Scenario{Items: items}
	for _, c := range g.cases {
		subject := c.subject
		if subject == "" {
			subject = c.s.ref
		}
		oc := Case{RuleID: c.rule, ShipmentRef: c.s.ref, Subject: subject, Note: c.note}
		out.Cases = append(out.Cases, oc)
		if len(c.pattern) > 0 {
			p := Pattern{Case: oc}
			for _, s := range c.pattern {
				p.Shipments = append(p.Shipments, s.ref)
			}
			out.Patterns = append(out.Patterns, p)
		}
	}
	slices.SortStableFunc(out.Cases, func(a, b Case) int {
		return cmp.Or(cmp.Compare(ruleOrder(a.RuleID), ruleOrder(b.RuleID)), cmp.Compare(a.ShipmentRef, b.ShipmentRef))
	})
	for _, s := range g.clean {
		out.CleanShipments = append(out.CleanShipments, s.ref)
	}
	slices.Sort(out.CleanShipments)
	return out
}

// RuleIDs are the rules the injected cases cover, in catalogue order.
var RuleIDs = []string{"R1", "R1A", "R3", "R4", "R5", "R5A", "R6", "R7", "R9", "R10", "R11", "R12", "R13", "R15", "R21", "R27", "R28"}

func ruleOrder(id string) int {
	if i := slices.Index(RuleIDs, id); i >= 0 {
		return i
	}
	return len(RuleIDs)
}
