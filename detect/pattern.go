package detect

import (
	"strconv"
	"time"
)

// Group rules (R11 structuring, R12 company shopping, R28 synthesis sets)
// flag a pattern of several shipments, and a pattern goes on after its flag
// is raised: the fourth and fifth split order, the second new supplier
// after a refusal, the third chemical of a synthesis route. A shipment that
// joins a flagged pattern gets a linked flag of the same rule: it cites the
// pattern's first entry, the entry that last joined it and its own, and
// names the flag that opened the pattern, so the flags of one pattern
// together cite every shipment of it. A flag, once raised, never changes
// (a rebuild gives the same bytes); the pattern grows by new flags. The
// cost of a join is one map lookup, however long the pattern has run.

// Pattern is a flagged group pattern as it stands: the flag that opened it
// and what has joined it since.
type Pattern struct {
	// Head is the id of the flag that opened the pattern.
	Head string
	// FirstIndex and First are the pattern's earliest entry and its
	// occurred time; LastIndex and Last the latest to join.
	FirstIndex, LastIndex uint64
	First, Last           time.Time
	// Count is the number of shipments in the pattern; KG their total in
	// kg of pure substance.
	Count int
	KG    float64
	// Steps marks the synthesis steps the pattern covers (R28), one bit
	// per step of the set.
	Steps uint64
}

// patternUpdate is what raising a finding does to a pattern: open it (a
// head flag) or extend it (a linked flag).
type patternUpdate struct {
	key  string
	head bool
	p    Pattern // for a head: the whole pattern; for a join: the joining shipment
	// head0 is, for a join, the id of the flag that opened the pattern.
	head0 string
}

// apply folds the update into s. headID is the id of the flag being raised.
func (s *State) applyPattern(u *patternUpdate, headID string) {
	if u.head {
		p := u.p
		p.Head = headID
		s.patterns[u.key] = &p
		return
	}
	p := s.patterns[u.key]
	if p == nil {
		return // a join is only found for a pattern the state holds
	}
	p.Count++
	p.KG += u.p.KG
	p.Steps |= u.p.Steps
	if !u.p.Last.Before(p.Last) {
		p.Last, p.LastIndex = u.p.Last, u.p.LastIndex
	}
	if u.p.First.Before(p.First) {
		p.First, p.FirstIndex = u.p.First, u.p.FirstIndex
	}
}

// join returns the update for a shipment joining p under key.
func join(key string, p Pattern, l *Leg, steps uint64) *patternUpdate {
	return &patternUpdate{key: key, head0: p.Head, p: Pattern{
		FirstIndex: l.Index, LastIndex: l.Index, First: l.Occurred, Last: l.Occurred, KG: l.Amount.KG, Steps: steps,
	}}
}

// joins reports whether a shipment occurred at t, within window of the
// latest shipment of a flagged pattern, belongs to it.
func joins(p Pattern, t time.Time, window time.Duration) bool {
	return absDur(t.Sub(p.Last)) <= window
}

// joinVars are the explanation values every linked flag shares.
func joinVars(p Pattern, countAfter int) []string {
	return []string{
		"head", p.Head, "first_date", day(p.First), "first_index", idx(p.FirstIndex),
		"prev_index", idx(p.LastIndex), "prev_date", day(p.Last), "pattern_count", strconv.Itoa(countAfter),
	}
}
