package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
)

func TestR10NoLegitimateUse(t *testing.T) {
	runRuleCases(t, "R10", []ruleCase{
		{name: "PEN for APAAN", wantSev: detect.SeverityCritical, entries: []entry{
			E(pen("S1", 0, chem(apaan, "292640"))),
		}},
		{name: "export of APAAN", wantSev: detect.SeverityCritical, entries: []entry{
			E(export("S1", 0, chem(apaan, "292640"))),
		}},
		{name: "ephedrine has legitimate uses", entries: []entry{
			E(pen("S1", 0)), E(export("S1", 5)),
		}},
	})
}

func TestR15HSMismatch(t *testing.T) {
	runRuleCases(t, "R15", []ruleCase{
		{name: "ephedrine under the acetone heading", wantSev: detect.SeverityHigh, entries: []entry{
			E(export("S1", 0, chem(ephedrine, "29141100"))),
		}},
		{name: "NPP under the residual heading", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0, chem(npp, "293339"))),
		}},
		{name: "right heading with a national extension", entries: []entry{
			E(export("S1", 0, chem(ephedrine, "2939410010"))),
		}},
		{name: "salt CAS under the parent's heading", entries: []entry{
			E(export("S1", 0, chem(fourPipHCl, "293339"))),
		}},
		{name: "no HS on file for the chemical", entries: []entry{
			E(export("S1", 0, chem(aniline, "123456"))),
		}},
		{name: "no HS declared", entries: []entry{
			E(export("S1", 0, chem(ephedrine, ""))),
		}},
	})
}
