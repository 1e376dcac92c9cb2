package scenario

import (
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// product is a chemical as it is traded: the declared name, form and
// concentration, how it is packed and roughly what it costs. The CAS and
// HS codes are the catalogue's (refdata), which a test checks.
type product struct {
	key  string
	cas  string
	hs   string // HS 2022 subheading, 6 digits
	name string
	form string
	// conc is the declared concentration in percent; 0 leaves it unset
	// (rules then assume 100).
	conc     float64
	unit     string // KGM or LTR
	pack     string // plural package name
	packSize float64
	minPacks int
	maxPacks int
	price    float64 // USD per unit, a mid-market figure
	use      string  // the end use a PEN states
}

// products are the chemicals of legitimate trade, after reference/domain.md
// §8: pseudoephedrine and ephedrine from India and Germany to
// pharmaceutical makers, 4-piperidone and its boc derivative (widely used
// pharmaceutical intermediates) from China and India, and the industrial
// Table I and II chemicals in bulk. P-2-P is rare and goes to a licensed
// amphetamine API maker. NPP, ANPP and the designer precursors appear only in
// injected cases.
var products = []*product{
	{key: "pse", cas: "90-82-4", hs: "293942", name: "Pseudoephedrine hydrochloride", form: "hydrochloride", conc: 82,
		unit: "KGM", pack: "fibre drums", packSize: 25, minPacks: 8, maxPacks: 120, price: 78,
		use: "tablet manufacture (cold and allergy medicines)"},
	{key: "eph", cas: "299-42-3", hs: "293941", name: "Ephedrine hydrochloride", form: "hydrochloride", conc: 82,
		unit: "KGM", pack: "fibre drums", packSize: 25, minPacks: 4, maxPacks: 36, price: 95,
		use: "injectable and tablet manufacture"},
	{key: "npa", cas: "14838-15-4", hs: "293944", name: "Norephedrine hydrochloride (phenylpropanolamine)", form: "hydrochloride", conc: 80,
		unit: "KGM", pack: "fibre drums", packSize: 25, minPacks: 4, maxPacks: 16, price: 64,
		use: "veterinary medicines (urinary incontinence in dogs)"},
	{key: "boc", cas: "79099-07-3", hs: "293339", name: "1-boc-4-piperidone", form: "base", conc: 99,
		unit: "KGM", pack: "fibre drums", packSize: 25, minPacks: 4, maxPacks: 20, price: 130,
		use: "API process chemistry (kinase inhibitor intermediates)"},
	{key: "pip", cas: "40064-34-4", hs: "293339", name: "4-Piperidone hydrochloride monohydrate", form: "hydrochloride monohydrate",
		unit: "KGM", pack: "fibre drums", packSize: 25, minPacks: 4, maxPacks: 80, price: 42,
		use: "pharmaceutical intermediate synthesis"},
	{key: "paa", cas: "103-82-2", hs: "291634", name: "Phenylacetic acid", form: "flakes", conc: 99,
		unit: "KGM", pack: "bags", packSize: 25, minPacks: 8, maxPacks: 80, price: 6.5,
		use: "penicillin G fermentation and fragrance compounding"},
	{key: "piperonal", cas: "120-57-0", hs: "293293", name: "Piperonal", form: "crystals", conc: 99,
		unit: "KGM", pack: "fibre drums", packSize: 25, minPacks: 4, maxPacks: 40, price: 28,
		use: "fragrance and flavour compounding"},
	{key: "ac2o", cas: "108-24-7", hs: "291524", name: "Acetic anhydride", form: "liquid", conc: 99,
		unit: "KGM", pack: "IBCs", packSize: 1080, minPacks: 2, maxPacks: 18, price: 1.3,
		use: "cellulose acetate and acetylsalicylic acid manufacture"},
	{key: "kmno4", cas: "7722-64-7", hs: "284161", name: "Potassium permanganate", form: "crystals", conc: 99,
		unit: "KGM", pack: "steel drums", packSize: 50, minPacks: 12, maxPacks: 200, price: 3.2,
		use: "drinking-water treatment"},
	{key: "mea", cas: "74-89-5", hs: "292111", name: "Methylamine, 40% aqueous solution", form: "solution", conc: 40,
		unit: "KGM", pack: "IBCs", packSize: 900, minPacks: 2, maxPacks: 16, price: 1.8,
		use: "agrochemical and rubber-chemical intermediates"},
	// The catalogue gives aniline no HS code (no cross-check is possible);
	// 2921.41 is its HS 2022 subheading.
	{key: "ani", cas: "62-53-3", hs: "292141", name: "Aniline", form: "liquid", conc: 99.5,
		unit: "KGM", pack: "steel drums", packSize: 200, minPacks: 5, maxPacks: 80, price: 1.9,
		use: "rubber chemicals and dyes"},
	{key: "tol", cas: "108-88-3", hs: "290230", name: "Toluene", form: "liquid", conc: 99.5,
		unit: "LTR", pack: "IBCs", packSize: 1000, minPacks: 4, maxPacks: 22, price: 0.9,
		use: "coatings and adhesives"},
	{key: "ace", cas: "67-64-1", hs: "291411", name: "Acetone", form: "liquid", conc: 99.5,
		unit: "LTR", pack: "IBCs", packSize: 1000, minPacks: 4, maxPacks: 24, price: 0.8,
		use: "coatings, adhesives and laboratory use"},
	{key: "mek", cas: "78-93-3", hs: "291412", name: "Methyl ethyl ketone", form: "liquid", conc: 99.5,
		unit: "LTR", pack: "IBCs", packSize: 1000, minPacks: 4, maxPacks: 20, price: 1.1,
		use: "coatings and adhesives"},
	{key: "h2so4", cas: "7664-93-9", hs: "280700", name: "Sulphuric acid", form: "liquid", conc: 98,
		unit: "KGM", pack: "IBCs", packSize: 1830, minPacks: 2, maxPacks: 12, price: 0.25,
		use: "metal finishing"},
	{key: "p2p", cas: "103-79-7", hs: "291431", name: "1-Phenyl-2-propanone (P-2-P)", form: "liquid", conc: 99,
		unit: "KGM", pack: "steel drums", packSize: 200, minPacks: 2, maxPacks: 6, price: 48,
		use: "amphetamine sulfate API manufacture under DEA quota"},
}

// Chemicals traded only in injected cases.
var (
	prodNPP = &product{key: "npp", cas: "39742-60-4", hs: "293337", name: "N-Phenethyl-4-piperidone (NPP)", form: "base", conc: 98,
		unit: "KGM", pack: "fibre drums", packSize: 25, price: 210, use: "pharmaceutical research"}
	prodAPAAN = &product{key: "apaan", cas: "4468-48-8", hs: "292640", name: "alpha-Phenylacetoacetonitrile (APAAN)", form: "powder", conc: 98,
		unit: "KGM", pack: "fibre drums", packSize: 25, price: 35, use: "dye intermediate"}
	prodMAPA = &product{key: "mapa", cas: "16648-44-5", hs: "291830", name: "Methyl alpha-phenylacetoacetate (MAPA)", form: "liquid", conc: 98,
		unit: "KGM", pack: "steel drums", packSize: 200, price: 40, use: "fragrance intermediate"}
	prodBMKGly = &product{key: "bmkgly", cas: "80532-66-7", hs: "291899", name: "BMK methyl glycidate", form: "powder", conc: 98,
		unit: "KGM", pack: "fibre drums", packSize: 25, price: 55, use: "flavour intermediate"}
)

var caseProducts = map[string]*product{
	prodNPP.key: prodNPP, prodAPAAN.key: prodAPAAN, prodMAPA.key: prodMAPA, prodBMKGly.key: prodBMKGly,
}

var productByKey = func() map[string]*product {
	m := make(map[string]*product, len(products))
	for _, p := range products {
		m[p.key] = p
	}
	return m
}()

// Profiles are what a consignee buys. None holds two steps of one synthesis
// set (4-piperidone and 1-boc-4-piperidone are both fentanyl-route steps, as
// are aniline and 4-piperidone; P-2-P and methylamine are a methamphetamine
// route), so clean trade cannot look like rule R28.
var profiles = map[string][]string{
	"pharma":      {"pse", "eph", "npa", "boc"},
	"fine":        {"pip", "paa", "piperonal"},
	"p2p":         {"p2p"},
	"industrial":  {"ac2o", "kmno4"},
	"chemicals":   {"ac2o", "mea", "ani"},
	"commodities": {"tol", "ace", "mek", "h2so4", "ani"},
}

// Makers are what an exporter makes.
var makers = map[string][]string{
	"pharma":    {"pse", "eph", "npa"},
	"pharma-de": {"pse", "eph", "p2p"},
	"fine":      {"pip", "boc", "paa", "piperonal"},
	"inorganic": {"kmno4"},
	"bulk-eu":   {"ac2o", "mea", "ani", "ace"},
	"bulk-us":   {"ac2o", "ani", "tol", "ace", "mek", "h2so4"},
}

// lane is a regular trade flow: one product from one country to another,
// by a fixed route, with a relative frequency.
type lane struct {
	prod     string
	from, to string
	weight   float64
	mode     chemledgerv1.TransportMode
	// ports are the UN/LOCODEs of the route: origin, optional transit
	// stops, destination.
	ports []string
	// legModes are the modes of the hops to ports[1], ports[2], ... where
	// they differ from mode (Rotterdam to Duisburg by road).
	legModes []chemledgerv1.TransportMode
	// days is the time from dispatch to the first stop after the origin,
	// in days (inclusive range); hop2 the time from there to the next, if
	// set, else a truck ride of 14 to 36 hours.
	days, hop2 [2]int
}

const (
	sea  = chemledgerv1.TransportMode_TRANSPORT_MODE_SEA
	air  = chemledgerv1.TransportMode_TRANSPORT_MODE_AIR
	road = chemledgerv1.TransportMode_TRANSPORT_MODE_ROAD
	rail = chemledgerv1.TransportMode_TRANSPORT_MODE_RAIL
)

// lanes are the legitimate flows. Routes are direct, or pass one member
// country on the way (Rotterdam for Germany); none touches a free zone.
// None stays inside the EU, where Regulation 273/2004 has no PEN and no
// export declaration. Weights are relative shares of the monthly volume.
var lanes = []lane{
	{prod: "pse", from: "IN", to: "US", weight: 10, mode: sea, ports: []string{"INNSA", "USNYC"}, days: [2]int{30, 36}},
	{prod: "pse", from: "IN", to: "DE", weight: 3, mode: sea, ports: []string{"INNSA", "NLRTM", "DEDUI"}, legModes: []chemledgerv1.TransportMode{0, road}, days: [2]int{22, 27}},
	{prod: "pse", from: "IN", to: "NL", weight: 2, mode: sea, ports: []string{"INNSA", "NLRTM"}, days: [2]int{20, 24}},
	{prod: "pse", from: "IN", to: "PA", weight: 2, mode: sea, ports: []string{"INNSA", "PABLB"}, days: [2]int{30, 34}},
	{prod: "pse", from: "IN", to: "CO", weight: 2, mode: sea, ports: []string{"INNSA", "COCTG"}, days: [2]int{32, 38}},
	{prod: "pse", from: "IN", to: "GT", weight: 1, mode: sea, ports: []string{"INNSA", "GTPRQ"}, days: [2]int{34, 40}},
	{prod: "pse", from: "DE", to: "US", weight: 2, mode: air, ports: []string{"DEFRA", "USCHI"}, days: [2]int{1, 2}},
	{prod: "eph", from: "IN", to: "US", weight: 3, mode: sea, ports: []string{"INNSA", "USNYC"}, days: [2]int{30, 36}},
	{prod: "eph", from: "DE", to: "US", weight: 2, mode: air, ports: []string{"DEFRA", "USCHI"}, days: [2]int{1, 2}},
	{prod: "eph", from: "IN", to: "DE", weight: 2, mode: sea, ports: []string{"INNSA", "NLRTM", "DEDUI"}, legModes: []chemledgerv1.TransportMode{0, road}, days: [2]int{22, 27}},
	{prod: "npa", from: "IN", to: "US", weight: 1, mode: air, ports: []string{"INBOM", "USNYC"}, days: [2]int{1, 2}},
	{prod: "boc", from: "CN", to: "US", weight: 2, mode: air, ports: []string{"CNPVG", "USNYC"}, days: [2]int{2, 3}},
	{prod: "boc", from: "IN", to: "DE", weight: 1, mode: air, ports: []string{"INBOM", "DEFRA"}, days: [2]int{1, 2}},
	{prod: "boc", from: "CN", to: "NL", weight: 1, mode: air, ports: []string{"CNPVG", "NLAMS"}, days: [2]int{1, 2}},
	{prod: "pip", from: "CN", to: "US", weight: 3, mode: sea, ports: []string{"CNSHA", "USLAX"}, days: [2]int{15, 19}},
	{prod: "pip", from: "CN", to: "DE", weight: 2, mode: sea, ports: []string{"CNSHA", "DEHAM"}, days: [2]int{32, 38}},
	{prod: "pip", from: "CN", to: "NL", weight: 2, mode: sea, ports: []string{"CNNGB", "NLRTM"}, days: [2]int{30, 35}},
	{prod: "pip", from: "CN", to: "IN", weight: 3, mode: sea, ports: []string{"CNSHA", "INNSA"}, days: [2]int{12, 16}},
	{prod: "pip", from: "IN", to: "US", weight: 1, mode: sea, ports: []string{"INNSA", "USNYC"}, days: [2]int{30, 36}},
	{prod: "paa", from: "CN", to: "DE", weight: 2, mode: sea, ports: []string{"CNSHA", "DEHAM"}, days: [2]int{32, 38}},
	{prod: "paa", from: "CN", to: "NL", weight: 2, mode: sea, ports: []string{"CNNGB", "NLRTM"}, days: [2]int{30, 35}},
	{prod: "paa", from: "CN", to: "IN", weight: 2, mode: sea, ports: []string{"CNSHA", "INNSA"}, days: [2]int{12, 16}},
	{prod: "paa", from: "IN", to: "US", weight: 1, mode: sea, ports: []string{"INNSA", "USNYC"}, days: [2]int{30, 36}},
	{prod: "piperonal", from: "CN", to: "US", weight: 2, mode: sea, ports: []string{"CNSHA", "USLAX"}, days: [2]int{15, 19}},
	{prod: "piperonal", from: "IN", to: "NL", weight: 1, mode: sea, ports: []string{"INNSA", "NLRTM"}, days: [2]int{20, 24}},
	{prod: "piperonal", from: "CN", to: "DE", weight: 1, mode: sea, ports: []string{"CNSHA", "DEHAM"}, days: [2]int{32, 38}},
	{prod: "ac2o", from: "DE", to: "IN", weight: 3, mode: sea, ports: []string{"DEHAM", "INNSA"}, days: [2]int{22, 26}},
	{prod: "ac2o", from: "US", to: "MX", weight: 4, mode: road, ports: []string{"USLRD", "MXNLD"}, days: [2]int{1, 2}},
	{prod: "ac2o", from: "NL", to: "US", weight: 2, mode: sea, ports: []string{"NLRTM", "USHOU"}, days: [2]int{14, 18}},
	{prod: "ac2o", from: "NL", to: "CO", weight: 1, mode: sea, ports: []string{"NLRTM", "COCTG"}, days: [2]int{16, 20}},
	{prod: "kmno4", from: "CN", to: "US", weight: 2, mode: sea, ports: []string{"CNTAO", "USLAX"}, days: [2]int{16, 20}},
	{prod: "kmno4", from: "CN", to: "MX", weight: 3, mode: sea, ports: []string{"CNSHA", "MXZLO"}, days: [2]int{20, 25}},
	{prod: "kmno4", from: "CN", to: "CO", weight: 1, mode: sea, ports: []string{"CNSHA", "COBUN"}, days: [2]int{28, 34}},
	{prod: "mea", from: "DE", to: "IN", weight: 2, mode: sea, ports: []string{"DEHAM", "INNSA"}, days: [2]int{22, 26}},
	{prod: "ani", from: "DE", to: "IN", weight: 2, mode: sea, ports: []string{"DEHAM", "INNSA"}, days: [2]int{22, 26}},
	{prod: "ani", from: "US", to: "MX", weight: 2, mode: road, ports: []string{"USLRD", "MXNLD"}, days: [2]int{1, 2}},
	{prod: "tol", from: "US", to: "MX", weight: 3, mode: road, ports: []string{"USLRD", "MXNLD"}, days: [2]int{1, 2}},
	{prod: "ace", from: "US", to: "MX", weight: 3, mode: road, ports: []string{"USLRD", "MXNLD"}, days: [2]int{1, 2}},
	{prod: "ace", from: "NL", to: "MX", weight: 1, mode: sea, ports: []string{"NLRTM", "MXVER"}, days: [2]int{15, 19}},
	{prod: "mek", from: "US", to: "MX", weight: 2, mode: road, ports: []string{"USLRD", "MXNLD"}, days: [2]int{1, 2}},
	{prod: "h2so4", from: "US", to: "MX", weight: 2, mode: rail, ports: []string{"USLRD", "MXNLD"}, days: [2]int{2, 3}},
	{prod: "p2p", from: "DE", to: "US", weight: 0.6, mode: air, ports: []string{"DEFRA", "USCHI"}, days: [2]int{1, 2}},
}

// portNames name the places of the routes in remarks.
var portNames = map[string]string{
	"INNSA": "Nhava Sheva", "INBOM": "Mumbai", "USNYC": "New York/Newark", "USCHI": "Chicago",
	"USLAX": "Los Angeles", "USHOU": "Houston", "USLRD": "Laredo", "MXNLD": "Nuevo Laredo",
	"MXZLO": "Manzanillo", "MXVER": "Veracruz", "NLRTM": "Rotterdam", "NLAMS": "Amsterdam Schiphol",
	"DEDUI": "Duisburg", "DEHAM": "Hamburg", "DEFRA": "Frankfurt", "CNSHA": "Shanghai",
	"CNPVG": "Shanghai Pudong", "CNNGB": "Ningbo", "CNTAO": "Qingdao", "PABLB": "Balboa",
	"PAONX": "Colón Free Zone", "COCTG": "Cartagena", "COBUN": "Buenaventura", "AEJEA": "Jebel Ali Free Zone",
	"GTPRQ": "Puerto Quetzal",
}
