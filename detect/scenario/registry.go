package scenario

import (
	"cmp"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/refdata"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// addRegistry queues a registry entry, submitted a few minutes after it
// takes effect (entries effective at the start keep their order).
func (g *generator) addRegistry(country string, effective time.Time, e *chemledgerv1.RegistryEntry) {
	if !isMember(country) {
		country = g.proxy(country)
	}
	e.EffectiveTime = ts(effective)
	g.registry = append(g.registry, &regItem{entry: e, country: country, submit: effective.Add(time.Duration(len(g.registry)%50+1) * time.Minute)})
}

// proxy is the member that enters a non-member country's registry data:
// the member whose exporters ship there most (ties go to the earlier demo
// member). See the package documentation on relayed legs.
func (g *generator) proxy(country string) string {
	counts := make(map[string]int)
	for _, s := range g.shipments {
		if s.importCountry() == country && isMember(s.exportCountry()) {
			counts[s.exportCountry()]++
		}
	}
	best := datadir.DemoMembers[0].Country
	for _, d := range datadir.DemoMembers {
		if counts[d.Country] > counts[best] {
			best = d.Country
		}
	}
	return best
}

// licenceCAS are the CAS numbers a licence covers: those of the products,
// and for a salt also the parent, so the licence reads the same however a
// declaration names the chemical.
func licenceCAS(prods []*product) []string {
	var out []string
	for _, p := range prods {
		out = append(out, p.cas)
		if c, ok := refdata.ChemicalByCAS(p.cas); ok {
			out = append(out, c.CAS)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// addLicence registers c's licence for prods, valid from..until, from
// effective on.
func (g *generator) addLicence(c *company, prods []*product, from, until, effective time.Time) {
	g.addRegistry(c.country(), effective, &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_Licence{Licence: &chemledgerv1.Licence{
		Number: c.licence, IssuingCountry: c.country(), Holder: proto.Clone(c.party).(*chemledgerv1.Party),
		Cas: licenceCAS(prods), ValidFrom: ts(from), ValidUntil: ts(until),
	}}})
}

// revokeLicence revokes c's licence from effective on.
func (g *generator) revokeLicence(c *company, prods []*product, from, until, effective time.Time) {
	g.addRegistry(c.country(), effective, &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_Licence{Licence: &chemledgerv1.Licence{
		Number: c.licence, IssuingCountry: c.country(), Holder: proto.Clone(c.party).(*chemledgerv1.Party),
		Cas: licenceCAS(prods), ValidFrom: ts(from), ValidUntil: ts(until), Revoked: true,
	}}})
}

// legitimateRegistry enters, effective on the first day: the licences of
// every legitimate exporter and consignee (granted one to four years
// earlier, valid until two years after the end), the watch list, and an ALR
// for every country and ALR chemical that any shipment brings in.
func (g *generator) legitimateRegistry() {
	until := g.end.AddDate(2, 0, 0)
	for i, c := range g.companies {
		if c.licence == "" {
			continue
		}
		var keys []string
		if c.role == exporterRole {
			keys = makers[c.kind]
		} else {
			keys = profiles[c.kind]
		}
		var prods []*product
		for _, k := range keys {
			prods = append(prods, productByKey[k])
		}
		from := g.start.AddDate(-1-i%4, -(i % 11), 0)
		g.addLicence(c, prods, from, until, g.start)
	}
	for _, w := range watchList {
		g.addRegistry(w.by, g.start, &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_WatchListEntry{WatchListEntry: &chemledgerv1.WatchListEntry{
			Party: proto.Clone(w.party).(*chemledgerv1.Party), Aliases: w.aliases, List: w.list, Reason: w.reason,
		}}})
	}
	g.annualRequirements()
}

// annualRequirements enters an ALR for every (importing country, ALR
// chemical) that a notification or import declaration names: two and a half
// times the year's notified quantity, in kg of pure substance, rounded up to
// 100 kg, so legitimate trade stays far below it; the R9 cases set their
// own.
func (g *generator) annualRequirements() {
	type key struct{ country, cas string }
	totals := make(map[key]float64)
	var order []key
	for _, s := range g.shipments {
		c, ok := refdata.ChemicalByCAS(s.prod.cas)
		if !ok || !c.ALR {
			continue
		}
		k := key{s.importCountry(), c.CAS}
		if _, seen := totals[k]; !seen {
			order = append(order, k)
		}
		conc := s.prod.conc
		if conc == 0 {
			conc = 100
		}
		totals[k] += s.qty * conc / 100
	}
	slices.SortFunc(order, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.country, b.country), cmp.Compare(a.cas, b.cas))
	})
	for _, k := range order {
		kg, fixed := g.alrFixed[k.country+"|"+k.cas]
		if !fixed {
			kg = max(500, math.Ceil(2.5*totals[k]/100)*100)
		}
		g.addRegistry(k.country, g.start, &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_AnnualRequirement{AnnualRequirement: &chemledgerv1.AnnualRequirement{
			Country: k.country, Cas: k.cas, Kilograms: kg, Year: int32(g.start.Year()),
		}}})
	}
}

// watched is a watch-list entry and the member that lists it.
type watched struct {
	by      string
	party   *chemledgerv1.Party
	aliases []string
	list    string
	reason  string
}

// watchList is a small made-up watch list. Three of its names come back,
// disguised, in the R27 cases; none is close to a legitimate company.
var watchList = []watched{
	{by: "US", list: "OFAC-SDN", aliases: []string{"Ruixiang Pharmatech"},
		party:  newParty("Jiangxi Ruixiang Pharmatech Co., Ltd.", "CN", "No. 88 Yingbin Avenue, Nanchang, Jiangxi 330000, China"),
		reason: "Designated for offering fentanyl precursors (NPP, 4-AP) for sale online with delivery to North America."},
	{by: "MX", list: "PICS-INCIDENT",
		party:  newParty("Grupo Quimico Norteno S.A. de C.V.", "MX", "Carretera a Navolato km 4.2, Culiacán, Sinaloa 80140, Mexico", ident("RFC", "GQN190304K21")),
		reason: "Consignee of an NPP consignment seized at Manzanillo in 2025."},
	{by: "US", list: "OFAC-SDN",
		party:  newParty("Yangzhou Lianxing Biochem Co., Ltd.", "CN", "No. 17 Wenchang Road, Yangzhou, Jiangsu 225000, China"),
		reason: "Designated for supplying BMK glycidate to methamphetamine producers."},
	{by: "NL", list: "PICS-INCIDENT",
		party:  newParty("Maasvlakte Trading Solutions B.V.", "NL", "Europaweg 850, 3199 LD Maasvlakte Rotterdam, Netherlands"),
		reason: "Ordered APAAN declared as a dye intermediate; shipment stopped in 2024."},
	{by: "PA", list: "PICS-INCIDENT",
		party:  newParty("Inversiones Cobalto Azul S.A.", "PA", "Zona Libre de Colón, Calle 15, Colón, Panama"),
		reason: "Free-zone buyer in a 2025 ephedrine diversion attempt."},
	{by: "IN", list: "NCB-SUSPICIOUS-ORDERS",
		party:  newParty("Bhavani Organochem Traders", "IN", "Shop 7, Masjid Bunder East, Mumbai 400009, India"),
		reason: "Suspicious orders of pseudoephedrine through shell consignees."},
}
