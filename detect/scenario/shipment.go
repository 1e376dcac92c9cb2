package scenario

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

const day = 24 * time.Hour

// Event kinds, shortened.
const (
	kindPEN      = chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION
	kindReply    = chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY
	kindExport   = chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION
	kindTransit  = chemledgerv1.EventKind_EVENT_KIND_TRANSIT
	kindImport   = chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION
	kindReceipt  = chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION
	kindIncident = chemledgerv1.EventKind_EVENT_KIND_INCIDENT

	noObjection = chemledgerv1.PenReply_PEN_REPLY_NO_OBJECTION
	objection   = chemledgerv1.PenReply_PEN_REPLY_OBJECTION
)

// stop is a place on a route.
type stop struct {
	locode string
	ftz    bool
	// mode is how the goods reach the place, when it differs from the
	// shipment's main mode.
	mode chemledgerv1.TransportMode
	// at is the arrival; zero for the origin.
	at time.Time
}

func (s stop) country() string { return s.locode[:2] }

// shipment is one consignment and its legs, before references and event ids
// are assigned (they follow log order, which is known only at the end).
type shipment struct {
	ref string
	// ucr marks a shipment without a PEN, whose reference is a WCO Unique
	// Consignment Reference instead of a PEN number.
	ucr  bool
	prod *product
	// hs is the declared HS subheading; it differs from prod.hs only in
	// mis-declaration cases.
	hs    string
	qty   float64
	packs int
	// packDesc describes the packages when they are not packs full ones.
	packDesc string

	exporter, importer, consignee *company
	// landed is the consignee named on the import and receipt legs; it
	// differs from consignee only when the consignee was switched.
	landed         *company
	intermediaries []*company
	mode           chemledgerv1.TransportMode
	route          []stop

	penAt, replyBy, dispatch, arrival time.Time

	exportAuth, importPermit string
	value                    *chemledgerv1.Money
	payment                  string

	legs []*leg
}

// leg is one event of a shipment.
type leg struct {
	s        *shipment
	kind     chemledgerv1.EventKind
	at       time.Time // occurred
	submit   time.Time // submitted to the ledger
	country  string    // location_country: the reporting member's country
	reply    chemledgerv1.PenReply
	incident chemledgerv1.IncidentKind
	qty      float64
	packages string
	remarks  string
}

func (s *shipment) exportCountry() string { return s.exporter.country() }
func (s *shipment) importCountry() string { return s.importer.country() }

// reporter is the member country that reports a leg happening in country:
// the country itself when it is a member, otherwise the member at the other
// end of the trade, which receives the news through PEN Online (see the
// package documentation on relayed legs).
func (s *shipment) reporter(country string, importSide bool) string {
	if isMember(country) {
		return country
	}
	if importSide {
		return s.exportCountry()
	}
	return s.importCountry()
}

func (s *shipment) packages(qty float64) string {
	if qty == s.qty && s.packDesc != "" {
		return s.packDesc
	}
	if qty == s.qty {
		return fmt.Sprintf("%d %s of %s %s", s.packs, s.prod.pack, num(s.prod.packSize), unitWord(s.prod.unit))
	}
	full := int(qty / s.prod.packSize)
	rest := qty - float64(full)*s.prod.packSize
	if rest < 0.05 {
		return fmt.Sprintf("%d %s of %s %s", full, s.prod.pack, num(s.prod.packSize), unitWord(s.prod.unit))
	}
	return fmt.Sprintf("%d %s of %s %s and 1 holding %s %s", full, s.prod.pack, num(s.prod.packSize), unitWord(s.prod.unit), num(rest), unitWord(s.prod.unit))
}

func unitWord(unit string) string {
	if unit == "LTR" {
		return "l"
	}
	return "kg"
}

// num formats a quantity without trailing zeros.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// round1 rounds to one decimal, as weighbridges and declarations do.
func round1(v float64) float64 { return math.Round(v*10) / 10 }

// add appends a leg; the submission follows the event by minutes to two
// hours, as a national system batches its messages.
func (g *generator) add(s *shipment, l *leg) *leg {
	l.s = s
	if l.qty == 0 {
		l.qty = s.qty
	}
	if l.packages == "" && l.kind != kindReply {
		l.packages = s.packages(l.qty)
	}
	l.submit = l.at.Add(g.between(10*time.Minute, 2*time.Hour))
	s.legs = append(s.legs, l)
	return l
}

// between draws a duration from [lo, hi) in whole minutes, so every time
// in the scenario reads like one an officer typed.
func (g *generator) between(lo, hi time.Duration) time.Duration {
	if n := int64((hi - lo) / time.Minute); n > 0 {
		return lo + time.Duration(g.r.Int64N(n))*time.Minute
	}
	return lo
}

