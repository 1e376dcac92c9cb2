package validate_test

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/internal/validate"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestEventValid(t *testing.T) {
	for _, kind := range allKinds {
		for name, build := range map[string]func(testing.TB, v1.EventKind) *v1.ShipmentEvent{"full": fullEvent, "minimal": minimalEvent} {
			t.Run(kind.String()+"/"+name, func(t *testing.T) {
				ev := build(t, kind)
				if err := validate.Event(ev); err != nil {
					t.Errorf("Event(%v) = %v, want nil", ev, err)
				}
			})
		}
	}
}

func TestEventNil(t *testing.T) {
	vs := violations(t, validate.Event(nil))
	if got := fields(vs); !slices.Equal(got, []string{"event"}) {
		t.Errorf("Event(nil) violations on %v, want [event]", got)
	}
}

var (
	export   = v1.EventKind_EVENT_KIND_EXPORT_DECLARATION
	pen      = v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION
	penReply = v1.EventKind_EVENT_KIND_PEN_REPLY
	transit  = v1.EventKind_EVENT_KIND_TRANSIT
	imp      = v1.EventKind_EVENT_KIND_IMPORT_DECLARATION
	receipt  = v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION
	incident = v1.EventKind_EVENT_KIND_INCIDENT
)

func tsRaw(sec int64, nanos int32) *timestamppb.Timestamp {
	return &timestamppb.Timestamp{Seconds: sec, Nanos: nanos}
}

