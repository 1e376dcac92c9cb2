package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The README's demo modes work end to end on the real binary: the examples
// raise their flags, and the generated year raises exactly one flag per
// labelled case, by the case's rule.
func TestDemos(t *testing.T) {
	tests := []struct {
		name, demo string
		check      func(t *testing.T, out string)
	}{
		{"examples", filepath.Join(moduleRoot, "examples"), func(t *testing.T, out string) {
			for _, want := range []string{"41 entries submitted", "CRITICAL R1   PEN-CN-2026-000871", "CRITICAL R3   PEN-DE-2026-000317"} {
				if !strings.Contains(out, want) {
					t.Errorf("demo output lacks %q:\n%s", want, out)
				}
			}
		}},
		{"scenario", "scenario", func(t *testing.T, out string) {
			if !strings.Contains(out, "0 refused") {
				t.Errorf("the generated year was not all accepted:\n%s", out)
			}
			rows := regexp.MustCompile(`(?m)^  (R\d+A?) +(\d+) +\[(\d+)\]$`).FindAllStringSubmatch(out, -1)
			if len(rows) < 16 {
				t.Fatalf("%d rule rows in the demo output, want 16:\n%s", len(rows), out)
			}
			for _, r := range rows {
				if r[2] != r[3] {
					t.Errorf("rule %s: %s flags for %s labelled cases", r[1], r[2], r[3])
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The README's demo: mutual TLS with the development PKI.
			d := startDaemon(t, t.TempDir(), "--secure", "--demo", tc.demo, "--log-level", "error")
			deadline := time.Now().Add(90 * time.Second)
			for !strings.Contains(d.stderr.String(), "curl -s") {
				if time.Now().After(deadline) {
					t.Fatalf("the demo did not finish within 90 s:\n%s", d.stderr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			tc.check(t, d.stderr.String())
		})
	}
}
