package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"pgregory.net/rapid"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/storage"
)

// TestLedgerModel drives a ledger through random sequences of submissions,
// duplicates, conflicts, failed commits, reads, filtered lists, checkpoints,
// proofs, clock steps and close-and-reopen, and checks every answer against an
// in-memory model of the log: the entries in order, the first receipt of each, and a
// reference Merkle tree of the leaves (transparency-dev/merkle/testonly).
//
// The default run (100 sequences of about 30 actions, a few seconds) is for
// every go test; for a longer one:
//
//	go test ./ledger -run TestLedgerModel -rapid.checks=2000 -rapid.steps=100
//
// A failure is shrunk to a short sequence, printed, and saved under
// testdata/rapid/ so that the next run replays it first.
func TestLedgerModel(t *testing.T) {
	base := t.TempDir()
	rapid.Check(t, func(t *rapid.T) {
		dir, err := os.MkdirTemp(base, "check-")
		if err != nil {
			t.Fatal(err)
		}
		m := &ledgerModel{
			dir:    dir,
			byID:   map[string]int{},
			oracle: testonly.New(rfc6962.DefaultHasher),
		}
		m.clock.Store(modelEpoch.UnixNano())
		m.open(t, VerifyFull)
		t.Cleanup(func() {
			m.l.Close()
			m.st.Close()
			os.RemoveAll(dir)
		})
		// Start from a log of some size, so that lists page and proofs have
		// depth without a long sequence of single submissions.
		m.enqueue(t, m.fresh(t, rapid.IntRange(0, 40).Draw(t, "prefill")))

		t.Repeat(map[string]func(*rapid.T){
			"submit":      m.submit,
			"enqueue":     m.enqueueMixed,
			"resubmit":    m.resubmit,
			"conflict":    m.conflict,
			"get":         m.get,
			"list":        m.list,
			"checkpoint":  m.checkpoint,
			"consistency": m.consistency,
			"inclusion":   m.inclusion,
			"tick":        m.tick,
			"reopen":      m.reopen,
			"failCommit":  m.failCommit,
			"":            m.invariant,
		})
	})
}

// modelEpoch is where the model's clock starts.
var modelEpoch = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// Pools of metadata values, small so that filters match something. The
// shipment references include one that is a prefix of another, and ""
// (not every entry has a reference or a CAS number).
var (
	modelMembers = []string{"US-CBP", "MX-ANAM", "CN-GACC"}
	modelRefs    = []string{"", "PEN-1", "PEN-10", "PEN-2"}
	modelCAS     = []string{"", "90-82-4", "103-79-7"}
	modelKinds   = []string{"EXPORT_DECLARATION", "IMPORT_DECLARATION", "REGISTRY_LICENCE"}
)

// modelEntry is the model's record of one entry of the log.
type modelEntry struct {
	sub  Submission
	time int64 // integrated time, unix ns
	// first is the receipt of the first submission; every later
	// submission of the same id and bytes must get the same one.
	first *Receipt
}

// keptCheckpoint is a checkpoint the test was shown and keeps, as a
// monitor would, to ask for proofs against later.
type keptCheckpoint struct {
	cp   checkpoint.Checkpoint
	note []byte
}

type ledgerModel struct {
	dir   string
	clock atomic.Int64 // what Config.Now returns, unix ns
	// failing makes every commit fail (Hooks.BeforeCommit), as a full
	// disk would.
	failing atomic.Bool
	l       *Ledger
	st      *storage.Store

	entries []modelEntry
	byID    map[string]int
	oracle  *testonly.Tree
	kept    []keptCheckpoint
	nextID  int
}

