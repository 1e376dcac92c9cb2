package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/validate"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

// badFixture is a service whose members file lists a revoked key, holding
// the first few examples, for the bad-input tables.
type badFixture struct {
	in  *servertest.Instance
	c   chemledgerv1.LedgerServiceClient
	exs []example
	// revoked signs as DE-ZOLL with a key the members file marks revoked.
	revoked envelope.Signer
	// preloaded examples are in the log at indexes 0 to preloaded-1.
	preloaded int
	// token is a page token issued for tokenFilter.
	token, tokenFilter string
}

func newBadFixture(tb testing.TB) *badFixture {
	tb.Helper()
	dir := tb.TempDir()
	layout := datadir.Layout{Dir: dir}
	if err := datadir.EnsureDev(layout); err != nil {
		tb.Fatal(err)
	}
	reg, err := members.Load(layout.Members())
	if err != nil {
		tb.Fatal(err)
	}
	revoked, err := members.GenerateKey("DE-ZOLL")
	if err != nil {
		tb.Fatal(err)
	}
	ms := reg.Members()
	found := false
	for i := range ms {
		if ms[i].ID == "DE-ZOLL" {
			pub := revoked.Public()
			pub.Revoked = true
			ms[i].Keys = append(ms[i].Keys, pub)
			found = true
		}
	}
	if !found {
		tb.Fatal("no demo member DE-ZOLL")
	}
	// EnsureDev, run again by Start, keeps an existing members file.
	if err := members.Write(layout.Members(), ms); err != nil {
		tb.Fatal(err)
	}

	f := &badFixture{in: start(tb, dir), revoked: revoked.Signer(), preloaded: 6, tokenFilter: "kind = PRE_EXPORT_NOTIFICATION"}
	f.c = ledgerClient(tb, f.in)
	f.exs = signedExamples(tb, f.in)
	submitAll(tb, f.c, f.exs[:f.preloaded])
	resp, err := f.c.ListEntries(tb.Context(), &chemledgerv1.ListEntriesRequest{Filter: f.tokenFilter, PageSize: 1})
	if err != nil {
		tb.Fatal(err)
	}
	if f.token = resp.GetNextPageToken(); f.token == "" {
		tb.Fatalf("ListEntries(%q, 1) gave no next page token", f.tokenFilter)
	}
	return f
}

// mutated signs example i, changed by mutate, as the example's member.
func (f *badFixture) mutated(tb testing.TB, i int, mutate func(ev *chemledgerv1.ShipmentEvent)) []byte {
	tb.Helper()
	return signMutated(tb, f.in, f.exs[i], mutate)
}

// sig is one signature by signer over payloadType and payload.
func sig(signer envelope.Signer, payloadType string, payload []byte) wireSignature {
	s := ed25519.Sign(signer.Key, envelope.PAE(payloadType, payload))
	return wireSignature{KeyID: signer.KeyID, Sig: base64.StdEncoding.EncodeToString(s)}
}

// raw builds a DSSE envelope from its parts, signed by the demo keys of
// members as given.
func (f *badFixture) raw(tb testing.TB, payloadType string, payload []byte, members ...string) []byte {
	tb.Helper()
	var signers []envelope.Signer
	for _, m := range members {
		signers = append(signers, f.in.Keys[m].Signer())
	}
	return signedBy(tb, payloadType, payload, signers...)
}

// signedBy builds a DSSE envelope from its parts, signed by signers as
// given, whatever their keys (a revoked one, say).
func signedBy(tb testing.TB, payloadType string, payload []byte, signers ...envelope.Signer) []byte {
	tb.Helper()
	w := wireEnvelope{PayloadType: payloadType, Payload: base64.StdEncoding.EncodeToString(payload)}
	for _, s := range signers {
		w.Signatures = append(w.Signatures, sig(s, payloadType, payload))
	}
	return w.json(tb)
}

// line0 is the raw JSON of the first example, and member0 its signer.
func (f *badFixture) line0() []byte   { return f.exs[0].line.Raw }
func (f *badFixture) member0() string { return f.exs[0].member }

func ts(tb testing.TB, s string) *timestamppb.Timestamp {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return timestamppb.New(t)
}

// badSubmission is one row of the bad-input table: a submission that must be
// refused, over gRPC and over HTTP, with nothing written.
type badSubmission struct {
	name string
	// build returns the submission id and envelope to send; id is a fresh,
	// valid submission id the row may use.
	build func(tb testing.TB, f *badFixture, id string) (string, []byte)
	// httpBody, when set, makes the row HTTP-only: the raw body to POST.
	httpBody func(tb testing.TB, f *badFixture, id string) []byte
	code     codes.Code
	// field is the one field path the BadRequest violations must name.
	field string
	// reason is the ErrorInfo reason; "" means BAD_INPUT.
	reason string
}

