package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Durability parameters. A normal run does defaultRounds crash rounds;
// CHEMLEDGER_E2E_ROUNDS=N runs N instead (a soak, e.g. N=200 with a longer
// -timeout), all on one data dir so the log grows across crashes.
const (
	defaultRounds = 5
	submitters    = 8
	minKillDelay  = 100 * time.Millisecond
	maxKillDelay  = 600 * time.Millisecond
	// resubmitSample bounds how many acknowledged submissions of a round
	// are sent again after the restart; each costs a commit.
	resubmitSample = 48
)

// ack is an acknowledged submission: what was sent and what the log said.
type ack struct {
	id       string
	env      []byte
	index    uint64
	leafHash []byte
	cpNote   []byte // the signed checkpoint the receipt proved inclusion in
}

// history is everything sent to the log across all rounds.
type history struct {
	mu    sync.Mutex
	sent  map[string][]byte // submission id → envelope bytes, acknowledged or not
	acked map[string]ack
}

func newHistory() *history {
	return &history{sent: map[string][]byte{}, acked: map[string]ack{}}
}

func (h *history) send(id string, env []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sent[id] = env
}

func (h *history) ack(a ack) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acked[a.id] = a
}

// countFromEnv is the number (of rounds, of histories: what) that the
// environment variable env asks for, def if it is not set.
func countFromEnv(tb testing.TB, env string, def int, what string) int {
	tb.Helper()
	s := os.Getenv(env)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q, want a number of %s, 1 or more", env, s, what)
	}
	return n
}

// TestDurabilityUnderSIGKILL kills the service with SIGKILL while eight
// clients submit, restarts it on the same data dir, and checks that every
// acknowledged entry survived, byte for byte, at its index; that the log is
// contiguous, its signed root is the root of its leaves and it extends every
// checkpoint a client was shown; and that no submission is in it twice.
func TestDurabilityUnderSIGKILL(t *testing.T) {
	rounds := countFromEnv(t, "CHEMLEDGER_E2E_ROUNDS", defaultRounds, "rounds")
	dir := t.TempDir()
	d := startDaemon(t, dir)
	signers := demoSigners(t, dir)
	examples := readExamples(t)
	vkey := logKey(t, dir)
	h := newHistory()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (kill delays)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	var lastSize uint64
	for round := range rounds {
		delay := minKillDelay + time.Duration(rng.Int64N(int64(maxKillDelay-minKillDelay)))
		acked, inFlight := submitUntilKilled(t, d, h, round, delay, examples, signers, vkey)
		killed := d
		d = startDaemon(t, dir)
		size, at := checkLog(t, d, h, vkey)
		if size < lastSize {
			t.Fatalf("round %d: the log shrank from %d to %d entries", round, lastSize, size)
		}
		checkResubmit(t, d, acked, rng)
		committed := checkInFlight(t, d, h, inFlight, at, size)
		t.Logf("round %d: killed %v after the first receipt, with %d acknowledged and %d in flight (%d of them committed); log size %d",
			round, delay.Round(time.Millisecond), len(acked), len(inFlight), committed, size)
		lastSize = size
		if t.Failed() {
			t.Fatalf("round %d failed; output of the killed daemon:\n%s\nsince the restart:\n%s", round, killed.stderr, d.stderr)
		}
	}
}

// submitUntilKilled runs the submitters against d, SIGKILLs d delay after
// the first receipt (so that some are acknowledged and some in flight), and
// returns the submissions acknowledged in this round and the ids of those
// sent without an answer.
func submitUntilKilled(t *testing.T, d *daemon, h *history, round int, delay time.Duration,
	examples []exampleLine, signers map[string]envelope.Signer, vkey string) (acked []ack, inFlight []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var (
		killed    atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		sent      []string
		firstAck  = make(chan struct{})
		firstOnce sync.Once
	)
	for c := range submitters {
		cl, err := client.Dial(d.grpcAddr, client.WithLogVerifierKey(vkey))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		wg.Go(func() {
			for n := 0; ; n++ {
				ex := examples[(c+n)%len(examples)]
				id := fmt.Sprintf("e2e-r%d-c%d-%d", round, c, n)
				env := signedEvent(t, ex, id, n%2 == 0, signers[ex.member])
				h.send(id, env)
				mu.Lock()
				sent = append(sent, id)
				mu.Unlock()
				r, err := cl.SubmitEnvelope(ctx, id, env)
				if err != nil {
					if !killed.Load() {
						t.Errorf("round %d: submit %s before the kill: %v", round, id, err)
					}
					return
				}
				a := ack{id: id, env: env, index: r.Index, leafHash: r.LeafHash, cpNote: r.CheckpointNote}
				h.ack(a)
				mu.Lock()
				acked = append(acked, a)
				mu.Unlock()
				firstOnce.Do(func() { close(firstAck) })
			}
		})
	}
	select {
	case <-firstAck:
	case <-ctx.Done():
		t.Fatalf("round %d: no receipt (%v); daemon output:\n%s", round, ctx.Err(), d.stderr)
	}
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		t.Fatalf("round %d: %v before the kill", round, ctx.Err())
	}
	killed.Store(true)
	d.kill(t)
	wg.Wait()
	done := map[string]bool{}
	for _, a := range acked {
		done[a.id] = true
	}
	for _, id := range sent {
		if !done[id] {
			inFlight = append(inFlight, id)
		}
	}
	return acked, inFlight
}

