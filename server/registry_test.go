package server_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func licenceEntry() *chemledgerv1.RegistryEntry {
	t := func(s string) *timestamppb.Timestamp {
		v, _ := time.Parse(time.RFC3339, s)
		return timestamppb.New(v)
	}
	return &chemledgerv1.RegistryEntry{
		EntryId:       "MX-LIC-2026-0042",
		EffectiveTime: t("2026-01-01T00:00:00Z"),
		Change: &chemledgerv1.RegistryEntry_Licence{Licence: &chemledgerv1.Licence{
			Number:         "COFEPRIS-PQ-2026-0042",
			IssuingCountry: "MX",
			Holder:         &chemledgerv1.Party{Name: "Laboratorios Ejemplo S.A.", Country: "MX"},
			Cas:            []string{"90-82-4"},
			ValidFrom:      t("2026-01-01T00:00:00Z"),
			ValidUntil:     t("2026-12-31T23:59:59Z"),
		}},
	}
}

// Registry entries and dispositions are log entries like events: accepted
// when valid, served back decoded, filterable by kind, and refused with
// precise field paths when not.
func TestRegistryAndDispositionEntries(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)

	licJSON, err := protojson.Marshal(licenceEntry())
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{
		SubmissionId: "MX-ANAM:MX-LIC-2026-0042",
		Envelope:     signAs(t, in, "MX-ANAM", envelope.PayloadTypeRegistryJSON, licJSON),
	})
	if err != nil {
		t.Fatalf("licence: %v", err)
	}
	e, err := c.GetEntry(t.Context(), &chemledgerv1.GetEntryRequest{Index: r.GetIndex()})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(e.GetRegistry(), licenceEntry()) || e.GetEvent() != nil || e.GetPayloadType() != envelope.PayloadTypeRegistryJSON {
		t.Fatalf("GetEntry = %v, want the licence back", e)
	}

	disp, _ := proto.Marshal(&chemledgerv1.Disposition{
		FlagId: "R1-3f9a0c2b1d4e", Status: chemledgerv1.DispositionStatus_DISPOSITION_STATUS_DISMISSED,
		Note: "Evaporation loss documented by the consignee; within contract tolerance.",
	})
	if _, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{
		SubmissionId: "US-CBP:disp-1",
		Envelope:     signAs(t, in, "US-CBP", envelope.PayloadTypeDispositionProto, disp),
	}); err != nil {
		t.Fatalf("disposition: %v", err)
	}

	for kind, want := range map[string]int{"REGISTRY_LICENCE": 1, "DISPOSITION": 1, "EXPORT_DECLARATION": 0} {
		resp, err := c.ListEntries(t.Context(), &chemledgerv1.ListEntriesRequest{Filter: "kind = " + kind})
		if err != nil {
			t.Fatalf("list kind %s: %v", kind, err)
		}
		if len(resp.GetEntries()) != want {
			t.Errorf("kind %s: %d entries, want %d", kind, len(resp.GetEntries()), want)
		}
	}

	bad := []struct {
		name        string
		payloadType string
		msg         proto.Message
		wantField   string
	}{
		{"licence without holder", envelope.PayloadTypeRegistryProto, func() proto.Message {
			r := licenceEntry()
			r.GetLicence().Holder = nil
			return r
		}(), "registry.licence.holder"},
		{"licence with a bad CAS", envelope.PayloadTypeRegistryProto, func() proto.Message {
			r := licenceEntry()
			r.GetLicence().Cas = []string{"90-82-5"}
			return r
		}(), "registry.licence.cas[0]"},
		{"licence that ends before it starts", envelope.PayloadTypeRegistryProto, func() proto.Message {
			r := licenceEntry()
			r.GetLicence().ValidUntil = timestamppb.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
			return r
		}(), "registry.licence.valid_until"},
		{"registry entry with no change", envelope.PayloadTypeRegistryProto, &chemledgerv1.RegistryEntry{EntryId: "X-1", EffectiveTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}, "registry.change"},
		{"annual requirement in the past century", envelope.PayloadTypeRegistryProto, &chemledgerv1.RegistryEntry{
			EntryId: "ALR-1", EffectiveTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
			Change: &chemledgerv1.RegistryEntry_AnnualRequirement{AnnualRequirement: &chemledgerv1.AnnualRequirement{Country: "MX", Cas: "90-82-4", Kilograms: 1000, Year: 1950}},
		}, "registry.annual_requirement.year"},
		{"watch-list entry without a list", envelope.PayloadTypeRegistryProto, &chemledgerv1.RegistryEntry{
			EntryId: "WL-1", EffectiveTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
			Change: &chemledgerv1.RegistryEntry_WatchListEntry{WatchListEntry: &chemledgerv1.WatchListEntry{Party: &chemledgerv1.Party{Name: "Example Trading Ltd"}}},
		}, "registry.watch_list_entry.list"},
		{"disposition of no flag", envelope.PayloadTypeDispositionProto, &chemledgerv1.Disposition{FlagId: "not-a-flag", Status: chemledgerv1.DispositionStatus_DISPOSITION_STATUS_CONFIRMED, Note: "x"}, "disposition.flag_id"},
		{"disposition without a decision", envelope.PayloadTypeDispositionProto, &chemledgerv1.Disposition{FlagId: "R3-0123456789ab", Note: "x"}, "disposition.status"},
		{"disposition without a note", envelope.PayloadTypeDispositionProto, &chemledgerv1.Disposition{FlagId: "R3-0123456789ab", Status: chemledgerv1.DispositionStatus_DISPOSITION_STATUS_ESCALATED}, "disposition.note"},
		{"event under the registry type", envelope.PayloadTypeRegistryJSON, &chemledgerv1.ShipmentEvent{EventId: "E-1"}, "envelope.payload"},
	}
	size := logSize(t, c)
	for i, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			var payload []byte
			var err error
			if tc.payloadType == envelope.PayloadTypeRegistryJSON {
				payload, err = protojson.Marshal(tc.msg)
			} else {
				payload, err = proto.Marshal(tc.msg)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{
				SubmissionId: "MX-ANAM:bad-" + string(rune('a'+i)),
				Envelope:     signAs(t, in, "MX-ANAM", tc.payloadType, payload),
			})
			st := status.Convert(err)
			d := detailsOf(st)
			if st.Code() != codes.InvalidArgument || !slices.Contains(d.fields, tc.wantField) {
				t.Fatalf("CreateEntry(%s) = %v with fields %v; want INVALID_ARGUMENT naming %s", tc.name, err, d.fields, tc.wantField)
			}
		})
	}
	if got := logSize(t, c); got != size {
		t.Fatalf("log size %d after refused entries, want %d", got, size)
	}
}

