package server

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"slices"

	"google.golang.org/grpc/codes"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

// mayActAs enforces that the signer is the caller: an envelope signed with
// another member's key is refused, whatever it holds, and each kind of
// entry needs its role (events and the trade registry: submitter; member
// keys, roles and certificates: admin; dispositions: analyst).
func mayActAs(ctx context.Context, signer string, p envelope.Payload) error {
	a := accessOf(ctx)
	if a.principal.Insecure {
		return nil
	}
	if signer != a.principal.Member {
		return denied("the envelope is signed with a key of %s; you are authenticated as %s", signer, a.principal.Member)
	}
	need := pki.RoleSubmitter
	switch {
	case p.Disposition != nil:
		need = pki.RoleAnalyst
	case isMemberChange(p.Registry), isSharedReference(p.Registry):
		need = pki.RoleAdmin
	}
	if !a.principal.Has(need) {
		return denied("%s may not append this entry: it needs the %s role", a.principal, need)
	}
	if u := p.Registry.GetReferenceUpdate(); u.GetKind() == chemledgerv1.ReferenceUpdate_KIND_PEN_REQUIREMENT && u.GetCountry() != memberCountry(signer) {
		// The importing country decides what it must be notified of;
		// no other member, not even the secretariat, decides it for it.
		return denied("%s may set the PEN requirement of %s only, not of %q", signer, memberCountry(signer), u.GetCountry())
	}
	if target, ok := selfGoverned(p.Registry); ok && target == signer {
		// An admin that could grant itself roles or reinstate itself would
		// answer to nobody: another member's admin must do it.
		return denied("%s may not change its own membership or roles; another member's admin appends that entry", signer)
	}
	return nil
}

// isSharedReference is a change to the reference tables the coalition
// shares (synthesis sets, reporting thresholds, complete licence
// registers): the secretariat's, so an admin's. A PEN requirement is the
// importing country's own.
func isSharedReference(r *chemledgerv1.RegistryEntry) bool {
	u := r.GetReferenceUpdate()
	return u != nil && u.GetKind() != chemledgerv1.ReferenceUpdate_KIND_PEN_REQUIREMENT
}

// memberCountry is the country of a member id ("DE-BfArM" is DE's).
func memberCountry(member string) string {
	if len(member) < 2 {
		return ""
	}
	return member[:2]
}

// selfGoverned names the member a membership or role change is about: the
// changes no member may make about itself. (A member may rotate its own
// keys, and revoke its own certificates.)
func selfGoverned(r *chemledgerv1.RegistryEntry) (string, bool) {
	switch ch := r.GetChange().(type) {
	case *chemledgerv1.RegistryEntry_Membership:
		return ch.Membership.GetMember(), true
	case *chemledgerv1.RegistryEntry_MemberRole:
		return ch.MemberRole.GetMember(), true
	}
	return "", false
}

// notApplicable refuses a member change the registry cannot take.
func notApplicable(err error) error {
	return withDetails(codes.FailedPrecondition, err.Error(), ReasonMemberChange, nil)
}

func isMemberChange(r *chemledgerv1.RegistryEntry) bool {
	switch r.GetChange().(type) {
	case *chemledgerv1.RegistryEntry_MemberKey, *chemledgerv1.RegistryEntry_MemberRole,
		*chemledgerv1.RegistryEntry_CertificateRevocation, *chemledgerv1.RegistryEntry_Membership:
		return true
	}
	return false
}

// applyMemberChange brings the registry up to a committed member change of
// entry index: on the sequencer as it commits (sequenced), at start-up in
// log order (replayMemberChanges), and on a copy to see whether it would
// apply (admission and the sequencer's recheck).
func applyMemberChange(reg *members.Registry, r *chemledgerv1.RegistryEntry, index uint64) error {
	switch ch := r.GetChange().(type) {
	case *chemledgerv1.RegistryEntry_MemberKey:
		k := ch.MemberKey
		if k.GetRevoked() {
			if err := reg.RevokeKey(k.GetMember(), k.GetKeyId()); err != nil {
				return err
			}
			reg.Note(k.GetMember(), index, "key "+k.GetKeyId()+" revoked")
			return nil
		}
		if err := reg.AddKey(k.GetMember(), k.GetKeyId(), ed25519.PublicKey(k.GetEd25519())); err != nil {
			return err
		}
		reg.Note(k.GetMember(), index, "key "+k.GetKeyId()+" added")
	case *chemledgerv1.RegistryEntry_MemberRole:
		rl := ch.MemberRole
		if err := reg.SetRole(rl.GetMember(), rl.GetRole(), rl.GetWithdrawn()); err != nil {
			return err
		}
		what := "role " + rl.GetRole() + " granted"
		if rl.GetWithdrawn() {
			what = "role " + rl.GetRole() + " withdrawn"
		}
		reg.Note(rl.GetMember(), index, what)
	case *chemledgerv1.RegistryEntry_CertificateRevocation:
		reg.RevokeCertificate(ch.CertificateRevocation.GetSerial())
		reg.Note(ch.CertificateRevocation.GetMember(), index, "certificate "+ch.CertificateRevocation.GetSerial()+" revoked")
	case *chemledgerv1.RegistryEntry_Membership:
		return applyMembership(reg, ch.Membership, index)
	}
	return nil
}

