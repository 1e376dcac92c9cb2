package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
)

func TestR9ALR(t *testing.T) {
	// alr.json (illustrative) gives Mexico 100 kg of ephedrine a year.
	mx := party("Química Mexicana S.A. de C.V.", "MX")
	us := party("Midwest Pharma Inc.", "US")
	runRuleCases(t, "R9", []ruleCase{
		{name: "over the table's ALR", wantSev: detect.SeverityHigh, entries: []entry{
			E(imp("S1", 10, to(mx), qty(60, "KGM"))), E(imp("S2", 40, to(mx), qty(50, "KGM"))), E(imp("S3", 50, to(mx), qty(50, "KGM"))),
		}},
		{name: "over an ALR from the registry", wantSev: detect.SeverityHigh, entries: []entry{
			R(alr("US", ephedrine, 50, 2025, -30)), E(imp("S1", 10, to(us), qty(60, "KGM"))),
		}},
		{name: "exactly the ALR", entries: []entry{
			E(imp("S1", 10, to(mx), qty(60, "KGM"))), E(imp("S2", 40, to(mx), qty(40, "KGM"))),
		}},
		{name: "over the ALR across two years", entries: []entry{
			E(imp("S1", 10, to(mx), qty(60, "KGM"))), E(imp("S2", 370, to(mx), qty(60, "KGM"))),
		}},
		{name: "registry raises the ALR", entries: []entry{
			R(alr("MX", ephedrine, 1000, 2026, -3)), E(imp("S1", 10, to(mx), qty(60, "KGM"))), E(imp("S2", 40, to(mx), qty(50, "KGM"))),
		}},
		{name: "registry ALR for a later year does not apply yet", entries: []entry{
			R(alr("US", ephedrine, 50, 2027, -3)), E(imp("S1", 10, to(us), qty(60, "KGM"))),
		}},
		{name: "no ALR on file", entries: []entry{
			E(imp("S1", 10, qty(6000, "KGM"))),
		}},
		{name: "exports do not count", entries: []entry{
			E(export("S1", 10, to(mx), qty(600, "KGM"))),
		}},
	})
}
