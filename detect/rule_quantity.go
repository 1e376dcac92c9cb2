package detect

import (
	"math"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// evalQuantityMismatch is R1: the quantity received differs from the
// quantity exported by more than the tolerance.
func evalQuantityMismatch(c *evalCtx) {
	l := c.leg
	sh, ok := c.v.Shipment(l.Ref)
	if !ok {
		return
	}
	var export, receipt *Leg
	switch l.Kind {
	case chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
		export, receipt = sh.Export, l
	case chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION:
		export, receipt = l, sh.Receipt
	default:
		return
	}
	if export == nil || receipt == nil || !export.Amount.Known || !receipt.Amount.Known || export.Amount.KG <= 0 {
		return
	}
	th := c.cr.resolve(export.CAS, importingCountry(export))
	exported, received := export.Amount.KG, receipt.Amount.KG
	diff := received - exported
	diffPct := math.Abs(diff) / exported * 100
	basis, tol := "mass", th.get("tolerance_mass_percent")
	if export.Amount.Volume || receipt.Amount.Volume {
		basis, tol = "volume", th.get("tolerance_volume_percent")
	}
	if diffPct <= tol {
		return
	}
	sev, direction, criticalNote := SeverityHigh, "more than exported", ""
	if diff < 0 {
		direction = "short"
		if crit := th.get("critical_shortfall_percent"); diffPct > crit {
			sev = SeverityCritical
			criticalNote = ", and a shortfall over " + pct(crit) + "% is critical because the missing quantity may have been diverted on the way"
		}
	}
	note := export.Amount.densityNote()
	if receipt.Amount.Volume && receipt.Amount.densityNote() != note {
		note += receipt.Amount.densityNote()
	}
	ev := []uint64{export.Index, receipt.Index}
	if sh.PEN != nil {
		ev = append(ev, sh.PEN.Index)
	}
	c.add(finding{
		key: l.Ref, severity: sev, ref: l.Ref, subject: l.Ref, cas: export.CAS,
		countries: legCountries(export, receipt), evidence: ev, th: th,
		vars: []string{
			"ref", l.Ref, "chemical", export.Chemical, "cas", export.CAS,
			"export_index", idx(export.Index), "receipt_index", idx(receipt.Index),
			"exported", export.Amount.Declared(), "received", receipt.Amount.Declared(),
			"exported_kg", num(exported), "received_kg", num(received), "diff_kg", num(math.Abs(diff)),
			"direction", direction, "diff_percent", pct(diffPct), "tolerance_percent", pct(tol),
			"basis", basis, "critical_note", criticalNote, "density_note", note,
		},
	})
}

// arrivalDue is when a missing receipt becomes a finding: the declared
// arrival, else dispatch (or the declaration) plus the default transit time,
// plus the grace period.
func arrivalDue(l *Leg, th *tvals) time.Time {
	base := l.Arrival
	if base.IsZero() {
		from := l.Dispatch
		if from.IsZero() {
			from = l.Occurred
		}
		base = from.Add(days(th.get("default_transit_days")))
	}
	return base.Add(days(th.get("grace_days")))
}

// missingArrival is R1A's finding for a shipment whose receipt is overdue.
func missingArrival(cr *compiledRule, sh *Shipment, th tvals, due time.Time) finding {
	x := sh.Export
	expected := "with expected arrival on " + day(x.Arrival)
	if x.Arrival.IsZero() {
		from, what := x.Dispatch, "dispatch on "
		if from.IsZero() {
			from, what = x.Occurred, "the declaration on "
		}
		expected = "with no expected arrival date, so arrival was expected " + num(th.get("default_transit_days")) + " days after " + what + day(from)
	}
	ev := []uint64{x.Index}
	if sh.PEN != nil {
		ev = append(ev, sh.PEN.Index)
	}
	return finding{
		cr: cr, key: sh.Ref, ref: sh.Ref, subject: sh.Ref, cas: x.CAS, countries: legCountries(x),
		evidence: ev, th: th, at: due,
		vars: []string{
			"ref", sh.Ref, "exported", x.Amount.Declared(), "chemical", x.Chemical, "cas", x.CAS,
			"exporter", partyText(x.Exporter), "exporter_country", countryText(x.Exporter.Country),
			"consignee", partyText(x.Consignee), "consignee_country", countryText(x.Consignee.Country),
			"export_date", day(x.Occurred), "export_index", idx(x.Index), "expected", expected,
			"grace_days", num(th.get("grace_days")), "due_date", day(due),
		},
	}
}
