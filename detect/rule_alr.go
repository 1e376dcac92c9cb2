package detect

import (
	"slices"
	"strconv"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// evalALR is R9: a year's imports of a chemical into a country exceed its
// annual legitimate requirement.
func evalALR(c *evalCtx) {
	l := c.leg
	if l.Kind != chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION || !l.Amount.Known || l.Importer.Country == "" {
		return
	}
	country, year := l.Importer.Country, l.Occurred.Year()
	alrKG, source, alrIndex, fromLog := 0.0, "", uint64(0), false
	if a, ok := c.v.AnnualRequirement(country, l.CAS, year); ok {
		alrKG, alrIndex, fromLog = a.KG, a.Index, true
		source = "registry entry " + idx(a.Index) + ", in force from " + strconv.Itoa(a.Year)
	} else if kg, ok := c.e.policy.Tables.ALR[country][l.CAS]; ok {
		alrKG = kg
		source = "reference table alr.json, version " + c.e.policy.Tables.Version
		if slices.Contains(c.e.policy.Tables.Illustrative, "alr.json") {
			source += ", illustrative value"
		}
	} else {
		return // no ALR on file: see the rule's notes
	}
	th := c.th()
	limit := th.get("alr_percent")
	prior := c.v.Imported(country, l.CAS, year)
	total := prior.KG + l.Amount.KG
	if alrKG <= 0 || total*100/alrKG <= limit {
		return
	}
	ev := append(slices.Clone(prior.Evidence), l.Index)
	if fromLog {
		ev = append(ev, alrIndex)
	}
	yr := strconv.Itoa(year)
	c.add(finding{
		key: country + "|" + l.CAS + "|" + yr, ref: l.Ref, subject: country + "|" + l.CAS + "|" + yr, cas: l.CAS,
		countries: []string{country}, evidence: ev, th: th,
		extra: []Threshold{{Name: "alr_kg", Value: strconv.FormatFloat(alrKG, 'f', -1, 64)}},
		vars: []string{
			"chemical", l.Chemical, "cas", l.CAS, "country", country, "year", yr,
			"total_kg", num(total), "ref", l.Ref, "index", idx(l.Index),
			"percent", pct(total * 100 / alrKG), "alr_kg", num(alrKG), "alr_source", source,
			"alr_percent", pct(limit),
		},
	})
}
