package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
)

func TestR21NewCounterparty(t *testing.T) {
	// Ephedrine's illustrative large volume is 500 kg; the log must reach
	// back 180 days before a party counts as new.
	old := E(export("S0", 0, to(consignee2())))
	runRuleCases(t, "R21", []ruleCase{
		{name: "first order is large", wantSev: detect.SeverityHigh, entries: []entry{
			old, E(pen("S1", 200, qty(600, "KGM"))),
		}},
		{name: "large order 100 days after the first small one", wantSev: detect.SeverityHigh, entries: []entry{
			old, E(pen("S1", 200, qty(10, "KGM"))), E(export("S2", 300, qty(900, "KGM"))),
		}},
		{name: "established consignee", entries: []entry{
			old, E(pen("S1", 0, qty(10, "KGM"))), E(export("S2", 250, qty(900, "KGM"))),
		}},
		{name: "seen as intermediary long before", entries: []entry{
			old, E(export("S9", 1, to(consignee2()), intermediary(consignee()))), E(export("S2", 250, qty(900, "KGM"))),
		}},
		{name: "a look-alike spelling of an established consignee", wantSev: detect.SeverityHigh, entries: []entry{
			old, E(pen("S1", 0, qty(10, "KGM"))), E(export("S2", 250, qty(900, "KGM"), to(party("Alp\u0435nch\u0435mi\u0435 AG", "CH")))),
		}},
		{name: "log too young to tell", entries: []entry{
			old, E(pen("S1", 100, qty(600, "KGM"))),
		}},
		{name: "not a large volume", entries: []entry{
			old, E(pen("S1", 200, qty(400, "KGM"))),
		}},
	})
}
