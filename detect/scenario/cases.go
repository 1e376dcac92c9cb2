package scenario

import (
	"fmt"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Exporters of the injected cases: traders and small makers that no
// legitimate shipment uses, so no finding about them can spill onto clean
// trade. All made up.
var (
	xHubei    = grey("Hubei Jinghong Biotechnology Co., Ltd.", "CN", "No. 31 Guanggu Avenue, East Lake High-Tech Zone, Wuhan, Hubei 430074, China", "USCC", "91420100MA4KQ2H75D", "HB-YZD-CK-2025-0347")
	xHebei    = grey("Shijiazhuang Ruike Chemical Trading Co., Ltd.", "CN", "Room 1208, Block B, Yuhua Plaza, Shijiazhuang, Hebei 050000, China", "USCC", "91130100MA0FW3J88K", "HE-YZD-CK-2024-0912")
	xCanton   = grey("Guangzhou Yongfeng Import & Export Co., Ltd.", "CN", "Unit 905, 183 Tianhe North Road, Guangzhou, Guangdong 510620, China", "USCC", "91440101MA5CX0R43N", "GD-YZD-CK-2025-1066")
	xGanesh   = grey("Shree Ganesh Chemicals Trading Co.", "IN", "14/2 Kika Street, Gulalwadi, Mumbai 400004, India", "IEC", "AAQFS8815P", "NCB-RCS-MH-2024-0881")
	xTriveni  = grey("Triveni Pharma Exports", "IN", "Flat 402, Sai Residency, Ameerpet, Hyderabad, Telangana 500016, India", "IEC", "AAJFT4407C", "NCB-RCS-TG-2023-0466")
	xOmSai    = grey("Om Sai Bulk Drug Suppliers", "IN", "Shed 11, Phase I, GIDC Vatva, Ahmedabad, Gujarat 382445, India", "IEC", "AAMFO2271E", "NCB-RCS-GJ-2024-1133")
	xElbtal   = grey("Elbtal Handelskontor GmbH", "DE", "Spaldingstraße 160, 20097 Hamburg, Germany", "EORI", "DE8810342", "BfArM-GUEG-4611-2025")
	xLowlands = grey("Lowlands Chemical Trading B.V.", "NL", "Celsiusweg 36, 5928 PR Venlo, Netherlands", "EORI", "NL862250981", "CIBG-PREC-2025-0302")
)

// grey makes a party of an injected case. licence may be empty; whether the
// registry knows the licence is up to the case.
func grey(name, country, address, scheme, id, licence string) *company {
	if licence == "" {
		return &company{party: newParty(name, country, address, ident(scheme, id)), role: caseRole}
	}
	return licensed(caseRole, "", name, country, address, ident(scheme, id), licence)
}

// caseRole marks the parties of injected cases, which the lanes never draw.
const caseRole = "case"

// Case routes.
var (
	cnMX   = lane{mode: sea, ports: []string{"CNSHA", "MXZLO"}, days: [2]int{20, 25}}
	cnUS   = lane{mode: sea, ports: []string{"CNSHA", "USLAX"}, days: [2]int{15, 19}}
	cnUSAi = lane{mode: air, ports: []string{"CNPVG", "USNYC"}, days: [2]int{2, 3}}
	cnNL   = lane{mode: sea, ports: []string{"CNNGB", "NLRTM"}, days: [2]int{30, 35}}
	cnDE   = lane{mode: sea, ports: []string{"CNSHA", "DEHAM"}, days: [2]int{32, 38}}
	inUS   = lane{mode: sea, ports: []string{"INNSA", "USNYC"}, days: [2]int{30, 36}}
	inDE   = lane{mode: sea, ports: []string{"INNSA", "NLRTM", "DEDUI"}, legModes: []chemledgerv1.TransportMode{0, road}, days: [2]int{22, 27}}
	inNL   = lane{mode: sea, ports: []string{"INNSA", "NLRTM"}, days: [2]int{20, 24}}
	inPA   = lane{mode: sea, ports: []string{"INNSA", "PABLB"}, days: [2]int{30, 34}}
	deUS   = lane{mode: air, ports: []string{"DEFRA", "USCHI"}, days: [2]int{1, 2}}
	deMX   = lane{mode: sea, ports: []string{"DEDUI", "NLRTM", "MXVER"}, legModes: []chemledgerv1.TransportMode{road}, days: [2]int{1, 2}, hop2: [2]int{15, 19}}
	nlMX   = lane{mode: sea, ports: []string{"NLRTM", "MXVER"}, days: [2]int{15, 19}}
	cnPA   = lane{mode: sea, ports: []string{"CNSHA", "PABLB"}, days: [2]int{28, 32}}
	// The free-zone routes of R13.
	cnColonMX = lane{mode: sea, ports: []string{"CNSHA", "PAONX", "MXZLO"}, days: [2]int{28, 32}, hop2: [2]int{3, 5}}
	inJebelNL = lane{mode: sea, ports: []string{"INNSA", "AEJEA", "NLRTM"}, days: [2]int{4, 6}, hop2: [2]int{18, 22}}
)

// caseAt is a case's first day: frac of the way through days 10 to 265 (or
// to 100 days before the end of a shorter year, so its legs finish).
//
// Cases up to frac 0.66 start before day 180, so their parties are first
// seen while the log is too young for rule R21 to call anybody new; the
// cases placed later order quantities under R21's large-volume marks. Either
// way R21 fires only on its own cases, whatever Days is.
func (g *generator) caseAt(frac float64) time.Time {
	d := 10 + frac*float64(min(g.cfg.Days-110, 255))
	return g.start.Add(time.Duration(d * float64(day))).Truncate(day).Add(g.between(6*time.Hour, 18*time.Hour))
}

// ship plans a case shipment of packs packages of prod.
func (g *generator) ship(prod string, route lane, exp, cons *company, packs int, t0 time.Time) *shipment {
	route.prod, route.from, route.to = prod, exp.country(), cons.country()
	s := g.newShipment(route, exp, cons, packs, t0)
	// A case's own parties only: no legitimate forwarder is drawn in.
	s.intermediaries = nil
	g.shipments = append(g.shipments, s)
	return s
}

func (g *generator) addCase(rule string, s *shipment, subject, note string, pattern ...*shipment) {
	g.cases = append(g.cases, pendingCase{rule: rule, s: s, subject: subject, note: note, pattern: pattern})
}

// licenceFor registers a case consignee's licence for the products, valid
// from a year before the start to two years after the end.
func (g *generator) licenceFor(c *company, prods ...string) {
	g.addLicence(c, productsOf(prods), g.start.AddDate(-1, 0, 0), g.end.AddDate(2, 0, 0), g.start)
}

func productsOf(keys []string) []*product {
	var out []*product
	for _, k := range keys {
		p := productByKey[k]
		if p == nil {
			p = caseProducts[k]
		}
		out = append(out, p)
	}
	return out
}

func partyKey(c *company) string { return c.party.GetName() + "|" + c.country() }

// injectCases adds the labelled diversion cases, at least two per rule.
// Each comment says what the case relies on; README.md has the table.
func (g *generator) injectCases() {
	g.quantityCases()
	g.lifecycleCases()
	g.licenceCases()
	g.requirementCases()
	g.substanceCases()
	g.patternCases()
	g.partyCases()
}

// quantityCases: R1 (received short of exported beyond 0.5 % by mass) and
// R1A (exported, never received, 30 days past the expected arrival).
func (g *generator) quantityCases() {
	c := grey("Farmoquímica del Pacífico S.A. de C.V.", "MX", "Blvd. Emiliano Zapata 2150, Culiacán, Sinaloa 80020, Mexico", "RFC", "FPA200817MZ5", "COFEPRIS-PQ-2025-0902")
	g.licenceFor(c, "pip")
	s := g.ship("pip", cnMX, xHubei, c, 20, g.caseAt(0.10))
	g.lifecycle1(s, 430)
	g.addCase("R1", s, "", "4-piperidone HCl monohydrate, 500 kg exported from CN, 430 kg confirmed received in MX (14% short).")

	c = grey("Garden State Nutraceuticals LLC", "US", "75 Industrial Avenue, Little Falls, NJ 07424, United States", "TAX", "22-4471980", "RG2286514")
	g.licenceFor(c, "pse")
	s = g.ship("pse", inUS, xTriveni, c, 48, g.caseAt(0.45))
	g.lifecycle1(s, 1105.5)
	g.addCase("R1", s, "", "Pseudoephedrine HCl, 1,200 kg exported from IN, 1,105.5 kg confirmed received in the US (7.9% short).")

	c = grey("Curtidos y Acabados de Jalisco S.A. de C.V.", "MX", "Calle 8 No. 1290, Zona Industrial, Guadalajara, Jalisco 44940, Mexico", "RFC", "CAJ110523PL8", "COFEPRIS-PQ-2022-0418")
	g.licenceFor(c, "ac2o")
	s = g.ship("ac2o", nlMX, xLowlands, c, 10, g.caseAt(0.30))
	g.lifecycle1(s, 10440)
	g.addCase("R1", s, "", "Acetic anhydride, 10,800 kg exported from NL, 10,440 kg confirmed received in MX (3.3% short).")

	c = grey("Ridgeway Compounding Supply Inc.", "US", "2200 Ridgeway Boulevard, Suite 4, Lakewood, NJ 08701, United States", "TAX", "27-1184302", "RR4410927")
	g.licenceFor(c, "eph")
	s = g.ship("eph", deUS, xElbtal, c, 12, g.caseAt(0.30))
	g.addPEN(s)
	g.addReply(s, noObjection, s.penAt.Add(4*day), "")
	g.addExport(s, s.dispatch.Add(-8*time.Hour))
	g.addCase("R1A", s, "", "Ephedrine HCl, 300 kg declared for export from DE by air to Chicago; no import, receipt or incident ever recorded.")

	c = grey("Tratamiento de Aguas del Bajío S.A. de C.V.", "MX", "Av. Las Torres 405, Celaya, Guanajuato 38010, Mexico", "RFC", "TAB140221QX3", "COFEPRIS-PQ-2024-1377")
	g.licenceFor(c, "kmno4")
	s = g.ship("kmno4", cnMX, xHebei, c, 80, g.caseAt(0.55))
	g.addPEN(s)
	g.addReply(s, noObjection, s.penAt.Add(6*day), "")
	g.addExport(s, s.dispatch.Add(-12*time.Hour))
	g.addCase("R1A", s, "", "Potassium permanganate, 4,000 kg declared for export from CN to Manzanillo; nothing recorded after the export declaration.")
}

// lifecycle1 is the legitimate lifecycle with a chosen received quantity.
func (g *generator) lifecycle1(s *shipment, received float64) {
	g.addPEN(s)
	g.addReply(s, noObjection, s.penAt.Add(g.between(2*day, 8*day)), "")
	g.exportToReceipt(s, received)
}

// lifecycleCases: R3 (movement after an objection), R4 (export declaration
// with no PEN to a country that requires one for UN Table I), R5 (export
// after reply_by with no reply recorded), R5A (export before the reply period
// ended, or while a request for information stood).
func (g *generator) lifecycleCases() {
	c := grey("Aromáticos Finos de León S.A. de C.V.", "MX", "Blvd. Aeropuerto 1880, León, Guanajuato 37545, Mexico", "RFC", "AFL180911KD2", "")
	s := g.ship("p2p", deMX, xElbtal, c, 8, g.caseAt(0.15))
	g.addPEN(s)
	g.addReply(s, objection, s.penAt.Add(6*day), "Objection. The importer holds no permit for P-2-P and the declared fragrance use is not credible for this quantity. The shipment must not proceed.")
	g.addExport(s, s.dispatch.Add(-10*time.Hour))
	g.addTransits(s)
	g.addIncident(s, chemledgerv1.IncidentKind_INCIDENT_KIND_STOPPED_SHIPMENT, "MX", s.arrival.Add(9*time.Hour),
		"Consignment held at Veracruz on arrival: Mexico objected to the PEN. 8 steel drums under customs seal.")
	g.addCase("R3", s, "", "P-2-P, 1,600 kg: MX objected to the PEN; DE declared the export anyway and NL reported it in transit at Rotterdam; MX stopped it at Veracruz.")

	c = grey("Keystone Research Chemicals LLC", "US", "480 Lincoln Highway, Unit 12, Fairless Hills, PA 19030, United States", "TAX", "46-3308215", "")
	s = g.ship("pip", cnUS, xCanton, c, 32, g.caseAt(0.55))
	g.addPEN(s)
	g.addReply(s, objection, s.penAt.Add(5*day), "Objection. The consignee is not registered with DEA for this chemical.")
	g.addExport(s, s.dispatch.Add(-6*time.Hour))
	g.addIncident(s, chemledgerv1.IncidentKind_INCIDENT_KIND_SEIZURE, "US", s.arrival.Add(20*time.Hour),
		"Seized at Los Angeles on arrival: exported although the United States objected to the PEN.")
	g.addCase("R3", s, "", "4-piperidone HCl monohydrate, 800 kg: the US objected to the PEN; CN declared the export anyway; seized on arrival.")

	c = grey("Minera y Química de Sonora S.A. de C.V.", "MX", "Carretera Internacional km 12, Hermosillo, Sonora 83290, Mexico", "RFC", "MQS080314AB7", "COFEPRIS-PQ-2021-0655")
	g.licenceFor(c, "kmno4")
	s = g.ship("kmno4", cnMX, xHebei, c, 120, g.caseAt(0.25))
	s.ucr = true
	g.exportToReceipt(s, s.qty)
	g.addCase("R4", s, "", "Potassium permanganate (UN Table I), 6,000 kg exported from CN to MX with no PEN; imported and received in full.")

	c = grey("Pinebrook Chemical Distributors Inc.", "US", "95 Pinebrook Road, Bedford Hills, NY 10507, United States", "TAX", "13-4120867", "RP3371046")
	g.licenceFor(c, "pip")
	s = g.ship("pip", cnUSAi, xHubei, c, 6, g.caseAt(0.75))
	s.ucr = true
	g.exportToReceipt(s, s.qty)
	g.addCase("R4", s, "", "4-piperidone HCl monohydrate (UN Table I), 150 kg flown from CN to the US with no PEN.")

	c = grey("Bayou Pharma Packaging LLC", "US", "3100 Tchoupitoulas Street, New Orleans, LA 70115, United States", "TAX", "72-1530948", "RB7720318")
	g.licenceFor(c, "pse")
	s = g.ship("pse", inUS, xGanesh, c, 36, g.caseAt(0.20))
	g.addPEN(s)
	redispatch(s, s.replyBy.Add(9*day))
	g.exportToReceipt(s, s.qty)
	g.addCase("R5", s, "", "Pseudoephedrine HCl, 900 kg: the US never replied to the PEN; IN declared the export 9 days after the reply-by date.")

	c = grey("Celulósicos de Puebla S.A. de C.V.", "MX", "Av. 16 de Septiembre 4920, Cuautlancingo, Puebla 72700, Mexico", "RFC", "CPU030617HN1", "COFEPRIS-PQ-2020-0271")
	g.licenceFor(c, "ac2o")
	s = g.ship("ac2o", nlMX, xLowlands, c, 8, g.caseAt(0.60))
	g.addPEN(s)
	redispatch(s, s.replyBy.Add(5*day))
	g.exportToReceipt(s, s.qty)
	g.addCase("R5", s, "", "Acetic anhydride, 8,640 kg: MX never replied to the PEN; NL declared the export 5 days after the reply-by date.")

	// R5A: the exporter did not wait for the answer.
	c = grey("Gulf Coast Generics Corp.", "US", "7710 Westpark Drive, Suite 300, Houston, TX 77063, United States", "TAX", "76-0448219", "RG5521930")
	g.licenceFor(c, "pse")
	s = g.ship("pse", inUS, xTriveni, c, 24, g.caseAt(0.30))
	g.addPEN(s)
	redispatch(s, s.penAt.Add(4*day))
	g.exportToReceipt(s, s.qty)
	g.addReply(s, noObjection, s.penAt.Add(8*day), "")
	g.addCase("R5A", s, "", "Pseudoephedrine HCl, 600 kg: IN declared the export 4 days after the PEN, before the US had replied; the no-objection came 4 days after the goods left.")

	c = grey("Solventes Industriales del Bajío S.A. de C.V.", "MX", "Av. Industrias 2250, Celaya, Guanajuato 38010, Mexico", "RFC", "SIB110322QX5", "COFEPRIS-PQ-2019-0804")
	g.licenceFor(c, "ac2o")
	s = g.ship("ac2o", nlMX, xLowlands, c, 6, g.caseAt(0.68))
	g.addPEN(s)
	g.addReply(s, chemledgerv1.PenReply_PEN_REPLY_INFORMATION_REQUESTED, s.penAt.Add(3*day), "More information requested: end-use statement and the consignee's monthly consumption.")
	g.exportToReceipt(s, s.qty)
	g.addCase("R5A", s, "", "Acetic anhydride, 6,480 kg: MX asked for more information about the PEN; NL declared the export without an answer to it.")
}

// redispatch moves a shipment's dispatch, and its whole route with it.
func redispatch(s *shipment, dispatch time.Time) {
	shift := dispatch.Sub(s.dispatch)
	s.dispatch = dispatch
	for i := 1; i < len(s.route); i++ {
		s.route[i].at = s.route[i].at.Add(shift)
	}
	s.arrival = s.arrival.Add(shift)
}

// licenceCases: R6 (consignee in a country whose register the policy takes
// as complete — US, DE, NL here — without a licence valid on the import
// date: none at all, expired, revoked) and R7 (the import declaration names
// another consignee than the PEN).
func (g *generator) licenceCases() {
	c := grey("Harbor Point Wellness Inc.", "US", "18 Harbor Point Drive, Unit B, Stamford, CT 06902, United States", "TAX", "06-1659023", "")
	s := g.ship("pse", inUS, xTriveni, c, 28, g.caseAt(0.35))
	g.lifecycle1(s, s.qty)
	g.addCase("R6", s, partyKey(c), "Pseudoephedrine HCl, 700 kg to a US consignee with no licence or DEA registration in the registry.")

	c = grey("Spessart Pharmahandel GmbH", "DE", "Würzburger Straße 77, 63739 Aschaffenburg, Germany", "EORI", "DE9034417", "BfArM-GUEG-3987-2023")
	t0 := g.caseAt(0.50)
	g.addLicence(c, productsOf([]string{"eph"}), time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC), t0.Add(-30*day).Truncate(day), g.start)
	s = g.ship("eph", inDE, xGanesh, c, 16, t0)
	g.lifecycle1(s, s.qty)
	g.addCase("R6", s, partyKey(c), "Ephedrine HCl, 400 kg to a DE consignee whose licence expired 30 days before the PEN.")

	c = grey("Venlo Specialty Chemicals B.V.", "NL", "Trade Port Noord 410, 5928 RC Venlo, Netherlands", "EORI", "NL859920114", "CIBG-PREC-2024-0377")
	t0 = g.caseAt(0.80)
	from, until := g.start.AddDate(-1, -4, 0), g.end.AddDate(2, 0, 0)
	g.addLicence(c, productsOf([]string{"pip"}), from, until, g.start)
	g.revokeLicence(c, productsOf([]string{"pip"}), from, until, t0.Add(-25*day))
	s = g.ship("pip", cnNL, xCanton, c, 6, t0)
	g.lifecycle1(s, s.qty)
	g.addCase("R6", s, partyKey(c), "4-piperidone HCl monohydrate, 150 kg to an NL consignee whose licence was revoked 25 days before the PEN.")

	a := grey("Química Fina de Zapopan S.A. de C.V.", "MX", "Av. Aviación 4120, Zapopan, Jalisco 45019, Mexico", "RFC", "QFZ120730RB4", "COFEPRIS-PQ-2023-0644")
	b := grey("Comercializadora Costa Norte S.A. de C.V.", "MX", "Calle Río Fuerte 312, Los Mochis, Sinaloa 81200, Mexico", "RFC", "CCN210118TT6", "COFEPRIS-PQ-2025-1209")
	g.licenceFor(a, "pip")
	g.licenceFor(b, "pip")
	s = g.ship("pip", cnMX, xHubei, a, 20, g.caseAt(0.40))
	s.landed = b
	g.lifecycle1(s, s.qty)
	g.addCase("R7", s, partyKey(b), "4-piperidone HCl monohydrate, 500 kg: the PEN names a Zapopan consignee, the import declaration and receipt a different firm in Los Mochis.")

	a = grey("Allegheny Generic Tablets Inc.", "US", "600 Penn Center Boulevard, Pittsburgh, PA 15235, United States", "TAX", "25-1867730", "RA6604218")
	b = grey("Tri-County Wholesale Drug LLC", "US", "41 Commerce Way, Totowa, NJ 07512, United States", "TAX", "22-2950416", "RT5517302")
	g.licenceFor(a, "pse")
	g.licenceFor(b, "pse")
	s = g.ship("pse", inUS, xTriveni, a, 40, g.caseAt(0.85))
	s.landed = b
	g.lifecycle1(s, s.qty)
	g.addCase("R7", s, partyKey(b), "Pseudoephedrine HCl, 1,000 kg: the PEN names a Pittsburgh tablet maker, the import declaration and receipt a New Jersey wholesaler.")
}

