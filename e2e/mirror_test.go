package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/client"
)

// startMirror starts chemledgerd mirror of upstream (a base URL) on dir,
// which gets the primary's log.pub and members.json, and waits until it
// listens.
func startMirror(tb testing.TB, primaryDir, dir, upstream, policyFile string) *daemon {
	tb.Helper()
	for _, f := range []string{"log.pub", "members.json"} {
		b, err := os.ReadFile(filepath.Join(primaryDir, f))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	ready := filepath.Join(dir, "ready.json")
	os.Remove(ready)
	args := []string{"mirror", "--upstream", upstream, "--data-dir", dir, "--witness-policy", policyFile,
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0", "--ready-file", ready,
		"--insecure-dev-plaintext", "--log-level", "warn"}
	d := &daemon{dir: dir, stderr: &syncBuffer{}, exited: make(chan struct{}), plaintext: true}
	d.cmd = exec.Command(daemonBin, args...)
	d.cmd.Stdout, d.cmd.Stderr = d.stderr, d.stderr
	d.cmd.Env = cleanEnv()
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { d.waitErr = d.cmd.Wait(); close(d.exited) }()
	tb.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Kill()
			<-d.exited
		}
	})
	deadline := time.Now().Add(readyTimeout)
	for {
		if b, err := os.ReadFile(ready); err == nil {
			var a struct{ GRPC, HTTP, Ops string }
			if json.Unmarshal(b, &a) == nil && a.GRPC != "" {
				d.grpcAddr, d.httpAddr, d.opsAddr = a.GRPC, a.HTTP, a.Ops
				return d
			}
		}
		select {
		case <-d.exited:
			tb.Fatalf("mirror exited before it was ready (%v):\n%s", d.waitErr, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("mirror not ready within %v:\n%s", readyTimeout, d.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bulkSubmit submits n fresh events over one bulk stream.
func bulkSubmit(tb testing.TB, c *client.Client, dir, tag string, n int) {
	tb.Helper()
	examples, signers := readExamples(tb), demoSigners(tb, dir)
	items := func(yield func(client.Item) bool) {
		for i := range n {
			ex := examples[i%len(examples)]
			id := fmt.Sprintf("%s-%d", tag, i)
			if !yield(client.Item{SubmissionID: id, Envelope: signedEvent(tb, ex, id, true, signers[ex.member])}) {
				return
			}
		}
	}
	var refused int
	err := c.SubmitStream(tb.Context(), iter.Seq[client.Item](items), func(r client.BulkResult) {
		if r.Err != nil {
			refused++
			if refused < 3 {
				tb.Errorf("bulk item %s refused: %v", r.SubmissionID, r.Err)
			}
		}
	})
	if err != nil {
		tb.Fatalf("bulk submit: %v", err)
	}
}

// mirrorEntries is the test's log size: CHEMLEDGER_MIRROR_ENTRIES for the
// full run (100000), a smaller default in the suite.
func mirrorEntries(tb testing.TB) int {
	return countFromEnv(tb, "CHEMLEDGER_MIRROR_ENTRIES", 3000, "mirrored entries")
}

// waitMirrored waits until m serves a checkpoint of at least size entries.
func waitMirrored(tb testing.TB, m *daemon, size uint64, within time.Duration) []byte {
	tb.Helper()
	deadline := time.Now().Add(within)
	var last []byte
	for time.Now().Before(deadline) {
		b, _ := httpGet(tb, "http://"+m.httpAddr+"/tlog/checkpoint", 200)
		last = b
		if len(b) > 0 && parseNote(tb, b).Size >= size {
			return b
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("the mirror serves\n%s\nnot a checkpoint of %d entries within %v; its output:\n%s", last, size, within, m.stderr)
	return nil
}

// TestMirrorFollowsAndRestores: a mirror follows a primary with witnesses
// while it takes writes; every entry, tile and flag is the primary's; it
// resumes after a restart; a bit flipped in an entry bundle in transit
// halts a second mirror with a precise message and the evidence kept.
func TestMirrorFollowsAndRestores(t *testing.T) {
	n := mirrorEntries(t)
	dir, ws := witnessedLog(t, 3)
	policyFile := witnessPolicy(t, ws, 2)
	p := startDaemon(t, dir, "--witness-policy", policyFile)
	pc := p.dial(t)
	mdir := t.TempDir()
	m := startMirror(t, dir, mdir, "http://"+p.httpAddr, policyFile)

	start := time.Now()
	half := n / 2
	bulkSubmit(t, pc, dir, "first", half)
	// Restart the mirror while the primary keeps writing.
	m.stop(t)
	m = startMirror(t, dir, mdir, "http://"+p.httpAddr, policyFile)
	bulkSubmit(t, pc, dir, "second", n-half)
	final := uint64(n)
	mnote := waitMirrored(t, m, final, 2*time.Minute)
	t.Logf("mirrored %d entries, written and followed in %v", n, time.Since(start).Round(time.Millisecond))

	// The mirror serves the primary's own witnessed checkpoint.
	plainPolicy := readPolicy(t, policyFile)
	if err := plainPolicy.Check(mnote); err != nil {
		t.Errorf("the mirror's checkpoint lacks quorum: %v", err)
	}
	// Every entry byte for byte, by entry bundle and by GetEntry.
	for b := uint64(0); b*256 < final; b++ {
		w := min(final-b*256, 256)
		path := fmt.Sprintf("/tlog/tile/entries/%s", tilePathOf(b, int(w)))
		pb, _ := httpGet(t, "http://"+p.httpAddr+path, 200)
		mb, _ := httpGet(t, "http://"+m.httpAddr+path, 200)
		if !bytes.Equal(pb, mb) {
			t.Fatalf("entry bundle %s differs between primary and mirror", path)
		}
		hp := fmt.Sprintf("/tlog/tile/0/%s", tilePathOf(b, int(w)))
		ph, _ := httpGet(t, "http://"+p.httpAddr+hp, 200)
		mh, _ := httpGet(t, "http://"+m.httpAddr+hp, 200)
		if !bytes.Equal(ph, mh) {
			t.Fatalf("hash tile %s differs between primary and mirror", hp)
		}
	}
	mc := m.dial(t)
	e, err := mc.Get(t.Context(), final-1)
	if err != nil {
		t.Fatalf("GetEntry on the mirror: %v", err)
	}
	if _, err := mc.VerifyInclusion(t.Context(), e.GetIndex()); err != nil {
		t.Errorf("inclusion proof from the mirror: %v", err)
	}
	// A mirror takes no submissions.
	ex := readExamples(t)[0]
	_, err = mc.SubmitEnvelope(t.Context(), "to-mirror", signedEvent(t, ex, "to-mirror", true, demoSigners(t, dir)[ex.member]))
	if err == nil || !strings.Contains(err.Error(), "MIRROR") && !strings.Contains(err.Error(), "mirror") {
		t.Errorf("a submission to the mirror: %v, want a refusal naming the mirror", err)
	}
	// The detector on the mirror's copy raises the primary's flags.
	pflags, mflags := flagsOf(t, p, final), flagsOf(t, m, final)
	if pflags != mflags {
		t.Errorf("flags differ:\nprimary %s\nmirror  %s", pflags, mflags)
	}
	t.Logf("the same %d flags on both", strings.Count(pflags, "\n"))

	// Tampering in transit: a proxy flips one bit in every entry bundle.
	var flip atomic.Bool
	target, _ := url.Parse("http://" + p.httpAddr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if !flip.Load() || !strings.Contains(r.Request.URL.Path, "/tile/entries/") {
			return nil
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		r.Body.Close()
		if len(b) > 100 {
			b[100] ^= 0x01
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", fmt.Sprint(len(b)))
		return nil
	}
	ps := httptest.NewServer(proxy)
	defer ps.Close()
	flip.Store(true)
	tdir := t.TempDir()
	tm := startMirror(t, dir, tdir, ps.URL, policyFile)
	waitFor(t, "the tampered mirror to halt", func() bool { return strings.Contains(tm.stderr.String(), "mirror halted") })
	out := tm.stderr.String()
	if !strings.Contains(out, "entry 0 in entry bundle 0 hashes to") || !strings.Contains(out, "the bundle was altered") {
		t.Errorf("the halt does not say which entry and why:\n%s", out)
	}
	body, _ := httpGet(t, "http://"+tm.httpAddr+"/healthz", http.StatusServiceUnavailable)
	if !strings.Contains(string(body), "the bundle was altered") {
		t.Errorf("/healthz of the halted mirror does not say why: %s", body)
	}
	ev, _ := filepath.Glob(filepath.Join(tdir, "evidence", "*"))
	if len(ev) != 3 {
		t.Errorf("evidence files %v, want the two checkpoints and the reason", ev)
	}
	if cp, _ := httpGet(t, "http://"+tm.httpAddr+"/tlog/checkpoint", 200); len(cp) != 0 {
		t.Errorf("the halted mirror serves a checkpoint it never completed:\n%s", cp)
	}

	// The primary loses its ledger file; it is restored from the mirror,
	// and the witnesses accept what it signs next.
	p.stop(t)
	restore := func(extra ...string) cliResult {
		args := append([]string{"restore", "--from-mirror", "http://" + m.httpAddr, "--data-dir", dir,
			"--witness-policy", policyFile, "--insecure-dev-plaintext"}, extra...)
		cmd := exec.Command(daemonBin, args...)
		cmd.Env = cleanEnv()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		r := cliResult{stderr: out.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := restore(); r.code == 0 || !strings.Contains(r.stderr, "--replace") {
		t.Errorf("restore over an existing ledger file without --replace: exit %d\n%s", r.code, r.stderr)
	}
	if err := os.Remove(filepath.Join(dir, "ledger.db")); err != nil {
		t.Fatal(err)
	}
	if r := restore(); r.code != 0 || !strings.Contains(r.stderr, fmt.Sprintf("restored %d entries", final)) {
		t.Fatalf("restore from the mirror: exit %d\n%s", r.code, r.stderr)
	}
	p = startDaemon(t, dir, "--witness-policy", policyFile)
	wc := p.dialWitnessed(t, plainPolicy, 10*time.Second)
	rs := submitN(t, wc, dir, "after-restore", 1)
	if rs[0].Index != final || plainPolicy.Check(rs[0].CheckpointNote) != nil {
		t.Fatalf("after the restore: entry %d with checkpoint\n%s\nwant entry %d witnessed", rs[0].Index, rs[0].CheckpointNote, final)
	}
	e0, err := p.dial(t).Get(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	m0, _ := mc.Get(t.Context(), 0)
	if !bytes.Equal(e0.GetLeaf(), m0.GetLeaf()) {
		t.Errorf("entry 0 of the restored primary differs from the mirror's")
	}
}

// tilePathOf is the tlog-tiles index path of tile n, with a partial width.
func tilePathOf(n uint64, w int) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	if w < 256 {
		s += fmt.Sprintf(".p/%d", w)
	}
	return s
}

// flagsOf waits for d's detector to cover size entries and summarises its
// flags: id, rule and evidence of each.
func flagsOf(tb testing.TB, d *daemon, size uint64) string {
	tb.Helper()
	waitForWithin(tb, "the detector to catch up", 10*time.Minute, func() bool {
		b, _ := httpGet(tb, "http://"+d.httpAddr+"/healthz", 200)
		var h struct {
			DetectorApplied uint64 `json:"detector_applied"`
		}
		return json.Unmarshal(b, &h) == nil && h.DetectorApplied >= size
	})
	c := d.dial(tb)
	var lines []string
	for f, err := range c.Flags(tb.Context(), "", "", 500) {
		if err != nil {
			tb.Fatalf("list flags: %v", err)
		}
		// The time a flag was raised is the time its entry was recorded
		// where the detector runs: the mirror's copy time, since tiles
		// carry no timestamps. Everything the log decides must match.
		f.RaisedTime = nil
		for _, h := range f.GetStatusHistory() {
			h.Time = nil
		}
		j, err := protojson.Marshal(f)
		if err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, string(j))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}
