package detect

import (
	"strconv"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// evalCompanyShopping is R12: after a refusal, the same importer or
// consignee turns up in a new notification for the chemical from another
// exporter.
func evalCompanyShopping(c *evalCtx) {
	l := c.leg
	if l.Kind != chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION || l.Exporter.Key == "" {
		return
	}
	th := c.th()
	window := days(th.get("window_days"))
	parties := []*Party{l.Importer}
	if l.Consignee.Key != l.Importer.Key {
		parties = append(parties, l.Consignee)
	}
	for _, p := range parties {
		if p.Key == "" {
			continue
		}
		for _, r := range c.v.Refusals(p.Key) {
			gap := l.Occurred.Sub(r.Occurred)
			if r.CAS != l.CAS || r.Ref == l.Ref || r.Exporter.Key == "" || r.Exporter.Key == l.Exporter.Key || gap < 0 || gap > window {
				continue
			}
			if withdrawn(c.v, r) {
				continue
			}
			vars := []string{
				"party", partyText(p), "country", countryText(p.Country), "refusal_text", refusalText(r),
				"refused_ref", r.Ref, "chemical", l.Chemical, "cas", l.CAS,
				"refused_exporter", partyText(r.Exporter), "refusal_date", day(r.Occurred),
				"refusal_index", idx(r.Index), "days", strconv.Itoa(int(gap.Hours() / 24)),
				"ref", l.Ref, "index", idx(l.Index), "exporter", partyText(l.Exporter),
			}
			pk := "R12|" + idx(r.Index)
			if c.v.Consumed(pk, l.Ref) {
				continue // an amended notification of an order already cited
			}
			consume := [][2]string{{pk, l.Ref}}
			if pat, ok := c.v.Pattern(pk); ok {
				c.add(finding{
					key: idx(r.Index) + "|" + l.Ref, ref: l.Ref, subject: p.Key, cas: l.CAS,
					countries: append(legCountries(l), r.Exporter.Country), evidence: []uint64{r.Index, pat.LastIndex, l.Index}, th: th,
					joined: true, consume: consume, pattern: join(pk, pat, l, 0), vars: append(vars, joinVars(pat, pat.Count+1)...),
				})
				continue
			}
			ev := []uint64{r.Index, l.Index}
			if sh, ok := c.v.Shipment(r.Ref); ok && sh.PEN != nil {
				ev = append(ev, sh.PEN.Index) // the refused notification
			}
			c.add(finding{
				key: idx(r.Index), ref: l.Ref, subject: p.Key, cas: l.CAS,
				countries: append(legCountries(l), r.Exporter.Country), evidence: ev, th: th, vars: vars, consume: consume,
				pattern: &patternUpdate{key: pk, head: true, p: Pattern{
					FirstIndex: r.Index, First: r.Occurred, LastIndex: l.Index, Last: l.Occurred, Count: 1, KG: l.Amount.KG,
				}},
			})
		}
	}
}

// withdrawn reports whether an objection was withdrawn by a later
// no-objection to the same shipment: as for R3, the latest reply governs.
func withdrawn(v View, r Refusal) bool {
	if r.Reply != chemledgerv1.PenReply_PEN_REPLY_OBJECTION {
		return false
	}
	sh, ok := v.Shipment(r.Ref)
	return ok && sh.Reply != nil && sh.Reply.Index > r.Index && sh.Reply.Reply == chemledgerv1.PenReply_PEN_REPLY_NO_OBJECTION
}

func refusalText(r Refusal) string {
	switch {
	case r.Reply == chemledgerv1.PenReply_PEN_REPLY_OBJECTION:
		return "met the importing country's objection to shipment"
	case r.Incident == chemledgerv1.IncidentKind_INCIDENT_KIND_SEIZURE:
		return "was party to the seized shipment"
	}
	return "was party to the stopped shipment"
}