// want is what the row must be answered with.
func (tc badSubmission) want() expect {
	w := expect{code: tc.code, reason: tc.reason, field: tc.field}
	if w.reason == "" {
		w.reason = server.ReasonBadInput
	}
	return w
}

// event returns a build func that mutates example i.
func event(i int, mutate func(tb testing.TB, ev *chemledgerv1.ShipmentEvent)) func(testing.TB, *badFixture, string) (string, []byte) {
	return func(tb testing.TB, f *badFixture, id string) (string, []byte) {
		return id, f.mutated(tb, i, func(ev *chemledgerv1.ShipmentEvent) { mutate(tb, ev) })
	}
}

// envelopeOf returns a build func for an envelope made from the fixture.
func envelopeOf(build func(tb testing.TB, f *badFixture) []byte) func(testing.TB, *badFixture, string) (string, []byte) {
	return func(tb testing.TB, f *badFixture, id string) (string, []byte) { return id, build(tb, f) }
}

// withID returns a build func that sends a valid envelope under id.
func withID(id string) func(testing.TB, *badFixture, string) (string, []byte) {
	return func(tb testing.TB, f *badFixture, _ string) (string, []byte) {
		return id, f.mutated(tb, 0, func(*chemledgerv1.ShipmentEvent) {})
	}
}

