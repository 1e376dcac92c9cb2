// Package examples_test checks the demo data. In events.jsonl every line is
// a strictly valid ShipmentEvent in protojson, and the shipments it tells are
// internally consistent and still carry the diversion patterns the README
// describes. In registry.jsonl every line is a valid RegistryEntry, and the
// licences name exactly the importers and consignees the README says are
// licensed.
package examples_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/eventfile"
	"github.com/chemledger/chemledger/internal/refdata"
	"github.com/chemledger/chemledger/internal/validate"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// memberCountries are the countries of the demo members that sign the lines
// (each line is signed by the demo member of its locationCountry).
var memberCountries = func() map[string]bool {
	m := map[string]bool{}
	for _, d := range datadir.DemoMembers {
		m[d.Country] = true
	}
	return m
}()

var (
	hsRE     = regexp.MustCompile(`^\d{6}(\d{2,4})?$`)
	locodeRE = regexp.MustCompile(`^[A-Z]{2}[A-Z2-9]{3}$`)
	amountRE = regexp.MustCompile(`^\d+\.\d{2}$`)
	units    = map[string]bool{"KGM": true, "GRM": true, "TNE": true, "LTR": true, "MLT": true}
)

// rank orders the lifecycle kinds of one shipment; incidents may come at any
// point after the first event and are not ranked.
var rank = map[chemledgerv1.EventKind]int{
	chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION: 1,
	chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY:               2,
	chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION:      3,
	chemledgerv1.EventKind_EVENT_KIND_TRANSIT:                 4,
	chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION:      5,
	chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:    6,
}

type line struct {
	n  int // 1-based line number
	ev *chemledgerv1.ShipmentEvent
}

func load(t *testing.T) []line {
	t.Helper()
	data, err := os.ReadFile("events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out []line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Bytes()
		if len(bytes.TrimSpace(raw)) == 0 {
			t.Fatalf("line %d: blank line", n)
		}
		if !json.Valid(raw) || raw[0] != '{' {
			t.Fatalf("line %d: not one JSON object", n)
		}
		ev := &chemledgerv1.ShipmentEvent{}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(raw, ev); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		out = append(out, line{n, ev})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("file does not end with a newline")
	}
	return out
}

func checkParty(t *testing.T, n int, role string, p *chemledgerv1.Party) {
	t.Helper()
	if p.GetName() == "" || p.GetAddress() == "" || !refdata.IsCountry(p.GetCountry()) {
		t.Errorf("line %d: %s needs name, address and ISO alpha-2 country: %v", n, role, p)
	}
	for _, id := range p.GetIdentifiers() {
		if id.GetScheme() == "" || id.GetValue() == "" {
			t.Errorf("line %d: %s has an empty identifier", n, role)
		}
	}
}

