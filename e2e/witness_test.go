package e2e

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/witness"
)

// witnessedLog is a dev data dir whose log key the witnesses know.
func witnessedLog(tb testing.TB, n int) (dir string, ws []*liteWitness) {
	tb.Helper()
	witnessTools(tb)
	dir = tb.TempDir()
	// A log comes into being only as a whole (key, ledger, audit trail):
	// dev mode makes one in the empty dir, and the witnesses then learn
	// its key before it serves under their policy.
	startDaemon(tb, dir).stop(tb)
	vkey := logKey(tb, dir)
	origin, _, _ := strings.Cut(vkey, "+")
	return dir, startLitewitnesses(tb, n, origin, vkey)
}

func readPolicy(tb testing.TB, path string) *witness.Policy {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := witness.ParsePolicy(b)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// dialWitnessed is d.dial with the witness policy enforced.
func (d *daemon) dialWitnessed(tb testing.TB, p *witness.Policy, wait time.Duration) *client.Client {
	tb.Helper()
	c, err := client.Dial(d.grpcAddr, client.WithLogVerifierKey(logKey(tb, d.dir)), client.WithWitnessPolicy(p), client.WithWitnessWait(wait))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// submitN submits n events with fresh ids through c and returns their
// receipts.
func submitN(tb testing.TB, c *client.Client, dir, tag string, n int) []*client.Receipt {
	tb.Helper()
	examples, signers := readExamples(tb), demoSigners(tb, dir)
	var out []*client.Receipt
	for i := range n {
		ex := examples[i%len(examples)]
		id := fmt.Sprintf("%s-%d", tag, i)
		r, err := c.SubmitEnvelope(tb.Context(), id, signedEvent(tb, ex, id, true, signers[ex.member]))
		if err != nil {
			tb.Fatalf("submit %s: %v", id, err)
		}
		out = append(out, r)
	}
	return out
}

// cosigners is who cosigned the note, per the policy.
func cosigners(tb testing.TB, p *witness.Policy, n []byte) []string {
	tb.Helper()
	names, err := p.Cosigners(n)
	if err != nil {
		tb.Fatalf("cosignatures of\n%s: %v", n, err)
	}
	return names
}

// TestLitewitnessQuorum runs the service with three litewitness instances
// and a 2-of-3 policy: receipts and checkpoints get the quorum; with one
// witness down the quorum still holds; with two down the served checkpoint
// (newest, not an older witnessed one) lacks it and a client with the
// policy refuses it, as does the CLI.
func TestLitewitnessQuorum(t *testing.T) {
	dir, ws := witnessedLog(t, 3)
	policyFile := witnessPolicy(t, ws, 2)
	p := readPolicy(t, policyFile)
	d := startDaemon(t, dir, "--witness-policy", policyFile)
	c := d.dialWitnessed(t, p, 3*time.Second)

	rs := submitN(t, c, dir, "all-up", 3)
	for _, r := range rs {
		if err := p.Check(r.CheckpointNote); err != nil || r.Checkpoint.Size <= r.Index {
			t.Fatalf("receipt of entry %d: checkpoint of size %d, quorum: %v\n%s", r.Index, r.Checkpoint.Size, err, r.CheckpointNote)
		}
	}
	// Every witness cosigns once it answers; the round after the last
	// entry has all three.
	waitFor(t, "three cosignatures", func() bool {
		_, n, err := c.Checkpoint(t.Context())
		return err == nil && len(cosigners(t, p, n)) == 3
	})
	body, _ := httpGet(t, "http://"+d.httpAddr+"/tlog/checkpoint", 200)
	if got := cosigners(t, p, body); len(got) != 3 {
		t.Errorf("/tlog/checkpoint has cosignatures of %v, want all three:\n%s", got, body)
	}
	body, _ = httpGet(t, "http://"+d.httpAddr+"/v1/checkpoint", 200)
	if err := p.Check(body); err != nil && !strings.Contains(string(body), "— w1.witness") {
		t.Errorf("GET /v1/checkpoint carries no cosignatures: %v\n%s", err, body)
	}

	ws[2].stop()
	rs = submitN(t, c, dir, "one-down", 3)
	last := rs[len(rs)-1]
	if got := cosigners(t, p, last.CheckpointNote); !slices.Equal(got, []string{"w1", "w2"}) {
		t.Errorf("with w3 down the receipt's checkpoint is cosigned by %v, want [w1 w2]:\n%s", got, last.CheckpointNote)
	}

	ws[1].stop()
	examples, signers := readExamples(t), demoSigners(t, dir)
	ex := examples[0]
	env := signedEvent(t, ex, "two-down", true, signers[ex.member])
	_, err := c.SubmitEnvelope(t.Context(), "two-down", env)
	if !errors.Is(err, client.ErrVerification) || !errors.Is(err, witness.ErrNoQuorum) {
		t.Fatalf("submit with two of three witnesses down: %v, want ErrVerification and ErrNoQuorum", err)
	}
	t.Logf("refused as it should be: %v", err)
	// The entry is in the log, and the checkpoint served is the newest one,
	// cosigned by w1 alone.
	plain := d.dial(t)
	waitFor(t, "the served checkpoint to cover the last entry", func() bool {
		cp, _, err := plain.Checkpoint(t.Context())
		return err == nil && cp.Size == last.Index+2
	})
	_, n, err := plain.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := cosigners(t, p, n); !slices.Equal(got, []string{"w1"}) {
		t.Errorf("with two down the served checkpoint is cosigned by %v, want [w1]:\n%s", got, n)
	}
	if _, _, err := c.Checkpoint(t.Context()); !errors.Is(err, witness.ErrNoQuorum) {
		t.Errorf("Checkpoint with the policy and two witnesses down: %v, want ErrNoQuorum", err)
	}
	res := d.runCLI(t, "--witness-policy", policyFile, "checkpoint")
	if res.code == 0 || !strings.Contains(res.stderr, "lacks a witness quorum") {
		t.Errorf("chemledger --witness-policy checkpoint with two witnesses down: exit %d, stdout %q, stderr %q; want a refusal naming the missing quorum", res.code, res.stdout, res.stderr)
	}
	if res := d.runCLI(t, "checkpoint"); res.code != 0 {
		t.Errorf("chemledger checkpoint without a policy: exit %d, %s", res.code, res.stderr)
	}
}

// TestSplitViewNeverReachesQuorum forks one log key into two data dirs that
// share a prefix: the witnesses cosign the first; the second, rolled back
// to the shared prefix, refuses to start; extended past the first with
// other entries it starts, but the witnesses refuse its checkpoints, so the
// fork never gets a quorum and a client with the policy refuses it.
func TestSplitViewNeverReachesQuorum(t *testing.T) {
	dirA, ws := witnessedLog(t, 3)
	policyFile := witnessPolicy(t, ws, 2)
	p := readPolicy(t, policyFile)

	// The shared prefix, witnessed.
	a := startDaemon(t, dirA, "--witness-policy", policyFile)
	submitN(t, a.dialWitnessed(t, p, 5*time.Second), dirA, "shared", 4)
	a.stop(t)
	dirB := t.TempDir()
	copyDir(t, dirA, dirB)

	// A grows; the witnesses follow it, and so do two mirrors, through a
	// proxy that will later lead them to the fork: one with the policy,
	// one that takes any checkpoint the log signed (quorum none), so that
	// it is the consistency check that stops it.
	a = startDaemon(t, dirA, "--witness-policy", policyFile)
	rs := submitN(t, a.dialWitnessed(t, p, 5*time.Second), dirA, "a", 3)
	witnessedA := rs[len(rs)-1].Checkpoint.Size
	kept := filepath.Join(t.TempDir(), "kept.checkpoint")
	if err := os.WriteFile(kept, rs[len(rs)-1].CheckpointNote, 0o644); err != nil {
		t.Fatal(err)
	}
	var upstream atomic.Value
	upstream.Store("http://" + a.httpAddr)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := url.Parse(upstream.Load().(string))
		rp := httputil.NewSingleHostReverseProxy(u)
		rp.ErrorLog = log.New(io.Discard, "", 0) // the primaries stop and start under it
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	nonePolicy := filepath.Join(t.TempDir(), "none.txt")
	if err := os.WriteFile(nonePolicy, []byte("quorum none\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mdirs := []string{t.TempDir(), t.TempDir()}
	ms := []*daemon{startMirror(t, dirA, mdirs[0], proxy.URL, policyFile), startMirror(t, dirA, mdirs[1], proxy.URL, nonePolicy)}
	for _, m := range ms {
		waitMirrored(t, m, witnessedA, 30*time.Second)
	}
	a.stop(t)

	// B is A rolled back to the prefix: it must not serve.
	b := daemonCmd(t, dirB, dirB+"/ready.json", "--witness-policy", policyFile)
	if code := b.waitExit(t, 30*time.Second); code == 0 {
		t.Fatalf("the rolled-back copy started; its output:\n%s", b.stderr)
	}
	want := fmt.Sprintf("has cosigned a tree of %d entries of this log, but the local log holds 4", witnessedA)
	if !strings.Contains(b.stderr.String(), want) || !strings.Contains(b.stderr.String(), "witness w") {
		t.Fatalf("the rolled-back copy's refusal does not name the witness and both sizes (%q):\n%s", want, b.stderr)
	}
	t.Logf("the rolled-back copy refused to start: %s", strings.TrimSpace(b.stderr.String()))

	// B diverges past A without witnesses, then tries to get witnessed.
	b = startDaemon(t, dirB)
	submitN(t, b.dial(t), dirB, "b", 6)
	b.stop(t)
	b = startDaemon(t, dirB, "--witness-policy", policyFile, "--log-level", "warn")
	plain := b.dial(t)
	time.Sleep(1500 * time.Millisecond) // several witnessing rounds
	cp, n, err := plain.Checkpoint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 10 {
		t.Fatalf("the fork serves a checkpoint of size %d, want its own 10", cp.Size)
	}
	if got := cosigners(t, p, n); len(got) != 0 {
		t.Errorf("the fork's checkpoint is cosigned by %v, want nobody:\n%s", got, n)
	}
	if _, _, err := b.dialWitnessed(t, p, time.Second).Checkpoint(t.Context()); !errors.Is(err, witness.ErrNoQuorum) {
		t.Errorf("a client with the policy took the fork's checkpoint: %v", err)
	}
	if s := b.stderr.String(); !strings.Contains(s, "422") || !strings.Contains(s, "not consistent") {
		t.Errorf("the fork's log does not show the witnesses refusing it with 422:\n%s", s)
	}

	// A member who kept A's witnessed checkpoint convicts the fork: the CLI
	// prints both signed notes, every cosignature included.
	res := b.runCLI(t, "verify", "consistency", "--since", kept)
	if res.code == 0 || !strings.Contains(res.stdout, string(rs[len(rs)-1].CheckpointNote)) || !strings.Contains(res.stdout, string(n)) ||
		!strings.Contains(res.stdout, "— w1.witness.chemledger.test") {
		t.Errorf("verify consistency against the fork: exit %d, stdout:\n%s\nstderr: %s\nwant both notes, with the kept one's cosignatures", res.code, res.stdout, res.stderr)
	}
	if res := b.runCLI(t, "--witness-policy", policyFile, "verify", "consistency", "--since", kept); res.code == 0 || !strings.Contains(res.stderr, "lacks a witness quorum") {
		t.Errorf("verify consistency with the policy against the fork: exit %d, %s", res.code, res.stderr)
	}

	// The mirrors now reach the fork: both halt and keep both checkpoints.
	upstream.Store("http://" + b.httpAddr)
	for i, want := range []string{"is not witnessed", "is not consistent with the mirror's of size " + fmt.Sprint(witnessedA)} {
		m := ms[i]
		waitFor(t, "mirror halt", func() bool { return strings.Contains(m.stderr.String(), "mirror halted") })
		if !strings.Contains(m.stderr.String(), want) {
			t.Errorf("mirror %d halted, but not because the upstream checkpoint %s:\n%s", i, want, m.stderr)
		}
		ev, _ := filepath.Glob(filepath.Join(mdirs[i], "evidence", "*.checkpoint"))
		if len(ev) != 2 {
			t.Fatalf("mirror %d kept %v, want two checkpoints", i, ev)
		}
		var sizes []uint64
		for _, f := range ev {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, parseNote(t, b).Size)
		}
		slices.Sort(sizes)
		if !slices.Equal(sizes, []uint64{witnessedA, 10}) {
			t.Errorf("mirror %d kept checkpoints of sizes %v, want its own %d and the fork's 10", i, sizes, witnessedA)
		}
		if body, _ := httpGet(t, "http://"+m.httpAddr+"/healthz", http.StatusServiceUnavailable); !strings.Contains(string(body), "mirror halted") {
			t.Errorf("mirror %d /healthz: %s", i, body)
		}
	}
}

// copyDir copies the regular files of src (one level and below) to dst.
func copyDir(tb testing.TB, src, dst string) {
	tb.Helper()
	err := os.CopyFS(dst, os.DirFS(src))
	if err != nil {
		tb.Fatal(err)
	}
}
