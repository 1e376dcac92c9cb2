package detect

import (
	"slices"
	"strings"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// evalNoLegitimateUse is R10: a notification or export of a substance with
// no known legitimate use.
func evalNoLegitimateUse(c *evalCtx) {
	l := c.leg
	if l.Kind != chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION && l.Kind != chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION {
		return
	}
	if !c.e.chems[l.CAS].NoLegitimateUse {
		return
	}
	c.add(finding{
		key: l.Ref, ref: l.Ref, subject: l.Ref, cas: l.CAS, countries: legCountries(l),
		evidence: []uint64{l.Index},
		vars: []string{
			"kind", kindText(l.Kind), "ref", l.Ref, "index", idx(l.Index), "date", day(l.Occurred),
			"quantity", l.Amount.Declared(), "chemical", l.Chemical, "cas", l.CAS,
		},
	})
}

// evalHSMismatch is R15: the declared HS code is not one the catalogue
// gives for the CAS number.
func evalHSMismatch(c *evalCtx) {
	l := c.leg
	if len(l.HS) < 6 {
		return
	}
	chem, ok := c.e.chems[l.CAS]
	if !ok || len(chem.HS) == 0 || slices.Contains(chem.HS, l.HS[:6]) {
		return
	}
	expected := make([]string, len(chem.HS))
	for i, h := range chem.HS {
		expected[i] = "HS " + h
	}
	c.add(finding{
		key: l.Ref, ref: l.Ref, subject: l.Ref, cas: l.CAS, countries: legCountries(l),
		evidence: []uint64{l.Index},
		vars: []string{
			"kind", kindText(l.Kind), "ref", l.Ref, "index", idx(l.Index), "chemical", l.Chemical,
			"cas", l.CAS, "hs", l.HS, "expected", strings.Join(expected, " or "),
		},
	})
}