func TestEventsAreValid(t *testing.T) {
	lines := load(t)
	if len(lines) < 30 || len(lines) > 45 {
		t.Errorf("got %d lines, want 30-45", len(lines))
	}
	// Lines are in occurredTime order, as the ledger would receive them.
	for i := 1; i < len(lines); i++ {
		if lines[i].ev.GetOccurredTime().AsTime().Before(lines[i-1].ev.GetOccurredTime().AsTime()) {
			t.Errorf("line %d occurred before line %d: keep the file in occurredTime order", lines[i].n, lines[i-1].n)
		}
	}
	lo := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	hi := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]int{}
	for _, l := range lines {
		e, n := l.ev, l.n
		if e.GetEventId() == "" {
			t.Errorf("line %d: no eventId", n)
		} else if prev, dup := seen[e.GetEventId()]; dup {
			t.Errorf("line %d: eventId %q already used on line %d", n, e.GetEventId(), prev)
		}
		seen[e.GetEventId()] = n
		if err := validate.Event(e); err != nil {
			t.Errorf("line %d: validate.Event: %v", n, err)
		}
		if e.GetShipmentRef() == "" {
			t.Errorf("line %d: no shipmentRef", n)
		}
		if e.GetKind() == chemledgerv1.EventKind_EVENT_KIND_UNSPECIFIED {
			t.Errorf("line %d: kind unspecified", n)
		}
		if !memberCountries[e.GetLocationCountry()] {
			t.Errorf("line %d: locationCountry %q is not a demo member's country", n, e.GetLocationCountry())
		}
		if len(e.GetReferences()) != 0 {
			t.Errorf("line %d: references must not be set (log indexes are unknown in advance)", n)
		}

		// Times.
		if e.GetOccurredTime() == nil {
			t.Errorf("line %d: no occurredTime", n)
		} else if ot := e.GetOccurredTime().AsTime(); ot.Before(lo) || !ot.Before(hi) {
			t.Errorf("line %d: occurredTime %v outside 1990-2100", n, ot)
		}
		if e.GetDispatchTime() != nil && e.GetArrivalTime() != nil &&
			e.GetArrivalTime().AsTime().Before(e.GetDispatchTime().AsTime()) {
			t.Errorf("line %d: arrival before dispatch", n)
		}

		// Chemical and quantity, against the ledger's reference data.
		c := e.GetChemical()
		if !refdata.ValidCASFormat(c.GetCas()) || !refdata.ValidCASCheckDigit(c.GetCas()) {
			t.Errorf("line %d: CAS %q malformed or bad check digit", n, c.GetCas())
		}
		if !hsRE.MatchString(c.GetHsCode()) {
			t.Errorf("line %d: hsCode %q is not 6, 8, 9 or 10 digits", n, c.GetHsCode())
		} else if ref, ok := refdata.ChemicalByCAS(c.GetCas()); !ok {
			t.Errorf("line %d: CAS %s not in the chemical catalogue", n, c.GetCas())
		} else if !slices.Contains(ref.HS, c.GetHsCode()[:6]) {
			t.Errorf("line %d: hsCode %s does not fall in %v for CAS %s", n, c.GetHsCode(), ref.HS, c.GetCas())
		}
		if c.GetName() == "" {
			t.Errorf("line %d: chemical has no name", n)
		}
		if p := c.GetConcentrationPercent(); p < 0 || p > 100 {
			t.Errorf("line %d: concentrationPercent %v out of range", n, p)
		}
		q := e.GetQuantity()
		if _, known := refdata.UnitByCode(q.GetUnit()); q.GetValue() <= 0 || !units[q.GetUnit()] || !known {
			t.Errorf("line %d: bad quantity %v", n, q)
		}

		// Parties.
		switch e.GetKind() {
		case chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION,
			chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION,
			chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION:
			if e.GetExporter() == nil || e.GetImporter() == nil || e.GetConsignee() == nil {
				t.Errorf("line %d: %v needs exporter, importer and consignee", n, e.GetKind())
			}
		case chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
			if e.GetConsignee() == nil {
				t.Errorf("line %d: receipt confirmation needs the consignee", n)
			}
		}
		for role, p := range map[string]*chemledgerv1.Party{
			"exporter": e.GetExporter(), "importer": e.GetImporter(), "consignee": e.GetConsignee(),
		} {
			if p != nil {
				checkParty(t, n, role, p)
			}
		}
		for i, p := range e.GetIntermediaries() {
			checkParty(t, n, fmt.Sprintf("intermediary[%d]", i), p)
		}
		for _, r := range e.GetRoute() {
			if !locodeRE.MatchString(r.GetLocode()) {
				t.Errorf("line %d: bad locode %q", n, r.GetLocode())
			}
		}
		for _, a := range e.GetAuthorisations() {
			if a.GetKind() == chemledgerv1.AuthorisationKind_AUTHORISATION_KIND_UNSPECIFIED ||
				a.GetNumber() == "" || !refdata.IsCountry(a.GetIssuingCountry()) {
				t.Errorf("line %d: bad authorisation %v", n, a)
			}
		}

		// Kind-specific fields.
		isPEN := e.GetKind() == chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION
		isReply := e.GetKind() == chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY
		isIncident := e.GetKind() == chemledgerv1.EventKind_EVENT_KIND_INCIDENT
		isDecl := e.GetKind() == chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION ||
			e.GetKind() == chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION
		if isReply != (e.GetPenReply() != chemledgerv1.PenReply_PEN_REPLY_UNSPECIFIED) {
			t.Errorf("line %d: penReply must be set on, and only on, PEN replies", n)
		}
		if isIncident != (e.GetIncidentKind() != chemledgerv1.IncidentKind_INCIDENT_KIND_UNSPECIFIED) {
			t.Errorf("line %d: incidentKind must be set on, and only on, incidents", n)
		}
		if isPEN {
			if e.GetReplyByTime() == nil || e.GetDispatchTime() == nil || e.GetArrivalTime() == nil {
				t.Errorf("line %d: PEN needs replyByTime, dispatchTime and arrivalTime", n)
			} else if d := e.GetReplyByTime().AsTime().Sub(e.GetOccurredTime().AsTime()); d != 15*24*time.Hour {
				t.Errorf("line %d: replyByTime is %v after the PEN, want 15 days", n, d)
			}
		} else if e.GetReplyByTime() != nil {
			t.Errorf("line %d: replyByTime on a %v", n, e.GetKind())
		}
		if isDecl {
			if e.GetDispatchTime() == nil || e.GetArrivalTime() == nil {
				t.Errorf("line %d: declaration needs dispatchTime and arrivalTime", n)
			}
			v := e.GetDeclaredValue()
			if v.GetCurrencyCode() != "USD" || !amountRE.MatchString(v.GetAmount()) {
				t.Errorf("line %d: declaration needs declaredValue in USD with 2 decimals, got %v", n, v)
			}
		}
		if e.GetRemarks() == "" {
			t.Errorf("line %d: no remarks", n)
		}
	}
}

