package server

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"slices"

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
	case isMemberChange(p.Registry):
		need = pki.RoleAdmin
	}
	if !a.principal.Has(need) {
		return denied("%s may not append this entry: it needs the %s role", a.principal, need)
	}
	return nil
}

func isMemberChange(r *chemledgerv1.RegistryEntry) bool {
	switch r.GetChange().(type) {
	case *chemledgerv1.RegistryEntry_MemberKey, *chemledgerv1.RegistryEntry_MemberRole, *chemledgerv1.RegistryEntry_CertificateRevocation:
		return true
	}
	return false
}

// applyMemberChange brings the registry up to a committed member change:
// on the sequencer as it commits (sequenced), and at start-up in log order
// (replayMemberChanges).
func applyMemberChange(reg *members.Registry, r *chemledgerv1.RegistryEntry) error {
	switch ch := r.GetChange().(type) {
	case *chemledgerv1.RegistryEntry_MemberKey:
		k := ch.MemberKey
		if k.GetRevoked() {
			return reg.RevokeKey(k.GetMember(), k.GetKeyId())
		}
		return reg.AddKey(k.GetMember(), k.GetKeyId(), ed25519.PublicKey(k.GetEd25519()))
	case *chemledgerv1.RegistryEntry_MemberRole:
		return reg.SetRole(ch.MemberRole.GetMember(), ch.MemberRole.GetRole(), ch.MemberRole.GetWithdrawn())
	case *chemledgerv1.RegistryEntry_CertificateRevocation:
		reg.RevokeCertificate(ch.CertificateRevocation.GetSerial())
	}
	return nil
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
	sub.Recheck = func() error {
		if serial := a.principal.Serial; serial != "" && s.members.CertificateRevoked(serial) {
			return denied("certificate %s of %s was revoked before this submission was sequenced", serial, a.principal.Member)
		}
		for i, id := range keys {
			if k, ok := s.members.Key(id); ok && k.MemberID == member && k.Revoked {
				return &envelope.RevokedError{Field: fmt.Sprintf("envelope.signatures[%d].keyid", i), KeyID: id}
			}
		}
		return nil
	}
	if isMemberChange(p.Registry) {
		reg := p.Registry
		sub.OnCommit = func() {
			if err := applyMemberChange(s.members, reg); err != nil {
				s.log.Warn("member registry change in the log not applied", "submission", sub.ID, "err", err)
			}
		}
	}
}

// replayMemberChanges applies the member changes in the log, in log order,
// over the members file: at start-up, before serving.
func replayMemberChanges(ctx context.Context, l *ledger.Ledger, reg *members.Registry, log *slog.Logger) (int, error) {
	var all []*ledger.Entry
	for _, kind := range []string{KindMemberKey, KindMemberRole, KindCertificateRevocation} {
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
		if err := applyMemberChange(reg, p.Registry); err != nil {
			log.Warn("member registry change in the log not applied", "index", e.Index, "err", err)
		}
	}
	return len(all), nil
}
