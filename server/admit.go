package server

import (
	"context"
	"regexp"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/badinput"
	"github.com/chemledger/chemledger/internal/validate"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

// submissionIDPattern is what a submission id may look like: short, and
// safe in a URL, a file name and a log line.
var submissionIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// admit turns raw submission input into a ledger submission, or says
// precisely what is wrong with it: the id's shape, the envelope's form, its
// signatures against the members' keys, and the event's content. It writes
// nothing.
func (s *ledgerService) admit(ctx context.Context, id string, env []byte) (ledger.Submission, error) {
	sub, _, err := s.admitPayload(ctx, id, env)
	return sub, err
}

// admitPayload is admit, also returning the decoded payload.
func (s *ledgerService) admitPayload(ctx context.Context, id string, env []byte) (ledger.Submission, envelope.Payload, error) {
	var v badinput.List
	if !submissionIDPattern.MatchString(id) {
		v.Add("submission_id", "must be 1 to 128 characters of letters, digits and . _ : -")
	}
	e, err := envelope.Parse(env)
	if err != nil {
		if !v.Merge("", err) {
			return ledger.Submission{}, envelope.Payload{}, err
		}
		return ledger.Submission{}, envelope.Payload{}, v.Err()
	}
	member, err := envelope.Verify(e, s.members.Key)
	if err != nil {
		if !v.Merge("", err) {
			return ledger.Submission{}, envelope.Payload{}, err
		}
		return ledger.Submission{}, envelope.Payload{}, v.Err()
	}
	p, err := envelope.DecodePayload(e)
	if err != nil {
		v.Merge("", err)
		return ledger.Submission{}, envelope.Payload{}, v.Err()
	}
	if err := mayActAs(ctx, member, p); err != nil {
		return ledger.Submission{}, envelope.Payload{}, err
	}
	switch {
	case p.Event != nil:
		if err := validate.Event(p.Event); err != nil && !v.Merge("", err) {
			return ledger.Submission{}, envelope.Payload{}, err
		}
		s.checkReferences(&v, p.Event)
	case p.Registry != nil:
		if err := validate.RegistryEntry(p.Registry); err != nil && !v.Merge("", err) {
			return ledger.Submission{}, envelope.Payload{}, err
		}
	case p.Disposition != nil:
		if err := validate.Disposition(p.Disposition); err != nil && !v.Merge("", err) {
			return ledger.Submission{}, envelope.Payload{}, err
		}
	}
	ix := indexed(member, e, p)
	sub := ledger.Submission{ID: id, Leaf: env, Member: member, Caller: queuedAs(ctx),
		ShipmentRef: ix.ShipmentRef, CAS: ix.CAS, Kind: ix.Kind, EventKey: ix.EventKey}
	if err := v.Err(); err != nil {
		return ledger.Submission{}, envelope.Payload{}, err
	}
	if isMemberChange(p.Registry) {
		if err := s.members.Try(func(c *members.Registry) error { return applyMemberChange(c, p.Registry, 0) }); err != nil {
			return ledger.Submission{}, envelope.Payload{}, notApplicable(err)
		}
	}
	s.sequenced(ctx, &sub, e, p)
	return sub, p, nil
}

// indexed is what the ledger indexes an entry under, from its signer and
// its decoded envelope: admission and the ledger's full check at start
// (Describe) derive it with this one function, so they cannot disagree.
func indexed(member string, e *envelope.Envelope, p envelope.Payload) storage.Meta {
	var m storage.Meta
	switch {
	case p.Event != nil:
		m.ShipmentRef, m.CAS, m.Kind = p.Event.GetShipmentRef(), p.Event.GetChemical().GetCas(), kindName(p.Event.GetKind())
		m.EventKey = member + "\x00" + p.Event.GetEventId()
	case p.Registry != nil:
		m.Kind, m.CAS = registryKind(p.Registry)
		m.EventKey = member + "\x00" + p.Registry.GetEntryId()
	case p.Disposition != nil:
		m.Kind = KindDisposition
		m.EventKey = dispositionKey(member, e.Payload)
	}
	return m
}

// Describe derives from a stored leaf, and the member recorded as its
// signer, the fields the ledger indexes it under, as admission did: the
// ledger's full check (ledger.Config.Describe) compares every index with
// it. It parses and decodes; it does not check signatures (the tree and the
// signed checkpoint vouch for the leaf bytes).
func Describe(leaf []byte, m storage.Meta) (storage.Meta, error) {
	e, err := envelope.Parse(leaf)
	if err != nil {
		return storage.Meta{}, err
	}
	p, err := envelope.DecodePayload(e)
	if err != nil {
		return storage.Meta{}, err
	}
	return indexed(m.Member, e, p), nil
}

// queuedAs is whose share of the sequencer a caller's submissions queue in:
// the authenticated member (the signer too, mayActAs sees to that), or, in
// development without authentication, one share for all, so that a bulk
// stream of several members' envelopes keeps its order.
func queuedAs(ctx context.Context) string {
	if p := accessOf(ctx).principal; !p.Insecure {
		return p.Member
	}
	return "(unauthenticated)"
}

// checkReferences refuses references to entries the log does not have.
func (s *ledgerService) checkReferences(v *badinput.List, ev *chemledgerv1.ShipmentEvent) {
	latest, _ := s.ledger.Checkpoint()
	for i, r := range ev.GetReferences() {
		if r.GetIndex() >= latest.Size {
			v.Add(fieldf("event.references[%d].index", i), "entry %d does not exist (the log has %d entries)", r.GetIndex(), latest.Size)
		}
	}
}

// Kinds of entries other than shipment events, as stored and filtered on.
const (
	KindLicence           = "REGISTRY_LICENCE"
	KindWatchListEntry    = "REGISTRY_WATCH_LIST_ENTRY"
	KindAnnualRequirement = "REGISTRY_ANNUAL_REQUIREMENT"
	KindDisposition       = "DISPOSITION"
	// Member registry changes: who may do what.
	KindMemberKey             = "REGISTRY_MEMBER_KEY"
	KindMemberRole            = "REGISTRY_MEMBER_ROLE"
	KindCertificateRevocation = "REGISTRY_CERTIFICATE_REVOCATION"
	KindMembership            = "REGISTRY_MEMBERSHIP"
	// A member's webhook subscription.
	KindWebhook = "REGISTRY_WEBHOOK"
	// A change to the coalition's reference data.
	KindReferenceUpdate = "REGISTRY_REFERENCE_UPDATE"
)

// registryKind is the stored kind of a registry entry, and the CAS number
// it is indexed under when it names one.
func registryKind(r *chemledgerv1.RegistryEntry) (kind, cas string) {
	switch ch := r.GetChange().(type) {
	case *chemledgerv1.RegistryEntry_Licence:
		if len(ch.Licence.GetCas()) == 1 {
			cas = ch.Licence.GetCas()[0]
		}
		return KindLicence, cas
	case *chemledgerv1.RegistryEntry_WatchListEntry:
		return KindWatchListEntry, ""
	case *chemledgerv1.RegistryEntry_AnnualRequirement:
		return KindAnnualRequirement, ch.AnnualRequirement.GetCas()
	case *chemledgerv1.RegistryEntry_MemberKey:
		return KindMemberKey, ""
	case *chemledgerv1.RegistryEntry_MemberRole:
		return KindMemberRole, ""
	case *chemledgerv1.RegistryEntry_CertificateRevocation:
		return KindCertificateRevocation, ""
	case *chemledgerv1.RegistryEntry_Membership:
		return KindMembership, ""
	case *chemledgerv1.RegistryEntry_Webhook:
		return KindWebhook, ""
	case *chemledgerv1.RegistryEntry_ReferenceUpdate:
		return KindReferenceUpdate, ""
	}
	return "", ""
}

// kindName is the stored (and filterable) name of an event kind: the enum
// value name without its EVENT_KIND_ prefix.
func kindName(k chemledgerv1.EventKind) string {
	const prefix = "EVENT_KIND_"
	n := k.String()
	if len(n) > len(prefix) && n[:len(prefix)] == prefix {
		return n[len(prefix):]
	}
	return n
}

// kindFromFilter resolves a kind as written in a filter.
func kindFromFilter(s string) (string, bool) {
	switch s {
	case KindLicence, KindWatchListEntry, KindAnnualRequirement, KindDisposition, KindWebhook, KindReferenceUpdate:
		return s, true
	}
	for v := range chemledgerv1.EventKind_name {
		k := chemledgerv1.EventKind(v)
		if k == chemledgerv1.EventKind_EVENT_KIND_UNSPECIFIED {
			continue
		}
		if s == k.String() || s == kindName(k) {
			return kindName(k), true
		}
	}
	return "", false
}
