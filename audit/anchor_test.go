package audit

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestRecordCheckpointOnlyGrows: the recorded ledger checkpoint survives a
// reopen and never moves back, whatever order the records arrive in.
func TestRecordCheckpointOnlyGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openStore(t, path, Options{NoSync: true})
	if _, ok, err := s.LedgerHead(); ok || err != nil {
		t.Fatalf("LedgerHead() of a new trail = %v, %v; want none", ok, err)
	}
	root := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	for _, tt := range []struct {
		name     string
		size     uint64
		root     []byte
		wantSize uint64
		wantRoot []byte
	}{
		{"first", 5, root(5), 5, root(5)},
		{"larger", 9, root(9), 9, root(9)},
		{"smaller is ignored", 7, root(7), 9, root(9)},
		{"equal is ignored", 9, root(1), 9, root(9)},
	} {
		if err := s.RecordCheckpoint(tt.size, tt.root); err != nil {
			t.Fatalf("%s: RecordCheckpoint(%d): %v", tt.name, tt.size, err)
		}
		h, ok, err := s.LedgerHead()
		if err != nil || !ok || h.Size != tt.wantSize || !bytes.Equal(h.Root, tt.wantRoot) {
			t.Errorf("%s: after RecordCheckpoint(%d), LedgerHead() = %+v, %v, %v; want size %d root %x", tt.name, tt.size, h, ok, err, tt.wantSize, tt.wantRoot)
		}
	}
	if err := s.RecordCheckpoint(10, root(1)[:31]); err == nil {
		t.Error("RecordCheckpoint with a 31-byte root succeeded")
	}
	recs := fill(t, s, 3)
	s.Close()
	s = openStore(t, path, Options{NoSync: true})
	if h, ok, err := s.LedgerHead(); err != nil || !ok || h.Size != 9 {
		t.Errorf("LedgerHead() after reopening = %+v, %v, %v; want size 9", h, ok, err)
	}
	last, ok, err := s.Last()
	if err != nil || !ok || last.Seq != recs[2].Seq || !bytes.Equal(last.Hash, recs[2].Hash) {
		t.Errorf("Last() = %+v, %v, %v; want record %d", last, ok, err, recs[2].Seq)
	}
}
