// Package groupcommit gathers queued requests into batches for a single
// writer: one commit (one fsync) costs about the same for one request as
// for a thousand, so under load a short wait for company saves whole
// fsyncs. The audit trail's writer uses it (the ledger's sequencer fills
// its batches from per-member queues instead: ledger/fairqueue.go).
//
// It must not commit anything itself; the writer that owns the transaction
// does.
package groupcommit

import "time"

// Fill appends to batch what is queued, up to max. With linger > 0 it
// waits that long for more before giving up; otherwise it takes only what
// is already there. keep, when set, drops requests it refuses (a caller
// that has already given up).
func Fill[T any](queue <-chan T, batch []T, max int, linger time.Duration, keep func(T) bool) []T {
	add := func(r T) {
		if keep == nil || keep(r) {
			batch = append(batch, r)
		}
	}
	var timeout <-chan time.Time
	if linger > 0 {
		t := time.NewTimer(linger)
		defer t.Stop()
		timeout = t.C
	}
	for len(batch) < max {
		select {
		case r := <-queue:
			add(r)
			continue
		default:
		}
		if timeout == nil {
			return batch
		}
		select {
		case r := <-queue:
			add(r)
		case <-timeout:
			return batch
		}
	}
	return batch
}
