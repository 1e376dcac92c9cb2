package server_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

func membershipChange(m *chemledgerv1.Membership) *chemledgerv1.RegistryEntry {
	return &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_Membership{Membership: m}}
}

func joinOf(k members.PrivateKey, roles ...string) *chemledgerv1.RegistryEntry {
	pub := k.Public()
	return membershipChange(&chemledgerv1.Membership{
		Member: k.Member, Action: chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_JOIN, Country: k.Member[:2],
		Agency: "Canada Border Services Agency", Roles: roles,
		Keys:                []*chemledgerv1.SigningKey{{KeyId: pub.ID, Ed25519: pub.Ed25519}},
		CertificateIdentity: members.CertificateIdentity(k.Member),
	})
}

// appendRegistryAs appends e signed by member's key over member's
// certificate in role, and returns the error.
func appendRegistryAs(tb testing.TB, in *servertest.Instance, member, role, id string, e *chemledgerv1.RegistryEntry) error {
	tb.Helper()
	c := openGRPC(tb, in, clientTLS(tb, in, member, role))
	defer c.close()
	ctx, cancel := context.WithTimeout(tb.Context(), mtlsTimeout)
	defer cancel()
	_, err := c.ledger().CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{
		SubmissionId: member + ":" + id,
		Envelope:     signAs(tb, in, member, envelope.PayloadTypeRegistryJSON, registryJSON(tb, id, e)),
	})
	return err
}

