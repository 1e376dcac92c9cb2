// Package derive keeps the state derived from the log up to date: it
// follows committed entries, folds them through the detection engine,
// records the flags it raises and the dispositions analysts append, and
// stores both in the derived buckets. Derived state never sits in front of
// the durable write (DESIGN.md): the ledger commits, then this package
// reads what was committed. It can be dropped and rebuilt from the log, and
// a rebuild gives byte-identical flags.
package derive

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/failpoint"
	"github.com/chemledger/chemledger/ledger"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

// Flag is a detector flag with the dispositions recorded on it.
type Flag struct {
	detect.Flag
	History []StatusChange `json:"history,omitempty"`
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
	cfg    Config

	// run serialises folding: the state and clock are not safe for
	// concurrent use.
	run   sync.Mutex
	state *detect.State
	clock time.Time

	// mu guards what queries read.
	mu    sync.RWMutex
	flags map[string]*Flag
	next  uint64
}

// Keys of the detector's values in storage.
const (
	keyApplied = "applied"
	keyPolicy  = "policy"
)

// Open loads the stored flags and rebuilds the detector's in-memory index by
// folding the entries it had already applied. A store derived under another
// policy version is dropped and derived again, so that every flag names the
// policy that judged it.
func Open(store *storage.Store, l *ledger.Ledger, cfg Config) (*Deriver, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Deriver{store: store, ledger: l, engine: detect.NewEngine(cfg.Policy), cfg: cfg, state: detect.NewState(), flags: map[string]*Flag{}}
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
			d.flags[id] = &f
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if policy != "" && policy != d.engine.PolicyVersion() {
		cfg.Logger.Warn("detection policy changed; deriving flags again", "was", policy, "now", d.engine.PolicyVersion())
		if err := store.DropDerived(); err != nil {
			return nil, err
		}
		d.flags, applied = map[string]*Flag{}, 0
	}
	start := time.Now()
	if err := d.fold(0, applied, false); err != nil {
		return nil, err
	}
	d.next = applied
	cfg.Logger.Info("detector ready", "applied", applied, "flags", len(d.flags), "policy", d.engine.PolicyVersion(), "took", time.Since(start).Round(time.Millisecond))
	return d, nil
}

// Amount reckons an event's quantity as the rules do.
func (d *Deriver) Amount(ev *chemledgerv1.ShipmentEvent) detect.Amount { return d.engine.Amount(ev) }

// PolicyVersion is the version of the policy in force.
func (d *Deriver) PolicyVersion() string { return d.engine.PolicyVersion() }

// Run follows the log until ctx ends, applying every new entry.
func (d *Deriver) Run(ctx context.Context) error {
	for {
		size, err := d.ledger.WaitBeyond(ctx, d.Applied())
		if err != nil {
			return nil
		}
		if err := d.CatchUp(size); err != nil {
			d.cfg.Logger.Error("detector catch-up failed; will retry on the next entry", "err", err)
		}
	}
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
	return d.record(d.engine.Sweep(d.state, asOf), nil, d.Applied())
}

// fold applies entries [from, to) to the state. With store, it records the
// flags and dispositions they bring and moves the applied mark; without, it
// only rebuilds the in-memory index (their flags are stored already).
func (d *Deriver) fold(from, to uint64, store bool) error {
	if from >= to {
		return nil
	}
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
	var disps []disposition
	for _, it := range items {
		raised = append(raised, d.engine.Apply(d.state, it.rec)...)
		// Time-based rules run as the log's clock advances, so that a
		// rebuild raises exactly what the live detector raised.
		if t := d.advanceClock(it.rec); !t.IsZero() {
			raised = append(raised, d.engine.Sweep(d.state, t)...)
		}
		if it.disp != nil {
			disps = append(disps, disposition{it.disp, it.rec})
		}
	}
	if !store {
		return nil
	}
	return d.record(raised, disps, to)
}

type disposition struct {
	d   *chemledgerv1.Disposition
	rec detect.Record
}

// record stores new flags and dispositions and the applied mark in one
// transaction, then makes them visible to queries.
func (d *Deriver) record(raised []detect.Flag, disps []disposition, applied uint64) error {
	d.mu.RLock()
	changed := map[string]*Flag{}
	for _, f := range raised {
		if old, ok := d.flags[f.ID]; ok {
			// Raised again (a sweep after a restart): same content, keep
			// its history.
			changed[f.ID] = &Flag{Flag: f, History: old.History}
			continue
		}
		changed[f.ID] = &Flag{Flag: f}
	}
	for _, ds := range disps {
		f := changed[ds.d.GetFlagId()]
		if f == nil {
			old, ok := d.flags[ds.d.GetFlagId()]
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
	}
	d.mu.RUnlock()

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
		if err := tx.PutDetectorValue(keyPolicy, []byte(d.engine.PolicyVersion())); err != nil {
			return err
		}
		return tx.PutDetectorValue(keyApplied, binary.BigEndian.AppendUint64(nil, applied))
	})
	if err != nil {
		return fmt.Errorf("store derived state: %w", err)
	}
	failpoint.Inject("derive/after-store") // stored, not visible to queries
	d.mu.Lock()
	for id, f := range changed {
		d.flags[id] = f
	}
	d.next = applied
	d.mu.Unlock()
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
	f, ok := d.flags[id]
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
	fresh := &Deriver{store: d.store, ledger: d.ledger, engine: d.engine, cfg: d.cfg, state: detect.NewState(), flags: map[string]*Flag{}}
	cp, _ := d.ledger.Checkpoint()
	for next := uint64(0); next < cp.Size; next = fresh.next {
		if err := fresh.fold(next, min(cp.Size, next+batchSize), true); err != nil {
			return err
		}
	}
	if !asOf.IsZero() {
		if err := fresh.record(d.engine.Sweep(fresh.state, asOf), nil, fresh.next); err != nil {
			return err
		}
	}
	d.state, d.clock = fresh.state, fresh.clock
	d.mu.Lock()
	d.flags, d.next = fresh.flags, fresh.next
	d.mu.Unlock()
	return nil
}