func (m *ledgerModel) open(t *rapid.T, v Verification) {
	st, err := storage.Open(filepath.Join(m.dir, "ledger.db"), storage.DefaultOptions())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	cfg := DefaultConfig(testSigner, testVerifier)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Linger = 0
	// The model predicts indexes in the order submissions were queued,
	// which holds while no member's share of a batch is cut: fair
	// reordering across members is TestFairQueue*'s subject.
	cfg.MemberShare = cfg.MaxBatch
	cfg.VerifyOnOpen = v
	cfg.NewLog = true
	cfg.Now = func() time.Time { return time.Unix(0, m.clock.Load()) }
	cfg.Hooks = &Hooks{BeforeCommit: func(uint64) error {
		if m.failing.Load() {
			return errInjectedCommit
		}
		return nil
	}}
	l, err := Open(st, cfg)
	if err != nil {
		st.Close()
		t.Fatalf("open ledger: %v", err)
	}
	m.l, m.st = l, st
}

func (m *ledgerModel) size() uint64 { return uint64(len(m.entries)) }

// integratedTime is when an entry committed now joins the log: the clock,
// but never before the entry before it.
func (m *ledgerModel) integratedTime() int64 {
	now := m.clock.Load()
	if n := len(m.entries); n > 0 {
		now = max(now, m.entries[n-1].time)
	}
	return now
}

// fresh draws n submissions with new ids.
func (m *ledgerModel) fresh(t *rapid.T, n int) []Submission {
	subs := make([]Submission, n)
	for i := range subs {
		subs[i] = Submission{
			ID:          fmt.Sprintf("sub-%d", m.nextID),
			Leaf:        rapid.SliceOfN(rapid.Byte(), 1, 48).Draw(t, "leaf"),
			Member:      rapid.SampledFrom(modelMembers).Draw(t, "member"),
			ShipmentRef: rapid.SampledFrom(modelRefs).Draw(t, "ref"),
			CAS:         rapid.SampledFrom(modelCAS).Draw(t, "cas"),
			Kind:        rapid.SampledFrom(modelKinds).Draw(t, "kind"),
		}
		m.nextID++
	}
	return subs
}

// earlier picks an entry of the log, or skips the action on an empty log.
func (m *ledgerModel) earlier(t *rapid.T) int {
	if len(m.entries) == 0 {
		t.Skip("empty log")
	}
	return rapid.IntRange(0, len(m.entries)-1).Draw(t, "earlier")
}

// otherBytes returns bytes that differ from leaf.
func otherBytes(t *rapid.T, leaf []byte) []byte {
	b := rapid.SliceOfN(rapid.Byte(), 1, 48).Draw(t, "other")
	if bytes.Equal(b, leaf) {
		b = append(b, 0)
	}
	return b
}

// expectation is what the model says the ledger must answer to one
// submission.
type expectation struct {
	sub       Submission
	withProof bool
	index     uint64
	isNew     bool
	conflict  bool
}

// predict decides, as the model, what each of subs (submitted in this
// order) becomes, without changing the model.
func (m *ledgerModel) predict(subs []Submission, withProof []bool) []expectation {
	out := make([]expectation, len(subs))
	pending := map[string]int{}
	next := m.size()
	for i, s := range subs {
		e := expectation{sub: s, withProof: withProof[i]}
		var known []byte
		switch j, ok := pending[s.ID]; {
		case ok:
			e.index, known = out[j].index, out[j].sub.Leaf
		default:
			if k, ok := m.byID[s.ID]; ok {
				e.index, known = uint64(k), m.entries[k].sub.Leaf
			}
		}
		switch {
		case known == nil:
			e.index, e.isNew = next, true
			pending[s.ID] = i
			next++
		case !bytes.Equal(known, s.Leaf):
			e.conflict = true
		}
		out[i] = e
	}
	return out
}

