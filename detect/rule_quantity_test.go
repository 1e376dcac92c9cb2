package detect_test

import (
	"testing"
	"time"

	"github.com/chemledger/chemledger/detect"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func TestR1QuantityMismatch(t *testing.T) {
	runRuleCases(t, "R1", []ruleCase{
		{name: "14 percent short is critical", wantSev: detect.SeverityCritical, entries: []entry{
			E(pen("S1", 0, qty(500, "KGM"))), E(export("S1", 10, qty(500, "KGM"))), E(receipt("S1", 30, qty(430, "KGM"))),
		}},
		{name: "1 percent short by mass is high", wantSev: detect.SeverityHigh, entries: []entry{
			E(export("S1", 10, qty(500, "KGM"))), E(receipt("S1", 30, qty(495, "KGM"))),
		}},
		{name: "surplus over the tolerance", wantSev: detect.SeverityHigh, entries: []entry{
			E(export("S1", 10, qty(500, "KGM"))), E(receipt("S1", 30, qty(510, "KGM"))),
		}},
		{name: "3 percent short by volume with density", wantSev: detect.SeverityHigh, entries: []entry{
			E(export("S1", 10, chem(propionylCl, "291590"), qty(1000, "LTR"))), E(receipt("S1", 30, chem(propionylCl, "291590"), qty(970, "LTR"))),
		}},
		{name: "volume without density on file", wantSev: detect.SeverityHigh, entries: []entry{
			E(export("S1", 10, qty(1000, "LTR"))), E(receipt("S1", 30, qty(970, "LTR"))),
		}},
		{name: "receipt logged before the export", wantSev: detect.SeverityCritical, entries: []entry{
			E(receipt("S1", 30, qty(300, "KGM"))), E(export("S1", 10, qty(500, "KGM"))),
		}},
		{name: "concentration counts", wantSev: detect.SeverityCritical, entries: []entry{
			E(export("S1", 10, qty(200, "KGM"), conc(50))), E(receipt("S1", 30, qty(80, "KGM"))),
		}},
		{name: "0.4 percent short by mass", entries: []entry{
			E(export("S1", 10, qty(500, "KGM"))), E(receipt("S1", 30, qty(498, "KGM"))),
		}},
		{name: "1.5 percent short by volume", entries: []entry{
			E(export("S1", 10, chem(propionylCl, "291590"), qty(1000, "LTR"))), E(receipt("S1", 30, chem(propionylCl, "291590"), qty(985, "LTR"))),
		}},
		{name: "same pure quantity in other units", entries: []entry{
			E(export("S1", 10, qty(0.5, "TNE"))), E(receipt("S1", 30, qty(500000, "GRM"))),
		}},
		{name: "corrected export matches the receipt", entries: []entry{
			E(export("S1", 10, qty(500, "KGM"))), E(export("S1", 11, qty(430, "KGM"))), E(receipt("S1", 30, qty(430, "KGM"))),
		}},
		{name: "receipt of another shipment", entries: []entry{
			E(export("S1", 10, qty(500, "KGM"))), E(receipt("S2", 30, qty(430, "KGM"))),
		}},
	})
}

func TestR1AMissingArrival(t *testing.T) {
	runRuleCases(t, "R1A", []ruleCase{
		{name: "no receipt 31 days after the declared arrival", wantSev: detect.SeverityHigh, sweep: day(51), entries: []entry{
			E(pen("S1", 0)), E(export("S1", 5, dispatch(6), arrival(20))),
		}},
		{name: "no arrival date: dispatch plus 60 days", wantSev: detect.SeverityHigh, sweep: day(100), entries: []entry{
			E(export("S1", 5, dispatch(6))),
		}},
		{name: "no dates at all: declaration plus 60 days", wantSev: detect.SeverityHigh, sweep: day(100), entries: []entry{
			E(export("S1", 5)),
		}},
		{name: "receipt arrived", sweep: day(200), entries: []entry{
			E(export("S1", 5, arrival(20))), E(receipt("S1", 40)),
		}},
		{name: "grace period not over", sweep: day(49), entries: []entry{
			E(export("S1", 5, arrival(20))),
		}},
		{name: "seized on the way", sweep: day(200), entries: []entry{
			E(export("S1", 5, arrival(20))), E(incident("S1", 15, v1.IncidentKind_INCIDENT_KIND_SEIZURE)),
		}},
		{name: "corrected export moved the arrival", sweep: day(51), entries: []entry{
			E(export("S1", 5, arrival(20))), E(export("S1", 6, arrival(60))),
		}},
		{name: "rule disabled", sweep: day(200), policy: policyWith(t, func(p *detect.Policy) {
			p.Rules["R1A"] = detect.RulePolicy{Disabled: true}
		}), entries: []entry{E(export("S1", 5, arrival(20)))}},
	})
}

func TestSweepNeverReraises(t *testing.T) {
	e := detect.NewEngine(detect.DefaultPolicy())
	s := detect.NewState()
	for _, r := range records([]entry{E(export("S1", 5, arrival(20))), E(export("S2", 6, arrival(30)))}) {
		e.Apply(s, r)
	}
	for i, tc := range []struct {
		asOf time.Time
		want int
	}{{day(49), 0}, {day(51), 1}, {day(51), 0}, {day(70), 1}, {day(70), 0}, {day(400), 0}} {
		if got := e.Sweep(s, tc.asOf); len(got) != tc.want {
			t.Errorf("sweep %d as of %s: %d flags, want %d", i, tc.asOf.Format(time.DateOnly), len(got), tc.want)
		}
	}
	// A receipt after the flag does not raise it again, nor does a
	// corrected export that is overdue too.
	for _, r := range records([]entry{E(receipt("S1", 80)), E(export("S2", 90, arrival(100)))}) {
		r.Index += 10
		if got := e.Apply(s, r); len(ofRule(got, "R1A")) != 0 {
			t.Errorf("Apply(%d) raised R1A: %v", r.Index, got)
		}
	}
	if got := e.Sweep(s, day(400)); len(got) != 0 {
		t.Errorf("sweep after correction raised %d flags, want 0: %v", len(got), got)
	}
}
