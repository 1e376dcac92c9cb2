package ledger

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/internal/failpoint"
	"github.com/chemledger/chemledger/storage"
)

// request is one submission waiting for the sequencer.
type request struct {
	sub       Submission
	withProof bool
	done      chan Outcome
	// seq is the request's place in the order of arrival (fairQueue).
	seq uint64
}

// Outcome is what became of one submission.
type Outcome struct {
	Receipt *Receipt
	Err     error
}

// Submit appends one submission and returns its receipt once the entry is
// durable. If ctx ends first the entry may still be committed; retrying with
// the same submission id and bytes is safe and returns the same receipt.
func (l *Ledger) Submit(ctx context.Context, sub Submission) (*Receipt, error) {
	ch, err := l.Enqueue(ctx, sub, true)
	if err != nil {
		return nil, err
	}
	select {
	case o := <-ch:
		return o.Receipt, o.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Enqueue hands a submission to the sequencer and returns the channel its
// outcome arrives on, so that a bulk caller can keep many in flight. It
// blocks while the submitting member's queue is full (back-pressure) until
// ctx ends; another member's queue is its own (see fairQueue). Without
// withProof the receipt carries no inclusion proof, which saves a bulk
// stream O(log n) reads per entry; the proof can be fetched later.
func (l *Ledger) Enqueue(ctx context.Context, sub Submission, withProof bool) (<-chan Outcome, error) {
	if (sub.Upstream != nil) != l.cfg.Mirror {
		if l.cfg.Mirror {
			return nil, ErrMirror
		}
		return nil, errors.New("ledger: an upstream position is for a mirror")
	}
	if l.cfg.Mirror {
		// A mirror appends the upstream's entries in the upstream's order,
		// whoever signed them: one queue, never a fair share per member.
		sub.Caller = mirrorCaller
	}
	r := &request{sub: sub, withProof: withProof, done: make(chan Outcome, 1)}
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.isClosed {
		return nil, ErrClosed
	}
	if err := l.queue.push(ctx, r); err != nil {
		return nil, err
	}
	return r.done, nil
}

// mirrorCaller is the one queue of a mirror's submissions.
const mirrorCaller = "(upstream)"

// sequence is the single writer: it takes what is queued, up to MaxBatch,
// commits it as one transaction and hands the batch to the responder. While
// one batch commits, the next one queues up, so the batch size follows the
// load with no timer.
func (l *Ledger) sequence() {
	responses := make(chan []*settled, 4)
	responderDone := make(chan struct{})
	go func() {
		defer close(responderDone)
		for b := range responses {
			l.respond(b)
		}
	}()
	defer func() {
		close(responses)
		<-responderDone
		close(l.stopped)
	}()

	// commitAll commits batch, and what a cut left of it, in order.
	commitAll := func(batch []*request) {
		for len(batch) > 0 {
			var done []*settled
			done, batch = l.commit(batch)
			responses <- done
		}
	}
	batch := make([]*request, 0, l.cfg.MaxBatch)
	for {
		if !l.queue.pending() {
			select {
			case <-l.queue.ready:
			case <-l.closing:
			}
		}
		select {
		case <-l.closing:
			// Commit what was accepted into the queue before Close; nothing
			// can be added now.
			for {
				batch = l.fill(batch[:0], false)
				if len(batch) == 0 {
					return
				}
				commitAll(batch)
			}
		default:
		}
		if batch = l.fill(batch[:0], true); len(batch) > 0 {
			commitAll(batch)
		}
	}
}

// fill takes a batch of what is queued, up to MaxBatch, lingering (when
// asked and a Linger is configured) for more: under load a slightly later
// commit carries many more entries. The batch is in order of arrival.
func (l *Ledger) fill(batch []*request, linger bool) []*request {
	defer func() {
		slices.SortFunc(batch, func(a, b *request) int { return cmp.Compare(a.seq, b.seq) })
	}()
	taken := map[*memberQueue]int{}
	batch = l.queue.take(batch, l.cfg.MaxBatch, taken)
	if !linger || l.cfg.Linger <= 0 || len(batch) == 0 {
		return batch
	}
	t := time.NewTimer(l.cfg.Linger)
	defer t.Stop()
	for len(batch) < l.cfg.MaxBatch {
		select {
		case <-l.queue.ready:
			batch = l.queue.take(batch, l.cfg.MaxBatch, taken)
		case <-t.C:
			return batch
		}
	}
	return batch
}

// settled is a request whose fate the commit decided: an index (new or
// earlier) or an error.
type settled struct {
	req   *request
	index uint64
	err   error
	// added: this request made a new entry (not an earlier one again).
	added bool
}

// commit writes the new submissions of batch in one durable transaction:
// entries, metadata, idempotency records, index keys, the new tree nodes,
// the tree state and the signed checkpoint. Either all of it is on disk when
// it returns, or none of it is and every request fails. A new entry with an
// OnCommit hook ends the batch: the requests after it are returned as rest,
// for the next commit, so that its hook runs before they are decided.
func (l *Ledger) commit(batch []*request) (done []*settled, rest []*request) {
	out := make([]*settled, len(batch))
	for i, r := range batch {
		out[i] = &settled{req: r}
	}
	start := l.tree.End()
	saved := slices.Clone(l.tree.Hashes())
	now := max(l.cfg.Now().UnixNano(), l.lastTime)
	began := time.Now()

	var (
		newCP   checkpoint.Checkpoint
		newNote []byte
		added   int
	)
	sync, err := l.store.UpdateTimed(func(tx *storage.WriteTx) error {
		// Decide first, so every new entry's metadata can name the
		// checkpoint size this batch ends at.
		pending := map[string]*settled{}
		pendingEvents := map[string]uint64{}
		var fresh []*settled
		next := start
		decided := len(out)
		for i, s := range out {
			if len(fresh) > 0 && (fresh[len(fresh)-1].req.sub.OnCommit != nil || ends(fresh[len(fresh)-1])) {
				decided = i // cut after a change of who may submit, or a mirrored checkpoint
				break
			}
			sub := &s.req.sub
			if prev, ok := pending[sub.ID]; ok {
				if bytes.Equal(prev.req.sub.Leaf, sub.Leaf) {
					s.index = prev.index
				} else {
					s.err = conflict(sub.ID, prev.index)
				}
				continue
			}
			rec, found, err := tx.Submission(sub.ID)
			if err != nil {
				return err
			}
			if found {
				if rec.SameLeaf(sub.Leaf) {
					s.index = rec.Index
				} else {
					s.err = conflict(sub.ID, rec.Index)
				}
				continue
			}
			if sub.Upstream != nil {
				// The upstream decided duplicates; the index is all a
				// mirror checks.
				if err := checkMirrorEntry(sub, next); err != nil {
					return err
				}
			} else if sub.EventKey != "" {
				if i, ok := pendingEvents[sub.EventKey]; ok {
					s.err = duplicateEvent(sub.EventKey, i)
					continue
				}
				if i, ok := tx.EventKey(sub.EventKey); ok {
					s.err = duplicateEvent(sub.EventKey, i)
					continue
				}
			}
			if sub.Recheck != nil {
				if s.err = sub.Recheck(); s.err != nil {
					continue
				}
			}
			if sub.EventKey != "" {
				pendingEvents[sub.EventKey] = next
			}
			s.index = next
			next++
			pending[sub.ID] = s
			s.added = true
			fresh = append(fresh, s)
		}
		out, rest = out[:decided], batch[decided:]
		if len(fresh) == 0 {
			return nil
		}
		end := next
		var visitErr error
		visit := func(id compact.NodeID, h []byte) {
			if visitErr == nil {
				visitErr = tx.PutNode(id.Level, id.Index, h)
			}
		}
		for _, s := range fresh {
			sub := &s.req.sub
			m := storage.Meta{
				SubmissionID: sub.ID, Member: sub.Member, ShipmentRef: sub.ShipmentRef, EventKey: sub.EventKey,
				CAS: sub.CAS, Kind: sub.Kind, IntegratedTime: now, CheckpointSize: end,
			}
			if sub.Upstream != nil {
				m.CheckpointSize = sub.Upstream.CoveredBy
			}
			if err := tx.AppendEntry(s.index, sub.Leaf, m); err != nil {
				return err
			}
			if err := l.tree.Append(hasher.HashLeaf(sub.Leaf), visit); err != nil {
				return fmt.Errorf("extend tree: %w", err)
			}
			if visitErr != nil {
				return fmt.Errorf("store tree node: %w", visitErr)
			}
		}
		root, err := l.tree.GetRootHash(nil)
		if err != nil {
			return fmt.Errorf("tree root: %w", err)
		}
		if l.cfg.Mirror {
			// A mirror stores its upstream's checkpoint where the range
			// ends, after checking it is the tree just built; inside a
			// range it stores no checkpoint.
			if last := fresh[len(fresh)-1]; ends(last) {
				if newCP, err = l.mirrorCheckpoint(last.req.sub.Upstream.Checkpoint, end, root); err != nil {
					return err
				}
				newNote = last.req.sub.Upstream.Checkpoint
			}
		} else {
			failpoint.Inject("ledger/before-sign") // entries written, checkpoint unsigned
			newCP, newNote, err = l.sign(end, root)
			if err != nil {
				return err
			}
			failpoint.Inject("ledger/after-sign") // checkpoint signed, not stored
		}
		if err := tx.PutTree(storage.Tree{Size: end, Hashes: l.tree.Hashes()}); err != nil {
			return err
		}
		if newNote != nil {
			if err := tx.PutCheckpoint(end, newNote); err != nil {
				return err
			}
		}
		if h := l.cfg.Hooks; h != nil && h.BeforeCommit != nil {
			if err := h.BeforeCommit(end); err != nil {
				return err
			}
		}
		added = len(fresh)
		failpoint.Inject("ledger/before-commit") // all written, not committed
		return nil
	})
	stats := CommitStats{Batch: len(out), Added: added, Took: time.Since(began), Sync: sync, Err: err}
	if err != nil {
		stats.Added = 0 // nothing was written
	}
	l.observed(stats)
	if err != nil {
		// Nothing was written: put the tree back as it was and fail the
		// whole batch. Nobody was answered, so nothing acknowledged is lost.
		l.tree, _ = l.rf.NewRange(0, start, saved)
		l.cfg.Logger.Error("commit failed", "batch", len(batch), "err", err)
		l.writeErr.Store(&err)
		for _, s := range out {
			s.err = fmt.Errorf("commit: %w", err)
		}
		return out, rest
	}
	failpoint.Inject("ledger/after-commit") // durable, not published or answered
	l.writeErr.Store(nil)
	if added > 0 {
		l.lastTime = now
		l.stored.Store(l.tree.End())
		if newNote != nil {
			l.publish(newCP, newNote)
		}
	}
	for _, s := range out {
		if s.added && s.req.sub.OnCommit != nil {
			s.req.sub.OnCommit(s.index)
		}
	}
	return out, rest
}

// ends reports whether s is a mirrored entry that ends an upstream
// checkpoint's tree.
func ends(s *settled) bool {
	return s.req.sub.Upstream != nil && s.req.sub.Upstream.Checkpoint != nil
}

func duplicateEvent(key string, index uint64) error {
	member, id, _ := strings.Cut(key, "\x00")
	return fmt.Errorf("%w: member %s already submitted %q as entry %d; a correction is a new event that references it", ErrDuplicateEvent, member, id, index)
}

func conflict(id string, index uint64) error {
	return fmt.Errorf("%w: submission id %q is entry %d", ErrConflict, id, index)
}

// respond builds each settled request's receipt from committed state and
// answers it. Every request is answered exactly once.
func (l *Ledger) respond(batch []*settled) {
	failpoint.Inject("ledger/before-reply") // committed, nobody answered
	answered := 0
	err := l.store.View(func(tx *storage.ReadTx) error {
		nc := newNodeCache(tx) // the batch's proofs share most nodes
		for _, s := range batch {
			o := Outcome{Err: s.err}
			if s.err == nil && s.req.sub.Upstream != nil {
				// A mirrored entry needs no receipt: the upstream gave it.
				o.Receipt = &Receipt{Index: s.index}
			} else if s.err == nil {
				r, err := receipt(tx, nc, s.index, s.req.withProof)
				if err != nil {
					o.Err = fmt.Errorf("build receipt of entry %d: %w", s.index, err)
				}
				o.Receipt = r
			}
			s.req.done <- o
			answered++
		}
		return nil
	})
	for _, s := range batch[answered:] {
		s.req.done <- Outcome{Err: fmt.Errorf("build receipt: %w", err)}
	}
}

// receipt is the receipt of the entry at index, relative to the first
// checkpoint that covers it: the same bytes however often it is asked for.
func receipt(tx *storage.ReadTx, nc *nodeCache, index uint64, withProof bool) (*Receipt, error) {
	m, err := tx.Meta(index)
	if err != nil {
		return nil, err
	}
	lh, err := nc.node(compact.NodeID{Level: 0, Index: index})
	if err != nil {
		return nil, err
	}
	n, err := tx.Checkpoint(m.CheckpointSize)
	if err != nil {
		return nil, err
	}
	cp, err := parseSigned(n)
	if err != nil {
		return nil, err
	}
	var proof [][]byte
	if withProof {
		if proof, err = inclusionProof(nc, index, m.CheckpointSize); err != nil {
			return nil, err
		}
	}
	return &Receipt{
		SubmissionID:   m.SubmissionID,
		Index:          index,
		LeafHash:       append([]byte(nil), lh...),
		Member:         m.Member,
		IntegratedTime: time.Unix(0, m.IntegratedTime).UTC(),
		Checkpoint:     cp,
		CheckpointNote: append([]byte(nil), n...),
		Proof:          proof,
	}, nil
}

// parseSigned reads the body of a checkpoint note this log signed and
// stored; its signature was checked when the ledger opened or signed it.
func parseSigned(n []byte) (checkpoint.Checkpoint, error) {
	body, _, ok := strings.Cut(string(n), "\n\n")
	if !ok {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: stored checkpoint has no signature block", storage.ErrCorrupt)
	}
	return checkpoint.Parse(body + "\n")
}
