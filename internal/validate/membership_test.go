package validate

import (
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/internal/badinput"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func join() *v1.Membership {
	return &v1.Membership{
		Member: "CA-CBSA", Action: v1.MembershipAction_MEMBERSHIP_ACTION_JOIN, Country: "CA",
		Agency: "Canada Border Services Agency", Roles: []string{"submitter", "analyst"},
		Keys:                []*v1.SigningKey{{KeyId: "CA-CBSA-1a2b3c4d", Ed25519: make([]byte, 32)}},
		CertificateIdentity: "spiffe://chemledger/member/CA-CBSA",
	}
}

func TestMembership(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *v1.Membership)
		want   []string // field paths, in order; none means valid
	}{
		{name: "a join with everything", mutate: func(*v1.Membership) {}},
		{name: "no action", mutate: func(m *v1.Membership) { m.Action = 0 }, want: []string{"registry.membership.action", "registry.membership.country", "registry.membership.agency", "registry.membership.roles", "registry.membership.keys", "registry.membership.certificate_identity"}},
		{name: "country is not the id's", mutate: func(m *v1.Membership) { m.Country = "US" }, want: []string{"registry.membership.country"}},
		{name: "member id malformed", mutate: func(m *v1.Membership) { m.Member = "cbsa"; m.CertificateIdentity = "spiffe://chemledger/member/cbsa" }, want: []string{"registry.membership.member", "registry.membership.country"}},
		{name: "no keys", mutate: func(m *v1.Membership) { m.Keys = nil }, want: []string{"registry.membership.keys"}},
		{name: "short key", mutate: func(m *v1.Membership) { m.Keys[0].Ed25519 = make([]byte, 31) }, want: []string{"registry.membership.keys[0].ed25519"}},
		{name: "key listed twice", mutate: func(m *v1.Membership) { m.Keys = append(m.Keys, m.Keys[0]) }, want: []string{"registry.membership.keys[1].key_id"}},
		{name: "unknown role", mutate: func(m *v1.Membership) { m.Roles = []string{"root"} }, want: []string{"registry.membership.roles[0]"}},
		{name: "role twice", mutate: func(m *v1.Membership) { m.Roles = []string{"analyst", "analyst"} }, want: []string{"registry.membership.roles[1]"}},
		{name: "another member's identity", mutate: func(m *v1.Membership) { m.CertificateIdentity = "spiffe://chemledger/member/US-CBP" }, want: []string{"registry.membership.certificate_identity"}},
		{name: "no agency", mutate: func(m *v1.Membership) { m.Agency = "" }, want: []string{"registry.membership.agency"}},
		{name: "suspension with a reason", mutate: func(m *v1.Membership) {
			*m = v1.Membership{Member: "CA-CBSA", Action: v1.MembershipAction_MEMBERSHIP_ACTION_SUSPEND, Reason: "audit finding 2026-11"}
		}},
		{name: "suspension without a reason", mutate: func(m *v1.Membership) {
			*m = v1.Membership{Member: "CA-CBSA", Action: v1.MembershipAction_MEMBERSHIP_ACTION_SUSPEND}
		}, want: []string{"registry.membership.reason"}},
		{name: "removal that redescribes the member", mutate: func(m *v1.Membership) {
			m.Action, m.Reason = v1.MembershipAction_MEMBERSHIP_ACTION_REMOVE, "left the coalition"
		}, want: []string{"registry.membership.country", "registry.membership.agency", "registry.membership.roles", "registry.membership.keys", "registry.membership.certificate_identity"}},
		{name: "reinstatement", mutate: func(m *v1.Membership) {
			*m = v1.Membership{Member: "CA-CBSA", Action: v1.MembershipAction_MEMBERSHIP_ACTION_REINSTATE}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := join()
			tt.mutate(m)
			r := &v1.RegistryEntry{EntryId: "m-1", EffectiveTime: timestamppb.New(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)),
				Change: &v1.RegistryEntry_Membership{Membership: m}}
			err := RegistryEntry(r)
			var got []string
			var bad *badinput.Error
			if errors.As(err, &bad) {
				for _, v := range bad.Violations {
					got = append(got, v.Field)
				}
			} else if err != nil {
				t.Fatalf("error %v is not a *badinput.Error", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("violations on %v:\n got %q\nwant %q\n(%v)", m, got, tt.want, err)
			}
		})
	}
}
