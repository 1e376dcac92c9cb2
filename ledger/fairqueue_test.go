package ledger

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// heldCommits makes every commit wait inside its transaction until the
// test lets it go: a slow fake commit, so that the test decides what is
// queued while one is in progress.
type heldCommits struct {
	started chan uint64
	next    chan struct{}
}

func holdCommits(c *Config) *heldCommits {
	h := &heldCommits{started: make(chan uint64, 1), next: make(chan struct{})}
	c.Linger = 0
	c.Hooks = &Hooks{BeforeCommit: func(size uint64) error {
		h.started <- size
		<-h.next
		return nil
	}}
	return h
}

// release lets the commit in progress finish and waits for the next one to
// start, returning its size; the last call passes last.
func (h *heldCommits) release(t *testing.T) uint64 {
	t.Helper()
	h.next <- struct{}{}
	select {
	case size := <-h.started:
		return size
	case <-time.After(10 * time.Second):
		t.Fatal("no commit started")
		return 0
	}
}

// memberSub is submission i of member.
func memberSub(member string, i int) Submission {
	return Submission{ID: fmt.Sprintf("%s-%d", member, i), Leaf: fmt.Appendf(nil, `{"member":%q,"i":%d}`, member, i), Member: member}
}

func outcomeOf(t *testing.T, ch <-chan Outcome) Outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no outcome")
		return Outcome{}
	}
}

// A member with 40 submissions queued behind a slow commit does not hold up
// another member's: that one is in the very next batch, which carries only
// MemberShare of the flooder's, and the flooder's are all committed after,
// in the order it sent them.
func TestFairQueueVictimAheadOfFlood(t *testing.T) {
	var h *heldCommits
	l, _ := openTestLedger(t, t.TempDir(), func(c *Config) { h = holdCommits(c); c.MemberShare = 2 })
	const flood = 40
	var flooder []<-chan Outcome
	enqueue := func(s Submission) <-chan Outcome {
		ch, err := l.Enqueue(t.Context(), s, true)
		if err != nil {
			t.Fatalf("enqueue %s: %v", s.ID, err)
		}
		return ch
	}
	flooder = append(flooder, enqueue(memberSub("CN-GACC", 0)))
	if size := <-h.started; size != 1 {
		t.Fatalf("first commit ends at size %d, want 1", size)
	}
	for i := 1; i <= flood; i++ {
		flooder = append(flooder, enqueue(memberSub("CN-GACC", i)))
	}
	victim := enqueue(memberSub("MX-ANAM", 0))

	// The next commit: two of the flooder's and the victim's.
	if size := h.release(t); size != 1+2+1 {
		t.Errorf("second commit ends at size %d, want %d (two of the flooder's and the victim's)", size, 1+2+1)
	}
	go func() {
		for {
			select {
			case h.next <- struct{}{}:
			case <-h.started:
			case <-t.Context().Done():
				return
			}
		}
	}()
	v := outcomeOf(t, victim)
	if v.Err != nil {
		t.Fatalf("victim: %v", v.Err)
	}
	if v.Receipt.Index > 3 {
		t.Errorf("victim's entry is at index %d, queued behind the flood; want it in the batch after the one committing (index at most 3)", v.Receipt.Index)
	}
	last := uint64(0)
	for i, ch := range flooder {
		o := outcomeOf(t, ch)
		if o.Err != nil {
			t.Fatalf("flooder's submission %d: %v", i, o.Err)
		}
		if i > 0 && o.Receipt.Index <= last {
			t.Errorf("flooder's submission %d at index %d, after its submission %d at index %d: a member's own order must hold", i, o.Receipt.Index, i-1, last)
		}
		last = o.Receipt.Index
	}
	if cp, _ := l.Checkpoint(); cp.Size != flood+2 {
		t.Errorf("log size %d, want %d", cp.Size, flood+2)
	}
}

// A member whose queue is full waits (back-pressure, nothing refused) and
// holds up nobody else: another member's submission is queued at once.
func TestFairQueueFullMemberWaitsAlone(t *testing.T) {
	var h *heldCommits
	l, _ := openTestLedger(t, t.TempDir(), func(c *Config) { h = holdCommits(c); c.QueueSize = 4 })
	var outs []<-chan Outcome
	for i := range 5 { // one committing, four queued
		ch, err := l.Enqueue(t.Context(), memberSub("CN-GACC", i), false)
		if err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
		outs = append(outs, ch)
		if i == 0 {
			<-h.started
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Enqueue(ctx, memberSub("CN-GACC", 5), false); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("enqueue into a full member queue: %v, want it to wait until the deadline (%v)", err, context.DeadlineExceeded)
	}
	ctx2, cancel2 := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel2()
	victim, err := l.Enqueue(ctx2, memberSub("MX-ANAM", 0), false)
	if err != nil {
		t.Fatalf("another member's enqueue while the flooder's queue is full: %v, want it queued at once", err)
	}
	outs = append(outs, victim)
	// Waiting for space ends as soon as the sequencer takes some.
	waited := make(chan error, 1)
	go func() {
		ch, err := l.Enqueue(t.Context(), memberSub("CN-GACC", 6), false)
		if err == nil {
			outcomeOf(t, ch)
		}
		waited <- err
	}()
	h.release(t)
	go func() {
		for {
			select {
			case h.next <- struct{}{}:
			case <-h.started:
			case <-t.Context().Done():
				return
			}
		}
	}()
	for i, ch := range outs {
		if o := outcomeOf(t, ch); o.Err != nil {
			t.Errorf("submission %d: %v", i, o.Err)
		}
	}
	if err := <-waited; err != nil {
		t.Errorf("the waiting enqueue: %v, want it queued once there was room", err)
	}
}

// A member alone is not held to a share: everything it queued behind a
// commit goes into the next one.
func TestFairQueueMemberAloneFillsBatches(t *testing.T) {
	var h *heldCommits
	l, _ := openTestLedger(t, t.TempDir(), func(c *Config) { h = holdCommits(c); c.MemberShare = 2 })
	var outs []<-chan Outcome
	for i := range 11 {
		ch, err := l.Enqueue(t.Context(), memberSub("CN-GACC", i), false)
		if err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
		outs = append(outs, ch)
		if i == 0 {
			<-h.started
		}
	}
	if size := h.release(t); size != 11 {
		t.Errorf("second commit ends at size %d, want 11: a member alone gets the whole batch", size)
	}
	h.next <- struct{}{}
	for i, ch := range outs {
		if o := outcomeOf(t, ch); o.Err != nil {
			t.Errorf("submission %d: %v", i, o.Err)
		}
	}
}
