package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func asMirror(c *Config) { c.Signer, c.Mirror = nil, true }

// mirrorRange enqueues the primary's entries [from, to) on m, the last one
// carrying note, and waits for them.
func mirrorRange(tb testing.TB, m *Ledger, leaves [][]byte, from, to uint64, note []byte, shift uint64) error {
	tb.Helper()
	var chans []<-chan Outcome
	for i := from; i < to; i++ {
		u := &Upstream{Index: i + shift, CoveredBy: to}
		if i == to-1 {
			u.Checkpoint = note
		}
		ch, err := m.Enqueue(tb.Context(), Submission{ID: fmt.Sprintf("up-%d", i), Leaf: leaves[i], Member: "XX", Upstream: u}, false)
		if err != nil {
			return err
		}
		chans = append(chans, ch)
	}
	var first error
	for _, ch := range chans {
		if o := <-ch; o.Err != nil && first == nil {
			first = o.Err
		}
	}
	return first
}

func TestMirrorAppendsThroughTheOnePath(t *testing.T) {
	p, _ := openTestLedger(t, t.TempDir())
	var leaves [][]byte
	var notes [][]byte
	for i := range 40 {
		leaf := []byte(fmt.Sprintf("entry %d", i))
		leaves = append(leaves, leaf)
		if _, err := p.Submit(t.Context(), Submission{ID: fmt.Sprintf("s%d", i), Leaf: leaf, Member: "XX"}); err != nil {
			t.Fatal(err)
		}
		if i == 19 || i == 39 {
			_, n := p.Checkpoint()
			notes = append(notes, n)
		}
	}
	dir := t.TempDir()
	m, st := openTestLedger(t, dir, asMirror)
	if _, err := m.Submit(t.Context(), Submission{ID: "x", Leaf: []byte("x"), Member: "XX"}); !errors.Is(err, ErrMirror) {
		t.Fatalf("a submission to a mirror: %v, want ErrMirror", err)
	}
	// An entry at the wrong index fails its batch, and nothing is stored.
	if err := mirrorRange(t, m, leaves, 0, 20, notes[0], 1); !errors.Is(err, ErrUpstream) {
		t.Fatalf("entries one index off: %v, want ErrUpstream", err)
	}
	// The wrong checkpoint (of another size) fails too.
	if err := mirrorRange(t, m, leaves, 0, 20, notes[1], 0); !errors.Is(err, ErrUpstream) {
		t.Fatalf("entries ending on a checkpoint of another size: %v, want ErrUpstream", err)
	}
	if err := mirrorRange(t, m, leaves, 0, 20, notes[0], 0); err != nil {
		t.Fatal(err)
	}
	if cp, n := m.Checkpoint(); cp.Size != 20 || !bytes.Equal(n, notes[0]) {
		t.Fatalf("mirror checkpoint %d %q, want the upstream's of size 20", cp.Size, n)
	}
	// Half of the next range, then a restart: the tail is kept, not served.
	if err := mirrorRange(t, m, leaves, 20, 30, nil, 0); err != nil {
		t.Fatal(err)
	}
	if cp, _ := m.Checkpoint(); cp.Size != 20 || m.Size() != 30 {
		t.Fatalf("after half a range: checkpoint %d, stored %d; want 20 and 30", cp.Size, m.Size())
	}
	if _, err := m.Entry(t.Context(), 25); !errors.Is(err, ErrNotFound) {
		t.Errorf("entry 25, beyond the mirror's checkpoint: %v, want ErrNotFound", err)
	}
	m.Close()
	st.Close()
	m, _ = openTestLedger(t, dir, asMirror)
	if cp, _ := m.Checkpoint(); cp.Size != 20 || m.Size() != 30 {
		t.Fatalf("reopened: checkpoint %d, stored %d; want 20 and 30", cp.Size, m.Size())
	}
	if err := mirrorRange(t, m, leaves, 30, 40, notes[1], 0); err != nil {
		t.Fatal(err)
	}
	for i := range uint64(40) {
		e, err := m.Entry(t.Context(), i)
		if err != nil || !bytes.Equal(e.Leaf, leaves[i]) {
			t.Fatalf("mirror entry %d: %v", i, err)
		}
	}
	for _, level := range []uint{0} {
		a, _ := p.HashTile(t.Context(), level, 0, 40)
		b, err := m.HashTile(t.Context(), level, 0, 40)
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("hash tile %d/0.p/40 differs between primary and mirror: %v", level, err)
		}
	}
}
