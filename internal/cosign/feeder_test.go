package cosign_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/internal/cosign"
	"github.com/chemledger/chemledger/internal/cosign/cosigntest"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/storage"
	"github.com/chemledger/chemledger/witness"
)

type testLog struct {
	l        *ledger.Ledger
	verifier note.Verifier
	n        int
}

// openLog opens a ledger in dir signing with k.
func openLog(tb testing.TB, dir string, k logKey) *testLog {
	tb.Helper()
	s, err := note.NewSigner(k.skey)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := note.NewVerifier(k.vkey)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := storage.Open(filepath.Join(dir, "ledger.db"), storage.DefaultOptions())
	if err != nil {
		tb.Fatal(err)
	}
	cfg := ledger.DefaultConfig(s, v)
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.NewLog = true // a fresh store: the test makes its log
	l, err := ledger.Open(st, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close(); st.Close() })
	return &testLog{l: l, verifier: v}
}

func (t *testLog) add(tb testing.TB, n int) uint64 {
	tb.Helper()
	var last uint64
	for range n {
		t.n++
		r, err := t.l.Submit(tb.Context(), ledger.Submission{ID: fmt.Sprintf("s%d", t.n), Leaf: []byte(fmt.Sprintf("entry %d", t.n)), Member: "XX"})
		if err != nil {
			tb.Fatal(err)
		}
		last = r.Index
	}
	return last + 1
}

func witnesses(tb testing.TB, v note.Verifier, n, k int) ([]*cosigntest.Witness, *witness.Policy) {
	tb.Helper()
	var text strings.Builder
	var names []string
	var ws []*cosigntest.Witness
	for i := range n {
		w, err := cosigntest.Start(fmt.Sprintf("w%d.test", i+1), v)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(w.Close)
		ws = append(ws, w)
		names = append(names, fmt.Sprintf("w%d", i+1))
		text.WriteString(w.PolicyLine(names[i]))
	}
	fmt.Fprintf(&text, "group g %d %s\nquorum g\n", k, strings.Join(names, " "))
	p, err := witness.ParsePolicy([]byte(text.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return ws, p
}

type logKey struct{ skey, vkey string }

func newKeys(tb testing.TB) logKey {
	skey, vkey, err := note.GenerateKey(rand.Reader, "test.chemledger/log")
	if err != nil {
		tb.Fatal(err)
	}
	return logKey{skey, vkey}
}

func startFeeder(tb testing.TB, l *testLog, p *witness.Policy) (*cosign.Feeder, context.CancelFunc) {
	tb.Helper()
	cfg := cosign.DefaultConfig(p)
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Interval = 20 * time.Millisecond
	cfg.Retry = 50 * time.Millisecond
	f, err := cosign.New(l.l, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.CheckRollback(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(tb.Context())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	return f, cancel
}

func waitServed(tb testing.TB, f *cosign.Feeder, size uint64) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Second)
	defer cancel()
	_, n, err := f.WaitServed(ctx, size)
	if err != nil {
		tb.Fatalf("no checkpoint of size ≥ %d with quorum within 5s; served:\n%s", size, n)
	}
	return n
}

func TestFeederQuorumWithWitnessesDown(t *testing.T) {
	l := openLog(t, t.TempDir(), newKeys(t))
	ws, p := witnesses(t, l.verifier, 3, 2)
	f, _ := startFeeder(t, l, p)

	size := l.add(t, 5)
	n := waitServed(t, f, size)
	// The third cosignature may come in the same round or the next.
	deadline := time.Now().Add(5 * time.Second)
	for got, _ := p.Cosigners(n); len(got) < 3 && time.Now().Before(deadline); got, _ = p.Cosigners(n) {
		time.Sleep(10 * time.Millisecond)
		_, n = f.Checkpoint()
	}
	if got, _ := p.Cosigners(n); len(got) != 3 {
		t.Fatalf("all up: cosigned by %v, want 3:\n%s", got, n)
	}
	if _, err := note.Open(n, note.VerifierList(l.verifier)); err != nil {
		t.Fatalf("the served note does not carry the log's signature: %v\n%s", err, n)
	}

	ws[2].Down.Store(true)
	size = l.add(t, 5)
	n = waitServed(t, f, size)
	if got, _ := p.Cosigners(n); !slices.Equal(got, []string{"w1", "w2"}) {
		t.Errorf("w3 down: cosigned by %v, want [w1 w2]", got)
	}

	ws[1].Down.Store(true)
	size = l.add(t, 5)
	deadline = time.Now().Add(5 * time.Second)
	cp, n := f.Checkpoint()
	for cp.Size < size && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		cp, n = f.Checkpoint()
	}
	if cp.Size != size {
		t.Fatalf("two down: the served checkpoint is of size %d, want the newest, %d", cp.Size, size)
	}
	if err := p.Check(n); !errors.Is(err, witness.ErrNoQuorum) {
		t.Errorf("two down: Check = %v, want ErrNoQuorum", err)
	}

	// Back up: the witnesses catch up from where they were (409, then a
	// proof from their size) without a new entry.
	ws[1].Down.Store(false)
	ws[2].Down.Store(false)
	waitServed(t, f, size)
	deadline = time.Now().Add(5 * time.Second)
	for (ws[1].Size() != size || ws[2].Size() != size) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if ws[1].Size() != size || ws[2].Size() != size {
		t.Errorf("w2 and w3 at sizes %d and %d after coming back, want %d", ws[1].Size(), ws[2].Size(), size)
	}
}

func TestFeederRestartsFromTheWitnessSize(t *testing.T) {
	skey := newKeys(t)
	l := openLog(t, t.TempDir(), skey)
	_, p := witnesses(t, l.verifier, 1, 1)
	_, stop := startFeeder(t, l, p)
	l.add(t, 3)
	time.Sleep(100 * time.Millisecond)
	stop()
	// A new feeder knows nothing: it starts from 0, gets 409 with the
	// witness's size and sends a proof from there.
	size := l.add(t, 4)
	f, _ := startFeeder(t, l, p)
	waitServed(t, f, size)
}

func TestCheckRollbackNamesTheWitness(t *testing.T) {
	skey := newKeys(t)
	l := openLog(t, t.TempDir(), skey)
	_, p := witnesses(t, l.verifier, 2, 1)
	f, stop := startFeeder(t, l, p)
	size := l.add(t, 6)
	waitServed(t, f, size)
	stop()

	// The same key, an older (empty) copy of the log.
	old := openLog(t, t.TempDir(), skey)
	cfg := cosign.DefaultConfig(p)
	cfg.Logger = slog.New(slog.DiscardHandler)
	g, err := cosign.New(old.l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = g.CheckRollback(t.Context())
	var rb *cosign.RollbackError
	if !errors.As(err, &rb) || rb.LocalSize != 0 || rb.WitnessSize < 1 {
		t.Fatalf("CheckRollback of an empty copy: %v, want a RollbackError naming sizes", err)
	}
	if !strings.Contains(err.Error(), "witness w") {
		t.Errorf("the refusal does not name the witness: %v", err)
	}
}

func TestWritesDoNotWaitForWitnesses(t *testing.T) {
	l := openLog(t, t.TempDir(), newKeys(t))
	ws, p := witnesses(t, l.verifier, 2, 2)
	for _, w := range ws {
		w.Down.Store(true)
	}
	startFeeder(t, l, p)
	start := time.Now()
	l.add(t, 50)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("50 submissions took %v with every witness down", d)
	}
}
