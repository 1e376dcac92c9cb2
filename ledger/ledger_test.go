package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/storage"
)

// testKeys is one log key pair for the whole test binary.
var testSigner, testVerifier = func() (note.Signer, note.Verifier) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "test.chemledger/log")
	if err != nil {
		panic(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		panic(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		panic(err)
	}
	return s, v
}()

// openTestLedger opens a ledger on a store in dir.
func openTestLedger(tb testing.TB, dir string, mutate ...func(*Config)) (*Ledger, *storage.Store) {
	tb.Helper()
	st, err := storage.Open(filepath.Join(dir, "ledger.db"), storage.DefaultOptions())
	if err != nil {
		tb.Fatal(err)
	}
	cfg := DefaultConfig(testSigner, testVerifier)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.NewLog = true
	for _, m := range mutate {
		m(&cfg)
	}
	l, err := Open(st, cfg)
	if err != nil {
		st.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		l.Close()
		st.Close()
	})
	return l, st
}

func sub(i int) Submission {
	return Submission{
		ID:          fmt.Sprintf("sub-%d", i),
		Leaf:        []byte(fmt.Sprintf(`{"leaf":%d}`, i)),
		Member:      []string{"US-CBP", "MX-ANAM"}[i%2],
		ShipmentRef: fmt.Sprintf("PEN-%d", i%5),
		CAS:         "39742-60-4",
		Kind:        "EXPORT_DECLARATION",
	}
}

func TestSubmitReceiptsVerify(t *testing.T) {
	l, _ := openTestLedger(t, t.TempDir())
	ctx := t.Context()
	for i := range 40 {
		r, err := l.Submit(ctx, sub(i))
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		if r.Index != uint64(i) {
			t.Fatalf("submit %d: index %d", i, r.Index)
		}
		cp, err := checkpoint.Open(r.CheckpointNote, l.Origin(), testVerifier)
		if err != nil {
			t.Fatalf("receipt %d checkpoint: %v", i, err)
		}
		if !cp.Equal(r.Checkpoint) {
			t.Fatalf("receipt %d: checkpoint fields %+v differ from note %+v", i, r.Checkpoint, cp)
		}
		if err := cp.VerifyInclusion(r.Index, checkpoint.LeafHash(sub(i).Leaf), r.Proof); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
	}
}

func TestIdempotentConcurrent(t *testing.T) {
	l, _ := openTestLedger(t, t.TempDir())
	ctx := t.Context()
	if _, err := l.Submit(ctx, sub(100)); err != nil {
		t.Fatal(err)
	}
	const n = 20
	receipts := make([]*Receipt, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := l.Submit(ctx, sub(7))
			if err != nil {
				t.Errorf("submit %d: %v", i, err)
			}
			receipts[i] = r
		})
	}
	wg.Wait()
	if cp, _ := l.Checkpoint(); cp.Size != 2 {
		t.Fatalf("tree size %d after 20 identical submissions, want 2", cp.Size)
	}
	for i, r := range receipts[1:] {
		if fmt.Sprint(*r) != fmt.Sprint(*receipts[0]) {
			t.Errorf("receipt %d = %+v, want %+v", i+1, *r, *receipts[0])
		}
	}
	other := sub(7)
	other.Leaf = []byte("other bytes")
	if _, err := l.Submit(ctx, other); !errors.Is(err, ErrConflict) {
		t.Fatalf("same id, other bytes: err %v, want ErrConflict", err)
	}
	if cp, _ := l.Checkpoint(); cp.Size != 2 {
		t.Fatalf("tree size %d after a conflicting submission, want 2", cp.Size)
	}
}