// newShipment plans a shipment along a lane with its first event (the PEN,
// or the export declaration when there is none) around t0: dispatch 18 to
// 30 days later, arrival by the lane's transit time.
func (g *generator) newShipment(ln lane, exp, cons *company, packs int, t0 time.Time) *shipment {
	p := productByKey[ln.prod]
	if p == nil {
		p = caseProducts[ln.prod]
	}
	s := &shipment{
		prod: p, hs: p.hs, packs: packs, qty: float64(packs) * p.packSize,
		exporter: exp, importer: cons, consignee: cons, landed: cons, mode: ln.mode,
	}
	s.penAt = t0
	s.replyBy = t0.Add(15 * day)
	s.dispatch = t0.Truncate(day).Add(time.Duration(18+g.r.IntN(13))*day + g.between(6*time.Hour, 18*time.Hour))
	at := s.dispatch
	s.route = []stop{{locode: ln.ports[0]}}
	for i, port := range ln.ports[1:] {
		switch {
		case i == 0:
			at = at.Add(g.days(ln.days))
		case i == 1 && ln.hop2 != [2]int{}:
			at = at.Add(g.days(ln.hop2))
		default:
			at = at.Add(g.between(14*time.Hour, 36*time.Hour))
		}
		st := stop{locode: port, ftz: freeZones[port], at: at}
		if i < len(ln.legModes) {
			st.mode = ln.legModes[i]
		}
		s.route = append(s.route, st)
	}
	s.arrival = s.route[len(s.route)-1].at
	s.intermediaries = g.intermediaries(ln, s)
	s.exportAuth = g.number(exportAuthFormats, exp.country(), t0)
	s.importPermit = g.number(importPermitFormats, cons.country(), t0)
	s.value, s.payment = g.price(s)
	return s
}

// days draws a travel time from an inclusive range of days, plus up to 20
// hours.
func (g *generator) days(r [2]int) time.Duration {
	return time.Duration(r[0]+g.r.IntN(r[1]-r[0]+1))*day + g.between(0, 20*time.Hour)
}

// freeZones are the free-trade-zone places the injected routes use.
var freeZones = map[string]bool{"PAONX": true, "AEJEA": true}

// Authorisation number formats by issuing country; %d is the year, %0Nd a
// running number.
var (
	exportAuthFormats = map[string]string{
		"IN": "NCB-NOC-EXP-%d-%05d", "DE": "BfArM-AG-%d-%05d", "NL": "CIBG-EXP-%d-%05d",
		"CN": "MOFCOM-PX-%d-%06d", "US": "DEA-486-EXP-%d-%07d",
	}
	importPermitFormats = map[string]string{
		"US": "DEA-486-TIN-%d-IM-%07d", "MX": "COFEPRIS-IMP-%d-%06d", "DE": "BfArM-EG-%d-%05d",
		"NL": "CIBG-IMP-%d-%05d", "IN": "NCB-NOC-IMP-%d-%05d", "PA": "MINSA-DNFD-PQ-%d-%04d",
		"CO": "MINJUSTICIA-AI-%d-%05d", "GT": "MSPAS-DRCPFA-PI-%d-%04d",
	}
)

// number issues the next authorisation number of a country.
func (g *generator) number(formats map[string]string, country string, t time.Time) string {
	f, ok := formats[country]
	if !ok {
		return ""
	}
	key := f + "|" + strconv.Itoa(t.Year())
	g.seq[key]++
	return fmt.Sprintf(f, t.Year(), 100+g.seq[key]*7)
}

// price is the declared customs value and the payment terms.
func (g *generator) price(s *shipment) (*chemledgerv1.Money, string) {
	currency, perUnit := "USD", s.prod.price
	if isEU(s.exportCountry()) && isEU(s.importCountry()) {
		currency, perUnit = "EUR", perUnit*0.92
	}
	v := perUnit * s.qty * (0.92 + 0.16*g.r.Float64())
	terms := []string{"irrevocable letter of credit", "documentary collection (D/P)", "bank transfer, 30 days net", "bank transfer, 60 days net"}
	pay := terms[g.r.IntN(len(terms))]
	if s.mode == road || s.mode == rail {
		pay = "bank transfer, 30 days net"
	}
	return &chemledgerv1.Money{CurrencyCode: currency, Amount: fmt.Sprintf("%.2f", v)}, pay
}

func isEU(country string) bool { return country == "DE" || country == "NL" || country == "BE" }

