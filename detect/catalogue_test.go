package detect_test

import (
	"regexp"
	"slices"
	"testing"

	"github.com/chemledger/chemledger/detect"
)

func TestCatalogue(t *testing.T) {
	rules := detect.Catalogue()
	if len(rules) < 16 {
		t.Errorf("catalogue has %d rules, the issue asks for at least 16", len(rules))
	}
	required := []string{"R1", "R1A", "R3", "R4", "R5", "R5A", "R6", "R7", "R9", "R10", "R11", "R12", "R13", "R15", "R21", "R27", "R28"}
	placeholder := regexp.MustCompile(`\{[a-z_]+\}`)
	seen := make(map[string]bool)
	for _, r := range rules {
		t.Run(r.ID, func(t *testing.T) {
			if seen[r.ID] {
				t.Errorf("duplicate rule id")
			}
			seen[r.ID] = true
			if r.Version < 1 || r.Name == "" || r.Source == "" || r.Severity == 0 {
				t.Errorf("rule lacks version, name, source or severity: %+v", r)
			}
			if !placeholder.MatchString(r.Explanation) {
				t.Errorf("explanation template has no figures: %q", r.Explanation)
			}
			if len(r.Thresholds) > 6 {
				t.Errorf("%d thresholds; at most 6 fit", len(r.Thresholds))
			}
			for _, d := range r.Thresholds {
				if d.Doc == "" || !slices.Contains([]string{"percent", "days", "count", "kg", "ratio"}, d.Unit) {
					t.Errorf("threshold %s lacks a doc or has unit %q", d.Name, d.Unit)
				}
			}
		})
	}
	for _, id := range required {
		if !seen[id] {
			t.Errorf("rule %s is missing", id)
		}
	}
}

func TestSeverityText(t *testing.T) {
	for _, s := range []detect.Severity{detect.SeverityInfo, detect.SeverityMedium, detect.SeverityHigh, detect.SeverityCritical} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatalf("%d: %v", s, err)
		}
		var back detect.Severity
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%s round trip = %v, %v", b, back, err)
		}
	}
	if _, err := detect.Severity(0).MarshalText(); err == nil {
		t.Error("Severity(0) encodes; want an error")
	}
}
