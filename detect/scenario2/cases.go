package scenario2

import (
	"time"

	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Products only the cases ship.
var (
	pip4   = product{"41979-39-9", "293339", "4-Piperidone hydrochloride monohydrate", 0, false, [2]float64{100, 500}, 25}
	propCl = product{"79-03-8", "291590", "Propionyl chloride", 0, true, [2]float64{200, 2000}, 200}
	apaan  = product{"4468-48-8", "292640", "alpha-Phenylacetoacetonitrile (APAAN)", 0, false, [2]float64{100, 1000}, 25}
	bzcn   = product{"140-29-4", "292690", "Benzyl cyanide", 0, true, [2]float64{200, 2000}, 200}
)

var (
	objection   = v1.PenReply_PEN_REPLY_OBJECTION
	noObjection = v1.PenReply_PEN_REPLY_NO_OBJECTION
	infoRequest = v1.PenReply_PEN_REPLY_INFORMATION_REQUESTED
)

// at is day d of the year, mid-morning.
func (g *gen) at(d int) time.Time { return g.start.Add(time.Duration(d)*day + 10*time.Hour) }

// normal writes the legs of an ordinary shipment from the PEN on.
func (g *gen) normal(s *ship) {
	g.pen(s)
	g.reply(s, noObjection, s.penAt.Add(5*day))
	g.shipOut(s, s.penAt.Add(9*day))
}

// shipOut writes the export declaration and what follows it.
func (g *gen) shipOut(s *ship, exportAt time.Time) {
	g.export(s, exportAt)
	g.sail(s, exportAt, 24*day, 0)
	g.arrive(s)
}

func (g *gen) addCase(rule string, s *ship, subject, note string, pattern ...*ship) {
	c := Case{RuleID: rule, ShipmentRef: s.ref, Subject: subject, Note: note}
	for _, p := range pattern {
		c.Pattern = append(c.Pattern, p.ref)
	}
	g.w.Cases = append(g.w.Cases, c)
}

func (g *gen) addTwin(rule string, s *ship, note string) {
	g.w.Twins = append(g.w.Twins, Twin{RuleID: rule, ShipmentRef: s.ref, Note: note})
	g.w.CleanShipments = append(g.w.CleanShipments, s.ref)
}

func key(c *company) string { return c.p.Name + "|" + c.p.Country }

// cases injects one pattern per rule, each with its near-miss twin. Case
// parties are their own, so a finding about them cannot spill onto clean
// trade.
func (g *gen) cases() {
	xHuaxin := co("Hebei Huaxin Trading Co., Ltd.", "CN", "Room 1502, Tower A, Zhongshan Plaza, Shijiazhuang, Hebei 050011, China", "USCC", "91130100MA0G4PLX3D")
	xKaveri := co("Kaveri Exim Traders", "IN", "22 Second Line Beach Road, Chennai 600001, India", "IEC", "0418833201")
	xAnkara := co("Bosphorus Chemical Export Ltd. Şti.", "TR", "Tuzla Kimya OSB, 34957 Tuzla/İstanbul, Turkey", "VKN", "1870445512")
	xBaltic := co("Baltic Solvents Sp. z o.o.", "PL", "ul. Przemysłowa 11, 80-542 Gdańsk, Poland", "EORI", "PL5842770231")
	xNaples := co("Partenope Chimica S.r.l.", "IT", "Via Argine 310, 80147 Napoli, Italy", "EORI", "IT07712340631")

	// R1: a tenth of a tanker gone. Twin: a weighbridge reading of a
	// liquid declared in litres, under one per cent short.
	c := co("Cape Industrial Solvents (Pty) Ltd", "ZA", "9 Bayhead Road, Durban 4001, South Africa", "CIPC", "2011/118204/07")
	s := g.newShip("W2", products["ac2o"], 20000, xBaltic, c, c, g.at(40))
	s.received, s.receivedUnit = 18400, "LTR"
	g.normal(s)
	g.addCase("R1", s, "", "Acetic anhydride, 20,000 L exported from PL; 18,400 L confirmed received (8 % short).")
	c = co("Natal Coatings (Pty) Ltd", "ZA", "41 Jacobs Road, Mobeni, Durban 4092, South Africa", "CIPC", "2004/022871/07")
	s = g.newShip("W2", products["ac2o"], 20000, sOdra, c, c, g.at(45))
	s.received, s.receivedUnit = 21450, "KGM"
	g.normal(s)
	g.addTwin("R1", s, "Acetic anhydride, 20,000 L exported; 21,450 kg weighed on receipt (about 0.9 % under the litres at 1.08 kg/l).")

	// R1A: exported, then nothing. Twin: the ship is 22 days late, the
	// receipt follows within the grace period.
	c = co("Altiplano Minería y Química S.A.", "CL", "Av. Grecia 1490, Antofagasta, Chile", "RUT", "96.771.230-1")
	s = g.newShip("W2", products["kmno4"], 6000, xHuaxin, c, c, g.at(60))
	g.pen(s)
	g.reply(s, noObjection, s.penAt.Add(4*day))
	g.export(s, s.penAt.Add(8*day))
	g.sail(s, s.penAt.Add(8*day), 30*day, 0)
	g.addCase("R1A", s, "", "Potassium permanganate, 6,000 kg exported from CN to CL; no import, receipt or incident ever recorded.")
	c = co("Minera Atacama Procesos S.A.", "CL", "Camino a Mejillones km 4, Antofagasta, Chile", "RUT", "96.551.808-4")
	s = g.newShip("W2", products["kmno4"], 6000, sShandong, c, c, g.at(62))
	g.pen(s)
	g.reply(s, noObjection, s.penAt.Add(4*day))
	g.export(s, s.penAt.Add(8*day))
	g.sail(s, s.penAt.Add(8*day), 30*day, 22*day)
	g.arrive(s)
	g.addTwin("R1A", s, "Potassium permanganate, 6,000 kg: the ship reached San Antonio 22 days after the declared arrival; import and receipt followed within the grace period.")

	// R3: goods moved after an objection. Twin: the objection is
	// withdrawn by a no-objection once the documents arrive.
	c = co("Distribuidora Pampeana de Químicos S.A.", "AR", "Ruta 9 km 284, Rosario, Santa Fe, Argentina", "CUIT", "30-70991234-1")
	s = g.newShip("W2", products["eph"], 300, xKaveri, c, c, g.at(80))
	g.pen(s)
	g.reply(s, objection, s.penAt.Add(6*day))
	g.shipOut(s, s.penAt.Add(12*day))
	g.addCase("R3", s, "", "Ephedrine HCl, 300 kg: AR objected to the PEN; IN declared the export six days later.")
	c = co("Laboratorio Cuyano S.A.", "AR", "Av. San Martín 5100, Godoy Cruz, Mendoza, Argentina", "CUIT", "30-60177820-6")
	s = g.newShip("W2", products["eph"], 300, sDeccan, c, c, g.at(82))
	g.pen(s)
	g.reply(s, objection, s.penAt.Add(4*day))
	g.reply(s, noObjection, s.penAt.Add(10*day))
	g.shipOut(s, s.penAt.Add(14*day))
	g.addTwin("R3", s, "Ephedrine HCl, 300 kg: AR objected, then withdrew the objection by a no-objection once the importer's quota papers arrived; exported after.")

	// R4: a Table I chemical into France with no PEN. Twin: a Table II
	// chemical, for which France asks none.
	c = co("Vexin Synthèse SAS", "FR", "Rue de l'Industrie 7, 95450 Vigny, France", "EORI", "FR55221144331")
	g.licence(c, "FR-PREC-7701", []string{"ac2o", "acetone"}, g.start.AddDate(-4, 0, 0), g.start.AddDate(3, 0, 0), g.start.Add(-100*day))
	s = g.newShip("W2", products["ac2o"], 8000, xNaples, c, c, g.at(100))
	g.shipOut(s, s.penAt)
	g.addCase("R4", s, "", "Acetic anhydride (Table I), 8,000 L exported from IT to FR with no PEN.")
	s = g.newShip("W2", products["acetone"], 12000, sAdriatica, c, c, g.at(104))
	g.shipOut(s, s.penAt)
	g.addTwin("R4", s, "Acetone (Table II), 12,000 L from IT to FR with no PEN: France requires PENs for Table I only.")

	// R5: silence taken as consent. Twin: no reply-by date, a
	// no-objection on day 13, export on day 20.
	c = co("Bahia Farmacêutica Ltda.", "BR", "Via Parafuso km 5, Camaçari, BA 42810-000, Brazil", "CNPJ", "13.558.210/0001-44")
	s = g.newShip("W2", products["pse"], 800, xKaveri, c, c, g.at(120))
	g.pen(s)
	g.shipOut(s, s.penAt.Add(24*day))
	g.addCase("R5", s, "", "Pseudoephedrine HCl, 800 kg: BR never replied; IN declared the export 9 days after the reply-by date.")
	c = co("Laboratório Serra Gaúcha Ltda.", "BR", "Rua Sinimbu 1670, Caxias do Sul, RS 95020-002, Brazil", "CNPJ", "92.774.110/0001-30")
	s = g.newShip("W2", products["pse"], 800, sSaurastra, c, c, g.at(122))
	s.replyBy = time.Time{}
	g.pen(s)
	g.reply(s, noObjection, s.penAt.Add(13*day))
	g.shipOut(s, s.penAt.Add(20*day))
	g.addTwin("R5", s, "Pseudoephedrine HCl, 800 kg: a PEN with no reply-by date answered on day 13; exported on day 20.")

	// R5A: the exporter did not wait. Twin: an information request, the
	// answer, a no-objection, then the export.
	c = co("Mekong Pharma Trading JSC", "VN", "12 Nguyễn Văn Linh, Quận 7, TP Hồ Chí Minh, Vietnam", "MST", "0312448871")
	s = g.newShip("W2", products["eph"], 250, xKaveri, c, c, g.at(140))
	g.pen(s)
	g.shipOut(s, s.penAt.Add(3*day))
	g.reply(s, noObjection, s.penAt.Add(7*day))
	g.addCase("R5A", s, "", "Ephedrine HCl, 250 kg: IN declared the export 3 days after the PEN; VN's no-objection came 4 days later.")
	c = co("Dược phẩm Cửu Long JSC", "VN", "150 Đường 14/9, Vĩnh Long, Vietnam", "MST", "1500202534")
	s = g.newShip("W2", products["eph"], 250, sDeccan, c, c, g.at(142))
	g.pen(s)
	g.reply(s, infoRequest, s.penAt.Add(4*day))
	g.reply(s, noObjection, s.penAt.Add(11*day))
	g.shipOut(s, s.penAt.Add(16*day))
	g.addTwin("R5A", s, "Ephedrine HCl, 250 kg: VN asked for the end-use statement, then replied no objection; exported five days after.")

	// R6: a French consignee with no licence. Twin: a licence renewed
	// under a new number between the PEN and the import.
	c = co("Garonne Négoce Chimique SARL", "FR", "Quai de Brazza 40, 33100 Bordeaux, France", "EORI", "FR30998877665")
	s = g.newShip("W2", products["kmno4"], 3000, xHuaxin, c, c, g.at(160))
	g.normal(s)
	g.addCase("R6", s, "", "Potassium permanganate, 3,000 kg imported into FR by a consignee with no licence in the registry.")
	c = co("Sèvres Oxydants SA", "FR", "Avenue de la Division Leclerc 60, 92310 Sèvres, France", "EORI", "FR62112233445")
	s = g.newShip("W2", products["kmno4"], 3000, sOdra, c, c, g.at(165))
	lapse := g.at(180).Truncate(day).Add(-time.Second)
	g.licence(c, "FR-PREC-5530", []string{"kmno4"}, g.start.AddDate(-3, 0, 0), lapse, g.start.Add(-90*day))
	g.licence(c, "FR-PREC-6914", []string{"kmno4"}, lapse.Add(time.Second), lapse.AddDate(3, 0, 0), lapse.Add(-12*day))
	g.normal(s)
	g.addTwin("R6", s, "Potassium permanganate, 3,000 kg: the consignee's licence lapsed between the PEN and the import and was renewed under a new number the next day.")

	// R7: another company named at import. Twin: the notified company in
	// Greek letters, same tax number.
	notified := co("Attica Pharma Ingredients S.A.", "GR", "Leoforos Kifisou 112, 12241 Egaleo, Greece", "AFM", "099887712").in("Αττική Φαρμακευτικές Πρώτες Ύλες Α.Ε.")
	other := co("Πειραϊκή Εμπορική Ε.Π.Ε.", "GR", "Akti Miaouli 55, 18536 Piraeus, Greece", "AFM", "800441129")
	s = g.newShip("W2", products["pse"], 500, xNaples, notified, notified, g.at(190))
	g.pen(s)
	g.reply(s, noObjection, s.penAt.Add(5*day))
	g.export(s, s.penAt.Add(9*day))
	g.sail(s, s.penAt.Add(9*day), 6*day, 0)
	s.cons = other
	g.arrive(s)
	g.addCase("R7", s, "", "Pseudoephedrine HCl, 500 kg notified to Attica Pharma Ingredients; the import and receipt name a Piraeus trader with another tax number.")
	twin := co("Ionian Generics S.A.", "GR", "Patron-Athinon 250, 26442 Patras, Greece", "AFM", "094455661").in("Ιόνια Γενόσημα Α.Ε.")
	s = g.newShip("W2", products["pse"], 500, sAdriatica, twin, twin, g.at(192))
	g.normal(s)
	g.addTwin("R7", s, "Pseudoephedrine HCl, 500 kg: the import and receipt name the notified consignee in Greek letters, same tax number.")

	// R9: imports over Kenya's requirement. Twin: nine tenths of it.
	for _, a := range []struct {
		cas string
		kg  float64
	}{{"90-82-4", 1000}, {"299-42-3", 1000}} {
		g.registry(g.at(20), "KE", &v1.RegistryEntry{
			EntryId: "ALR-KE-" + a.cas,
			Change:  &v1.RegistryEntry_AnnualRequirement{AnnualRequirement: &v1.AnnualRequirement{Country: "KE", Cas: a.cas, Kilograms: a.kg, Year: int32(g.start.Year())}},
		})
	}
	c = co("Kisumu Pharmaceutical Distributors Ltd", "KE", "Obote Road 18, Kisumu, Kenya", "PIN", "P051887321K")
	s1 := g.newShip("W2", products["pse"], 800, xKaveri, c, c, g.at(30))
	g.normal(s1)
	s = g.newShip("W2", products["pse"], 1000, xKaveri, c, c, g.at(70))
	g.normal(s)
	g.addCase("R9", s, "KE|90-82-4|2027", "Pseudoephedrine HCl, 800 kg and 1,000 kg (1,476 kg pure) into KE against a 1,000 kg annual requirement.")
	c = co("Coast General Pharmacy Supplies Ltd", "KE", "Nkrumah Road 7, Mombasa, Kenya", "PIN", "P051334455M")
	s1 = g.newShip("W2", products["eph"], 500, sDeccan, c, c, g.at(35))
	g.normal(s1)
	g.w.CleanShipments = append(g.w.CleanShipments, s1.ref)
	s = g.newShip("W2", products["eph"], 600, sSaurastra, c, c, g.at(75))
	g.normal(s)
	g.addTwin("R9", s, "Ephedrine HCl, 500 kg and 600 kg (902 kg pure) into KE: 90 % of its 1,000 kg annual requirement.")

	// R10: a chemical with no legitimate use. Twin: a watched chemical
	// with industrial uses.
	c = co("Ege Kimya Dış Ticaret Ltd. Şti.", "TR", "Kemalpaşa OSB, 35730 İzmir, Turkey", "VKN", "3250981144")
	s = g.newShip("W2", apaan, 500, xHuaxin, c, c, g.at(210))
	g.normal(s)
	g.addCase("R10", s, "", "APAAN, 500 kg from CN to TR.")
	c = co("Marmara Agrokimya A.Ş.", "TR", "Dilovası OSB 4. Cad. 12, 41455 Kocaeli, Turkey", "VKN", "6120554789")
	s = g.newShip("W2", bzcn, 800, sJiangsu, c, c, g.at(212))
	g.normal(s)
	g.addTwin("R10", s, "Benzyl cyanide, 800 L from CN to TR for an agrochemical maker: watched, with legitimate uses.")

	// R11: ephedrine split four ways under the threshold. Twin: three
	// small lots spread over 44 days.
	c = co("Chiang Mai Compounding Co., Ltd.", "TH", "88 Huay Kaew Road, Chiang Mai 50200, Thailand", "TIN", "0505559001234").in("บริษัท เชียงใหม่ คอมพาวดิ้ง จำกัด")
	var parts []*ship
	for i, p := range []struct {
		exp *company
		kg  float64
	}{{xKaveri, 45}, {xHuaxin, 40}, {xNaples, 45}, {xKaveri, 35}} {
		s := g.newShip("W2", products["eph"], p.kg, p.exp, c, c, g.at(230+9*i))
		g.normal(s)
		parts = append(parts, s)
	}
	g.addCase("R11", parts[2], key(c), "Ephedrine HCl to one TH consignee in four lots of 35–45 kg (29–37 kg pure) from three exporters within 27 days.", parts...)
	c = co("Isan Hospital Pharmacy Co., Ltd.", "TH", "Mittraphap Road 200, Khon Kaen 40000, Thailand", "TIN", "0405551007788").in("บริษัท อีสาน ฮอสพิทอล ฟาร์มาซี จำกัด")
	for i, exp := range []*company{sDeccan, sNishikawa, sDeccan} {
		s := g.newShip("W2", products["eph"], 40, exp, c, c, g.at(231+22*i))
		g.normal(s)
		if i == 2 {
			g.addTwin("R11", s, "Ephedrine HCl, 40 kg lots to a TH hospital pharmacy on days 0, 22 and 44 from two suppliers: no 30 days hold three.")
		} else {
			g.w.CleanShipments = append(g.w.CleanShipments, s.ref)
		}
	}

	// R12: objected, then two other suppliers. Twin: an information
	// request answered by a no-objection, then the buyer's other supplier.
	c = co("Paraná Distribuidora Farmacêutica Ltda.", "BR", "Rua Visconde de Guarapuava 3200, Curitiba, PR 80010-100, Brazil", "CNPJ", "05.991.334/0001-18")
	refused := g.newShip("W2", products["pse"], 600, xKaveri, c, c, g.at(250))
	g.pen(refused)
	g.reply(refused, objection, refused.penAt.Add(5*day))
	second := g.newShip("W2", products["pse"], 600, xHuaxin, c, c, g.at(270))
	g.pen(second)
	third := g.newShip("W2", products["pse"], 600, xAnkara, c, c, g.at(291))
	g.pen(third)
	g.addCase("R12", second, key(c), "Pseudoephedrine HCl, 600 kg: BR objected to a PEN from IN; 15 and 36 days later CN and TR exporters notified the same chemical to the same consignee.", refused, second, third)
	c = co("Goiás Genéricos S.A.", "BR", "Av. Anhanguera 14000, Goiânia, GO 74000-000, Brazil", "CNPJ", "02.114.775/0001-60")
	s = g.newShip("W2", products["pse"], 600, sSaurastra, c, c, g.at(252))
	g.pen(s)
	g.reply(s, infoRequest, s.penAt.Add(4*day))
	g.reply(s, noObjection, s.penAt.Add(9*day))
	g.shipOut(s, s.penAt.Add(14*day))
	g.w.CleanShipments = append(g.w.CleanShipments, s.ref)
	s = g.newShip("W2", products["pse"], 600, sZhejiang, c, c, g.at(275))
	g.normal(s)
	g.addTwin("R12", s, "Pseudoephedrine HCl, 600 kg from the buyer's second supplier, 23 days after BR asked the first for more information and then cleared it.")

	// R13: through a free zone. Twin: transshipped at Colombo.
	c = co("Lake Victoria Chemicals Ltd", "KE", "Enterprise Road 40, Nairobi, Kenya", "PIN", "P051009988B")
	s = g.newShip("W2", products["acetone"], 16000, xKaveri, c, c, g.at(260))
	s.route = []*v1.RouteLeg{{Locode: "INMUN"}, {Locode: "AEJEA", FreeTradeZone: true}, {Locode: "KEMBA"}}
	g.normal(s)
	g.addCase("R13", s, "", "Acetone, 16,000 L from IN to KE through the Jebel Ali Free Zone.")
	c = co("Thika Paints & Coatings Ltd", "KE", "Garissa Road, Thika, Kenya", "PIN", "P051556677C")
	s = g.newShip("W2", products["acetone"], 16000, sSaurastra, c, c, g.at(262))
	s.route = []*v1.RouteLeg{{Locode: "INMUN"}, {Locode: "LKCMB"}, {Locode: "KEMBA"}}
	g.normal(s)
	g.addTwin("R13", s, "Acetone, 16,000 L from IN to KE transshipped at Colombo, outside any free zone.")

	// R15: declared as medicaments. Twin: the right subheading with a
	// ten-digit national extension.
	c = co("Sarajevo Road Pharma d.o.o.", "GR", "Thessalonikis 40, 54627 Thessaloniki, Greece", "AFM", "801223344")
	s = g.newShip("W2", products["pse"], 700, xAnkara, c, c, g.at(280))
	s.hs = "300490"
	g.normal(s)
	g.addCase("R15", s, "", "Pseudoephedrine HCl, 700 kg declared under HS 3004.90 (packaged medicaments) on every leg.")
	c = co("Macedonia Generics S.A.", "GR", "Industrial Area of Sindos, 57022 Thessaloniki, Greece", "AFM", "094332211")
	s = g.newShip("W2", products["pse"], 700, sAdriatica, c, c, g.at(282))
	s.hs = "29394200"
	g.normal(s)
	g.addTwin("R15", s, "Pseudoephedrine HCl, 700 kg under 2939.42 with the national extension 2939.42.00.00.")

	// R21: a consignee licensed a month ago orders three times the
	// largest lot. Twins: a long-standing buyer's large lot; a new buyer's
	// ordinary one.
	c = co("Patagonia Oxidantes S.A.", "AR", "Parque Industrial Lote 14, Neuquén, Argentina", "CUIT", "30-71654321-0")
	g.licence(c, "AR-PREC-9011", []string{"kmno4"}, g.at(270), g.at(270).AddDate(3, 0, 0), g.at(270))
	s = g.newShip("W2", products["kmno4"], 48000, xHuaxin, c, c, g.at(300))
	g.normal(s)
	g.addCase("R21", s, key(c), "Potassium permanganate, 48,000 kg to an AR consignee licensed 30 days before.")
	c = co("Compañía Minera del Sur S.A.", "AR", "Av. Colón 2100, Córdoba, Argentina", "CUIT", "30-50001234-9")
	g.licence(c, "AR-PREC-1204", []string{"kmno4"}, g.start.AddDate(-15, 0, 0), g.start.AddDate(2, 0, 0), g.start.Add(-200*day))
	s = g.newShip("W2", products["kmno4"], 40000, sShandong, c, c, g.at(302))
	g.normal(s)
	g.addTwin("R21", s, "Potassium permanganate, 40,000 kg to a miner licensed for 15 years, first seen in the log now.")
	c = co("Tucumán Tratamiento de Aguas S.A.", "AR", "Ruta 38 km 5, San Miguel de Tucumán, Argentina", "CUIT", "30-71888999-2")
	g.licence(c, "AR-PREC-9040", []string{"kmno4"}, g.at(275), g.at(275).AddDate(3, 0, 0), g.at(275))
	s = g.newShip("W2", products["kmno4"], 3000, sShandong, c, c, g.at(305))
	g.normal(s)
	g.addTwin("R21", s, "Potassium permanganate, 3,000 kg, an ordinary lot, to a water utility licensed 30 days before.")

	// R27: a listed exporter under another legal form. Twin: a similar,
	// different name.
	xListed := co("SHANGHAI XINXING CHEMICAL CO., LIMITED", "CN", "No. 1200 Jiangchang Road, Shanghai, China", "USCC", "91310000MA1FL5RT2X")
	c = co("Trakya Boya Sanayi A.Ş.", "TR", "Çerkezköy OSB, 59500 Tekirdağ, Turkey", "VKN", "8790223145")
	s = g.newShip("W2", products["acetone"], 10000, xListed, c, c, g.at(310))
	g.normal(s)
	g.addCase("R27", s, "", "Acetone, 10,000 L from 'SHANGHAI XINXING CHEMICAL CO., LIMITED', listed as Shanghai Xinxing Chemical Co., Ltd.")
	sim := co("Shanghai Xinhua Chemical Co., Ltd.", "CN", "No. 58 Huajing Road, Shanghai, China", "USCC", "91310000MA1H2Q7K5W")
	c = co("Konya Deri Kimyasalları A.Ş.", "TR", "Büsan OSB, 42050 Konya, Turkey", "VKN", "5670112390")
	s = g.newShip("W2", products["acetone"], 10000, sim, c, c, g.at(312))
	g.normal(s)
	g.addTwin("R27", s, "Acetone, 10,000 L from Shanghai Xinhua Chemical, a name close to a listed one and not it.")

	// R28: three steps of the fentanyl route to one consignee. Twin:
	// ephedrine and pseudoephedrine, alternatives for one step, to a
	// pharmaceutical maker.
	c = co("Karoo Fine Chemicals (Pty) Ltd", "ZA", "Unit 5, Montague Business Park, Cape Town 7441, South Africa", "CIPC", "2019/552104/07")
	a := g.newShip("W2", pip4, 200, xHuaxin, c, c, g.at(200))
	g.normal(a)
	b := g.newShip("W2", products["aniline"], 4000, xKaveri, c, c, g.at(225))
	g.normal(b)
	d := g.newShip("W2", propCl, 1000, xNaples, c, c, g.at(250))
	g.normal(d)
	g.addCase("R28", b, key(c), "4-piperidone HCl, then aniline 25 days later, then propionyl chloride 25 days after that, to one ZA consignee.", a, b, d)
	c = co("Boland Pharmaceuticals (Pty) Ltd", "ZA", "Paarl Industrial Park, Paarl 7646, South Africa", "CIPC", "1987/001234/07")
	s = g.newShip("W2", products["eph"], 300, sDeccan, c, c, g.at(215))
	g.normal(s)
	g.w.CleanShipments = append(g.w.CleanShipments, s.ref)
	s = g.newShip("W2", products["pse"], 900, sSaurastra, c, c, g.at(240))
	g.normal(s)
	g.addTwin("R28", s, "Ephedrine HCl and pseudoephedrine HCl within 25 days to a pharmaceutical maker: alternatives for one step.")
}