func TestEventInvalid(t *testing.T) {
	tests := []struct {
		name   string
		kind   v1.EventKind // of the full event mutated; export declaration if zero
		mutate func(ev *v1.ShipmentEvent)
		want   []string // exactly the fields that must be reported
	}{
		{name: "kind unspecified", mutate: func(ev *v1.ShipmentEvent) { ev.Kind = 0 }, want: []string{"event.kind"}},
		{name: "kind unknown number", mutate: func(ev *v1.ShipmentEvent) { ev.Kind = 99 }, want: []string{"event.kind"}},
		{name: "event_id empty", mutate: func(ev *v1.ShipmentEvent) { ev.EventId = "" }, want: []string{"event.event_id"}},
		{name: "event_id too long", mutate: func(ev *v1.ShipmentEvent) { ev.EventId = strings.Repeat("9", validate.MaxEventIDChars+1) }, want: []string{"event.event_id"}},
		{name: "event_id NUL", mutate: func(ev *v1.ShipmentEvent) { ev.EventId = "E\x001" }, want: []string{"event.event_id"}},
		{name: "event_id tab", mutate: func(ev *v1.ShipmentEvent) { ev.EventId = "E\t1" }, want: []string{"event.event_id"}},
		{name: "event_id invalid UTF-8", mutate: func(ev *v1.ShipmentEvent) { ev.EventId = "E\xff" }, want: []string{"event.event_id"}},
		{name: "shipment_ref empty", mutate: func(ev *v1.ShipmentEvent) { ev.ShipmentRef = "" }, want: []string{"event.shipment_ref"}},
		{name: "shipment_ref space", mutate: func(ev *v1.ShipmentEvent) { ev.ShipmentRef = "PEN 42" }, want: []string{"event.shipment_ref"}},
		{name: "shipment_ref non-ASCII", mutate: func(ev *v1.ShipmentEvent) { ev.ShipmentRef = "PEN–42" }, want: []string{"event.shipment_ref"}},
		{name: "shipment_ref too long", mutate: func(ev *v1.ShipmentEvent) { ev.ShipmentRef = strings.Repeat("A", validate.MaxShipmentRefChars+1) }, want: []string{"event.shipment_ref"}},
		{name: "chemical missing", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical = nil }, want: []string{"event.chemical"}},
		{name: "cas empty", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.Cas = "" }, want: []string{"event.chemical.cas"}},
		{name: "cas without hyphens", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.Cas = "39742604" }, want: []string{"event.chemical.cas"}},
		{name: "cas wrong check digit", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.Cas = "39742-60-5" }, want: []string{"event.chemical.cas"}},
		{name: "cas not in catalogue (water)", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.Cas = "7732-18-5" }, want: []string{"event.chemical.cas"}},
		{name: "hs with dot", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.HsCode = "2933.37" }, want: []string{"event.chemical.hs_code"}},
		{name: "hs 7 digits", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.HsCode = "2933370" }, want: []string{"event.chemical.hs_code"}},
		{name: "hs 11 digits", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.HsCode = "29333700001" }, want: []string{"event.chemical.hs_code"}},
		{name: "hs 4 digits", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.HsCode = "2933" }, want: []string{"event.chemical.hs_code"}},
		{name: "chemical name too long", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.Name = strings.Repeat("n", validate.MaxChemicalNameChars+1) }, want: []string{"event.chemical.name"}},
		{name: "chemical form too long", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.Form = strings.Repeat("f", validate.MaxChemicalFormChars+1) }, want: []string{"event.chemical.form"}},
		{name: "concentration over 100", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.ConcentrationPercent = 100.01 }, want: []string{"event.chemical.concentration_percent"}},
		{name: "concentration negative", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.ConcentrationPercent = -1 }, want: []string{"event.chemical.concentration_percent"}},
		{name: "concentration NaN", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.ConcentrationPercent = math.NaN() }, want: []string{"event.chemical.concentration_percent"}},
		{name: "quantity missing on export", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity = nil }, want: []string{"event.quantity"}},
		{name: "quantity missing on receipt", kind: receipt, mutate: func(ev *v1.ShipmentEvent) { ev.Quantity = nil }, want: []string{"event.quantity"}},
		{name: "quantity zero", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Value = 0 }, want: []string{"event.quantity.value"}},
		{name: "quantity negative", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Value = -5 }, want: []string{"event.quantity.value"}},
		{name: "quantity NaN", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Value = math.NaN() }, want: []string{"event.quantity.value"}},
		{name: "quantity +Inf", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Value = math.Inf(1) }, want: []string{"event.quantity.value"}},
		{name: "quantity above max", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Value = math.Nextafter(validate.MaxQuantityValue, math.Inf(1)) }, want: []string{"event.quantity.value"}},
		{name: "unit empty", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Unit = "" }, want: []string{"event.quantity.unit"}},
		{name: "unit lower case", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Unit = "kgm" }, want: []string{"event.quantity.unit"}},
		{name: "unit not Rec 20", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Unit = "KG" }, want: []string{"event.quantity.unit"}},
		{name: "missing consignee on an export", mutate: func(ev *v1.ShipmentEvent) { ev.Consignee = nil }, want: []string{"event.consignee"}},
		{name: "missing importer on an export", mutate: func(ev *v1.ShipmentEvent) { ev.Importer = nil }, want: []string{"event.importer"}},
		{name: "missing exporter on a PEN", kind: pen, mutate: func(ev *v1.ShipmentEvent) { ev.Exporter = nil }, want: []string{"event.exporter"}},
		{name: "missing consignee on a PEN", kind: pen, mutate: func(ev *v1.ShipmentEvent) { ev.Consignee = nil }, want: []string{"event.consignee"}},
		{name: "missing importer on an import", kind: imp, mutate: func(ev *v1.ShipmentEvent) { ev.Importer = nil }, want: []string{"event.importer"}},
		{name: "missing exporter on an import", kind: imp, mutate: func(ev *v1.ShipmentEvent) { ev.Exporter = nil }, want: []string{"event.exporter"}},
		{name: "receipt without consignee or importer", kind: receipt, mutate: func(ev *v1.ShipmentEvent) { ev.Consignee, ev.Importer = nil, nil }, want: []string{"event.consignee"}},
		{name: "exporter name empty", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Name = "" }, want: []string{"event.exporter.name"}},
		{name: "importer name blank", mutate: func(ev *v1.ShipmentEvent) { ev.Importer.Name = "   " }, want: []string{"event.importer.name"}},
		{name: "exporter name too long", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Name = strings.Repeat("é", validate.MaxPartyNameChars+1) }, want: []string{"event.exporter.name"}},
		{name: "exporter name bidi override", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Name = "Acme \u202eBV" }, want: []string{"event.exporter.name"}},
		{name: "exporter name newline", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Name = "Acme\nBV" }, want: []string{"event.exporter.name"}},
		{name: "consignee country UK", mutate: func(ev *v1.ShipmentEvent) { ev.Consignee.Country = "UK" }, want: []string{"event.consignee.country"}},
		{name: "exporter country lower case", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Country = "nl" }, want: []string{"event.exporter.country"}},
		{name: "exporter country empty", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Country = "" }, want: []string{"event.exporter.country"}},
		{name: "exporter address too long", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Address = strings.Repeat("a", validate.MaxAddressChars+1) }, want: []string{"event.exporter.address"}},
		{name: "exporter address control char", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Address = "Westzeedijk 1\r\nRotterdam" }, want: []string{"event.exporter.address"}},
		{name: "intermediary country XX", mutate: func(ev *v1.ShipmentEvent) { ev.Intermediaries[0].Country = "XX" }, want: []string{"event.intermediaries[0].country"}},
		{name: "intermediary nil", mutate: func(ev *v1.ShipmentEvent) { ev.Intermediaries = append(ev.Intermediaries, nil) }, want: []string{"event.intermediaries[1].country", "event.intermediaries[1].name"}},
		{name: "too many intermediaries", mutate: func(ev *v1.ShipmentEvent) {
			ev.Intermediaries = slices.Repeat(ev.Intermediaries, validate.MaxIntermediaries+1)
		}, want: []string{"event.intermediaries"}},
		{name: "too many identifiers", mutate: func(ev *v1.ShipmentEvent) {
			ev.Exporter.Identifiers = slices.Repeat(ev.Exporter.Identifiers, validate.MaxIdentifiers+1)
		}, want: []string{"event.exporter.identifiers"}},
		{name: "identifier scheme empty", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Identifiers[0].Scheme = "" }, want: []string{"event.exporter.identifiers[0].scheme"}},
		{name: "identifier scheme too long", mutate: func(ev *v1.ShipmentEvent) {
			ev.Importer.Identifiers[0].Scheme = strings.Repeat("S", validate.MaxIdentifierSchemeChars+1)
		}, want: []string{"event.importer.identifiers[0].scheme"}},
		{name: "identifier value too long", mutate: func(ev *v1.ShipmentEvent) {
			ev.Importer.Identifiers[0].Value = strings.Repeat("9", validate.MaxIdentifierValueChars+1)
		}, want: []string{"event.importer.identifiers[0].value"}},
		{name: "EORI user-assigned country", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Identifiers[0].Value = "XX123456789" }, want: []string{"event.exporter.identifiers[0].value"}},
		{name: "EORI too long", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Identifiers[0].Value = "NL" + strings.Repeat("1", 16) }, want: []string{"event.exporter.identifiers[0].value"}},
		{name: "EORI lower case", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Identifiers[0].Value = "nl123456789" }, want: []string{"event.exporter.identifiers[0].value"}},
		{name: "EORI with space", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Identifiers[0].Value = "NL 123456789" }, want: []string{"event.exporter.identifiers[0].value"}},
		{name: "EORI country only", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Identifiers[0].Value = "NL" }, want: []string{"event.exporter.identifiers[0].value"}},
		{name: "too many route legs", mutate: func(ev *v1.ShipmentEvent) { ev.Route = slices.Repeat(ev.Route[:1], validate.MaxRouteLegs+1) }, want: []string{"event.route"}},
		{name: "locode 4 characters", mutate: func(ev *v1.ShipmentEvent) { ev.Route[2].Locode = "MXZL" }, want: []string{"event.route[2].locode"}},
		{name: "locode with space", mutate: func(ev *v1.ShipmentEvent) { ev.Route[0].Locode = "NL RTM" }, want: []string{"event.route[0].locode"}},
		{name: "locode unassigned country", mutate: func(ev *v1.ShipmentEvent) { ev.Route[1].Locode = "XXRTM" }, want: []string{"event.route[1].locode"}},
		{name: "locode digit 1", mutate: func(ev *v1.ShipmentEvent) { ev.Route[1].Locode = "PABL1" }, want: []string{"event.route[1].locode"}},
		{name: "locode lower case", mutate: func(ev *v1.ShipmentEvent) { ev.Route[0].Locode = "nlrtm" }, want: []string{"event.route[0].locode"}},
		{name: "locode empty", mutate: func(ev *v1.ShipmentEvent) { ev.Route[0].Locode = "" }, want: []string{"event.route[0].locode"}},
		{name: "route leg nil", mutate: func(ev *v1.ShipmentEvent) { ev.Route = append(ev.Route, nil) }, want: []string{"event.route[3].locode"}},
		{name: "leg transport mode unknown", mutate: func(ev *v1.ShipmentEvent) { ev.Route[0].TransportMode = 99 }, want: []string{"event.route[0].transport_mode"}},
		{name: "leg arrival nanos out of range", mutate: func(ev *v1.ShipmentEvent) { ev.Route[1].ArrivalTime.Nanos = 1e9 }, want: []string{"event.route[1].arrival_time"}},
		{name: "transport mode unknown", mutate: func(ev *v1.ShipmentEvent) { ev.TransportMode = 42 }, want: []string{"event.transport_mode"}},
		{name: "occurred_time missing", mutate: func(ev *v1.ShipmentEvent) { ev.OccurredTime = nil }, want: []string{"event.occurred_time"}},
		{name: "occurred_time 1989", mutate: func(ev *v1.ShipmentEvent) { ev.OccurredTime = tsRaw(validate.MinTimeUnix-1, 0) }, want: []string{"event.occurred_time"}},
		{name: "occurred_time 2100", mutate: func(ev *v1.ShipmentEvent) { ev.OccurredTime = tsRaw(validate.MaxTimeUnix, 0) }, want: []string{"event.occurred_time"}},
		{name: "occurred_time zero value", mutate: func(ev *v1.ShipmentEvent) { ev.OccurredTime = tsRaw(0, 0) }, want: []string{"event.occurred_time"}},
		{name: "dispatch_time negative nanos", mutate: func(ev *v1.ShipmentEvent) { ev.DispatchTime.Nanos = -1 }, want: []string{"event.dispatch_time"}},
		{name: "dispatch_time year 10000", mutate: func(ev *v1.ShipmentEvent) { ev.DispatchTime = tsRaw(253402300800, 0) }, want: []string{"event.dispatch_time"}},
		{name: "arrival before dispatch", mutate: func(ev *v1.ShipmentEvent) { ev.ArrivalTime = ts(t, "2026-03-04T23:59:59Z") }, want: []string{"event.arrival_time"}},
		{name: "reply_by_time absurd", kind: pen, mutate: func(ev *v1.ShipmentEvent) { ev.ReplyByTime = tsRaw(-1, 0) }, want: []string{"event.reply_by_time"}},
		{name: "pen_reply missing on PEN reply", kind: penReply, mutate: func(ev *v1.ShipmentEvent) { ev.PenReply = 0 }, want: []string{"event.pen_reply"}},
		{name: "pen_reply on an export", mutate: func(ev *v1.ShipmentEvent) { ev.PenReply = v1.PenReply_PEN_REPLY_OBJECTION }, want: []string{"event.pen_reply"}},
		{name: "pen_reply unknown number", kind: penReply, mutate: func(ev *v1.ShipmentEvent) { ev.PenReply = 9 }, want: []string{"event.pen_reply"}},
		{name: "incident_kind missing on incident", kind: incident, mutate: func(ev *v1.ShipmentEvent) { ev.IncidentKind = 0 }, want: []string{"event.incident_kind"}},
		{name: "incident_kind on a transit", kind: transit, mutate: func(ev *v1.ShipmentEvent) { ev.IncidentKind = v1.IncidentKind_INCIDENT_KIND_SEIZURE }, want: []string{"event.incident_kind"}},
		{name: "incident_kind unknown number", kind: incident, mutate: func(ev *v1.ShipmentEvent) { ev.IncidentKind = 77 }, want: []string{"event.incident_kind"}},
		{name: "too many authorisations", mutate: func(ev *v1.ShipmentEvent) {
			ev.Authorisations = slices.Repeat(ev.Authorisations[:1], validate.MaxAuthorisations+1)
		}, want: []string{"event.authorisations"}},
		{name: "authorisation kind unspecified", mutate: func(ev *v1.ShipmentEvent) { ev.Authorisations[1].Kind = 0 }, want: []string{"event.authorisations[1].kind"}},
		{name: "authorisation kind unknown", mutate: func(ev *v1.ShipmentEvent) { ev.Authorisations[0].Kind = 12 }, want: []string{"event.authorisations[0].kind"}},
		{name: "authorisation number empty", mutate: func(ev *v1.ShipmentEvent) { ev.Authorisations[1].Number = "" }, want: []string{"event.authorisations[1].number"}},
		{name: "authorisation number too long", mutate: func(ev *v1.ShipmentEvent) {
			ev.Authorisations[1].Number = strings.Repeat("7", validate.MaxAuthorisationNumberChars+1)
		}, want: []string{"event.authorisations[1].number"}},
		{name: "authorisation issued by EU", mutate: func(ev *v1.ShipmentEvent) { ev.Authorisations[0].IssuingCountry = "EU" }, want: []string{"event.authorisations[0].issuing_country"}},
		{name: "authorisation issuing country empty", mutate: func(ev *v1.ShipmentEvent) { ev.Authorisations[0].IssuingCountry = "" }, want: []string{"event.authorisations[0].issuing_country"}},
		{name: "too many references", mutate: func(ev *v1.ShipmentEvent) {
			ev.References = slices.Repeat(ev.References, validate.MaxReferences+1)
		}, want: []string{"event.references"}},
		{name: "reference relation unspecified", mutate: func(ev *v1.ShipmentEvent) { ev.References[0].Relation = 0 }, want: []string{"event.references[0].relation"}},
		{name: "reference relation unknown", mutate: func(ev *v1.ShipmentEvent) { ev.References[0].Relation = 7 }, want: []string{"event.references[0].relation"}},
		{name: "currency lower case", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.CurrencyCode = "usd" }, want: []string{"event.declared_value.currency_code"}},
		{name: "currency two letters", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.CurrencyCode = "US" }, want: []string{"event.declared_value.currency_code"}},
		{name: "amount negative", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.Amount = "-5.00" }, want: []string{"event.declared_value.amount"}},
		{name: "amount five decimals", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.Amount = "1.00001" }, want: []string{"event.declared_value.amount"}},
		{name: "amount exponent", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.Amount = "1e5" }, want: []string{"event.declared_value.amount"}},
		{name: "amount thousands separator", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.Amount = "125,000.00" }, want: []string{"event.declared_value.amount"}},
		{name: "amount trailing point", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.Amount = "5." }, want: []string{"event.declared_value.amount"}},
		{name: "amount empty", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.Amount = "" }, want: []string{"event.declared_value.amount"}},
		{name: "amount too long", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.Amount = strings.Repeat("1", validate.MaxAmountChars+1) }, want: []string{"event.declared_value.amount"}},
		{name: "payment_method too long", mutate: func(ev *v1.ShipmentEvent) { ev.PaymentMethod = strings.Repeat("p", validate.MaxPaymentMethodChars+1) }, want: []string{"event.payment_method"}},
		{name: "remarks too long", mutate: func(ev *v1.ShipmentEvent) { ev.Remarks = strings.Repeat("r", validate.MaxRemarksBytes+1) }, want: []string{"event.remarks"}},
		{name: "remarks too long in bytes, not characters", mutate: func(ev *v1.ShipmentEvent) { ev.Remarks = strings.Repeat("é", validate.MaxRemarksBytes/2+1) }, want: []string{"event.remarks"}},
		{name: "remarks bell character", mutate: func(ev *v1.ShipmentEvent) { ev.Remarks = "ding\a" }, want: []string{"event.remarks"}},
		{name: "remarks invalid UTF-8", mutate: func(ev *v1.ShipmentEvent) { ev.Remarks = "caf\xe9" }, want: []string{"event.remarks"}},
		{name: "location_country empty", mutate: func(ev *v1.ShipmentEvent) { ev.LocationCountry = "" }, want: []string{"event.location_country"}},
		{name: "location_country user-assigned", mutate: func(ev *v1.ShipmentEvent) { ev.LocationCountry = "QZ" }, want: []string{"event.location_country"}},
		{name: "packages too long", mutate: func(ev *v1.ShipmentEvent) { ev.Packages = strings.Repeat("d", validate.MaxPackagesChars+1) }, want: []string{"event.packages"}},
		{name: "packages newline", mutate: func(ev *v1.ShipmentEvent) { ev.Packages = "20\ndrums" }, want: []string{"event.packages"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := tt.kind
			if kind == 0 {
				kind = export
			}
			ev := fullEvent(t, kind)
			tt.mutate(ev)
			vs := violations(t, validate.Event(ev))
			if got := fields(vs); !slices.Equal(got, tt.want) {
				t.Errorf("Event(%v %s) violations on %v, want exactly %v\nall: %v", kind, tt.name, got, tt.want, vs)
			}
			for _, v := range vs {
				if v.Description == "" {
					t.Errorf("violation on %s has no description", v.Field)
				}
			}
		})
	}
}