func badSubmissions() []badSubmission {
	inv := codes.InvalidArgument
	return []badSubmission{
		// The event's content (package validate).
		{name: "CAS check digit", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Chemical.Cas = "90-82-5" }), code: inv, field: "event.chemical.cas"},
		{name: "CAS not in the catalogue (water)", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Chemical.Cas = "7732-18-5" }), code: inv, field: "event.chemical.cas"},
		{name: "CAS malformed", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Chemical.Cas = "90824" }), code: inv, field: "event.chemical.cas"},
		{name: "CAS missing", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Chemical.Cas = "" }), code: inv, field: "event.chemical.cas"},
		{name: "chemical missing", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Chemical = nil }), code: inv, field: "event.chemical"},
		{name: "concentration over 100 percent", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Chemical.ConcentrationPercent = 100.5 }), code: inv, field: "event.chemical.concentration_percent"},
		{name: "country XX", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.LocationCountry = "XX" }), code: inv, field: "event.location_country"},
		{name: "country lower case", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Exporter.Country = "in" }), code: inv, field: "event.exporter.country"},
		{name: "quantity negative", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Quantity.Value = -1500 }), code: inv, field: "event.quantity.value"},
		{name: "quantity NaN", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Quantity.Value = math.NaN() }), code: inv, field: "event.quantity.value"},
		{name: "quantity +Inf", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Quantity.Value = math.Inf(1) }), code: inv, field: "event.quantity.value"},
		{name: "quantity zero", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Quantity.Value = 0 }), code: inv, field: "event.quantity.value"},
		{name: "quantity over the maximum", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Quantity.Value = validate.MaxQuantityValue * 2 }), code: inv, field: "event.quantity.value"},
		{name: "quantity missing on a PEN", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Quantity = nil }), code: inv, field: "event.quantity"},
		{name: "unit unknown", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Quantity.Unit = "BARREL" }), code: inv, field: "event.quantity.unit"},
		{name: "unit missing", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Quantity.Unit = "" }), code: inv, field: "event.quantity.unit"},
		{name: "consignee missing on an export declaration", build: event(4, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Consignee = nil }), code: inv, field: "event.consignee"},
		{name: "exporter missing on a PEN", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Exporter = nil }), code: inv, field: "event.exporter"},
		{name: "pen_reply on a PEN", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.PenReply = chemledgerv1.PenReply_PEN_REPLY_NO_OBJECTION
		}), code: inv, field: "event.pen_reply"},
		{name: "PEN reply without pen_reply", build: event(2, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.PenReply = chemledgerv1.PenReply_PEN_REPLY_UNSPECIFIED
		}), code: inv, field: "event.pen_reply"},
		{name: "incident without incident_kind", build: event(17, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.IncidentKind = chemledgerv1.IncidentKind_INCIDENT_KIND_UNSPECIFIED
		}), code: inv, field: "event.incident_kind"},
		{name: "HS code of 5 digits", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Chemical.HsCode = "29394" }), code: inv, field: "event.chemical.hs_code"},
		{name: "HS code with letters", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Chemical.HsCode = "2939AB" }), code: inv, field: "event.chemical.hs_code"},
		{name: "UN/LOCODE of 4 characters", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Route[0].Locode = "INNS" }), code: inv, field: "event.route[0].locode"},
		{name: "UN/LOCODE of an unknown country", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Route[1].Locode = "XXNYC" }), code: inv, field: "event.route[1].locode"},
		{name: "too many route legs", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			for len(ev.Route) <= validate.MaxRouteLegs {
				ev.Route = append(ev.Route, &chemledgerv1.RouteLeg{Locode: "NLRTM"})
			}
		}), code: inv, field: "event.route"},
		{name: "remarks one byte too long", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.Remarks = strings.Repeat("r", validate.MaxRemarksBytes+1)
		}), code: inv, field: "event.remarks"},
		{name: "control character in a name", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.Exporter.Name = "Sarvodaya\x07 Fine Chemicals"
		}), code: inv, field: "event.exporter.name"},
		{name: "bidi override in a name", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.Importer.Name = "Northbrook \u202ePharma"
		}), code: inv, field: "event.importer.name"},
		{name: "EORI of an unknown country", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.Exporter.Identifiers = append(ev.Exporter.Identifiers, &chemledgerv1.Identifier{Scheme: "EORI", Value: "XX12345"})
		}), code: inv, field: "event.exporter.identifiers[2].value"},
		{name: "occurred_time in 1900", build: event(0, func(tb testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.OccurredTime = ts(tb, "1900-01-12T06:00:00Z") }), code: inv, field: "event.occurred_time"},
		{name: "occurred_time in 2300", build: event(0, func(tb testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.OccurredTime = ts(tb, "2300-01-12T06:00:00Z") }), code: inv, field: "event.occurred_time"},
		{name: "occurred_time missing", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.OccurredTime = nil }), code: inv, field: "event.occurred_time"},
		{name: "arrival before dispatch", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.ArrivalTime = timestamppb.New(ev.DispatchTime.AsTime().Add(-time.Hour))
		}), code: inv, field: "event.arrival_time"},
		{name: "kind unspecified", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.Kind = chemledgerv1.EventKind_EVENT_KIND_UNSPECIFIED
		}), code: inv, field: "event.kind"},
		{name: "kind an unknown enum number", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.Kind = 42 }), code: inv, field: "event.kind"},
		{name: "transport mode an unknown enum number", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.TransportMode = 99 }), code: inv, field: "event.transport_mode"},
		{name: "shipment_ref empty", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.ShipmentRef = "" }), code: inv, field: "event.shipment_ref"},
		{name: "shipment_ref with a space", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) { ev.ShipmentRef = "PEN IN 2026" }), code: inv, field: "event.shipment_ref"},
		{name: "event_id too long", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.EventId = strings.Repeat("E", validate.MaxEventIDChars+1)
		}), code: inv, field: "event.event_id"},
		{name: "authorisation without kind", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.Authorisations[0].Kind = chemledgerv1.AuthorisationKind_AUTHORISATION_KIND_UNSPECIFIED
		}), code: inv, field: "event.authorisations[0].kind"},
		{name: "declared value in lower-case currency", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.DeclaredValue = &chemledgerv1.Money{CurrencyCode: "usd", Amount: "125000.00"}
		}), code: inv, field: "event.declared_value.currency_code"},
		{name: "reference without relation", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.References = []*chemledgerv1.EntryReference{{Index: 0}}
		}), code: inv, field: "event.references[0].relation"},
		// Checked by the server against the log, not by validate.
		{name: "reference to an entry that does not exist", build: event(0, func(_ testing.TB, ev *chemledgerv1.ShipmentEvent) {
			ev.References = []*chemledgerv1.EntryReference{{Index: 1 << 40, Relation: chemledgerv1.Relation_RELATION_FOLLOWS}}
		}), code: inv, field: "event.references[0].index"},

		// The payload.
		{name: "payload with an unknown JSON field", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			p := append([]byte(`{"colour":"red",`), f.line0()[1:]...)
			return signAs(tb, f.in, f.member0(), envelope.PayloadTypeEventJSON, p)
		}), code: inv, field: "envelope.payload"},
		{name: "payload with a field of the wrong JSON type", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			p := bytes.Replace(f.line0(), []byte(`"kind":"EVENT_KIND_PRE_EXPORT_NOTIFICATION"`), []byte(`"kind":true`), 1)
			if bytes.Equal(p, f.line0()) {
				tb.Fatal("example 0 has no kind to replace")
			}
			return signAs(tb, f.in, f.member0(), envelope.PayloadTypeEventJSON, p)
		}), code: inv, field: "envelope.payload"},
		{name: "payload not JSON", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			return signAs(tb, f.in, f.member0(), envelope.PayloadTypeEventJSON, []byte("kind=PEN; cas=90-82-4"))
		}), code: inv, field: "envelope.payload"},
		{name: "payload binary protobuf with an unknown field", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			p, err := proto.Marshal(f.exs[0].line.Event)
			if err != nil {
				tb.Fatal(err)
			}
			p = protowire.AppendTag(p, 999, protowire.BytesType)
			p = protowire.AppendString(p, "hidden from every rule")
			return signAs(tb, f.in, f.member0(), envelope.PayloadTypeEventProto, p)
		}), code: inv, field: "envelope.payload"},
		{name: "payload binary protobuf that is not protobuf", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			return signAs(tb, f.in, f.member0(), envelope.PayloadTypeEventProto, []byte{0xff, 0xff, 0xff})
		}), code: inv, field: "envelope.payload"},
		{name: "payload type not accepted", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			return f.raw(tb, "application/json", f.line0(), f.member0())
		}), code: inv, field: "envelope.payload_type"},
		{name: "payload type missing", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			return f.raw(tb, "", f.line0(), f.member0())
		}), code: inv, field: "envelope.payload_type"},
		{name: "payload not canonical base64", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			w := wireEnvelope{
				PayloadType: envelope.PayloadTypeEventJSON,
				Payload:     base64.RawStdEncoding.EncodeToString(append(f.line0(), ' ')), // unpadded
				Signatures:  []wireSignature{sig(f.in.Keys[f.member0()].Signer(), envelope.PayloadTypeEventJSON, append(f.line0(), ' '))},
			}
			return w.json(tb)
		}), code: inv, field: "envelope.payload"},

		// The envelope's form.
		{name: "envelope not JSON", build: envelopeOf(func(testing.TB, *badFixture) []byte { return []byte("payloadType=event") }), code: inv, field: "envelope"},
		{name: "envelope not UTF-8", build: envelopeOf(func(testing.TB, *badFixture) []byte { return []byte("{\"payloadType\":\"\xff\"}") }), code: inv, field: "envelope"},
		{name: "envelope with the payload key twice", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			env := f.raw(tb, envelope.PayloadTypeEventJSON, f.line0(), f.member0())
			other := `"payload":"` + base64.StdEncoding.EncodeToString(f.exs[1].line.Raw) + `",`
			return bytes.Replace(env, []byte(`"signatures":`), []byte(other+`"signatures":`), 1)
		}), code: inv, field: "envelope"},
		{name: "envelope key in the wrong case", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			env := f.raw(tb, envelope.PayloadTypeEventJSON, f.line0(), f.member0())
			return bytes.Replace(env, []byte(`"payloadType"`), []byte(`"PayloadType"`), 1)
		}), code: inv, field: "envelope"},
		{name: "envelope with data after the object", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			return append(f.raw(tb, envelope.PayloadTypeEventJSON, f.line0(), f.member0()), []byte(` {}`)...)
		}), code: inv, field: "envelope"},
		{name: "envelope empty", build: envelopeOf(func(testing.TB, *badFixture) []byte { return nil }), code: inv, field: "envelope"},
		// 64 KiB + 1 fits both the gRPC message limit and the HTTP body
		// limit (2 × 64 KiB, base64 included), so both answer 400, not 413.
		{name: "envelope one byte over MaxEnvelopeBytes", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			env := f.raw(tb, envelope.PayloadTypeEventJSON, f.line0(), f.member0())
			return append(env, bytes.Repeat([]byte(" "), envelope.MaxEnvelopeBytes+1-len(env))...)
		}), code: inv, field: "envelope"},

		// Signatures.
		{name: "no signatures", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			return f.raw(tb, envelope.PayloadTypeEventJSON, f.line0())
		}), code: inv, field: "envelope.signatures"},
		{name: "more signatures than allowed", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			m := f.member0()
			return f.raw(tb, envelope.PayloadTypeEventJSON, f.line0(), m, m, m, m, m)
		}), code: inv, field: "envelope.signatures"},
		{name: "signature with a flipped byte", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			e, err := envelope.Parse(f.exs[0].env)
			if err != nil {
				tb.Fatal(err)
			}
			e.Signatures[0].Sig[17] ^= 0x01
			return encodeEnvelope(tb, e)
		}), code: inv, field: "envelope.signatures[0].sig"},
		{name: "signature of the wrong length", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			w := wireEnvelope{
				PayloadType: envelope.PayloadTypeEventJSON, Payload: base64.StdEncoding.EncodeToString(f.line0()),
				Signatures: []wireSignature{{KeyID: f.in.Keys[f.member0()].KeyID, Sig: base64.StdEncoding.EncodeToString(make([]byte, 63))}},
			}
			return w.json(tb)
		}), code: inv, field: "envelope.signatures[0].sig"},
		{name: "signature without keyid", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			s := sig(f.in.Keys[f.member0()].Signer(), envelope.PayloadTypeEventJSON, f.line0())
			s.KeyID = ""
			w := wireEnvelope{PayloadType: envelope.PayloadTypeEventJSON, Payload: base64.StdEncoding.EncodeToString(f.line0()), Signatures: []wireSignature{s}}
			return w.json(tb)
		}), code: inv, field: "envelope.signatures[0].keyid"},
		{name: "signature by an unknown key id", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			s := sig(f.in.Keys[f.member0()].Signer(), envelope.PayloadTypeEventJSON, f.line0())
			s.KeyID = "IN-NCB-00000000"
			w := wireEnvelope{PayloadType: envelope.PayloadTypeEventJSON, Payload: base64.StdEncoding.EncodeToString(f.line0()), Signatures: []wireSignature{s}}
			return w.json(tb)
		}), code: inv, field: "envelope.signatures[0].keyid"},
		{name: "signatures by two members", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			return f.raw(tb, envelope.PayloadTypeEventJSON, f.line0(), "IN-NCB", "US-CBP")
		}), code: inv, field: "envelope.signatures[1].keyid"},
		{name: "signature by a revoked key", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			return signedBy(tb, envelope.PayloadTypeEventJSON, f.exs[1].line.Raw, f.revoked)
		}), code: codes.PermissionDenied, field: "envelope.signatures[0].keyid", reason: server.ReasonKeyRevoked},
		{name: "revoked key after a current one", build: envelopeOf(func(tb testing.TB, f *badFixture) []byte {
			return signedBy(tb, envelope.PayloadTypeEventJSON, f.exs[1].line.Raw, f.in.Keys["DE-ZOLL"].Signer(), f.revoked)
		}), code: codes.PermissionDenied, field: "envelope.signatures[1].keyid", reason: server.ReasonKeyRevoked},

		// The submission id.
		{name: "submission id empty", build: withID(""), code: inv, field: "submission_id"},
		{name: "submission id with a space", build: withID("IN-NCB:PEN 1204"), code: inv, field: "submission_id"},
		{name: "submission id of 129 characters", build: withID(strings.Repeat("s", 129)), code: inv, field: "submission_id"},
		{name: "submission id with a slash", build: withID("IN-NCB/PEN-1204"), code: inv, field: "submission_id"},
		{name: "submission id reused with other bytes", build: func(tb testing.TB, f *badFixture, _ string) (string, []byte) {
			return f.exs[0].id, f.exs[f.preloaded].env // a valid envelope, not the one the id holds
		}, code: codes.AlreadyExists, field: "submission_id", reason: server.ReasonSubmissionReuse},

		// The HTTP request body itself (no gRPC counterpart).
		{name: "HTTP body with an unknown field", httpBody: func(tb testing.TB, f *badFixture, id string) []byte {
			b := entryBody(id, f.exs[f.preloaded].env)
			return append([]byte(`{"priority":"high",`), b[1:]...)
		}, code: inv, field: "priority"},
		{name: "HTTP body not JSON", httpBody: func(tb testing.TB, f *badFixture, id string) []byte {
			return []byte("submissionId=" + id)
		}, code: inv, field: "body"},
		{name: "HTTP body with an envelope that is not base64", httpBody: func(tb testing.TB, f *badFixture, id string) []byte {
			return []byte(`{"submissionId":"` + id + `","envelope":"{not base64}"}`)
		}, code: inv, field: "body"},
	}
}

