package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Linearizability parameters (issue 5 part 2; reliability.md §1.3 and §3.1,
// test plan item 3). A normal run records defaultLinRuns histories, the
// first without a crash and the others with one SIGKILL and restart in the
// middle; CHEMLEDGER_LIN_RUNS=N records N (every run after the first has a
// kill). CHEMLEDGER_PORCUPINE_OUT=DIR puts the visualisation of a failing
// history there instead of a new directory under the system's temp dir.
const (
	defaultLinRuns = 3
	linClients     = 6
	linOpsPerRun   = 360 // split among the clients
	linOpTimeout   = 3 * time.Second
	linCheckLimit  = time.Minute
)

// TestHistoryLinearizable records concurrent histories of submissions
// (some repeating earlier ones), reads of entries, filtered lists and
// checkpoint reads against the real binary, with a SIGKILL and restart in
// the middle of some, and checks each with porcupine against the
// specification of an append-only log: every operation must appear to take
// effect at one instant between its call and its return.
//
// As in etcd's robustness tests, a submission whose answer was lost (the
// server died, the call timed out) may or may not have happened: if the log
// holds its id afterwards it is kept with the index found there and a
// return at the end of the history, else it is dropped. A read that failed
// had no effect and is dropped. The history ends with a checkpoint read and
// a full list, so the model's final state must be exactly the log.
func TestHistoryLinearizable(t *testing.T) {
	runs := countFromEnv(t, "CHEMLEDGER_LIN_RUNS", defaultLinRuns, "histories")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	for run := range runs {
		kill := run > 0
		t.Run(fmt.Sprintf("history-%d-kill-%v", run, kill), func(t *testing.T) {
			recordAndCheck(t, run, kill, seed+uint64(run))
		})
	}
}

// logEntry is an entry as the model knows it: the submission id, the hash of
// the exact envelope bytes, and the fields the lists filter on.
type logEntry struct {
	id     string
	digest [32]byte
	member string
	ref    string
}

func (e logEntry) String() string { return e.id }

type linOp int

const (
	opSubmit linOp = iota
	opGet
	opList
	opCheckpoint
)

// linFilter is a list filter: an empty field matches everything.
type linFilter struct{ member, ref string }

func (f linFilter) matches(e logEntry) bool {
	return (f.member == "" || e.member == f.member) && (f.ref == "" || e.ref == f.ref)
}

func (f linFilter) expr() string {
	var parts []string
	if f.member != "" {
		parts = append(parts, fmt.Sprintf("member = %q", f.member))
	}
	if f.ref != "" {
		parts = append(parts, fmt.Sprintf("shipment_ref = %q", f.ref))
	}
	return strings.Join(parts, " AND ")
}

type linInput struct {
	op     linOp
	entry  logEntry  // opSubmit
	index  uint64    // opGet
	filter linFilter // opList
}

type linOutput struct {
	index   uint64     // opSubmit: the receipt's index
	unknown bool       // opSubmit: the answer was lost; index is where the log holds it
	found   bool       // opGet
	entry   logEntry   // opGet
	entries []logEntry // opList
	size    uint64     // opCheckpoint
}

// appendOnlyLog is the sequential specification: the state is the log's
// entries in order ([]logEntry, never modified in place).
var appendOnlyLog = porcupine.Model{
	Init: func() any { return []logEntry(nil) },
	Step: func(state, input, output any) (bool, any) {
		log, in, out := state.([]logEntry), input.(linInput), output.(linOutput)
		switch in.op {
		case opSubmit:
			if i := slices.IndexFunc(log, func(e logEntry) bool { return e.id == in.entry.id }); i >= 0 {
				// A repeat of the same bytes is answered with the first index.
				return log[i] == in.entry && out.index == uint64(i), log
			}
			if out.index != uint64(len(log)) {
				return false, log
			}
			return true, append(slices.Clip(log), in.entry)
		case opGet:
			if in.index >= uint64(len(log)) {
				return !out.found, log
			}
			return out.found && out.entry == log[in.index], log
		case opList:
			var want []logEntry
			for _, e := range log {
				if in.filter.matches(e) {
					want = append(want, e)
				}
			}
			return slices.Equal(want, out.entries), log
		case opCheckpoint:
			return out.size == uint64(len(log)), log
		}
		return false, log
	},
	Equal: func(a, b any) bool { return slices.Equal(a.([]logEntry), b.([]logEntry)) },
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		for _, e := range state.([]logEntry) {
			h.Write([]byte(e.id))
			h.Write([]byte{0})
		}
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		switch in.op {
		case opSubmit:
			if out.unknown {
				return fmt.Sprintf("submit(%s) → ? (answer lost; the log holds it at %d)", in.entry.id, out.index)
			}
			return fmt.Sprintf("submit(%s) → %d", in.entry.id, out.index)
		case opGet:
			if !out.found {
				return fmt.Sprintf("get(%d) → not found", in.index)
			}
			return fmt.Sprintf("get(%d) → %s", in.index, out.entry.id)
		case opList:
			return fmt.Sprintf("list(%s) → %d entries %v", in.filter.expr(), len(out.entries), out.entries)
		case opCheckpoint:
			return fmt.Sprintf("checkpoint() → size %d", out.size)
		}
		return "?"
	},
	DescribeState: func(state any) string {
		log := state.([]logEntry)
		if len(log) > 8 {
			return fmt.Sprintf("%d entries, …%v", len(log), log[len(log)-8:])
		}
		return fmt.Sprintf("%d entries %v", len(log), log)
	},
}

