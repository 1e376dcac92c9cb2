package detect

import "strconv"

// evalNewCounterparty is R21: a consignee first seen less than new_days
// ago orders a large lot of a chemical.
func evalNewCounterparty(c *evalCtx) {
	l := c.leg
	p := l.Consignee
	if !isOrder(l.Kind) || !l.Amount.Known || p.Key == "" {
		return
	}
	th := c.th()
	// Large is judged against the chemical's own lots: the percentile of
	// those the log has seen, or the policy's mark for the chemical while
	// the log has too few to say.
	large, lots := c.v.LotSizes(l.CAS, th.get("large_lot_percentile"))
	basis := "the " + num(th.get("large_lot_percentile")) + "th percentile of the " + strconv.Itoa(lots) + " lots of the chemical logged before"
	if lots < int(th.get("min_lots")) {
		large = th.get("large_volume_kg")
		basis = "the policy's large-volume mark for the chemical, as the log holds fewer than " + num(th.get("min_lots")) + " lots of it"
	}
	if l.Amount.KG <= large {
		return
	}
	// By its own letters (a look-alike of an old counterparty is new) and
	// by its identifiers (the same company written in another script is
	// not).
	var first Sighting
	seen := false
	earliest := func(f Sighting, ok bool) {
		if ok && (!seen || f.Occurred.Before(first.Occurred)) {
			first, seen = f, true
		}
	}
	earliest(c.v.FirstSeen(p.Letters))
	earliest(c.v.FirstRegistered(p.Letters))
	for _, id := range p.IDs {
		earliest(c.v.FirstSeen("ID:" + id))
		earliest(c.v.FirstRegistered("ID:" + id))
	}
	if !seen || first.Occurred.After(l.Occurred) {
		first = Sighting{Occurred: l.Occurred, Index: l.Index}
	}
	// The log's first day is no evidence that everybody is new, nor that
	// anybody is: a party the registry dates is judged from the registry's
	// date at any time, one known only from events only once the log
	// reaches far enough back to have seen it before.
	if start, ok := c.v.LogStart(); !first.Registry && (!ok || first.Occurred.Sub(start) < days(th.get("min_history_days"))) {
		return
	}
	age := l.Occurred.Sub(first.Occurred)
	if age >= days(th.get("new_days")) {
		return
	}
	firstText := "It first appears in the log with this entry, and the registry holds no licence for it from before"
	switch {
	case first.Registry:
		firstText = "The registry's first record of it is a licence valid from " + day(first.Occurred) + " (entry " + idx(first.Index) + "), " +
			strconv.Itoa(int(age.Hours()/24)) + " days before"
	case first.Index != l.Index:
		firstText = "It was first seen on " + day(first.Occurred) + " (entry " + idx(first.Index) + "), " +
			strconv.Itoa(int(age.Hours()/24)) + " days before"
	}
	c.add(finding{
		key: p.Key + "|" + l.CAS, ref: l.Ref, subject: p.Key, cas: l.CAS, countries: legCountries(l),
		evidence: []uint64{first.Index, l.Index}, th: th,
		extra: []Threshold{{Name: "large_lot_kg", Value: num(large)}},
		vars: []string{
			"consignee", partyText(p) + lookAlikeNote(p.Name), "country", countryText(p.Country), "kg", num(l.Amount.KG),
			"chemical", l.Chemical, "cas", l.CAS, "kind", kindText(l.Kind), "ref", l.Ref,
			"index", idx(l.Index), "date", day(l.Occurred), "large_kg", num(large), "large_basis", basis,
			"first_text", firstText, "new_days", num(th.get("new_days")),
		},
	})
}