// enqueue hands subs to the sequencer all at once (so that they share
// commits), waits for every outcome and checks it against the model.
func (m *ledgerModel) enqueue(t *rapid.T, subs []Submission) {
	withProof := make([]bool, len(subs))
	for i := range withProof {
		withProof[i] = rapid.Bool().Draw(t, "withProof")
	}
	want := m.predict(subs, withProof)
	at := m.integratedTime()
	chans := make([]<-chan Outcome, len(subs))
	for i, s := range subs {
		ch, err := m.l.Enqueue(t.Context(), s, withProof[i])
		if err != nil {
			t.Fatalf("enqueue %q: %v", s.ID, err)
		}
		chans[i] = ch
	}
	outcomes := make([]Outcome, len(subs))
	for i, ch := range chans {
		outcomes[i] = <-ch
	}
	// Apply the new entries first: a receipt's checkpoint may cover entries
	// enqueued after it.
	for _, e := range want {
		if e.isNew {
			m.byID[e.sub.ID] = len(m.entries)
			m.entries = append(m.entries, modelEntry{sub: e.sub, time: at})
			m.oracle.AppendData(e.sub.Leaf)
		}
	}
	for i, e := range want {
		m.checkOutcome(t, e, outcomes[i])
	}
}

// checkOutcome checks the answer to one submission, after the model has
// taken in every new entry of the call it was sent with.
func (m *ledgerModel) checkOutcome(t *rapid.T, e expectation, o Outcome) {
	s := e.sub
	if e.conflict {
		if !errors.Is(o.Err, ErrConflict) {
			t.Fatalf("submission %q with other bytes than entry %d: receipt %+v, error %v; want ErrConflict", s.ID, e.index, o.Receipt, o.Err)
		}
		return
	}
	if o.Err != nil {
		t.Fatalf("submission %q (want entry %d, new: %v): %v", s.ID, e.index, e.isNew, o.Err)
	}
	r := o.Receipt
	me := &m.entries[e.index]
	if r.SubmissionID != s.ID || r.Index != e.index || r.Member != s.Member ||
		!bytes.Equal(r.LeafHash, m.oracle.LeafHash(e.index)) || r.IntegratedTime.UnixNano() != me.time {
		t.Fatalf("submission %q: receipt (id %q, index %d, member %q, leaf hash %x, time %d); want (%q, %d, %q, %x, %d)",
			s.ID, r.SubmissionID, r.Index, r.Member, r.LeafHash, r.IntegratedTime.UnixNano(),
			s.ID, e.index, s.Member, m.oracle.LeafHash(e.index), me.time)
	}
	cp := m.openNote(t, r.CheckpointNote)
	if !cp.Equal(r.Checkpoint) {
		t.Fatalf("submission %q: receipt checkpoint %+v differs from its signed note %+v", s.ID, r.Checkpoint, cp)
	}
	if e.isNew && (cp.Size <= e.index || cp.Size > m.size()) {
		t.Fatalf("submission %q (entry %d): receipt checkpoint of size %d, want one of the commits of this call (%d..%d)", s.ID, e.index, cp.Size, e.index+1, m.size())
	}
	if !bytes.Equal(cp.Root, m.oracle.HashAt(cp.Size)) {
		t.Fatalf("submission %q: receipt checkpoint of size %d has root %x; the model's leaves hash to %x", s.ID, cp.Size, cp.Root, m.oracle.HashAt(cp.Size))
	}
	switch {
	case e.withProof:
		if err := cp.VerifyInclusion(e.index, m.oracle.LeafHash(e.index), r.Proof); err != nil {
			t.Fatalf("submission %q: receipt proof: %v", s.ID, err)
		}
	case len(r.Proof) != 0:
		t.Fatalf("submission %q without proof: receipt has %d proof hashes", s.ID, len(r.Proof))
	}
	if me.first == nil {
		me.first = r
		return
	}
	if !sameReceipt(me.first, r) {
		t.Fatalf("submission %q again: receipt %+v; the first one was %+v", s.ID, r, me.first)
	}
	if me.first.Proof == nil {
		me.first = r
	}
}

// sameReceipt compares receipts; the proofs only when both have one.
func sameReceipt(a, b *Receipt) bool {
	if a.SubmissionID != b.SubmissionID || a.Index != b.Index || a.Member != b.Member ||
		!bytes.Equal(a.LeafHash, b.LeafHash) || !a.IntegratedTime.Equal(b.IntegratedTime) ||
		!a.Checkpoint.Equal(b.Checkpoint) || !bytes.Equal(a.CheckpointNote, b.CheckpointNote) {
		return false
	}
	if a.Proof == nil || b.Proof == nil {
		return true
	}
	if len(a.Proof) != len(b.Proof) {
		return false
	}
	for i := range a.Proof {
		if !bytes.Equal(a.Proof[i], b.Proof[i]) {
			return false
		}
	}
	return true
}

