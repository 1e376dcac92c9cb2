package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
)

func TestR21NewCounterparty(t *testing.T) {
	// Ephedrine's illustrative large volume, used while the log holds fewer
	// than 20 lots of it, is 500 kg.
	old := E(export("S0", 0, to(consignee2())))
	// lots are 25 ordinary 200 kg ephedrine shipments between other parties
	// (so the 90th percentile is about 200 kg), from day from.
	lots := func(from int) []entry {
		var out []entry
		for i := range 25 {
			ref := "L" + string(rune('A'+i))
			out = append(out, E(pen(ref, from+i, qty(200, "KGM"), to(party("Pharma "+ref+" Ltd", "GB")))))
		}
		return out
	}
	cat := func(parts ...[]entry) []entry {
		var out []entry
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	licensedSince := func(d int) entry {
		return R(licence("CH-EPH-2010-7", "CH", consignee(), []string{ephedrine}, d, 400))
	}
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
		{name: "unregistered, in the log's first months: too young to tell", entries: []entry{
			old, E(pen("S1", 100, qty(600, "KGM"))),
		}},
		{name: "on the log's first day, with nothing before: too young to tell", entries: []entry{
			E(pen("S1", 0, qty(600, "KGM"))),
		}},
		{name: "the same company in another script, by its identifier", entries: []entry{
			old, E(pen("S1", 0, qty(10, "KGM"), to(party("Alpenchemie AG", "CH", "UID", "CHE-101.234.567")))),
			E(imp("S2", 250, qty(900, "KGM"), to(party("Альпенхеми АГ", "CH", "UID", "CHE-101.234.567")))),
		}},
		{name: "another script, another identifier: new", wantSev: detect.SeverityHigh, entries: []entry{
			old, E(pen("S1", 0, qty(10, "KGM"), to(party("Alpenchemie AG", "CH", "UID", "CHE-101.234.567")))),
			E(imp("S2", 250, qty(900, "KGM"), to(party("Альпенхеми АГ", "CH", "UID", "CHE-999.888.777")))),
		}},
		{name: "licensed years before the log began", entries: []entry{
			licensedSince(-3650), E(pen("S1", 0, qty(600, "KGM"))),
		}},
		{name: "licensed only a month before", wantSev: detect.SeverityHigh, entries: []entry{
			licensedSince(-30), E(pen("S1", 0, qty(600, "KGM"))),
		}},
		{name: "licence of a look-alike name is not the party's", wantSev: detect.SeverityHigh, entries: []entry{
			old, R(licence("CH-EPH-2010-7", "CH", party("Alp\u0435nch\u0435mi\u0435 AG", "CH"), []string{ephedrine}, -3650, 400)), E(pen("S1", 200, qty(600, "KGM"))),
		}},
		{name: "not a large volume", entries: []entry{
			old, E(pen("S1", 200, qty(400, "KGM"))),
		}},
		{name: "large against the chemical's logged lots", wantSev: detect.SeverityHigh, entries: cat(lots(0), []entry{
			licensedSince(20), E(pen("S1", 40, qty(400, "KGM"))),
		})},
		{name: "an ordinary lot for the chemical", entries: cat(lots(0), []entry{
			licensedSince(20), E(pen("S1", 40, qty(190, "KGM"))),
		})},
	})
}
