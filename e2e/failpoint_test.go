package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/eventfile"
	"github.com/chemledger/chemledger/storage"
)

// The failpoints of internal/failpoint/doc.go, each with the range its trigger hit
// is drawn from: late enough that something was acknowledged first, early
// enough that the traffic reaches it quickly. The ledger's are hit once
// per commit, the bulk one once per streamed item, the detector's once per
// fold it stores.
var failpointCases = []struct {
	name     string
	min, max int64
}{
	{"ledger/before-sign", 2, 40},
	{"ledger/after-sign", 2, 40},
	{"ledger/before-commit", 2, 40},
	{"ledger/after-commit", 2, 40},
	{"ledger/before-reply", 2, 40},
	{"server/bulk-mid-stream", 1, 200},
	{"derive/before-store", 1, 12},
	{"derive/after-store", 1, 12},
	{"chemledgerd/before-anchor", 2, 40},
}

// Failpoint test parameters. CHEMLEDGER_FAILPOINT_ROUNDS=N runs every
// failpoint N times (with fresh trigger hits) instead of once.
const (
	failpointRoundsEnv = "CHEMLEDGER_FAILPOINT_ROUNDS"
	fpUnaryClients     = 4
	fpBulkChunk        = 25 // items per bulk stream after the examples
	fpFireTimeout      = 30 * time.Second
	fpCallTimeout      = 15 * time.Second
)

var fpBuild struct {
	once sync.Once
	bin  string
	err  error
}

// failpointDaemonBin builds chemledgerd with -tags failpoints, once, next
// to the binaries TestMain built (so its clean-up removes it too).
func failpointDaemonBin(tb testing.TB) string {
	tb.Helper()
	fpBuild.once.Do(func() {
		fpBuild.bin = filepath.Join(filepath.Dir(daemonBin), "chemledgerd-failpoints")
		cmd := exec.Command("go", "build", "-tags", "failpoints", "-o", fpBuild.bin, "./cmd/chemledgerd")
		cmd.Dir = moduleRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			fpBuild.err = fmt.Errorf("go build -tags failpoints ./cmd/chemledgerd: %v\n%s", err, out)
		}
	})
	if fpBuild.err != nil {
		tb.Fatal(fpBuild.err)
	}
	return fpBuild.bin
}

// TestFailpoints runs the failpoint build of chemledgerd under each
// failpoint, with both kill and panic, while clients submit the examples
// (registry entries, then events, then fresh copies of the events, unary
// and over bulk streams) until it dies there. It then restarts the normal
// build on the same data dir and checks: bbolt's own consistency check of
// the file as the crash left it; every acknowledged entry present at its
// index, byte for byte; indexes contiguous; the signed root the root of the
// leaves and consistent with every checkpoint a client saw; the derived
// flags equal to a rebuild's; every acknowledged submission, sent again,
// at its index; every unanswered one at its committed index or appended.
func TestFailpoints(t *testing.T) {
	rounds := countFromEnv(t, failpointRoundsEnv, 1, "rounds")
	failpointDaemonBin(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (trigger hits)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	examples := readExamples(t)
	registry := readRegistryExamples(t)
	start := time.Now()
	var survived atomic.Int64
	for range rounds {
		for _, fp := range failpointCases {
			for _, action := range []string{"kill", "panic"} {
				nth := fp.min + rng.Int64N(fp.max-fp.min+1)
				name := strings.ReplaceAll(fp.name, "/", ":") + "=" + action
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					runFailpoint(t, fp.name, action, nth, examples, registry)
					if !t.Failed() {
						survived.Add(1)
					}
				})
			}
		}
	}
	t.Cleanup(func() {
		t.Logf("%d of %d failpoint runs survived (%d rounds of %d failpoints × kill, panic) in %v",
			survived.Load(), rounds*len(failpointCases)*2, rounds, len(failpointCases), time.Since(start).Round(time.Millisecond))
	})
}

// registryLine is one line of examples/registry.jsonl.
type registryLine struct {
	line   eventfile.RegistryLine
	member string
}