func (m *ledgerModel) openNote(t *rapid.T, n []byte) checkpoint.Checkpoint {
	cp, err := checkpoint.Open(n, m.l.Origin(), testVerifier)
	if err != nil {
		t.Fatalf("checkpoint note %q: %v", n, err)
	}
	return cp
}

// submit sends one to three new submissions, one Submit at a time.
func (m *ledgerModel) submit(t *rapid.T) {
	for _, s := range m.fresh(t, rapid.IntRange(1, 3).Draw(t, "n")) {
		m.submitOne(t, s)
	}
}

func (m *ledgerModel) submitOne(t *rapid.T, s Submission) {
	want := m.predict([]Submission{s}, []bool{true})[0]
	at := m.integratedTime()
	r, err := m.l.Submit(t.Context(), s)
	if want.isNew {
		m.byID[s.ID] = len(m.entries)
		m.entries = append(m.entries, modelEntry{sub: s, time: at})
		m.oracle.AppendData(s.Leaf)
	}
	m.checkOutcome(t, want, Outcome{Receipt: r, Err: err})
}

// enqueueMixed enqueues a group of new submissions, repeats of earlier
// entries and of the group's own, and clashing ones (a known id with other
// bytes), in one go.
func (m *ledgerModel) enqueueMixed(t *rapid.T) {
	var subs []Submission
	for range rapid.IntRange(2, 8).Draw(t, "n") {
		// Known submissions: the log's, then the group's so far.
		known := len(m.entries) + len(subs)
		kind := rapid.IntRange(0, 3).Draw(t, "item")
		if kind == 0 || known == 0 {
			subs = append(subs, m.fresh(t, 1)...)
			continue
		}
		var s Submission
		if j := rapid.IntRange(0, known-1).Draw(t, "known"); j < len(m.entries) {
			s = m.entries[j].sub
		} else {
			s = subs[j-len(m.entries)]
		}
		if kind == 3 {
			s.Leaf = otherBytes(t, s.Leaf)
		}
		subs = append(subs, s)
	}
	m.enqueue(t, subs)
}

// resubmit sends an earlier entry's submission again, unchanged.
func (m *ledgerModel) resubmit(t *rapid.T) {
	m.submitOne(t, m.entries[m.earlier(t)].sub)
}

// conflict sends an earlier submission id with other bytes.
func (m *ledgerModel) conflict(t *rapid.T) {
	s := m.entries[m.earlier(t)].sub
	s.Leaf = otherBytes(t, s.Leaf)
	m.submitOne(t, s)
}