func TestShipmentsAreConsistent(t *testing.T) {
	lines := load(t)
	byRef := map[string][]line{}
	var refs []string
	for _, l := range lines {
		r := l.ev.GetShipmentRef()
		if _, ok := byRef[r]; !ok {
			refs = append(refs, r)
		}
		byRef[r] = append(byRef[r], l)
	}
	for _, ref := range refs {
		legs := byRef[ref]
		first := legs[0].ev
		if first.GetKind() != chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION {
			t.Errorf("%s: first leg (line %d) is %v, want the PEN", ref, legs[0].n, first.GetKind())
		}
		exporterCountry := first.GetExporter().GetCountry()
		importerCountry := first.GetImporter().GetCountry()
		maxRank := 0
		for i, l := range legs {
			e := l.ev
			// File order is submission order: it must follow occurredTime.
			if i > 0 && e.GetOccurredTime().AsTime().Before(legs[i-1].ev.GetOccurredTime().AsTime()) {
				t.Errorf("%s: line %d occurred before line %d", ref, l.n, legs[i-1].n)
			}
			if r, ok := rank[e.GetKind()]; ok {
				if r < maxRank {
					t.Errorf("%s: line %d (%v) comes after a later stage", ref, l.n, e.GetKind())
				}
				maxRank = max(maxRank, r)
			}
			if e.GetChemical().GetCas() != first.GetChemical().GetCas() {
				t.Errorf("%s: line %d CAS %s differs from the PEN's %s", ref, l.n, e.GetChemical().GetCas(), first.GetChemical().GetCas())
			}
			if e.GetQuantity().GetUnit() != first.GetQuantity().GetUnit() {
				t.Errorf("%s: line %d unit differs from the PEN's", ref, l.n)
			}
			if e.GetExporter() != nil && e.GetExporter().GetName() != first.GetExporter().GetName() {
				t.Errorf("%s: line %d exporter differs from the PEN's", ref, l.n)
			}
			if e.GetImporter() != nil && e.GetImporter().GetName() != first.GetImporter().GetName() {
				t.Errorf("%s: line %d importer differs from the PEN's", ref, l.n)
			}
			// Who reports what.
			var want string
			switch e.GetKind() {
			case chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION,
				chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION:
				want = exporterCountry
			case chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY,
				chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION,
				chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
				want = importerCountry
			case chemledgerv1.EventKind_EVENT_KIND_TRANSIT:
				if c := e.GetLocationCountry(); c == exporterCountry || c == importerCountry {
					t.Errorf("%s: line %d transit reported by %s, an end country", ref, l.n, c)
				}
			}
			if want != "" && e.GetLocationCountry() != want {
				t.Errorf("%s: line %d %v reported by %s, want %s", ref, l.n, e.GetKind(), e.GetLocationCountry(), want)
			}
		}
	}
	if len(refs) < 3 {
		t.Errorf("only %d shipments", len(refs))
	}
	countries := map[string]bool{}
	for _, l := range lines {
		countries[l.ev.GetLocationCountry()] = true
	}
	if len(countries) < 3 {
		t.Errorf("events reported from only %d countries", len(countries))
	}
}

