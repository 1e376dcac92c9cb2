// Package scenario2 is a second year of coalition trade, written apart from
// package scenario and not from the detector's rules: other countries,
// ports, companies and scripts, and the noise of real trade — brokers and
// consignees that differ from the importer, names written in the importing
// country's own script, licences renewed between a notification and the
// import, ships that arrive late, information requests answered by a
// no-objection, receipts a little short of the export, long-standing large
// buyers, buyers with two suppliers, liquids declared in litres. Into it go
// one diversion pattern per rule, each beside a near-miss twin that real
// trade produces and that no rule should flag.
//
// Everything is made up and deterministic: the only randomness is a PCG
// generator seeded with Config.Seed, and nothing reads the clock.
package scenario2

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Config selects a year.
type Config struct {
	Seed uint64
	// Start is the first day; Days the days on which clean shipments are
	// notified.
	Start time.Time
	Days  int
	// Shipments is the number of clean shipments.
	Shipments int
}

// DefaultConfig is a year of about 620 clean shipments from 1 March 2027.
func DefaultConfig() Config {
	return Config{Seed: 1, Start: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), Days: 365, Shipments: 620}
}

// Item is one log entry, in submission order.
type Item struct {
	Member   string
	Time     time.Time
	Event    *v1.ShipmentEvent
	Registry *v1.RegistryEntry
}

// Case is an injected diversion pattern.
type Case struct {
	RuleID string
	// ShipmentRef is the shipment the rule should flag (for a pattern, the
	// one that completes it); Subject the party key "name|CC" when the
	// finding is about a party.
	ShipmentRef, Subject string
	// Pattern lists every shipment of a group pattern (R11, R12, R28),
	// all of which the rule's flags must cite.
	Pattern []string
	Note    string
}

// Twin is a clean shipment made to look like a case: its rule must not
// flag it. Twins are clean shipments too.
type Twin struct {
	RuleID, ShipmentRef, Note string
}

// World is a generated year.
type World struct {
	Items          []Item
	Cases          []Case
	Twins          []Twin
	CleanShipments []string
}

const day = 24 * time.Hour

type company struct {
	p *v1.Party
	// native is the name the company's own country writes, with the same
	// identifiers, used on the legs that country reports.
	native *v1.Party
}

func co(name, country, address string, ids ...string) *company {
	p := &v1.Party{Name: name, Country: country, Address: address}
	for i := 0; i+1 < len(ids); i += 2 {
		p.Identifiers = append(p.Identifiers, &v1.Identifier{Scheme: ids[i], Value: ids[i+1]})
	}
	return &company{p: p}
}

// in adds the name in the company's national script.
func (c *company) in(native string) *company {
	n := &v1.Party{Name: native, Country: c.p.Country, Address: c.p.Address, Identifiers: c.p.Identifiers}
	c.native = n
	return c
}

func (c *company) local() *v1.Party {
	if c.native != nil {
		return c.native
	}
	return c.p
}

type product struct {
	cas, hs, name string
	conc          float64 // 0: undeclared
	liquid        bool
	lot           [2]float64 // litres or kg
	step          float64    // lots are whole multiples
}

var products = map[string]product{
	"pse":     {"90-82-4", "293942", "Pseudoephedrine hydrochloride", 82, false, [2]float64{400, 2400}, 25},
	"eph":     {"299-42-3", "293941", "Ephedrine hydrochloride", 82, false, [2]float64{100, 600}, 25},
	"ac2o":    {"108-24-7", "291524", "Acetic anhydride", 0, true, [2]float64{4000, 21000}, 1000},
	"acetone": {"67-64-1", "291411", "Acetone", 0, true, [2]float64{8000, 24000}, 1000},
	"toluene": {"108-88-3", "290230", "Toluene", 0, true, [2]float64{8000, 24000}, 1000},
	"mek":     {"78-93-3", "291412", "Methyl ethyl ketone", 0, true, [2]float64{6000, 20000}, 1000},
	"kmno4":   {"7722-64-7", "284161", "Potassium permanganate", 0, false, [2]float64{1000, 18000}, 50},
	"h2so4":   {"7664-93-9", "280700", "Sulphuric acid", 98, true, [2]float64{5000, 20000}, 1000},
	"aniline": {"62-53-3", "292141", "Aniline", 0, true, [2]float64{5000, 20000}, 1000},
	"propanh": {"123-62-6", "291590", "Propionic anhydride", 0, true, [2]float64{1000, 8000}, 200},
	"pip":     {"110-89-4", "293332", "Piperidine", 0, true, [2]float64{200, 2000}, 200},
	"mea":     {"74-89-5", "292111", "Methylamine, 40 % aqueous solution", 40, true, [2]float64{1000, 12000}, 1000},
	"paa":     {"103-82-2", "291634", "Phenylacetic acid", 0, false, [2]float64{500, 5000}, 25},
	"hcl":     {"7647-01-0", "280610", "Hydrochloric acid", 37, true, [2]float64{5000, 20000}, 1000},
}