// requirementCases: R9 (a country's import declarations of an ALR chemical
// in one calendar year exceed the ALR this scenario enters for it). The
// earlier imports that fill the ALR stay well under it and are set-up, not
// clean trade.
func (g *generator) requirementCases() {
	year := g.start.Year()
	c := grey("Droguería Nacional de Panamá S.A.", "PA", "Vía Transístmica, Edificio 22, Ciudad de Panamá, Panama", "RUC", "155630418-2-2017", "MINSA-DNFD-LC-2021-0093")
	g.licenceFor(c, "eph")
	g.alrFixed["PA|299-42-3"] = 500
	for _, f := range []float64{0.12, 0.28} {
		s := g.ship("eph", inPA, xOmSai, c, 4, g.caseAt(f))
		g.lifecycle1(s, s.qty)
	}
	s := g.ship("eph", inPA, xOmSai, c, 24, g.caseAt(0.52))
	g.lifecycle1(s, s.qty)
	g.addCase("R9", s, fmt.Sprintf("PA|299-42-3|%d", year), "Ephedrine into PA: ALR 500 kg pure; two imports of 100 kg (164 kg pure), then 600 kg (492 kg pure) brings the year to 656 kg.")

	c = grey("Utrechtse Farmaceutische Groothandel B.V.", "NL", "Europalaan 40, 3526 KS Utrecht, Netherlands", "EORI", "NL814470352", "CIBG-PREC-2019-0061")
	g.licenceFor(c, "eph")
	g.alrFixed["NL|299-42-3"] = 300
	s = g.ship("eph", inNL, xTriveni, c, 6, g.caseAt(0.32))
	g.lifecycle1(s, s.qty)
	s = g.ship("eph", inNL, xTriveni, c, 12, g.caseAt(0.58))
	g.lifecycle1(s, s.qty)
	g.addCase("R9", s, fmt.Sprintf("NL|299-42-3|%d", year), "Ephedrine into NL from IN: ALR 300 kg pure; 150 kg (123 kg pure), then 300 kg (246 kg pure) brings the year to 369 kg.")
}