// TestDiversionPatternsPresent pins the patterns the README promises, so an
// edit to the data cannot silently remove them.
func TestDiversionPatternsPresent(t *testing.T) {
	lines := load(t)
	find := func(ref string, kind chemledgerv1.EventKind) []*chemledgerv1.ShipmentEvent {
		var out []*chemledgerv1.ShipmentEvent
		for _, l := range lines {
			if l.ev.GetShipmentRef() == ref && l.ev.GetKind() == kind {
				out = append(out, l.ev)
			}
		}
		return out
	}
	one := func(ref string, kind chemledgerv1.EventKind) *chemledgerv1.ShipmentEvent {
		t.Helper()
		evs := find(ref, kind)
		if len(evs) == 0 {
			t.Fatalf("%s: no %v", ref, kind)
		}
		return evs[0]
	}

	// Shipment 1: 4-AP via Colón Free Zone, consignee changed, 500 -> 430 kg, seizure.
	const a = "PEN-CN-2026-000871"
	pen := one(a, chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION)
	exp := one(a, chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION)
	imp := one(a, chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION)
	rec := one(a, chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION)
	inc := one(a, chemledgerv1.EventKind_EVENT_KIND_INCIDENT)
	if pen.GetConsignee().GetName() == imp.GetConsignee().GetName() {
		t.Errorf("%s: consignee should change between PEN and import", a)
	}
	if !(rec.GetQuantity().GetValue() < exp.GetQuantity().GetValue()) {
		t.Errorf("%s: receipt %v should be less than export %v", a, rec.GetQuantity().GetValue(), exp.GetQuantity().GetValue())
	}
	ftz := false
	for _, r := range exp.GetRoute() {
		ftz = ftz || r.GetFreeTradeZone()
	}
	if !ftz {
		t.Errorf("%s: route should pass a free-trade zone", a)
	}
	if inc.GetIncidentKind() != chemledgerv1.IncidentKind_INCIDENT_KIND_SEIZURE {
		t.Errorf("%s: incident should be a seizure", a)
	}

	// Shipment 2: pseudoephedrine, clean: no objection, full quantity received.
	const b = "PEN-IN-2026-001204"
	if one(b, chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY).GetPenReply() != chemledgerv1.PenReply_PEN_REPLY_NO_OBJECTION {
		t.Errorf("%s: reply should be no objection", b)
	}
	if one(b, chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION).GetQuantity().GetValue() !=
		one(b, chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION).GetQuantity().GetValue() {
		t.Errorf("%s: receipt should match export", b)
	}
	if len(find(b, chemledgerv1.EventKind_EVENT_KIND_INCIDENT)) != 0 {
		t.Errorf("%s: clean shipment has an incident", b)
	}

	// Shipment 3: P-2-P, objection, then export and transit anyway.
	const c = "PEN-DE-2026-000317"
	reply := one(c, chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY)
	if reply.GetPenReply() != chemledgerv1.PenReply_PEN_REPLY_OBJECTION {
		t.Errorf("%s: reply should be an objection", c)
	}
	tr := one(c, chemledgerv1.EventKind_EVENT_KIND_TRANSIT)
	if !tr.GetOccurredTime().AsTime().After(reply.GetOccurredTime().AsTime()) {
		t.Errorf("%s: transit should come after the objection", c)
	}

	// Structuring: ephedrine PENs just under 50 kg, one consignee, several suppliers.
	exporters := map[string]bool{}
	var total float64
	for _, l := range lines {
		e := l.ev
		if e.GetKind() != chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION || e.GetChemical().GetCas() != "299-42-3" {
			continue
		}
		if e.GetConsignee().GetName() != "Distribuidora Farmacéutica Atlántico S.A." {
			t.Errorf("line %d: structuring PEN to another consignee", l.n)
		}
		if v := e.GetQuantity().GetValue(); v >= 50 || v < 45 {
			t.Errorf("line %d: structuring PEN quantity %v not just under 50 kg", l.n, v)
		}
		total += e.GetQuantity().GetValue()
		exporters[e.GetExporter().GetCountry()] = true
	}
	if len(exporters) < 3 || total < 50 {
		t.Errorf("structuring: %d exporter countries, %v kg in total", len(exporters), total)
	}
}

