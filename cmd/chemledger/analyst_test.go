package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/internal/datadir"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// examplesLog is the real service, detector included, holding the
// registry and events of examples/, submitted with the CLI as the examples
// README says, with the detector caught up.
type examplesLog struct {
	in *servertest.Instance
}

func newExamplesLog(t *testing.T) *examplesLog {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a service")
	}
	in, err := servertest.Start(t.TempDir(), servertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Stop(); err != nil {
			t.Error(err)
		}
	})
	l := &examplesLog{in: in}
	for _, args := range [][]string{
		{"submit", "--type", "registry", filepath.Join("..", "..", "examples", "registry.jsonl")},
		{"submit", filepath.Join("..", "..", "examples", "events.jsonl")},
	} {
		if r := l.run(t, args...); r.err != nil {
			t.Fatalf("%v: %v\n%s", args, r.err, r.stdout)
		}
	}
	l.waitDerived(t)
	return l
}

func (l *examplesLog) run(tb testing.TB, args ...string) result {
	tb.Helper()
	return run(tb, nil, nil, append([]string{"--server", l.in.GRPCAddr, "--data-dir", l.in.Dir, "--timeout", "30s"}, args...)...)
}

// waitDerived waits until the detector has read the whole log.
func (l *examplesLog) waitDerived(tb testing.TB) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		cp, _ := l.in.Ledger.Checkpoint()
		if l.in.Deriver.Applied() >= cp.Size {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the detector applied %d of %d entries after 10 s", l.in.Deriver.Applied(), cp.Size)
		}
	}
}

// r1Filter selects the flag the examples are written to raise: 70 kg of
// 4-AP lost between export and receipt.
const r1Filter = `rule_id = "R1"`

// flagID is the id in the only row of a flags table.
func flagID(tb testing.TB, table string) string {
	tb.Helper()
	rows := strings.Split(strings.TrimSpace(table), "\n")
	if len(rows) != 2 {
		tb.Fatalf("flags table %q: want a header and one row", table)
	}
	return strings.Fields(rows[1])[2]
}