// expect is what one transport must answer.
type expect struct {
	code codes.Code
	// reason is the ErrorInfo reason (domain chemledger.dev); "" means the
	// status must carry no details at all: it is grpc-go's or the
	// gateway's own, not the service's.
	reason string
	// field is the one field path of the BadRequest violations; "" means
	// no BadRequest.
	field string
	// msg must appear in the status message.
	msg string
	// status is the HTTP status; 0 means the gateway's status for code.
	status int
}

// httpStatusFor is the HTTP status the gateway answers a code with.
var httpStatusFor = map[codes.Code]int{
	codes.OK:                http.StatusOK,
	codes.InvalidArgument:   http.StatusBadRequest,
	codes.OutOfRange:        http.StatusBadRequest,
	codes.NotFound:          http.StatusNotFound,
	codes.PermissionDenied:  http.StatusForbidden,
	codes.AlreadyExists:     http.StatusConflict,
	codes.ResourceExhausted: http.StatusRequestEntityTooLarge, // gatewayErrorHandler: a body too large, not 429
}

func (w expect) httpStatus() int {
	if w.status != 0 {
		return w.status
	}
	return httpStatusFor[w.code]
}

func (w expect) check(tb testing.TB, transport string, got errorDetails, msg string) {
	tb.Helper()
	var fields []string
	if w.field != "" {
		fields = []string{w.field}
	}
	domain := ""
	if w.reason != "" {
		domain = "chemledger.dev"
	}
	if got.code != w.code || got.reason != w.reason || got.domain != domain || !slices.Equal(got.fields, fields) || !strings.Contains(msg, w.msg) {
		tb.Errorf("%s: got code %v, reason %q, domain %q, fields %q, message %.300q;\nwant code %v, reason %q, domain %q, fields %q, a message with %q",
			transport, got.code, got.reason, got.domain, got.fields, msg, w.code, w.reason, domain, fields, w.msg)
	}
}

