package scenario

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Company roles.
const (
	exporterRole  = "exporter"
	consigneeRole = "consignee"
	forwarderRole = "forwarder"
)

// Forwarder kinds: who a forwarder or broker works for.
const (
	// local forwarders handle exports, imports and transits of their own
	// country.
	localForwarder = "local"
	// traderIN are third-country trading houses in chains out of India.
	traderIN = "trader-in"
	// nvoccCN are third-country forwarders on sea freight out of China.
	nvoccCN = "nvocc-cn"
)

// company is a party of legitimate trade, stable for the whole scenario.
type company struct {
	party *chemledgerv1.Party
	role  string
	// kind is the maker key (exporters), the profile key (consignees) or
	// the forwarder kind.
	kind string
	// licence is the licence or registration number the company holds for
	// the chemicals it handles; empty for forwarders. For a US company it
	// is its DEA registration.
	licence string
}

func (c *company) country() string { return c.party.GetCountry() }

// sells and buys say whether the company trades a product.
func (c *company) sells(prod string) bool {
	return c.role == exporterRole && slices.Contains(makers[c.kind], prod)
}

func (c *company) buys(prod string) bool {
	return c.role == consigneeRole && slices.Contains(profiles[c.kind], prod)
}

func ident(scheme, value string) *chemledgerv1.Identifier {
	return &chemledgerv1.Identifier{Scheme: scheme, Value: value}
}

func newParty(name, country, address string, ids ...*chemledgerv1.Identifier) *chemledgerv1.Party {
	return &chemledgerv1.Party{Name: name, Country: country, Address: address, Identifiers: ids}
}

// licensed builds a company whose LICENCE (or, in the US, DEA) identifier
// carries its licence number, so the registry entry and every leg name it
// alike.
func licensed(role, kind, name, country, address string, id *chemledgerv1.Identifier, licence string) *company {
	scheme := "LICENCE"
	if country == "US" {
		scheme = "DEA"
	}
	ids := []*chemledgerv1.Identifier{ident(scheme, licence)}
	if id != nil {
		ids = []*chemledgerv1.Identifier{id, ident(scheme, licence)}
	}
	return &company{party: newParty(name, country, address, ids...), role: role, kind: kind, licence: licence}
}

func forwarder(kind, name, country, address string, ids ...*chemledgerv1.Identifier) *company {
	return &company{party: newParty(name, country, address, ids...), role: forwarderRole, kind: kind}
}

