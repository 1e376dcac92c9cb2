package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/chemledger/chemledger/audit"
)

// DefaultRefusalWindow is how long refusals of one kind (principal, front
// door, method, outcome) are counted into one audit record after the first
// of them is recorded on its own. A flood of refusals then costs at most
// two audit appends (two fsyncs) per kind per window, where it cost one
// each: the trail stays a trail of who was turned away, not a disk-I/O
// amplifier for whoever is being turned away.
const DefaultRefusalWindow = time.Second

// maxCountedResources is how many distinct resources a counted record
// names; the refusals for others are counted in a last item. Refused
// callers choose their resources, and a window's record must stay small.
const maxCountedResources = 16

// refusalKey is what refusals are counted by.
type refusalKey struct {
	principal, via, method, outcome string
}

// refusalCount is one open window's refusals after its first.
type refusalCount struct {
	n           uint64
	first, last time.Time
	resources   []string
	// unnamed counts the refusals whose resources were not kept.
	unnamed uint64
	timer   *time.Timer
}

// refusals coalesces refused requests into counted audit records. The
// first refusal of a kind is recorded on its own, durably, before its
// answer leaves (as every audited request is); it opens a window of
// DefaultRefusalWindow in which further refusals of the kind are only
// counted, and the window's count is recorded as one record when it
// closes. A count still open at shutdown is recorded by close, so nothing
// is lost from the count on a clean stop; a crash loses at most one
// window's count, never a record already written.
type refusals struct {
	window time.Duration
	append func(context.Context, audit.Record) (audit.Record, error)
	log    *slog.Logger

	mu     sync.Mutex
	open   map[refusalKey]*refusalCount
	closed bool
	// flushing is the window records being written, which close waits
	// for.
	flushing sync.WaitGroup
}

func newRefusals(window time.Duration, append func(context.Context, audit.Record) (audit.Record, error), log *slog.Logger) *refusals {
	if window <= 0 {
		window = DefaultRefusalWindow
	}
	return &refusals{window: window, append: append, log: log, open: map[refusalKey]*refusalCount{}}
}

// record accounts for one refusal. It reports whether rec must be written
// now, on its own (the first of its window, or any after close); otherwise
// it is counted.
func (r *refusals) record(rec audit.Record) (writeNow bool) {
	return r.recordAs(rec, rec.Method)
}

// recordAs is record, counting rec under kind instead of its method: the
// HTTP listener's own refusals name the path in their method, which the
// refused caller chooses, so they are counted by HTTP method alone.
func (r *refusals) recordAs(rec audit.Record, kind string) (writeNow bool) {
	k := refusalKey{rec.Principal, rec.Via, kind, rec.Outcome}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return true
	}
	c := r.open[k]
	if c == nil {
		c = &refusalCount{}
		c.timer = time.AfterFunc(r.window, func() { r.flush(k) })
		r.open[k] = c
		return true
	}
	if c.n == 0 {
		c.first = rec.Time
	}
	c.n++
	c.last = rec.Time
	for _, res := range rec.Resources {
		switch {
		case slices.Contains(c.resources, res):
		case len(c.resources) < maxCountedResources:
			c.resources = append(c.resources, res)
		default:
			c.unnamed++
		}
	}
	return false
}

// flush closes k's window and writes its count, if it counted any.
func (r *refusals) flush(k refusalKey) {
	r.mu.Lock()
	c := r.open[k]
	delete(r.open, k)
	if c == nil || c.n == 0 {
		r.mu.Unlock()
		return
	}
	r.flushing.Add(1)
	r.mu.Unlock()
	defer r.flushing.Done()
	if r.write(k, c) == nil {
		return
	}
	// Not lost: the count goes back into the window, to be tried again
	// when it closes (or at shutdown).
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	cur := r.open[k]
	if cur == nil {
		c.timer = time.AfterFunc(r.window, func() { r.flush(k) })
		r.open[k] = c
		return
	}
	cur.n += c.n
	if cur.first.IsZero() || c.first.Before(cur.first) {
		cur.first = c.first
	}
	if c.last.After(cur.last) {
		cur.last = c.last
	}
	for _, res := range c.resources {
		if !slices.Contains(cur.resources, res) {
			if len(cur.resources) < maxCountedResources {
				cur.resources = append(cur.resources, res)
			} else {
				cur.unnamed++
			}
		}
	}
	cur.unnamed += c.unnamed
}

// write records c as one record (a plain one when it counted a single
// refusal), or logs the count it could not record and returns why.
func (r *refusals) write(k refusalKey, c *refusalCount) error {
	rec := audit.Record{Time: c.first, Principal: k.principal, Via: k.via, Method: k.method, Outcome: k.outcome, Resources: c.resources}
	if c.n > 1 {
		rec.Count, rec.Last = c.n, c.last
	}
	if c.unnamed > 0 {
		rec.Resources = append(slices.Clone(rec.Resources), fmt.Sprintf("… and %d requests for other resources", c.unnamed))
	}
	ctx, cancel := context.WithTimeout(context.Background(), auditTimeout)
	defer cancel()
	if _, err := r.append(ctx, rec); err != nil {
		r.log.Error("audit record of counted refusals not written", "principal", k.principal, "method", k.method, "outcome", k.outcome,
			"count", c.n, "first", c.first, "last", c.last, "err", err)
		return err
	}
	return nil
}

// close records every open window's count and makes later refusals be
// recorded one by one; it returns once all of them are written.
func (r *refusals) close() {
	r.mu.Lock()
	r.closed = true
	open := r.open
	r.open = map[refusalKey]*refusalCount{}
	r.mu.Unlock()
	for k, c := range open {
		c.timer.Stop()
		if c.n > 0 {
			r.write(k, c)
		}
	}
	r.flushing.Wait()
}