// checkHTTP checks an HTTP refusal: its status, and its google.rpc.Status
// body as check does. viaGRPC, when set, is what gRPC answered the same
// input: HTTP must name the same fields.
func (w expect) checkHTTP(tb testing.TB, status int, body []byte, viaGRPC *errorDetails) {
	tb.Helper()
	if want := w.httpStatus(); status != want {
		tb.Errorf("HTTP: status %d, want %d; body %.300s", status, want, body)
	}
	got, msg, err := httpStatusBody(tb, body)
	if err != nil {
		tb.Errorf("HTTP: %v", err)
		return
	}
	w.check(tb, "HTTP", got, msg)
	if viaGRPC != nil && !slices.Equal(got.fields, viaGRPC.fields) {
		tb.Errorf("HTTP fields %q differ from gRPC fields %q", got.fields, viaGRPC.fields)
	}
}

// checkBulkRefused checks that every item of a bulk stream was refused as
// wants says of it, naming its one field.
func checkBulkRefused(tb testing.TB, items []bulkItem, results []*chemledgerv1.BulkResult, wants []expect) {
	tb.Helper()
	if len(results) != len(items) {
		tb.Fatalf("%d results for %d items", len(results), len(items))
	}
	for i, r := range results {
		e := r.GetError()
		var fields []string
		for _, v := range e.GetFieldViolations() {
			if !slices.Contains(fields, v.GetField()) {
				fields = append(fields, v.GetField())
			}
		}
		w := wants[i]
		if codes.Code(e.GetCode()) != w.code || e.GetReason() != w.reason || !slices.Equal(fields, []string{w.field}) {
			tb.Errorf("bulk item %d (%s): error %v; want code %v, reason %s, field %s", i, items[i].id, e, w.code, w.reason, w.field)
		}
	}
}

