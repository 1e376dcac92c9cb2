// Package derive keeps the state derived from the log up to date: it
// follows committed entries, folds them through the detection engine,
// records the flags it raises and the dispositions analysts append, and
// stores both in the derived buckets. Derived state never sits in front of
// the durable write (docs/architecture.md): the ledger commits, then this package
// reads what was committed. It can be dropped and rebuilt from the log, and
// a rebuild gives byte-identical flags.
//
// It must not sit in front of the durable write, judge events itself (the
// rules are detect's) or answer RPCs (the server does).
package derive

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/failpoint"
	"github.com/chemledger/chemledger/ledger"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

// Flag is a detector flag with the dispositions recorded on it.
type Flag struct {
	detect.Flag
	History []StatusChange `json:"history,omitempty"`
	// Seq is the log position of the flag's latest change: one past the
	// index of the entry whose application raised it or recorded its
	// latest disposition. Watches resume by it; a rebuild gives the same.
	Seq uint64 `json:"seq,omitempty"`
}

// Status is where a flag stands: OPEN until a disposition says otherwise.
func (f *Flag) Status() string {
	if len(f.History) == 0 {
		return StatusOpen
	}
	return f.History[len(f.History)-1].Status
}

// Statuses of a flag.
const (
	StatusOpen      = "OPEN"
	StatusConfirmed = "CONFIRMED"
	StatusDismissed = "DISMISSED"
	StatusEscalated = "ESCALATED"
)

// StatusChange is one disposition recorded on a flag.
type StatusChange struct {
	Status string    `json:"status"`
	Note   string    `json:"note"`
	Member string    `json:"member"`
	Index  uint64    `json:"index"`
	Time   time.Time `json:"time"`
}

// Config configures a Deriver.
type Config struct {
	// Policy is the detection policy.
	Policy detect.Policy
	// Logger receives operational logs.
	Logger *slog.Logger
}

// DefaultConfig returns the defaults with the embedded default policy.
func DefaultConfig() Config {
	return Config{Policy: detect.DefaultPolicy(), Logger: slog.Default()}
}

// Deriver follows the log.
type Deriver struct {
	store  *storage.Store
	ledger *ledger.Ledger
	engine *detect.Engine
	// derivedBy is what the stored flags are recorded as derived under.
	derivedBy string
	cfg       Config

	// run serialises folding: the state and clock are not safe for
	// concurrent use.
	run   sync.Mutex
	state *detect.State // nil after a failed store, until reloaded
	clock time.Time
	snap  snapshotPace
	// refolded counts the entries folded again only to rebuild the state
	// (on Open, below a snapshot's mark never).
	refolded uint64

	// observer, when set, is told of every new flag.
	observer atomic.Pointer[Observer]

	// mu guards what queries read.
	mu    sync.RWMutex
	flags *flagSet
	next  uint64
}

// Keys of the detector's values in storage.
const (
	keyApplied  = "applied"
	keyPolicy   = "policy"
	keySnapshot = "state"
)