// A signed event replayed under a new submission id is refused with a clear
// duplicate error; as a new event (a new event id) it is accepted.
func TestReplayedEventUnderNewSubmissionID(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	exs := signedExamples(t, in)
	submitAll(t, c, exs[:1])
	size := logSize(t, c)

	_, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: "replay-1", Envelope: exs[0].env})
	st := status.Convert(err)
	if st.Code() != codes.AlreadyExists || detailsOf(st).reason != "DUPLICATE_EVENT" {
		t.Fatalf("replayed envelope under a new submission id: %v (reason %q), want ALREADY_EXISTS / DUPLICATE_EVENT", err, detailsOf(st).reason)
	}
	// The same through the bulk stream, twice in one stream.
	results := runBulk(t, c, []bulkItem{{id: "replay-2", env: exs[0].env}, {id: "replay-3", env: exs[0].env}})
	for _, r := range results {
		if r.GetError().GetReason() != "DUPLICATE_EVENT" {
			t.Errorf("bulk replay %s: %v, want DUPLICATE_EVENT", r.GetSubmissionId(), r.GetError())
		}
	}
	if got := logSize(t, c); got != size {
		t.Fatalf("log size %d after replays, want %d", got, size)
	}

	ev := proto.Clone(exs[0].line.Event).(*chemledgerv1.ShipmentEvent)
	ev.EventId += "-2"
	payload, _ := proto.Marshal(ev)
	if _, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: "new-event", Envelope: signAs(t, in, exs[0].member, envelope.PayloadTypeEventProto, payload)}); err != nil {
		t.Fatalf("a new event id: %v", err)
	}
}
