package detect

import (
	"strconv"

	"github.com/chemledger/chemledger/internal/refdata"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// amount normalises a declared quantity to kilograms of pure substance
// (reference/domain.md §10): value × unit factor, × density for a volume,
// × concentration / 100. An undeclared concentration counts as 100 %, as the
// API contract says; a liquid with no density on file is taken at 1.0 kg/l
// and the amount says so, so an explanation can too.
func amount(q *chemledgerv1.Quantity, ch *chemledgerv1.Chemical, cas string, densities map[string]float64) Amount {
	if q == nil {
		return Amount{}
	}
	a := Amount{Value: q.GetValue(), Unit: q.GetUnit(), Percent: ch.GetConcentrationPercent()}
	if !(a.Percent > 0 && a.Percent <= 100) {
		a.Percent = 100
	}
	u, ok := refdata.UnitByCode(a.Unit)
	if !ok || !(a.Value > 0) {
		return a
	}
	kg := a.Value * u.Factor
	if u.Kind == refdata.Volume {
		a.Volume = true
		a.Density, ok = densities[cas]
		if !ok {
			a.Density, a.DensityAssumed = 1.0, true
		}
		kg *= a.Density
	}
	a.KG = kg * a.Percent / 100
	a.Known = true
	return a
}

// Declared is the quantity as declared, for explanations: "500 LTR", or
// "500 LTR at 40 %" for a mixture.
func (a Amount) Declared() string {
	s := strconv.FormatFloat(a.Value, 'f', -1, 64) + " " + a.Unit
	if a.Percent != 100 {
		s += " at " + strconv.FormatFloat(a.Percent, 'f', -1, 64) + " %"
	}
	return s
}

// densityNote says how a volume became a mass, or nothing for a mass.
func (a Amount) densityNote() string {
	switch {
	case !a.Volume:
		return ""
	case a.DensityAssumed:
		return " The quantity was declared by volume and no density is on file for this chemical, so 1.0 kg/l was assumed."
	default:
		return " The quantity was declared by volume and converted at " + num(a.Density) + " kg/l, the density on file for this chemical."
	}
}

// Amount is ev's quantity in kilograms of pure substance, reckoned exactly
// as the rules reckon it under this engine's policy (densities, salts), for
// views that reconcile a shipment's legs.
func (e *Engine) Amount(ev *chemledgerv1.ShipmentEvent) Amount {
	cas := ev.GetChemical().GetCas()
	if info, ok := e.chems[cas]; ok {
		cas = info.CAS
	}
	return amount(ev.GetQuantity(), ev.GetChemical(), cas, e.policy.Tables.Densities)
}