// The registry: registry.jsonl holds the licences, the annual requirement
// and the watch-list entry that events.jsonl is judged against, so it is
// submitted first.

// substitute is the unlicensed consignee the 4-AP shipment's import
// declaration names instead of the licensed importer; R6 must find no
// licence for it.
var substitute = partyName{"Comercializadora Agroindustrial del Noroeste S.A. de C.V.", "MX"}

// p2pImporter holds a licence, for solvents only: Mexico's objection says it
// has no permit for P-2-P.
var p2pImporter = partyName{"Solventes y Aromáticos del Bajío S.A. de C.V.", "MX"}

type partyName struct{ name, country string }

func nameOf(p *chemledgerv1.Party) partyName { return partyName{p.GetName(), p.GetCountry()} }

type regLine struct {
	n int
	e *chemledgerv1.RegistryEntry
}

func loadRegistry(t *testing.T) []regLine {
	t.Helper()
	data, err := os.ReadFile("registry.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("registry.jsonl does not end with a newline")
	}
	for i, raw := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if !json.Valid(raw) || !bytes.HasPrefix(raw, []byte("{")) {
			t.Fatalf("registry.jsonl line %d: not one JSON object", i+1)
		}
	}
	var out []regLine
	for l := range eventfile.ReadRegistry(bytes.NewReader(data)) {
		if l.Err != nil {
			t.Fatalf("registry.jsonl: %v", l.Err)
		}
		out = append(out, regLine{l.Number, l.Entry})
	}
	if len(out) == 0 {
		t.Fatal("registry.jsonl is empty")
	}
	return out
}

// licensedFor reports whether a licence in reg names p, as R6 matches (by
// normalised name and country, or by a licence number among p's
// identifiers), and covers cas at time at.
func licensedFor(reg []regLine, p *chemledgerv1.Party, cas string, at time.Time) bool {
	for _, r := range reg {
		l := r.e.GetLicence()
		if l == nil || !names(l, p) || !slices.Contains(l.GetCas(), cas) {
			continue
		}
		if !at.Before(l.GetValidFrom().AsTime()) && !at.After(l.GetValidUntil().AsTime()) {
			return true
		}
	}
	return false
}