// linServer is the daemon the clients talk to; it changes at a restart.
type linServer struct {
	mu  sync.Mutex
	d   *daemon
	gen int
	up  chan struct{} // closed while a daemon is serving
}

// current waits until a daemon serves and returns it and its generation.
func (s *linServer) current(ctx context.Context) (*daemon, int, error) {
	s.mu.Lock()
	up := s.up
	s.mu.Unlock()
	select {
	case <-up:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d, s.gen, nil
}

func (s *linServer) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up = make(chan struct{})
}

func (s *linServer) serve(d *daemon) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = d
	s.gen++
	close(s.up)
}

// record is one call of the history, before patching.
type record struct {
	client    int
	in        linInput
	out       linOutput
	call, ret int64
	err       error // nil: answered
	cp        []byte
}

// linRecorder is what the clients share while they run.
type linRecorder struct {
	start    time.Time
	mu       sync.Mutex
	sent     []logEntry        // every submission sent, for repeats
	envs     map[string][]byte // submission id → envelope
	hint     atomic.Uint64     // a log size some client has seen
	done     atomic.Int64      // operations finished
	killedAt atomic.Int64      // clock reading at the kill, 0 before
}

func (r *linRecorder) now() int64 { return int64(time.Since(r.start)) }

func (r *linRecorder) saw(size uint64) {
	for {
		h := r.hint.Load()
		if size <= h || r.hint.CompareAndSwap(h, size) {
			return
		}
	}
}

