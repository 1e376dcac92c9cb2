package ledger

import (
	"context"
	"sync"
	"time"
)

// fairQueue is what waits for the sequencer: one first-come-first-served
// queue per member, from which the sequencer fills each batch in turn. A
// single queue would be first come, first served across members, so a
// member with 200 submitters would fill every batch with its entries and
// another member's submission would wait behind all of them (the token
// bucket does not stop this: it lets through more than the machine
// serves). Here another member's submission joins the very next batch,
// and while more than one member is submitting each batch carries at most
// share entries of each, so the commit it waits for stays short. A member
// alone gets whole batches. A member with perMember submissions queued
// waits (back-pressure) for the sequencer to take some; nothing is
// refused. Which requests a batch carries is decided per member; within
// the batch they keep the order they were queued in, so that without
// contention the log order is the arrival order, as with a single queue.
type fairQueue struct {
	// perMember bounds one member's queue (Config.QueueSize); share
	// bounds one member's entries in a batch while another member is
	// active (Config.MemberShare).
	perMember, share int
	// activeFor is how long a member counts as submitting after its last
	// submission, so that a member between two submissions (its receipt on
	// the wire, its next submission being admitted) still holds the others
	// to their share.
	activeFor time.Duration
	now       func() time.Time

	mu sync.Mutex
	// seq numbers requests in the order they were queued.
	seq uint64
	by  map[string]*memberQueue
	// turn is the members with submissions queued, in the order the next
	// batch serves them.
	turn []*memberQueue
	// ready has a value whenever something was queued since the
	// sequencer last looked.
	ready chan struct{}
}

type memberQueue struct {
	reqs     []*request
	lastSeen time.Time
	inTurn   bool
	// space is closed, and replaced, when requests are taken from reqs.
	space chan struct{}
}

// DefaultActiveFor is how long a member counts as submitting after its
// last submission: much longer than the gap between a closed-loop
// submitter's receipt and its next submission (a round trip and an
// admission, about a millisecond), short enough that a member gone quiet
// soon stops holding the others to their share.
const DefaultActiveFor = 100 * time.Millisecond

func newFairQueue(perMember, share int, activeFor time.Duration, now func() time.Time) *fairQueue {
	return &fairQueue{
		perMember: perMember, share: share, activeFor: activeFor, now: now,
		by: map[string]*memberQueue{}, ready: make(chan struct{}, 1),
	}
}

// push queues r behind its member's earlier submissions, waiting while the
// member's queue is full until ctx ends.
func (q *fairQueue) push(ctx context.Context, r *request) error {
	for {
		q.mu.Lock()
		who := r.sub.Caller
		if who == "" {
			who = r.sub.Member
		}
		m := q.by[who]
		if m == nil {
			m = &memberQueue{space: make(chan struct{})}
			q.by[who] = m
		}
		m.lastSeen = q.now()
		if len(m.reqs) < q.perMember {
			q.seq++
			r.seq = q.seq
			m.reqs = append(m.reqs, r)
			if !m.inTurn {
				m.inTurn = true
				q.turn = append(q.turn, m)
			}
			q.mu.Unlock()
			select {
			case q.ready <- struct{}{}:
			default:
			}
			return nil
		}
		space := m.space
		q.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pending says whether anything is queued.
func (q *fairQueue) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.turn) > 0
}

// take adds queued requests to batch, up to max in all: from each member
// in turn, at most share of each (counting what taken says batch already
// holds of it) while more than one member is active, and updates taken.
// The member after the last one served goes first next time.
func (q *fairQueue) take(batch []*request, max int, taken map[*memberQueue]int) []*request {
	q.mu.Lock()
	defer q.mu.Unlock()
	per := max
	if q.contendedLocked() {
		per = q.share
	}
	served := 0
	for i, m := range q.turn {
		if len(batch) >= max {
			break
		}
		served = i + 1
		n := min(len(m.reqs), per-taken[m], max-len(batch))
		if n <= 0 {
			continue
		}
		batch = append(batch, m.reqs[:n]...)
		clear(m.reqs[:n]) // no reference kept to answered requests
		m.reqs = m.reqs[n:]
		taken[m] += n
		close(m.space)
		m.space = make(chan struct{})
	}
	// Rotate: those not served this time first, then those served, and
	// drop the members with nothing left.
	next := make([]*memberQueue, 0, len(q.turn))
	for _, m := range append(q.turn[served:], q.turn[:served]...) {
		if len(m.reqs) > 0 {
			next = append(next, m)
		} else {
			m.inTurn = false
		}
	}
	q.turn = next
	return batch
}

// contendedLocked says whether more than one member is submitting: has
// requests queued or queued one within activeFor.
func (q *fairQueue) contendedLocked() bool {
	now, active := q.now(), 0
	for _, m := range q.by {
		if len(m.reqs) > 0 || now.Sub(m.lastSeen) < q.activeFor {
			if active++; active > 1 {
				return true
			}
		}
	}
	return false
}

// depth is the number of submissions queued now, over every member.
func (q *fairQueue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, m := range q.by {
		n += len(m.reqs)
	}
	return n
}
