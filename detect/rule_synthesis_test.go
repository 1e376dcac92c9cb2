package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
)

func TestR28SynthesisSet(t *testing.T) {
	runRuleCases(t, "R28", []ruleCase{
		{name: "NPP then aniline", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0, chem(npp, "293337"))), E(export("S2", 40, chem(aniline, "292141"), from(exporterB()))),
		}},
		{name: "ephedrine and red phosphorus", wantSev: detect.SeverityHigh, entries: []entry{
			E(imp("S1", 0)), E(imp("S2", 60, chem(redPhosphorus, "280470"))), E(imp("S3", 70, chem(redPhosphorus, "280470"))),
		}},
		{name: "P-2-P and methylamine solution", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0, chem(p2p, "291431"))), E(pen("S2", 89, chem(methylamine, "292111"), qty(200, "LTR"), conc(40))),
		}},
		{name: "aniline and propionic anhydride to a chemical distributor", entries: []entry{
			E(pen("S1", 0, chem(aniline, "292141"))), E(pen("S2", 30, chem(propAnhydride, "291590"), from(exporterB()))),
		}},
		{name: "aniline, propionic anhydride and phenethyl bromide", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0, chem(aniline, "292141"))), E(pen("S2", 30, chem(propAnhydride, "291590"), from(exporterB()))),
			E(pen("S3", 50, chem("103-63-9", "290399"))),
		}},
		{name: "ephedrine and pseudoephedrine are one step", entries: []entry{
			E(imp("S1", 0)), E(imp("S2", 10, chem(pseudoephedrine, "293942"))),
		}},
		{name: "propionyl chloride and propionic anhydride are one step", entries: []entry{
			E(pen("S1", 0, chem(propionylCl, ""))), E(pen("S2", 10, chem(propAnhydride, ""))),
		}},
		{name: "outside the 90 days", entries: []entry{
			E(pen("S1", 0, chem(npp, "293337"))), E(export("S2", 120, chem(aniline, "292141"))),
		}},
		{name: "different consignees", entries: []entry{
			E(pen("S1", 0, chem(npp, "293337"))), E(export("S2", 40, chem(aniline, "292141"), to(consignee2()))),
		}},
		{name: "chemicals of different sets", entries: []entry{
			E(pen("S1", 0, chem(npp, "293337"))), E(pen("S2", 10, chem(methylamine, "292111"))),
		}},
		{name: "one shipment's legs", entries: []entry{
			E(pen("S1", 0, chem(npp, "293337"))), E(export("S1", 10, chem(npp, "293337"))), E(imp("S1", 30, chem(npp, "293337"))),
		}},
	})
}
