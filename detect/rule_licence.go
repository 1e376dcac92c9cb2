package detect

import (
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// evalUnlicensedConsignee is R6: goods declared for import or received by a
// consignee that holds no licence for the chemical valid on that date, in a
// country whose licence register the policy treats as complete.
func evalUnlicensedConsignee(c *evalCtx) {
	l := c.leg
	if l.Kind != chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION && l.Kind != chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION {
		return
	}
	p := *l.Consignee
	if p.Key == "" {
		return
	}
	complete, note := c.e.registerComplete(c.v, p.Country, l.Occurred)
	if !complete {
		return
	}
	reason := "no licence in the shared registry names it"
	var evidence []uint64
	for _, lic := range c.v.Licences(p) {
		switch {
		case !lic.covers(l.CAS):
			reason = "its licence " + lic.Number + " (" + lic.IssuingCountry + ") does not cover this chemical"
		case !lic.RevokedAt.IsZero() && !l.Occurred.Before(lic.RevokedAt):
			reason = "its licence " + lic.Number + " (" + lic.IssuingCountry + ") was revoked with effect from " + day(lic.RevokedAt)
		case !lic.ValidFrom.IsZero() && l.Occurred.Before(lic.ValidFrom),
			!lic.ValidUntil.IsZero() && l.Occurred.After(lic.ValidUntil):
			reason = "its licence " + lic.Number + " (" + lic.IssuingCountry + ") was valid " + validity(lic) + ", not on that date"
		default:
			return // a licence covers it
		}
		evidence = append(evidence, lic.Index)
	}
	chem, table := c.e.chems[l.CAS], "outside UN Table I"
	sev := SeverityHigh
	if chem.UNTable == "I" {
		sev, table = SeverityCritical, "UN Table I"
	}
	c.add(finding{
		key: l.Ref + "|" + p.Key + "|" + l.CAS, severity: sev, ref: l.Ref, subject: p.Key, cas: l.CAS,
		countries: legCountries(l), evidence: append(evidence, l.Index),
		vars: []string{
			"consignee", partyText(&p), "consignee_country", p.Country, "ref", l.Ref,
			"chemical", l.Chemical, "cas", l.CAS, "table_text", table, "kind", kindText(l.Kind),
			"date", day(l.Occurred), "index", idx(l.Index), "reason", reason, "register_note", note,
		},
	})
}

func validity(l Licence) string {
	from, until := "from the start", "without end"
	if !l.ValidFrom.IsZero() {
		from = "from " + day(l.ValidFrom)
	}
	if !l.ValidUntil.IsZero() {
		until = "until " + day(l.ValidUntil)
	}
	return from + " " + until
}