// TestEventNearMisses are events at the edge of every bound that must pass.
func TestEventNearMisses(t *testing.T) {
	tests := []struct {
		name   string
		kind   v1.EventKind
		mutate func(ev *v1.ShipmentEvent)
	}{
		{name: "concentration exactly 100", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.ConcentrationPercent = 100 }},
		{name: "concentration tiny", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.ConcentrationPercent = 1e-9 }},
		{name: "concentration unset", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.ConcentrationPercent = 0 }},
		{name: "quantity one milligram in kg", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity = &v1.Quantity{Value: 1e-6, Unit: "KGM"} }},
		{name: "quantity at the maximum", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Value = validate.MaxQuantityValue }},
		{name: "quantity in US gallons", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Unit = "GLL" }},
		{name: "quantity in net kilograms", mutate: func(ev *v1.ShipmentEvent) { ev.Quantity.Unit = "58" }},
		{name: "HS 6 digits", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.HsCode = "293337" }},
		{name: "HS 9 digits", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.HsCode = "293337001" }},
		{name: "HS 10 digits", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.HsCode = "2933370010" }},
		{name: "HS that does not match the CAS (left to rule R15)", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.HsCode = "291431" }},
		{name: "HS absent", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.HsCode = "" }},
		{name: "salt CAS (4-piperidone HCl)", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.Cas = "41979-39-9" }},
		{name: "watched non-scheduled chemical", mutate: func(ev *v1.ShipmentEvent) { ev.Chemical.Cas = "79-03-8" }},
		{name: "locode with digits 2-9", mutate: func(ev *v1.ShipmentEvent) { ev.Route[1].Locode = "CNSH2" }},
		{name: "locode all digits", mutate: func(ev *v1.ShipmentEvent) { ev.Route[1].Locode = "US929" }},
		{name: "leg transport mode unspecified", mutate: func(ev *v1.ShipmentEvent) { ev.Route[0].TransportMode = 0 }},
		{name: "event_id at the maximum", mutate: func(ev *v1.ShipmentEvent) { ev.EventId = strings.Repeat("9", validate.MaxEventIDChars) }},
		{name: "event_id non-Latin", mutate: func(ev *v1.ShipmentEvent) { ev.EventId = "ДЕК-2026/1 海关" }},
		{name: "shipment_ref at the maximum with every allowed punctuation", mutate: func(ev *v1.ShipmentEvent) {
			ev.ShipmentRef = "6NL-123_456/789.0:" + strings.Repeat("z", validate.MaxShipmentRefChars-18)
		}},
		{name: "party name with accents and no-break space", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Name = "Société Générale\u00a0Chimie SA" }},
		{name: "party name at the maximum", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Name = strings.Repeat("é", validate.MaxPartyNameChars) }},
		{name: "EORI at 17 characters", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Identifiers[0].Value = "DE" + strings.Repeat("1", 15) }},
		{name: "EORI Northern Ireland", mutate: func(ev *v1.ShipmentEvent) { ev.Exporter.Identifiers[0].Value = "XI123456789000" }},
		{name: "EORI scheme in lower case", mutate: func(ev *v1.ShipmentEvent) {
			ev.Exporter.Identifiers[0] = &v1.Identifier{Scheme: "eori", Value: "GB123456789000"}
		}},
		{name: "non-EORI identifier with lower case", mutate: func(ev *v1.ShipmentEvent) { ev.Importer.Identifiers[0].Value = "rfc-abc123" }},
		{name: "limits reached", mutate: func(ev *v1.ShipmentEvent) {
			ev.Intermediaries = slices.Repeat(ev.Intermediaries[:1], validate.MaxIntermediaries)
			ev.Route = slices.Repeat(ev.Route[:1], validate.MaxRouteLegs)
			ev.Authorisations = slices.Repeat(ev.Authorisations[:1], validate.MaxAuthorisations)
			ev.References = slices.Repeat(ev.References, validate.MaxReferences)
			ev.Exporter.Identifiers = slices.Repeat(ev.Exporter.Identifiers, validate.MaxIdentifiers)
		}},
		{name: "occurred_time at the earliest", mutate: func(ev *v1.ShipmentEvent) { ev.OccurredTime = ts(t, "1990-01-01T00:00:00Z") }},
		{name: "occurred_time at the latest", mutate: func(ev *v1.ShipmentEvent) { ev.OccurredTime = ts(t, "2099-12-31T23:59:59.999999999Z") }},
		{name: "arrival equal to dispatch", mutate: func(ev *v1.ShipmentEvent) { ev.ArrivalTime = ev.DispatchTime }},
		{name: "arrival without dispatch", mutate: func(ev *v1.ShipmentEvent) { ev.DispatchTime = nil }},
		{name: "reply_by_time on an export", mutate: func(ev *v1.ShipmentEvent) { ev.ReplyByTime = ts(t, "2026-03-15T00:00:00Z") }},
		{name: "receipt with importer only", kind: receipt, mutate: func(ev *v1.ShipmentEvent) { ev.Consignee = nil; ev.Exporter = nil }},
		{name: "transit with no parties", kind: transit, mutate: func(ev *v1.ShipmentEvent) { ev.Exporter, ev.Importer, ev.Consignee = nil, nil, nil }},
		{name: "incident with no parties", kind: incident, mutate: func(ev *v1.ShipmentEvent) { ev.Exporter, ev.Importer, ev.Consignee = nil, nil, nil }},
		{name: "PEN reply without quantity", kind: penReply, mutate: func(ev *v1.ShipmentEvent) { ev.Quantity = nil }},
		{name: "incident without quantity (stopped on its papers)", kind: incident, mutate: func(ev *v1.ShipmentEvent) { ev.Quantity = nil }},
		{name: "amount integer", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.Amount = "0" }},
		{name: "amount four decimals", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue.Amount = "125000.1234" }},
		{name: "no declared value", mutate: func(ev *v1.ShipmentEvent) { ev.DeclaredValue = nil }},
		{name: "remarks at the maximum with newlines and tabs", mutate: func(ev *v1.ShipmentEvent) {
			ev.Remarks = strings.Repeat("a\n\tb", validate.MaxRemarksBytes/4)
		}},
		{name: "blank optional text", mutate: func(ev *v1.ShipmentEvent) { ev.Packages = " " }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := tt.kind
			if kind == 0 {
				kind = export
			}
			ev := fullEvent(t, kind)
			tt.mutate(ev)
			if err := validate.Event(ev); err != nil {
				t.Errorf("Event(%v) = %v, want nil", ev, err)
			}
		})
	}
}

