package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/storage"
)

// anchored is a log made by initLog with a few entries and audit records,
// both anchors up to date, its files open.
type anchored struct {
	layout datadir.Layout
	st     *storage.Store
	l      *ledger.Ledger
	a      *audit.Store
}

func newAnchored(t *testing.T) *anchored {
	t.Helper()
	layout := datadir.Layout{Dir: filepath.Join(t.TempDir(), "data")}
	skey, _, err := note.GenerateKey(rand.Reader, "chemledger.test/log")
	if err != nil {
		t.Fatal(err)
	}
	if err := datadir.CreateLogKey(layout, skey); err != nil {
		t.Fatal(err)
	}
	keys, err := datadir.ReadLogKeys(layout)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := initLog(layout, keys, quiet); err != nil {
		t.Fatal(err)
	}
	st, err := storage.Open(layout.DB(), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	cfg := ledger.DefaultConfig(keys.Signer, keys.Verifier)
	cfg.Logger = quiet
	l, err := ledger.Open(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ao := audit.DefaultOptions(layout.Audit())
	ao.Logger = quiet
	a, err := audit.Open(ao)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		l.Close()
		st.Close()
	})
	an := &anchored{layout: layout, st: st, l: l, a: a}
	an.grow(t, 0, 5)
	if err := recordHeads(a, l); err != nil {
		t.Fatal(err)
	}
	return an
}

// grow appends entries [from, to) and as many audit records.
func (an *anchored) grow(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := an.l.Submit(t.Context(), ledger.Submission{ID: fmt.Sprintf("s-%d", i), Leaf: fmt.Appendf(nil, "leaf %d", i), Member: "MX-ANAM"}); err != nil {
			t.Fatal(err)
		}
		if _, err := an.a.Append(context.Background(), audit.Record{Principal: "MX-ANAM/analyst", Via: "grpc", Method: "/test", Outcome: "OK"}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckAnchors runs the start-up comparison of the two heads over the
// orders a crash can leave them in (fine) and the rollbacks and swaps it
// must refuse.
func TestCheckAnchors(t *testing.T) {
	tests := []struct {
		name string
		// change moves the files or anchors away from a log whose two
		// anchors are current.
		change func(t *testing.T, an *anchored)
		want   string // in the error; "" for none
	}{
		{name: "in step", change: func(*testing.T, *anchored) {}},
		{
			// Entries and records committed after the anchors were written:
			// what a crash between commits leaves.
			name:   "both files ahead of the other's record",
			change: func(t *testing.T, an *anchored) { an.grow(t, 5, 9) },
		},
		{
			name: "ledger behind the checkpoint the trail saw",
			change: func(t *testing.T, an *anchored) {
				cp, _ := an.l.Checkpoint()
				if err := an.a.RecordCheckpoint(cp.Size+3, cp.Root); err != nil {
					t.Fatal(err)
				}
			},
			want: "was rolled back: it holds 5 entries",
		},
		{
			name: "ledger of another log",
			change: func(t *testing.T, an *anchored) {
				// A trail that saw this size with another root.
				an.grow(t, 5, 6)
				if err := an.a.RecordCheckpoint(6, make([]byte, 32)); err != nil {
					t.Fatal(err)
				}
			},
			want: "is not the log the audit trail saw",
		},
		{
			name: "trail behind the record the ledger saw",
			change: func(t *testing.T, an *anchored) {
				last, _, _ := an.a.Last()
				if err := an.l.RecordAuditHead(storage.AuditHead{Seq: last.Seq + 2}); err != nil {
					t.Fatal(err)
				}
			},
			want: "was rolled back: it ends at record 5",
		},
		{
			name: "trail swapped for another of the same length",
			change: func(t *testing.T, an *anchored) {
				last, _, _ := an.a.Last()
				if err := an.l.RecordAuditHead(storage.AuditHead{Seq: last.Seq, Hash: [32]byte{1}}); err != nil {
					t.Fatal(err)
				}
			},
			want: "is not the one the ledger saw",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			an := newAnchored(t)
			tt.change(t, an)
			saw, ok, err := an.l.AuditHead()
			if err != nil || !ok {
				t.Fatalf("the ledger's audit head: %v, %v", ok, err)
			}
			err = checkAnchors(an.layout, an.a, an.l, saw, ok, false, slog.New(slog.DiscardHandler))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("checkAnchors: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("checkAnchors: %v, want an error containing %q", err, tt.want)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}
