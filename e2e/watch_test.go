package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// watcher collects what a watch delivers, checking as it goes that it is
// every index from the start, once, in order.
type watcher struct {
	mu      sync.Mutex
	next    uint64            // one past the last index delivered
	leaves  map[uint64][]byte // leaf hash by index
	err     error
	stopped chan struct{}
}

// watch follows d's log from start until ctx ends or the stream fails.
func watch(ctx context.Context, c *client.Client, start uint64, reconnect bool, w *watcher) {
	defer close(w.stopped)
	for m, err := range c.Watch(ctx, client.WatchOptions{Start: start, Progress: 200 * time.Millisecond, Reconnect: reconnect}) {
		w.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				w.err = err
			}
			w.mu.Unlock()
			return
		}
		for _, e := range m.GetEntries() {
			if e.GetIndex() != w.next {
				w.err = fmt.Errorf("entry %d delivered when %d was next: a gap or a duplicate", e.GetIndex(), w.next)
				w.mu.Unlock()
				return
			}
			w.leaves[e.GetIndex()] = e.GetLeafHash()
			w.next = e.GetIndex() + 1
		}
		w.mu.Unlock()
	}
}

func newWatcher(next uint64, leaves map[uint64][]byte) *watcher {
	if leaves == nil {
		leaves = map[uint64][]byte{}
	}
	return &watcher{next: next, leaves: leaves, stopped: make(chan struct{})}
}

func (w *watcher) delivered() (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next, w.err
}

