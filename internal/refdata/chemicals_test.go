package refdata_test

import (
	"slices"
	"testing"

	"github.com/chemledger/chemledger/internal/refdata"
)

func TestCatalogueCASCheckDigits(t *testing.T) {
	for _, c := range refdata.Chemicals() {
		for _, cas := range append([]string{c.CAS}, c.SaltCAS...) {
			if !refdata.ValidCASCheckDigit(cas) {
				t.Errorf("%s: CAS %q fails the check digit", c.Name, cas)
			}
		}
	}
}

func TestCatalogueKnownEntries(t *testing.T) {
	tests := []struct {
		name     string
		cas      string
		wantName string
		wantHS   string // one HS code the entry must allow
		wantUN   string
		wantYear int
		wantNKLU bool
	}{
		{name: "NPP", cas: "39742-60-4", wantName: "N-Phenethyl-4-piperidone", wantHS: "293337", wantUN: "I", wantYear: 2017},
		{name: "ANPP", cas: "21409-26-7", wantName: "4-Anilino-N-phenethylpiperidine", wantHS: "293336", wantUN: "I", wantYear: 2017},
		{name: "4-AP", cas: "23056-29-3", wantName: "N-Phenylpiperidin-4-amine", wantHS: "293339", wantUN: "I", wantYear: 2022},
		{name: "4-piperidone", cas: "41661-47-6", wantName: "4-Piperidone", wantHS: "293339", wantUN: "I", wantYear: 2024},
		{name: "ephedrine", cas: "299-42-3", wantName: "Ephedrine", wantHS: "293941", wantUN: "I", wantYear: 1988},
		{name: "pseudoephedrine", cas: "90-82-4", wantName: "Pseudoephedrine", wantHS: "293942", wantUN: "I", wantYear: 1988},
		{name: "P-2-P", cas: "103-79-7", wantName: "1-Phenyl-2-propanone", wantHS: "291431", wantUN: "I", wantYear: 1988},
		{name: "APAAN", cas: "4468-48-8", wantName: "alpha-Phenylacetoacetonitrile", wantHS: "292640", wantUN: "I", wantYear: 2014, wantNKLU: true},
		{name: "MAPA", cas: "16648-44-5", wantName: "Methyl alpha-phenylacetoacetate", wantHS: "291830", wantUN: "I", wantYear: 2020, wantNKLU: true},
		{name: "PMK", cas: "4676-39-5", wantName: "3,4-Methylenedioxyphenyl-2-propanone", wantHS: "293292", wantUN: "I", wantYear: 1992},
		{name: "acetone", cas: "67-64-1", wantName: "Acetone", wantHS: "291411", wantUN: "II", wantYear: 1988},
		{name: "propionyl chloride, watched", cas: "79-03-8", wantName: "Propionyl chloride", wantUN: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := refdata.ChemicalByCAS(tt.cas)
			if !ok {
				t.Fatalf("ChemicalByCAS(%q) found nothing", tt.cas)
			}
			if c.Name != tt.wantName || c.CAS != tt.cas || c.UNTable != tt.wantUN || c.YearControlled != tt.wantYear || c.NoKnownLegitimateUse != tt.wantNKLU {
				t.Errorf("ChemicalByCAS(%q) = {Name:%q CAS:%q UNTable:%q Year:%d NKLU:%v}, want {Name:%q CAS:%q UNTable:%q Year:%d NKLU:%v}",
					tt.cas, c.Name, c.CAS, c.UNTable, c.YearControlled, c.NoKnownLegitimateUse,
					tt.wantName, tt.cas, tt.wantUN, tt.wantYear, tt.wantNKLU)
			}
			if tt.wantHS != "" && !slices.Contains(c.HS, tt.wantHS) {
				t.Errorf("ChemicalByCAS(%q).HS = %v, want it to contain %s", tt.cas, c.HS, tt.wantHS)
			}
		})
	}
}

func TestChemicalByCASSaltsAndMisses(t *testing.T) {
	tests := []struct {
		name     string
		cas      string
		wantOK   bool
		wantName string
	}{
		{name: "4-piperidone HCl", cas: "41979-39-9", wantOK: true, wantName: "4-Piperidone"},
		{name: "BMK glycidic acid methyl ester", cas: "80532-66-7", wantOK: true, wantName: "P-2-P methyl glycidic acid"},
		{name: "water is not controlled", cas: "7732-18-5", wantOK: false},
		{name: "norfentanyl mis-stated", cas: "1609-66-5", wantOK: false},
		{name: "empty", cas: "", wantOK: false},
		{name: "NPP with spaces", cas: " 39742-60-4", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := refdata.ChemicalByCAS(tt.cas)
			if ok != tt.wantOK || c.Name != tt.wantName {
				t.Errorf("ChemicalByCAS(%q) = (%q, %v), want (%q, %v)", tt.cas, c.Name, ok, tt.wantName, tt.wantOK)
			}
		})
	}
}

// TestCatalogueUNTableCounts checks the years against the count domain.md §8
// verified: after MAPA (2020) Table I had 22 substances and Table II 8.
func TestCatalogueUNTableCounts(t *testing.T) {
	counts := map[string]int{}
	for _, c := range refdata.Chemicals() {
		if c.UNTable != "" && c.YearControlled <= 2020 {
			counts[c.UNTable]++
		}
	}
	if counts["I"] != 22 || counts["II"] != 8 {
		t.Errorf("UN table entries controlled by 2020: Table I %d, Table II %d; want 22 and 8", counts["I"], counts["II"])
	}
}

func TestCatalogueRequiredEntriesAndFlags(t *testing.T) {
	for _, c := range refdata.Chemicals() {
		if c.Name == "" || c.Source == "" {
			t.Errorf("entry %q (%s) lacks a name or source", c.Name, c.CAS)
		}
		if c.NoKnownLegitimateUse && c.UNTable == "" {
			t.Errorf("%s: no-known-legitimate-use entries in the sources are all UN Table I", c.Name)
		}
	}
}

func TestChemicalsReturnsCopy(t *testing.T) {
	a := refdata.Chemicals()
	a[0].Name = "changed"
	a[0].HS[0] = "000000"
	b := refdata.Chemicals()
	if b[0].Name == "changed" || b[0].HS[0] == "000000" {
		t.Errorf("changing the result of Chemicals changed the catalogue: %+v", b[0])
	}
	c, _ := refdata.ChemicalByCAS(b[0].CAS)
	c.HS[0] = "000000"
	if d, _ := refdata.ChemicalByCAS(b[0].CAS); d.HS[0] == "000000" {
		t.Errorf("changing the result of ChemicalByCAS changed the catalogue: %+v", d)
	}
}