// substanceCases: R10 (a substance the catalogue marks as having no known
// legitimate use; refused and stopped, so nothing else fires) and R15 (an HS
// code whose first six digits are not the catalogue's for the CAS).
func (g *generator) substanceCases() {
	stopped := func(rule string, prod string, route lane, exp, cons *company, packs int, frac float64, note string) {
		s := g.ship(prod, route, exp, cons, packs, g.caseAt(frac))
		g.addPEN(s)
		g.addReply(s, objection, s.penAt.Add(3*day), fmt.Sprintf("Objection. %s has no known legitimate use; the declared use is not credible.", s.prod.name))
		g.addIncident(s, chemledgerv1.IncidentKind_INCIDENT_KIND_STOPPED_SHIPMENT, exp.country(), s.penAt.Add(5*day),
			"Export authorisation refused after the importing country's objection; goods held at the exporter's warehouse.")
		g.addCase(rule, s, "", note)
	}
	stopped("R10", "apaan", cnNL, xCanton,
		grey("Noord-Brabant Grondstoffen B.V.", "NL", "Ekkersrijt 4087, 5692 DB Son, Netherlands", "EORI", "NL857703391", ""),
		80, 0.12, "APAAN, 2,000 kg notified from CN to NL as a dye intermediate; NL objected.")
	stopped("R10", "mapa", cnMX, xHebei,
		grey("Agroinsumos del Valle de Culiacán S.A. de C.V.", "MX", "Carretera a Eldorado km 7, Culiacán, Sinaloa 80300, Mexico", "RFC", "AVC190522GF8", ""),
		8, 0.50, "MAPA, 1,600 kg notified from CN to MX as a fragrance intermediate; MX objected.")
	stopped("R10", "bmkgly", cnNL, xHubei,
		grey("Maas Logistics Chemicals B.V.", "NL", "Moezelweg 151, 3198 LS Europoort Rotterdam, Netherlands", "EORI", "NL866120573", ""),
		32, 0.82, "BMK methyl glycidate, 800 kg notified from CN to NL as a flavour intermediate; NL objected.")

	c := grey("Síntesis Orgánicas de Sinaloa S.A. de C.V.", "MX", "Parque Industrial El Trébol, Nave 6, Culiacán, Sinaloa 80100, Mexico", "RFC", "SOS200925LK1", "COFEPRIS-PQ-2025-1516")
	g.licenceFor(c, "npp")
	s := g.ship("npp", cnMX, xCanton, c, 8, g.caseAt(0.33))
	s.hs = "293339"
	g.lifecycle1(s, s.qty)
	g.addCase("R15", s, "", "NPP (own subheading 2933.37) declared under the residual 2933.39 on every leg, CN to MX, 200 kg.")

	c = grey("Lone Star Generic Pharmaceuticals LLC", "US", "9800 Harwin Drive, Houston, TX 77036, United States", "TAX", "76-0518823", "RL8820461")
	g.licenceFor(c, "pse")
	s = g.ship("pse", inUS, xGanesh, c, 44, g.caseAt(0.78))
	s.hs = "300490"
	g.lifecycle1(s, s.qty)
	g.addCase("R15", s, "", "Pseudoephedrine HCl (2939.42), 1,100 kg declared as packaged medicaments, HS 3004.90.")
}

