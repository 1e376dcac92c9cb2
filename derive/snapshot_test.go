package derive

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"log/slog"
	"strings"
	"testing"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/storage"
)

// openPaced opens a Deriver that snapshots every `every` entries whatever a
// snapshot costs, so that tests know where the marks fall.
func openPaced(tb testing.TB, f *fixture, every uint64, logger *slog.Logger) *Deriver {
	tb.Helper()
	cfg := testConfig()
	if logger != nil {
		cfg.Logger = logger
	}
	d, err := Open(f.store, f.ledger, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	d.snap.every, d.snap.ratio = every, 0
	return d
}

func catchUp(tb testing.TB, d *Deriver) {
	tb.Helper()
	if err := d.CatchUp(0); err != nil {
		tb.Fatal(err)
	}
}

func storedSnapshot(tb testing.TB, s *storage.Store) []byte {
	tb.Helper()
	var b []byte
	if err := s.View(func(tx *storage.ReadTx) error {
		b = bytes.Clone(tx.DetectorValue(keySnapshot))
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return b
}

func putSnapshot(tb testing.TB, s *storage.Store, b []byte) {
	tb.Helper()
	if err := s.Update(func(tx *storage.WriteTx) error { return tx.PutDetectorValue(keySnapshot, b) }); err != nil {
		tb.Fatal(err)
	}
}

// finishAndCompare submits the rest of the examples, catches d up, and
// checks that a rebuild derives the same flags.
func finishAndCompare(tb testing.TB, f *fixture, d *Deriver, from int) {
	tb.Helper()
	f.submit(tb, f.subs[from:]...)
	catchUp(tb, d)
	sweepAndRebuild(tb, f, d)
}

// A restart restores the latest snapshot and folds only the entries after
// its mark; the flags it goes on to derive are those of a rebuild. The
// snapshot's mark lags the applied one unless the detector was
// checkpointed on the way down.
func TestRestartFromSnapshot(t *testing.T) {
	tests := []struct {
		name         string
		checkpoint   bool
		wantMark     uint64
		wantRefolded uint64
	}{
		{"snapshot lags", false, 20, 5},
		{"checkpointed", true, 25, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, t.TempDir())
			f.submit(t, f.subs[:20]...)
			d := openPaced(t, f, 8, nil)
			catchUp(t, d) // 20 entries: a snapshot at 20
			f.submit(t, f.subs[20:25]...)
			catchUp(t, d) // 25 < 20+8: none
			if tt.checkpoint {
				if err := d.Checkpoint(); err != nil {
					t.Fatal(err)
				}
			}
			before, clock := storedFlags(t, f.store), d.clock
			f.close()

			f.open(t)
			d = openPaced(t, f, 8, nil)
			if d.snap.mark != tt.wantMark || d.refolded != tt.wantRefolded || d.Applied() != 25 {
				t.Fatalf("after restart: snapshot at %d, %d entries folded again, %d applied; want %d, %d, 25",
					d.snap.mark, d.refolded, d.Applied(), tt.wantMark, tt.wantRefolded)
			}
			if !d.clock.Equal(clock) || clock.IsZero() {
				t.Errorf("log clock after restart %v, before %v", d.clock, clock)
			}
			if after := storedFlags(t, f.store); len(after) != len(before) {
				t.Fatalf("Open changed the stored flags: %d, then %d", len(before), len(after))
			}
			finishAndCompare(t, f, d, 25)

			// The rebuild left a snapshot at its end: the next start folds
			// nothing.
			f.close()
			f.open(t)
			d = openPaced(t, f, 8, nil)
			if d.refolded != 0 || d.snap.mark != uint64(len(f.subs)) {
				t.Fatalf("after a rebuild: snapshot at %d, %d entries folded again; want %d, 0", d.snap.mark, d.refolded, len(f.subs))
			}
		})
	}
}

// A snapshot that cannot be used — damaged, ahead of the applied mark, or
// of another policy — is passed over with a log line, and the start folds
// the whole log: slower, never wrong.
func TestRestartWithUnusableSnapshot(t *testing.T) {
	other := detect.DefaultPolicy()
	other.Version += "-other"
	reframe := func(b []byte, mark uint64) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint64(b, mark)
		n := 9 + int(b[8])
		binary.BigEndian.PutUint32(b[n:], crc32.Checksum(b[:n], castagnoli))
		return b
	}
	tests := []struct {
		name    string
		corrupt func(b []byte) []byte
		level   string
	}{
		{"state byte flipped", func(b []byte) []byte { b[len(b)/2] ^= 1; return b }, "WARN"},
		{"mark byte flipped", func(b []byte) []byte { b[7] ^= 1; return b }, "WARN"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-100] }, "WARN"},
		{"header only", func(b []byte) []byte { return b[:5] }, "WARN"},
		{"ahead of the applied mark", func(b []byte) []byte { return reframe(b, 1000) }, "WARN"},
		{"another policy", func([]byte) []byte {
			d := &Deriver{engine: detect.NewEngine(other), state: detect.NewState(), cfg: testConfig()}
			return d.encodeSnapshot(3)
		}, "INFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, t.TempDir())
			f.submit(t, f.subs[:20]...)
			d := openPaced(t, f, 8, nil)
			catchUp(t, d)
			if err := d.Checkpoint(); err != nil {
				t.Fatal(err)
			}
			putSnapshot(t, f.store, tt.corrupt(storedSnapshot(t, f.store)))
			f.close()

			f.open(t)
			var logs bytes.Buffer
			d = openPaced(t, f, 8, slog.New(slog.NewTextHandler(&logs, nil)))
			if d.refolded != 20 || d.snap.mark != 0 {
				t.Fatalf("a start over an unusable snapshot folded %d entries again from %d; want 20 from 0", d.refolded, d.snap.mark)
			}
			if !strings.Contains(logs.String(), "level="+tt.level+` msg="detector state snapshot not used`) {
				t.Errorf("no %s log of the unused snapshot; logs:\n%s", tt.level, logs.String())
			}
			finishAndCompare(t, f, d, 20)
		})
	}
}

// After a failed store the state is ahead of the applied mark; it is
// rebuilt before anything more is folded, so no entry is folded twice.
func TestStateReloadedAfterFailedStore(t *testing.T) {
	f := newFixture(t, t.TempDir())
	f.submit(t, f.subs[:20]...)
	d := openPaced(t, f, 20, nil)
	catchUp(t, d) // snapshot at 20
	f.submit(t, f.subs[20:30]...)
	catchUp(t, d) // 30 < 20+20: none
	d.state = nil // as record leaves it when the store fails
	f.submit(t, f.subs[30:]...)
	catchUp(t, d)
	if d.refolded != 10 {
		t.Errorf("reload folded %d entries again; want the 10 after the snapshot", d.refolded)
	}
	finishAndCompare(t, f, d, len(f.subs))
}
