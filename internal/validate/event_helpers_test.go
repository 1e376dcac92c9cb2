package validate_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/internal/badinput"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// allKinds are the kinds a valid event can have.
var allKinds = []v1.EventKind{
	v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION,
	v1.EventKind_EVENT_KIND_PEN_REPLY,
	v1.EventKind_EVENT_KIND_EXPORT_DECLARATION,
	v1.EventKind_EVENT_KIND_TRANSIT,
	v1.EventKind_EVENT_KIND_IMPORT_DECLARATION,
	v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION,
	v1.EventKind_EVENT_KIND_INCIDENT,
}

func ts(tb testing.TB, s string) *timestamppb.Timestamp {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatalf("parse %q: %v", s, err)
	}
	return timestamppb.New(t)
}

// fullEvent returns a valid event of kind with every field filled in, so that
// mutations can break any one of them: NPP shipped from Rotterdam via a
// Panamanian forwarder to Mexico.
func fullEvent(tb testing.TB, kind v1.EventKind) *v1.ShipmentEvent {
	tb.Helper()
	ev := &v1.ShipmentEvent{
		EventId:     "NL-EXP-2026-000123",
		Kind:        kind,
		ShipmentRef: "PEN/NL/2026/0042",
		Chemical: &v1.Chemical{
			Cas:                  "39742-60-4",
			HsCode:               "29333700",
			Name:                 "N-Phenethyl-4-piperidone",
			Form:                 "base",
			ConcentrationPercent: 99.5,
		},
		Quantity: &v1.Quantity{Value: 250, Unit: "KGM"},
		Exporter: &v1.Party{
			Name:        "Rotterdam Fine Chemicals B.V.",
			Country:     "NL",
			Address:     "Westzeedijk 1, 3016 AH Rotterdam",
			Identifiers: []*v1.Identifier{{Scheme: "EORI", Value: "NL123456789"}},
		},
		Importer: &v1.Party{
			Name:        "Químicos del Pacífico S.A. de C.V.",
			Country:     "MX",
			Address:     "Av. Insurgentes Sur 1000, Ciudad de México",
			Identifiers: []*v1.Identifier{{Scheme: "LICENCE", Value: "COFEPRIS-2026-0099"}},
		},
		Consignee: &v1.Party{
			Name:    "Laboratorios Norte S.A.",
			Country: "MX",
		},
		Intermediaries: []*v1.Party{{Name: "Istmo Freight Forwarding Inc.", Country: "PA"}},
		Route: []*v1.RouteLeg{
			{Locode: "NLRTM", TransportMode: v1.TransportMode_TRANSPORT_MODE_SEA, ArrivalTime: ts(tb, "2026-03-04T08:00:00Z")},
			{Locode: "PABLB", FreeTradeZone: true, ArrivalTime: ts(tb, "2026-03-20T12:00:00Z")},
			{Locode: "MXZLO", TransportMode: v1.TransportMode_TRANSPORT_MODE_SEA},
		},
		TransportMode: v1.TransportMode_TRANSPORT_MODE_SEA,
		OccurredTime:  ts(tb, "2026-03-01T10:00:00Z"),
		DispatchTime:  ts(tb, "2026-03-05T00:00:00Z"),
		ArrivalTime:   ts(tb, "2026-04-01T00:00:00Z"),
		Authorisations: []*v1.Authorisation{
			{Kind: v1.AuthorisationKind_AUTHORISATION_KIND_EXPORT_AUTHORISATION, Number: "NL-EA-2026-17", IssuingCountry: "NL"},
			{Kind: v1.AuthorisationKind_AUTHORISATION_KIND_IMPORT_PERMIT, Number: "MX-IP-2026-5521", IssuingCountry: "MX"},
		},
		References:      []*v1.EntryReference{{Index: 41, Relation: v1.Relation_RELATION_FOLLOWS}},
		DeclaredValue:   &v1.Money{CurrencyCode: "USD", Amount: "125000.00"},
		PaymentMethod:   "letter of credit",
		Remarks:         "Shipped in 20 drums.\nSeals:\t4411-4430.",
		LocationCountry: "NL",
		Packages:        "20 drums",
	}
	switch kind {
	case v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION:
		ev.ReplyByTime = ts(tb, "2026-03-15T00:00:00Z")
	case v1.EventKind_EVENT_KIND_PEN_REPLY:
		ev.PenReply = v1.PenReply_PEN_REPLY_NO_OBJECTION
		ev.References[0].Relation = v1.Relation_RELATION_ANSWERS
		ev.LocationCountry = "MX"
	case v1.EventKind_EVENT_KIND_INCIDENT:
		ev.IncidentKind = v1.IncidentKind_INCIDENT_KIND_SEIZURE
	}
	return ev
}

// minimalEvent returns a valid event of kind with only the fields that kind
// requires, so a test notices when an optional field becomes required.
func minimalEvent(tb testing.TB, kind v1.EventKind) *v1.ShipmentEvent {
	tb.Helper()
	party := func(name, country string) *v1.Party { return &v1.Party{Name: name, Country: country} }
	ev := &v1.ShipmentEvent{
		EventId:         "E1",
		Kind:            kind,
		ShipmentRef:     "R1",
		Chemical:        &v1.Chemical{Cas: "39742-60-4"},
		OccurredTime:    ts(tb, "2026-03-01T10:00:00Z"),
		LocationCountry: "NL",
	}
	if kind != v1.EventKind_EVENT_KIND_PEN_REPLY {
		ev.Quantity = &v1.Quantity{Value: 1, Unit: "KGM"}
	}
	switch kind {
	case v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION, v1.EventKind_EVENT_KIND_EXPORT_DECLARATION:
		ev.Exporter, ev.Importer, ev.Consignee = party("A", "NL"), party("B", "MX"), party("C", "MX")
	case v1.EventKind_EVENT_KIND_IMPORT_DECLARATION:
		ev.Exporter, ev.Importer = party("A", "NL"), party("B", "MX")
	case v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
		ev.Consignee = party("C", "MX")
	case v1.EventKind_EVENT_KIND_PEN_REPLY:
		ev.PenReply = v1.PenReply_PEN_REPLY_OBJECTION
	case v1.EventKind_EVENT_KIND_INCIDENT:
		ev.IncidentKind = v1.IncidentKind_INCIDENT_KIND_STOPPED_SHIPMENT
	}
	return ev
}

// violations unpacks err, failing the test if it is not a *badinput.Error.
func violations(tb testing.TB, err error) []badinput.Violation {
	tb.Helper()
	if err == nil {
		return nil
	}
	var be *badinput.Error
	if !errors.As(err, &be) {
		tb.Fatalf("error %v (%T) is not a *badinput.Error", err, err)
	}
	return be.Violations
}

// fields returns the distinct field paths of vs, sorted.
func fields(vs []badinput.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Field)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
