package detect

import "strconv"

// evalNewCounterparty is R21: a consignee that is new to the log orders a
// large volume.
func evalNewCounterparty(c *evalCtx) {
	l := c.leg
	p := l.Consignee
	if !isOrder(l.Kind) || !l.Amount.Known || p.Key == "" {
		return
	}
	th := c.th()
	large := th.get("large_volume_kg")
	if l.Amount.KG <= large {
		return
	}
	start, ok := c.v.LogStart()
	if !ok {
		return // the first event of the log: everyone is new
	}
	// By its own letters: a look-alike of an old counterparty is new.
	first, seen := c.v.FirstSeen(p.Letters)
	if !seen || first.Occurred.After(l.Occurred) {
		first = Sighting{Occurred: l.Occurred, Index: l.Index}
	}
	if first.Occurred.Sub(start) < days(th.get("min_history_days")) {
		return // the log is too young to tell a new party from an unlogged one
	}
	age := l.Occurred.Sub(first.Occurred)
	if age >= days(th.get("new_days")) {
		return
	}
	firstText := "It first appears in the log with this entry"
	if first.Index != l.Index {
		firstText = "It first appeared in the log on " + day(first.Occurred) + " (entry " + idx(first.Index) + "), " +
			strconv.Itoa(int(age.Hours()/24)) + " days before"
	}
	c.add(finding{
		key: p.Key + "|" + l.CAS, ref: l.Ref, subject: p.Key, cas: l.CAS, countries: legCountries(l),
		evidence: []uint64{first.Index, l.Index}, th: th,
		vars: []string{
			"consignee", partyText(p) + lookAlikeNote(p.Name), "country", countryText(p.Country), "kg", num(l.Amount.KG),
			"chemical", l.Chemical, "cas", l.CAS, "kind", kindText(l.Kind), "ref", l.Ref,
			"index", idx(l.Index), "date", day(l.Occurred), "large_volume_kg", num(large),
			"first_text", firstText, "new_days", num(th.get("new_days")),
		},
	})
}
