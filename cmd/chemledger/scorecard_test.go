package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestScorecardVerb: the scorecard of the examples names the checkpoint it
// was computed at, and a figure drills down to exactly as many entries as
// it says it counts.
func TestScorecardVerb(t *testing.T) {
	l := newExamplesLog(t)
	cp, _ := l.in.Ledger.Checkpoint()
	r := l.run(t, "scorecard", "--period", "2026", "--member", "MX-ANAM")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := "scorecard 2026 at checkpoint " + strconv.FormatUint(cp.Size, 10); !strings.HasPrefix(r.stdout, want) {
		t.Fatalf("scorecard:\n%s\nwant it to start %q", r.stdout, want)
	}
	m := regexp.MustCompile(`(?m)^MX-ANAM (\d{4}-\d\d)\n(?:  .*\n)*?  pen_received +\S+ +\(\S+ / \S+\) +(\d+) entries`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("scorecard:\n%s\nwant a MX-ANAM month with pen_received", r.stdout)
	}
	month, n := m[1], m[2]
	d := l.run(t, "scorecard", "--member", "MX-ANAM", "--month", month, "--indicator", "pen_received")
	if d.err != nil {
		t.Fatal(d.err)
	}
	rows := regexp.MustCompile(`(?m)^\d+ +[0-9a-f]{64} +\S+$`).FindAllString(d.stdout, -1)
	if strconv.Itoa(len(rows)) != n {
		t.Errorf("drill-down of pen_received %s:\n%s\nwant %s entries", month, d.stdout, n)
	}
	if bad := l.run(t, "scorecard", "--period", "2026-13"); bad.err == nil || !strings.Contains(bad.err.Error(), "period") {
		t.Errorf("--period 2026-13: %v, want a refusal naming the period", bad.err)
	}
}
