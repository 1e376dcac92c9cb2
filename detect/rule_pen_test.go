package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

var (
	objection   = v1.PenReply_PEN_REPLY_OBJECTION
	noObjection = v1.PenReply_PEN_REPLY_NO_OBJECTION
	infoRequest = v1.PenReply_PEN_REPLY_INFORMATION_REQUESTED
)

func TestR3ShipmentAfterObjection(t *testing.T) {
	runRuleCases(t, "R3", []ruleCase{
		{name: "export after objection", wantSev: detect.SeverityCritical, entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection)), E(export("S1", 10)),
		}},
		{name: "transit after objection", wantSev: detect.SeverityCritical, entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection)), E(transit("S1", 12)),
		}},
		{name: "objection after the goods left", wantSev: detect.SeverityCritical, entries: []entry{
			E(pen("S1", 0)), E(export("S1", 3)), E(reply("S1", 5, objection)),
		}},
		{name: "objection withdrawn by a later no-objection", entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection)), E(reply("S1", 7, noObjection)), E(export("S1", 10)),
		}},
		{name: "no objection", entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, noObjection)), E(export("S1", 10)), E(receipt("S1", 30)),
		}},
		{name: "objection and nothing moved", entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection)),
		}},
		{name: "objection to another shipment", entries: []entry{
			E(pen("S1", 0)), E(reply("S2", 5, objection)), E(export("S1", 10)),
		}},
	})
}

func TestR4NoPENWhereRequired(t *testing.T) {
	de := party("Berliner Arzneimittelwerk GmbH", "DE")
	mx := party("Química Mexicana S.A. de C.V.", "MX")
	runRuleCases(t, "R4", []ruleCase{
		{name: "Table I chemical to a country requiring PENs", wantSev: detect.SeverityCritical, entries: []entry{
			E(export("S1", 10, to(de))),
		}},
		{name: "PEN only after the export", wantSev: detect.SeverityCritical, entries: []entry{
			E(export("S1", 10, to(de))), E(pen("S1", 11, to(de))),
		}},
		{name: "Table II chemical where Table II is required", wantSev: detect.SeverityCritical, entries: []entry{
			E(export("S1", 10, to(mx), chem(acetone, "291411"))),
		}},
		{name: "PEN before the export", entries: []entry{
			E(pen("S1", 0, to(de))), E(export("S1", 10, to(de))),
		}},
		{name: "country not requiring PENs", entries: []entry{
			E(export("S1", 10)),
		}},
		{name: "Table II chemical where only Table I is required", entries: []entry{
			E(export("S1", 10, to(de), chem(acetone, "291411"))),
		}},
		{name: "import declaration is not an export", entries: []entry{
			E(imp("S1", 10, to(de))),
		}},
	})
}

func TestR5NoReplyByDeadline(t *testing.T) {
	runRuleCases(t, "R5", []ruleCase{
		{name: "exported after the deadline without a reply", wantSev: detect.SeverityMedium, entries: []entry{
			E(pen("S1", 0, replyBy(10))), E(export("S1", 15)),
		}},
		{name: "no deadline set, exported after the default period", wantSev: detect.SeverityMedium, entries: []entry{
			E(pen("S1", 0)), E(export("S1", 20)),
		}},
		{name: "reply recorded before the export", entries: []entry{
			E(pen("S1", 0, replyBy(10))), E(reply("S1", 12, noObjection)), E(export("S1", 15)),
		}},
		{name: "exported before the deadline is R5A's", entries: []entry{
			E(pen("S1", 0, replyBy(10))), E(export("S1", 8)),
		}},
		{name: "no deadline set, exported within the default period", entries: []entry{
			E(pen("S1", 0)), E(export("S1", 12)), E(reply("S1", 13, noObjection)),
		}},
	})
}

// The exporter did not wait: the commoner and graver PEN violation, which
// R5 alone never flagged.
func TestR5AExportedBeforeReply(t *testing.T) {
	runRuleCases(t, "R5A", []ruleCase{
		{name: "exported before the deadline without a reply", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0, replyBy(15))), E(export("S1", 3)),
		}},
		{name: "exported before the deadline, no-objection only after", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0, replyBy(15))), E(export("S1", 3)), E(reply("S1", 6, noObjection)),
		}},
		{name: "no deadline set, exported within the default period", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0)), E(export("S1", 4)),
		}},
		{name: "exported while a request for information stood", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0, replyBy(15))), E(reply("S1", 5, infoRequest)), E(export("S1", 20)),
		}},
		{name: "no objection before the export", entries: []entry{
			E(pen("S1", 0, replyBy(15))), E(reply("S1", 2, noObjection)), E(export("S1", 3)),
		}},
		{name: "information request answered by a no-objection", entries: []entry{
			E(pen("S1", 0, replyBy(15))), E(reply("S1", 5, infoRequest)), E(reply("S1", 12, noObjection)), E(export("S1", 20)),
		}},
		{name: "exported after the deadline is R5's", entries: []entry{
			E(pen("S1", 0, replyBy(10))), E(export("S1", 15)),
		}},
		{name: "no notification is R4's", entries: []entry{
			E(export("S1", 3)),
		}},
	})
}

func TestR7ConsigneeChanged(t *testing.T) {
	other := party("Rhône Synthèse SA", "CH")
	runRuleCases(t, "R7", []ruleCase{
		{name: "import names another consignee", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0)), E(export("S1", 10)), E(imp("S1", 20, consignedTo(other))),
		}},
		{name: "same name in another country", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0)), E(receipt("S1", 20, consignedTo(party("Alpenchemie AG", "LI")))),
		}},
		{name: "same consignee, other legal form and punctuation", entries: []entry{
			E(pen("S1", 0)), E(imp("S1", 20, consignedTo(party("ALPENCHEMIE A.G.", "CH")))),
		}},
		{name: "the notified name in look-alike Cyrillic letters", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0)), E(imp("S1", 20, consignedTo(party("Alpenchemie AG", "CH")))), E(receipt("S1", 25, consignedTo(party("Alp\u0435nch\u0435mi\u0435 AG", "CH")))),
		}},
		{name: "one typo", entries: []entry{
			E(pen("S1", 0)), E(imp("S1", 20, consignedTo(party("Alpenchemle AG", "CH")))),
		}},
		{name: "the notified consignee in Cyrillic, same tax number", entries: []entry{
			E(pen("S1", 0, consignedTo(party("Khimprom-Sibir OOO", "RU", "INN", "5406012345")))),
			E(imp("S1", 20, consignedTo(party("ООО «Химпром-Сибирь»", "RU", "INN", "5406012345")))),
		}},
		{name: "another company with another tax number", wantSev: detect.SeverityHigh, entries: []entry{
			E(pen("S1", 0, consignedTo(party("Khimprom-Sibir OOO", "RU", "INN", "5406012345")))),
			E(imp("S1", 20, consignedTo(party("ООО «Сибхимторг»", "RU", "INN", "5410099887")))),
		}},
		{name: "leg states no consignee", entries: []entry{
			E(pen("S1", 0)), E(imp("S1", 20, noConsignee())),
		}},
		{name: "no PEN to compare with", entries: []entry{
			E(export("S1", 10)), E(imp("S1", 20, consignedTo(other))),
		}},
	})
}
