package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/failpoint"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/storage"
)

// Cross-anchoring of the ledger (ledger.db) and the audit trail (audit.db).
//
// Either file alone can be replaced by an older copy of itself that is
// consistent in itself: an old ledger.db verifies against its own latest
// signed checkpoint, and an audit chain cut back to an earlier record still
// chains. So each file keeps the other's head: the audit trail keeps the
// latest ledger checkpoint it has seen (size and root), and the ledger
// keeps the last audit record it has seen (seq and hash). At start each is
// checked against the other, and a rollback of either file alone is
// refused. (A rollback of the whole data dir keeps the two consistent;
// witnesses of the checkpoints catch that, not this.)
//
// The two files commit separately, so a crash can fall between any two
// commits. The anchors are written so that such a crash never looks like a
// rollback:
//
//   - A checkpoint is recorded in the audit trail only after the ledger has
//     committed it. After any crash, then, the ledger holds at least the
//     size the trail recorded: ledger size >= recorded size is fine (the
//     trail lags), smaller is a rollback of ledger.db. At equal or larger
//     size the ledger's stored checkpoint of the recorded size must have
//     the recorded root, or the ledger is another log.
//   - The ledger records an audit record only after the trail has committed
//     it. So the trail always holds at least the seq the ledger recorded:
//     a trail whose last record is before it is a rollback (or a deletion)
//     of audit.db, and the record at that seq must have the recorded hash.
//
// The anchors lag the files they describe by at most one commit of the
// other file (a checkpoint is recorded as soon as it is published) or
// auditHeadInterval (the trail's head is recorded that often while it
// grows), and both are brought up to date at start and at a graceful stop.
// A rollback to a copy taken inside that lag is not caught here.

// auditHeadInterval is how often the trail's head is recorded in the
// ledger while the trail grows: every read adds a record, so recording
// each would add a ledger commit per read.
const auditHeadInterval = time.Second

// restoreHint is how an operator gets out of a refused start.
const restoreHint = "restore the file from a backup taken at or after that point (stop the service, copy the file back, start again)"