// signedEvent is a valid event made from an example, with a fresh event id,
// signed by the member that reports from its country, as binary protobuf or
// as proto3 JSON.
func signedEvent(tb testing.TB, ex exampleLine, id string, binary bool, signer envelope.Signer) []byte {
	ev := proto.Clone(ex.event).(*chemledgerv1.ShipmentEvent)
	ev.EventId = id
	var (
		payload []byte
		ptype   string
		err     error
	)
	if binary {
		payload, err = proto.MarshalOptions{Deterministic: true}.Marshal(ev)
		ptype = envelope.PayloadTypeEventProto
	} else {
		payload, err = protojson.Marshal(ev)
		ptype = envelope.PayloadTypeEventJSON
	}
	if err != nil {
		tb.Errorf("encode event %s: %v", id, err)
		return nil
	}
	env, err := envelope.Sign(ptype, payload, signer)
	if err != nil {
		tb.Errorf("sign event %s: %v", id, err)
	}
	return env
}

// restartedLog is the whole log of a restarted daemon, read back entry by
// entry.
type restartedLog struct {
	c      *client.Client
	cp     checkpoint.Checkpoint // the latest signed checkpoint
	leaves [][]byte              // entry i's envelope
	ids    []string              // entry i's submission id
	at     map[string]uint64     // submission id → entry
	tree   *testonly.Tree        // of the leaves
}