func readRegistryExamples(tb testing.TB) []registryLine {
	tb.Helper()
	const file = "examples/registry.jsonl"
	f, err := os.Open(filepath.Join(moduleRoot, file))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []registryLine
	for l := range eventfile.ReadRegistry(f) {
		if l.Err != nil {
			tb.Fatalf("%s: %v", file, l.Err)
		}
		m, err := eventfile.DemoMemberForRegistry(l.Entry)
		if err != nil {
			tb.Fatalf("%s line %d: %v", file, l.Number, err)
		}
		out = append(out, registryLine{line: l, member: m})
	}
	if len(out) == 0 {
		tb.Fatalf("%s is empty", file)
	}
	return out
}

// fpHistory is what the clients of one failpoint run sent and were told.
type fpHistory struct {
	*history
	notes   [][]byte                // signed checkpoints from receipts and reads
	bulkCPs []checkpoint.Checkpoint // verified checkpoints of bulk answers
	errs    []error                 // failures other than the daemon going away
}

func (h *fpHistory) note(n []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notes = append(h.notes, n)
}

// failed records err unless it is the daemon going away (the failpoint
// firing).
func (h *fpHistory) failed(err error) {
	switch status.Code(err) {
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, err)
}

func runFailpoint(t *testing.T, name, action string, nth int64, examples []exampleLine, registry []registryLine) {
	began := time.Now()
	dir := t.TempDir()
	spec := fmt.Sprintf("%s=%s@%d", name, action, nth)
	d := startDaemonOf(t, failpointDaemonBin(t), []string{"CHEMLEDGER_FAILPOINTS=" + spec}, dir)
	signers := demoSigners(t, dir)
	vkey := logKey(t, dir)
	h := &fpHistory{history: newHistory()}

	fpTraffic(t, d, h, vkey, examples, registry, signers)
	checkDeath(t, d, name, action)
	fired := time.Since(began)
	h.mu.Lock()
	errs := h.errs
	acked, sent := len(h.acked), len(h.sent)
	h.mu.Unlock()
	for _, err := range errs {
		t.Errorf("%s: a client failed other than by the daemon dying: %v", spec, err)
	}
	checkStoreFile(t, dir, "as the crash left it")

	d = startDaemon(t, dir)
	size, at := checkFailpointLog(t, d, h, vkey)

	// Derived state: what the restarted detector caught up to equals a
	// rebuild from the log.
	live := waitAllFlags(t, d, size)
	d.stop(t)
	checkStoreFile(t, dir, "after the restart")
	rebuildDerived(t, dir)
	d = startDaemon(t, dir)
	rebuilt := waitAllFlags(t, d, size)
	if !slices.Equal(live, rebuilt) {
		t.Errorf("%s: %d flags after the restart, %d after a rebuild; they differ:\nrestart %s\nrebuilt %s",
			spec, len(live), len(rebuilt), strings.Join(live, "\n        "), strings.Join(rebuilt, "\n        "))
	}

	resubmitted := fpResubmit(t, d, h, at, size)
	d.stop(t)
	checkStoreFile(t, dir, "at the end")
	t.Logf("%s: fired after %v with %d of %d submissions acknowledged; log size %d, %d flags; %d resubmitted; %v in all",
		spec, fired.Round(time.Millisecond), acked, sent, size, len(live), resubmitted, time.Since(began).Round(time.Millisecond))
	if t.Failed() {
		t.Logf("output of the last daemon:\n%s", d.stderr)
	}
}