// TestMembershipLifecycle admits a new member through the log, lets it act
// with its own key and certificate, refuses what no member may do, suspends
// and reinstates it, and replays all of it after a restart.
func TestMembershipLifecycle(t *testing.T) {
	dir := t.TempDir()
	s := startSecured(t, dir, servertest.Options{Audit: true})
	in := s.in
	event := readExamples(t)[0].Event
	cbsa, err := members.GenerateKey("CA-CBSA")
	if err != nil {
		t.Fatal(err)
	}
	cbsaCert := issueClient(t, devCA(t, in), "CA-CBSA", "", nil)
	seq := 0
	submitAsCBSA := func(t *testing.T, in *servertest.Instance, l mtlsListener) (uint64, error) {
		t.Helper()
		seq++
		c := l.open(t, in, withCert(clientTLS(t, in, "US-CBP", pki.RoleSubmitter), &cbsaCert))
		defer c.close()
		ctx, cancel := context.WithTimeout(t.Context(), mtlsTimeout)
		defer cancel()
		id := fmt.Sprintf("CA-CBSA:ev-%d", seq)
		before := committed(in)
		err := c.createEntry(ctx, id, signWith(t, cbsa, envelope.PayloadTypeEventJSON, renamedEvent(t, event, fmt.Sprintf("CBSA-%d", seq))))
		return before, err
	}
	refused := func(t *testing.T, in *servertest.Instance, what string, err error, before uint64, code codes.Code, reason string) {
		t.Helper()
		if status.Code(err) != code || reasonOf(err) != reason {
			t.Fatalf("%s: %v, want %v %s", what, err, code, reason)
		}
		if after := committed(in); after != before {
			t.Fatalf("%s: the log grew from %d to %d", what, before, after)
		}
	}

	for _, l := range mtlsListeners {
		before, err := submitAsCBSA(t, in, l)
		refused(t, in, "CA-CBSA before it joined, over "+l.name, err, before, codes.Unauthenticated, server.ReasonUnauthenticated)
	}
	before := committed(in)
	err = appendRegistryAs(t, in, "MX-ANAM", pki.RoleSubmitter, "join-cbsa-by-submitter", joinOf(cbsa, "submitter"))
	refused(t, in, "a submitter admits a member", err, before, codes.PermissionDenied, server.ReasonDenied)

	joined := appendAsAdmin(t, in, "join-CA-CBSA", joinOf(cbsa, pki.RoleSubmitter, pki.RoleAnalyst))
	for _, l := range mtlsListeners {
		if _, err := submitAsCBSA(t, in, l); err != nil {
			t.Fatalf("CA-CBSA after it joined, over %s: %v", l.name, err)
		}
	}
	signedBefore := committed(in) - 1

	before = committed(in)
	err = appendRegistryAs(t, in, "US-CBP", pki.RoleAdmin, "join-CA-CBSA-again", joinOf(cbsa, pki.RoleSubmitter))
	refused(t, in, "the same member admitted twice", err, before, codes.FailedPrecondition, server.ReasonMemberChange)

	for _, tt := range []struct {
		name string
		e    *chemledgerv1.RegistryEntry
	}{
		{"an admin grants itself a role", &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_MemberRole{MemberRole: &chemledgerv1.MemberRole{Member: "US-CBP", Role: pki.RoleAnalyst}}}},
		{"an admin suspends itself", membershipChange(&chemledgerv1.Membership{Member: "US-CBP", Action: chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_SUSPEND, Reason: "self"})},
	} {
		before := committed(in)
		err := appendRegistryAs(t, in, "US-CBP", pki.RoleAdmin, "self-"+fmt.Sprint(before), tt.e)
		refused(t, in, tt.name, err, before, codes.PermissionDenied, server.ReasonDenied)
	}

	checkListed := func(t *testing.T, in *servertest.Instance, want chemledgerv1.MemberStatus, changes int) {
		t.Helper()
		c := openGRPC(t, in, clientTLS(t, in, "MX-ANAM", pki.RoleAuditor))
		defer c.close()
		resp, err := c.ledger().ListMembers(t.Context(), &chemledgerv1.ListMembersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.GetMembers() {
			if m.GetId() != "CA-CBSA" {
				continue
			}
			if m.GetStatus() != want || len(m.GetHistory()) != changes || m.GetHistory()[0].GetIndex() != joined.GetIndex() ||
				len(m.GetKeys()) != 1 || m.GetKeys()[0].GetKeyId() != cbsa.KeyID || m.GetCountry() != "CA" {
				t.Fatalf("CA-CBSA listed as %v, want %v with %d changes, the first at entry %d", m, want, changes, joined.GetIndex())
			}
			return
		}
		t.Fatalf("CA-CBSA is not listed in %v", resp)
	}
	checkListed(t, in, chemledgerv1.MemberStatus_MEMBER_STATUS_ACTIVE, 1)

	appendAsAdmin(t, in, "suspend-CA-CBSA", membershipChange(&chemledgerv1.Membership{
		Member: "CA-CBSA", Action: chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_SUSPEND, Reason: "audit finding (test)"}))
	for _, l := range mtlsListeners {
		before, err := submitAsCBSA(t, in, l)
		refused(t, in, "CA-CBSA suspended, over "+l.name, err, before, codes.PermissionDenied, server.ReasonDenied)
	}
	checkListed(t, in, chemledgerv1.MemberStatus_MEMBER_STATUS_SUSPENDED, 2)
	// What it signed before its suspension is still served.
	c := openGRPC(t, in, clientTLS(t, in, "MX-ANAM", pki.RoleAnalyst))
	e, err := c.ledger().GetEntry(t.Context(), &chemledgerv1.GetEntryRequest{Index: signedBefore})
	c.close()
	if err != nil || e.GetMember() != "CA-CBSA" {
		t.Fatalf("entry %d signed before the suspension: %v, member %q", signedBefore, err, e.GetMember())
	}

	s.stop()
	in = startSecured(t, dir, servertest.Options{Audit: true}).in
	t.Run("after a restart", func(t *testing.T) {
		checkListed(t, in, chemledgerv1.MemberStatus_MEMBER_STATUS_SUSPENDED, 2)
		before, err := submitAsCBSA(t, in, mtlsListeners[0])
		refused(t, in, "CA-CBSA suspended, after a restart", err, before, codes.PermissionDenied, server.ReasonDenied)
		appendAsAdmin(t, in, "reinstate-CA-CBSA", membershipChange(&chemledgerv1.Membership{
			Member: "CA-CBSA", Action: chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_REINSTATE}))
		if _, err := submitAsCBSA(t, in, mtlsListeners[1]); err != nil {
			t.Fatalf("CA-CBSA reinstated: %v", err)
		}
		checkListed(t, in, chemledgerv1.MemberStatus_MEMBER_STATUS_ACTIVE, 3)
	})
}