func recordAndCheck(t *testing.T, run int, kill bool, seed uint64) {
	dir := t.TempDir()
	srv := &linServer{up: make(chan struct{})}
	srv.serve(startDaemon(t, dir))
	vkey := logKey(t, dir)
	signers := demoSigners(t, dir)
	examples := readExamples(t)
	rec := &linRecorder{start: time.Now(), envs: map[string][]byte{}}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var (
		wg          sync.WaitGroup
		records     = make([][]record, linClients)
		clientsDone = make(chan struct{})
	)
	for c := range linClients {
		rng := rand.New(rand.NewPCG(seed, uint64(c)))
		wg.Go(func() {
			records[c] = runClient(ctx, t, c, run, rng, srv, rec, vkey, examples, signers)
		})
	}
	go func() {
		wg.Wait()
		close(clientsDone)
	}()

	kills := 0
	if kill {
		rng := rand.New(rand.NewPCG(seed, 1<<32))
		// Kill once 25-60% of the operations are done, so that some
		// answers are lost in flight and the rest of the history runs
		// against the restarted process.
		at := int64(linOpsPerRun/4 + rng.IntN(linOpsPerRun*35/100))
		tick := time.NewTicker(time.Millisecond)
		for rec.done.Load() < at {
			select {
			case <-tick.C:
			case <-clientsDone:
				t.Fatalf("history %d: the clients stopped after %d operations, before the kill", run, rec.done.Load())
			}
		}
		tick.Stop()
		srv.mu.Lock()
		d := srv.d
		srv.mu.Unlock()
		srv.down()
		rec.killedAt.Store(rec.now())
		d.kill(t)
		srv.serve(startDaemon(t, dir))
		kills++
	}
	<-clientsDone
	if ctx.Err() != nil {
		t.Fatalf("history %d: the clients did not finish: %v", run, ctx.Err())
	}

	// The end of the history: one checkpoint read and one full list, after
	// every other operation returned, fix the final state.
	d, _, _ := srv.current(ctx)
	final := d.dial(t)
	var all []record
	for _, rs := range records {
		all = append(all, rs...)
	}
	cpRec := record{client: linClients, in: linInput{op: opCheckpoint}, call: rec.now()}
	cp, note, err := final.Checkpoint(ctx)
	cpRec.ret = rec.now()
	if err != nil {
		t.Fatalf("final checkpoint: %v", err)
	}
	cpRec.out.size, cpRec.cp = cp.Size, note
	listRec := record{client: linClients, in: linInput{op: opList}, call: rec.now()}
	var leaves [][]byte
	for e, err := range final.List(ctx, "", 1000) {
		if err != nil {
			t.Fatalf("final list: %v", err)
		}
		listRec.out.entries = append(listRec.out.entries, entryOf(e))
		leaves = append(leaves, e.GetLeaf())
	}
	listRec.ret = rec.now()
	all = append(all, cpRec, listRec)

	ops, stats := patchHistory(all, listRec.out.entries, listRec.ret+1)
	checkRoots(t, all, leaves)

	started := time.Now()
	result, info := porcupine.CheckOperationsVerbose(appendOnlyLog, ops, linCheckLimit)
	t.Logf("history %d: %d operations checked (%s), %d kill(s), final log %d entries; porcupine: %s in %v",
		run, len(ops), stats, kills, cp.Size, result, time.Since(started).Round(time.Millisecond))
	if result != porcupine.Ok {
		path := writeVisualization(t, run, ops, info)
		t.Errorf("history %d is not linearizable against an append-only log (porcupine: %s); see %s", run, result, path)
	}
}

// runClient performs this client's share of the operations, one at a
// time, and returns what it recorded.
func runClient(ctx context.Context, t *testing.T, c, run int, rng *rand.Rand, srv *linServer, rec *linRecorder,
	vkey string, examples []exampleLine, signers map[string]envelope.Signer) []record {
	var (
		out []record
		cl  *client.Client
		gen int
	)
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	for n := range linOpsPerRun / linClients {
		d, g, err := srv.current(ctx)
		if err != nil {
			return out
		}
		if g != gen {
			if cl != nil {
				cl.Close()
			}
			if cl, err = client.Dial(d.grpcAddr, client.WithLogVerifierKey(vkey)); err != nil {
				t.Errorf("client %d: dial %s: %v", c, d.grpcAddr, err)
				return out
			}
			gen = g
		}
		r := record{client: c}
		var env []byte
		switch p := rng.IntN(100); {
		case p < 30: // a new submission
			ex := examples[rng.IntN(len(examples))]
			id := fmt.Sprintf("lin%d-c%d-%d", run, c, n)
			env = signedEvent(t, ex, id, rng.IntN(2) == 0, signers[ex.member])
			r.in = linInput{op: opSubmit, entry: logEntry{id: id, digest: sha256.Sum256(env), member: ex.member, ref: ex.event.GetShipmentRef()}}
			rec.mu.Lock()
			rec.sent = append(rec.sent, r.in.entry)
			rec.envs[id] = env
			rec.mu.Unlock()
		case p < 40: // an earlier submission again, same bytes
			rec.mu.Lock()
			if len(rec.sent) > 0 {
				r.in = linInput{op: opSubmit, entry: rec.sent[rng.IntN(len(rec.sent))]}
				env = rec.envs[r.in.entry.id]
			} else {
				r.in = linInput{op: opCheckpoint}
			}
			rec.mu.Unlock()
		case p < 65: // an entry near the end of the log, or past it
			hint := rec.hint.Load()
			r.in = linInput{op: opGet, index: uint64(rng.IntN(int(hint) + 3))}
			if rng.IntN(2) == 0 {
				r.in.index = max(hint, 2) - 2 + uint64(rng.IntN(5))
			}
		case p < 80:
			ex := examples[rng.IntN(len(examples))]
			var f linFilter
			switch rng.IntN(3) {
			case 0:
				f.member = ex.member
			case 1:
				f.ref = ex.event.GetShipmentRef()
			default:
				f.member, f.ref = ex.member, ex.event.GetShipmentRef()
			}
			r.in = linInput{op: opList, filter: f}
		default:
			r.in = linInput{op: opCheckpoint}
		}
		out = append(out, perform(ctx, t, cl, rng, rec, r, env))
		rec.done.Add(1)
	}
	return out
}

