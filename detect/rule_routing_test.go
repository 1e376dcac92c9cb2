package detect_test

import (
	"testing"

	"github.com/chemledger/chemledger/detect"
)

func TestR13Routing(t *testing.T) {
	runRuleCases(t, "R13", []ruleCase{
		{name: "free zone on the way", wantSev: detect.SeverityMedium, entries: []entry{
			E(export("S1", 0, route(via("INNSA", false), via("AEJEA", true), via("CHBSL", false)))),
		}},
		{name: "three third countries", wantSev: detect.SeverityMedium, entries: []entry{
			E(transit("S1", 0, route(via("INBOM", false), via("AEDXB", false), via("TRIST", false), via("NLRTM", false), via("CHBSL", false)))),
		}},
		{name: "direct route", entries: []entry{
			E(export("S1", 0, route(via("INBOM", false), via("CHBSL", false)))),
		}},
		{name: "one third country", entries: []entry{
			E(export("S1", 0, route(via("INBOM", false), via("DEHAM", false), via("CHBSL", false)))),
		}},
		{name: "no route given", entries: []entry{E(export("S1", 0))}},
	})
}