// coreRoster is the first thirty companies: every exporter, consignee and
// forwarder the lanes need at least once. All names, addresses and numbers
// are made up.
func coreRoster() []*company {
	return []*company{
		// Exporters.
		licensed(exporterRole, "pharma", "Narmada Pharmachem Pvt. Ltd.", "IN",
			"Plot 412, GIDC Estate, Ankleshwar, Gujarat 393002, India", ident("IEC", "AAFCN3318M"), "NCB-RCS-GJ-2018-0412"),
		licensed(exporterRole, "pharma", "Deccan Alkaloids Ltd.", "IN",
			"Survey No. 214, IDA Pashamylaram, Sangareddy, Telangana 502307, India", ident("IEC", "AACCD5521Q"), "NCB-RCS-TG-2020-0117"),
		licensed(exporterRole, "fine", "Vapi Organics & Intermediates Pvt. Ltd.", "IN",
			"Plot C1-318, GIDC Phase II, Vapi, Gujarat 396195, India", ident("IEC", "AAGCV7830H"), "NCB-RCS-GJ-2021-0275"),
		licensed(exporterRole, "fine", "Zhejiang Huaren Fine Chemical Co., Ltd.", "CN",
			"No. 66 Weisan Road, Shangyu Economic Development Zone, Shaoxing, Zhejiang 312369, China", ident("USCC", "91330604MA2BX4K71P"), "ZJ-YZD-CK-2024-0203"),
		licensed(exporterRole, "fine", "Jiangsu Kaiyuan Pharmaceutical Intermediates Co., Ltd.", "CN",
			"No. 9 Huanghe Road, Taixing Economic Development Zone, Taizhou, Jiangsu 225404, China", ident("USCC", "91321283MA1MT2Q64X"), "JS-YZD-CK-2023-0561"),
		licensed(exporterRole, "inorganic", "Guangxi Xinlian Manganese Industry Co., Ltd.", "CN",
			"No. 12 Gongye Avenue, Chongzuo, Guangxi 532200, China", ident("USCC", "91451400MA5N7H2C9L"), "GX-YZD-CK-2024-0038"),
		licensed(exporterRole, "pharma-de", "Weserland Pharmawirkstoffe GmbH", "DE",
			"Industriestraße 28, 32423 Minden, Germany", ident("EORI", "DE4417203"), "BfArM-GUEG-4302-2021"),
		licensed(exporterRole, "bulk-eu", "Rhein-Neckar Grundstoffe AG", "DE",
			"Industriestraße 140, 67063 Ludwigshafen am Rhein, Germany", ident("EORI", "DE2231876"), "BfArM-GUEG-4055-2019"),
		licensed(exporterRole, "bulk-eu", "Botlek Chemie B.V.", "NL",
			"Welplaatweg 104, 3197 KS Botlek Rotterdam, Netherlands", ident("EORI", "NL817340226"), "CIBG-PREC-2022-0148"),
		licensed(exporterRole, "bulk-us", "Gulfbend Chemical Company", "US",
			"12500 Bay Area Blvd, Pasadena, TX 77507, United States", ident("TAX", "74-2961035"), "RG5532170"),
		// Consignees (each is also the importer of record).
		licensed(consigneeRole, "pharma", "Northfield Consumer Health Manufacturing Inc.", "US",
			"1200 Route 22 East, Bridgewater, NJ 08807, United States", ident("TAX", "22-3095117"), "RN6120448"),
		licensed(consigneeRole, "fine", "Carolina Synthesis Partners LLC", "US",
			"4020 Stirrup Creek Drive, Durham, NC 27703, United States", ident("TAX", "56-2210984"), "RC7734125"),
		licensed(consigneeRole, "industrial", "Lakeshore Process Chemicals Inc.", "US",
			"8800 S. Harbor Avenue, Chicago, IL 60617, United States", ident("TAX", "36-4418207"), "RL3390871"),
		licensed(consigneeRole, "p2p", "Brandywine Fine Pharmaceuticals Inc.", "US",
			"310 Commerce Drive, Exton, PA 19341, United States", ident("TAX", "23-2847719"), "RB5029663"),
		licensed(consigneeRole, "pharma", "Taunus Arzneimittelwerk GmbH", "DE",
			"Industriepark Höchst, Gebäude D 712, 65926 Frankfurt am Main, Germany", ident("EORI", "DE7782045"), "BfArM-GUEG-4501-2022"),
		licensed(consigneeRole, "fine", "Oberrhein Synthese GmbH", "DE",
			"Robert-Bosch-Straße 9, 79395 Neuenburg am Rhein, Germany", ident("EORI", "DE6605318"), "BfArM-GUEG-4389-2020"),
		licensed(consigneeRole, "pharma", "Brabant Generics B.V.", "NL",
			"Science Park 5010, 5692 EA Son, Netherlands", ident("EORI", "NL852006714"), "CIBG-PREC-2021-0093"),
		licensed(consigneeRole, "fine", "Zeeland Fijnchemie B.V.", "NL",
			"Westelijke Kanaalweg 41, 4538 AJ Terneuzen, Netherlands", ident("EORI", "NL803317520"), "CIBG-PREC-2023-0211"),
		licensed(consigneeRole, "chemicals", "Bharuch Organic Chemicals Ltd.", "IN",
			"Plot 3/4, GIDC Industrial Estate, Jhagadia, Bharuch, Gujarat 393110, India", ident("IEC", "AACCB6143E"), "NCB-RCS-GJ-2017-0088"),
		licensed(consigneeRole, "industrial", "Industrias Químicas del Golfo S.A. de C.V.", "MX",
			"Carretera Coatzacoalcos-Minatitlán km 5.5, Coatzacoalcos, Veracruz 96400, Mexico", ident("RFC", "IQG990614RT2"), "COFEPRIS-PQ-2024-0733"),
		licensed(consigneeRole, "commodities", "Distribuidora de Solventes del Norte S.A. de C.V.", "MX",
			"Av. Ruiz Cortines 3920, Parque Industrial Guadalupe, Guadalupe, Nuevo León 67190, Mexico", ident("RFC", "DSN050912H47"), "COFEPRIS-PQ-2023-1182"),
		licensed(consigneeRole, "fine", "Konkan Life Sciences Ltd.", "IN",
			"MIDC Plot E-18, Tarapur, Boisar, Maharashtra 401506, India", ident("IEC", "AAHCK2290B"), "NCB-RCS-MH-2019-0642"),
		licensed(consigneeRole, "pharma", "Laboratorios Istmeños S.A.", "PA",
			"Vía Ricardo J. Alfaro, Edificio Century Tower, Piso 9, Ciudad de Panamá, Panama", ident("RUC", "155612877-2-2016"), "MINSA-DNFD-LC-2022-0147"),
		licensed(consigneeRole, "pharma", "Laboratorios Andinos de Colombia S.A.S.", "CO",
			"Calle 17 No. 68D-52, Zona Industrial Montevideo, Bogotá, Colombia", ident("NIT", "900418276-3"), "MINJUSTICIA-CCITE-2024-0815"),
		licensed(consigneeRole, "industrial", "Químicos del Caribe S.A.S.", "CO",
			"Zona Industrial Mamonal km 8, Cartagena, Bolívar, Colombia", ident("NIT", "890412559-1"), "MINJUSTICIA-CCITE-2023-1207"),
		// Forwarders, brokers and trading houses.
		forwarder(localForwarder, "Sahyadri Freight Forwarders Pvt. Ltd.", "IN",
			"Office 1102, Platinum Techno Park, Sector 30A, Vashi, Navi Mumbai 400703, India", ident("IEC", "AAKCS6604R")),
		forwarder(localForwarder, "Shanghai Haitong International Logistics Co., Ltd.", "CN",
			"Room 1506, 1333 Lujiazui Ring Road, Pudong, Shanghai 200120, China", ident("USCC", "91310115MA1K4R8E2W")),
		forwarder(localForwarder, "Maasmond Forwarding B.V.", "NL",
			"Waalhaven Zuidzijde 19, 3089 JH Rotterdam, Netherlands", ident("EORI", "NL824411096")),
		forwarder(traderIN, "Lemanic Chemicals Trading SA", "CH",
			"Rue du Rhône 14, 1204 Genève, Switzerland", ident("UID", "CHE-218.447.905")),
		forwarder(nvoccCN, "Scheldt Chemical Logistics NV", "BE",
			"Scheldelaan 420, Haven 1100, 2040 Antwerpen, Belgium", ident("EORI", "BE0458112793")),
	}
}

