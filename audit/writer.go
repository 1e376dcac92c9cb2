package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/chemledger/chemledger/internal/groupcommit"
)

// request is one record waiting for the writer.
type request struct {
	rec Record
	// state settles the race between a caller giving up and the writer
	// taking the record: whichever moves it off statePending first wins.
	state atomic.Int32
	done  chan result
}

const (
	statePending   int32 = iota
	stateTaken           // the writer has it; the caller waits for the commit
	stateAbandoned       // the caller's ctx ended first; the writer drops it
)

type result struct {
	rec Record
	err error
}

// errInjected is the failure InjectFailures arranges.
var errInjected = errors.New("injected audit write failure")

// Append makes r durable and returns it as stored, with Seq, Prev and Hash
// set and its fields normalised (Time in UTC to the microsecond, or now if
// zero; strings valid UTF-8 and at most MaxFieldBytes; a Resources list
// longer than MaxResources cut to that and a count of the rest). It returns only after the batch holding r is committed and
// fsynced; records appended concurrently are chained in commit order.
//
// If the commit fails, Append returns the error and r is not stored; the
// caller should fail its request closed. If ctx ends before the writer has
// taken r, Append returns ctx.Err() and r is never stored. Once the writer
// has taken r (at most Linger before its commit starts), Append waits for
// the commit whatever ctx does, so a nil error always means stored and a
// ctx error always means not stored.
func (s *Store) Append(ctx context.Context, r Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	req := &request{rec: normalize(r, s.now), done: make(chan result, 1)}
	if err := s.enqueue(ctx, req); err != nil {
		return Record{}, err
	}
	select {
	case res := <-req.done:
		return res.rec, res.err
	case <-ctx.Done():
		if req.state.CompareAndSwap(statePending, stateAbandoned) {
			return Record{}, ctx.Err()
		}
		res := <-req.done
		return res.rec, res.err
	}
}

// enqueue hands req to the writer, blocking while the queue is full
// (back-pressure) until ctx ends.
func (s *Store) enqueue(ctx context.Context, req *request) error {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.isClosed {
		return ErrClosed
	}
	select {
	case s.queue <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InjectFailures makes the next n commits fail, each failing every Append in
// its batch, so that tests can check a read fails closed when its audit
// record cannot be written.
func (s *Store) InjectFailures(n int) { s.failures.Store(int64(n)) }

// WriteError is the error of the last commit, or nil when the last commit
// succeeded: while it is set, every audited request fails, which health
// should report.
func (s *Store) WriteError() error {
	if p := s.writeErr.Load(); p != nil {
		return *p
	}
	return nil
}

// run is the single writer: it takes the first queued record, gathers more
// for up to Linger or MaxBatch, commits them in one transaction and answers
// them. Being the only goroutine that touches the head, it needs no lock.
func (s *Store) run() {
	defer close(s.stopped)
	batch := make([]*request, 0, s.opts.MaxBatch)
	for {
		select {
		case r := <-s.queue:
			batch = batch[:0]
			if taken(r) {
				batch = append(batch, r)
			}
		case <-s.closing:
			// Close holds back new Appends; commit what is queued.
			for {
				if batch = s.fill(batch[:0], false); len(batch) == 0 {
					return
				}
				s.commit(batch)
			}
		}
		if len(batch) == 0 {
			continue // its caller gave up
		}
		batch = s.fill(batch, true)
		s.commit(batch)
	}
}

// taken claims r for the writer, unless its caller has already given up.
func taken(r *request) bool { return r.state.CompareAndSwap(statePending, stateTaken) }

// fill adds what is queued to batch, up to MaxBatch, waiting up to Linger
// for more when linger is set: one commit costs about the same for one
// record as for a thousand, so a short wait under load saves whole fsyncs.
func (s *Store) fill(batch []*request, linger bool) []*request {
	wait := time.Duration(0)
	if linger {
		wait = s.opts.Linger
	}
	return groupcommit.Fill(s.queue, batch, s.opts.MaxBatch, wait, taken)
}

// commit chains batch onto the head, writes it in one transaction and
// answers every request in it. If the commit fails nothing was written: the
// head stays where it was, so the next batch links to the last committed
// record and takes the seqs this one would have had.
func (s *Store) commit(batch []*request) {
	recs := make([]Record, len(batch))
	seq, prev := s.nextSeq, s.head
	for i, req := range batch {
		r := req.rec
		p := prev
		r.Seq, r.Prev = seq, p[:]
		r.Hash = r.ComputeHash()
		recs[i] = r
		seq++
		copy(prev[:], r.Hash)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if s.takeFailure() {
			return errInjected
		}
		b := tx.Bucket(bucketRecords)
		b.FillPercent = 1 // keys only grow; full pages waste no space
		for _, r := range recs {
			v, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("encode record %d: %w", r.Seq, err)
			}
			if err := b.Put(seqKey(r.Seq), v); err != nil {
				return fmt.Errorf("put record %d: %w", r.Seq, err)
			}
		}
		return nil
	})
	if err != nil {
		s.opts.Logger.Error("audit commit failed", "records", len(batch), "first_seq", s.nextSeq, "err", err)
		s.writeErr.Store(&err)
		err = fmt.Errorf("commit audit records %d–%d: %w", s.nextSeq, seq-1, err)
		for _, req := range batch {
			req.done <- result{err: err}
		}
		return
	}
	s.writeErr.Store(nil)
	s.nextSeq, s.head = seq, prev
	s.commits.Add(1)
	s.committed.Add(uint64(len(batch)))
	for i, req := range batch {
		req.done <- result{rec: recs[i]}
	}
}

// takeFailure uses up one injected failure, if any is left.
func (s *Store) takeFailure() bool {
	for {
		n := s.failures.Load()
		if n <= 0 {
			return false
		}
		if s.failures.CompareAndSwap(n, n-1) {
			return true
		}
	}
}