// perform makes one call and records its interval and outcome.
func perform(ctx context.Context, t *testing.T, cl *client.Client, rng *rand.Rand, rec *linRecorder, r record, env []byte) record {
	ctx, cancel := context.WithTimeout(ctx, linOpTimeout)
	defer cancel()
	r.call = rec.now()
	switch r.in.op {
	case opSubmit:
		var rc *client.Receipt
		if rc, r.err = cl.SubmitEnvelope(ctx, r.in.entry.id, env); r.err == nil {
			r.out.index, r.cp = rc.Index, rc.CheckpointNote
			rec.saw(rc.Index + 1)
		}
	case opGet:
		var e *chemledgerv1.Entry
		switch e, r.err = cl.Get(ctx, r.in.index); {
		case r.err == nil:
			r.out.found, r.out.entry = true, entryOf(e)
			rec.saw(r.in.index + 1)
		case status.Code(r.err) == codes.NotFound:
			r.err = nil
		}
	case opList:
		pageSize := []int32{0, 5, 1000}[rng.IntN(3)]
		for e, err := range cl.List(ctx, r.in.filter.expr(), pageSize) {
			if err != nil {
				r.err = err
				break
			}
			r.out.entries = append(r.out.entries, entryOf(e))
		}
	case opCheckpoint:
		var cp checkpoint.Checkpoint
		if cp, r.cp, r.err = cl.Checkpoint(ctx); r.err == nil {
			r.out.size = cp.Size
			rec.saw(cp.Size)
		}
	}
	r.ret = rec.now()
	if r.err != nil && !mayBeLost(r.err, rec, r.call) {
		t.Errorf("client %d: %s: %v", r.client, appendOnlyLog.DescribeOperation(r.in, r.out), r.err)
	}
	return r
}

// mayBeLost reports whether err can be a lost answer: the connection broke
// or the call ran out of time. A refusal, a reply that does not verify, or
// a broken connection with no kill around are failures of the test.
func mayBeLost(err error, rec *linRecorder, call int64) bool {
	if errors.Is(err, client.ErrVerification) {
		return false
	}
	switch status.Code(err) {
	case codes.DeadlineExceeded:
		return true
	case codes.Unavailable, codes.Canceled, codes.Unknown, codes.Internal:
		k := rec.killedAt.Load()
		return k != 0 && call <= k+int64(linOpTimeout)
	}
	return false
}

func entryOf(e *chemledgerv1.Entry) logEntry {
	return logEntry{id: e.GetSubmissionId(), digest: sha256.Sum256(e.GetLeaf()), member: e.GetMember(), ref: e.GetEvent().GetShipmentRef()}
}

