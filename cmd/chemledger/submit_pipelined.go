package main

import (
	"context"
	"sync"

	"github.com/spf13/cobra"

	"github.com/chemledger/chemledger/client"
)

// sendPipelined submits a file of many members' lines, interleaved line by
// line as a migrated history is, at bulk speed: one bulk stream per
// signing member, all open at once, each line handed to its member's stream
// as soon as the order that matters allows. That order is: a line of a
// shipment goes after every earlier line of that shipment (a reply never
// overtakes its notification, a receipt never its export), and a registry
// entry (a licence, a watch-list entry, a member change) is a barrier that
// every later line waits for and that waits for every earlier one, since
// the detector judges events by the registry as it stands. Each member's
// own lines keep their order on its stream. Lines of unrelated shipments
// from different members may reach the log in either order; sending them
// strictly one after another would make every line wait for the commit of
// the one before.
func (a *app) sendPipelined(ctx context.Context, cmd *cobra.Command, rep *reporter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(rep.sent)
	var (
		mu      sync.Mutex
		changed = sync.NewCond(&mu)
		done    = make([]bool, n)
		ndone   int // positions 0..ndone-1 are all done
		results = make([]*client.BulkResult, n)
		emitted int
		failed  error
	)
	// finish records pos's answer and prints, in input order, every answer
	// that is now ready.
	finish := func(pos int, r client.BulkResult) {
		mu.Lock()
		defer mu.Unlock()
		done[pos], results[pos] = true, &r
		for ndone < n && done[ndone] {
			ndone++
		}
		for emitted < n && results[emitted] != nil {
			x := results[emitted]
			rep.result(emitted, x.Index, x.LeafHash, x.Err)
			emitted++
		}
		changed.Broadcast()
	}

	type stream struct {
		ch  chan int
		pos []int // the global positions sent on it, in order
	}
	streams := map[string]*stream{}
	var wg sync.WaitGroup
	conns := map[string]*client.Client{}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	open := func(member, role string) (*stream, error) {
		key := member + "/" + role
		if st, ok := streams[key]; ok {
			return st, nil
		}
		c, err := a.dial(ctx, cmd.ErrOrStderr(), member, role)
		if err != nil {
			return nil, err
		}
		conns[key] = c
		// Room for every line, so that handing one over never blocks the
		// dispatcher, which holds the lock the answers need.
		st := &stream{ch: make(chan int, n)}
		streams[key] = st
		wg.Add(1)
		go func() {
			defer wg.Done()
			var smu sync.Mutex
			items := func(yield func(client.Item) bool) {
				for pos := range st.ch {
					smu.Lock()
					st.pos = append(st.pos, pos)
					smu.Unlock()
					l := rep.lines[rep.sent[pos]]
					if !yield(client.Item{SubmissionID: l.id, Envelope: l.env}) {
						return
					}
				}
			}
			err := c.SubmitStream(ctx, items, func(r client.BulkResult) {
				smu.Lock()
				pos := st.pos[r.Position]
				smu.Unlock()
				finish(pos, r)
			})
			if err != nil {
				mu.Lock()
				if failed == nil {
					failed = err
				}
				changed.Broadcast()
				mu.Unlock()
				cancel()
			}
		}()
		return st, nil
	}

	// Every member's stream is open before the first line goes.
	for pos := range n {
		l := rep.lines[rep.sent[pos]]
		if _, err := open(l.member, l.role); err != nil {
			return err
		}
	}
	streamOf := func(pos int) *stream {
		l := rep.lines[rep.sent[pos]]
		return streams[l.member+"/"+l.role]
	}
	// The dispatcher walks the file in order and sends each line whose
	// predecessors allow it; a line that must wait is kept aside, so that
	// the lines after it that do not depend on it are not held up.
	prev := make([]int, n)      // the earlier line of the same shipment, or -1
	barrierOf := make([]int, n) // the latest registry line before it, or -1
	sent := make([]bool, n)
	lastOf := map[string]int{}
	barrier := -1
	ready := func(pos int) bool {
		if b := barrierOf[pos]; b >= 0 && !done[b] {
			return false
		}
		p := prev[pos]
		return p < 0 || done[p] || (sent[p] && streamOf(p) == streamOf(pos))
	}
	send := func(pos int) {
		sent[pos] = true
		streamOf(pos).ch <- pos
	}
	const window = 1 << 16 // lines considered ahead of the last one answered
	var pending []int
	next := 0
	mu.Lock()
	for failed == nil && (next < n || len(pending) > 0) {
		kept := pending[:0]
		for _, p := range pending {
			if ready(p) {
				send(p)
			} else {
				kept = append(kept, p)
			}
		}
		pending = kept
		for next < n && next-ndone < window {
			l := rep.lines[rep.sent[next]]
			prev[next], barrierOf[next] = -1, barrier
			if l.shipment == "" {
				// A registry entry waits for every line before it, and
				// every line after it waits for it.
				if ndone < next {
					break
				}
				send(next)
				barrier = next
				next++
				continue
			}
			if p, ok := lastOf[l.shipment]; ok {
				prev[next] = p
			}
			lastOf[l.shipment] = next
			if ready(next) {
				send(next)
			} else {
				pending = append(pending, next)
			}
			next++
		}
		if next < n || len(pending) > 0 {
			changed.Wait()
		}
	}
	mu.Unlock()
	var dispatchErr error
	for _, st := range streams {
		close(st.ch)
	}
	wg.Wait()
	if dispatchErr != nil {
		return dispatchErr
	}
	return failed
}