// patternCases: R11 (three or more shipments of ephedrine within 30 days,
// each under 50 kg pure, from two or more exporters, to one consignee,
// together over 50 kg), R12 (after an objection, a new PEN for the same
// chemical and consignee from another exporter within 60 days), R13 (a
// free-zone stop on the route) and R28 (two steps of one synthesis set to
// one consignee within 90 days).
func (g *generator) patternCases() {
	split := func(cons *company, route func(exp *company) lane, frac float64, parts []struct {
		exp *company
		kg  float64
	}, note string) {
		t0 := g.caseAt(frac)
		var last *shipment
		var all []*shipment
		for i, p := range parts {
			s := g.ship("eph", route(p.exp), p.exp, cons, 2, t0.Add(time.Duration(i*8)*day+time.Duration(i)*3*time.Hour))
			s.qty = p.kg
			s.packDesc = fmt.Sprintf("2 fibre drums (25 kg and %s kg)", num(round1(p.kg-25)))
			s.value, s.payment = g.price(s)
			s.payment = "telegraphic transfer, advance payment"
			g.lifecycle1(s, s.qty)
			if i == 2 {
				last = s
			}
			all = append(all, s)
		}
		g.addCase("R11", last, partyKey(cons), note, all...)
	}
	type part = struct {
		exp *company
		kg  float64
	}
	us := grey("Sunbelt Compounding Supply LLC", "US", "5120 W. Kennedy Boulevard, Suite 210, Tampa, FL 33609, United States", "TAX", "59-3390147", "RS2209854")
	g.licenceFor(us, "eph")
	split(us, func(exp *company) lane {
		switch exp.country() {
		case "DE":
			return deUS
		case "CN":
			return cnUSAi
		}
		return inUS
	}, 0.28, []part{{xGanesh, 49.5}, {xElbtal, 48.8}, {xHebei, 49.2}},
		"Ephedrine HCl to one US consignee within 17 days: 49.5 kg (IN), 48.8 kg (DE), 49.2 kg (CN); each under 50 kg (about 40 kg pure), 121 kg pure together.")

	de := grey("Mainfranken Arzneimittel Vertrieb GmbH", "DE", "Nürnberger Straße 118, 97076 Würzburg, Germany", "EORI", "DE7719034", "BfArM-GUEG-4720-2024")
	g.licenceFor(de, "eph")
	split(de, func(exp *company) lane {
		if exp.country() == "CN" {
			return cnDE
		}
		return inDE
	}, 0.62, []part{{xTriveni, 49.9}, {xOmSai, 47.5}, {xCanton, 49.0}, {xHubei, 48.6}},
		"Ephedrine HCl to one DE consignee within 25 days from four exporters (IN, IN, CN, CN): 49.9, 47.5, 49.0 and 48.6 kg; the third completes the pattern.")

	shop := func(prod string, cons *company, first, second *company, r1, r2 lane, packs int, frac float64, secondReply chemledgerv1.PenReply, note string) {
		s1 := g.ship(prod, r1, first, cons, packs, g.caseAt(frac))
		g.addPEN(s1)
		g.addReply(s1, objection, s1.penAt.Add(5*day), "Objection. The end-use statement does not match the consignee's licensed activity.")
		s2 := g.ship(prod, r2, second, cons, packs, s1.penAt.Add(28*day))
		g.addPEN(s2)
		remark := "Objection. Same consignee as a notification objected to four weeks earlier."
		if secondReply != objection {
			remark = "Same consignee as a notification objected to four weeks earlier; more information requested."
		}
		g.addReply(s2, secondReply, s2.penAt.Add(4*day), remark)
		g.addCase("R12", s2, partyKey(cons), note, s1, s2)
	}
	mx := grey("Laboratorios Farmacéuticos del Noroeste S.A. de C.V.", "MX", "Blvd. Rosales 1045, Los Mochis, Sinaloa 81200, Mexico", "RFC", "LFN170406UP2", "COFEPRIS-PQ-2024-0588")
	g.licenceFor(mx, "pip")
	shop("pip", mx, xHubei, xGanesh, cnMX, lane{mode: sea, ports: []string{"INNSA", "MXZLO"}, days: [2]int{28, 34}}, 40, 0.18,
		objection, "4-piperidone HCl monohydrate, 1,000 kg: MX objected to a PEN from CN; 28 days later an IN exporter notified the same chemical to the same consignee.")
	pa := grey("Importadora Farmacéutica Transístmica S.A.", "PA", "Calle 74 Este, San Francisco, Ciudad de Panamá, Panama", "RUC", "155702266-2-2021", "MINSA-DNFD-LC-2024-0318")
	g.licenceFor(pa, "pse")
	shop("pse", pa, xTriveni, xHebei, inPA, cnPA, 32, 0.58,
		chemledgerv1.PenReply_PEN_REPLY_INFORMATION_REQUESTED, "Pseudoephedrine HCl, 800 kg: PA objected to a PEN from IN; 28 days later a CN exporter notified the same chemical to the same consignee.")

	c := grey("Distribuidora Química de Occidente S.A. de C.V.", "MX", "Av. Vallarta 6503, Zapopan, Jalisco 45010, Mexico", "RFC", "DQO090811CE9", "COFEPRIS-PQ-2022-0391")
	g.licenceFor(c, "pip")
	s := g.ship("pip", cnColonMX, xHebei, c, 20, g.caseAt(0.22))
	s.intermediaries = []*company{grey("Depósitos Francos del Atlántico S.A.", "PA", "Calle 14, Manzana 31, Zona Libre de Colón, Colón, Panama", "RUC", "155681207-2-2020", "")}
	g.lifecycle1(s, s.qty)
	g.addCase("R13", s, "", "4-piperidone HCl monohydrate, 500 kg, Shanghai to Manzanillo through the Colón Free Zone (PAONX, free_trade_zone), reported in transit by PA.")

	c = grey("Rijnmond Pharma Supplies B.V.", "NL", "Vondelingenweg 601, 3196 KK Vondelingenplaat, Netherlands", "EORI", "NL851196624", "CIBG-PREC-2022-0265")
	g.licenceFor(c, "pse")
	s = g.ship("pse", inJebelNL, xOmSai, c, 40, g.caseAt(0.70))
	s.intermediaries = []*company{grey("Gulf Crescent Freight FZE", "AE", "Plot S30218, Jebel Ali Free Zone South, Dubai, United Arab Emirates", "TRN", "100384527100003", "")}
	g.lifecycle1(s, s.qty)
	g.addCase("R13", s, "", "Pseudoephedrine HCl, 1,000 kg, Nhava Sheva to Rotterdam through the Jebel Ali Free Zone (AEJEA, free_trade_zone; no member reports there).")

	combo := func(cons *company, p1, p2 string, r1, r2 lane, e1, e2 *company, n1, n2 int, frac float64, note string) {
		s1 := g.ship(p1, r1, e1, cons, n1, g.caseAt(frac))
		g.lifecycle1(s1, s1.qty)
		s2 := g.ship(p2, r2, e2, cons, n2, s1.penAt.Add(40*day))
		g.lifecycle1(s2, s2.qty)
		g.addCase("R28", s2, partyKey(cons), note, s1, s2)
	}
	mx = grey("Química Industrial del Humaya S.A. de C.V.", "MX", "Calle Juan de la Barrera 980, Culiacán, Sinaloa 80200, Mexico", "RFC", "QIH160929SA3", "COFEPRIS-PQ-2025-0734")
	g.licenceFor(mx, "npp", "ani")
	combo(mx, "npp", "ani", cnMX, nlMX, xHebei, xLowlands, 12, 10, 0.38,
		"NPP (300 kg, from CN) and 40 days later aniline (2,000 kg, from NL) to one MX consignee: two steps of the fentanyl route.")
	nl := grey("Oostelijk Havengebied Chemicals B.V.", "NL", "Veemkade 1240, 1019 HE Amsterdam, Netherlands", "EORI", "NL868831407", "CIBG-PREC-2024-0412")
	g.licenceFor(nl, "p2p", "mea")
	combo(nl, "p2p", "mea", cnNL, cnNL, xCanton, xHubei, 4, 4, 0.50,
		"P-2-P (800 kg) and 40 days later methylamine 40% (3,600 kg), from two CN exporters to one NL consignee: the P-2-P methamphetamine route.")
}

