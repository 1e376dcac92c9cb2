package report_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/detect/scenario"
	"github.com/chemledger/chemledger/internal/datadir"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/report"
	"github.com/chemledger/chemledger/scorecard"
)

// copyOfYear is one member's copy of the scenario year's log: the entries
// encoded as each member's mirror stores them (protojson lines, as
// cmd/scenariogen writes them) and decoded back, so two copies share no
// memory. The checkpoint is a note over the same root in every copy.
func copyOfYear(tb testing.TB) *report.Review {
	tb.Helper()
	sc := scenario.Generate(scenario.DefaultConfig())
	var log []scorecard.LogEntry
	for i, it := range sc.Items {
		le := scorecard.LogEntry{Entry: scorecard.Entry{Index: uint64(i), Member: it.Member, Time: it.Time}}
		if it.Event != nil {
			b, _ := protojson.Marshal(it.Event)
			le.Event = &v1.ShipmentEvent{}
			if err := protojson.Unmarshal(b, le.Event); err != nil {
				tb.Fatal(err)
			}
		} else {
			b, _ := protojson.Marshal(it.Registry)
			le.Registry = &v1.RegistryEntry{}
			if err := protojson.Unmarshal(b, le.Registry); err != nil {
				tb.Fatal(err)
			}
		}
		log = append(log, le)
	}
	root := make([]byte, 32)
	root[0] = 7
	cp := checkpoint.Checkpoint{Origin: "chemledger.dev/log", Size: uint64(len(log)), Root: root}
	noteText := cp.Body() + "\n— chemledger.dev/log " + base64.StdEncoding.EncodeToString([]byte("signature stands in here")) + "\n"
	var members []scorecard.Member
	for _, m := range datadir.DemoMembers {
		members = append(members, scorecard.Member{ID: m.ID, Country: m.Country})
	}
	pol := detect.DefaultPolicy()
	c := scorecard.ComputeAt(log, cp, []byte(noteText), members, pol)
	p, err := scorecard.ParsePeriod("2026-Q3")
	if err != nil {
		tb.Fatal(err)
	}
	return &report.Review{Period: p, Checkpoint: noteText, Card: c.Card.Select(p.YearToDate(), ""), PolicyVersion: detect.NewEngine(pol).PolicyVersion()}
}

// TestReportTwoCopiesSameDigest: two copies of the same log give the same
// digest and byte-identical PDF and HTML; a change to one figure changes
// the digest.
func TestReportTwoCopiesSameDigest(t *testing.T) {
	a, b := copyOfYear(t), copyOfYear(t)
	if a.Digest() != b.Digest() {
		t.Fatalf("digests differ: %s, %s", a.Digest(), b.Digest())
	}
	for _, ext := range []string{".pdf", ".html"} {
		x, err := a.Bytes(ext)
		if err != nil {
			t.Fatal(err)
		}
		y, err := b.Bytes(ext)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s: two copies render different bytes (%d, %d)", ext, len(x), len(y))
		}
		if !bytes.Contains(x, []byte(a.Digest()[:16])) && ext == ".html" {
			t.Errorf("%s does not show the digest", ext)
		}
	}
	before := b.Digest()
	b.Card.Rows[len(b.Card.Rows)-1].Figures[0].Value++
	if b.Digest() == before {
		t.Fatal("changing a figure left the digest unchanged")
	}
	t.Logf("digest %s", a.Digest())
}

// TestReportRenders renders review.pdf and each of its pages to PNG with
// pdftoppm (poppler-utils) for a person to look at; it skips when pdftoppm
// is missing. The pages land in CHEMLEDGER_ARTEFACTS when set, else in a
// temporary directory.
func TestReportRenders(t *testing.T) {
	r := copyOfYear(t)
	pdf, err := r.PDF()
	if err != nil {
		t.Fatal(err)
	}
	// cover + one page per indicator + one per member + methodology (which
	// may run onto a second page)
	want := 1 + len(r.Card.Definitions) + len(datadir.DemoMembers) + 1
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
	html, err := r.Bytes(".html")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), "<svg"); n != len(r.Card.Definitions) {
		t.Errorf("HTML has %d charts, want %d", n, len(r.Card.Definitions))
	}
	dir := os.Getenv("CHEMLEDGER_ARTEFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "review.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "review.html"), html, 0o644); err != nil {
		t.Fatal(err)
	}
	tool, err := exec.LookPath("pdftoppm")
	if err != nil {
		t.Skip("pdftoppm (poppler-utils) not installed; review.pdf written to", path)
	}
	if out, err := exec.Command(tool, "-png", "-r", "60", path, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page-*.png"))
	sort.Strings(pages)
	if len(pages) < want {
		t.Fatalf("%d pages rendered, want at least %d", len(pages), want)
	}
	t.Logf("%d pages rendered to %s", len(pages), dir)
	fmt.Fprintln(os.Stderr, "review pages in", dir)
}
