package derive

import (
	"cmp"
	"slices"
	"sort"

	"github.com/chemledger/chemledger/detect"
)

// flagSet holds the flags by id and in listing order, so that a page of a
// listing is a binary search and a short walk rather than a sort of every
// flag: an analyst's query over 100,000 flags must answer in milliseconds.
//
// Every ordered slice is ascending by (raised time, id descending), so
// walking one from its end gives the "raised_time desc" order with ids
// ascending among equal times — the order compareFlags defines. Flags mostly
// arrive in raised-time order, so an insert is usually an append.
type flagSet struct {
	byID map[string]*Flag
	// all holds every flag; bySeverity one slice per severity, for the
	// "severity desc" order and severity filters.
	all        []*Flag
	bySeverity map[detect.Severity][]*Flag
	// postings holds, for each value of an equality field that never
	// changes on a flag (rule, country, chemical, shipment), the flags with
	// that value. Status changes with dispositions, so it is not posted: a
	// status filter is checked on the walk.
	postings map[postingKey][]*Flag
}

type postingKey struct{ field, value string }

func newFlagSet() *flagSet {
	return &flagSet{byID: map[string]*Flag{}, bySeverity: map[detect.Severity][]*Flag{}, postings: map[postingKey][]*Flag{}}
}

// ascending orders the slices of a flagSet.
func ascending(a, b *Flag) int {
	if c := a.RaisedAt.Compare(b.RaisedAt); c != 0 {
		return c
	}
	return cmp.Compare(b.ID, a.ID)
}

func postingKeys(f *Flag) []postingKey {
	keys := make([]postingKey, 0, 3+len(f.Countries))
	keys = append(keys, postingKey{"rule_id", f.RuleID})
	if f.CAS != "" {
		keys = append(keys, postingKey{"cas", f.CAS})
	}
	if f.ShipmentRef != "" {
		keys = append(keys, postingKey{"shipment_ref", f.ShipmentRef})
	}
	for _, c := range f.Countries {
		keys = append(keys, postingKey{"country", c})
	}
	return keys
}

func insertOrdered(s []*Flag, f *Flag) []*Flag {
	i, _ := slices.BinarySearchFunc(s, f, ascending)
	return slices.Insert(s, i, f)
}

func removeOrdered(s []*Flag, f *Flag) []*Flag {
	if i, ok := slices.BinarySearchFunc(s, f, ascending); ok {
		return slices.Delete(s, i, i+1)
	}
	return s
}

// load adds flags in bulk (at start-up), sorting each slice once.
func (s *flagSet) load(flags []*Flag) {
	for _, f := range flags {
		s.byID[f.ID] = f
		s.all = append(s.all, f)
		s.bySeverity[f.Severity] = append(s.bySeverity[f.Severity], f)
		for _, k := range postingKeys(f) {
			s.postings[k] = append(s.postings[k], f)
		}
	}
	slices.SortFunc(s.all, ascending)
	for _, l := range s.bySeverity {
		slices.SortFunc(l, ascending)
	}
	for _, l := range s.postings {
		slices.SortFunc(l, ascending)
	}
}

// put adds f, or replaces the flag with its id. Readers copy flags out under
// the Deriver's read lock and put runs under its write lock, so a flag whose
// indexed fields are unchanged (a disposition, a sweep raising it again) is
// updated in place and keeps its place in every slice.
func (s *flagSet) put(f *Flag) {
	if old, ok := s.byID[f.ID]; ok {
		if sameIndexing(old, f) {
			*old = *f
			return
		}
		s.remove(old)
	}
	s.byID[f.ID] = f
	s.all = insertOrdered(s.all, f)
	s.bySeverity[f.Severity] = insertOrdered(s.bySeverity[f.Severity], f)
	for _, k := range postingKeys(f) {
		s.postings[k] = insertOrdered(s.postings[k], f)
	}
}

func (s *flagSet) remove(f *Flag) {
	delete(s.byID, f.ID)
	s.all = removeOrdered(s.all, f)
	s.bySeverity[f.Severity] = removeOrdered(s.bySeverity[f.Severity], f)
	for _, k := range postingKeys(f) {
		if l := removeOrdered(s.postings[k], f); len(l) > 0 {
			s.postings[k] = l
		} else {
			delete(s.postings, k)
		}
	}
}

func sameIndexing(a, b *Flag) bool {
	return a.RaisedAt.Equal(b.RaisedAt) && a.Severity == b.Severity && a.RuleID == b.RuleID && a.CAS == b.CAS &&
		a.ShipmentRef == b.ShipmentRef && slices.Equal(a.Countries, b.Countries)
}

// narrowest returns the shortest slice that holds every flag m can match,
// among base and the postings of m's equality fields, and whether it is a
// posting (which holds flags of every severity).
func (s *flagSet) narrowest(m matcher, base []*Flag) (best []*Flag, posting bool) {
	best = base
	for field, value := range m.eq { // every equality field is posted
		if l := s.postings[postingKey{field, value}]; len(l) < len(best) {
			best, posting = l, true
		}
	}
	return best, posting
}

// walk calls fn with each flag matching m, in the listing order, starting
// after the flag after (nil: from the start), until fn returns false.
func (s *flagSet) walk(m matcher, order string, after *Flag, fn func(*Flag) bool) {
	if order != OrderMostSevere {
		base := s.all
		if m.severity != 0 {
			base = s.bySeverity[m.severity]
		}
		src, _ := s.narrowest(m, base)
		walkOrdered(src, m, after, nil, fn)
		return
	}
	for sev := detect.SeverityCritical; sev >= detect.SeverityInfo; sev-- {
		if m.severity != 0 && m.severity != sev {
			continue
		}
		from := after
		if after != nil {
			if sev > after.Severity {
				continue // listed on earlier pages
			}
			if sev < after.Severity {
				from = nil
			}
		}
		src, posting := s.narrowest(m, s.bySeverity[sev])
		var only *detect.Severity
		if posting {
			only = &sev
		}
		stopped := false
		walkOrdered(src, m, from, only, func(f *Flag) bool {
			if !fn(f) {
				stopped = true
				return false
			}
			return true
		})
		if stopped {
			return
		}
	}
}

// walkOrdered walks one ascending slice from its end: newest first.
func walkOrdered(src []*Flag, m matcher, after *Flag, only *detect.Severity, fn func(*Flag) bool) {
	hi := len(src)
	if after != nil {
		hi, _ = slices.BinarySearchFunc(src, after, ascending)
	}
	if until := m.bounds.Until; until != 0 {
		hi = min(hi, sort.Search(len(src), func(i int) bool { return src[i].RaisedAt.UnixNano() >= until }))
	}
	since := m.bounds.Since
	for i := hi - 1; i >= 0; i-- {
		f := src[i]
		if since != 0 && f.RaisedAt.UnixNano() < since {
			return
		}
		if only != nil && f.Severity != *only {
			continue
		}
		if m.match(f) && !fn(f) {
			return
		}
	}
}