// extraSlot is the shape of a company added beyond the core roster.
type extraSlot struct{ role, kind, country string }

// extraSlots are cycled through, in order, for companies beyond the core
// thirty: more buyers and sellers on the busy lanes, customs brokers, and
// trade with Guatemala, the UK and Singapore.
var extraSlots = []extraSlot{
	{consigneeRole, "pharma", "US"},
	{exporterRole, "pharma", "IN"},
	{consigneeRole, "fine", "DE"},
	{consigneeRole, "fine", "US"},
	{forwarderRole, localForwarder, "US"},
	{exporterRole, "fine", "CN"},
	{consigneeRole, "industrial", "MX"},
	{consigneeRole, "fine", "NL"},
	{forwarderRole, localForwarder, "MX"},
	{consigneeRole, "pharma", "DE"},
	{forwarderRole, traderIN, "GB"},
	{exporterRole, "fine", "IN"},
	{consigneeRole, "pharma", "GT"},
	{forwarderRole, nvoccCN, "SG"},
	{consigneeRole, "fine", "IN"},
	{consigneeRole, "pharma", "NL"},
	{exporterRole, "inorganic", "CN"},
	{consigneeRole, "industrial", "US"},
	{consigneeRole, "pharma", "PA"},
	{exporterRole, "bulk-eu", "DE"},
}

