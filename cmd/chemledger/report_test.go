package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chemledger/chemledger/server/servertest"
)

// TestReportTwoDataDirs: the examples' log in one data directory, and a
// copy of that directory served by a second service; chemledger report
// against each gives the same digest and the same PDF and HTML bytes.
func TestReportTwoDataDirs(t *testing.T) {
	l := newExamplesLog(t)
	copyDir := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", l.in.Dir, copyDir).CombinedOutput(); err != nil {
		t.Fatalf("copy the data directory: %v\n%s", err, out)
	}
	in2, err := servertest.Start(copyDir, servertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in2.Stop(); err != nil {
			t.Error(err)
		}
	})
	l2 := &examplesLog{in: in2}
	l2.waitDerived(t)
	digest := regexp.MustCompile(`digest ([0-9a-f]{64})`)
	out := t.TempDir()
	for _, ext := range []string{".pdf", ".html"} {
		a, b := filepath.Join(out, "a"+ext), filepath.Join(out, "b"+ext)
		ra := l.run(t, "report", "--period", "2026-Q1", "--out", a)
		rb := l2.run(t, "report", "--period", "2026-Q1", "--out", b)
		if ra.err != nil || rb.err != nil {
			t.Fatalf("report: %v / %v\n%s%s", ra.err, rb.err, ra.stdout, rb.stdout)
		}
		da, db := digest.FindStringSubmatch(ra.stdout), digest.FindStringSubmatch(rb.stdout)
		if da == nil || db == nil || da[1] != db[1] {
			t.Fatalf("digests: %q and %q", ra.stdout, rb.stdout)
		}
		ba, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		if len(ba) == 0 || !bytes.Equal(ba, bb) {
			t.Errorf("%s: the two copies render %d and %d bytes that differ", ext, len(ba), len(bb))
		}
		t.Logf("%s: %s", ext, ra.stdout)
	}
}