// fpTraffic submits until d dies: first the registry examples and the
// example events over one bulk stream, then fresh copies of the events from
// unary clients and bulk streams at once, while a reader keeps the signed
// checkpoints it sees.
func fpTraffic(t *testing.T, d *daemon, h *fpHistory, vkey string, examples []exampleLine, registry []registryLine, signers map[string]envelope.Signer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		select {
		case <-d.exited:
		case <-time.After(fpFireTimeout):
		}
		cancel()
	}()
	dial := func() *client.Client {
		c, err := client.Dial(d.grpcAddr, client.WithLogVerifierKey(vkey))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// The examples as the CLI would send them: stable ids, the lines' own
	// bytes as JSON payloads.
	var first []client.Item
	for _, r := range registry {
		env, err := envelope.Sign(envelope.PayloadTypeRegistryJSON, r.line.Raw, signers[r.member])
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, client.Item{SubmissionID: eventfile.RegistrySubmissionID(r.member, r.line), Envelope: env})
	}
	for _, ex := range examples {
		env, err := envelope.Sign(envelope.PayloadTypeEventJSON, ex.raw, signers[ex.member])
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, client.Item{SubmissionID: eventfile.SubmissionID(ex.member, eventfile.Line{Raw: ex.raw, Event: ex.event}), Envelope: env})
	}
	if !fpBulk(ctx, dial(), h, first) {
		waitDied(t, d)
		return
	}

	var wg sync.WaitGroup
	for c := range fpUnaryClients {
		cl := dial()
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				ex := examples[(c*7+n)%len(examples)]
				id := fmt.Sprintf("fp-u%d-%d", c, n)
				env := signedEvent(t, ex, id, n%2 == 0, signers[ex.member])
				h.send(id, env)
				cctx, ccancel := context.WithTimeout(ctx, fpCallTimeout)
				r, err := cl.SubmitEnvelope(cctx, id, env)
				ccancel()
				if err != nil {
					h.failed(err)
					return
				}
				h.ack(ack{id: id, env: env, index: r.Index, leafHash: r.LeafHash, cpNote: r.CheckpointNote})
				h.note(r.CheckpointNote)
			}
		})
	}
	bc := dial()
	wg.Go(func() {
		for s := 0; ctx.Err() == nil; s++ {
			var items []client.Item
			for n := range fpBulkChunk {
				ex := examples[(s*fpBulkChunk+n)%len(examples)]
				id := fmt.Sprintf("fp-b%d-%d", s, n)
				items = append(items, client.Item{SubmissionID: id, Envelope: signedEvent(t, ex, id, n%2 == 1, signers[ex.member])})
			}
			if !fpBulk(ctx, bc, h, items) {
				return
			}
		}
	})
	rc := dial()
	wg.Go(func() {
		for ctx.Err() == nil {
			cctx, ccancel := context.WithTimeout(ctx, fpCallTimeout)
			_, n, err := rc.Checkpoint(cctx)
			ccancel()
			if err != nil {
				h.failed(err)
				return
			}
			h.note(n)
			time.Sleep(5 * time.Millisecond)
		}
	})
	wg.Wait()
	waitDied(t, d)
}

// fpBulk sends items over one bulk stream and records the answers. It
// reports whether the stream completed.
func fpBulk(ctx context.Context, c *client.Client, h *fpHistory, items []client.Item) bool {
	for _, it := range items {
		h.send(it.SubmissionID, it.Envelope)
	}
	err := c.SubmitStream(ctx, slices.Values(items), func(r client.BulkResult) {
		if r.Err != nil {
			h.failed(fmt.Errorf("bulk item %d (%s) refused: %w", r.Position, r.SubmissionID, r.Err))
			return
		}
		h.ack(ack{id: r.SubmissionID, env: items[r.Position].Envelope, index: r.Index, leafHash: r.LeafHash})
		h.mu.Lock()
		h.bulkCPs = append(h.bulkCPs, r.Checkpoint)
		h.mu.Unlock()
	})
	if err != nil {
		h.failed(err)
		return false
	}
	return true
}

func waitDied(t *testing.T, d *daemon) {
	t.Helper()
	select {
	case <-d.exited:
	case <-time.After(fpFireTimeout):
		t.Fatalf("the failpoint did not fire within %v; daemon output:\n%s", fpFireTimeout, d.stderr)
	}
}

// checkDeath checks that d died at the failpoint, the way it was told to.
func checkDeath(t *testing.T, d *daemon, name, action string) {
	t.Helper()
	<-d.exited
	var ee *exec.ExitError
	if !errors.As(d.waitErr, &ee) {
		t.Fatalf("daemon ended with %v, want death at %s; its output:\n%s", d.waitErr, name, d.stderr)
	}
	ws, _ := ee.Sys().(syscall.WaitStatus)
	out := d.stderr.String()
	switch action {
	case "kill":
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL || !strings.Contains(out, "failpoint "+name+": kill") {
			t.Fatalf("daemon ended with %v, want SIGKILL at %s; its output:\n%s", d.waitErr, name, out)
		}
	case "panic":
		if ee.ExitCode() != 2 || !strings.Contains(out, "panic: failpoint "+name+": panic") {
			t.Fatalf("daemon ended with %v, want a panic at %s; its output:\n%s", d.waitErr, name, out)
		}
	}
}