// Name parts for extra companies, per country: stems, then words by role
// and kind, then the legal form.
var (
	stems = map[string][]string{
		"US": {"Alder Creek", "Blue Heron", "Cedar Ridge", "Fox Valley", "Granite State", "Hudson Bend", "Juniper Hill", "Kettle River", "Piedmont", "Sawtooth"},
		"IN": {"Aravalli", "Godavari", "Kaveri", "Malabar", "Satpura", "Nilgiri", "Shivalik", "Coromandel", "Saurashtra", "Konark"},
		"DE": {"Spreewald", "Moseltal", "Lahntal", "Emsland", "Neckartal", "Eifel", "Allgäu", "Vogelsberg", "Altmühl", "Wetterau"},
		"NL": {"Dommel", "Vecht", "Linge", "Amstel", "IJssel", "Zaanstreek", "Berkel", "Dinkel"},
		"CN": {"Anhui Tianrun", "Hunan Xiangjiang", "Sichuan Minhe", "Shandong Yuhai", "Fujian Minjiang", "Liaoning Huanyu", "Henan Songshan", "Yunnan Dianchi"},
		"MX": {"del Bajío", "de Occidente", "del Sureste", "de la Laguna", "Huasteca", "Mixteca", "de la Sierra Madre", "del Altiplano"},
		"GB": {"Pennine", "Solent", "Mersey", "Cotswold"},
		"SG": {"Straits Link", "Tanjong Pagar", "Pasir Panjang", "Sentosa Gateway"},
		"GT": {"Atitlán", "Petén", "Quetzaltenango", "Motagua"},
		"PA": {"Chiriquí", "Azuero", "Darién", "Veraguas"},
	}
	addresses = map[string][]string{
		"US": {"%d Industrial Parkway, Edison, NJ 08837, United States", "%d Research Drive, Raleigh, NC 27606, United States",
			"%d Commerce Street, Houston, TX 77002, United States", "%d Lakeview Road, Columbus, OH 43215, United States"},
		"IN": {"Plot %d, MIDC Industrial Area, Taloja, Maharashtra 410208, India", "Plot %d, GIDC Estate, Dahej, Gujarat 392130, India",
			"Survey No. %d, IDA Bollaram, Sangareddy, Telangana 502325, India"},
		"DE": {"Industriestraße %d, 06749 Bitterfeld-Wolfen, Germany", "Paul-Baumann-Straße %d, 45772 Marl, Germany",
			"Gewerbering %d, 79618 Rheinfelden, Germany"},
		"NL": {"Industrieweg %d, 6160 GA Geleen, Netherlands", "Havenweg %d, 4541 KJ Sluiskil, Netherlands"},
		"CN": {"No. %d Huaxiang Road, Chemical Industry Park, Nanjing, Jiangsu 210047, China",
			"No. %d Keji Avenue, Hi-Tech Zone, Jinan, Shandong 250101, China"},
		"MX": {"Av. Industrial %d, Parque Industrial Benito Juárez, Querétaro, Querétaro 76120, Mexico",
			"Calle Norte %d, Zona Industrial Vallejo, Ciudad de México 02300, Mexico"},
		"GB": {"Unit %d, Riverside Business Park, Runcorn WA7 4QX, United Kingdom"},
		"SG": {"%d Jurong Port Road, #03-12, Singapore 619093"},
		"GT": {"%d Calle 12-45, Zona 9, Ciudad de Guatemala 01009, Guatemala"},
		"PA": {"Calle 50, Edificio %d, Ciudad de Panamá, Panama"},
	}
	legalForm = map[string]string{
		"US": "Inc.", "IN": "Pvt. Ltd.", "DE": "GmbH", "NL": "B.V.", "CN": "Co., Ltd.",
		"MX": "S.A. de C.V.", "GB": "Ltd.", "SG": "Pte. Ltd.", "GT": "S.A.", "PA": "S.A.",
	}
)

// extraName is an extra company's name. Spanish names put the word first.
func extraName(s extraSlot, stem string) string {
	word := map[string]string{
		"pharma": "Pharmaceuticals", "pharma-de": "Pharma", "fine": "Fine Chemicals", "inorganic": "Inorganic Chemicals",
		"bulk-eu": "Chemiewerke", "industrial": "Industrial Chemicals", localForwarder: "Customs Brokerage",
		traderIN: "Chemical Trading", nvoccCN: "Logistics",
	}[s.kind]
	switch s.country {
	case "MX", "GT", "PA":
		word = map[string]string{
			"pharma": "Laboratorios", "fine": "Química Fina", "industrial": "Químicos Industriales",
			localForwarder: "Agencia Aduanal",
		}[s.kind]
		return word + " " + stem + " " + legalForm[s.country]
	case "DE":
		word = map[string]string{
			"pharma": "Arzneimittel", "fine": "Feinchemie", "inorganic": "Chemie", "bulk-eu": "Chemiewerke",
		}[s.kind]
	}
	return stem + " " + word + " " + legalForm[s.country]
}