func TestAnalystVerbs(t *testing.T) {
	l := newExamplesLog(t)

	list := l.run(t, "flags", "list", "--filter", r1Filter)
	if list.err != nil {
		t.Fatal(list.err)
	}
	if !regexp.MustCompile(`(?m)^SEVERITY +RULE +ID +SHIPMENT +STATUS +EXPLANATION\n\w+ +R1 +R1-[0-9a-f]+ +PEN-CN-2026-000871 +OPEN +For shipment`).MatchString(list.stdout) {
		t.Errorf("flags list --filter %s:\n%s\nwant a table with the open R1 flag on PEN-CN-2026-000871", r1Filter, list.stdout)
	}
	id := flagID(t, list.stdout)

	show := l.run(t, "flags", "show", id)
	if show.err != nil {
		t.Fatal(show.err)
	}
	cp, _ := l.in.Ledger.Checkpoint()
	verified := "inclusion verified at size " + strconv.FormatUint(cp.Size, 10)
	for _, want := range []string{"flag       " + id, "status     OPEN", "explanation:\n  For shipment PEN-CN-2026-000871", "thresholds:\n  ", "status history:\n  none", verified} {
		if !strings.Contains(show.stdout, want) {
			t.Errorf("flags show %s:\n%s\nwant %q in it", id, show.stdout, want)
		}
	}
	if n := strings.Count(show.stdout, verified); n < 2 {
		t.Errorf("flags show %s verified %d evidence entries, want every one (at least 2)", id, n)
	}

	dispose := l.run(t, "flags", "dispose", id, "--status", "escalated", "--note", "70 kg unaccounted for; passed to the prosecutor.", "--member", "MX-ANAM")
	if dispose.err != nil {
		t.Fatal(dispose.err)
	}
	if want := "flag " + id + " ESCALATED by MX-ANAM: entry " + strconv.FormatUint(cp.Size, 10); !strings.HasPrefix(dispose.stdout, want) || !strings.Contains(dispose.stdout, "inclusion verified at size") {
		t.Errorf("flags dispose: %q, want %q and the inclusion verified", dispose.stdout, want)
	}
	again := l.run(t, "flags", "dispose", id, "--status", "ESCALATED", "--note", "70 kg unaccounted for; passed to the prosecutor.", "--member", "MX-ANAM")
	if again.err != nil || again.stdout != dispose.stdout {
		t.Errorf("the same dispose again: %q, %v; want %q", again.stdout, again.err, dispose.stdout)
	}
	l.waitDerived(t)
	show = l.run(t, "flags", "show", id)
	if show.err != nil {
		t.Fatal(show.err)
	}
	if !strings.Contains(show.stdout, "status     ESCALATED\n") || !regexp.MustCompile(`status history:\n  \S+  ESCALATED by MX-ANAM \(entry \d+\)\n      70 kg unaccounted for`).MatchString(show.stdout) {
		t.Errorf("flags show after the disposition:\n%s\nwant ESCALATED by MX-ANAM with the note", show.stdout)
	}

	// Most severe first is the default, in the table and in JSON.
	table := l.run(t, "flags", "list")
	if table.err != nil {
		t.Fatal(table.err)
	}
	flagRows := strings.Split(strings.TrimSpace(table.stdout), "\n")[1:]
	if len(flagRows) < 2 {
		t.Fatalf("flags list printed %q, want several flags", table.stdout)
	}
	prevRow := chemledgerv1.Severity(99)
	for _, row := range flagRows {
		sev, ok := chemledgerv1.Severity_value["SEVERITY_"+strings.Fields(row)[0]]
		if !ok {
			t.Fatalf("flags list row %q: no severity first", row)
		}
		if chemledgerv1.Severity(sev) > prevRow {
			t.Errorf("flags list (default order) printed %s after %s:\n%s\nwant the most severe first", chemledgerv1.Severity(sev), prevRow, table.stdout)
		}
		prevRow = chemledgerv1.Severity(sev)
	}
	js := l.run(t, "flags", "list", "--json")
	if js.err != nil {
		t.Fatal(js.err)
	}
	lines := strings.Split(strings.TrimSuffix(js.stdout, "\n"), "\n")
	if len(lines) != len(l.in.Deriver.Snapshot()) {
		t.Errorf("flags list --json printed %d lines, want one per flag (%d)", len(lines), len(l.in.Deriver.Snapshot()))
	}
	prev := chemledgerv1.Severity(99)
	for _, line := range lines {
		f := &chemledgerv1.Flag{}
		if err := protojson.Unmarshal([]byte(line), f); err != nil || f.GetId() == "" {
			t.Fatalf("flags list --json line %q: %v", line, err)
		}
		if f.GetSeverity() > prev {
			t.Errorf("flags list --json (default order): %v after %v, want the most severe first", f.GetSeverity(), prev)
		}
		prev = f.GetSeverity()
	}
	if r := l.run(t, "flags", "list", "--limit", "2", "--json"); r.err != nil || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("flags list --limit 2: %q, %v; want two lines", r.stdout, r.err)
	}

	sh := l.run(t, "shipment", "show", "PEN-CN-2026-000871")
	if sh.err != nil {
		t.Fatal(sh.err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^INDEX +MEMBER +KIND +DATE +COUNTRY +KG PURE +DECLARED +CONSIGNEE$`),
		regexp.MustCompile(`(?m)^\d+ +CN-GACC +EXPORT_DECLARATION +2026-03-09 +CN +495 +500 KGM at 99 % +Química Fina del Occidente`),
		regexp.MustCompile(`(?m)^\d+ +MX-ANAM +RECEIPT_CONFIRMATION +\S+ +MX +425.7 +`),
		regexp.MustCompile(`open questions:\n(  .*\n)*  - Exported 495 kg, received 425.7 kg \(-14.0 %\)\.\n`),
		regexp.MustCompile(`flags:\nSEVERITY .*\n(.*\n)*\w+ +R1 +` + id + ` +PEN-CN-2026-000871 +ESCALATED`),
	} {
		if !want.MatchString(sh.stdout) {
			t.Errorf("shipment show:\n%s\nwant it to match %s", sh.stdout, want)
		}
	}
	if r := l.run(t, "shipment", "show", "PEN-XX-0000"); r.err == nil || !strings.Contains(r.err.Error(), "NotFound") {
		t.Errorf("shipment show of an unknown shipment: %v, want NotFound", r.err)
	}

	rules := l.run(t, "rules")
	if rules.err != nil {
		t.Fatal(rules.err)
	}
	rows := regexp.MustCompile(`(?m)^R\d+[A-Z]* +\d+ +(INFO|MEDIUM|HIGH|CRITICAL) +\S`).FindAllString(rules.stdout, -1)
	if len(rows) < 16 || !strings.HasPrefix(rules.stdout, "policy ") {
		t.Errorf("rules:\n%s\nwant the policy and at least 16 rules", rules.stdout)
	}

	stats := l.run(t, "stats", "--filter", r1Filter)
	if stats.err != nil {
		t.Fatal(stats.err)
	}
	if !strings.HasPrefix(stats.stdout, "total 1 flags\n\nby rule:\n  R1  1\n") {
		t.Errorf("stats --filter %s:\n%s\nwant one R1 flag", r1Filter, stats.stdout)
	}
	var st map[string]any
	if r := l.run(t, "stats", "--json"); r.err != nil || json.Unmarshal([]byte(r.stdout), &st) != nil || st["total"] == nil {
		t.Errorf("stats --json: %q, %v", r.stdout, r.err)
	}
}

func TestAnalystVerbErrors(t *testing.T) {
	l := newExamplesLog(t)
	id := flagID(t, l.run(t, "flags", "list", "--filter", r1Filter).stdout)
	size := func() uint64 { cp, _ := l.in.Ledger.Checkpoint(); return cp.Size }
	before := size()
	key := datadir.Layout{Dir: l.in.Dir}.MemberKey("US-CBP")

	tests := []struct {
		name  string
		args  []string
		inErr string
	}{
		{"bad status", []string{"flags", "dispose", id, "--status", "closed", "--note", "n", "--member", "MX-ANAM"}, `--status "closed": want confirmed, dismissed or escalated`},
		{"no status", []string{"flags", "dispose", id, "--note", "n", "--member", "MX-ANAM"}, `"status" not set`},
		{"no note", []string{"flags", "dispose", id, "--status", "dismissed", "--member", "MX-ANAM"}, `"note" not set`},
		{"empty note", []string{"flags", "dispose", id, "--status", "dismissed", "--note", " ", "--member", "MX-ANAM"}, "--note is empty"},
		{"no member or key", []string{"flags", "dispose", id, "--status", "dismissed", "--note", "n"}, "--member or --signing-key is required"},
		{"a member without a key", []string{"flags", "dispose", id, "--status", "dismissed", "--note", "n", "--member", "XX-NONE"}, "key of member XX-NONE"},
		{"a key of another member", []string{"flags", "dispose", id, "--status", "dismissed", "--note", "n", "--member", "MX-ANAM", "--signing-key", key}, "is a key of member US-CBP, not MX-ANAM"},
		{"an unknown flag", []string{"flags", "dispose", "R1-ffffffffffff", "--status", "dismissed", "--note", "n", "--signing-key", key}, "NotFound"},
		{"a bad filter", []string{"flags", "list", "--filter", `severity = "loud"`}, "InvalidArgument"},
		{"an unknown flag shown", []string{"flags", "show", "R1-ffffffffffff"}, "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := l.run(t, tt.args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.inErr) || r.stdout != "" {
				t.Errorf("%v: stdout %q, err %v; want no output and an error with %q", tt.args, r.stdout, r.err, tt.inErr)
			}
		})
	}
	if got := size(); got != before {
		t.Errorf("the log grew from %d to %d entries; refused dispositions must not be sent", before, got)
	}

	// --signing-key alone signs as the key's member.
	r := l.run(t, "flags", "dispose", id, "--status", "dismissed", "--note", "licensed consignee; loss explained", "--signing-key", key)
	if r.err != nil || !strings.Contains(r.stdout, " DISMISSED by US-CBP: ") {
		t.Errorf("dispose --signing-key: %q, %v; want DISMISSED by US-CBP", r.stdout, r.err)
	}
}
