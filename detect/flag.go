package detect

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Flag is one finding of one rule, with everything an analyst needs to defend
// it and an auditor needs to re-derive it (docs/architecture.md, invariant 6).
type Flag struct {
	// ID is RuleID, "-" and the first 12 hex digits of SHA-256 over the rule
	// id and the dedupe key, so the same finding has the same id in every
	// rebuild.
	ID string `json:"id"`
	// RuleID and RuleVersion name the rule as it stood in the catalogue.
	RuleID      string `json:"rule_id"`
	RuleVersion int    `json:"rule_version"`
	// PolicyVersion names the policy and reference tables used:
	// "<policy>+data.<tables>+refdata.<refdata>".
	PolicyVersion string   `json:"policy_version"`
	Severity      Severity `json:"severity"`
	// ShipmentRef is the shipment the flag is about, when there is one.
	ShipmentRef string `json:"shipment_ref,omitempty"`
	// Subject is what the flag is about, normalised: a party key
	// ("name|CC"), a shipment reference, or "CC|CAS|year".
	Subject string `json:"subject"`
	// Countries are the ISO 3166-1 alpha-2 codes involved, sorted, for
	// analysts' filters.
	Countries []string `json:"countries,omitempty"`
	// CAS is the chemical's catalogue CAS number (the parent for a salt).
	CAS string `json:"cas,omitempty"`
	// RaisedAt is the integrated time of the entry that triggered the flag;
	// for a time-based rule, the moment the deadline passed (so a rebuild
	// that sweeps at a different time still gives the same flag).
	RaisedAt time.Time `json:"raised_at"`
	// Thresholds are the values actually used, sorted by name.
	Thresholds []Threshold `json:"thresholds,omitempty"`
	// Explanation is one paragraph in plain words, with the figures.
	Explanation string `json:"explanation"`
	// Joins is, for a linked flag, the id of the flag that opened the
	// pattern the flagged shipment joins (group rules: pattern.go); empty
	// otherwise.
	Joins string `json:"joins,omitempty"`
	// Evidence are the log indexes of the entries the finding rests on,
	// ascending.
	Evidence []uint64 `json:"evidence"`
}

// Threshold is one named value a flag was judged against, as text so that
// encoded flags are byte-stable.
type Threshold struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// flagID derives a flag's id from its rule and dedupe key.
func flagID(ruleID, key string) string {
	h := sha256.New()
	h.Write([]byte(ruleID))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return ruleID + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}
