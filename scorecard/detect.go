package scorecard

import (
	"time"

	"github.com/chemledger/chemledger/detect"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// LogEntry is one decoded log entry: Entry plus the registry change the
// detector also folds.
type LogEntry struct {
	Entry
	Registry *chemledgerv1.RegistryEntry
}

// Detect folds entries (the log's [0, n) in index order) through a fresh
// detector exactly as derive folds them — Apply, then Sweep whenever the
// log's clock (the latest occurred time, never past the integrated time)
// advances — and returns the input the scorecard is computed from.
//
// The scorecard folds for itself rather than reading derive's stored flags
// so that its figures are a function of the prefix alone: derive may stand
// at another size than the checkpoint, and an operator's explicit sweep
// (`chemledgerd rebuild --as-of`) can add flags the log's clock has not
// reached. A member recounting from its mirror runs this same fold.
func Detect(entries []LogEntry, policy detect.Policy) (eng *detect.Engine, es []Entry, flags []Flag) {
	eng = detect.NewEngine(policy)
	st := detect.NewState()
	var clock time.Time
	add := func(fs []detect.Flag) {
		for _, f := range fs {
			flags = append(flags, Flag{ID: f.ID, RuleID: f.RuleID, RaisedAt: f.RaisedAt.UTC(), Evidence: f.Evidence})
		}
	}
	for _, le := range entries {
		rec := detect.Record{Index: le.Index, Member: le.Member, Time: le.Time, Event: le.Event, Registry: le.Registry}
		add(eng.Apply(st, rec))
		if t := le.Event.GetOccurredTime(); t != nil {
			at := t.AsTime()
			if at.After(le.Time) {
				at = le.Time
			}
			if at.After(clock) {
				clock = at
				add(eng.Sweep(st, at))
			}
		}
		if le.Event != nil || le.Disposition != nil {
			es = append(es, le.Entry)
		}
	}
	return eng, es, flags
}

// KG is Input.KG for an engine: its own reckoning of kilograms pure.
func KG(eng *detect.Engine) func(*chemledgerv1.ShipmentEvent) (float64, bool) {
	return func(ev *chemledgerv1.ShipmentEvent) (float64, bool) {
		a := eng.Amount(ev)
		return a.KG, a.Known
	}
}
