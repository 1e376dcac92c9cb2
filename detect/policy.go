package detect

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/chemledger/chemledger/internal/refdata"
)

// Policy is the operator's choice of thresholds and the reference tables the
// rules read. Its version is recorded on every flag, so a flag says which
// policy judged it.
//
// A threshold is resolved for a finding's chemical (catalogue CAS) and
// importing country, most specific first: ByCASCountry, ByCAS, ByCountry,
// the rule's Thresholds, and last the catalogue default.
type Policy struct {
	// Version names this policy; change it with every edit.
	Version string `json:"version"`
	// About says what the policy is and where its figures come from.
	About string `json:"about"`
	// LicenceRegisters lists the countries whose licence register in the
	// shared registry is complete, where rule R6 applies.
	LicenceRegisters LicenceRegisters `json:"licence_registers"`
	// Rules holds per-rule settings by rule id; a rule not listed runs with
	// the catalogue defaults.
	Rules map[string]RulePolicy `json:"rules"`
	// Tables are the reference tables; ParsePolicy and DefaultPolicy set
	// the embedded defaults, which an operator may replace with
	// LoadTables.
	Tables Tables `json:"-"`
}

// LicenceRegisters is the list of countries with a complete licence
// register.
type LicenceRegisters struct {
	// Illustrative marks placeholder values.
	Illustrative bool   `json:"illustrative"`
	Note         string `json:"note"`
	// Countries are ISO 3166-1 alpha-2 codes.
	Countries []string `json:"countries"`
}

// RulePolicy is the policy for one rule. Threshold maps are keyed by
// threshold name.
type RulePolicy struct {
	// Disabled switches the rule off.
	Disabled bool `json:"disabled,omitempty"`
	// Note documents the choices, in the file itself.
	Note string `json:"note,omitempty"`
	// Thresholds override the catalogue defaults.
	Thresholds map[string]float64 `json:"thresholds,omitempty"`
	// ByCAS overrides per catalogue CAS number.
	ByCAS map[string]map[string]float64 `json:"by_cas,omitempty"`
	// ByCountry overrides per importing country.
	ByCountry map[string]map[string]float64 `json:"by_country,omitempty"`
	// ByCASCountry overrides per CAS, then per importing country.
	ByCASCountry map[string]map[string]map[string]float64 `json:"by_cas_country,omitempty"`
}

//go:embed data/policy.json
var defaultPolicyJSON []byte

// DefaultPolicy returns the embedded policy (data/policy.json) with the
// embedded tables. A malformed embedded policy is a build defect; the
// package tests parse it first.
func DefaultPolicy() Policy {
	p, err := ParsePolicy(defaultPolicyJSON)
	if err != nil {
		panic("detect: embedded policy is malformed (build defect): " + err.Error())
	}
	return p
}

// ParsePolicy reads a policy strictly — unknown fields and trailing data are
// errors — and validates it: known rule ids and threshold names, finite
// non-negative values that fit the threshold's unit, catalogue CAS numbers
// and assigned country codes. The result carries the embedded tables.
func ParsePolicy(b []byte) (Policy, error) {
	var p Policy
	if err := decodeStrict(b, &p); err != nil {
		return Policy{}, fmt.Errorf("policy: %w", err)
	}
	if err := p.validate(); err != nil {
		return Policy{}, fmt.Errorf("policy %s: %w", p.Version, err)
	}
	p.Tables = DefaultTables()
	return p, nil
}

func (p *Policy) validate() error {
	if p.Version == "" || len(p.Version) > 64 {
		return errors.New("version is required, at most 64 bytes")
	}
	for _, r := range p.Version {
		if r <= ' ' || r > '~' {
			return fmt.Errorf("version %q: only printable ASCII without spaces", p.Version)
		}
	}
	for _, c := range p.LicenceRegisters.Countries {
		if !refdata.IsCountry(c) {
			return fmt.Errorf("licence_registers: %q is not an ISO 3166-1 alpha-2 country code", c)
		}
	}
	for id, rp := range p.Rules {
		i, ok := ruleIndex[id]
		if !ok {
			return fmt.Errorf("rules: unknown rule id %q", id)
		}
		defs := catalogue[i].Thresholds
		check := func(where string, m map[string]float64) error {
			for name, v := range m {
				if err := checkThreshold(defs, name, v); err != nil {
					return fmt.Errorf("rules.%s%s: %w", id, where, err)
				}
			}
			return nil
		}
		if err := check(".thresholds", rp.Thresholds); err != nil {
			return err
		}
		for cas, m := range rp.ByCAS {
			if err := checkCAS(cas); err != nil {
				return fmt.Errorf("rules.%s.by_cas: %w", id, err)
			}
			if err := check(".by_cas."+cas, m); err != nil {
				return err
			}
		}
		for c, m := range rp.ByCountry {
			if !refdata.IsCountry(c) {
				return fmt.Errorf("rules.%s.by_country: %q is not an ISO 3166-1 alpha-2 country code", id, c)
			}
			if err := check(".by_country."+c, m); err != nil {
				return err
			}
		}
		for cas, byCountry := range rp.ByCASCountry {
			if err := checkCAS(cas); err != nil {
				return fmt.Errorf("rules.%s.by_cas_country: %w", id, err)
			}
			for c, m := range byCountry {
				if !refdata.IsCountry(c) {
					return fmt.Errorf("rules.%s.by_cas_country.%s: %q is not an ISO 3166-1 alpha-2 country code", id, cas, c)
				}
				if err := check(".by_cas_country."+cas+"."+c, m); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkCAS accepts only a catalogue chemical's own CAS number, so one
// chemical cannot have two overrides under a parent and a salt number.
func checkCAS(cas string) error {
	c, ok := refdata.ChemicalByCAS(cas)
	switch {
	case !ok:
		return fmt.Errorf("CAS %q is not in the chemical catalogue (refdata %s)", cas, refdata.Version)
	case c.CAS != cas:
		return fmt.Errorf("CAS %q is a salt or ester of %s; set thresholds on %s", cas, c.CAS, c.CAS)
	}
	return nil
}

func checkThreshold(defs []ThresholdDef, name string, v float64) error {
	i := slices.IndexFunc(defs, func(d ThresholdDef) bool { return d.Name == name })
	if i < 0 {
		names := make([]string, len(defs))
		for j, d := range defs {
			names[j] = d.Name
		}
		return fmt.Errorf("unknown threshold %q (the rule has %v)", name, names)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return fmt.Errorf("%s: %v is not a finite non-negative number", name, v)
	}
	switch defs[i].Unit {
	case "days":
		if v != math.Trunc(v) || v > lookBackDays {
			return fmt.Errorf("%s: %v is not a whole number of days up to %d", name, v, lookBackDays)
		}
	case "count":
		if v != math.Trunc(v) || v < 1 || v > 1000 {
			return fmt.Errorf("%s: %v is not a whole count from 1 to 1000", name, v)
		}
	case "ratio":
		if v > 1 {
			return fmt.Errorf("%s: %v is not a ratio from 0 to 1", name, v)
		}
	case "percent":
		if v > 10000 {
			return fmt.Errorf("%s: %v%% is out of range (at most 10000)", name, v)
		}
	}
	return nil
}