// Open loads the stored flags and the detector's in-memory index: the latest
// snapshot of it, then the entries applied after the snapshot folded in
// (all of them when there is no usable snapshot). A store derived under
// another policy version is dropped and derived again, so that every flag
// names the policy that judged it.
func Open(store *storage.Store, l *ledger.Ledger, cfg Config) (*Deriver, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	e := detect.NewEngine(cfg.Policy)
	d := &Deriver{store: store, ledger: l, engine: e, derivedBy: derivedBy(e), cfg: cfg, state: detect.NewState(), flags: newFlagSet()}
	d.snap = defaultPace()
	var loaded []*Flag
	var applied uint64
	var policy string
	err := store.View(func(tx *storage.ReadTx) error {
		if v := tx.DetectorValue(keyApplied); len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		policy = string(tx.DetectorValue(keyPolicy))
		return tx.ForEachFlag(func(id string, b []byte) error {
			var f Flag
			if err := json.Unmarshal(b, &f); err != nil {
				return fmt.Errorf("stored flag %s: %w", id, err)
			}
			loaded = append(loaded, &f)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if policy != "" && policy != d.derivedBy {
		cfg.Logger.Warn("detection policy or rules changed; deriving flags again", "was", policy, "now", d.derivedBy)
		if err := store.DropDerived(); err != nil {
			return nil, err
		}
		loaded, applied = nil, 0
	}
	d.flags.load(loaded)
	start := time.Now()
	if err := d.loadState(applied); err != nil {
		return nil, err
	}
	d.next = applied
	cfg.Logger.Info("detector ready", "applied", applied, "flags", len(d.flags.byID), "policy", d.engine.PolicyVersion(),
		"snapshot", d.snap.mark, "refolded", d.refolded, "took", time.Since(start).Round(time.Millisecond))
	return d, nil
}

// derivedBy names what the stored flags were derived under: the policy
// version (which every flag records) and the version of every rule, so
// that a rule changed in the code, not only a new policy, has the flags
// derived again.
func derivedBy(e *detect.Engine) string {
	var b strings.Builder
	b.WriteString(e.PolicyVersion())
	b.WriteString(" rules")
	for _, r := range detect.Catalogue() {
		fmt.Fprintf(&b, " %s.%d", r.ID, r.Version)
	}
	return b.String()
}

// Amount reckons an event's quantity as the rules do.
func (d *Deriver) Amount(ev *chemledgerv1.ShipmentEvent) detect.Amount { return d.engine.Amount(ev) }

// PolicyVersion is the version of the policy in force.
func (d *Deriver) PolicyVersion() string { return d.engine.PolicyVersion() }

// catchUpRetry is how long Run waits after a failed catch-up before it
// tries again. Without the wait a store that keeps failing (a full disk, a
// store closed under a detector still behind the log) made Run a busy loop:
// the log is already beyond the applied mark, so WaitBeyond returns at once.
const catchUpRetry = 500 * time.Millisecond

// Run follows the log until ctx ends, applying every new entry.
func (d *Deriver) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		size, err := d.ledger.WaitBeyond(ctx, d.Applied())
		if err != nil {
			return nil
		}
		if err := d.CatchUp(size); err != nil {
			d.cfg.Logger.Error("detector catch-up failed; will retry", "err", err, "retry_in", catchUpRetry)
			select {
			case <-ctx.Done():
			case <-time.After(catchUpRetry):
			}
		}
	}
	return nil
}

// Applied is the number of log entries the detector has applied.
func (d *Deriver) Applied() uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.next
}

// CatchUp applies every committed entry up to size (0: the latest
// checkpoint's size) and stores the flags they raise.
func (d *Deriver) CatchUp(size uint64) error {
	if size == 0 {
		cp, _ := d.ledger.Checkpoint()
		size = cp.Size
	}
	d.run.Lock()
	defer d.run.Unlock()
	if err := d.reloadIfFailedLocked(); err != nil {
		return err
	}
	for next := d.Applied(); next < size; next = d.Applied() {
		end := min(size, next+batchSize)
		if err := d.fold(next, end, true); err != nil {
			return err
		}
	}
	return nil
}

// advanceClock moves the log's clock on with rec and returns the new time,
// or zero when it did not move. The clock is the latest time at which
// anything recorded happened — the latest occurred_time of the events so far
// — but never later than the entry's integrated time, so a declaration dated
// in the future cannot run it ahead of the real world. It is a function of
// the log alone: the live detector and a rebuild see the same clock. A
// wall clock would not do: events reported late (a backlog, a national
// system catching up) would look like missing receipts in the live run and
// not in a rebuild. The price: while the log is quiet, time-based rules
// wait for the next entry.
func (d *Deriver) advanceClock(rec detect.Record) time.Time {
	if rec.Event.GetOccurredTime() == nil {
		return time.Time{}
	}
	t := rec.Event.GetOccurredTime().AsTime()
	if t.After(rec.Time) {
		t = rec.Time
	}
	if !t.After(d.clock) {
		return time.Time{}
	}
	d.clock = t
	return t
}

// batchSize bounds the entries one derived-state transaction covers.
const batchSize = 1024

// Sweep runs the time-based rules as of asOf and stores what they raise.
// The live detector sweeps only as the log's clock advances; an explicit
// sweep is for a rebuild or an operator's "as of" run, and a rebuild must be
// given the same asOf to reproduce its flags.
func (d *Deriver) Sweep(asOf time.Time) error {
	d.run.Lock()
	defer d.run.Unlock()
	if err := d.reloadIfFailedLocked(); err != nil {
		return err
	}
	return d.record(d.engine.Sweep(d.state, asOf), nil, nil, d.Applied())
}

// fold applies entries [from, to) to the state. With store, it records the
// flags and dispositions they bring and moves the applied mark; without, it
// only rebuilds the in-memory index (their flags are stored already).
func (d *Deriver) fold(from, to uint64, store bool) error {
	if from >= to {
		return nil
	}
	start := time.Now()
	type item struct {
		rec  detect.Record
		disp *chemledgerv1.Disposition
	}
	var items []item
	err := d.store.View(func(tx *storage.ReadTx) error {
		for i := from; i < to; i++ {
			leaf, err := tx.Leaf(i)
			if err != nil {
				return err
			}
			m, err := tx.Meta(i)
			if err != nil {
				return err
			}
			it := item{rec: detect.Record{Index: i, Member: m.Member, Time: time.Unix(0, m.IntegratedTime).UTC()}}
			// Entries were admitted, so they parse; one that no longer does
			// (a schema that moved on) is skipped, as detection input only.
			if env, err := envelope.Parse(leaf); err == nil {
				if p, err := envelope.DecodePayload(env); err == nil {
					it.rec.Event, it.rec.Registry, it.disp = p.Event, p.Registry, p.Disposition
					if u := p.Registry.GetReferenceUpdate(); u != nil {
						ref := detect.ReferenceFromProto(u)
						it.rec.Registry, it.rec.Reference = nil, &ref
					}
				}
			}
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read entries %d to %d: %w", from, to, err)
	}
	var raised []detect.Flag
	var raisedAt []uint64 // the position each flag of raised was raised at
	var disps []disposition
	for _, it := range items {
		raised = append(raised, d.engine.Apply(d.state, it.rec)...)
		// Time-based rules run as the log's clock advances, so that a
		// rebuild raises exactly what the live detector raised.
		if t := d.advanceClock(it.rec); !t.IsZero() {
			raised = append(raised, d.engine.Sweep(d.state, t)...)
		}
		for len(raisedAt) < len(raised) {
			raisedAt = append(raisedAt, it.rec.Index+1)
		}
		if it.disp != nil {
			disps = append(disps, disposition{it.disp, it.rec})
		}
	}
	d.snap.folding += time.Since(start)
	if !store {
		d.refolded += to - from
		return nil
	}
	return d.record(raised, raisedAt, disps, to)
}

type disposition struct {
	d   *chemledgerv1.Disposition
	rec detect.Record
}

// record stores new flags and dispositions and the applied mark in one
// transaction, with a snapshot of the state when one is due, then makes them
// visible to queries. If the store fails, the state (already past applied)
// is dropped, to be rebuilt before anything else is folded: folding the
// same entries twice would give wrong flags, and a snapshot would keep them.
func (d *Deriver) record(raised []detect.Flag, raisedAt []uint64, disps []disposition, applied uint64) error {
	d.mu.RLock()
	changed := map[string]*Flag{}
	var fresh []string // rule ids of the flags raised for the first time
	for i, f := range raised {
		if old, ok := d.flags.byID[f.ID]; ok {
			// Raised again (a sweep after a restart): same content, keep
			// its history and its position.
			changed[f.ID] = &Flag{Flag: f, History: old.History, Seq: old.Seq}
			continue
		}
		if _, again := changed[f.ID]; !again {
			fresh = append(fresh, f.RuleID)
		}
		seq := applied // a sweep at a chosen time: at the position it ran
		if i < len(raisedAt) {
			seq = raisedAt[i]
		}
		changed[f.ID] = &Flag{Flag: f, Seq: seq}
	}
	for _, ds := range disps {
		f := changed[ds.d.GetFlagId()]
		if f == nil {
			old, ok := d.flags.byID[ds.d.GetFlagId()]
			if !ok {
				d.cfg.Logger.Warn("disposition of an unknown flag ignored", "flag", ds.d.GetFlagId(), "entry", ds.rec.Index)
				continue
			}
			cp := *old
			cp.History = append([]StatusChange(nil), old.History...)
			f = &cp
			changed[f.ID] = f
		}
		f.History = append(f.History, StatusChange{
			Status: statusOf(ds.d.GetStatus()), Note: ds.d.GetNote(), Member: ds.rec.Member, Index: ds.rec.Index, Time: ds.rec.Time,
		})
		f.Seq = ds.rec.Index + 1
	}
	d.mu.RUnlock()

	snapStart := time.Now()
	var snap []byte
	if d.snap.due(applied) {
		snap = d.encodeSnapshot(applied)
	}
	failpoint.Inject("derive/before-store") // flags folded, not stored
	err := d.store.Update(func(tx *storage.WriteTx) error {
		for id, f := range changed {
			b, err := json.Marshal(f)
			if err != nil {
				return err
			}
			if err := tx.PutFlag(id, b); err != nil {
				return err
			}
		}
		if err := tx.PutDetectorValue(keyPolicy, []byte(d.derivedBy)); err != nil {
			return err
		}
		if snap != nil {
			if err := tx.PutDetectorValue(keySnapshot, snap); err != nil {
				return err
			}
		}
		return tx.PutDetectorValue(keyApplied, binary.BigEndian.AppendUint64(nil, applied))
	})
	if err != nil {
		d.state = nil
		return fmt.Errorf("store derived state: %w", err)
	}
	if snap != nil {
		d.snap.taken(applied, time.Since(snapStart))
	}
	failpoint.Inject("derive/after-store") // stored, not visible to queries
	d.mu.Lock()
	for _, f := range changed {
		d.flags.put(f)
	}
	d.next = applied
	d.mu.Unlock()
	if p := d.observer.Load(); p != nil {
		for _, rule := range fresh {
			(*p).FlagRaised(rule)
		}
	}
	return nil
}

func statusOf(s chemledgerv1.DispositionStatus) string {
	switch s {
	case chemledgerv1.DispositionStatus_DISPOSITION_STATUS_CONFIRMED:
		return StatusConfirmed
	case chemledgerv1.DispositionStatus_DISPOSITION_STATUS_DISMISSED:
		return StatusDismissed
	case chemledgerv1.DispositionStatus_DISPOSITION_STATUS_ESCALATED:
		return StatusEscalated
	}
	return StatusOpen
}

// ErrNoFlag means no flag has that id.
var ErrNoFlag = errors.New("no such flag")

// Flag returns a copy of the flag with id.
func (d *Deriver) Flag(id string) (Flag, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	f, ok := d.flags.byID[id]
	if !ok {
		return Flag{}, fmt.Errorf("flag %q: %w", id, ErrNoFlag)
	}
	return *f, nil
}

// Rebuild drops all derived state and derives it again from the log, up to
// the latest checkpoint, then, unless asOf is zero, sweeps as of asOf. It
// runs on a live Deriver: queries see the old flags until the new ones are
// complete, and new entries wait until it is done.
func (d *Deriver) Rebuild(asOf time.Time) error {
	d.run.Lock()
	defer d.run.Unlock()
	if err := d.store.DropDerived(); err != nil {
		return err
	}
	fresh := &Deriver{store: d.store, ledger: d.ledger, engine: d.engine, derivedBy: d.derivedBy, cfg: d.cfg, state: detect.NewState(), flags: newFlagSet(), snap: d.snap.restart()}
	cp, _ := d.ledger.Checkpoint()
	for next := uint64(0); next < cp.Size; next = fresh.next {
		if err := fresh.fold(next, min(cp.Size, next+batchSize), true); err != nil {
			return err
		}
	}
	if !asOf.IsZero() {
		if err := fresh.record(d.engine.Sweep(fresh.state, asOf), nil, nil, fresh.next); err != nil {
			return err
		}
	}
	if err := fresh.checkpointLocked(); err != nil {
		d.cfg.Logger.Warn("detector state snapshot not stored after the rebuild", "err", err)
	}
	d.state, d.clock, d.snap = fresh.state, fresh.clock, fresh.snap
	d.mu.Lock()
	d.flags, d.next = fresh.flags, fresh.next
	d.mu.Unlock()
	return nil
}

// Snapshots of the detector's state. The state is not derived from the
// flags, so without a snapshot a start folds every applied entry again
// (tens of seconds at a million entries). A snapshot is stored with the
// flags in the transaction that moves the applied mark, not in every batch:
// it is the whole state, so its mark may lag the applied mark and Open
// folds the entries in between. Snapshots are paced by the entries applied
// since the last one and by what the last one cost, so that a large state
// is not rewritten more often than it pays for.
const (
	// snapshotEvery is the fewest entries applied between snapshots.
	snapshotEvery = 10_000
	// snapshotCostRatio is the least folding time, as a multiple of what the
	// last snapshot took, between snapshots: the detector spends at most a
	// fifth of its time on them, and a start after a crash folds about four
	// snapshots' worth of time at most.
	snapshotCostRatio = 4
)

// snapshotPace is when the next snapshot is due.
type snapshotPace struct {
	mark    uint64        // applied mark of the latest stored snapshot
	every   uint64        // entries between snapshots, at least
	ratio   time.Duration // folding time between them, in multiples of cost
	folding time.Duration // spent folding since the latest snapshot
	cost    time.Duration // what the latest snapshot took to encode and store
}

func defaultPace() snapshotPace { return snapshotPace{every: snapshotEvery, ratio: snapshotCostRatio} }

func (p *snapshotPace) due(applied uint64) bool {
	return applied >= p.mark+p.every && p.folding >= p.ratio*p.cost
}

func (p *snapshotPace) taken(mark uint64, cost time.Duration) {
	p.mark, p.cost, p.folding = mark, cost, 0
}

// restart is the pace for a state folded from nothing.
func (p snapshotPace) restart() snapshotPace {
	p.mark, p.folding = 0, 0
	return p
}

// castagnoli checks a snapshot's header; the state carries its own checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeSnapshot returns the stored form of the state as of mark: the mark
// and the log's clock, their CRC-32C, then detect's encoding of the state.
// A snapshot is only a shortcut, so a failure is logged and gives nil.
func (d *Deriver) encodeSnapshot(mark uint64) []byte {
	state, err := d.engine.EncodeState(d.state)
	if err == nil {
		var clock []byte
		if clock, err = d.clock.MarshalBinary(); err == nil {
			b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+1+len(clock)+4+len(state)), mark)
			b = append(b, byte(len(clock)))
			b = append(b, clock...)
			b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
			return append(b, state...)
		}
	}
	d.cfg.Logger.Warn("detector state snapshot not taken", "applied", mark, "err", err)
	return nil
}

// restoreSnapshot sets the state, clock and pace from a stored snapshot
// taken at or below applied; on error it changes nothing.
func (d *Deriver) restoreSnapshot(b []byte, applied uint64) error {
	start := time.Now()
	if len(b) < 9 || len(b) < 9+int(b[8])+4 {
		return errors.New("snapshot header truncated")
	}
	n := 9 + int(b[8])
	if crc32.Checksum(b[:n], castagnoli) != binary.BigEndian.Uint32(b[n:]) {
		return errors.New("snapshot header checksum mismatch")
	}
	mark := binary.BigEndian.Uint64(b)
	if mark > applied {
		return fmt.Errorf("snapshot at entry %d is ahead of the applied mark %d", mark, applied)
	}
	var clock time.Time
	if err := clock.UnmarshalBinary(b[9:n]); err != nil {
		return fmt.Errorf("snapshot clock: %w", err)
	}
	s, err := d.engine.DecodeState(b[n+4:])
	if err != nil {
		return err
	}
	d.state, d.clock = s, clock
	d.snap.taken(mark, time.Since(start)) // decoding stands in for encoding
	return nil
}

// loadState rebuilds the state of entries [0, applied) without storing
// anything: from the stored snapshot when it is usable, then by folding the
// entries after its mark. A snapshot that is damaged or of another version
// is passed over, and the whole prefix folded.
func (d *Deriver) loadState(applied uint64) error {
	d.state, d.clock, d.snap = detect.NewState(), time.Time{}, d.snap.restart()
	var b []byte
	if err := d.store.View(func(tx *storage.ReadTx) error {
		b = bytes.Clone(tx.DetectorValue(keySnapshot))
		return nil
	}); err != nil {
		d.state = nil
		return fmt.Errorf("read detector state snapshot: %w", err)
	}
	if len(b) > 0 {
		if err := d.restoreSnapshot(b, applied); err != nil {
			level := slog.LevelWarn
			if errors.Is(err, detect.ErrSnapshotVersion) {
				level = slog.LevelInfo
			}
			d.cfg.Logger.Log(context.Background(), level, "detector state snapshot not used; folding the whole log", "applied", applied, "err", err)
		}
	}
	if err := d.fold(d.snap.mark, applied, false); err != nil {
		d.state = nil
		return err
	}
	return nil
}

// reloadIfFailedLocked rebuilds the state after a failed store left it
// ahead of the applied mark.
func (d *Deriver) reloadIfFailedLocked() error {
	if d.state != nil {
		return nil
	}
	d.cfg.Logger.Info("rebuilding the detector's state after a failed store", "applied", d.Applied())
	return d.loadState(d.Applied())
}

// Checkpoint stores a snapshot of the detector's state at the applied mark,
// so that the next Open restores it and folds nothing again. Call it on a
// graceful shutdown, after Run has returned and before the store is closed;
// it is safe at any time.
func (d *Deriver) Checkpoint() error {
	d.run.Lock()
	defer d.run.Unlock()
	if err := d.reloadIfFailedLocked(); err != nil {
		return err
	}
	return d.checkpointLocked()
}

// checkpointLocked stores a snapshot on its own: one at the mark already
// stored is consistent without the flags' transaction.
func (d *Deriver) checkpointLocked() error {
	start, applied := time.Now(), d.Applied()
	snap := d.encodeSnapshot(applied)
	if snap == nil {
		return errors.New("detector state snapshot not taken")
	}
	if err := d.store.Update(func(tx *storage.WriteTx) error { return tx.PutDetectorValue(keySnapshot, snap) }); err != nil {
		return fmt.Errorf("store detector state snapshot: %w", err)
	}
	d.snap.taken(applied, time.Since(start))
	return nil
}

// Reference is the reference data in force on asOf (the zero time: the
// log's clock, the latest integrated time applied) as the detector holds
// it, and the date it answered for.
func (d *Deriver) Reference(asOf time.Time) (detect.EffectiveReference, time.Time, error) {
	d.run.Lock()
	defer d.run.Unlock()
	if err := d.reloadIfFailedLocked(); err != nil {
		return detect.EffectiveReference{}, time.Time{}, err
	}
	if asOf.IsZero() {
		asOf = d.clock
	}
	return d.engine.EffectiveReference(d.state, asOf), asOf, nil
}