// names reports whether licence l names party p.
func names(l *chemledgerv1.Licence, p *chemledgerv1.Party) bool {
	h := l.GetHolder()
	if detect.NormalizeName(h.GetName()) == detect.NormalizeName(p.GetName()) && h.GetCountry() == p.GetCountry() {
		return true
	}
	for _, id := range p.GetIdentifiers() {
		if id.GetValue() == l.GetNumber() || slices.ContainsFunc(h.GetIdentifiers(), func(hid *chemledgerv1.Identifier) bool {
			return hid.GetScheme() == id.GetScheme() && hid.GetValue() == id.GetValue()
		}) {
			return true
		}
	}
	return false
}

func TestRegistryIsValid(t *testing.T) {
	reg := loadRegistry(t)
	y2026 := [2]time.Time{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)}
	seen := map[string]int{}
	var licences, alrs, watch int
	for _, r := range reg {
		e, n := r.e, r.n
		if err := validate.RegistryEntry(e); err != nil {
			t.Errorf("line %d: validate.RegistryEntry: %v", n, err)
		}
		if prev, dup := seen[e.GetEntryId()]; dup {
			t.Errorf("line %d: entryId %q already used on line %d", n, e.GetEntryId(), prev)
		}
		seen[e.GetEntryId()] = n
		member, err := eventfile.DemoMemberForRegistry(e)
		if err != nil {
			t.Errorf("line %d: %v", n, err)
		} else if !strings.HasPrefix(e.GetEntryId(), member+"-") {
			t.Errorf("line %d: entryId %q does not start with its reporting member %s", n, e.GetEntryId(), member)
		}
		switch {
		case e.GetLicence() != nil:
			licences++
			l := e.GetLicence()
			if l.GetHolder().GetCountry() != l.GetIssuingCountry() {
				t.Errorf("line %d: licence %s issued by %s to a holder in %s", n, l.GetNumber(), l.GetIssuingCountry(), l.GetHolder().GetCountry())
			}
			if !slices.ContainsFunc(l.GetHolder().GetIdentifiers(), func(id *chemledgerv1.Identifier) bool {
				return id.GetScheme() == "LICENCE" && id.GetValue() == l.GetNumber()
			}) {
				t.Errorf("line %d: holder of licence %s has no LICENCE identifier with that number", n, l.GetNumber())
			}
			if l.GetValidFrom().AsTime().After(y2026[0]) || l.GetValidUntil().AsTime().Before(y2026[1]) {
				t.Errorf("line %d: licence %s valid %v to %v, want all of 2026", n, l.GetNumber(), l.GetValidFrom().AsTime(), l.GetValidUntil().AsTime())
			}
			if l.GetRevoked() {
				t.Errorf("line %d: licence %s is revoked", n, l.GetNumber())
			}
		case e.GetAnnualRequirement() != nil:
			alrs++
		case e.GetWatchListEntry() != nil:
			watch++
			if w := e.GetWatchListEntry(); w.GetList() != "ILLUSTRATIVE-WATCHLIST" || w.GetReason() == "" || w.GetRemoved() {
				t.Errorf("line %d: watch-list entry on list %q, reason %q, removed %v; want an ILLUSTRATIVE-WATCHLIST listing with a reason", n, w.GetList(), w.GetReason(), w.GetRemoved())
			}
		}
	}
	if licences == 0 || alrs == 0 || watch == 0 {
		t.Errorf("registry holds %d licences, %d annual requirements, %d watch-list entries; want at least one of each", licences, alrs, watch)
	}
}

