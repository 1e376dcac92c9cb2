package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func TestR12CompanyShopping(t *testing.T) {
	bare := func(e *v1.ShipmentEvent) { e.Exporter, e.Importer, e.Consignee = nil, nil, nil }
	runRuleCases(t, "R12", []ruleCase{
		{name: "new exporter after an objection", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection, bare)), E(pen("S2", 30, from(exporterB()))),
		}},
		{name: "an information request is not a refusal", entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, infoRequest)), E(pen("S2", 20, from(exporterB()))),
		}},
		{name: "information request, no objection, then the buyer's other supplier", entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, infoRequest)), E(reply("S1", 12, noObjection)), E(pen("S2", 20, from(exporterB()))),
		}},
		{name: "objection withdrawn by a later no-objection", entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection)), E(reply("S1", 9, noObjection)), E(pen("S2", 20, from(exporterB()))),
		}},
		{name: "stopped shipment reported without a quantity", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0)), E(incident("S1", 5, v1.IncidentKind_INCIDENT_KIND_STOPPED_SHIPMENT, func(e *v1.ShipmentEvent) { e.Quantity = nil })),
			E(pen("S2", 30, from(exporterB()))),
		}},
		{name: "consignee behind another importer after a stopped shipment", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0)), E(incident("S1", 5, v1.IncidentKind_INCIDENT_KIND_STOPPED_SHIPMENT)),
			E(pen("S2", 40, from(exporterB()), func(e *v1.ShipmentEvent) { e.Importer = party("Basel Trading GmbH", "CH") })),
		}},
		{name: "same exporter tries again", entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection)), E(pen("S2", 30)),
		}},
		{name: "after the 60-day window", entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection)), E(pen("S2", 70, from(exporterB()))),
		}},
		{name: "different chemical", entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection)), E(pen("S2", 30, from(exporterB()), chem(acetone, "291411"))),
		}},
		{name: "no objection", entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, noObjection)), E(pen("S2", 30, from(exporterB()))),
		}},
		{name: "seizure is a refusal", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0)), E(incident("S1", 5, v1.IncidentKind_INCIDENT_KIND_SEIZURE)), E(pen("S2", 30, from(exporterB()))),
		}},
	})
}
