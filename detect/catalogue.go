package detect

import "slices"

// Rule is one entry of the rule catalogue: what it looks for, why, and with
// which defaults. The policy may change thresholds and switch rules off; it
// cannot change what a rule means — that takes a new Version.
type Rule struct {
	// ID is the rule's number in reference/domain.md §9 ("R1"), with a
	// letter for a rule split off one ("R1A").
	ID string `json:"id"`
	// Version changes whenever the rule's logic or explanation changes, so
	// a flag names exactly what produced it.
	Version int `json:"version"`
	// Name is a short title.
	Name string `json:"name"`
	// Severity is the rule's severity; Escalation says when a finding is
	// rated differently.
	Severity   Severity `json:"severity"`
	Escalation string   `json:"escalation,omitempty"`
	// Source is why the rule exists: the red flag and its sources.
	Source string `json:"source"`
	// Explanation is the template of a flag's explanation; {name} marks
	// are filled with the figures of the finding.
	Explanation string `json:"explanation"`
	// JoinExplanation is the template of a linked flag: a shipment that
	// joins a pattern the rule flagged before (group rules only).
	JoinExplanation string `json:"join_explanation,omitempty"`
	// Thresholds are the rule's tunable values with their defaults.
	Thresholds []ThresholdDef `json:"thresholds,omitempty"`
	// TimeBased rules run in Sweep, not in Apply.
	TimeBased bool `json:"time_based,omitempty"`
	// Notes record the decisions behind the rule's reading of the
	// red flag.
	Notes string `json:"notes,omitempty"`

	eval func(*evalCtx)
}

// ThresholdDef is a tunable value of a rule.
type ThresholdDef struct {
	Name    string  `json:"name"`
	Default float64 `json:"default"`
	// Unit is "percent", "days", "count", "kg" or "ratio" and decides
	// what values the policy may set.
	Unit string `json:"unit"`
	Doc  string `json:"doc"`
}

// maxThresholds bounds a rule's thresholds, so resolving them needs no
// allocation.
const maxThresholds = 6

// lookBackDays bounds every window a policy may set: the detector keeps per
// consignee and per party only this much history.
const lookBackDays = 400

// Catalogue returns the rules in catalogue order (the order Apply evaluates
// them and returns their flags in).
func Catalogue() []Rule {
	out := make([]Rule, len(catalogue))
	for i, r := range catalogue {
		r.Thresholds = slices.Clone(r.Thresholds)
		out[i] = r
	}
	return out
}

// ruleIndex maps a rule id to its position in catalogue.
var ruleIndex = func() map[string]int {
	m := make(map[string]int, len(catalogue))
	for i, r := range catalogue {
		m[r.ID] = i
	}
	return m
}()