func TestRegistryMatchesEvents(t *testing.T) {
	reg := loadRegistry(t)
	lines := load(t)

	// Who the events name, and as what.
	traders := map[partyName]bool{} // importers and consignees
	everyone := map[partyName]bool{}
	for _, l := range lines {
		e := l.ev
		for _, p := range []*chemledgerv1.Party{e.GetImporter(), e.GetConsignee()} {
			if p != nil {
				traders[nameOf(p)] = true
			}
		}
		for _, p := range append([]*chemledgerv1.Party{e.GetExporter(), e.GetImporter(), e.GetConsignee()}, e.GetIntermediaries()...) {
			if p != nil {
				everyone[nameOf(p)] = true
			}
		}
	}

	licensed := map[partyName]bool{}
	for _, r := range reg {
		if l := r.e.GetLicence(); l != nil {
			h := nameOf(l.GetHolder())
			if !traders[h] {
				t.Errorf("line %d: licence holder %v is no importer or consignee in events.jsonl", r.n, h)
			}
			if h == substitute {
				t.Errorf("line %d: licence %s for %v, the substitute consignee that must stay unlicensed", r.n, l.GetNumber(), h)
			}
			licensed[h] = true
		}
		if w := r.e.GetWatchListEntry(); w != nil {
			for p := range everyone {
				if s := detect.Similarity(detect.NormalizeName(w.GetParty().GetName()), detect.NormalizeName(p.name)); s >= 0.8 {
					t.Errorf("line %d: watch-listed %q is %.2f similar to %v in events.jsonl; it should be fictional and unrelated", r.n, w.GetParty().GetName(), s, p)
				}
			}
		}
	}
	for p := range traders {
		if p != substitute && !licensed[p] {
			t.Errorf("%v, an importer or consignee in events.jsonl, holds no licence", p)
		}
	}

	// Every consignee that declares an import or confirms a receipt holds
	// a licence for the chemical on that day, except the two R6 is meant
	// to find.
	for _, l := range lines {
		e := l.ev
		switch e.GetKind() {
		case chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION, chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
		default:
			continue
		}
		c, cas, at := e.GetConsignee(), e.GetChemical().GetCas(), e.GetOccurredTime().AsTime()
		got := licensedFor(reg, c, cas, at)
		if want := nameOf(c) != substitute && nameOf(c) != p2pImporter; got != want {
			t.Errorf("line %d: consignee %v licensed for %s on %s = %v, want %v", l.n, nameOf(c), cas, at.Format(time.DateOnly), got, want)
		}
	}
}

// TestRegistryR6 runs the detection engine over registry.jsonl then
// events.jsonl, in file order, as the log would receive them.
func TestRegistryR6(t *testing.T) {
	reg := loadRegistry(t)
	lines := load(t)
	r6 := func(registers ...string) []string {
		p := detect.DefaultPolicy()
		p.LicenceRegisters.Countries = append(p.LicenceRegisters.Countries, registers...)
		e, s := detect.NewEngine(p), detect.NewState()
		var idx uint64
		var refs []string
		collect := func(flags []detect.Flag) {
			for _, f := range flags {
				if f.RuleID == "R6" {
					refs = append(refs, f.ShipmentRef)
				}
				if strings.HasPrefix(f.RuleID, "R27") || f.ShipmentRef == "PEN-IN-2026-001204" {
					t.Errorf("unexpected flag %s on %s: %s", f.RuleID, f.ShipmentRef, f.Explanation)
				}
			}
		}
		for _, r := range reg {
			collect(e.Apply(s, detect.Record{Index: idx, Time: r.e.GetEffectiveTime().AsTime(), Registry: r.e}))
			idx++
		}
		for _, l := range lines {
			collect(e.Apply(s, detect.Record{Index: idx, Time: l.ev.GetOccurredTime().AsTime(), Event: l.ev}))
			idx++
		}
		slices.Sort(refs)
		return slices.Compact(refs)
	}
	// The default policy's complete registers include the US and Mexico:
	// R6 finds the substitute consignee and the P-2-P importer, and the
	// clean pseudoephedrine shipment's US consignee is licensed.
	if got, want := r6(), []string{"PEN-CN-2026-000871", "PEN-DE-2026-000317"}; !slices.Equal(got, want) {
		t.Errorf("R6 under the default policy flags %v, want %v", got, want)
	}
	// Were Mexico's and Panama's registers complete, R6 would find the
	// substitute consignee and the P-2-P importer, and no one else.
	if got, want := r6("MX", "PA"), []string{"PEN-CN-2026-000871", "PEN-DE-2026-000317"}; !slices.Equal(got, want) {
		t.Errorf("R6 with MX and PA registers flags %v, want %v", got, want)
	}
}
