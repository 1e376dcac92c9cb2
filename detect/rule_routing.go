package detect

import (
	"slices"
	"strconv"
	"strings"
)

// evalRouting is R13: a route through a free-trade zone, or through more
// third countries than a direct route needs.
func evalRouting(c *evalCtx) {
	l := c.leg
	route := c.ev.GetRoute()
	if len(route) == 0 {
		return
	}
	th := c.th()
	home := []string{l.Exporter.Country, l.Importer.Country, l.Consignee.Country}
	var ftz, third []string
	for _, leg := range route {
		loc := leg.GetLocode()
		if leg.GetFreeTradeZone() && !slices.Contains(ftz, loc) {
			ftz = append(ftz, loc)
		}
		if len(loc) >= 2 {
			if cc := loc[:2]; !slices.Contains(home, cc) && !slices.Contains(third, cc) {
				third = append(third, cc)
			}
		}
	}
	circuitous := len(third) >= int(th.get("third_countries"))
	if len(ftz) == 0 && !circuitous {
		return
	}
	var parts []string
	if len(ftz) > 0 {
		parts = append(parts, "passes through the free-trade zone or free port "+strings.Join(ftz, ", "))
	}
	if circuitous {
		parts = append(parts, "passes through "+strconv.Itoa(len(third))+" countries other than the exporter's, importer's and consignee's ("+strings.Join(third, ", ")+")")
	}
	c.add(finding{
		key: l.Ref, ref: l.Ref, subject: l.Ref, cas: l.CAS, countries: append(legCountries(l), third...),
		evidence: []uint64{l.Index}, th: th,
		vars: []string{
			"ref", l.Ref, "chemical", l.Chemical, "cas", l.CAS,
			"exporter_country", countryText(l.Exporter.Country), "importer_country", countryText(l.Importer.Country),
			"kind", kindText(l.Kind), "index", idx(l.Index), "route_text", strings.Join(parts, ", and "),
		},
	})
}