// intermediaries picks the forwarders, brokers and trading houses of a
// lane: the exporter's forwarder, a third-country trader or forwarder on
// some chains, the forwarder at a transit port, the importer's broker.
func (g *generator) intermediaries(ln lane, s *shipment) []*company {
	var out []*company
	pick := func(p float64, match func(c *company) bool) {
		if g.r.Float64() >= p {
			return
		}
		var cands []*company
		for _, c := range g.companies {
			if c.role == forwarderRole && match(c) && !slices.Contains(out, c) {
				cands = append(cands, c)
			}
		}
		if len(cands) > 0 {
			out = append(out, cands[g.r.IntN(len(cands))])
		}
	}
	local := func(country string) func(*company) bool {
		return func(c *company) bool { return c.kind == localForwarder && c.country() == country }
	}
	pick(0.7, local(ln.from))
	if ln.from == "IN" && (slices.Contains(profiles["pharma"], ln.prod) || slices.Contains(profiles["fine"], ln.prod)) {
		pick(0.2, func(c *company) bool { return c.kind == traderIN })
	}
	if ln.from == "CN" && ln.mode == sea {
		pick(0.3, func(c *company) bool { return c.kind == nvoccCN })
	}
	for _, st := range s.route[1 : len(s.route)-1] {
		pick(1, local(st.country()))
	}
	pick(0.5, local(ln.to))
	return out
}

// Leg builders. Each takes the time the event happens.

func (g *generator) addPEN(s *shipment) {
	g.add(s, &leg{kind: kindPEN, at: s.penAt, country: s.reporter(s.exportCountry(), false),
		remarks: fmt.Sprintf("%s for %s. Point of entry %s.", s.prod.name, s.prod.use, portNames[s.route[len(s.route)-1].locode])})
}

func (g *generator) addReply(s *shipment, reply chemledgerv1.PenReply, at time.Time, remarks string) {
	if remarks == "" && reply == noObjection {
		remarks = fmt.Sprintf("No objection. The consignee holds licence %s for this chemical; the quantity fits its declared requirements.", s.consignee.licence)
	}
	g.add(s, &leg{kind: kindReply, at: at, country: s.reporter(s.importCountry(), true), reply: reply, remarks: remarks})
}

func (g *generator) addExport(s *shipment, at time.Time) {
	g.add(s, &leg{kind: kindExport, at: at, country: s.reporter(s.exportCountry(), false)})
}

// addTransits reports the intermediate stops that are in a member country.
func (g *generator) addTransits(s *shipment) {
	for i, st := range s.route[1 : len(s.route)-1] {
		if !isMember(st.country()) {
			continue
		}
		next := s.route[i+2]
		remarks := fmt.Sprintf("Discharged at %s and moved on under customs seal to %s; seals intact, packages counted.", portNames[st.locode], portNames[next.locode])
		if st.ftz {
			remarks = fmt.Sprintf("Moved into the %s under bond; declared onward destination %s.", portNames[st.locode], portNames[next.locode])
		}
		g.add(s, &leg{kind: kindTransit, at: st.at.Add(g.between(2*time.Hour, 8*time.Hour)), country: st.country(), remarks: remarks})
	}
}

func (g *generator) addImport(s *shipment, at time.Time) {
	g.add(s, &leg{kind: kindImport, at: at, country: s.reporter(s.importCountry(), true),
		remarks: "Released to the consignee's licensed premises."})
}

func (g *generator) addReceipt(s *shipment, at time.Time, qty float64) {
	g.add(s, &leg{kind: kindReceipt, at: at, country: s.reporter(s.importCountry(), true), qty: qty,
		remarks: "Receipt confirmed by the consignee against the import declaration."})
}

func (g *generator) addIncident(s *shipment, kind chemledgerv1.IncidentKind, country string, at time.Time, remarks string) {
	g.add(s, &leg{kind: kindIncident, at: at, country: country, incident: kind, remarks: remarks})
}

// exportToReceipt adds the legs from the export declaration on.
func (g *generator) exportToReceipt(s *shipment, received float64) {
	g.addExport(s, s.dispatch.Add(-g.between(3*time.Hour, 20*time.Hour)))
	g.addTransits(s)
	imp := s.arrival.Add(g.between(3*time.Hour, 30*time.Hour))
	g.addImport(s, imp)
	g.addReceipt(s, imp.Add(g.between(20*time.Hour, 7*day)), received)
}

// weighed is the quantity a consignee confirms for a legitimate shipment:
// usually the declared one, sometimes a weighbridge figure a little short
// (never more than 0.08 %, well inside any rule's tolerance).
func (g *generator) weighed(qty float64) float64 {
	if g.r.IntN(5) != 0 {
		return qty
	}
	w := round1(qty * (1 - 0.0008*g.r.Float64()))
	if w <= 0 || qty-w > 0.0008*qty {
		return qty
	}
	return w
}

// nationalHS extends an HS subheading the way the reporting country's
// tariff does (EU CN 8 digits, US HTS and China 10, others 8). The
// extensions are illustrative; rules compare the first six digits.
func nationalHS(hs6, country string) string {
	switch country {
	case "US", "CN":
		return hs6 + "0000"
	default:
		return hs6 + "00"
	}
}

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func clone(c *company) *chemledgerv1.Party {
	return proto.Clone(c.party).(*chemledgerv1.Party)
}

