package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/server"
)

// TestBackupPairPassesAnchors takes backups through backupSource while
// entries are committed, audit records appended and both anchor loops run,
// and checks each restored pair with the start-up checks (checkRestored:
// full verification and both anchors).
func TestBackupPairPassesAnchors(t *testing.T) {
	an := newAnchored(t)
	ctx, cancel := context.WithCancel(t.Context())
	writes := &anchorWrites{}
	loops := startAnchors(ctx, writes, an.a, an.l, slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 5; ctx.Err() == nil; i++ {
			if _, err := an.l.Submit(ctx, ledger.Submission{ID: fmt.Sprintf("s-%d", i), Leaf: fmt.Appendf(nil, "leaf %d", i), Member: "MX-ANAM"}); err != nil && ctx.Err() == nil {
				t.Errorf("submit %d: %v", i, err)
				return
			}
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := an.a.Append(context.Background(), audit.Record{Principal: "MX-ANAM/analyst", Via: "grpc", Method: "/test", Outcome: "OK"}); err != nil {
				t.Errorf("append an audit record: %v", err)
				return
			}
		}
	})
	defer func() {
		cancel()
		wg.Wait()
		loops.stop()
	}()
	keys, err := datadir.ReadLogKeys(an.layout)
	if err != nil {
		t.Fatal(err)
	}
	src := backupSource{writes: writes, store: an.st, l: an.l, a: an.a}
	var last uint64
	for i := range 10 {
		time.Sleep(30 * time.Millisecond)
		snap, err := src.OpenBackup()
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		size, _, err := snap.Ledger.LatestCheckpoint()
		if err != nil {
			t.Fatal(err)
		}
		restored := restoreSnapshot(t, an.layout, snap)
		snap.Close()
		// nil Describe: the test's leaves are not envelopes.
		if err := checkRestored(restored, keys, nil); err != nil {
			t.Errorf("backup %d (ledger at %d): the restored pair is refused: %v", i, size, err)
		}
		last = size
	}
	if last <= 5 {
		t.Fatalf("the ledger did not grow during the backups (at %d)", last)
	}
}

// restoreSnapshot writes both files of snap into a new data dir with the
// log keys of from.
func restoreSnapshot(t *testing.T, from datadir.Layout, snap *server.BackupSnapshot) datadir.Layout {
	t.Helper()
	to := datadir.Layout{Dir: t.TempDir()}
	for _, p := range [][2]string{{from.LogKey(), to.LogKey()}, {from.LogPub(), to.LogPub()}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var lb, ab bytes.Buffer
	if _, err := snap.Ledger.WriteTo(&lb); err != nil {
		t.Fatal(err)
	}
	if _, err := snap.Audit.WriteTo(&ab); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to.DB(), lb.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to.Audit(), ab.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return to
}

// TestBackupOneAfterTheOtherIsRefused is why OpenBackup holds the anchors
// still: the ledger copied, then a commit recorded in the trail, then the
// trail copied, gives a pair the start-up check refuses as a rolled-back
// ledger.
func TestBackupOneAfterTheOtherIsRefused(t *testing.T) {
	an := newAnchored(t)
	keys, err := datadir.ReadLogKeys(an.layout)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := an.st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	an.grow(t, 5, 6)
	cp, _ := an.l.Checkpoint()
	if err := an.a.RecordCheckpoint(cp.Size, cp.Root); err != nil {
		t.Fatal(err)
	}
	as, err := an.a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	snap := &server.BackupSnapshot{Ledger: ls, Audit: as}
	restored := restoreSnapshot(t, an.layout, snap)
	snap.Close()
	if err := checkRestored(restored, keys, nil); err == nil || !strings.Contains(err.Error(), "was rolled back") {
		t.Fatalf("pair copied one after the other across an anchor write: %v, want the ledger refused as rolled back", err)
	}
}
