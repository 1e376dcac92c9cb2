package detect

import (
	"slices"
	"strings"
)

// evalWatchList is R27. On a shipment event it screens every party whose
// profile is new against the watch list; on a new watch-list entry it
// screens every known party against that entry. Together these keep every
// known party screened against every entry in force, without screening the
// same party on every event.
func evalWatchList(c *evalCtx) {
	if c.added != nil {
		th := c.cr.resolve("", "")
		for p := range c.v.Profiles() {
			if _, how, ok := watchMatch(p, *c.added, th.get("name_similarity")); ok {
				first, _ := c.v.FirstSeen(p.Key)
				c.add(watchFinding(p, "", nil, *c.added, how, th, first.Index))
			}
		}
		return
	}
	l := c.leg
	type role struct {
		p    *Party
		name string
	}
	roles := []role{{l.Exporter, "exporter"}, {l.Importer, "importer"}}
	if l.ConsigneeStated {
		roles = append(roles, role{l.Consignee, "ultimate consignee"})
	}
	for _, p := range c.extra {
		roles = append(roles, role{p, "intermediary"})
	}
	var list []WatchEntry
	var done []string
	for _, r := range roles {
		if r.p.Key == "" || c.v.KnownProfile(r.p.Profile) || slices.Contains(done, r.p.Profile) {
			continue
		}
		done = append(done, r.p.Profile)
		if list == nil {
			if list = c.v.WatchList(); len(list) == 0 {
				return
			}
		}
		th := c.cr.resolve(l.CAS, r.p.Country)
		for _, w := range list {
			if _, how, ok := watchMatch(*r.p, w, th.get("name_similarity")); ok {
				c.add(watchFinding(*r.p, r.name, l, w, how, th, l.Index))
			}
		}
	}
}

// watchMatch compares a party with a watch-list entry: an identical
// identifier, or a name or alias at least min similar in the listed country
// (any country when the entry names none).
func watchMatch(p Party, w WatchEntry, min float64) (float64, string, bool) {
	for _, id := range p.IDs {
		if slices.Contains(w.Party.IDs, id) {
			return 1, "by the identical identifier " + id, true
		}
	}
	if w.Party.Country != "" && w.Party.Country != p.Country {
		return 0, "", false
	}
	best, ok := 0.0, false
	for _, n := range append([]string{w.Party.Norm}, w.AliasNorms...) {
		if n == "" {
			continue
		}
		if s, hit := similarEnough(p.Norm, n, min); hit && s > best {
			best, ok = s, true
		}
	}
	if !ok {
		return 0, "", false
	}
	if best == 1 {
		return 1, "by name, identical after normalisation", true
	}
	return best, "by name, " + pct(best*100) + "% similar after normalisation (threshold " + pct(min*100) + "%)", true
}

// watchFinding builds R27's finding; l is nil when the party was found by
// screening known parties against a new entry.
func watchFinding(p Party, role string, l *Leg, w WatchEntry, how string, th tvals, index uint64) finding {
	f := finding{
		key: p.Key + "|" + w.Key, subject: p.Key, countries: []string{p.Country, w.Party.Country},
		evidence: []uint64{index, w.Index}, th: th,
	}
	seen := "a party in earlier shipment events (first in entry " + idx(index) + "), screened when the watch-list entry was added"
	if l != nil {
		f.ref, f.cas = l.Ref, l.CAS
		f.countries = append(f.countries, legCountries(l)...)
		seen = "named as " + role + " in the " + kindText(l.Kind) + " of entry " + idx(index) + " (shipment " + l.Ref + ", " + l.Chemical + ")"
	}
	listed := partyText(&w.Party)
	if len(w.Aliases) > 0 {
		listed += " (also listed under " + strings.Join(w.Aliases, ", ") + ")"
	}
	reason := w.Reason
	if reason == "" {
		reason = "no reason given"
	}
	f.vars = []string{
		"party", partyText(&p), "country", countryText(p.Country), "seen_text", seen,
		"listed", listed, "list", w.List, "watch_index", idx(w.Index), "reason", reason, "match_text", how,
	}
	return f
}