// event builds the ShipmentEvent of a leg, once the shipment reference and
// the event id are known. Every event gets its own copies of parties.
func (l *leg) event(id string) *chemledgerv1.ShipmentEvent {
	s := l.s
	hs := s.hs
	switch l.kind {
	case kindPEN, kindExport:
		hs = nationalHS(s.hs, s.exportCountry())
	case kindImport, kindReceipt:
		hs = nationalHS(s.hs, s.importCountry())
	}
	ev := &chemledgerv1.ShipmentEvent{
		EventId:     id,
		Kind:        l.kind,
		ShipmentRef: s.ref,
		Chemical: &chemledgerv1.Chemical{
			Cas: s.prod.cas, HsCode: hs, Name: s.prod.name, Form: s.prod.form, ConcentrationPercent: s.prod.conc,
		},
		Quantity:        &chemledgerv1.Quantity{Value: l.qty, Unit: s.prod.unit},
		Exporter:        clone(s.exporter),
		Importer:        clone(s.importer),
		Consignee:       clone(s.consignee),
		OccurredTime:    ts(l.at),
		Remarks:         l.remarks,
		LocationCountry: l.country,
		Packages:        l.packages,
	}
	if l.kind == kindImport || l.kind == kindReceipt {
		ev.Consignee = clone(s.landed)
	}
	if l.kind != kindReply && l.kind != kindReceipt && l.kind != kindIncident {
		for _, c := range s.intermediaries {
			ev.Intermediaries = append(ev.Intermediaries, clone(c))
		}
		ev.TransportMode = s.mode
		for _, st := range s.route {
			rl := &chemledgerv1.RouteLeg{Locode: st.locode, FreeTradeZone: st.ftz, TransportMode: st.mode}
			if !st.at.IsZero() {
				rl.ArrivalTime = ts(st.at)
			}
			ev.Route = append(ev.Route, rl)
		}
	}
	exportAuth := &chemledgerv1.Authorisation{Kind: chemledgerv1.AuthorisationKind_AUTHORISATION_KIND_EXPORT_AUTHORISATION, Number: s.exportAuth, IssuingCountry: s.exportCountry()}
	importPermit := &chemledgerv1.Authorisation{Kind: chemledgerv1.AuthorisationKind_AUTHORISATION_KIND_IMPORT_PERMIT, Number: s.importPermit, IssuingCountry: s.importCountry()}
	auths := func(as ...*chemledgerv1.Authorisation) {
		for _, a := range as {
			if a.Number != "" {
				ev.Authorisations = append(ev.Authorisations, proto.Clone(a).(*chemledgerv1.Authorisation))
			}
		}
	}
	switch l.kind {
	case kindPEN:
		ev.DispatchTime = ts(s.dispatch.Truncate(day))
		ev.ArrivalTime = ts(s.arrival.Truncate(day))
		ev.ReplyByTime = ts(s.replyBy)
		auths(exportAuth, importPermit)
	case kindReply:
		ev.PenReply = l.reply
		auths(importPermit)
	case kindExport:
		ev.DispatchTime = ts(s.dispatch)
		ev.ArrivalTime = ts(s.arrival)
		auths(exportAuth, importPermit)
		ev.DeclaredValue = proto.Clone(s.value).(*chemledgerv1.Money)
		ev.PaymentMethod = s.payment
	case kindTransit:
		ev.ArrivalTime = ts(s.arrival)
	case kindImport:
		ev.DispatchTime = ts(s.dispatch)
		ev.ArrivalTime = ts(s.arrival)
		auths(exportAuth, importPermit)
		ev.DeclaredValue = proto.Clone(s.value).(*chemledgerv1.Money)
		ev.PaymentMethod = s.payment
	case kindIncident:
		ev.IncidentKind = l.incident
	}
	if s.ucr {
		// Without a PEN there was no export authorisation either.
		ev.Authorisations = nil
	}
	if relayed := l.relayedFrom(); relayed != "" {
		ev.Remarks = fmt.Sprintf("Relayed by %s from PEN Online for %s, which is not a coalition member. %s", members[l.country], countryNames[relayed], ev.Remarks)
	}
	return ev
}

// relayedFrom is the non-member country where a relayed leg really
// happened, or "".
func (l *leg) relayedFrom() string {
	var where string
	switch l.kind {
	case kindPEN, kindExport:
		where = l.s.exportCountry()
	case kindReply, kindImport, kindReceipt:
		where = l.s.importCountry()
	default:
		return ""
	}
	if where == l.country {
		return ""
	}
	return where
}

var countryNames = map[string]string{"CO": "Colombia", "GT": "Guatemala"}