// patchHistory turns the records into porcupine operations: answered calls
// as they were; submissions with a lost answer kept, returning at end, with
// the index the final log holds them at, or dropped if it does not hold
// them; failed reads dropped.
func patchHistory(records []record, final []logEntry, end int64) ([]porcupine.Operation, string) {
	at := map[string]int{}
	for i, e := range final {
		at[e.id] = i
	}
	var (
		ops                      []porcupine.Operation
		kept, dropped, readsLost int
		nextClient               = linClients + 1
	)
	for _, r := range records {
		op := porcupine.Operation{ClientId: r.client, Input: r.in, Call: r.call, Output: r.out, Return: r.ret}
		switch {
		case r.err == nil:
		case r.in.op != opSubmit:
			readsLost++
			continue
		default:
			i, ok := at[r.in.entry.id]
			if !ok {
				dropped++
				continue
			}
			kept++
			op.Output = linOutput{index: uint64(i), unknown: true}
			op.Return = end
			// Its own lane in the picture: the client went on meanwhile.
			op.ClientId = nextClient
			nextClient++
		}
		ops = append(ops, op)
	}
	return ops, fmt.Sprintf("lost answers: %d submissions found in the log, %d not, %d reads dropped", kept, dropped, readsLost)
}

// checkRoots checks every checkpoint a client was shown against the final
// log: its root must be the root of the log's first Size leaves.
func checkRoots(t *testing.T, records []record, leaves [][]byte) {
	tree := testonly.New(rfc6962.DefaultHasher)
	tree.AppendData(leaves...)
	seen := map[string]bool{}
	for _, r := range records {
		if r.cp == nil || seen[string(r.cp)] {
			continue
		}
		seen[string(r.cp)] = true
		cp := parseNote(t, r.cp)
		if cp.Size > tree.Size() || !bytes.Equal(cp.Root, tree.HashAt(cp.Size)) {
			t.Errorf("checkpoint of size %d (root %x) shown to client %d is not a prefix of the final log of %d entries", cp.Size, cp.Root, r.client, tree.Size())
		}
	}
}

// writeVisualization writes porcupine's HTML view of a failing history and
// returns its path; the operations are also written as text, in call order,
// beside it (.txt). It goes to CHEMLEDGER_PORCUPINE_OUT, or to a new
// directory that outlives the test (t.TempDir would be gone by the time
// anyone opens the file).
func writeVisualization(t *testing.T, run int, ops []porcupine.Operation, info porcupine.LinearizationInfo) string {
	dir := os.Getenv("CHEMLEDGER_PORCUPINE_OUT")
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", "chemledger-porcupine-")
	} else {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Errorf("visualisation: %v", err)
		return "(not written)"
	}
	path := filepath.Join(dir, fmt.Sprintf("history-%d.html", run))
	if err := porcupine.VisualizePath(appendOnlyLog, info, path); err != nil {
		t.Errorf("visualisation: %v", err)
	}
	// The same operations as text, in call order, for grep and diff.
	sorted := slices.Clone(ops)
	slices.SortFunc(sorted, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	var b strings.Builder
	for _, op := range sorted {
		fmt.Fprintf(&b, "%12d %12d  client %2d  %s\n", op.Call, op.Return, op.ClientId, appendOnlyLog.DescribeOperation(op.Input, op.Output))
	}
	if err := os.WriteFile(strings.TrimSuffix(path, ".html")+".txt", []byte(b.String()), 0o644); err != nil {
		t.Errorf("history text: %v", err)
	}
	return path
}