func TestBadInput(t *testing.T) {
	f := newBadFixture(t)
	before := logSize(t, f.c)

	rows := badSubmissions()
	t.Logf("%d submission rows", len(rows))
	for i, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.want()
			freshID := "bad-input-" + strconv.Itoa(i)

			if tc.httpBody != nil {
				body := tc.httpBody(t, f, freshID)
				code, b := postEntry(t, f.in, body)
				w.checkHTTP(t, code, b, nil)
				if t.Failed() {
					t.Logf("body: %.300s", body)
				}
				return
			}

			id, env := tc.build(t, f, freshID)
			_, err := f.c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: id, Envelope: env})
			st := status.Convert(err)
			viaGRPC := detailsOf(st)
			w.check(t, "gRPC", viaGRPC, st.Message())

			code, b := postEntry(t, f.in, entryBody(id, env))
			w.checkHTTP(t, code, b, &viaGRPC)

			if t.Failed() {
				t.Logf("submission id %q, envelope (%d bytes): %.300s", id, len(env), env)
				t.Logf("gRPC status: %v %q %v", st.Code(), st.Message(), st.Details())
				t.Logf("HTTP body: %.600s", b)
			}
		})
	}

	t.Run("bulk", func(t *testing.T) {
		// The same rows through BulkCreateEntries: each item gets the code
		// and field violations CreateEntry gave.
		var items []bulkItem
		var wants []expect
		for i, tc := range rows {
			if tc.build == nil {
				continue
			}
			id, env := tc.build(t, f, "bad-bulk-"+strconv.Itoa(i))
			items = append(items, bulkItem{id: id, env: env})
			wants = append(wants, tc.want())
		}
		checkBulkRefused(t, items, runBulk(t, f.c, items), wants)
	})

	if got := logSize(t, f.c); got != before {
		t.Errorf("after the bad-input table: log size %d, want %d (unchanged)", got, before)
	}
}

