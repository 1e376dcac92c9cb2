package server_test

import (
	"encoding/json"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

func referenceChange(u *chemledgerv1.ReferenceUpdate) *chemledgerv1.RegistryEntry {
	return &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_ReferenceUpdate{ReferenceUpdate: u}}
}

// TestReferenceUpdateOverTheAPI: Panama's requirement matrix is empty in
// the embedded table, so an export to Panama without a PEN raises no R4
// flag. Once Panama's agency sets a PEN requirement for Table I in the
// log, the same export raises one, naming the entry; GET /v1/reference
// shows the value with its entry; a rebuild gives the same flags, byte for
// byte. Who may set what is enforced: a country its own requirement, an
// admin the shared tables.
func TestReferenceUpdateOverTheAPI(t *testing.T) {
	s := startSecured(t, "", servertest.Options{})
	in := s.in
	exp := signedExamples(t, in)[19]
	if exp.line.Event.GetKind() != chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION || exp.line.Event.GetImporter().GetCountry() != "PA" {
		t.Fatalf("example 19 is %v to %s, want an export declaration to PA", exp.line.Event.GetKind(), exp.line.Event.GetImporter().GetCountry())
	}
	exportAs := func(ref string) {
		t.Helper()
		env := signMutated(t, in, exp, func(ev *chemledgerv1.ShipmentEvent) { ev.EventId, ev.ShipmentRef, ev.References = ref, ref, nil })
		if _, err := s.ledger(t, exp.member, pki.RoleSubmitter).CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: exp.member + ":" + ref, Envelope: env}); err != nil {
			t.Fatalf("export %s: %v", ref, err)
		}
	}
	r4 := func(ref string) []*chemledgerv1.Flag {
		t.Helper()
		waitDerived(t, in)
		resp, err := s.analyst(t, "US-CBP", pki.RoleAnalyst).ListFlags(t.Context(), &chemledgerv1.ListFlagsRequest{Filter: `rule_id = "R4" AND shipment_ref = "` + ref + `"`})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetFlags()
	}
	appendRef := func(member, role, id string, u *chemledgerv1.ReferenceUpdate) (*chemledgerv1.Receipt, error) {
		return s.ledger(t, member, role).CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{
			SubmissionId: member + ":" + id,
			Envelope:     signAs(t, in, member, envelope.PayloadTypeRegistryJSON, registryJSON(t, id, referenceChange(u))),
		})
	}
	penPA := &chemledgerv1.ReferenceUpdate{Kind: chemledgerv1.ReferenceUpdate_KIND_PEN_REQUIREMENT, Country: "PA", Cas: []string{"TABLE_I"}}

	exportAs("REF-PA-BEFORE")
	if f := r4("REF-PA-BEFORE"); len(f) != 0 {
		t.Fatalf("R4 on an export to PA before any requirement: %v, want none", f)
	}

	// Who may set what.
	refusals := []struct {
		name, member, role string
		u                  *chemledgerv1.ReferenceUpdate
	}{
		{"another country's PEN requirement", "MX-ANAM", pki.RoleSubmitter, penPA},
		{"another country's PEN requirement, even as admin", "US-CBP", pki.RoleAdmin, penPA},
		{"a shared table as a submitter", "PA-ANA", pki.RoleSubmitter, &chemledgerv1.ReferenceUpdate{Kind: chemledgerv1.ReferenceUpdate_KIND_LICENCE_REGISTER, Country: "PA", Complete: true}},
		{"a reporting threshold as a submitter", "US-CBP", pki.RoleSubmitter, &chemledgerv1.ReferenceUpdate{Kind: chemledgerv1.ReferenceUpdate_KIND_REPORTING_THRESHOLD, Cas: []string{"67-64-1"}, Kilograms: 50}},
	}
	for i, tt := range refusals {
		before := committed(in)
		_, err := appendRef(tt.member, tt.role, "refused-"+string(rune('a'+i)), tt.u)
		if status.Code(err) != codes.PermissionDenied || reasonOf(err) != server.ReasonDenied {
			t.Errorf("%s: %v, want PERMISSION_DENIED %s", tt.name, err, server.ReasonDenied)
		}
		if after := committed(in); after != before {
			t.Errorf("%s: the log grew from %d to %d", tt.name, before, after)
		}
	}
	before := committed(in)
	_, err := appendRef("PA-ANA", pki.RoleSubmitter, "bad-pen", &chemledgerv1.ReferenceUpdate{Kind: chemledgerv1.ReferenceUpdate_KIND_PEN_REQUIREMENT, Country: "PA", Cas: []string{"50-00-0"}})
	if d := detailsOf(status.Convert(err)); status.Code(err) != codes.InvalidArgument || len(d.fields) != 1 || d.fields[0] != "registry.reference_update.cas[0]" {
		t.Errorf("an uncatalogued chemical: %v (fields %v), want INVALID_ARGUMENT on registry.reference_update.cas[0]", err, d.fields)
	}
	if committed(in) != before {
		t.Errorf("a refused update was logged")
	}

	// The admin sets a shared table; Panama its own requirement.
	if _, err := appendRef("US-CBP", pki.RoleAdmin, "threshold-acetone", &chemledgerv1.ReferenceUpdate{Kind: chemledgerv1.ReferenceUpdate_KIND_REPORTING_THRESHOLD, Cas: []string{"67-64-1"}, Kilograms: 50}); err != nil {
		t.Fatalf("the admin sets a reporting threshold: %v", err)
	}
	receipt, err := appendRef("PA-ANA", pki.RoleSubmitter, "pen-pa", penPA)
	if err != nil {
		t.Fatalf("PA-ANA sets PA's PEN requirement: %v", err)
	}
	exportAs("REF-PA-AFTER")
	after := r4("REF-PA-AFTER")
	if len(after) != 1 {
		t.Fatalf("R4 on an export to PA after PA requires a PEN for Table I: %v, want one flag", after)
	}
	if f := r4("REF-PA-BEFORE"); len(f) != 0 {
		t.Errorf("the export logged before the requirement gained an R4 flag: %v", f)
	}

	// The effective tables, as every role reads them.
	asOf := exp.line.Event.GetOccurredTime()
	for _, role := range pki.Roles {
		ref, err := s.analyst(t, "MX-ANAM", role).GetReference(t.Context(), &chemledgerv1.GetReferenceRequest{AsOf: asOf})
		if err != nil {
			t.Fatalf("GetReference as %s: %v", role, err)
		}
		var pa, us *chemledgerv1.PenRequirementValue
		for _, p := range ref.GetPenRequirements() {
			switch p.GetCountry() {
			case "PA":
				pa = p
			case "US":
				us = p
			}
		}
		if pa == nil || pa.GetSource().GetEmbedded() || pa.GetSource().GetEntryIndex() != receipt.GetIndex() || pa.GetSource().GetMember() != "PA-ANA" || len(pa.GetCas()) == 0 {
			t.Errorf("GetReference as %s: PA is %v, want Table I from entry %d by PA-ANA", role, pa, receipt.GetIndex())
		}
		if us == nil || !us.GetSource().GetEmbedded() {
			t.Errorf("GetReference as %s: US is %v, want the embedded table's", role, us)
		}
		var acetone *chemledgerv1.ReportingThresholdValue
		for _, th := range ref.GetReportingThresholds() {
			if th.GetCas() == "67-64-1" {
				acetone = th
			}
		}
		if acetone == nil || acetone.GetKilograms() != 50 || acetone.GetSource().GetMember() != "US-CBP" {
			t.Errorf("GetReference as %s: acetone's threshold is %v, want 50 kg set by US-CBP", role, acetone)
		}
	}
	// Before the log clock knows anything, an as_of in the past still
	// answers with the entry (it has no validity bounds).
	old, err := s.analyst(t, "MX-ANAM", pki.RoleAuditor).GetReference(t.Context(), &chemledgerv1.GetReferenceRequest{AsOf: timestamppb.New(asOf.AsTime().AddDate(-5, 0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range old.GetPenRequirements() {
		found = found || p.GetCountry() == "PA" && p.GetSource().GetEntryIndex() == receipt.GetIndex()
	}
	if !found {
		t.Errorf("GetReference five years back: %v, want PA's entry (valid from the start)", old.GetPenRequirements())
	}

	// A rebuild gives the same flags, byte for byte.
	snap := func() []byte {
		b, err := json.Marshal(in.Deriver.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	was := snap()
	if _, err := chemledgerv1.NewAdminServiceClient(s.conn(t, "US-CBP", pki.RoleAdmin)).RebuildDerivedState(t.Context(), &chemledgerv1.RebuildDerivedStateRequest{}); err != nil {
		t.Fatal(err)
	}
	if now := snap(); string(now) != string(was) {
		t.Fatalf("flags differ after the rebuild:\nbefore %s\nafter  %s", was, now)
	}
	if f := r4("REF-PA-AFTER"); len(f) != 1 || f[0].GetId() != after[0].GetId() {
		t.Errorf("after the rebuild R4 on REF-PA-AFTER is %v, want %v", f, after)
	}
}