// TestEventReportsEveryViolation checks that one bad field does not hide the
// next: a customs system fixes everything in one round trip.
func TestEventReportsEveryViolation(t *testing.T) {
	ev := fullEvent(t, export)
	ev.Chemical.Cas = "39742-60-5"
	ev.Quantity.Value = math.NaN()
	ev.Consignee = nil
	ev.Route[2].Locode = "MX ZLO"
	ev.Authorisations[1].Number = ""
	ev.LocationCountry = "EU"
	want := []string{
		"event.authorisations[1].number",
		"event.chemical.cas",
		"event.consignee",
		"event.location_country",
		"event.quantity.value",
		"event.route[2].locode",
	}
	vs := violations(t, validate.Event(ev))
	if got := fields(vs); !slices.Equal(got, want) || len(vs) != len(want) {
		t.Errorf("Event(...) violations %v, want one each on %v", vs, want)
	}
}

// TestEventGolden pins the wording of every message on an event that breaks
// as many rules as it can; run with -update after changing a message.
func TestEventGolden(t *testing.T) {
	ev := &v1.ShipmentEvent{
		EventId:     "bad\x7fid",
		Kind:        v1.EventKind_EVENT_KIND_EXPORT_DECLARATION,
		ShipmentRef: "has space",
		Chemical:    &v1.Chemical{Cas: "7732-18-5", HsCode: "2933.37", Name: "water\x00", ConcentrationPercent: 101},
		Quantity:    &v1.Quantity{Value: -1, Unit: "kg"},
		Exporter: &v1.Party{Name: "", Country: "UK", Identifiers: []*v1.Identifier{
			{Scheme: "EORI", Value: "ZZ1"}, {Scheme: "", Value: ""},
		}},
		Importer:       &v1.Party{Name: "Importer\u202e", Country: "mx"},
		Intermediaries: []*v1.Party{nil},
		Route:          []*v1.RouteLeg{{Locode: "NL-RTM", TransportMode: 8, ArrivalTime: tsRaw(0, -1)}, {Locode: "XXABC"}, {Locode: "NLRT0"}},
		TransportMode:  8,
		OccurredTime:   tsRaw(validate.MinTimeUnix-1, 0),
		DispatchTime:   ts(t, "2026-03-05T00:00:00Z"),
		ArrivalTime:    ts(t, "2026-03-01T00:00:00Z"),
		ReplyByTime:    tsRaw(validate.MaxTimeUnix, 0),
		PenReply:       v1.PenReply_PEN_REPLY_OBJECTION,
		IncidentKind:   v1.IncidentKind_INCIDENT_KIND_SEIZURE,
		Authorisations: []*v1.Authorisation{{Kind: 0, Number: "", IssuingCountry: "EU"}, {Kind: 9, Number: "A\tB", IssuingCountry: ""}},
		References:     []*v1.EntryReference{{Index: 1}, {Index: 2, Relation: 5}},
		DeclaredValue:  &v1.Money{CurrencyCode: "usd", Amount: "1,000"},
		PaymentMethod:  strings.Repeat("p", validate.MaxPaymentMethodChars+1),
		Remarks:        "line\r\nbreak",
		Packages:       "20\ndrums",
	}
	var b strings.Builder
	for _, v := range violations(t, validate.Event(ev)) {
		b.WriteString(v.Field + ": " + v.Description + "\n")
	}
	got := b.String()
	path := filepath.Join("testdata", "violations.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("violations differ from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