// get reads an entry, or one past the end.
func (m *ledgerModel) get(t *rapid.T) {
	i := rapid.Uint64Range(0, m.size()+2).Draw(t, "index")
	e, err := m.l.Entry(t.Context(), i)
	if i >= m.size() {
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("entry %d of a log of %d: %+v, %v; want ErrNotFound", i, m.size(), e, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("entry %d of %d: %v", i, m.size(), err)
	}
	m.checkEntry(t, "entry", i, e)
}

// checkEntry checks an entry read back against the model.
func (m *ledgerModel) checkEntry(t *rapid.T, what string, i uint64, e *Entry) {
	me := m.entries[i]
	want := storage.Meta{
		SubmissionID: me.sub.ID, Member: me.sub.Member, ShipmentRef: me.sub.ShipmentRef,
		CAS: me.sub.CAS, Kind: me.sub.Kind, IntegratedTime: me.time, CheckpointSize: me.first.Checkpoint.Size,
	}
	if e.Index != i || !bytes.Equal(e.Leaf, me.sub.Leaf) || !bytes.Equal(e.LeafHash, m.oracle.LeafHash(i)) || e.Meta != want {
		t.Fatalf("%s %d: got index %d, leaf %x, leaf hash %x, meta %+v; want leaf %x, leaf hash %x, meta %+v",
			what, i, e.Index, e.Leaf, e.LeafHash, e.Meta, me.sub.Leaf, m.oracle.LeafHash(i), want)
	}
}

// drawFilter draws a list filter: each field unset or from its pool, the
// time bounds unset or next to an integrated time of the log.
func (m *ledgerModel) drawFilter(t *rapid.T) storage.Filter {
	pick := func(pool []string, label string) string {
		// One in three, so that most lists have one or two fields and a
		// fifth have none (the walk by time or over the whole log).
		if rapid.IntRange(0, 2).Draw(t, label+"Set") == 0 {
			return rapid.SampledFrom(pool).Draw(t, label)
		}
		return ""
	}
	bound := func(label string) int64 {
		if len(m.entries) == 0 || rapid.IntRange(0, 2).Draw(t, label+"Set") == 0 {
			return 0
		}
		e := m.entries[rapid.IntRange(0, len(m.entries)-1).Draw(t, label)]
		return e.time + rapid.Int64Range(-1, 1).Draw(t, label+"Delta")
	}
	return storage.Filter{
		Member:      pick(modelMembers, "member"),
		ShipmentRef: pick(modelRefs[1:], "ref"),
		CAS:         pick(modelCAS[1:], "cas"),
		Kind:        pick(modelKinds, "kind"),
		SinceNano:   bound("since"),
		UntilNano:   bound("until"),
	}
}

func matches(f storage.Filter, e modelEntry) bool {
	s := e.sub
	return (f.Member == "" || f.Member == s.Member) &&
		(f.ShipmentRef == "" || f.ShipmentRef == s.ShipmentRef) &&
		(f.CAS == "" || f.CAS == s.CAS) &&
		(f.Kind == "" || f.Kind == s.Kind) &&
		(f.SinceNano == 0 || e.time >= f.SinceNano) &&
		(f.UntilNano == 0 || e.time < f.UntilNano)
}

// list pages through a filtered list from a random start to its end and
// compares it with filtering the model by brute force.
func (m *ledgerModel) list(t *rapid.T) {
	f := m.drawFilter(t)
	start := rapid.Uint64Range(0, m.size()+1).Draw(t, "start")
	limit := rapid.IntRange(1, 7).Draw(t, "limit")

	var want []uint64
	for i := start; i < m.size(); i++ {
		if matches(f, m.entries[i]) {
			want = append(want, i)
		}
	}
	var got []*Entry
	for pos, pages := start, 0; ; pages++ {
		if pages > len(m.entries)+2 {
			t.Fatalf("list %+v from %d by %d: still not done after %d pages", f, start, limit, pages)
		}
		page, next, done, err := m.l.List(t.Context(), f, pos, limit)
		if err != nil {
			t.Fatalf("list %+v from %d by %d: %v", f, pos, limit, err)
		}
		if len(page) > limit || !done && (len(page) < limit || next <= page[len(page)-1].Index) {
			t.Fatalf("list %+v from %d by %d: page of %d, next %d, done %v", f, pos, limit, len(page), next, done)
		}
		got = append(got, page...)
		if done {
			break
		}
		pos = next
	}
	if len(got) != len(want) {
		gotIx := make([]uint64, len(got))
		for i, e := range got {
			gotIx[i] = e.Index
		}
		t.Fatalf("list %+v from %d by %d: entries %v; want %v", f, start, limit, gotIx, want)
	}
	for k, e := range got {
		if e.Index != want[k] {
			t.Fatalf("list %+v from %d by %d: entry %d is %d; want %d (all: %v)", f, start, limit, k, e.Index, want[k], want)
		}
		m.checkEntry(t, "listed entry", e.Index, e)
	}
}

// checkpoint reads the latest checkpoint, checks it against the model and
// keeps it.
func (m *ledgerModel) checkpoint(t *rapid.T) {
	cp, n := m.l.Checkpoint()
	if own := m.openNote(t, n); !own.Equal(cp) {
		t.Fatalf("checkpoint %+v differs from its signed note %+v", cp, own)
	}
	if cp.Size != m.size() || !bytes.Equal(cp.Root, m.oracle.Hash()) {
		t.Fatalf("checkpoint (size %d, root %x); the model has %d entries, root %x", cp.Size, cp.Root, m.size(), m.oracle.Hash())
	}
	at, err := m.l.CheckpointAt(t.Context(), cp.Size)
	if err != nil || !bytes.Equal(at, n) {
		t.Fatalf("checkpoint at size %d: %q, %v; want the latest, %q", cp.Size, at, err, n)
	}
	m.kept = append(m.kept, keptCheckpoint{cp: cp, note: n})
}

func (m *ledgerModel) keptOne(t *rapid.T, label string) keptCheckpoint {
	if len(m.kept) == 0 {
		t.Skip("no checkpoint kept")
	}
	return m.kept[rapid.IntRange(0, len(m.kept)-1).Draw(t, label)]
}

// consistency proves that a kept checkpoint extends an older kept one, and
// that the ledger refuses sizes out of order or beyond its end.
func (m *ledgerModel) consistency(t *rapid.T) {
	a, b := m.keptOne(t, "older"), m.keptOne(t, "newer")
	if a.cp.Size > b.cp.Size {
		a, b = b, a
	}
	ctx := t.Context()
	if n, err := m.l.CheckpointAt(ctx, a.cp.Size); err != nil || !bytes.Equal(n, a.note) {
		t.Fatalf("checkpoint at size %d: %q, %v; want the kept %q", a.cp.Size, n, err, a.note)
	}
	size, hashes, err := m.l.ConsistencyProof(ctx, a.cp.Size, b.cp.Size)
	switch {
	case a.cp.Size == 0:
		if !errors.Is(err, ErrTreeSize) {
			t.Fatalf("consistency proof from size 0: %v; want ErrTreeSize", err)
		}
	case err != nil || size != b.cp.Size:
		t.Fatalf("consistency proof %d → %d: size %d, %v", a.cp.Size, b.cp.Size, size, err)
	}
	if err := b.cp.VerifyConsistency(a.cp, hashes); err != nil {
		t.Fatalf("consistency proof %d → %d: %v", a.cp.Size, b.cp.Size, err)
	}
	// A second size of 0 means the latest, so 0 cannot be asked backwards.
	if 0 < a.cp.Size && a.cp.Size < b.cp.Size {
		if _, _, err := m.l.ConsistencyProof(ctx, b.cp.Size, a.cp.Size); !errors.Is(err, ErrTreeSize) {
			t.Fatalf("consistency proof %d → %d (backwards): %v; want ErrTreeSize", b.cp.Size, a.cp.Size, err)
		}
	}
	if _, _, err := m.l.ConsistencyProof(ctx, max(a.cp.Size, 1), m.size()+1); !errors.Is(err, ErrTreeSize) {
		t.Fatalf("consistency proof to %d, past the end: %v; want ErrTreeSize", m.size()+1, err)
	}
}

// inclusion proves a random entry into a kept checkpoint that covers it,
// and checks that the ledger refuses an index the tree does not hold.
func (m *ledgerModel) inclusion(t *rapid.T) {
	k := m.keptOne(t, "kept")
	if k.cp.Size == 0 {
		t.Skip("kept checkpoint is empty")
	}
	ctx := t.Context()
	i := rapid.Uint64Range(0, k.cp.Size-1).Draw(t, "index")
	size, hashes, err := m.l.InclusionProof(ctx, i, k.cp.Size)
	if err != nil || size != k.cp.Size {
		t.Fatalf("inclusion proof of %d in %d: size %d, %v", i, k.cp.Size, size, err)
	}
	if err := k.cp.VerifyInclusion(i, m.oracle.LeafHash(i), hashes); err != nil {
		t.Fatalf("inclusion proof of %d in %d: %v", i, k.cp.Size, err)
	}
	if k.cp.Size < m.size() {
		if _, _, err := m.l.InclusionProof(ctx, k.cp.Size, k.cp.Size); !errors.Is(err, ErrTreeSize) {
			t.Fatalf("inclusion proof of entry %d in a tree of %d: %v; want ErrTreeSize", k.cp.Size, k.cp.Size, err)
		}
	}
	if _, _, err := m.l.InclusionProof(ctx, m.size(), 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("inclusion proof of entry %d, past the end: %v; want ErrNotFound", m.size(), err)
	}
	if _, _, err := m.l.InclusionProof(ctx, i, m.size()+1); !errors.Is(err, ErrTreeSize) {
		t.Fatalf("inclusion proof in size %d, past the end: %v; want ErrTreeSize", m.size()+1, err)
	}
}

// tick moves the clock, sometimes backwards (a clock step): integrated
// times must still never decrease, here or across a reopen.
func (m *ledgerModel) tick(t *rapid.T) {
	d := rapid.Int64Range(-3, 5).Draw(t, "seconds")
	m.clock.Add(d * int64(time.Second))
}

var errInjectedCommit = errors.New("injected commit failure")

// failCommit sends new submissions while every commit fails: each must get
// the error and leave no trace, and the log must go on from where it was
// (sending them again afterwards appends them).
func (m *ledgerModel) failCommit(t *rapid.T) {
	subs := m.fresh(t, rapid.IntRange(1, 4).Draw(t, "n"))
	m.failing.Store(true)
	var chans []<-chan Outcome
	for _, s := range subs {
		ch, err := m.l.Enqueue(t.Context(), s, true)
		if err != nil {
			t.Fatalf("enqueue %q: %v", s.ID, err)
		}
		chans = append(chans, ch)
	}
	for i, ch := range chans {
		if o := <-ch; !errors.Is(o.Err, errInjectedCommit) {
			t.Fatalf("submission %q while commits fail: receipt %+v, error %v; want the injected failure", subs[i].ID, o.Receipt, o.Err)
		}
	}
	m.failing.Store(false)
	if rapid.Bool().Draw(t, "retry") {
		m.enqueue(t, subs)
	}
}

// TestRegressionFailedCommitCorruptsTree: after a failed commit the
// sequencer puts back the tree it saved with l.tree.Hashes(), but that
// slice shares its backing array with the live range, and
// compact.Range.Append merges into it in place: the "saved" right edge
// holds hashes of the failed batch. On a log of odd size the next commit
// signs a root that is not the root of the log's leaves, and the next start
// refuses the store as tampered. A full disk (issue 5, part 5) is enough.
func TestRegressionFailedCommitCorruptsTree(t *testing.T) {
	var fail atomic.Bool
	hooks := &Hooks{BeforeCommit: func(uint64) error {
		if fail.Load() {
			return errInjectedCommit
		}
		return nil
	}}
	dir := t.TempDir()
	l, st := openTestLedger(t, dir, func(c *Config) { c.Hooks = hooks })
	ctx := t.Context()
	if _, err := l.Submit(ctx, sub(0)); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if _, err := l.Submit(ctx, sub(1)); !errors.Is(err, errInjectedCommit) {
		t.Fatalf("submit while the commit fails: %v, want the injected failure", err)
	}
	fail.Store(false)
	r, err := l.Submit(ctx, sub(1))
	if err != nil {
		t.Fatalf("submit after the failure cleared: %v", err)
	}
	oracle := testonly.New(rfc6962.DefaultHasher)
	oracle.AppendData(sub(0).Leaf, sub(1).Leaf)
	if cp, _ := l.Checkpoint(); cp.Size != 2 || !bytes.Equal(cp.Root, oracle.Hash()) {
		t.Errorf("checkpoint after a failed and a good commit: size %d, root %x; the leaves hash to %x", cp.Size, cp.Root, oracle.Hash())
	}
	if err := r.Checkpoint.VerifyInclusion(r.Index, r.LeafHash, r.Proof); err != nil {
		t.Errorf("receipt after the failure cleared: %v", err)
	}
	l.Close()
	st.Close()
	st, err = storage.Open(filepath.Join(dir, "ledger.db"), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := DefaultConfig(testSigner, testVerifier)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err = Open(st, cfg)
	if err != nil {
		t.Fatalf("reopen after a failed and a good commit: %v", err)
	}
	l.Close()
}

// reopen closes the ledger and its store and opens both again on the same
// file: nothing may change, and a closed ledger takes no submissions.
func (m *ledgerModel) reopen(t *rapid.T) {
	before, beforeNote := m.l.Checkpoint()
	if err := m.l.Close(); err != nil {
		t.Fatalf("close ledger: %v", err)
	}
	s := m.fresh(t, 1)[0]
	if r, err := m.l.Submit(context.Background(), s); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit to a closed ledger: %+v, %v; want ErrClosed", r, err)
	}
	if err := m.st.Check(); err != nil {
		t.Fatalf("bbolt check before close: %v", err)
	}
	if err := m.st.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	m.open(t, rapid.SampledFrom([]Verification{VerifyFull, VerifyState}).Draw(t, "verify"))
	after, afterNote := m.l.Checkpoint()
	if !after.Equal(before) || !bytes.Equal(afterNote, beforeNote) {
		t.Fatalf("after reopen the latest checkpoint is %q; before it was %q", afterNote, beforeNote)
	}
	for i := range m.size() {
		e, err := m.l.Entry(t.Context(), i)
		if err != nil {
			t.Fatalf("entry %d after reopen: %v", i, err)
		}
		m.checkEntry(t, "entry after reopen", i, e)
	}
	if _, err := m.l.Entry(t.Context(), m.size()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("entry %d after reopen of a log of %d: %v; want ErrNotFound", m.size(), m.size(), err)
	}
}

// invariant runs after every action: the latest checkpoint is the model's
// tree.
func (m *ledgerModel) invariant(t *rapid.T) {
	cp, _ := m.l.Checkpoint()
	if cp.Size != m.size() || !bytes.Equal(cp.Root, m.oracle.Hash()) {
		t.Fatalf("latest checkpoint (size %d, root %x); the model has %d entries, root %x", cp.Size, cp.Root, m.size(), m.oracle.Hash())
	}
}

// TestRegressionEntryReadableBeforeCheckpoint: Entry and List read the
// store, which holds a commit a moment before the sequencer publishes the
// checkpoint that covers it, so a reader can get entry n and then be shown
// a latest checkpoint of size n, and an inclusion proof of the entry it
// holds is refused as "not found". TestHistoryLinearizable (e2e) found it as
// a history in which a get, or a list, saw an entry that a checkpoint read
// after it did not cover. Reads must stop at the published checkpoint.
func TestRegressionEntryReadableBeforeCheckpoint(t *testing.T) {
	l, _ := openTestLedger(t, t.TempDir(), func(c *Config) { c.Linger = 0 })
	// It shows within milliseconds; two seconds of quiet is a pass.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	var (
		wg       sync.WaitGroup
		observed atomic.Pointer[string]
	)
	report := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		observed.CompareAndSwap(nil, &s)
		cancel()
	}
	for w := range 2 {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i += 2 {
				if _, err := l.Submit(ctx, sub(i)); err != nil && ctx.Err() == nil {
					t.Errorf("submit %d: %v", i, err)
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			cp, _ := l.Checkpoint()
			if _, err := l.Entry(ctx, cp.Size); err == nil {
				if after, _ := l.Checkpoint(); after.Size <= cp.Size {
					report("entry %d was readable while the latest checkpoint had size %d", cp.Size, after.Size)
				}
			}
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			cp, _ := l.Checkpoint()
			entries, _, _, err := l.List(ctx, storage.Filter{}, cp.Size, 10)
			if err == nil && len(entries) > 0 {
				last := entries[len(entries)-1].Index
				if after, _ := l.Checkpoint(); after.Size <= last {
					report("List returned entry %d while the latest checkpoint had size %d", last, after.Size)
				}
			}
		}
	})
	wg.Wait()
	if s := observed.Load(); s != nil {
		t.Fatal(*s)
	}
}