// partyCases: R21 (a consignee first seen after 180 days of log, less than
// 180 days before, with a quantity over the large-volume mark) and R27 (a
// party whose name, after NFKD, look-alike mapping and legal-form
// stripping, equals a watch-listed name in the same country).
func (g *generator) partyCases() {
	late := func(frac float64) time.Time {
		d := 195 + frac*float64(g.cfg.Days-300)
		return g.start.Add(time.Duration(d * float64(day))).Truncate(day).Add(g.between(6*time.Hour, 18*time.Hour))
	}
	c := grey("Clearwater Pharma Ventures LLC", "US", "2701 N. Rocky Point Drive, Suite 1000, Tampa, FL 33607, United States", "TAX", "85-2219304", "RC9930217")
	t0 := late(0.6)
	g.addLicence(c, productsOf([]string{"pse"}), t0.Add(-60*day).Truncate(day), g.end.AddDate(2, 0, 0), t0.Add(-60*day).Truncate(day))
	s := g.ship("pse", inUS, xOmSai, c, 600, t0)
	g.lifecycle1(s, s.qty)
	g.addCase("R21", s, partyKey(c), "Pseudoephedrine HCl, 15,000 kg (12,300 kg pure) to a US consignee first seen on this PEN, licensed 60 days earlier.")

	c = grey("Westpoort Fine Chemicals B.V.", "NL", "Ruijgoordweg 70, 1047 HM Amsterdam, Netherlands", "EORI", "NL869047712", "CIBG-PREC-2026-0118")
	t0 = late(0.9)
	g.addLicence(c, productsOf([]string{"pip"}), t0.Add(-45*day).Truncate(day), g.end.AddDate(2, 0, 0), t0.Add(-45*day).Truncate(day))
	s = g.ship("pip", cnNL, xHubei, c, 320, t0)
	g.lifecycle1(s, s.qty)
	g.addCase("R21", s, partyKey(c), "4-piperidone HCl monohydrate, 8,000 kg to an NL consignee first seen on this PEN, licensed 45 days earlier.")

	// "Jiаngxi Ruixiаng" spells both a's with CYRILLIC SMALL LETTER A.
	x := grey("Jiаngxi Ruixiаng Pharmatech Limited", "CN", "No. 5 Jinsha Road, Xiaolan Economic Development Zone, Nanchang, Jiangxi 330200, China", "USCC", "91360121MA38T6WQ2B", "JX-YZD-CK-2025-0214")
	c = grey("Redwood Fine Chemicals Inc.", "US", "1450 Industrial Way, Benicia, CA 94510, United States", "TAX", "94-3127845", "RR1186743")
	g.licenceFor(c, "boc")
	s = g.ship("boc", cnUSAi, x, c, 8, g.caseAt(0.27))
	g.lifecycle1(s, s.qty)
	g.addCase("R27", s, partyKey(x), "Exporter spelt with Cyrillic 'а' and 'Limited' for 'Co., Ltd.': the OFAC-listed Jiangxi Ruixiang Pharmatech.")

	// "Quіmico Nortеno": CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I
	// and CYRILLIC SMALL LETTER IE.
	c = grey("Grupo Quіmico Nortеno S. de R.L. de C.V.", "MX", "Blvd. Francisco I. Madero 455 Pte., Culiacán, Sinaloa 80000, Mexico", "RFC", "GQN230815HM7", "COFEPRIS-PQ-2025-1602")
	g.licenceFor(c, "pip")
	s = g.ship("pip", cnMX, xCanton, c, 24, g.caseAt(0.62))
	g.lifecycle1(s, s.qty)
	g.addCase("R27", s, partyKey(c), "Consignee spelt with Cyrillic 'і' and 'е' and 'S. de R.L. de C.V.' for 'S.A. de C.V.': the PICS-listed Grupo Quimico Norteno.")

	x = grey("Yangzhou Lianxing Biochem Limited", "CN", "No. 203 Hanjiang Road, Yangzhou, Jiangsu 225009, China", "USCC", "91321003MA1YQ7LP6U", "JS-YZD-CK-2025-0871")
	c = grey("Harz Feinchemikalien GmbH", "DE", "Am Kaiserbad 14, 38640 Goslar, Germany", "EORI", "DE5528817", "BfArM-GUEG-4466-2023")
	g.licenceFor(c, "pip")
	s = g.ship("pip", cnDE, x, c, 16, g.caseAt(0.47))
	g.lifecycle1(s, s.qty)
	g.addCase("R27", s, partyKey(x), "Exporter trading as 'Limited' instead of 'Co., Ltd.': the OFAC-listed Yangzhou Lianxing Biochem.")
}