// readLog reads every entry of d's log with GetEntry and checks: the latest
// checkpoint opens with the key in log.pub; every index below its size is
// there, as itself, and nothing at the size; the leaves hash to the signed
// root; no submission is in the log twice.
func readLog(t *testing.T, d *daemon, vkey string) restartedLog {
	t.Helper()
	ctx := t.Context()
	l := restartedLog{c: d.dial(t), at: map[string]uint64{}}
	cp, signed, err := l.c.Checkpoint(ctx)
	if err != nil {
		t.Fatalf("latest checkpoint after restart: %v", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if own, err := checkpoint.Open(signed, devOrigin(t, d.dir), verifier); err != nil || !own.Equal(cp) {
		t.Fatalf("latest checkpoint %q: opened with the key in log.pub as %+v, %v; want %+v", signed, own, err, cp)
	}
	l.cp = cp

	l.leaves, l.ids = make([][]byte, cp.Size), make([]string, cp.Size)
	var (
		wg   sync.WaitGroup
		next atomic.Uint64
	)
	const readers = 4
	for range readers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < cp.Size; i = next.Add(1) - 1 {
				e, err := l.c.Get(ctx, i)
				if err != nil {
					t.Errorf("get entry %d of %d: %v", i, cp.Size, err)
					return
				}
				if e.GetIndex() != i {
					t.Errorf("get entry %d: got entry %d", i, e.GetIndex())
				}
				l.leaves[i], l.ids[i] = e.GetLeaf(), e.GetSubmissionId()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if _, err := l.c.Get(ctx, cp.Size); status.Code(err) != codes.NotFound {
		t.Errorf("get entry %d of a log of %d: %v, want NotFound", cp.Size, cp.Size, err)
	}

	l.tree = testonly.New(rfc6962.DefaultHasher)
	l.tree.AppendData(l.leaves...)
	if got := l.tree.Hash(); !bytes.Equal(got, cp.Root) {
		t.Fatalf("the %d leaves hash to root %x, the signed checkpoint says %x", cp.Size, got, cp.Root)
	}

	for i, id := range l.ids {
		if prev, dup := l.at[id]; dup {
			t.Errorf("submission %q is in the log twice: entries %d and %d", id, prev, i)
		}
		l.at[id] = uint64(i)
	}
	return l
}

// checkSeen checks that the log extends each signed checkpoint of seen (by
// size) that a client was shown: its root is the tree's at its size, and the
// daemon proves the two consistent. what names them in failures.
func (l restartedLog) checkSeen(t *testing.T, seen map[uint64][]byte, what string) {
	t.Helper()
	for size, n := range seen {
		k := parseNote(t, n)
		if size > l.cp.Size || !bytes.Equal(l.tree.HashAt(size), k.Root) {
			t.Errorf("%s of size %d (root %x) is not a prefix of the log of size %d", what, size, k.Root, l.cp.Size)
			continue
		}
		if _, _, err := l.c.VerifyConsistency(t.Context(), n); err != nil {
			t.Errorf("consistency with the %s of size %d: %v", what, size, err)
		}
	}
}

// checkHistory checks the log against h: each entry is the envelope sent
// under its submission id; each acknowledged submission is where its
// receipt said, byte for byte.
func (l restartedLog) checkHistory(t *testing.T, h *history) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, id := range l.ids {
		if env, ok := h.sent[id]; !ok || !bytes.Equal(env, l.leaves[i]) {
			t.Errorf("entry %d (submission %q) is not the envelope sent under that id (sent: %v)", i, id, ok)
		}
	}
	for id, a := range h.acked {
		index, ok := l.at[id]
		switch {
		case !ok:
			t.Errorf("acknowledged submission %q (entry %d) is missing from the log of %d", id, a.index, l.cp.Size)
		case index != a.index:
			t.Errorf("acknowledged submission %q is entry %d, its receipt said %d", id, index, a.index)
		case !bytes.Equal(l.leaves[index], a.env):
			t.Errorf("entry %d is %q, want the acknowledged envelope %q", index, l.leaves[index], a.env)
		case !bytes.Equal(l.tree.LeafHash(index), a.leafHash):
			t.Errorf("entry %d has leaf hash %x, its receipt said %x", index, l.tree.LeafHash(index), a.leafHash)
		}
	}
}

// checkLog reads the whole restarted log and checks it against everything
// sent so far. It returns the log's size and the index of every submission
// in it.
func checkLog(t *testing.T, d *daemon, h *history, vkey string) (uint64, map[string]uint64) {
	t.Helper()
	l := readLog(t, d, vkey)

	// The tree extends every checkpoint a client was given in a receipt.
	kept := map[uint64][]byte{}
	h.mu.Lock()
	for _, a := range h.acked {
		kept[parseNote(t, a.cpNote).Size] = a.cpNote
	}
	h.mu.Unlock()
	l.checkSeen(t, kept, "acknowledged checkpoint")

	// Listing gives the same entries in order.
	var i uint64
	for e, err := range l.c.List(t.Context(), "", 1000) {
		if err != nil {
			t.Fatalf("list after %d entries: %v", i, err)
		}
		if e.GetIndex() != i || i >= l.cp.Size || !bytes.Equal(e.GetLeaf(), l.leaves[i]) {
			t.Fatalf("list: entry %d (%d bytes) at position %d, want entry %d as GetEntry returned it, of a log of %d", e.GetIndex(), len(e.GetLeaf()), i, i, l.cp.Size)
		}
		if id := e.GetSubmissionId(); id != l.ids[i] {
			t.Errorf("list: entry %d is submission %q, GetEntry said %q", i, id, l.ids[i])
		}
		i++
	}
	if i != l.cp.Size {
		t.Errorf("list returned %d entries, the checkpoint says %d", i, l.cp.Size)
	}
	l.checkHistory(t, h)
	return l.cp.Size, l.at
}

func parseNote(tb testing.TB, n []byte) checkpoint.Checkpoint {
	tb.Helper()
	body, _, _ := bytes.Cut(n, []byte("\n\n"))
	c, err := checkpoint.Parse(string(body) + "\n")
	if err != nil {
		tb.Fatalf("checkpoint %q: %v", n, err)
	}
	return c
}

// checkResubmit sends a sample of the round's acknowledged submissions
// again and checks that each comes back with its original index.
func checkResubmit(t *testing.T, d *daemon, acked []ack, rng *rand.Rand) {
	t.Helper()
	sample := acked
	if len(sample) > resubmitSample {
		sample = make([]ack, 0, resubmitSample)
		for _, j := range rng.Perm(len(acked))[:resubmitSample] {
			sample = append(sample, acked[j])
		}
	}
	c := d.dial(t)
	var wg sync.WaitGroup
	for _, a := range sample {
		wg.Go(func() {
			r, err := c.SubmitEnvelope(t.Context(), a.id, a.env)
			if err != nil || r.Index != a.index || !bytes.Equal(r.LeafHash, a.leafHash) {
				var got any = err
				if err == nil {
					got = fmt.Sprintf("entry %d (leaf hash %x)", r.Index, r.LeafHash)
				}
				t.Errorf("resubmit %q: %v, want entry %d (leaf hash %x)", a.id, got, a.index, a.leafHash)
			}
		})
	}
	wg.Wait()
}

// checkInFlight sends again the submissions that were in flight at the
// kill: one the log committed must come back at its index, one it did not
// is appended now. Either way it is acknowledged from here on, and later
// rounds check that it stays in the log once. It returns how many had been
// committed.
func checkInFlight(t *testing.T, d *daemon, h *history, inFlight []string, at map[string]uint64, size uint64) int {
	t.Helper()
	c := d.dial(t)
	committed := 0
	for _, id := range inFlight {
		h.mu.Lock()
		env := h.sent[id]
		h.mu.Unlock()
		r, err := c.SubmitEnvelope(t.Context(), id, env)
		if err != nil {
			t.Errorf("resubmit %q, in flight at the kill: %v", id, err)
			continue
		}
		index, was := at[id]
		if was {
			committed++
		}
		if was && r.Index != index || !was && r.Index < size {
			t.Errorf("resubmit %q, in flight at the kill: entry %d; want entry %d if it was committed (%v), else one past %d", id, r.Index, index, was, size-1)
		}
		h.ack(ack{id: id, env: env, index: r.Index, leafHash: r.LeafHash, cpNote: r.CheckpointNote})
	}
	return committed
}
