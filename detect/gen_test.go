package detect_test

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/chemledger/chemledger/detect"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// synth is a cheap, seeded stream of synthetic trade for the determinism
// test and the benchmark: shipments of PEN → reply → export → import →
// receipt between a few hundred exporters and a few thousand consignees,
// emitted in time order, with a sprinkling of anomalies (objections
// ignored, shortfalls, free zones, wrong HS codes, missing receipts) and a
// handful of registry entries, so that most rules have work to do. It keeps
// only the legs not yet emitted, so a million events need little memory.
type synth struct {
	rng        *rand.Rand
	exporters  []*v1.Party
	consignees []*v1.Party
	// hot consignees, when set, receive half of all orders between them:
	// the large buyers whose history must not slow the detector down.
	hot       []*v1.Party
	perDay    int
	day       int
	shipments int
	pending   legQueue
	setup     []*v1.RegistryEntry
	index     uint64
}

type chemSpec struct{ cas, hs string }

var synthChems = []chemSpec{
	{ephedrine, "293941"}, {pseudoephedrine, "293942"}, {acetone, "291411"}, {p2p, "291431"},
	{npp, "293337"}, {aniline, "292141"}, {methylamine, "292111"}, {"108-24-7", "291524"},
	{"7722-64-7", "284161"}, {"108-88-3", "290230"},
}

var synthCountries = []string{"CH", "MX", "IN", "CO", "DE", "NL", "US", "BR", "ZA", "TH", "KE", "AR"}

func newSynth(seed uint64, consignees, perDay int) *synth {
	g := &synth{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), perDay: perDay}
	for i := range 300 {
		g.exporters = append(g.exporters, party(fmt.Sprintf("Exporter %d Chemicals Co., Ltd.", i), []string{"CN", "IN", "DE", "NL", "US"}[i%5],
			"EORI", fmt.Sprintf("X%07d", i)))
	}
	for i := range consignees {
		g.consignees = append(g.consignees, party(fmt.Sprintf("Consignee %d Pharma S.A.", i), synthCountries[i%len(synthCountries)]))
	}
	// Licences for most consignees in complete-register countries, a
	// watch list naming a few consignees, one registry ALR.
	for i, c := range g.consignees {
		if c.Country == "DE" || c.Country == "NL" || c.Country == "US" {
			if i%10 != 0 {
				g.setup = append(g.setup, licence(fmt.Sprintf("L-%d", i), c.Country, c, []string{ephedrine, pseudoephedrine, acetone, p2p, npp, aniline, methylamine}, -30, 800))
			}
		}
	}
	for i := 0; i < len(g.consignees); i += 997 {
		g.setup = append(g.setup, watch("OFAC-SDN", party(g.consignees[i].Name, g.consignees[i].Country), -1))
	}
	g.setup = append(g.setup, alr("CO", ephedrine, 5000, 2026, -1))
	return g
}

type pendingLeg struct {
	at time.Time
	ev *v1.ShipmentEvent
}

type legQueue []pendingLeg

func (q legQueue) Len() int           { return len(q) }
func (q legQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q legQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *legQueue) Push(x any)        { *q = append(*q, x.(pendingLeg)) }
func (q *legQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// next returns the next record of the stream.
func (g *synth) next() detect.Record {
	g.index++
	if len(g.setup) > 0 {
		r := g.setup[0]
		g.setup = g.setup[1:]
		return detect.Record{Index: g.index, Member: "XX", Time: r.GetEffectiveTime().AsTime(), Registry: r}
	}
	dayEnd := day(g.day + 1)
	for g.pending.Len() == 0 || !g.pending[0].at.Before(dayEnd) {
		g.startDay()
		dayEnd = day(g.day + 1)
	}
	l := heap.Pop(&g.pending).(pendingLeg)
	return detect.Record{Index: g.index, Member: "XX", Time: l.at.Add(time.Minute), Event: l.ev}
}

// startDay begins the shipments of the next day.
func (g *synth) startDay() {
	g.day++
	for range g.perDay {
		g.shipments++
		g.startShipment(day(g.day).Add(time.Duration(g.rng.IntN(86400)) * time.Second))
	}
}

func (g *synth) startShipment(t time.Time) {
	ref := fmt.Sprintf("SHP-%07d", g.shipments)
	c := synthChems[g.rng.IntN(len(synthChems))]
	exp := g.exporters[g.rng.IntN(len(g.exporters))]
	con := g.consignees[g.rng.IntN(len(g.consignees))]
	if len(g.hot) > 0 && g.rng.IntN(2) == 0 {
		con = g.hot[g.rng.IntN(len(g.hot))]
	}
	kg := float64(50 + g.rng.IntN(950))
	r := g.rng.Float64()
	hs := c.hs
	if r < 0.005 {
		hs = "293339"
	}
	mk := func(kind v1.EventKind, after time.Duration, q float64) *v1.ShipmentEvent {
		e := &v1.ShipmentEvent{
			EventId: ref + kind.String(), Kind: kind, ShipmentRef: ref,
			Chemical: &v1.Chemical{Cas: c.cas, HsCode: hs}, Quantity: &v1.Quantity{Value: q, Unit: "KGM"},
			Exporter: exp, Importer: con, Consignee: con, OccurredTime: ts(t.Add(after)),
			LocationCountry: con.Country,
		}
		heap.Push(&g.pending, pendingLeg{at: t.Add(after), ev: e})
		return e
	}
	const d = 24 * time.Hour
	p := mk(v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION, 0, kg)
	p.ReplyByTime = ts(t.Add(15 * d))
	answer := v1.PenReply_PEN_REPLY_NO_OBJECTION
	if r > 0.995 {
		answer = v1.PenReply_PEN_REPLY_OBJECTION
	}
	rep := mk(v1.EventKind_EVENT_KIND_PEN_REPLY, 5*d, kg)
	rep.PenReply, rep.Quantity = answer, nil
	x := mk(v1.EventKind_EVENT_KIND_EXPORT_DECLARATION, 10*d, kg)
	x.ArrivalTime = ts(t.Add(30 * d))
	if r > 0.98 && r < 0.99 {
		x.Route = []*v1.RouteLeg{{Locode: "AEJEA", FreeTradeZone: true}}
	}
	mk(v1.EventKind_EVENT_KIND_IMPORT_DECLARATION, 30*d, kg)
	received := kg
	if r > 0.97 && r < 0.98 {
		received = kg * 0.8
	}
	if !(r > 0.96 && r < 0.97) {
		mk(v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION, 32*d, received)
	}
}