// extraCompany makes the n-th extra company, the k-th of its country. Its
// name, address and numbers come from its own generator seeded by n, so they
// do not depend on the scenario's seed or on how many companies there are.
func extraCompany(n, k int) *company {
	s := extraSlots[n%len(extraSlots)]
	r := rand.New(rand.NewPCG(0x5ce7a510, uint64(n)))
	st := stems[s.country]
	stem := st[k%len(st)]
	if round := k / len(st); round > 0 {
		// Once a country's stems are used up, a place word keeps the
		// names apart.
		stem += " " + []string{"North", "Bay", "Valley", "Lake", "Coast"}[(round-1)%5]
		if round > 5 {
			stem += fmt.Sprint(" ", round)
		}
	}
	name := extraName(s, stem)
	addrs := addresses[s.country]
	address := fmt.Sprintf(addrs[r.IntN(len(addrs))], 10+r.IntN(890))
	year := 2015 + r.IntN(9)
	var id *chemledgerv1.Identifier
	var licence string
	switch s.country {
	case "US":
		id = ident("TAX", fmt.Sprintf("%02d-%07d", 10+r.IntN(89), r.IntN(10_000_000)))
		licence = fmt.Sprintf("R%c%07d", 'A'+rune(r.IntN(26)), r.IntN(10_000_000))
	case "IN":
		id = ident("IEC", letters(r, 5)+digits(r, 4)+letters(r, 1))
		licence = fmt.Sprintf("NCB-RCS-%s-%d-%04d", []string{"MH", "GJ", "TG"}[r.IntN(3)], year, r.IntN(10_000))
	case "DE":
		id = ident("EORI", "DE"+digits(r, 7))
		licence = fmt.Sprintf("BfArM-GUEG-%04d-%d", r.IntN(10_000), year)
	case "NL":
		id = ident("EORI", "NL"+digits(r, 9))
		licence = fmt.Sprintf("CIBG-PREC-%d-%04d", year, r.IntN(10_000))
	case "CN":
		id = ident("USCC", "91"+digits(r, 6)+"MA"+strings.ToUpper(alnum(r, 8)))
		licence = fmt.Sprintf("%s-YZD-CK-%d-%04d", []string{"AH", "HN", "SC", "SD"}[r.IntN(4)], year, r.IntN(10_000))
	case "MX":
		id = ident("RFC", letters(r, 3)+digits(r, 6)+strings.ToUpper(alnum(r, 3)))
		licence = fmt.Sprintf("COFEPRIS-PQ-%d-%04d", year, r.IntN(10_000))
	case "GT":
		id = ident("NIT", digits(r, 7)+"-"+digits(r, 1))
		licence = fmt.Sprintf("MSPAS-DRCPFA-%d-%04d", year, r.IntN(10_000))
	case "PA":
		id = ident("RUC", "1556"+digits(r, 5)+"-2-20"+digits(r, 2))
		licence = fmt.Sprintf("MINSA-DNFD-LC-%d-%04d", year, r.IntN(10_000))
	case "GB":
		id = ident("EORI", "GB"+digits(r, 12))
	case "SG":
		id = ident("UEN", "20"+digits(r, 7)+letters(r, 1))
	}
	if s.role == forwarderRole {
		return forwarder(s.kind, name, s.country, address, id)
	}
	return licensed(s.role, s.kind, name, s.country, address, id, licence)
}

// roster is the legitimate companies: the core thirty and then extras.
func roster(n int) []*company {
	out := coreRoster()
	perCountry := make(map[string]int)
	for i := 0; len(out) < n; i++ {
		c := extraSlots[i%len(extraSlots)].country
		out = append(out, extraCompany(i, perCountry[c]))
		perCountry[c]++
	}
	return out
}

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0' + byte(r.IntN(10))
	}
	return string(b)
}

func letters(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'A' + byte(r.IntN(26))
	}
	return string(b)
}

func alnum(r *rand.Rand, n int) string {
	const set = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	b := make([]byte, n)
	for i := range b {
		b[i] = set[r.IntN(len(set))]
	}
	return string(b)
}