// checkStoreFile runs bbolt's consistency check on the data dir's database,
// opened read-only while no daemon runs.
func checkStoreFile(t *testing.T, dir, when string) {
	t.Helper()
	s, err := storage.Open(datadir.Layout{Dir: dir}.DB(), storage.Options{ReadOnly: true, LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("open the database %s: %v", when, err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Errorf("bbolt check of the database %s: %v", when, err)
	}
}

// checkFailpointLog reads the whole restarted log with GetEntry and checks
// it against the history. It returns the size and where each submission is.
func checkFailpointLog(t *testing.T, d *daemon, h *fpHistory, vkey string) (uint64, map[string]uint64) {
	t.Helper()
	l := readLog(t, d, vkey)

	// Every checkpoint a client saw is a prefix of this tree: the signed
	// ones by a consistency proof too. Two different notes of one size
	// would be a fork.
	h.mu.Lock()
	bySize := map[uint64][]byte{}
	for _, n := range h.notes {
		k := parseNote(t, n)
		if prev, ok := bySize[k.Size]; ok {
			if !bytes.Equal(prev, n) {
				t.Errorf("two different signed checkpoints of size %d:\n%s\n%s", k.Size, prev, n)
			}
			continue
		}
		bySize[k.Size] = n
	}
	for _, k := range h.bulkCPs {
		if k.Size > l.cp.Size || !bytes.Equal(l.tree.HashAt(k.Size), k.Root) {
			t.Errorf("bulk answer checkpoint of size %d (root %x) is not a prefix of the log of size %d", k.Size, k.Root, l.cp.Size)
		}
	}
	h.mu.Unlock()
	l.checkSeen(t, bySize, "checkpoint a client saw")
	l.checkHistory(t, h.history)
	if t.Failed() {
		t.FailNow()
	}
	return l.cp.Size, l.at
}

// waitAllFlags waits until the detector has applied at least size entries
// and returns every flag, over HTTP, page by page, sorted.
func waitAllFlags(t *testing.T, d *daemon, size uint64) []string {
	t.Helper()
	waitDetector(t, d, size)
	var out []string
	token := ""
	for {
		u := "http://" + d.httpAddr + "/v1/flags?page_size=500"
		if token != "" {
			u += "&page_token=" + url.QueryEscape(token)
		}
		body, _ := httpGet(t, u, 200)
		var resp struct {
			Flags []json.RawMessage `json:"flags"`
			Next  string            `json:"nextPageToken"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		for _, f := range resp.Flags {
			out = append(out, string(f))
		}
		if resp.Next == "" {
			break
		}
		if resp.Next == token {
			t.Fatalf("GET %s: the same page token again", u)
		}
		token = resp.Next
	}
	slices.Sort(out)
	return out
}

// fpResubmit sends every submission of the run again: an acknowledged one
// must come back at its index with its leaf hash; an unanswered one at its
// index if the log has it, else appended. It returns how many it sent.
func fpResubmit(t *testing.T, d *daemon, h *fpHistory, at map[string]uint64, size uint64) int {
	t.Helper()
	c := d.dial(t)
	h.mu.Lock()
	ids := slices.Sorted(maps.Keys(h.sent))
	h.mu.Unlock()
	var (
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(ids)); i = next.Add(1) - 1 {
				id := ids[i]
				h.mu.Lock()
				env := h.sent[id]
				a, acked := h.acked[id]
				h.mu.Unlock()
				r, err := c.SubmitEnvelope(t.Context(), id, env)
				if err != nil {
					t.Errorf("resubmit %q (acknowledged: %v): %v", id, acked, err)
					continue
				}
				index, had := at[id]
				switch {
				case acked && (r.Index != a.index || !bytes.Equal(r.LeafHash, a.leafHash)):
					t.Errorf("resubmit %q: entry %d (leaf hash %x), want its acknowledged entry %d (%x)", id, r.Index, r.LeafHash, a.index, a.leafHash)
				case had && r.Index != index:
					t.Errorf("resubmit %q, unanswered but committed: entry %d, want %d", id, r.Index, index)
				case !had && r.Index < size:
					t.Errorf("resubmit %q, not in the log of %d: entry %d, want a new one", id, size, r.Index)
				}
			}
		})
	}
	wg.Wait()
	return len(ids)
}
