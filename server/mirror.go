package server

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
)

// MirrorAdmitter returns what a mirror runs on the entries it copies, a run
// of consecutive entries from index first at a time, in log order: each
// envelope's signature is checked against reg, the member registry as the
// log defines it at that index (the members file, then every member change
// before it), and each entry is described for the list indexes exactly as
// this service's admission describes it. A member change is applied to reg
// as soon as the entries up to it are checked, so the next entry is checked
// against the registry it brings. It does not judge content: the upstream
// admitted it, and the mirror's job is to prove who signed it.
//
// The signature checks between two member changes run on every core: they
// are most of a mirror's catch-up time, and none of them changes the
// registry.
func MirrorAdmitter(reg *members.Registry, log *slog.Logger) func(first uint64, leaves [][]byte) ([]ledger.Submission, error) {
	return func(first uint64, leaves [][]byte) ([]ledger.Submission, error) {
		subs := make([]ledger.Submission, len(leaves))
		parsed := make([]*envelope.Envelope, len(leaves))
		payloads := make([]envelope.Payload, len(leaves))
		for i, leaf := range leaves {
			e, err := envelope.Parse(leaf)
			if err != nil {
				return nil, fmt.Errorf("entry %d is not a DSSE envelope: %w", first+uint64(i), err)
			}
			p, err := envelope.DecodePayload(e)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", first+uint64(i), err)
			}
			parsed[i], payloads[i] = e, p
		}
		for start := 0; start < len(leaves); {
			// A segment ends with a member change (or the run's end).
			end := start
			for end < len(leaves)-1 && !isMemberChange(payloads[end].Registry) {
				end++
			}
			if err := verifySegment(reg, first, parsed, subs, start, end+1); err != nil {
				return nil, err
			}
			for i := start; i <= end; i++ {
				describe(&subs[i], leaves[i], parsed[i], payloads[i])
			}
			if p := payloads[end]; isMemberChange(p.Registry) {
				// The primary applied it from the next entry on; so does the
				// mirror. One the primary could not apply it logged and
				// skipped; so does the mirror.
				if err := applyMemberChange(reg, p.Registry, first+uint64(end)); err != nil {
					log.Warn("member registry change in the log not applied", "index", first+uint64(end), "err", err)
				}
			}
			start = end + 1
		}
		return subs, nil
	}
}

// verifySegment checks the signatures of entries [from, to) against reg,
// in parallel, and sets each submission's member.
func verifySegment(reg *members.Registry, first uint64, parsed []*envelope.Envelope, subs []ledger.Submission, from, to int) error {
	workers := min(runtime.GOMAXPROCS(0), to-from)
	errs := make([]error, to-from)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := from + w; i < to; i += workers {
				index := first + uint64(i)
				member, err := envelope.Verify(parsed[i], reg.Key)
				if err != nil {
					errs[i-from] = fmt.Errorf("entry %d: its signature does not verify against the member registry at that index: %w", index, err)
					continue
				}
				if st, ok := reg.Status(member); ok && st != members.Active {
					errs[i-from] = fmt.Errorf("entry %d is signed by %s, which was %s at that index", index, member, st)
					continue
				}
				subs[i].Member = member
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// describe fills the list fields of a mirrored entry as admission does.
func describe(sub *ledger.Submission, leaf []byte, e *envelope.Envelope, p envelope.Payload) {
	sub.Leaf = leaf
	member := sub.Member
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
}