// waitDelivered waits until w has delivered every index below n.
func (w *watcher) waitDelivered(tb testing.TB, n uint64, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := w.delivered()
		if err != nil {
			tb.Fatalf("watch: %v", err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("watch delivered %d entries in %v, want %d", got, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// submitConcurrently submits n fresh events over clients bulk streams at
// once, each event signed by the member of its example's country, and
// returns how many were acknowledged. With tolerate, a stream cut by a
// kill is not an error.
func submitConcurrently(tb testing.TB, ctx context.Context, addr, vkey string, signers map[string]envelope.Signer, tag string, clients, n int, tolerate bool) int {
	tb.Helper()
	examples := readExamples(tb)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked int
	)
	for c := range clients {
		wg.Go(func() {
			cl, err := client.Dial(addr, client.WithLogVerifierKey(vkey))
			if err != nil {
				tb.Error(err)
				return
			}
			defer cl.Close()
			items := func(yield func(client.Item) bool) {
				for i := c; i < n; i += clients {
					ex := examples[i%len(examples)]
					id := fmt.Sprintf("%s-%05d", tag, i)
					if !yield(client.Item{SubmissionID: id, Envelope: signedEvent(tb, ex, id, i%2 == 0, signers[ex.member])}) {
						return
					}
				}
			}
			err = cl.SubmitStream(ctx, items, func(r client.BulkResult) {
				if r.Err != nil {
					tb.Errorf("%s: %v", r.SubmissionID, r.Err)
					return
				}
				mu.Lock()
				acked++
				mu.Unlock()
			})
			if err != nil && !tolerate {
				tb.Errorf("bulk stream %d: %v", c, err)
			}
		})
	}
	wg.Wait()
	return acked
}

// TestWatchAcrossKillsAndRestart: a watch opened before 10,000 entries are
// submitted by 8 concurrent clients receives every entry exactly once, in
// index order; killed mid-stream and resumed from its last index, it has no
// gap and no duplicate; a reconnecting watch outlives a SIGKILL of the
// server and its restart, and ends up with exactly the log's entries.
func TestWatchAcrossKillsAndRestart(t *testing.T) {
	const clients, n = 8, 10000
	dir := t.TempDir()
	d := startDaemon(t, dir)
	vkey := logKey(t, dir)
	signers := demoSigners(t, dir)
	c := d.dial(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	// The first watch, open before anything is submitted.
	wctx, killWatch := context.WithCancel(ctx)
	w1 := newWatcher(0, nil)
	go watch(wctx, c, 0, false, w1)

	submitted := make(chan int, 1)
	go func() { submitted <- submitConcurrently(t, ctx, d.grpcAddr, vkey, signers, "watch", clients, n, false) }()

	// Kill the watch mid-stream and resume from the last index it got.
	w1.waitDelivered(t, n/3, time.Minute)
	killWatch()
	<-w1.stopped
	resumeAt, err := w1.delivered()
	if err != nil {
		t.Fatal(err)
	}
	w2 := newWatcher(resumeAt, w1.leaves)
	rctx, stopW2 := context.WithCancel(ctx)
	defer stopW2()
	go watch(rctx, c, resumeAt, true, w2)
	if got := <-submitted; got != n {
		t.Fatalf("%d of %d submissions acknowledged", got, n)
	}
	w2.waitDelivered(t, n, time.Minute)
	t.Logf("first watch stopped at %d, resumed there; all %d delivered", resumeAt, n)

	// SIGKILL the server with the resumed watch open and writers writing,
	// restart it on the same address, write more: the watch reconnects
	// and goes on from where it was.
	kctx, stopWriters := context.WithCancel(ctx)
	killedWrites := make(chan int, 1)
	go func() {
		killedWrites <- submitConcurrently(t, kctx, d.grpcAddr, vkey, signers, "before-kill", clients, 4000, true)
	}()
	time.Sleep(300 * time.Millisecond)
	d.kill(t)
	stopWriters()
	<-killedWrites
	d = startDaemon(t, dir, "--grpc-addr", d.grpcAddr)
	if got := submitConcurrently(t, ctx, d.grpcAddr, vkey, signers, "after-restart", clients, 1000, false); got != 1000 {
		t.Fatalf("%d of 1000 submissions after the restart acknowledged", got)
	}
	c2 := d.dial(t)
	cp, _, err := c2.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w2.waitDelivered(t, cp.Size, time.Minute)
	stopW2()
	<-w2.stopped
	if got, err := w2.delivered(); err != nil || got != cp.Size {
		t.Fatalf("after the restart the watch delivered %d (%v), log size %d", got, err, cp.Size)
	}

	// What the watches delivered is the log, entry for entry.
	i := uint64(0)
	for e, err := range c2.List(ctx, "", 1000) {
		if err != nil {
			t.Fatal(err)
		}
		if e.GetIndex() != i || !bytes.Equal(w2.leaves[i], e.GetLeafHash()) {
			t.Fatalf("log entry %d (leaf hash %x) vs watched %x", e.GetIndex(), e.GetLeafHash(), w2.leaves[i])
		}
		i++
	}
	if i != cp.Size || uint64(len(w2.leaves)) != cp.Size {
		t.Fatalf("listed %d entries, watched %d, log size %d", i, len(w2.leaves), cp.Size)
	}
	t.Logf("log of %d entries after the SIGKILL and restart, every one watched once", cp.Size)
}

// TestWatchCLIResumesFromState: chemledger watch entries --state prints
// entries in order and, run again, starts where the last run stopped.
func TestWatchCLIResumesFromState(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	vkey := logKey(t, dir)
	signers := demoSigners(t, dir)
	if got := submitConcurrently(t, t.Context(), d.grpcAddr, vkey, signers, "cli", 2, 300, false); got != 300 {
		t.Fatalf("%d of 300 acknowledged", got)
	}
	state := filepath.Join(t.TempDir(), "watch.state")
	filter := `kind = PRE_EXPORT_NOTIFICATION`
	seen := map[uint64]int{}
	var order []uint64
	for run := range 3 {
		r := d.runCLI(t, "watch", "entries", "--filter", filter, "--state", state, "--limit", "10", "-o", "json")
		if r.code != 0 {
			t.Fatalf("run %d: exit %d: %s", run, r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 10 {
			t.Fatalf("run %d printed %d lines, want 10:\n%s", run, len(lines), r.stdout)
		}
		for _, l := range lines {
			var e struct {
				Index string `json:"index"`
				Event struct {
					Kind string `json:"kind"`
				} `json:"event"`
			}
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("run %d: %q: %v", run, l, err)
			}
			if e.Event.Kind != chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION.String() {
				t.Errorf("run %d: entry %s is a %s", run, e.Index, e.Event.Kind)
			}
			var i uint64
			fmt.Sscan(e.Index, &i)
			seen[i]++
			order = append(order, i)
		}
	}
	if !slices.IsSorted(order) || len(seen) != 30 {
		t.Fatalf("three runs of ten printed %v: want thirty distinct entries in log order", order)
	}
	// Each run starts right after the last: the first run's entries are
	// the first ten notifications in the log.
	var want []uint64
	for e, err := range d.dial(t).List(t.Context(), filter, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if want = append(want, e.GetIndex()); len(want) == 30 {
			break
		}
	}
	if !slices.Equal(order, want) {
		t.Errorf("watched %v, the list says %v", order, want)
	}
	// Flags: the examples raise some. A first run prints them; a second
	// from the same state file has nothing new to print before its
	// timeout.
	fstate := filepath.Join(t.TempDir(), "flags.state")
	fr := d.runCLI(t, "watch", "flags", "--state", fstate, "--limit", "1", "-o", "json")
	if fr.code != 0 {
		t.Fatalf("watch flags: exit %d: %s", fr.code, fr.stderr)
	}
	ids := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(fr.stdout), "\n") {
		var ch struct {
			Kind string `json:"kind"`
			Flag struct {
				ID string `json:"id"`
			} `json:"flag"`
		}
		if err := json.Unmarshal([]byte(l), &ch); err != nil || ch.Kind != "FLAG_CHANGE_KIND_RAISED" || ch.Flag.ID == "" || ids[ch.Flag.ID] {
			t.Fatalf("watch flags: %q (%v)", l, err)
		}
		ids[ch.Flag.ID] = true
	}
	if again := d.runCLI(t, "watch", "flags", "--state", fstate, "--timeout", "2s", "-o", "json"); again.code != 0 || again.stdout != "" {
		t.Errorf("watch flags resumed from its state: exit %d, printed %q (%s); want nothing new", again.code, again.stdout, again.stderr)
	}
	r := d.runCLI(t, "watch", "entries", "--filter", "kind = EXPORT_DECLARATION", "--state", state, "--limit", "1")
	if r.code == 0 || !strings.Contains(r.stderr, "filter") {
		t.Errorf("resuming a state file with another filter: exit %d, %s; want a refusal naming the filter", r.code, r.stderr)
	}
}