func applyMembership(reg *members.Registry, m *chemledgerv1.Membership, index uint64) error {
	switch m.GetAction() {
	case chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_JOIN:
		keys := make([]members.PublicKey, len(m.GetKeys()))
		for i, k := range m.GetKeys() {
			keys[i] = members.PublicKey{ID: k.GetKeyId(), Ed25519: k.GetEd25519()}
		}
		return reg.Join(index, members.Member{ID: m.GetMember(), Name: m.GetAgency(), Country: m.GetCountry(), Roles: m.GetRoles(), Keys: keys})
	case chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_SUSPEND:
		return reg.SetStatus(index, m.GetMember(), members.Suspended, m.GetReason())
	case chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_REINSTATE:
		return reg.SetStatus(index, m.GetMember(), members.Active, m.GetReason())
	case chemledgerv1.MembershipAction_MEMBERSHIP_ACTION_REMOVE:
		return reg.SetStatus(index, m.GetMember(), members.Removed, m.GetReason())
	}
	return fmt.Errorf("%w: membership action %v", members.ErrNotApplicable, m.GetAction())
}

// sequenced gives a submission its checks on the sequencer: the keys that
// signed it and the certificate it came with are checked again just before
// it gets an index, and a member change is applied as soon as it commits,
// before the next entry is decided. So a key or certificate is refused from
// the entry that revokes it on, even for a submission admitted while the
// revocation was on its way.
func (s *ledgerService) sequenced(ctx context.Context, sub *ledger.Submission, e *envelope.Envelope, p envelope.Payload) {
	a := accessOf(ctx)
	keys := make([]string, len(e.Signatures))
	for i, sig := range e.Signatures {
		keys[i] = sig.KeyID
	}
	member := sub.Member
	memberChange := isMemberChange(p.Registry)
	sub.Recheck = func() error {
		if serial := a.principal.Serial; serial != "" && s.members.CertificateRevoked(serial) {
			return denied("certificate %s of %s was revoked before this submission was sequenced", serial, a.principal.Member)
		}
		if st, ok := s.members.Status(member); ok && st != members.Active {
			return denied("%s was %s before this submission was sequenced", member, st)
		}
		if memberChange {
			// Admission checked it against the registry of then; a change
			// sequenced since (the same member joined twice) may have made
			// it inapplicable, and the log holds only changes that applied.
			if err := s.members.Try(func(c *members.Registry) error { return applyMemberChange(c, p.Registry, 0) }); err != nil {
				return notApplicable(err)
			}
		}
		for i, id := range keys {
			if k, ok := s.members.Key(id); ok && k.MemberID == member && k.Revoked {
				return &envelope.RevokedError{Field: fmt.Sprintf("envelope.signatures[%d].keyid", i), KeyID: id}
			}
		}
		return nil
	}
	if memberChange {
		reg := p.Registry
		sub.OnCommit = func(index uint64) {
			if err := applyMemberChange(s.members, reg, index); err != nil {
				s.log.Warn("member registry change in the log not applied", "submission", sub.ID, "err", err)
			}
		}
	}
}

// replayMemberChanges applies the member changes in the log, in log order,
// over the members file: at start-up, before serving.
func replayMemberChanges(ctx context.Context, l *ledger.Ledger, reg *members.Registry, log *slog.Logger) (int, error) {
	var all []*ledger.Entry
	for _, kind := range []string{KindMemberKey, KindMemberRole, KindCertificateRevocation, KindMembership} {
		for start := uint64(0); ; {
			page, next, done, err := l.List(ctx, storage.Filter{Kind: kind}, start, 1000)
			if err != nil {
				return 0, err
			}
			all = append(all, page...)
			if done {
				break
			}
			start = next
		}
	}
	slices.SortFunc(all, func(a, b *ledger.Entry) int { return cmp.Compare(a.Index, b.Index) })
	for _, e := range all {
		env, err := envelope.Parse(e.Leaf)
		if err != nil {
			return 0, fmt.Errorf("entry %d: %w", e.Index, err)
		}
		p, err := envelope.DecodePayload(env)
		if err != nil {
			return 0, fmt.Errorf("entry %d: %w", e.Index, err)
		}
		if err := applyMemberChange(reg, p.Registry, e.Index); err != nil {
			log.Warn("member registry change in the log not applied", "index", e.Index, "err", err)
		}
	}
	return len(all), nil
}

// ListMembers serves the member registry as the log defines it now.
func (s *ledgerService) ListMembers(ctx context.Context, _ *chemledgerv1.ListMembersRequest) (*chemledgerv1.ListMembersResponse, error) {
	cp, _ := s.ledger.Checkpoint()
	resp := &chemledgerv1.ListMembersResponse{TreeSize: cp.Size}
	for _, m := range s.members.Members() {
		resp.Members = append(resp.Members, memberInfo(m))
	}
	return resp, nil
}

func memberInfo(m members.Member) *chemledgerv1.MemberInfo {
	mi := &chemledgerv1.MemberInfo{
		Id: m.ID, Country: m.Country, Agency: m.Name, Roles: m.Roles,
		Status:              []chemledgerv1.MemberStatus{chemledgerv1.MemberStatus_MEMBER_STATUS_ACTIVE, chemledgerv1.MemberStatus_MEMBER_STATUS_SUSPENDED, chemledgerv1.MemberStatus_MEMBER_STATUS_REMOVED}[m.Status],
		CertificateIdentity: members.CertificateIdentity(m.ID),
	}
	for _, k := range m.Keys {
		mi.Keys = append(mi.Keys, &chemledgerv1.MemberKeyInfo{KeyId: k.ID, Ed25519: k.Ed25519, Revoked: k.Revoked})
	}
	for _, c := range m.History {
		mc := &chemledgerv1.MemberChange{Description: c.What}
		if !c.Genesis {
			mc.Index = &c.Index
		}
		mi.History = append(mi.History, mc)
	}
	return mi
}