// density is what a consignee's weighbridge finds per litre; the
// detector's own table may differ in the third digit.
var density = map[string]float64{
	"108-24-7": 1.08, "67-64-1": 0.79, "108-88-3": 0.867, "78-93-3": 0.805, "7664-93-9": 1.84,
	"62-53-3": 1.02, "123-62-6": 1.01, "110-89-4": 0.862, "74-89-5": 0.9, "7647-01-0": 1.18,
}

var port = map[string]string{
	"CN": "CNNGB", "IN": "INMUN", "KR": "KRPUS", "JP": "JPYOK", "ES": "ESVLC", "IT": "ITGOA", "PL": "PLGDN",
	"BR": "BRSSZ", "AR": "ARBUE", "CL": "CLSAI", "ZA": "ZADUR", "KE": "KEMBA", "TH": "THLCH", "VN": "VNSGN",
	"TR": "TRMER", "GR": "GRPIR", "RU": "RUNVS", "FR": "FRLEH", "AU": "AUMEL", "EG": "EGALY",
}

// hubs are the transshipment ports a sea route may call at, none of them
// in a free zone.
var hubs = []string{"SGSIN", "LKCMB", "MAPTM", "EGPSD"}

// ship is one shipment being planned.
type ship struct {
	ref                 string
	prod                product
	qty                 float64 // litres or kg, as declared
	exp, imp, cons      *company
	brokers             []*v1.Party
	route               []*v1.RouteLeg
	hs                  string // overrides the product's subheading
	penAt               time.Time
	replyBy             time.Time
	dispatch, arrival   time.Time
	importAt, receiptAt time.Time
	received            float64
	receivedUnit        string
}

func (s *ship) unit() string {
	if s.prod.liquid {
		return "LTR"
	}
	return "KGM"
}

