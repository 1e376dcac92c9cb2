// Package validate checks a ShipmentEvent against the API contract before it
// is accepted into the ledger. It answers with every violation it finds at
// once, each with the proto field path, so a customs system can fix a
// declaration in one round trip.
//
// It checks shape and reference data only: that a CAS number is in the
// catalogue, that codes are assigned, that values are in range. It does not
// judge plausibility (an HS code that does not match the CAS, a quantity that
// does not match the export): those are detection rules, and rejecting such
// events here would hide exactly what detection is meant to find.
//
// It must not consult the log's history.
package validate

import (
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/internal/badinput"
	"github.com/chemledger/chemledger/internal/refdata"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Event returns nil if ev is a valid shipment event, and otherwise a
// *badinput.Error listing every violation, with field paths such as
// "event.chemical.cas" or "event.route[2].locode".
func Event(ev *v1.ShipmentEvent) error {
	c := &checker{}
	c.event(ev)
	return c.l.Err()
}

type checker struct{ l badinput.List }

func (c *checker) add(field, format string, args ...any) { c.l.Add(field, format, args...) }

// kindNames are the kinds as they read in a message, with their article.
var kindNames = map[v1.EventKind]string{
	v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION: "a pre-export notification",
	v1.EventKind_EVENT_KIND_PEN_REPLY:               "a PEN reply",
	v1.EventKind_EVENT_KIND_EXPORT_DECLARATION:      "an export declaration",
	v1.EventKind_EVENT_KIND_TRANSIT:                 "a transit event",
	v1.EventKind_EVENT_KIND_IMPORT_DECLARATION:      "an import declaration",
	v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:    "a receipt confirmation",
	v1.EventKind_EVENT_KIND_INCIDENT:                "an incident",
}

// needsQuantity lists the kinds that report goods moving. A PEN reply
// answers a notification that carries the quantity, and an incident may
// have none to give: a shipment stopped on its papers, or an attempted
// purchase, was never weighed.
var needsQuantity = map[v1.EventKind]bool{
	v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION: true,
	v1.EventKind_EVENT_KIND_EXPORT_DECLARATION:      true,
	v1.EventKind_EVENT_KIND_TRANSIT:                 true,
	v1.EventKind_EVENT_KIND_IMPORT_DECLARATION:      true,
	v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:    true,
}

func (c *checker) event(ev *v1.ShipmentEvent) {
	if ev == nil {
		c.add("event", "is required")
		return
	}
	kind := ev.GetKind()
	kindName, kindKnown := kindNames[kind]
	switch {
	case kind == v1.EventKind_EVENT_KIND_UNSPECIFIED:
		c.add("event.kind", "is required: say what happened (pre-export notification, PEN reply, export declaration, transit, import declaration, receipt confirmation or incident)")
	case !kindKnown:
		c.add("event.kind", "%d is not a known event kind", int32(kind))
	}

	c.text("event.event_id", ev.GetEventId(), true, MaxEventIDChars, printable)
	c.shipmentRef(ev.GetShipmentRef())
	c.chemical(ev.GetChemical())

	switch q := ev.GetQuantity(); {
	case q != nil:
		c.quantity(q)
	case needsQuantity[kind]:
		c.add("event.quantity", "is required for %s", kindName)
	}

	c.parties(ev, kind, kindName)

	if n := len(ev.GetIntermediaries()); n > MaxIntermediaries {
		c.add("event.intermediaries", "has %d entries; at most %d are allowed", n, MaxIntermediaries)
	} else {
		for i, p := range ev.GetIntermediaries() {
			if p == nil {
				p = &v1.Party{}
			}
			c.party(fmt.Sprintf("event.intermediaries[%d]", i), p)
		}
	}

	if n := len(ev.GetRoute()); n > MaxRouteLegs {
		c.add("event.route", "has %d legs; at most %d are allowed", n, MaxRouteLegs)
	} else {
		for i, leg := range ev.GetRoute() {
			f := fmt.Sprintf("event.route[%d]", i)
			c.locode(f+".locode", leg.GetLocode())
			c.transportMode(f+".transport_mode", leg.GetTransportMode())
			c.timestamp(f+".arrival_time", leg.GetArrivalTime(), false)
		}
	}
	c.transportMode("event.transport_mode", ev.GetTransportMode())

	c.timestamp("event.occurred_time", ev.GetOccurredTime(), true)
	dispatchOK := c.timestamp("event.dispatch_time", ev.GetDispatchTime(), false)
	arrivalOK := c.timestamp("event.arrival_time", ev.GetArrivalTime(), false)
	if dispatchOK && arrivalOK {
		d, a := ev.GetDispatchTime().AsTime(), ev.GetArrivalTime().AsTime()
		if a.Before(d) {
			c.add("event.arrival_time", "%s is before dispatch_time %s", a.Format(timeLayout), d.Format(timeLayout))
		}
	}
	c.timestamp("event.reply_by_time", ev.GetReplyByTime(), false)

	c.penReply(ev.GetPenReply(), kind, kindKnown, kindName)
	c.incidentKind(ev.GetIncidentKind(), kind, kindKnown, kindName)

	c.authorisations(ev.GetAuthorisations())
	c.references(ev.GetReferences())
	if m := ev.GetDeclaredValue(); m != nil {
		c.money(m)
	}

	c.text("event.payment_method", ev.GetPaymentMethod(), false, MaxPaymentMethodChars, plain)
	if r := ev.GetRemarks(); len(r) > MaxRemarksBytes {
		c.add("event.remarks", "is %d bytes long; at most %d are allowed", len(r), MaxRemarksBytes)
	} else {
		c.text("event.remarks", r, false, MaxRemarksBytes, multiline)
	}
	c.country("event.location_country", ev.GetLocationCountry(), true)
	c.text("event.packages", ev.GetPackages(), false, MaxPackagesChars, plain)
}

// ShipmentRef checks a shipment reference on its own, as a query names
// one, reporting violations under field.
func ShipmentRef(field, s string) error {
	c := &checker{}
	c.shipmentRefAt(field, s)
	return c.l.Err()
}

func (c *checker) shipmentRef(s string) { c.shipmentRefAt("event.shipment_ref", s) }

func (c *checker) shipmentRefAt(field, s string) {
	if s == "" {
		c.add(field, "is required: the PEN reference or WCO Unique Consignment Reference")
		return
	}
	if n := len(s); n > MaxShipmentRefChars {
		c.add(field, "is %d characters long; at most %d are allowed", n, MaxShipmentRefChars)
		return
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(isUpper(b) || b >= 'a' && b <= 'z' || isDigit(b) || strings.IndexByte("-_/.:", b) >= 0) {
			c.add(field, "%s contains %q at byte %d; only letters A-Z and a-z, digits and - _ / . : are allowed", quote(s), b, i)
			return
		}
	}
}

func (c *checker) chemical(ch *v1.Chemical) {
	if ch == nil {
		c.add("event.chemical", "is required: name the chemical by its CAS registry number")
		return
	}
	switch cas := ch.GetCas(); {
	case cas == "":
		c.add("event.chemical.cas", "is required: name the chemical by its CAS registry number, for example \"39742-60-4\"")
	case !refdata.ValidCASFormat(cas):
		c.add("event.chemical.cas", "%s is not a CAS registry number: want 2 to 7 digits (no leading zero), 2 digits and a check digit, separated by hyphens", quote(cas))
	case !refdata.ValidCASCheckDigit(cas):
		c.add("event.chemical.cas", "%s has a wrong check digit", quote(cas))
	default:
		if _, ok := refdata.ChemicalByCAS(cas); !ok {
			c.add("event.chemical.cas", "%s is not a chemical the catalogue lists (reference data %s); name the controlled substance, or its listed salt, by its CAS registry number", quote(cas), refdata.Version)
		}
	}
	// Only the shape of the HS code is checked. Whether it fits the CAS
	// number is for detection (rule R15): rejecting a mismatch here would
	// hide the mis-declaration from the analysts.
	if hs := ch.GetHsCode(); hs != "" && !validHS(hs) {
		c.add("event.chemical.hs_code", "%s is not an HS code: want 6 digits, optionally followed by a national extension of 2 to 4 digits, with no dots or spaces", quote(hs))
	}
	c.text("event.chemical.name", ch.GetName(), false, MaxChemicalNameChars, plain)
	c.text("event.chemical.form", ch.GetForm(), false, MaxChemicalFormChars, plain)
	// Zero is proto3's "not set": the declaration did not give one.
	if p := ch.GetConcentrationPercent(); p != 0 && !(p > 0 && p <= 100) {
		c.add("event.chemical.concentration_percent", "%v is out of range: want more than 0 and at most 100, or leave it unset", p)
	}
}

func validHS(s string) bool {
	switch len(s) {
	case 6, 8, 9, 10:
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func (c *checker) quantity(q *v1.Quantity) {
	switch v := q.GetValue(); {
	case math.IsNaN(v) || math.IsInf(v, 0):
		c.add("event.quantity.value", "%v is not a finite number", v)
	case v <= 0:
		c.add("event.quantity.value", "%v must be greater than zero", v)
	case v > MaxQuantityValue:
		c.add("event.quantity.value", "%v is more than %g, the largest quantity accepted", v, float64(MaxQuantityValue))
	}
	switch u := q.GetUnit(); {
	case u == "":
		c.add("event.quantity.unit", "is required: a UN/ECE Recommendation 20 code (%s)", unitList())
	default:
		if _, ok := refdata.UnitByCode(u); !ok {
			c.add("event.quantity.unit", "%s is not a supported UN/ECE Recommendation 20 unit code; use one of %s", quote(u), unitList())
		}
	}
}

func unitList() string {
	var codes []string
	for _, u := range refdata.Units() {
		codes = append(codes, u.Code)
	}
	return strings.Join(codes, ", ")
}

// parties checks exporter, importer and consignee, and which of them the
// event's kind requires (Art. 12(10) of the 1988 Convention: a PEN names
// exporter, importer and consignee).
func (c *checker) parties(ev *v1.ShipmentEvent, kind v1.EventKind, kindName string) {
	var required []string
	switch kind {
	case v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION, v1.EventKind_EVENT_KIND_EXPORT_DECLARATION:
		required = []string{"exporter", "importer", "consignee"}
	case v1.EventKind_EVENT_KIND_IMPORT_DECLARATION:
		required = []string{"exporter", "importer"}
	case v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
		if ev.GetConsignee() == nil && ev.GetImporter() == nil {
			c.add("event.consignee", "is required for a receipt confirmation: name the consignee that received the goods (or at least the importer)")
		}
	}
	for _, p := range []struct {
		name  string
		party *v1.Party
	}{{"exporter", ev.GetExporter()}, {"importer", ev.GetImporter()}, {"consignee", ev.GetConsignee()}} {
		field := "event." + p.name
		switch {
		case p.party != nil:
			c.party(field, p.party)
		case contains(required, p.name):
			c.add(field, "is required for %s", kindName)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *checker) party(field string, p *v1.Party) {
	c.text(field+".name", p.GetName(), true, MaxPartyNameChars, printable)
	c.country(field+".country", p.GetCountry(), true)
	c.text(field+".address", p.GetAddress(), false, MaxAddressChars, plain)
	ids := p.GetIdentifiers()
	if len(ids) > MaxIdentifiers {
		c.add(field+".identifiers", "has %d entries; at most %d are allowed", len(ids), MaxIdentifiers)
		return
	}
	for i, id := range ids {
		f := fmt.Sprintf("%s.identifiers[%d]", field, i)
		c.text(f+".scheme", id.GetScheme(), true, MaxIdentifierSchemeChars, printable)
		if !c.text(f+".value", id.GetValue(), true, MaxIdentifierValueChars, printable) {
			continue
		}
		if strings.EqualFold(id.GetScheme(), "EORI") {
			c.eori(f+".value", id.GetValue())
		}
	}
}

// eori checks an EORI number: an issuing country code and up to 15 upper-case
// letters or digits. XI is accepted although ISO leaves it user-assigned: it
// is the prefix the UK issues for Northern Ireland under the Windsor
// Framework, and those operators trade with the EU under it.
func (c *checker) eori(field, v string) {
	if n := len(v); n < 3 || n > MaxEORIChars {
		c.add(field, "EORI %s is %d characters long; want a 2-letter country code and 1 to 15 letters or digits", quote(v), n)
		return
	}
	for i := 0; i < len(v); i++ {
		if !isUpper(v[i]) && !isDigit(v[i]) {
			c.add(field, "EORI %s may contain only upper-case letters A-Z and digits", quote(v))
			return
		}
	}
	if cc := v[:2]; !refdata.IsCountry(cc) && cc != "XI" {
		c.add(field, "EORI %s does not start with an assigned ISO 3166-1 alpha-2 country code", quote(v))
	}
}

func (c *checker) country(field, code string, required bool) {
	switch {
	case code == "":
		if required {
			c.add(field, "is required: an ISO 3166-1 alpha-2 code such as \"NL\"")
		}
	case !refdata.IsCountry(code):
		c.add(field, "%s is not an assigned ISO 3166-1 alpha-2 country code (two upper-case letters, such as \"NL\")", quote(code))
	}
}

// locode checks the shape of a UN/LOCODE: an assigned country code and three
// characters from A-Z and 2-9 (UNECE Rec. 16 uses digits 2-9 when letters run
// out; 0 and 1 are left out so they cannot be confused with O and I).
func (c *checker) locode(field, s string) {
	if len(s) != 5 {
		c.add(field, "%s is not a UN/LOCODE: want 5 characters, a country code and a 3-character location, without a space (for example \"NLRTM\")", quote(s))
		return
	}
	if !refdata.IsCountry(s[:2]) {
		c.add(field, "%s does not start with an assigned ISO 3166-1 alpha-2 country code", quote(s))
		return
	}
	for i := 2; i < 5; i++ {
		if b := s[i]; !isUpper(b) && !(b >= '2' && b <= '9') {
			c.add(field, "%s: the location part must be 3 characters from A-Z and 2-9", quote(s))
			return
		}
	}
}

func (c *checker) transportMode(field string, m v1.TransportMode) {
	if _, ok := v1.TransportMode_name[int32(m)]; !ok {
		c.add(field, "%d is not a known transport mode", int32(m))
	}
}

const timeLayout = "2006-01-02T15:04:05Z07:00"

// timestamp checks t and reports whether it is set and valid, so callers can
// compare it with others.
func (c *checker) timestamp(field string, t *timestamppb.Timestamp, required bool) bool {
	if t == nil {
		if required {
			c.add(field, "is required")
		}
		return false
	}
	if err := t.CheckValid(); err != nil {
		c.add(field, "is not a valid timestamp (seconds %d, nanos %d)", t.GetSeconds(), t.GetNanos())
		return false
	}
	if s := t.GetSeconds(); s < MinTimeUnix || s >= MaxTimeUnix {
		c.add(field, "%s is outside the accepted range, 1990-01-01 to 2100-01-01", t.AsTime().Format(timeLayout))
		return false
	}
	return true
}

func (c *checker) penReply(r v1.PenReply, kind v1.EventKind, kindKnown bool, kindName string) {
	const field = "event.pen_reply"
	_, known := v1.PenReply_name[int32(r)]
	switch {
	case !known:
		c.add(field, "%d is not a known PEN reply", int32(r))
	case kind == v1.EventKind_EVENT_KIND_PEN_REPLY && r == v1.PenReply_PEN_REPLY_UNSPECIFIED:
		c.add(field, "is required for a PEN reply: no objection, objection or information requested")
	case kindKnown && kind != v1.EventKind_EVENT_KIND_PEN_REPLY && r != v1.PenReply_PEN_REPLY_UNSPECIFIED:
		c.add(field, "must be unset on %s: only a PEN reply carries the importing country's answer", kindName)
	}
}

func (c *checker) incidentKind(k v1.IncidentKind, kind v1.EventKind, kindKnown bool, kindName string) {
	const field = "event.incident_kind"
	_, known := v1.IncidentKind_name[int32(k)]
	switch {
	case !known:
		c.add(field, "%d is not a known incident kind", int32(k))
	case kind == v1.EventKind_EVENT_KIND_INCIDENT && k == v1.IncidentKind_INCIDENT_KIND_UNSPECIFIED:
		c.add(field, "is required for an incident: seizure, stopped shipment, attempted diversion, clandestine lab or other")
	case kindKnown && kind != v1.EventKind_EVENT_KIND_INCIDENT && k != v1.IncidentKind_INCIDENT_KIND_UNSPECIFIED:
		c.add(field, "must be unset on %s: only an incident is classified", kindName)
	}
}

func (c *checker) authorisations(as []*v1.Authorisation) {
	if len(as) > MaxAuthorisations {
		c.add("event.authorisations", "has %d entries; at most %d are allowed", len(as), MaxAuthorisations)
		return
	}
	for i, a := range as {
		f := fmt.Sprintf("event.authorisations[%d]", i)
		switch k := a.GetKind(); {
		case k == v1.AuthorisationKind_AUTHORISATION_KIND_UNSPECIFIED:
			c.add(f+".kind", "is required: export authorisation, import permit, operator licence or transit authorisation")
		default:
			if _, ok := v1.AuthorisationKind_name[int32(k)]; !ok {
				c.add(f+".kind", "%d is not a known authorisation kind", int32(k))
			}
		}
		c.text(f+".number", a.GetNumber(), true, MaxAuthorisationNumberChars, printable)
		c.country(f+".issuing_country", a.GetIssuingCountry(), true)
	}
}

func (c *checker) references(rs []*v1.EntryReference) {
	if len(rs) > MaxReferences {
		c.add("event.references", "has %d entries; at most %d are allowed", len(rs), MaxReferences)
		return
	}
	// Whether the index exists is for the ledger to check; it knows the log.
	for i, r := range rs {
		f := fmt.Sprintf("event.references[%d].relation", i)
		switch rel := r.GetRelation(); {
		case rel == v1.Relation_RELATION_UNSPECIFIED:
			c.add(f, "is required: answers, follows or corrects")
		default:
			if _, ok := v1.Relation_name[int32(rel)]; !ok {
				c.add(f, "%d is not a known relation", int32(rel))
			}
		}
	}
}

func (c *checker) money(m *v1.Money) {
	cur := m.GetCurrencyCode()
	if len(cur) != 3 || !isUpper(cur[0]) || !isUpper(cur[1]) || !isUpper(cur[2]) {
		c.add("event.declared_value.currency_code", "%s is not an ISO 4217 alphabetic code: want 3 upper-case letters such as \"USD\"", quote(cur))
	}
	amt := m.GetAmount()
	switch {
	case amt == "":
		c.add("event.declared_value.amount", "is required when declared_value is set: a decimal such as \"125000.00\"")
	case len(amt) > MaxAmountChars:
		c.add("event.declared_value.amount", "is %d characters long; at most %d are allowed", len(amt), MaxAmountChars)
	case !validAmount(amt):
		c.add("event.declared_value.amount", "%s is not a non-negative decimal: want digits, optionally a point and 1 to %d decimals (for example \"125000.00\")", quote(amt), MaxAmountDecimals)
	}
}

func validAmount(s string) bool {
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || !allDigits(whole) {
		return false
	}
	if !hasPoint {
		return true
	}
	return len(frac) >= 1 && len(frac) <= MaxAmountDecimals && allDigits(frac)
}

// textRule is which characters a string field may hold.
type textRule int

const (
	// printable is for names, identifiers and numbers: letters, marks,
	// digits, punctuation, symbols and spaces only.
	printable textRule = iota
	// plain is one-line free text: anything but control characters.
	plain
	// multiline is remarks: plain text that may also hold \n and \t.
	multiline
)

// text checks a string field against its length bound and rule, and reports
// whether it is acceptable (and non-empty when required).
func (c *checker) text(field, s string, required bool, maxChars int, rule textRule) bool {
	if !utf8.ValidString(s) {
		c.add(field, "is not valid UTF-8")
		return false
	}
	if strings.TrimSpace(s) == "" {
		if required {
			c.add(field, "is required")
			return false
		}
		if s == "" {
			return true
		}
	}
	if n := utf8.RuneCountInString(s); n > maxChars {
		c.add(field, "is %d characters long; at most %d are allowed", n, maxChars)
		return false
	}
	for i, r := range s {
		if !allowedRune(r, rule) {
			c.add(field, "contains the character %U at byte %d, which is not allowed here", r, i)
			return false
		}
	}
	return true
}

func allowedRune(r rune, rule textRule) bool {
	// Bidirectional overrides and isolates can make a name display as
	// something other than what it is (CVE-2021-42574); no field needs them.
	if r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 {
		return false
	}
	switch rule {
	case printable:
		return unicode.IsGraphic(r)
	case multiline:
		if r == '\n' || r == '\t' {
			return true
		}
	}
	// Line and paragraph separators end a line as surely as \n does.
	return !unicode.IsControl(r) && r != '\u2028' && r != '\u2029'
}

// quote quotes a caller's value for a message, cut short so that a hostile
// megabyte of input does not come back as a megabyte of error.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q…", s[:max])
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }
func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
