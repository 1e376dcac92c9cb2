package scenario

import (
	"slices"
	"testing"

	"github.com/chemledger/chemledger/internal/refdata"
)

// TestProductsMatchTheCatalogue keeps the traded chemicals honest: every
// CAS is in refdata, every HS code is refdata's (where it has one), the
// designer precursors are only in cases, and every lane has its product.
func TestProductsMatchTheCatalogue(t *testing.T) {
	all := append(slices.Clone(products), prodNPP, prodAPAAN, prodMAPA, prodBMKGly)
	for _, p := range all {
		c, ok := refdata.ChemicalByCAS(p.cas)
		if !ok {
			t.Errorf("%s: CAS %s is not in the catalogue", p.key, p.cas)
			continue
		}
		if len(c.HS) > 0 && !slices.Contains(c.HS, p.hs) {
			t.Errorf("%s: HS %s, catalogue has %v", p.key, p.hs, c.HS)
		}
		legit := slices.Contains(products, p)
		if legit && c.NoKnownLegitimateUse {
			t.Errorf("%s (%s) has no known legitimate use but is traded legitimately", p.key, c.Name)
		}
		if !legit && p != prodNPP && !c.NoKnownLegitimateUse {
			t.Errorf("%s (%s) is an R10 case product but the catalogue knows a legitimate use", p.key, c.Name)
		}
	}
	for _, ln := range lanes {
		if productByKey[ln.prod] == nil {
			t.Errorf("lane %s→%s: unknown product %q", ln.from, ln.to, ln.prod)
		}
	}
	for name, keys := range profiles {
		for _, k := range keys {
			if productByKey[k] == nil {
				t.Errorf("profile %s: unknown product %q", name, k)
			}
		}
	}
}

// TestRosterNamesAreUnique guards the generated extra companies.
func TestRosterNamesAreUnique(t *testing.T) {
	seen := make(map[string]bool)
	for _, c := range roster(200) {
		if seen[c.party.GetName()] {
			t.Errorf("company name %q used twice", c.party.GetName())
		}
		seen[c.party.GetName()] = true
	}
}