type gen struct {
	cfg   Config
	r     *rand.Rand
	start time.Time
	items []Item
	seq   map[string]int
	w     World
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func (g *gen) between(a, b time.Duration) time.Duration {
	return a + time.Duration(g.r.Int64N(int64(b-a)+1))
}

func (g *gen) next(prefix string) string {
	g.seq[prefix]++
	return fmt.Sprintf("%s-%05d", prefix, g.seq[prefix])
}

func (g *gen) lot(p product, frac [2]float64) float64 {
	lo, hi := p.lot[0], p.lot[1]
	v := lo + (hi-lo)*(frac[0]+(frac[1]-frac[0])*g.r.Float64())
	return math.Max(p.step, math.Round(v/p.step)*p.step)
}

// newShip plans a shipment notified at penAt with the usual sea route.
func (g *gen) newShip(prefix string, prod product, qty float64, exp, imp, cons *company, penAt time.Time) *ship {
	s := &ship{ref: g.next(prefix), prod: prod, qty: qty, exp: exp, imp: imp, cons: cons, penAt: penAt}
	s.replyBy = penAt.Add(15 * day)
	s.route = []*v1.RouteLeg{{Locode: port[exp.p.Country]}, {Locode: port[imp.p.Country]}}
	return s
}

// sail sets dispatch, arrival and the importer's dates from the export.
func (g *gen) sail(s *ship, exportAt time.Time, transit time.Duration, late time.Duration) {
	s.dispatch = exportAt.Add(g.between(6*time.Hour, 30*time.Hour))
	s.arrival = s.dispatch.Add(transit).Truncate(time.Hour)
	s.importAt = s.arrival.Add(late + g.between(3*time.Hour, 72*time.Hour))
	s.receiptAt = s.importAt.Add(g.between(day, 6*day))
}

func (g *gen) event(s *ship, kind v1.EventKind, at time.Time, where string, local bool) *v1.ShipmentEvent {
	hs := s.prod.hs
	if s.hs != "" {
		hs = s.hs
	}
	if kind == v1.EventKind_EVENT_KIND_EXPORT_DECLARATION || kind == v1.EventKind_EVENT_KIND_IMPORT_DECLARATION {
		hs += "00" // the national tariff extension
	}
	imp, cons := s.imp.p, s.cons.p
	if local {
		imp, cons = s.imp.local(), s.cons.local()
	}
	e := &v1.ShipmentEvent{
		EventId: s.ref + "/" + kind.String(), Kind: kind, ShipmentRef: s.ref,
		Chemical:     &v1.Chemical{Cas: s.prod.cas, HsCode: hs, Name: s.prod.name, ConcentrationPercent: s.prod.conc},
		Quantity:     &v1.Quantity{Value: s.qty, Unit: s.unit()},
		Exporter:     s.exp.p,
		Importer:     imp,
		Consignee:    cons,
		OccurredTime: ts(at), LocationCountry: where,
	}
	if kind != v1.EventKind_EVENT_KIND_PEN_REPLY && kind != v1.EventKind_EVENT_KIND_INCIDENT {
		e.Intermediaries = s.brokers
	}
	switch kind {
	case v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION:
		if !s.replyBy.IsZero() {
			e.ReplyByTime = ts(s.replyBy)
		}
		e.Route = s.route
	case v1.EventKind_EVENT_KIND_EXPORT_DECLARATION:
		e.Route = s.route
		e.DispatchTime, e.ArrivalTime = ts(s.dispatch), ts(s.arrival)
	case v1.EventKind_EVENT_KIND_PEN_REPLY:
		e.Quantity = nil
	case v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
		e.Quantity = &v1.Quantity{Value: s.received, Unit: s.receivedUnit}
	}
	g.items = append(g.items, Item{Member: where, Time: at.Add(g.between(10*time.Minute, 4*time.Hour)), Event: e})
	return e
}

func (g *gen) pen(s *ship) {
	g.event(s, v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION, s.penAt, s.exp.p.Country, false)
}
func (g *gen) reply(s *ship, r v1.PenReply, at time.Time) {
	e := g.event(s, v1.EventKind_EVENT_KIND_PEN_REPLY, at, s.imp.p.Country, true)
	e.PenReply = r
}
func (g *gen) export(s *ship, at time.Time) {
	g.event(s, v1.EventKind_EVENT_KIND_EXPORT_DECLARATION, at, s.exp.p.Country, false)
}

// arrive adds the transit call, import declaration and receipt.
func (g *gen) arrive(s *ship) {
	if len(s.route) == 3 && g.r.IntN(3) == 0 {
		hub := s.route[1].Locode
		g.event(s, v1.EventKind_EVENT_KIND_TRANSIT, s.dispatch.Add(s.arrival.Sub(s.dispatch)/2), hub[:2], false)
	}
	g.event(s, v1.EventKind_EVENT_KIND_IMPORT_DECLARATION, s.importAt, s.imp.p.Country, true)
	if s.receivedUnit == "" {
		s.received, s.receivedUnit = s.qty, s.unit()
	}
	g.event(s, v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION, s.receiptAt, s.cons.p.Country, true)
}

// weigh sets what the consignee confirms: the declared quantity, or a
// little less — a weighbridge reading of a liquid declared in litres, a
// few kilograms of a solid short — always within what honest trade loses.
func (g *gen) weigh(s *ship) {
	switch {
	case s.prod.liquid && g.r.IntN(2) == 0:
		d := density[s.prod.cas]
		s.received, s.receivedUnit = math.Round(s.qty*d*(1-0.008*g.r.Float64())), "KGM"
	case s.prod.liquid && g.r.IntN(3) == 0:
		s.received, s.receivedUnit = math.Round(s.qty*(1-0.012*g.r.Float64())), "LTR"
	case !s.prod.liquid && g.r.IntN(4) == 0:
		s.received, s.receivedUnit = math.Round(s.qty*(1-0.003*g.r.Float64())*10)/10, "KGM"
	default:
		s.received, s.receivedUnit = s.qty, s.unit()
	}
}

func (g *gen) registry(at time.Time, member string, e *v1.RegistryEntry) {
	e.EffectiveTime = ts(at)
	g.items = append(g.items, Item{Member: member, Time: at, Registry: e})
}

func (g *gen) licence(c *company, number string, prods []string, from, until, logged time.Time) {
	var cas []string
	for _, k := range prods {
		cas = append(cas, products[k].cas)
	}
	holder := c.local() // the licensing authority writes the name its own way
	g.registry(logged, c.p.Country, &v1.RegistryEntry{
		EntryId: "LIC-" + number,
		Change: &v1.RegistryEntry_Licence{Licence: &v1.Licence{
			Number: number, IssuingCountry: c.p.Country, Holder: holder, Cas: cas,
			ValidFrom: ts(from), ValidUntil: ts(until),
		}},
	})
}

// Generate builds the year cfg describes.
func Generate(cfg Config) World {
	if cfg.Start.IsZero() {
		cfg.Start = DefaultConfig().Start
	}
	if cfg.Days == 0 {
		cfg.Days = DefaultConfig().Days
	}
	if cfg.Shipments == 0 {
		cfg.Shipments = DefaultConfig().Shipments
	}
	g := &gen{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, 0x5eed2)), start: cfg.Start, seq: make(map[string]int)}
	g.trade()
	g.cases()
	slices.SortStableFunc(g.items, func(a, b Item) int { return a.Time.Compare(b.Time) })
	g.w.Items = g.items
	return g.w
}
