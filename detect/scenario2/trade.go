package scenario2

import (
	"fmt"
	"time"

	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Suppliers of the clean trade.
var (
	sJiangsu   = co("Jiangsu Baiyun Fine Chemical Co., Ltd.", "CN", "No. 8 Huanghe Road, Changzhou, Jiangsu 213022, China", "USCC", "91320400MA1N7QX24B")
	sShandong  = co("Shandong Taihe Chemical Industry Co., Ltd.", "CN", "No. 66 Gongye Road, Zibo, Shandong 255086, China", "USCC", "91370300MA3C8KLW1P")
	sZhejiang  = co("Zhejiang Lanhai Pharmaceutical Co., Ltd.", "CN", "No. 19 Binhai Road, Taizhou, Zhejiang 318000, China", "USCC", "91331000MA28G4TE6X")
	sSaurastra = co("Saurashtra Organics Pvt. Ltd.", "IN", "Plot 114, GIDC Estate, Ankleshwar, Gujarat 393002, India", "IEC", "AAECS4471R")
	sDeccan    = co("Deccan Fine Chem Ltd.", "IN", "MIDC Plot D-27, Tarapur, Maharashtra 401506, India", "IEC", "AABCD2290M")
	sDaehan    = co("Daehan Solvent Co., Ltd.", "KR", "88 Onsan-ro, Ulju-gun, Ulsan 44995, Republic of Korea", "BRN", "610-81-44217")
	sNishikawa = co("Nishikawa Yakuhin K.K.", "JP", "2-14 Doshomachi, Chuo-ku, Osaka 541-0045, Japan", "CORP", "3120001077821")
	sLevantina = co("Química Levantina S.L.", "ES", "Polígono Industrial El Oliveral, Calle F 12, 46394 Ribarroja del Turia, Spain", "EORI", "ESB46123987")
	sAdriatica = co("Chimica Adriatica S.p.A.", "IT", "Via dell'Industria 41, 30175 Porto Marghera (VE), Italy", "EORI", "IT03318720271")
	sOdra      = co("Zakłady Chemiczne Odra Sp. z o.o.", "PL", "ul. Chemików 3, 72-010 Police, Poland", "EORI", "PL8510004412")
)

// buyer is a consignee of the clean trade with what it buys and from whom.
type buyer struct {
	c         *company
	importer  *company // a trading house or broker that imports for it; nil: itself
	prods     []string
	suppliers []*company
	weight    int
	// since is when its licence history starts (years before the log);
	// zero: the registry holds no licence for it.
	sinceYears int
	// firstDay is the first day it orders (a new customer starts late and
	// small).
	firstDay int
	newbie   bool
}

func (g *gen) buyers() []*buyer {
	return []*buyer{
		// Long-standing large buyers, each with two suppliers.
		{c: co("Farmoquímica Paulista Ltda.", "BR", "Rodovia Anhanguera km 31, Cajamar, SP 07790-000, Brazil", "CNPJ", "61.190.096/0001-92"),
			prods: []string{"pse", "ac2o", "acetone"}, suppliers: []*company{sSaurastra, sJiangsu}, weight: 10, sinceYears: 17},
		{c: co("Anadolu Kimya Sanayi A.Ş.", "TR", "Gebze Organize Sanayi Bölgesi 1600. Sk. No:4, 41400 Gebze/Kocaeli, Turkey", "VKN", "0680014521"),
			prods: []string{"toluene", "mek", "acetone", "h2so4"}, suppliers: []*company{sDaehan, sAdriatica}, weight: 9, sinceYears: 14},
		{c: co("Uralkhimplast JSC", "RU", "ul. Bolshaya Novaya 2, Nizhny Tagil 622012, Russia", "INN", "6623000680").in("АО «Уралхимпласт»"),
			prods: []string{"aniline", "toluene", "h2so4"}, suppliers: []*company{sShandong, sDaehan}, weight: 8, sinceYears: 12},
		{c: co("Siam Pharmaceutical Co., Ltd.", "TH", "99 Moo 4, Bangpoo Industrial Estate, Samut Prakan 10280, Thailand", "TIN", "0105536071120").in("บริษัท สยามเภสัช จำกัด"),
			prods: []string{"pse", "eph", "paa"}, suppliers: []*company{sDeccan, sNishikawa}, weight: 8, sinceYears: 15},
		{c: co("Chimie Fine de Normandie SAS", "FR", "ZI du Port Jérôme, 76170 Lillebonne, France", "EORI", "FR40123456789"),
			prods: []string{"ac2o", "kmno4", "toluene"}, suppliers: []*company{sLevantina, sOdra}, weight: 8, sinceYears: 18},
		// Ordinary buyers.
		{c: co("Highveld Pharmaceuticals (Pty) Ltd", "ZA", "14 Industry Road, Isando, Kempton Park 1600, South Africa", "CIPC", "1998/004417/07"),
			prods: []string{"pse", "hcl"}, suppliers: []*company{sSaurastra}, weight: 4, sinceYears: 6},
		{c: co("Laboratorios Rioplatenses S.A.I.C.", "AR", "Av. Gral. Paz 12450, B1652 Villa Maipú, Buenos Aires, Argentina", "CUIT", "30-50412277-9"),
			importer: co("Comercial Química del Plata S.R.L.", "AR", "Perú 1043, C1068AAU Buenos Aires, Argentina", "CUIT", "30-71120554-3"),
			prods:    []string{"eph", "acetone"}, suppliers: []*company{sDeccan, sLevantina}, weight: 4, sinceYears: 9},
		{c: co("Química Andina SpA", "CL", "Av. Américo Vespucio 2680, Conchalí, Santiago, Chile", "RUT", "76.118.442-5"),
			prods: []string{"kmno4", "h2so4"}, suppliers: []*company{sShandong}, weight: 3, sinceYears: 5},
		{c: co("Hellenic Pharmaceutical Laboratories S.A.", "GR", "18th km Marathonos Ave., 15351 Pallini, Greece", "AFM", "094011250").in("Ελληνικά Φαρμακευτικά Εργαστήρια Α.Ε."),
			prods: []string{"pse", "paa"}, suppliers: []*company{sAdriatica, sDeccan}, weight: 3, sinceYears: 11},
		{c: co("Murray Basin Chemicals Pty Ltd", "AU", "22 Somerville Road, Yarraville VIC 3013, Australia", "ABN", "51 004 228 118"),
			prods: []string{"acetone", "mek", "ac2o"}, suppliers: []*company{sDaehan, sJiangsu}, weight: 4, sinceYears: 8},
		{c: co("Nile Pharmaceuticals S.A.E.", "EG", "Industrial Zone B3, 10th of Ramadan City, Egypt", "TRN", "200-145-887").in("شركة النيل للأدوية"),
			prods: []string{"pse", "pip"}, suppliers: []*company{sZhejiang, sSaurastra}, weight: 3, sinceYears: 7},
		{c: co("Hanbit Chemical Co., Ltd.", "KR", "51 Yeosusandan-ro, Yeosu, Jeollanam-do 59616, Republic of Korea", "BRN", "416-81-20314").in("한빛화학 주식회사"),
			prods: []string{"aniline", "propanh"}, suppliers: []*company{sShandong, sJiangsu}, weight: 3, sinceYears: 10},
		{c: co("Yamato Kasei K.K.", "JP", "3-2 Kaigan-dori, Chuo-ku, Kobe 650-0024, Japan", "CORP", "6140001012345").in("株式会社大和化成"),
			prods: []string{"mea", "hcl"}, suppliers: []*company{sZhejiang, sDaehan}, weight: 3, sinceYears: 13},
		{c: co("Rift Valley Pharmaceuticals Ltd", "KE", "Mombasa Road, Plot 209/8532, Nairobi, Kenya", "PIN", "P051234567Q"),
			importer: co("Kilindini Clearing & Forwarding Ltd", "KE", "Moi Avenue, Mombasa, Kenya", "PIN", "P051998877Z"),
			prods:    []string{"acetone", "hcl"}, suppliers: []*company{sSaurastra, sDeccan}, weight: 2},
		// A chemical distributor: commodity chemicals of every kind,
		// aniline and propionic anhydride among them.
		{c: co("Công ty Cổ phần Hóa chất Sông Hồng", "VN", "Lô C3, KCN Đình Vũ, Hải An, Hải Phòng, Vietnam", "MST", "0200784512"),
			prods: []string{"aniline", "propanh", "acetone", "toluene", "mek"}, suppliers: []*company{sShandong, sDaehan}, weight: 5},
		// New customers, starting small, one of them licensed only weeks
		// before its first order.
		{c: co("Sertão Química Industrial S.A.", "BR", "Distrito Industrial, Rua 7 nº 220, Maracanaú, CE 61939-160, Brazil", "CNPJ", "07.412.339/0001-05"),
			prods: []string{"acetone", "toluene"}, suppliers: []*company{sJiangsu}, weight: 2, firstDay: 200, newbie: true},
		{c: co("Laboratoires Durance SARL", "FR", "Parc d'Activités de la Durance, 04100 Manosque, France", "EORI", "FR77889900112"),
			prods: []string{"ac2o"}, suppliers: []*company{sLevantina}, weight: 1, firstDay: 120, newbie: true},
	}
}

// trade writes the clean year: the registry first, then the shipments.
func (g *gen) trade() {
	bs := g.buyers()
	lic := 0
	for _, b := range bs {
		if b.sinceYears == 0 && !b.newbie {
			continue
		}
		lic++
		num := fmt.Sprintf("%s-PREC-%04d", b.c.p.Country, 1100+lic)
		if b.newbie {
			from := g.start.Add(time.Duration(b.firstDay-40) * day)
			g.licence(b.c, num, b.prods, from, from.AddDate(3, 0, 0), from)
			continue
		}
		// The first licence, long expired, and the current term; some
		// terms end during the year and are renewed under a new number
		// two weeks before they lapse, between a notification and its
		// import.
		first := g.start.AddDate(-b.sinceYears, 0, 0)
		g.licence(b.c, num+"-A", b.prods, first, first.AddDate(3, 0, 0), g.start.Add(-300*day))
		if lic%2 == 0 {
			end := g.start.Add(time.Duration(90+20*lic) * day).Add(-time.Second)
			g.licence(b.c, num+"-B", b.prods, g.start.AddDate(-2, 0, 0), end, g.start.Add(-200*day))
			g.licence(b.c, num+"-C", b.prods, end.Add(time.Second), end.AddDate(3, 0, 0), end.Add(-14*day))
		} else {
			g.licence(b.c, num+"-B", b.prods, g.start.AddDate(-1, 0, 0), g.start.AddDate(2, 0, 0), g.start.Add(-200*day))
		}
	}
	// The coalition publishes annual legitimate requirements for the
	// countries that buy ephedrines, with room to spare.
	for _, a := range []struct {
		cc, cas string
		kg      float64
	}{{"BR", "90-82-4", 60000}, {"TH", "90-82-4", 40000}, {"TH", "299-42-3", 15000}, {"ZA", "90-82-4", 40000}, {"GR", "90-82-4", 25000}, {"AR", "299-42-3", 15000}, {"EG", "90-82-4", 25000}} {
		g.registry(g.start.Add(-30*day), a.cc, &v1.RegistryEntry{
			EntryId: "ALR-" + a.cc + "-" + a.cas,
			Change:  &v1.RegistryEntry_AnnualRequirement{AnnualRequirement: &v1.AnnualRequirement{Country: a.cc, Cas: a.cas, Kilograms: a.kg, Year: int32(g.start.Year())}},
		})
	}
	// Watch lists name parties that have nothing to do with this trade.
	for _, w := range []*company{
		co("Shanghai Xinxing Chemical Co., Ltd.", "CN", ""),
		co("Golden Crescent General Trading FZE", "AE", ""),
		co("Pacific Rim Precursor Supply Ltd.", "HK", ""),
	} {
		g.registry(g.start.Add(-20*day), "US", &v1.RegistryEntry{
			EntryId: "WL-" + w.p.Name,
			Change:  &v1.RegistryEntry_WatchListEntry{WatchListEntry: &v1.WatchListEntry{Party: w.p, List: "OFAC-SDN", Reason: "designated for supplying synthetic-drug precursors"}},
		})
	}

	total := 0
	for _, b := range bs {
		total += b.weight
	}
	for i := range g.cfg.Shipments {
		// Spread the notifications over the year; pick a buyer by weight.
		d := i * g.cfg.Days / g.cfg.Shipments
		at := g.start.Add(time.Duration(d)*day + g.between(7*time.Hour, 17*time.Hour))
		var b *buyer
		for b == nil {
			n := g.r.IntN(total)
			for _, c := range bs {
				if n -= c.weight; n < 0 {
					b = c
					break
				}
			}
			if d < b.firstDay {
				b = nil
			}
		}
		prod := products[b.prods[g.r.IntN(len(b.prods))]]
		frac := [2]float64{0, 1}
		if b.newbie {
			frac = [2]float64{0, 0.5} // trial orders
		}
		imp := b.c
		if b.importer != nil {
			imp = b.importer
		}
		s := g.newShip("W2", prod, g.lot(prod, frac), b.suppliers[g.r.IntN(len(b.suppliers))], imp, b.c, at)
		g.clean(s)
		g.w.CleanShipments = append(g.w.CleanShipments, s.ref)
	}
}

// clean writes a legitimate shipment with the noise of real trade.
func (g *gen) clean(s *ship) {
	if g.r.IntN(7) == 0 {
		s.replyBy = time.Time{} // the exporting country sets no date
	}
	if g.r.IntN(3) == 0 {
		s.route = []*v1.RouteLeg{s.route[0], {Locode: hubs[g.r.IntN(len(hubs))]}, s.route[1]}
	}
	if g.r.IntN(3) == 0 {
		s.brokers = []*v1.Party{co("Transoceanic Freight Forwarders Ltd.", "SG", "1 Harbourfront Avenue, Singapore 098632", "UEN", "199804412K").p}
	}
	g.pen(s)
	answered := s.penAt.Add(g.between(day, 12*day))
	if g.r.IntN(10) == 0 {
		g.reply(s, v1.PenReply_PEN_REPLY_INFORMATION_REQUESTED, answered)
		answered = answered.Add(g.between(3*day, 8*day))
	}
	g.reply(s, v1.PenReply_PEN_REPLY_NO_OBJECTION, answered)
	exportAt := answered.Add(g.between(2*day, 10*day))
	g.export(s, exportAt)
	var late time.Duration
	if g.r.IntN(10) == 0 {
		late = g.between(5*day, 18*day) // congestion, a missed connection
	}
	g.sail(s, exportAt, g.between(18*day, 40*day), late)
	g.weigh(s)
	g.arrive(s)
}