// TestLinearizabilityCheckerRejectsBadHistory shows that the model and
// checker above can fail: histories a broken log could produce are refused,
// and the ones a correct log produces (including a submission whose answer
// was lost) are accepted. It needs no server.
func TestLinearizabilityCheckerRejectsBadHistory(t *testing.T) {
	a := logEntry{id: "a", digest: sha256.Sum256([]byte("A")), member: "US-CBP", ref: "PEN-1"}
	b := logEntry{id: "b", digest: sha256.Sum256([]byte("B")), member: "MX-ANAM", ref: "PEN-1"}
	submit := func(client int, call, ret int64, e logEntry, index uint64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: linInput{op: opSubmit, entry: e}, Call: call, Output: linOutput{index: index}, Return: ret}
	}
	lost := func(client int, call, end int64, e logEntry, index uint64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: linInput{op: opSubmit, entry: e}, Call: call, Output: linOutput{index: index, unknown: true}, Return: end}
	}
	get := func(client int, call, ret int64, index uint64, e *logEntry) porcupine.Operation {
		out := linOutput{}
		if e != nil {
			out = linOutput{found: true, entry: *e}
		}
		return porcupine.Operation{ClientId: client, Input: linInput{op: opGet, index: index}, Call: call, Output: out, Return: ret}
	}
	size := func(client int, call, ret int64, n uint64) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: linInput{op: opCheckpoint}, Call: call, Output: linOutput{size: n}, Return: ret}
	}
	list := func(client int, call, ret int64, f linFilter, es ...logEntry) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: linInput{op: opList, filter: f}, Call: call, Output: linOutput{entries: es}, Return: ret}
	}
	bTampered := b
	bTampered.digest = sha256.Sum256([]byte("B'"))

	tests := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"concurrent submits, reads after", []porcupine.Operation{
			submit(0, 0, 10, a, 1), submit(1, 5, 20, b, 0),
			get(2, 21, 22, 0, &b), size(2, 23, 24, 2), list(3, 21, 30, linFilter{ref: "PEN-1"}, b, a),
		}, porcupine.Ok},
		{"read concurrent with its submit", []porcupine.Operation{
			submit(0, 0, 10, a, 0), get(1, 2, 3, 0, &a), get(2, 4, 5, 1, nil), size(1, 11, 12, 1),
		}, porcupine.Ok},
		{"repeat gets the first index", []porcupine.Operation{
			submit(0, 0, 5, a, 0), submit(1, 6, 8, b, 1), submit(0, 9, 10, a, 0), size(1, 11, 12, 2),
		}, porcupine.Ok},
		{"lost answer, in the log", []porcupine.Operation{
			lost(0, 0, 100, a, 0), get(1, 1, 2, 0, &a), submit(1, 3, 4, b, 1), size(1, 5, 6, 2),
		}, porcupine.Ok},
		{"entry read before its submit was called", []porcupine.Operation{
			get(1, 0, 5, 0, &a), submit(0, 10, 20, a, 0),
		}, porcupine.Illegal},
		{"checkpoint size decreases", []porcupine.Operation{
			submit(0, 0, 5, a, 0), submit(0, 6, 10, b, 1), size(1, 11, 12, 2), size(1, 13, 14, 1),
		}, porcupine.Illegal},
		{"acknowledged entry not found later", []porcupine.Operation{
			submit(0, 0, 5, a, 0), get(1, 6, 7, 0, nil),
		}, porcupine.Illegal},
		{"repeat appended twice", []porcupine.Operation{
			submit(0, 0, 5, a, 0), submit(1, 6, 10, a, 1),
		}, porcupine.Illegal},
		{"index skips", []porcupine.Operation{
			submit(0, 0, 5, a, 0), submit(1, 6, 10, b, 2),
		}, porcupine.Illegal},
		{"entry bytes differ from what was sent", []porcupine.Operation{
			submit(0, 0, 5, b, 0), get(1, 6, 7, 0, &bTampered),
		}, porcupine.Illegal},
		{"list misses an acknowledged entry but has a later one", []porcupine.Operation{
			submit(0, 0, 5, a, 0), submit(0, 6, 10, b, 1), list(1, 11, 12, linFilter{ref: "PEN-1"}, b),
		}, porcupine.Illegal},
		{"list sees an entry a later checkpoint does not cover", []porcupine.Operation{
			submit(0, 0, 20, a, 0), list(1, 1, 2, linFilter{member: "US-CBP"}, a), size(1, 3, 4, 0),
		}, porcupine.Illegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, info := porcupine.CheckOperationsVerbose(appendOnlyLog, tt.ops, 10*time.Second)
			if got != tt.want {
				var desc []string
				for _, op := range tt.ops {
					desc = append(desc, fmt.Sprintf("[%d,%d] %s", op.Call, op.Return, appendOnlyLog.DescribeOperation(op.Input, op.Output)))
				}
				t.Fatalf("porcupine says %s, want %s, for:\n%s", got, tt.want, strings.Join(desc, "\n"))
			}
			if got == porcupine.Illegal {
				path := filepath.Join(t.TempDir(), "history.html")
				if err := porcupine.VisualizePath(appendOnlyLog, info, path); err != nil {
					t.Fatalf("visualise: %v", err)
				}
				if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
					t.Fatalf("visualisation %s: %v", path, err)
				}
			}
		})
	}
}
