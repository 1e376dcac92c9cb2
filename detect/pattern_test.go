package detect_test

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chemledger/chemledger/detect"
)

// A flag on a group pattern cites every shipment of it, including those
// that join after the flag was raised: the flags of one pattern (the one
// that opened it and the linked ones) together cite all its shipments, and
// nothing else. Before linked flags, R11 cited only the shipments that
// completed the pattern, R12 the refusal and the first new order, R28 the
// first two chemicals.
func TestGroupPatternsCiteEveryShipment(t *testing.T) {
	tests := []struct {
		name    string
		rule    string
		entries []entry
		// want are the shipments the pattern's flags must cite together;
		// wantFlags how many flags (one opening, the rest linked).
		want      []string
		wantFlags int
	}{
		{name: "R11 fourth and fifth split orders", rule: "R11", wantFlags: 3, want: []string{"S1", "S2", "S3", "S4", "S5"}, entries: []entry{
			E(pen("S1", 0, qty(20, "KGM"))), E(pen("S2", 8, qty(20, "KGM"), from(exporterB()))), E(pen("S3", 20, qty(20, "KGM"))),
			E(pen("S4", 25, qty(20, "KGM"), from(exporterB()))), E(pen("S5", 40, qty(20, "KGM"))),
		}},
		{name: "R11 the export of a joined order cites nothing new", rule: "R11", wantFlags: 2, want: []string{"S1", "S2", "S3", "S4"}, entries: []entry{
			E(pen("S1", 0, qty(20, "KGM"))), E(pen("S2", 8, qty(20, "KGM"), from(exporterB()))), E(pen("S3", 20, qty(20, "KGM"))),
			E(pen("S4", 25, qty(20, "KGM"), from(exporterB()))), E(export("S4", 35, qty(20, "KGM"), from(exporterB()))),
		}},
		{name: "R11 an order long after the pattern is not part of it", rule: "R11", wantFlags: 1, want: []string{"S1", "S2", "S3"}, entries: []entry{
			E(pen("S1", 0, qty(20, "KGM"))), E(pen("S2", 8, qty(20, "KGM"), from(exporterB()))), E(pen("S3", 20, qty(20, "KGM"))),
			E(pen("S4", 90, qty(20, "KGM"), from(exporterB()))),
		}},
		{name: "R11 an order over the threshold is not a split one", rule: "R11", wantFlags: 1, want: []string{"S1", "S2", "S3"}, entries: []entry{
			E(pen("S1", 0, qty(20, "KGM"))), E(pen("S2", 8, qty(20, "KGM"), from(exporterB()))), E(pen("S3", 20, qty(20, "KGM"))),
			E(pen("S4", 22, qty(80, "KGM"), from(exporterB()))),
		}},
		{name: "R12 every new supplier after the objection", rule: "R12", wantFlags: 3, want: []string{"S1", "S2", "S3", "S4"}, entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection)), E(pen("S2", 20, from(exporterB()))),
			E(pen("S3", 30, from(party("Hubei Jinghong Biotechnology Co., Ltd.", "CN")))),
			E(pen("S4", 45, from(party("Shree Ganesh Chemicals Trading Co.", "IN")))),
		}},
		{name: "R12 an amended notification is one order", rule: "R12", wantFlags: 1, want: []string{"S1", "S2"}, entries: []entry{
			E(pen("S1", 0)), E(reply("S1", 5, objection)), E(pen("S2", 20, from(exporterB()))), E(pen("S2", 22, from(exporterB()), qty(90, "KGM"))),
		}},
		{name: "R28 third and fourth chemicals of the route", rule: "R28", wantFlags: 3, want: []string{"S1", "S2", "S3", "S4"}, entries: []entry{
			E(pen("S1", 0, chem(fourPiperidone, "293339"))), E(pen("S2", 20, chem(aniline, "292141"), from(exporterB()))),
			E(pen("S3", 40, chem(propionylCl, "291590"))), E(pen("S4", 60, chem(npp, "293337"))),
		}},
		{name: "R28 a chemical of another set does not join", rule: "R28", wantFlags: 1, want: []string{"S1", "S2"}, entries: []entry{
			E(pen("S1", 0, chem(fourPiperidone, "293339"))), E(pen("S2", 20, chem(aniline, "292141"), from(exporterB()))),
			E(pen("S3", 40, chem(acetone, "291411"))),
		}},
	}
	golden := make(map[string][]detect.Flag)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := records(tc.entries)
			refOf := make(map[uint64]string)
			for _, r := range recs {
				refOf[r.Index] = r.Event.GetShipmentRef()
			}
			got := ofRule(run(t, detect.DefaultPolicy(), tc.entries, t0.AddDate(1, 0, 0)), tc.rule)
			if len(got) != tc.wantFlags {
				t.Fatalf("%s raised %d flags, want %d:\n%s", tc.rule, len(got), tc.wantFlags, mustJSON(t, got))
			}
			if len(heads(got)) != 1 {
				t.Fatalf("%d flags open a pattern, want 1:\n%s", len(heads(got)), mustJSON(t, got))
			}
			cited := make(map[string]bool)
			for _, f := range got {
				if f.Joins != "" && f.Joins != got[0].ID {
					t.Errorf("linked flag %s joins %s, want the opening flag %s", f.ID, f.Joins, got[0].ID)
				}
				if strings.ContainsAny(f.Explanation, "{}") {
					t.Errorf("explanation has an unfilled placeholder: %s", f.Explanation)
				}
				for _, i := range f.Evidence {
					cited[refOf[i]] = true
				}
			}
			if refs := slices.Sorted(maps.Keys(cited)); !slices.Equal(refs, tc.want) {
				t.Errorf("the pattern's flags cite shipments %v, want %v", refs, tc.want)
			}
			golden[tc.name] = got
		})
	}
	checkGolden(t, filepath.Join("testdata", "rules", "patterns.golden.json"), mustJSON(t, golden))
}