// badQuery is one row of the read-side table.
type badQuery struct {
	name string
	grpc func(ctx context.Context, c chemledgerv1.LedgerServiceClient, f *badFixture) error
	// path is the HTTP form (GET); nil for a gRPC-only row.
	path   func(f *badFixture) string
	code   codes.Code
	reason string
	field  string
}

func listQuery(filter, token string, size int32) (func(context.Context, chemledgerv1.LedgerServiceClient, *badFixture) error, func(*badFixture) string) {
	return func(ctx context.Context, c chemledgerv1.LedgerServiceClient, _ *badFixture) error {
			_, err := c.ListEntries(ctx, &chemledgerv1.ListEntriesRequest{Filter: filter, PageToken: token, PageSize: size})
			return err
		}, func(*badFixture) string {
			return "/v1/entries?" + pageQuery(filter, "", token, size)
		}
}

// pageQuery is the HTTP query of a list request; parameters left empty are
// left out.
func pageQuery(filter, order, token string, size int32) string {
	q := url.Values{}
	for k, v := range map[string]string{"filter": filter, "orderBy": order, "pageToken": token} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if size != 0 {
		q.Set("pageSize", strconv.Itoa(int(size)))
	}
	return q.Encode()
}

func badQueries() []badQuery {
	beyond := func(f *badFixture) uint64 { return uint64(f.preloaded) }
	rows := []badQuery{
		{name: "GetEntry at the end",
			grpc: func(ctx context.Context, c chemledgerv1.LedgerServiceClient, f *badFixture) error {
				_, err := c.GetEntry(ctx, &chemledgerv1.GetEntryRequest{Index: beyond(f)})
				return err
			},
			path: func(f *badFixture) string { return "/v1/entries/" + strconv.FormatUint(beyond(f), 10) },
			code: codes.NotFound, reason: server.ReasonEntryNotFound},
		{name: "GetEntry at the largest index",
			grpc: func(ctx context.Context, c chemledgerv1.LedgerServiceClient, f *badFixture) error {
				_, err := c.GetEntry(ctx, &chemledgerv1.GetEntryRequest{Index: math.MaxUint64})
				return err
			},
			path: func(*badFixture) string { return "/v1/entries/18446744073709551615" },
			code: codes.NotFound, reason: server.ReasonEntryNotFound},
		{name: "inclusion proof of an entry beyond the end",
			grpc: func(ctx context.Context, c chemledgerv1.LedgerServiceClient, f *badFixture) error {
				_, err := c.GetInclusionProof(ctx, &chemledgerv1.GetInclusionProofRequest{Index: beyond(f) + 3})
				return err
			},
			path: func(f *badFixture) string {
				return "/v1/entries/" + strconv.FormatUint(beyond(f)+3, 10) + "/inclusion-proof"
			},
			code: codes.NotFound, reason: server.ReasonEntryNotFound},
		{name: "inclusion proof for a tree size beyond the log",
			grpc: func(ctx context.Context, c chemledgerv1.LedgerServiceClient, f *badFixture) error {
				_, err := c.GetInclusionProof(ctx, &chemledgerv1.GetInclusionProofRequest{Index: 0, TreeSize: beyond(f) + 1})
				return err
			},
			path: func(f *badFixture) string {
				return "/v1/entries/0/inclusion-proof?treeSize=" + strconv.FormatUint(beyond(f)+1, 10)
			},
			code: codes.OutOfRange, reason: server.ReasonTreeSize},
		{name: "inclusion proof for a tree the entry is not in",
			grpc: func(ctx context.Context, c chemledgerv1.LedgerServiceClient, f *badFixture) error {
				_, err := c.GetInclusionProof(ctx, &chemledgerv1.GetInclusionProofRequest{Index: 3, TreeSize: 2})
				return err
			},
			path: func(*badFixture) string { return "/v1/entries/3/inclusion-proof?tree_size=2" },
			code: codes.OutOfRange, reason: server.ReasonTreeSize},
		{name: "consistency from size 0",
			grpc: func(ctx context.Context, c chemledgerv1.LedgerServiceClient, f *badFixture) error {
				_, err := c.GetConsistencyProof(ctx, &chemledgerv1.GetConsistencyProofRequest{First: 0, Second: 2})
				return err
			},
			path: func(*badFixture) string { return "/v1/consistency-proof?first=0&second=2" },
			code: codes.InvalidArgument, reason: server.ReasonBadInput, field: "first"},
		{name: "consistency with first after second",
			grpc: func(ctx context.Context, c chemledgerv1.LedgerServiceClient, f *badFixture) error {
				_, err := c.GetConsistencyProof(ctx, &chemledgerv1.GetConsistencyProofRequest{First: 4, Second: 2})
				return err
			},
			path: func(*badFixture) string { return "/v1/consistency-proof?first=4&second=2" },
			code: codes.OutOfRange, reason: server.ReasonTreeSize},
		{name: "consistency to a size beyond the log",
			grpc: func(ctx context.Context, c chemledgerv1.LedgerServiceClient, f *badFixture) error {
				_, err := c.GetConsistencyProof(ctx, &chemledgerv1.GetConsistencyProofRequest{First: 1, Second: beyond(f) + 1})
				return err
			},
			path: func(f *badFixture) string {
				return "/v1/consistency-proof?first=1&second=" + strconv.FormatUint(beyond(f)+1, 10)
			},
			code: codes.OutOfRange, reason: server.ReasonTreeSize},
		// Path and query parameters the gateway cannot parse: the violation
		// names the parameter (there is no request body to blame).
		{name: "HTTP entry index not a number",
			path: func(*badFixture) string { return "/v1/entries/first" },
			code: codes.InvalidArgument, reason: server.ReasonBadInput, field: "index"},
		{name: "HTTP page size not a number",
			path: func(*badFixture) string { return "/v1/entries?pageSize=ten" },
			code: codes.InvalidArgument, reason: server.ReasonBadInput, field: "page_size"},
		{name: "HTTP consistency first negative",
			path: func(*badFixture) string { return "/v1/consistency-proof?first=-1&second=2" },
			code: codes.InvalidArgument, reason: server.ReasonBadInput, field: "first"},
	}
	for _, l := range []struct {
		name, filter string
		size         int32
		token        string
		field        string
		reason       string
	}{
		{name: "filter on an unknown field", filter: `colour = "red"`, field: "filter", reason: server.ReasonBadFilter},
		{name: "filter with OR", filter: `member = "US-CBP" OR member = "MX-ANAM"`, field: "filter", reason: server.ReasonBadFilter},
		{name: "filter with an unterminated string", filter: `shipment_ref = "PEN-IN-2026`, field: "filter", reason: server.ReasonBadFilter},
		{name: "filter on an unknown kind", filter: `kind = SMUGGLING`, field: "filter", reason: server.ReasonBadFilter},
		{name: "filter with a time that is not RFC 3339", filter: `integrated_time >= "yesterday"`, field: "filter", reason: server.ReasonBadFilter},
		{name: "filter with != ", filter: `member != "US-CBP"`, field: "filter", reason: server.ReasonBadFilter},
		{name: "page token not ours", token: "bm90LWEtdG9rZW4", field: "page_token", reason: server.ReasonBadPageToken},
		{name: "page token not base64", token: "%%%", field: "page_token", reason: server.ReasonBadPageToken},
		{name: "page size negative", size: -1, field: "page_size", reason: server.ReasonBadInput},
	} {
		g, p := listQuery(l.filter, l.token, l.size)
		rows = append(rows, badQuery{name: l.name, grpc: g, path: p, code: codes.InvalidArgument, reason: l.reason, field: l.field})
	}
	// A token is bound to the filter it was issued for.
	rows = append(rows, badQuery{name: "page token from another filter",
		grpc: func(ctx context.Context, c chemledgerv1.LedgerServiceClient, f *badFixture) error {
			g, _ := listQuery("kind = PEN_REPLY", f.token, 0)
			return g(ctx, c, f)
		},
		path: func(f *badFixture) string {
			_, p := listQuery("kind = PEN_REPLY", f.token, 0)
			return p(f)
		},
		code: codes.InvalidArgument, reason: server.ReasonBadPageToken, field: "page_token"})
	return rows
}

func TestBadQueries(t *testing.T) {
	f := newBadFixture(t)
	before := logSize(t, f.c)
	rows := badQueries()
	t.Logf("%d query rows", len(rows))
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			w := expect{code: tc.code, reason: tc.reason, field: tc.field}
			var viaGRPC *errorDetails
			if tc.grpc != nil {
				err := tc.grpc(t.Context(), f.c, f)
				st := status.Convert(err)
				d := detailsOf(st)
				w.check(t, "gRPC", d, st.Message())
				if t.Failed() {
					t.Logf("gRPC error: %v", err)
				}
				viaGRPC = &d
			}
			if tc.path != nil {
				u := "http://" + f.in.HTTPAddr + tc.path(f)
				code, _, b := httpCall(t, http.MethodGet, u, nil, nil)
				w.checkHTTP(t, code, b, viaGRPC)
				if t.Failed() {
					t.Logf("GET %s: %d %s", u, code, b)
				}
			}
		})
	}
	if got := logSize(t, f.c); got != before {
		t.Errorf("after the query table: log size %d, want %d (unchanged)", got, before)
	}
}