var catalogue = []Rule{
	{
		ID: "R1", Version: 1, Name: "Quantity received differs from quantity exported",
		Severity: SeverityHigh, Escalation: "critical when the consignee received less than exported by more than critical_shortfall_percent",
		Source:      "reference/domain.md §9 R1: DEA return declaration of actual quantities (§6) [V]; NDS endorsement [S]; EU reporting by authorisation reference [V]",
		Explanation: "For shipment {ref} of {chemical} ({cas}), the export declaration (entry {export_index}) declared {exported} and the receipt confirmation (entry {receipt_index}) reports {received}: {received_kg} kg of pure substance received against {exported_kg} kg exported, {diff_kg} kg {direction} ({diff_percent}%). That is over the {tolerance_percent}% tolerance for {basis}-declared quantities{critical_note}.{density_note}",
		Thresholds: []ThresholdDef{
			{Name: "tolerance_mass_percent", Default: 0.5, Unit: "percent", Doc: "allowed difference when both quantities were declared by mass (weighing error)"},
			{Name: "tolerance_volume_percent", Default: 2, Unit: "percent", Doc: "allowed difference when either quantity was declared by volume (evaporation, density)"},
			{Name: "critical_shortfall_percent", Default: 5, Unit: "percent", Doc: "a shortfall above this makes the flag critical"},
		},
		Notes: "Quantities are compared in kg of pure substance: value × unit factor × density (volumes) × concentration/100 (100 when undeclared). The latest export declaration and the latest receipt confirmation of the shipment reference are compared, so a correction supersedes the entry it corrects. The flag is raised on whichever of the two arrives second.",
		eval:  evalQuantityMismatch,
	},
	{
		ID: "R1A", Version: 1, Name: "No receipt confirmation after the expected arrival",
		Severity: SeverityHigh, TimeBased: true,
		Source:      "reference/domain.md §9 R1 ('received missing after eta + grace', grace mirroring the 30-day DEA return declaration) [V]",
		Explanation: "Shipment {ref} of {exported} of {chemical} ({cas}) from {exporter} ({exporter_country}) to {consignee} ({consignee_country}) was declared for export on {export_date} (entry {export_index}), {expected}. By the end of the {grace_days}-day grace period on {due_date} no receipt confirmation, seizure or stopped-shipment report had been recorded for it, so nobody has confirmed where the goods are.",
		Thresholds: []ThresholdDef{
			{Name: "grace_days", Default: 30, Unit: "days", Doc: "days after the expected arrival before a missing receipt is flagged"},
			{Name: "default_transit_days", Default: 60, Unit: "days", Doc: "expected transit time when the export declaration gives no arrival time (counted from dispatch, else from the declaration)"},
		},
		Notes: "Evaluated by Sweep as of a time the caller passes. A seizure or stopped-shipment incident closes the shipment. The flag is dated at the due time, not the sweep time, so a rebuild gives the same flag whenever it sweeps; to make the flag's existence rebuild-identical too, sweep at log times (after each Apply, as of the entry's integrated time).",
	},
	{
		ID: "R3", Version: 1, Name: "Goods moved after the importing country objected",
		Severity:    SeverityCritical,
		Source:      "reference/domain.md §9 R3: PEN Online objection and alerts [V]; §2.4 OBJECTED → export must not go",
		Explanation: "The importing country objected to shipment {ref} of {chemical} ({cas}) in its reply to the pre-export notification (entry {objection_index}, {objection_date}); {movement_text}. An objection means the export must not proceed, so the goods are moving outside legitimate trade.",
		Notes:       "The latest reply governs: a later no-objection reply withdraws the objection. A movement (export declaration, transit, import declaration or receipt) recorded after an objection raises the flag; so does an objection recorded after a movement, because the goods are then under way against the importing country's answer and should be stopped. The explanation says which.",
		eval:        evalShipmentAfterObjection,
	},
	{
		ID: "R4", Version: 2, Name: "No pre-export notification where the importing country requires one",
		Severity:    SeverityCritical,
		Source:      "reference/domain.md §9 R4: Art. 12(10)(a) of the 1988 Convention; INCB annex VI list of requesting Governments [V]",
		Explanation: "Shipment {ref} of {quantity} of {chemical} ({cas}) was declared for export from {exporter_country} to {importer_country} (entry {export_index}, {export_date}) with no pre-export notification recorded for it beforehand, although {importer_country} requires one for this chemical ({matrix_note}).",
		Notes:       "The requirement matrix is the table pen_required.json (illustrative until an operator loads INCB's annex VI), unless a reference update in the log sets the importing country's requirement for the export's date (version 2; the flag then names the entry). A notification recorded after the export declaration does not clear the flag.",
		eval:        evalNoPEN,
	},
	{
		ID: "R5", Version: 2, Name: "Exported after the reply period with no reply",
		Severity:    SeverityMedium,
		Source:      "reference/domain.md §9 R5: no tacit consent in the 1988 Convention [V]; Cartagena Protocol Art. 9(4) analogue [S]; §2.4 'silence ≠ consent'",
		Explanation: "The pre-export notification for shipment {ref} of {chemical} ({cas}) (entry {pen_index}) asked {importer_country} for its answer; {deadline_text}. No reply had been recorded when the goods were declared for export on {export_date} (entry {export_index}), after that date. Silence is not consent under the 1988 Convention, so the export went ahead without the importing country's answer.",
		Thresholds: []ThresholdDef{
			{Name: "default_reply_days", Default: 15, Unit: "days", Doc: "the reply period when the notification gives no reply-by date (domain.md §2.4: commonly 15 days)"},
		},
		Notes: "Compares the export declaration's occurred time with the end of the latest notification's reply period: its reply-by time, else default_reply_days after it. An export before the period ended is R5A's finding, not this one's. Version 2: a notification without a reply-by date gets the default period instead of no check.",
		eval:  evalNoReply,
	},
	{
		ID: "R5A", Version: 1, Name: "Exported before the importing country could answer",
		Severity:    SeverityHigh,
		Source:      "reference/domain.md §9 R5 and §1 Art. 12(10)(a): the notification is due prior to export so the importing country can answer [V]; Australia: no export until 5 business days after the PEN [V]",
		Explanation: "The pre-export notification for shipment {ref} of {chemical} ({cas}) was sent on {pen_date} (entry {pen_index}) to {importer_country}, but the goods were declared for export on {export_date} (entry {export_index}), {wait_text}. The exporter did not wait for the importing country's decision, which defeats the purpose of notifying before export.",
		Thresholds: []ThresholdDef{
			{Name: "default_reply_days", Default: 15, Unit: "days", Doc: "the reply period when the notification gives no reply-by date"},
		},
		Notes: "Split off R5: R5 covers silence after the deadline taken as consent, R5A the commoner and graver export before the period ended with no reply, or while the latest reply is an unanswered request for information. Checked on export declarations of shipments with a notification; a reply recorded after the export does not clear it.",
		eval:  evalExportedBeforeReply,
	},
	{
		ID: "R6", Version: 3, Name: "Consignee not licensed for the chemical on that date",
		Severity: SeverityCritical, Escalation: "high instead of critical for chemicals outside UN Table I",
		Source:      "reference/domain.md §9 R6: EU licence/registration and European register of operators [V]; DEA registered locations, no drop shipments [V]",
		Explanation: "{consignee} ({consignee_country}), the consignee of shipment {ref} of {chemical} ({cas}, {table_text}), is named in the {kind} of {date} (entry {index}), but {reason}. The policy treats {consignee_country}'s licence register in the shared registry as complete ({register_note}), so a consignee without a licence for the chemical valid on that date should not be receiving it.",
		Notes:       "Checked on import declarations and receipt confirmations whose consignee (the importer when none is stated) is in a country whose register is complete on that date: listed in the policy's licence_registers, unless a reference update in the log says otherwise for the date (version 3). A licence matches by a LICENCE, DEA or national-scheme identifier equal to its number, by any identifier the holder shares, or by normalised name and country. A revocation takes effect at its effective time; a later grant of the same licence number replaces it.",
		eval:        evalUnlicensedConsignee,
	},
	{
		ID: "R7", Version: 3, Name: "Consignee changed after the pre-export notification",
		Severity:    SeverityHigh,
		Source:      "reference/domain.md §9 R7: Art. 12(10) consignee field [V]; EU 'ultimate consignee' [V]",
		Explanation: "The pre-export notification for shipment {ref} of {chemical} ({cas}) (entry {pen_index}) named {pen_consignee} ({pen_country}) as the ultimate consignee, but the {kind} of {date} (entry {index}) names {consignee} ({consignee_country}). The importing country cleared the notified consignee; the one now named was not part of that decision.",
		Thresholds: []ThresholdDef{
			{Name: "name_similarity", Default: 0.9, Unit: "ratio", Doc: "consignees in the same country whose normalised names are at least this similar count as the same (typing variants)"},
		},
		Notes: "Compares the consignee stated on a later leg with the one stated on the latest notification; a leg that states none is not compared. Two consignees of one country that carry an identical identifier are one company (version 3): importing countries' systems write names in their own script or transliteration.",
		eval:  evalConsigneeChanged,
	},
	{
		ID: "R9", Version: 1, Name: "Imports over the country's annual legitimate requirement",
		Severity:    SeverityHigh,
		Source:      "reference/domain.md §9 R9: INCB annual legitimate requirements (ALRs persist until replaced) [V]",
		Explanation: "Imports of {chemical} ({cas}) into {country} declared for {year} reach {total_kg} kg of pure substance with the import declaration of shipment {ref} (entry {index}): {percent}% of the country's annual legitimate requirement of {alr_kg} kg ({alr_source}), over the {alr_percent}% threshold. Imports beyond the legitimate requirement exceed what the country's industry is expected to need.",
		Thresholds: []ThresholdDef{
			{Name: "alr_percent", Default: 100, Unit: "percent", Doc: "flag when the year's imports exceed this share of the ALR"},
		},
		Notes: "Sums import declarations (kg pure) by importer country, chemical and calendar year of the occurred time. The ALR is the latest registry entry whose first year is not after that year, else alr.json (illustrative). No ALR on file means no flag: the absence of an estimate is a country-level question (domain.md R30), not a shipment finding. Raised once per country, chemical and year.",
		eval:  evalALR,
	},
	{
		ID: "R10", Version: 1, Name: "Substance with no known legitimate use",
		Severity:    SeverityCritical,
		Source:      "reference/domain.md §9 R10: INCB lists of substances with no known legitimate use; designer precursors [V]",
		Explanation: "The {kind} for shipment {ref} (entry {index}, {date}) concerns {quantity} of {chemical} ({cas}), a substance with no known legitimate use. Any commercial shipment of it is suspicious in itself.",
		Notes:       "Checked on pre-export notifications and export declarations; the catalogue's no_known_legitimate_use mark decides.",
		eval:        evalNoLegitimateUse,
	},
	{
		ID: "R11", Version: 2, Name: "Orders split to stay under the reporting threshold",
		Severity:        SeverityHigh,
		Source:          "reference/domain.md §9 R11: DEA 21 CFR 1310.04(e)-(f) cumulative thresholds and detection of split purchases [V]; FinCEN structuring analogy [S]",
		Explanation:     "{consignee} ({country}) is the consignee of {count} shipments of {chemical} ({cas}) from {exporters} different exporters between {first_date} and {last_date}, within {window_days} days: {list}. Each is below the reporting threshold of {reporting_threshold_kg} kg, but together they come to {total_kg} kg, which suggests one order split to stay under the threshold.",
		JoinExplanation: "Shipment {ref} of {kg} kg of {chemical} ({cas}) from {exporter} on {date} (entry {index}), also below the reporting threshold of {reporting_threshold_kg} kg, goes to {consignee} ({country}) within {window_days} days of the last shipment of the split orders flagged as {head} (entry {prev_index}, {prev_date}). The pattern, which began on {first_date} (entry {first_index}), now counts {pattern_count} shipments totalling {total_kg} kg.",
		Thresholds: []ThresholdDef{
			{Name: "reporting_threshold_kg", Default: 0, Unit: "kg", Doc: "the chemical's reporting threshold in kg pure; 0 means none, and the rule does not apply (set per CAS)"},
			{Name: "window_days", Default: 30, Unit: "days", Doc: "the shipments fall within this many days"},
			{Name: "min_shipments", Default: 3, Unit: "count", Doc: "at least this many shipments"},
			{Name: "min_exporters", Default: 2, Unit: "count", Doc: "from at least this many distinct exporters"},
		},
		Notes: "Counts shipments (one per reference: its latest notification or export declaration), not events. Shipments at or above the threshold are reported anyway and do not count. Shipments used by one flag are not reused by the next. A later shipment under the threshold to the same consignee, of the same chemical, within window_days of the pattern's latest shipment joins the pattern with a linked flag (version 2), so the pattern's flags cite every shipment of it.",
		eval:  evalStructuring,
	},
	{
		ID: "R12", Version: 2, Name: "New supplier after a refusal (company shopping)",
		Severity:        SeverityHigh,
		Source:          "reference/domain.md §9 R12 and §11.5: INCB on thwarted attempts followed by 'company shopping' [V]",
		Explanation:     "{party} ({country}) {refusal_text} {refused_ref} of {chemical} ({cas}) from {refused_exporter} on {refusal_date} (entry {refusal_index}); {days} days later the pre-export notification for shipment {ref} (entry {index}) names it again for the same chemical, from a different exporter ({exporter}). Turning to another supplier after a refusal is the pattern INCB calls company shopping.",
		JoinExplanation: "{party} ({country}) {refusal_text} {refused_ref} of {chemical} ({cas}) from {refused_exporter} on {refusal_date} (entry {refusal_index}), flagged as {head} when it turned to another supplier. {days} days after the refusal, the pre-export notification for shipment {ref} (entry {index}) names it again for the same chemical from {exporter}: new order {pattern_count} from a different exporter since the refusal (the one before: entry {prev_index}, {prev_date}).",
		Thresholds: []ThresholdDef{
			{Name: "window_days", Default: 60, Unit: "days", Doc: "the new notification comes within this many days of the refusal"},
		},
		Notes: "A refusal is a PEN reply with an objection (unless a later no-objection to the same shipment withdrew it), or a stopped-shipment or seizure incident; its parties come from the shipment's notification when the reply does not repeat them. A request for information is not a refusal (version 2): it is usually followed by a no-objection, and legitimate buyers routinely use two supplier countries. The party is matched as importer or consignee by normalised name and country. The first new order after a refusal raises the flag; each later one within the window joins it with a linked flag (version 2), so the flags cite every order of the pattern, and the flag cites the refused notification too.",
		eval:  evalCompanyShopping,
	},
	{
		ID: "R13", Version: 1, Name: "Route through a free zone or a circuitous route",
		Severity:    SeverityMedium,
		Source:      "reference/domain.md §9 R13: Art. 18 of the 1988 Convention on free trade zones [V]; dual-use red flag 'end user in a free trade zone' [S]; CBP third-country routing [S]",
		Explanation: "The route of shipment {ref} of {chemical} ({cas}) from {exporter_country} to {importer_country}, as given in the {kind} (entry {index}), {route_text}. Free zones and detours through third countries are used to break the trail between exporter and consignee.",
		Thresholds: []ThresholdDef{
			{Name: "third_countries", Default: 2, Unit: "count", Doc: "a route through at least this many countries other than the exporter's, importer's and consignee's is circuitous"},
		},
		Notes: "Route places are UN/LOCODEs; the country is their first two letters. Raised once per shipment.",
		eval:  evalRouting,
	},
	{
		ID: "R15", Version: 1, Name: "HS code does not fit the CAS number",
		Severity:    SeverityHigh,
		Source:      "reference/domain.md §9 R15: INCB on mislabelled and mis-declared consignments [V]; CBP mis-manifesting [S]; §8 HS caveats",
		Explanation: "The {kind} for shipment {ref} (entry {index}) declares {chemical} (CAS {cas}) under HS code {hs}, but the chemical catalogue classifies it under {expected}. A tariff code that does not fit the substance is a common way to mis-declare a controlled chemical.",
		Notes:       "Compares the first six digits; chemicals for which the catalogue has no HS code are not checked. Raised once per shipment.",
		eval:        evalHSMismatch,
	},
	{
		ID: "R21", Version: 3, Name: "New counterparty with a large volume",
		Severity:    SeverityHigh,
		Source:      "reference/domain.md §9 R21: INCB end-user verification and visits for new companies [V]; dual-use 'new customer' [S]; qty > p90(qty for substance)",
		Explanation: "{consignee} ({country}) is the consignee of {kg} kg of pure {chemical} ({cas}) in the {kind} for shipment {ref} (entry {index}, {date}), above the large-lot mark of {large_kg} kg ({large_basis}). {first_text}, less than the {new_days} days after which a counterparty is no longer new. A new customer ordering a large volume calls for end-user verification.",
		Thresholds: []ThresholdDef{
			{Name: "large_lot_percentile", Default: 90, Unit: "percent", Doc: "a lot above this percentile of the chemical's logged lots is large (domain.md: p90)"},
			{Name: "min_lots", Default: 20, Unit: "count", Doc: "with fewer lots of the chemical logged, large_volume_kg is the mark instead"},
			{Name: "large_volume_kg", Default: 1000, Unit: "kg", Doc: "kg pure above which a quantity is large while the log holds too few lots of the chemical (set per CAS: the chemical's typical lot)"},
			{Name: "new_days", Default: 180, Unit: "days", Doc: "a counterparty first seen fewer days ago than this is new"},
			{Name: "min_history_days", Default: 180, Unit: "days", Doc: "a party the registry holds no licence for is judged only once the log reaches back this many days before its first appearance; before that, 'first seen' only means 'first logged'"},
		},
		Notes: "Checked on pre-export notifications, export and import declarations. A party is first seen at the earliest of its appearances in any role in a shipment event and the first days of its licences in the registry, by its name's own letters or any of its identifiers. The log's own first day is evidence neither that everybody is new nor that anybody is: a party the registry dates is judged from that date at any time (version 3; before, nobody was judged in the log's first 180 days), one known only from events once the log reaches min_history_days before its first appearance. Large is judged against the chemical's lots in the log (notifications, export and import declarations, in kg pure; a percentile read to within 9 %), or the per-chemical large_volume_kg while fewer than min_lots are logged; the mark used is recorded as large_lot_kg. Raised once per consignee and chemical.",
		eval:  evalNewCounterparty,
	},
	{
		ID: "R27", Version: 1, Name: "Watch-list match",
		Severity:    SeverityCritical,
		Source:      "reference/domain.md §9 R27: OFAC fentanyl-precursor designations and FinCEN screening [S]; fuzzy match ≥ 0.9",
		Explanation: "{party} ({country}), {seen_text}, matches {listed} on the {list} watch list (entry {watch_index}, listed for: {reason}) {match_text}.",
		Thresholds: []ThresholdDef{
			{Name: "name_similarity", Default: 0.9, Unit: "ratio", Doc: "normalised Levenshtein similarity of normalised names (or aliases) at or above which a name matches"},
		},
		Notes: "Names are normalised (NFKD, accents dropped, Cyrillic/Greek look-alikes mapped to Latin, case-folded, punctuation and trailing legal forms removed, spaces removed) before comparing; the listed country must match unless the entry has none. An identical identifier matches regardless of name. Every party of a shipment event is screened when first seen, and every known party is screened when an entry is added to a watch list. Raised once per party and watch-list entry.",
		eval:  evalWatchList,
	},
	{
		ID: "R28", Version: 2, Name: "Synthesis-set combination to one consignee",
		Severity:        SeverityHigh,
		Source:          "reference/domain.md §9 R28: EU Delegated Regulation 2013/98 Art. 9(3)(c) 'combinations uncommon' [V analogue]; routes from §8.1-8.2",
		Explanation:     "{consignee} ({country}) is the consignee of chemicals for {count} different steps of one synthesis set ({set_name}) within {window_days} days: {list}. Together they make a synthesis route; a combination like this to one consignee is uncommon in legitimate trade.",
		JoinExplanation: "{consignee} ({country}) is the consignee of {chemical} ({cas}) in the {kind} for shipment {ref} of {kg} kg (entry {index}, {date}), within {window_days} days of the last shipment (entry {prev_index}, {prev_date}) of the synthesis-set combination ({set_name}) flagged as {head}. The pattern, which began on {first_date} (entry {first_index}), now counts {pattern_count} shipments covering {steps} steps of the set.",
		Thresholds: []ThresholdDef{
			{Name: "window_days", Default: 90, Unit: "days", Doc: "the chemicals are notified or declared within this many days"},
			{Name: "min_steps", Default: 2, Unit: "count", Doc: "at least this many different steps of one set (alternatives for one step count once)"},
		},
		Notes: "Counts pre-export notifications, export and import declarations naming the consignee. A combination made only of chemicals outside the UN tables (aniline, propionyl chloride, red phosphorus...) needs one step more than min_steps (version 2): such commodity chemicals go to the same distributors every day. Shipments used by one flag are not reused by the next for the same set. A later shipment of a chemical of the set to the same consignee within window_days of the pattern's latest shipment joins the pattern with a linked flag (version 2), so the pattern's flags cite every shipment of it.",
		eval:  evalSynthesisSet,
	},
}
