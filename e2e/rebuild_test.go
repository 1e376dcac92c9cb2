package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// flagsOverHTTP lists every flag through the analyst API, in a stable order.
func flagsOverHTTP(tb testing.TB, d *daemon) string {
	tb.Helper()
	body, _ := httpGet(tb, "http://"+d.httpAddr+"/v1/flags?page_size=1000&order_by=severity%20desc", 200)
	var resp struct {
		Flags []json.RawMessage `json:"flags"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		tb.Fatal(err)
	}
	if len(resp.Flags) == 0 {
		tb.Fatalf("no flags listed: %s", body)
	}
	return string(body)
}

// waitDetector waits until /healthz says the detector has read the whole
// log, and at least atLeast entries of it.
func waitDetector(tb testing.TB, d *daemon, atLeast uint64) {
	tb.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		body, _ := httpGet(tb, "http://"+d.httpAddr+"/healthz", 200)
		var h struct {
			Size    uint64 `json:"tree_size"`
			Applied uint64 `json:"detector_applied"`
		}
		if err := json.Unmarshal(body, &h); err != nil {
			tb.Fatal(err)
		}
		if h.Applied >= max(h.Size, atLeast) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("detector at %d of %d entries after 20 s", h.Applied, h.Size)
		}
	}
}

// rebuildDerived runs `chemledgerd rebuild` (the normal build) on dir and
// returns what it printed.
func rebuildDerived(tb testing.TB, dir string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, daemonBin, "rebuild", "--data-dir", dir)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("chemledgerd rebuild: %v\n%s", err, out)
	}
	return string(out)
}

// `chemledgerd rebuild` drops the derived state and derives it again from
// the log: the flags served afterwards are byte-identical to those the live
// detector derived, dispositions included.
func TestRebuildGivesIdenticalFlags(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	if r := d.runCLI(t, "submit", "--type", "registry", "examples/registry.jsonl"); r.code != 0 {
		t.Fatalf("submit registry: exit %d\n%s", r.code, r.stderr)
	}
	if r := d.runCLI(t, "submit", "examples/events.jsonl"); r.code != 0 {
		t.Fatalf("submit events: exit %d\n%s", r.code, r.stderr)
	}
	waitDetector(t, d, 1)
	live := flagsOverHTTP(t, d)
	d.stop(t)

	if out := rebuildDerived(t, dir); !strings.Contains(out, "rebuilt the derived state from 41 entries") {
		t.Errorf("rebuild said %q", out)
	}

	d = startDaemon(t, dir)
	waitDetector(t, d, 1)
	if rebuilt := flagsOverHTTP(t, d); rebuilt != live {
		t.Fatalf("flags after rebuild differ:\nlive    %s\nrebuilt %s", live, rebuilt)
	}
}