// openAuditTrail opens the audit trail of l and checks each against the
// other's anchor, or starts a new trail when asked (newTrail) or when the
// ledger has never recorded one (a log from before the anchors). It
// records the current heads on both sides before returning.
func openAuditTrail(layout datadir.Layout, l *ledger.Ledger, newTrail bool, log *slog.Logger) (*audit.Store, error) {
	saw, anchored, err := l.AuditHead()
	if err != nil {
		return nil, fmt.Errorf("read the audit head the ledger recorded: %w", err)
	}
	// Refuse a lost trail before opening it, which would create the file.
	if files, err := datadir.Inspect(layout); err != nil {
		return nil, err
	} else if !files.Audit && anchored && !newTrail {
		cp, _ := l.Checkpoint()
		return nil, lostTrail(layout, saw, cp)
	}
	aopts := audit.DefaultOptions(layout.Audit())
	aopts.Logger = log
	a, err := audit.Open(aopts)
	if err != nil {
		return nil, fmt.Errorf("open audit trail: %w", err)
	}
	if err := checkAnchors(layout, a, l, saw, anchored, newTrail, log); err != nil {
		a.Close()
		return nil, err
	}
	if err := recordHeads(a, l); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func checkAnchors(layout datadir.Layout, a *audit.Store, l *ledger.Ledger, saw storage.AuditHead, anchored, newTrail bool, log *slog.Logger) error {
	cp, _ := l.Checkpoint()
	path := layout.Audit()
	last, has, err := a.Last()
	if err != nil {
		return fmt.Errorf("audit trail %s: %w", path, err)
	}
	switch {
	case newTrail && has:
		return fmt.Errorf("--new-audit-trail: %s holds a trail (records 0–%d); a new trail never replaces one: move the file aside (it is evidence) and start again", path, last.Seq)
	case newTrail:
		prev := "none recorded by the ledger"
		if anchored {
			prev = fmt.Sprintf("record %d, hash %x, as the ledger last recorded it", saw.Seq, saw.Hash)
		}
		if _, err := a.Append(context.Background(), audit.NewTrail(cp.Size, cp.Root, prev)); err != nil {
			return fmt.Errorf("start a new audit trail: %w", err)
		}
		log.Warn("started a new audit trail, as asked", "audit", path, "ledger_size", cp.Size, "previous_trail_head", prev)
		return nil
	case !has && anchored:
		return lostTrail(layout, saw, cp)
	case !has:
		// No anchor on either side: a new log whose creation was cut
		// short, or one from before the anchors. There is no head to
		// protect yet; the trail starts here and says so.
		if _, err := a.Append(context.Background(), audit.NewTrail(cp.Size, cp.Root, "")); err != nil {
			return fmt.Errorf("start the audit trail: %w", err)
		}
		log.Warn("started the audit trail: the ledger had recorded none", "audit", path, "ledger_size", cp.Size)
		return nil
	}
	if anchored {
		if last.Seq < saw.Seq {
			return fmt.Errorf("the audit trail %s was rolled back: it ends at record %d (hash %x), but the ledger recorded its head at record %d (hash %x) (ledger at checkpoint %d, root %x): %s",
				path, last.Seq, last.Hash, saw.Seq, saw.Hash, cp.Size, cp.Root, restoreHint)
		}
		recs, _, err := a.List(saw.Seq, 1)
		if err != nil {
			return fmt.Errorf("audit trail %s: %w", path, err)
		}
		if len(recs) != 1 || !bytes.Equal(recs[0].Hash, saw.Hash[:]) {
			return fmt.Errorf("the audit trail %s is not the one the ledger saw: its record %d does not have the hash %x the ledger recorded (the trail ends at record %d, hash %x): %s",
				path, saw.Seq, saw.Hash, last.Seq, last.Hash, restoreHint)
		}
	}
	lh, ok, err := a.LedgerHead()
	if err != nil || !ok {
		return err
	}
	ledgerPath := layout.DB()
	if cp.Size < lh.Size {
		return fmt.Errorf("the ledger %s was rolled back: it holds %d entries (root %x), but the audit trail has seen checkpoint %d (root %x) (audit trail at record %d, hash %x): %s",
			ledgerPath, cp.Size, cp.Root, lh.Size, lh.Root, last.Seq, last.Hash, restoreHint)
	}
	note, err := l.CheckpointAt(context.Background(), lh.Size)
	var root []byte
	if err == nil {
		var c checkpoint.Checkpoint
		if c, err = checkpoint.Open(note, l.Origin(), l.Verifier()); err == nil {
			root = c.Root
		}
	}
	if err != nil || !bytes.Equal(root, lh.Root) {
		return fmt.Errorf("the ledger %s is not the log the audit trail saw: the trail saw checkpoint %d with root %x, the ledger's checkpoint %d has root %x (%v) (ledger at checkpoint %d, root %x): %s",
			ledgerPath, lh.Size, lh.Root, lh.Size, root, err, cp.Size, cp.Root, restoreHint)
	}
	return nil
}

func lostTrail(layout datadir.Layout, saw storage.AuditHead, cp checkpoint.Checkpoint) error {
	return fmt.Errorf("the audit trail %s is missing or empty, but the ledger recorded its head at record %d (hash %x) and is at checkpoint %d (root %x): "+
		"%s, or, if the trail is lost for good, start a new one with --new-audit-trail (its first record says so)", layout.Audit(), saw.Seq, saw.Hash, cp.Size, cp.Root, restoreHint)
}

// recordHeads brings both anchors up to the current heads.
func recordHeads(a *audit.Store, l *ledger.Ledger) error {
	cp, _ := l.Checkpoint()
	if err := a.RecordCheckpoint(cp.Size, cp.Root); err != nil {
		return err
	}
	last, has, err := a.Last()
	if err != nil || !has {
		return err
	}
	return l.RecordAuditHead(auditHead(last))
}

func auditHead(r audit.Record) storage.AuditHead {
	h := storage.AuditHead{Seq: r.Seq}
	copy(h.Hash[:], r.Hash)
	return h
}

// anchors keeps both anchors current while the service runs.
type anchors struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// anchorWrites is held for every anchor write while the service runs, and
// by a backup while it opens its two read transactions (OpenBackup).
type anchorWrites struct{ mu sync.Mutex }

// backupSource takes the pair of snapshots an online backup copies.
//
// The two files cannot be copied in one transaction, and copying them one
// after the other while the anchors move breaks the pair: copy the ledger,
// then let a commit be recorded in the trail, then copy the trail, and the
// trail's copy has seen a checkpoint the ledger's copy does not hold (a
// "rolled-back ledger" at start); copy the trail first and the ledger's
// copy may name a trail record its copy lacks. So OpenBackup holds every
// anchor write still while it (1) brings both anchors up to the current
// heads (recordHeads: the copy lags by nothing at that moment), (2) opens
// the ledger's read transaction, (3) opens the trail's. Entries and audit
// records go on being committed meanwhile, but no anchor moves, so:
//
//   - the trail's copy holds the checkpoint recorded in (1), which the
//     ledger had committed before (1); the ledger's copy, taken after, holds
//     at least that size with that root: ledger size >= the recorded size;
//   - the ledger's copy holds the audit head recorded in (1), which the
//     trail had committed before (1); the trail's copy, taken after (3),
//     reaches at least that record: trail >= the recorded record.
//
// Both are what the start-up check (checkAnchors) accepts, and
// TestBackupPairPassesAnchors takes backups under a write load to show it.
type backupSource struct {
	writes *anchorWrites
	store  *storage.Store
	l      *ledger.Ledger
	a      *audit.Store
}

func (b backupSource) OpenBackup() (*server.BackupSnapshot, error) {
	b.writes.mu.Lock()
	defer b.writes.mu.Unlock()
	if err := recordHeads(b.a, b.l); err != nil {
		return nil, fmt.Errorf("backup: bring the anchors up to date: %w", err)
	}
	ls, err := b.store.Snapshot()
	if err != nil {
		return nil, err
	}
	as, err := b.a.Snapshot()
	if err != nil {
		ls.Close()
		return nil, err
	}
	return &server.BackupSnapshot{Ledger: ls, Audit: as}, nil
}

// startAnchors records every checkpoint the ledger publishes in the audit
// trail, and the trail's head in the ledger every auditHeadInterval while
// it grows. A failed write is logged and retried with the next change: the
// anchors only lag, which the start-up check allows.
func startAnchors(ctx context.Context, w *anchorWrites, a *audit.Store, l *ledger.Ledger, log *slog.Logger) *anchors {
	ctx, cancel := context.WithCancel(ctx)
	an := &anchors{cancel: cancel}
	an.wg.Add(2)
	go func() {
		defer an.wg.Done()
		cp, _ := l.Checkpoint()
		for size := cp.Size; ; {
			if _, err := l.WaitBeyond(ctx, size); err != nil {
				return
			}
			cp, _ := l.Checkpoint()
			failpoint.Inject("chemledgerd/before-anchor") // committed to the ledger, not recorded in the trail
			w.mu.Lock()
			err := a.RecordCheckpoint(cp.Size, cp.Root)
			w.mu.Unlock()
			if err != nil {
				log.Error("could not record the ledger's checkpoint in the audit trail", "size", cp.Size, "err", err)
			}
			size = cp.Size
		}
	}()
	go func() {
		defer an.wg.Done()
		t := time.NewTicker(auditHeadInterval)
		defer t.Stop()
		var recorded uint64
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			w.mu.Lock()
			last, has, err := a.Last()
			if err == nil && has && last.Seq != recorded {
				err = l.RecordAuditHead(auditHead(last))
			}
			w.mu.Unlock()
			if err != nil {
				log.Error("could not record the audit trail's head in the ledger", "err", err)
				continue
			}
			recorded = last.Seq
		}
	}()
	return an
}

// stop ends both loops and waits for them.
func (an *anchors) stop() {
	an.cancel()
	an.wg.Wait()
}
