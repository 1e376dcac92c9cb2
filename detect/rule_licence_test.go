package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
)

func TestR6UnlicensedConsignee(t *testing.T) {
	de := party("Berliner Arzneimittelwerk GmbH", "DE", "EORI", "DE123456789")
	deByLicence := party("BAW Berlin", "DE", "LICENCE", "de-bfarm-0042")
	runRuleCases(t, "R6", []ruleCase{
		{name: "no licence on file", wantSev: detect.SeverityCritical, entries: []entry{
			E(imp("S1", 20, to(de))),
		}},
		{name: "licence expired", wantSev: detect.SeverityCritical, entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 10)), E(receipt("S1", 20, to(de))),
		}},
		{name: "licence revoked before", wantSev: detect.SeverityCritical, entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 400)), R(revoke("DE-BFARM-0042", "DE", de, 15)), E(imp("S1", 20, to(de))),
		}},
		{name: "licence for other chemicals", wantSev: detect.SeverityCritical, entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{pseudoephedrine}, -400, 400)), E(imp("S1", 20, to(de))),
		}},
		{name: "chemical outside Table I is high", wantSev: detect.SeverityHigh, entries: []entry{
			E(imp("S1", 20, to(de), chem(aniline, "292141"))),
		}},
		{name: "licence valid that day", entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 20)), E(imp("S1", 20, to(de))),
		}},
		{name: "matched by licence number under another name", entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 400)), E(imp("S1", 20, to(deByLicence))),
		}},
		{name: "matched by name without identifiers", entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 400)), E(imp("S1", 20, to(party("Berliner Arzneimittelwerk", "DE")))),
		}},
		{name: "licence covers a salt of the chemical", entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{fourPipHCl}, -400, 400)), E(imp("S1", 20, to(de), chem(fourPiperidone, "293339"))),
		}},
		{name: "revocation after the delivery", entries: []entry{
			R(licence("DE-BFARM-0042", "DE", de, []string{ephedrine}, -400, 400)), R(revoke("DE-BFARM-0042", "DE", de, 25)), E(imp("S1", 20, to(de))),
		}},
		{name: "country without a complete register", entries: []entry{
			E(imp("S1", 20)),
		}},
		{name: "export declarations are not checked", entries: []entry{
			E(export("S1", 20, to(de))),
		}},
	})
}