func TestReopenKeepsStateAndVerifies(t *testing.T) {
	dir := t.TempDir()
	l, st := openTestLedger(t, dir)
	for i := range 37 {
		if _, err := l.Submit(t.Context(), sub(i)); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := l.Checkpoint()
	l.Close()
	st.Close()

	l2, _ := openTestLedger(t, dir)
	after, _ := l2.Checkpoint()
	if !after.Equal(before) {
		t.Fatalf("after reopen checkpoint %+v, want %+v", after, before)
	}
	r, err := l2.Submit(t.Context(), sub(37))
	if err != nil || r.Index != 37 {
		t.Fatalf("submit after reopen: %v, %+v", err, r)
	}
	_, proof, err := l2.ConsistencyProof(t.Context(), before.Size, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Checkpoint.VerifyConsistency(before, proof); err != nil {
		t.Fatal(err)
	}
}

func TestListFilters(t *testing.T) {
	l, _ := openTestLedger(t, t.TempDir())
	for i := range 50 {
		if _, err := l.Submit(t.Context(), sub(i)); err != nil {
			t.Fatal(err)
		}
	}
	var got []uint64
	next, done := uint64(0), false
	for !done {
		var es []*Entry
		var err error
		es, next, done, err = l.List(t.Context(), storage.Filter{ShipmentRef: "PEN-3", Member: "MX-ANAM"}, next, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			got = append(got, e.Index)
		}
	}
	var want []uint64
	for i := range 50 {
		s := sub(i)
		if s.ShipmentRef == "PEN-3" && s.Member == "MX-ANAM" {
			want = append(want, uint64(i))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
}

func TestOpenDetectsFlippedEntry(t *testing.T) {
	dir := t.TempDir()
	l, st := openTestLedger(t, dir)
	for i := range 10 {
		if _, err := l.Submit(context.Background(), sub(i)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	// Rewrite entry 4 through bbolt (the end-to-end test flips raw file
	// bytes instead).
	if err := st.Update(func(tx *storage.WriteTx) error {
		leaf, _ := tx.Leaf(4)
		m, _ := tx.Meta(4)
		return tx.AppendEntry(4, bytes.Replace(leaf, []byte("4"), []byte("5"), 1), m)
	}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(testSigner, testVerifier)
	if _, err := Open(st, cfg); !errors.Is(err, ErrTampered) {
		t.Fatalf("open after tampering: %v, want ErrTampered", err)
	} else {
		t.Log(err)
	}
}

// A failed commit answers every submission of the batch with an error,
// leaves nothing behind, and the next batch continues from the same tree.
func TestFailedCommitLeavesNothing(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	hooks := &Hooks{BeforeCommit: func(size uint64) error {
		if fail.Load() {
			return errors.New("injected commit failure")
		}
		return nil
	}}
	l, st := openTestLedger(t, t.TempDir(), func(c *Config) { c.Hooks = hooks })
	ctx := t.Context()
	if _, err := l.Submit(ctx, sub(0)); err == nil {
		t.Fatal("submit during an injected commit failure succeeded")
	}
	if cp, _ := l.Checkpoint(); cp.Size != 0 {
		t.Fatalf("checkpoint size %d after a failed commit, want 0", cp.Size)
	}
	if err := st.View(func(tx *storage.ReadTx) error {
		if _, err := tx.Leaf(0); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("entry 0 after a failed commit: %v, want ErrNotFound", err)
		}
		if _, found, _ := tx.Submission(sub(0).ID); found {
			t.Error("the failed submission's id was recorded")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	fail.Store(false)
	for i := range 3 {
		r, err := l.Submit(ctx, sub(i))
		if err != nil {
			t.Fatalf("submit %d after the failure cleared: %v", i, err)
		}
		if r.Index != uint64(i) {
			t.Fatalf("submit %d: index %d", i, r.Index)
		}
		if err := r.Checkpoint.VerifyInclusion(r.Index, r.LeafHash, r.Proof); err != nil {
			t.Fatal(err)
		}
	}
}

// Close commits what was queued before it, so nothing accepted is dropped.
func TestCloseCommitsQueued(t *testing.T) {
	dir := t.TempDir()
	l, st := openTestLedger(t, dir)
	var chans []<-chan Outcome
	for i := range 200 {
		ch, err := l.Enqueue(t.Context(), sub(i), false)
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	l.Close()
	for i, ch := range chans {
		if o := <-ch; o.Err != nil {
			t.Fatalf("queued submission %d: %v", i, o.Err)
		}
	}
	if _, err := l.Submit(t.Context(), sub(1000)); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after Close: %v, want ErrClosed", err)
	}
	if err := st.View(func(tx *storage.ReadTx) error {
		tree, err := tx.Tree()
		if tree.Size != 200 {
			t.Errorf("stored tree size %d, want 200", tree.Size)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestWaitBeyond(t *testing.T) {
	l, _ := openTestLedger(t, t.TempDir())
	got := make(chan uint64, 1)
	go func() {
		n, err := l.WaitBeyond(t.Context(), 0)
		if err != nil {
			t.Error(err)
		}
		got <- n
	}()
	if _, err := l.Submit(t.Context(), sub(0)); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 1 {
		t.Fatalf("WaitBeyond(0) = %d, want 1", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.WaitBeyond(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitBeyond with a canceled context: %v", err)
	}
}

// TestOnCommitCutsTheBatch: an entry that changes who may submit (it has an
// OnCommit hook) ends its batch, and its hook runs before any later entry
// is rechecked, even when they were queued together: a key revoked at
// index i is refused from index i+1 on, not from some later batch.
func TestOnCommitCutsTheBatch(t *testing.T) {
	// A long linger puts everything queued below in one batch.
	l, _ := openTestLedger(t, t.TempDir(), func(c *Config) { c.Linger = 200 * time.Millisecond })
	var revoked atomic.Bool
	errRevoked := errors.New("key revoked")
	revoke := sub(1)
	revoke.OnCommit = func(uint64) { revoked.Store(true) }
	signedBefore := sub(0)
	signedBefore.Recheck = func() error {
		if revoked.Load() {
			return errRevoked
		}
		return nil
	}
	signedAfter := sub(2)
	signedAfter.Recheck = signedBefore.Recheck
	plain := sub(3)

	var outs []<-chan Outcome
	for _, s := range []Submission{signedBefore, revoke, signedAfter, plain} {
		ch, err := l.Enqueue(t.Context(), s, false)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, ch)
	}
	var got []Outcome
	for _, ch := range outs {
		got = append(got, <-ch)
	}
	if got[0].Err != nil || got[0].Receipt.Index != 0 {
		t.Errorf("entry signed before the revocation: %+v, want index 0", got[0])
	}
	if got[1].Err != nil || got[1].Receipt.Index != 1 {
		t.Errorf("the revocation: %+v, want index 1", got[1])
	}
	if !errors.Is(got[2].Err, errRevoked) {
		t.Errorf("entry signed with the revoked key, queued after the revocation: %+v, want %v", got[2], errRevoked)
	}
	if got[3].Err != nil || got[3].Receipt.Index != 2 {
		t.Errorf("a later entry: %+v, want index 2 (no gap where the refused one was)", got[3])
	}
	if cp, _ := l.Checkpoint(); cp.Size != 3 {
		t.Errorf("log size %d, want 3", cp.Size)
	}
}

// TestEditedSubmissionIDIsRefusedAndNotAppendedAgain changes three bytes of
// a submission id wherever it occurs in the raw file of a closed ledger:
// the full check must refuse the store, naming the submission id, and with
// only the state check an identical retry of the submission must get its
// original index, not a second leaf.
func TestEditedSubmissionIDIsRefusedAndNotAppendedAgain(t *testing.T) {
	const id, edited = "shipment-leg-0007", "shipmXnt-lYg-0Z07"
	dir := t.TempDir()
	l, st := openTestLedger(t, dir)
	subs := make([]Submission, 10)
	for i := range subs {
		subs[i] = sub(i)
		subs[i].ID = fmt.Sprintf("shipment-leg-%04d", i)
		if _, err := l.Submit(t.Context(), subs[i]); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	st.Close()
	path := filepath.Join(dir, "ledger.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := bytes.Count(b, []byte(id))
	if n == 0 {
		t.Fatalf("%q is nowhere in %s", id, path)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte(id), []byte(edited)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("edited %d copies of %q", n, id)

	reopen := func(v Verification) (*Ledger, error) {
		st, err := storage.Open(path, storage.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig(testSigner, testVerifier)
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		cfg.VerifyOnOpen = v
		l, err := Open(st, cfg)
		if err != nil {
			st.Close()
			return nil, err
		}
		t.Cleanup(func() { l.Close(); st.Close() })
		return l, nil
	}
	if _, err = reopen(VerifyFull); err == nil {
		t.Fatalf("full check of a store with submission id %q edited to %q passed, want ErrTampered", id, edited)
	}
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "submission id") {
		t.Fatalf("full check after editing a submission id: %v, want ErrTampered naming the submission id", err)
	}
	t.Log(err)

	l, err = reopen(VerifyState)
	if err != nil {
		t.Fatalf("state check after editing a submission id: %v", err)
	}
	r, err := l.Submit(t.Context(), subs[7])
	if err != nil {
		t.Fatalf("identical retry of %q: %v", id, err)
	}
	if cp, _ := l.Checkpoint(); r.Index != 7 || cp.Size != 10 {
		t.Errorf("identical retry of %q: index %d, log size %d; want its original index 7 and the log still 10 entries", id, r.Index, cp.Size)
	}
}

// TestOpenRefusesStoreWithNoLog: a store with no signed checkpoint (a new,
// deleted or truncated file) is not a new log unless the caller says so.
func TestOpenRefusesStoreWithNoLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	for _, tt := range []struct {
		name    string
		newLog  bool
		wantErr error
	}{
		{"without NewLog", false, ErrNoLog},
		{"with NewLog", true, nil},
		{"reopened without NewLog", false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, err := storage.Open(path, storage.DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			cfg := DefaultConfig(testSigner, testVerifier)
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			cfg.NewLog = tt.newLog
			l, err := Open(st, cfg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open(NewLog %v) = %v, want %v", tt.newLog, err, tt.wantErr)
			}
			if l != nil {
				l.Close()
			}
		})
	}
}
