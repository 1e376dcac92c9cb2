package server

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/internal/validate"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

// maxShipmentLegs bounds the legs one shipment view reads; a real shipment
// has a handful.
const maxShipmentLegs = 1000

func (s *analystService) GetShipment(ctx context.Context, req *chemledgerv1.GetShipmentRequest) (*chemledgerv1.Shipment, error) {
	ref := req.GetRef()
	if err := validate.ShipmentRef("ref", ref); err != nil {
		// A reference no event could carry is a mistake, not a shipment
		// the log has not seen.
		return nil, toStatus(s.log, err)
	}
	entries, _, _, err := s.entries.ledger.List(ctx, storage.Filter{ShipmentRef: ref}, 0, maxShipmentLegs)
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	out := &chemledgerv1.Shipment{Ref: ref}
	var events []*chemledgerv1.ShipmentEvent
	for _, e := range entries {
		pe := s.entries.entryProto(e)
		ev := pe.GetEvent()
		if ev == nil {
			continue
		}
		events = append(events, ev)
		a := s.deriver.Amount(ev)
		leg := &chemledgerv1.ShipmentLeg{
			Index: e.Index, Member: pe.GetMember(), Kind: ev.GetKind(), OccurredTime: ev.GetOccurredTime(),
			LocationCountry: ev.GetLocationCountry(), Consignee: ev.GetConsignee().GetName(), PenReply: ev.GetPenReply(),
		}
		if a.Known {
			leg.Kilograms, leg.DeclaredQuantity = a.KG, a.Declared()
		}
		out.Legs = append(out.Legs, leg)
	}
	if len(out.Legs) == 0 {
		return nil, toStatus(s.log, fmt.Errorf("shipment %q: %w", ref, errNoShipment))
	}
	out.OpenQuestions = openQuestions(out.Legs)
	flags, err := s.deriver.Match(fmt.Sprintf("shipment_ref = %q", ref))
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	slices.SortFunc(flags, func(a, b derive.Flag) int { return cmp.Compare(a.ID, b.ID) })
	for i := range flags {
		out.Flags = append(out.Flags, flagProto(&flags[i]))
	}
	return out, nil
}

// openQuestions says, in plain words, what the legs do not show yet and
// where the quantities do not reconcile.
func openQuestions(legs []*chemledgerv1.ShipmentLeg) []string {
	first := map[chemledgerv1.EventKind]*chemledgerv1.ShipmentLeg{}
	last := map[chemledgerv1.EventKind]*chemledgerv1.ShipmentLeg{}
	for _, l := range legs {
		if first[l.GetKind()] == nil {
			first[l.GetKind()] = l
		}
		last[l.GetKind()] = l
	}
	has := func(k chemledgerv1.EventKind) bool { return first[k] != nil }
	var q []string
	const (
		pen     = chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION
		reply   = chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY
		export  = chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION
		imp     = chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION
		receipt = chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION
		inc     = chemledgerv1.EventKind_EVENT_KIND_INCIDENT
	)
	switch {
	case !has(pen):
		q = append(q, "No pre-export notification is recorded for this shipment.")
	case !has(reply):
		q = append(q, "The importing country has not replied to the pre-export notification.")
	}
	if has(reply) && last[reply].GetPenReply() == chemledgerv1.PenReply_PEN_REPLY_OBJECTION && (has(export) || has(imp) || has(receipt)) {
		q = append(q, "The importing country objected, yet the shipment moved.")
	}
	if has(export) && !has(imp) && !has(inc) {
		q = append(q, "Exported, but no import declaration is recorded.")
	}
	if (has(export) || has(imp)) && !has(receipt) && !has(inc) {
		q = append(q, "No receipt confirmation is recorded: the consignee has not confirmed what arrived.")
	}
	if e, r := first[export], last[receipt]; e != nil && r != nil && e.GetKilograms() > 0 && r.GetKilograms() > 0 {
		if d := r.GetKilograms() - e.GetKilograms(); math.Abs(d)/e.GetKilograms() > 0.001 {
			q = append(q, fmt.Sprintf("Exported %s kg, received %s kg (%+.1f %%).", kg(e.GetKilograms()), kg(r.GetKilograms()), 100*d/e.GetKilograms()))
		}
	}
	if p, i := first[pen], last[imp]; p != nil && i != nil && p.GetConsignee() != "" && i.GetConsignee() != "" && !strings.EqualFold(p.GetConsignee(), i.GetConsignee()) {
		q = append(q, fmt.Sprintf("The consignee on the import declaration (%s) is not the one notified (%s).", i.GetConsignee(), p.GetConsignee()))
	}
	return q
}

func kg(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

func (s *analystService) GetStats(ctx context.Context, req *chemledgerv1.GetStatsRequest) (*chemledgerv1.Stats, error) {
	byRule, byCountry, byCAS, byMonth := map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
	var total int64
	err := s.deriver.Each(req.GetFilter(), func(f *derive.Flag) {
		total++
		byRule[f.RuleID]++
		for _, c := range f.Countries {
			byCountry[c]++
		}
		if f.CAS != "" {
			byCAS[f.CAS]++
		}
		byMonth[f.RaisedAt.UTC().Format("2006-01")]++
	})
	if err != nil {
		return nil, toStatus(s.log, err)
	}
	return &chemledgerv1.Stats{
		Total: total, ByRule: counts(byRule), ByCountry: counts(byCountry), ByChemical: counts(byCAS), ByMonth: counts(byMonth),
	}, nil
}

// counts lists a tally sorted by key, so the answer is stable.
func counts(m map[string]int64) []*chemledgerv1.Count {
	out := make([]*chemledgerv1.Count, 0, len(m))
	for k, v := range m {
		out = append(out, &chemledgerv1.Count{Key: k, Count: v})
	}
	slices.SortFunc(out, func(a, b *chemledgerv1.Count) int { return cmp.Compare(a.GetKey(), b.GetKey()) })
	return out
}
