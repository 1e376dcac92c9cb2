package server

import (
	"fmt"
	"log/slog"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
)

// MirrorAdmitter returns what a mirror runs on each entry it copies, in log
// order: the envelope's signature is checked against reg, the member
// registry as the log defines it at that index (the members file, then
// every member change before it), and the entry is described for the list
// indexes exactly as this service's admission describes it. A member change
// is applied to reg at once, so the next entry is checked against the
// registry it brings. It does not judge the entry's content: the upstream
// admitted it, and the mirror's job is to prove who signed it.
func MirrorAdmitter(reg *members.Registry, log *slog.Logger) func(index uint64, leaf []byte) (ledger.Submission, error) {
	return func(index uint64, leaf []byte) (ledger.Submission, error) {
		e, err := envelope.Parse(leaf)
		if err != nil {
			return ledger.Submission{}, fmt.Errorf("entry %d is not a DSSE envelope: %w", index, err)
		}
		member, err := envelope.Verify(e, reg.Key)
		if err != nil {
			return ledger.Submission{}, fmt.Errorf("entry %d: its signature does not verify against the member registry at that index: %w", index, err)
		}
		if st, ok := reg.Status(member); ok && st != members.Active {
			return ledger.Submission{}, fmt.Errorf("entry %d is signed by %s, which was %s at that index", index, member, st)
		}
		p, err := envelope.DecodePayload(e)
		if err != nil {
			return ledger.Submission{}, fmt.Errorf("entry %d: %w", index, err)
		}
		sub := ledger.Submission{Leaf: leaf, Member: member}
		switch {
		case p.Event != nil:
			sub.ShipmentRef, sub.CAS, sub.Kind = p.Event.GetShipmentRef(), p.Event.GetChemical().GetCas(), kindName(p.Event.GetKind())
			sub.EventKey = member + "\x00" + p.Event.GetEventId()
		case p.Registry != nil:
			sub.Kind, sub.CAS = registryKind(p.Registry)
			sub.EventKey = member + "\x00" + p.Registry.GetEntryId()
		case p.Disposition != nil:
			sub.Kind = KindDisposition
			sub.EventKey = dispositionKey(member, e.Payload)
		}
		if isMemberChange(p.Registry) {
			// The primary applied it from the next entry on; so does the
			// mirror. One the primary could not apply it logged and skipped;
			// so does the mirror.
			if err := applyMemberChange(reg, p.Registry, index); err != nil {
				log.Warn("member registry change in the log not applied", "index", index, "err", err)
			}
		}
		return sub, nil
	}
}
