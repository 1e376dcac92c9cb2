// Package scenario generates a deterministic year of precursor-chemical
// trade for the ledger and the detector: legitimate shipments sized like real
// ones, the registry entries they rest on, and labelled diversion cases, each
// with the rule of reference/domain.md §9 that must flag it. It is the
// detector's test bench (recall on the cases, precision on the clean
// shipments) and a demo data set (cmd/scenariogen writes it as JSON lines).
//
// Generate draws only from a PCG generator seeded with Config.Seed and never
// reads the clock, so one Config always gives the same Scenario. Company
// names, addresses and numbers do not depend on the seed at all. Everything
// is made up; CAS numbers and HS subheadings are the catalogue's (refdata).
//
// # Legitimate trade
//
// About Config.ShipmentsPerMonth shipments a month along fixed lanes
// (catalogue.go): pseudoephedrine and ephedrine HCl (82 % base) from India
// and Germany to pharmaceutical makers in the US, Germany, the Netherlands,
// Panama, Colombia and Guatemala; 4-piperidone, 1-boc-4-piperidone,
// phenylacetic acid and piperonal from China and India; acetic anhydride,
// potassium permanganate, methylamine, aniline and the Table II solvents in
// bulk (no lane stays inside the EU, where there is no PEN); P-2-P rarely, to one licensed amphetamine API maker. NPP, ANPP and
// the designer precursors appear only in cases. Each shipment runs: PEN from
// the exporting country; no objection from the importing country within nine
// days (reply-by is fifteen); export declaration on the eve of dispatch 18 to
// 30 days after the PEN; a transit report where the route passes a member
// country (Rotterdam, on the way to Germany); import declaration after
// arrival; receipt of the same quantity (a fifth are weighed up to 0.08 %
// short). Routes are direct or pass one country, never a free zone. The
// importer is the consignee, and the same party on every leg; it holds a
// licence registry entry for every chemical it buys, valid from before the
// start to two years after the end, and has its first shipment within the
// first 60 days. No consignee buys two steps of one synthesis set. The
// registry also holds the legitimate exporters' licences, an annual
// legitimate requirement (ALR) of two and a half times the year's notified
// quantity for every country and ALR chemical traded, and a six-entry watch
// list whose names are far from every legitimate company.
//
// # Members and relayed legs
//
// Every event is located in, and signed by, a demo member (datadir): US, MX,
// IN, CN, NL, PA, DE. Trade also reaches Colombia and (with 43 or more
// companies) Guatemala, and forwarders and traders in Switzerland, Belgium,
// the UK and Singapore take part. A leg that happens in a non-member country
// — the PEN reply, import declaration and receipt for Colombia — is
// "relayed": located in, and signed by, the member at the other end of the
// trade, which receives the news through PEN Online, and its remarks say so.
// A non-member country's licences and ALRs are entered by the member that
// ships there most. With CO-DIAN (Colombia) and GT-SAT (Guatemala) as
// members, these legs would be their own.
//
// # Cases
//
// Cases use their own exporters and consignees, never a legitimate one, so a
// finding about a case party cannot spill onto clean trade. Each relies on
// these readings of the rules (the detector's defaults; README.md has the
// table):
//
//   - R1: receipt short of the export by more than 0.5 % by mass (14 %, 7.9 %
//     and 3.3 % here).
//   - R1A: export declared, nothing after it; due 30 days after the export's
//     arrival time.
//   - R3: an objection reply, then an export declaration (and a transit).
//   - R4: an export declaration with no PEN, of a UN Table I chemical to a
//     country that requires PENs for it (MX, US).
//   - R5: a PEN with no reply, exported 5 or 9 days after its reply-by time.
//   - R6: consignee in the US, DE or NL (countries whose licence register is
//     taken as complete; MX is not, in the detector's policy) with no
//     licence, a licence expired 30 days before the PEN, or one revoked 25
//     days before it.
//   - R7: the import declaration and receipt name another consignee (a
//     dissimilar name) than the PEN.
//   - R9: import declarations of ephedrine into PA and NL in one calendar
//     year exceed the ALR entered for them (500 and 300 kg pure) with the
//     third and second import respectively; the earlier ones stay under 50 %.
//   - R10: PEN of APAAN, MAPA or BMK methyl glycidate (no known legitimate
//     use), objected to and stopped.
//   - R11: three (and four) PENs of ephedrine HCl, each just under 50 kg (40
//     kg pure), from at least two exporters to one consignee within 30 days,
//     about 120 kg pure together; the third completes the pattern.
//   - R12: an objection, then 28 days later a PEN for the same CAS and
//     consignee from another exporter.
//   - R13: a route stop in the Colón Free Zone (PAONX) or Jebel Ali (AEJEA)
//     marked free_trade_zone.
//   - R15: HS code whose first six digits are not the catalogue's for the
//     CAS (NPP under 293339, pseudoephedrine under 300490).
//   - R21: a consignee first seen after day 195 (so the log reaches back more
//     than 180 days), with 12,300 kg pure pseudoephedrine or 8,000 kg
//     4-piperidone, far over the large-volume marks.
//   - R27: a party whose name, after NFKD, accent and look-alike folding and
//     legal-form stripping, equals a watch-listed name in the same country
//     (Cyrillic а, і, е; "Limited" for "Co., Ltd.").
//   - R28: NPP then aniline, or P-2-P then methylamine, to one consignee 40
//     days apart.
//
// Cases other than R21 that order more than a large-volume mark start before
// day 180, while the log is too young for R21 to call their consignees new,
// so with the default policy every case is flagged by its own rule only.
//
// It must not be used by the service outside the demo, and it must not read
// the clock.
package scenario
