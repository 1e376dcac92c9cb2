package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
)

func TestR11Structuring(t *testing.T) {
	// Ephedrine's illustrative reporting threshold is 50 kg.
	runRuleCases(t, "R11", []ruleCase{
		{name: "three 20 kg exports from two exporters", wantSev: detect.SeverityHigh, entries: []entry{
			E(export("S1", 0, qty(20, "KGM"))), E(export("S2", 8, qty(20, "KGM"), from(exporterB()))), E(export("S3", 20, qty(20, "KGM"))),
		}},
		{name: "a fourth split shipment joins the flag, it opens no second one", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0, qty(20, "KGM"))), E(pen("S2", 8, qty(20, "KGM"), from(exporterB()))), E(pen("S3", 20, qty(20, "KGM"))), E(pen("S4", 25, qty(20, "KGM"), from(exporterB()))),
		}},
		{name: "logged out of time order", wantSev: detect.SeverityHigh, entries: []entry{
			E(export("S3", 20, qty(20, "KGM"))), E(export("S1", 0, qty(20, "KGM"))), E(export("S2", 8, qty(20, "KGM"), from(exporterB()))),
		}},
		{name: "one exporter only", entries: []entry{
			E(export("S1", 0, qty(20, "KGM"))), E(export("S2", 8, qty(20, "KGM"))), E(export("S3", 20, qty(20, "KGM"))),
		}},
		{name: "total under the threshold", entries: []entry{
			E(export("S1", 0, qty(15, "KGM"))), E(export("S2", 8, qty(15, "KGM"), from(exporterB()))), E(export("S3", 20, qty(15, "KGM"))),
		}},
		{name: "spread over more than 30 days", entries: []entry{
			E(export("S1", 0, qty(20, "KGM"))), E(export("S2", 16, qty(20, "KGM"), from(exporterB()))), E(export("S3", 32, qty(20, "KGM"))),
		}},
		{name: "one shipment over the threshold is reported anyway", entries: []entry{
			E(export("S1", 0, qty(20, "KGM"))), E(export("S2", 8, qty(60, "KGM"), from(exporterB()))), E(export("S3", 20, qty(20, "KGM"))),
		}},
		{name: "PEN and export of one shipment count once", entries: []entry{
			E(pen("S1", 0, qty(20, "KGM"))), E(export("S1", 5, qty(20, "KGM"))), E(export("S2", 8, qty(20, "KGM"), from(exporterB()))),
		}},
		{name: "chemical without a reporting threshold", entries: []entry{
			E(export("S1", 0, qty(20, "KGM"), chem(acetone, "291411"))), E(export("S2", 8, qty(20, "KGM"), chem(acetone, "291411"), from(exporterB()))), E(export("S3", 20, qty(20, "KGM"), chem(acetone, "291411"))),
		}},
		{name: "different consignees", entries: []entry{
			E(export("S1", 0, qty(20, "KGM"))), E(export("S2", 8, qty(20, "KGM"), from(exporterB()), to(consignee2()))), E(export("S3", 20, qty(20, "KGM"))),
		}},
	})
}
