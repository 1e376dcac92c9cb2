package refdata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Chemical is one entry of the controlled-chemical catalogue.
type Chemical struct {
	// Name is the name as listed in the 1988 Convention tables or, for
	// substances outside them, the usual chemical name.
	Name string `json:"name"`
	// Synonyms are abbreviations and other names (for example "NPP", "BMK").
	Synonyms []string `json:"synonyms"`
	// CAS is the CAS registry number of the parent substance.
	CAS string `json:"cas"`
	// SaltCAS are the CAS numbers of salts, hydrates and esters the same
	// control entry covers.
	SaltCAS []string `json:"salt_cas"`
	// HS are the HS 2022 6-digit subheadings (no dots) the substance is
	// properly declared under; empty when the sources give none, in which
	// case no HS cross-check is possible.
	HS []string `json:"hs"`
	// UNTable is "I" or "II" for the tables of the 1988 Convention, or ""
	// for substances under national, regional or watch-list control only.
	UNTable string `json:"un_table"`
	// YearControlled is the year of the CND decision that first put the
	// substance in a UN table; outside the UN tables, the year of the first
	// national or regional control the sources name, or 0 when unknown.
	YearControlled int `json:"year_controlled"`
	// NoKnownLegitimateUse marks designer precursors with no known
	// legitimate use: any commercial shipment is suspicious (rule R10).
	NoKnownLegitimateUse bool `json:"no_known_legitimate_use"`
	// ALR marks substances for which countries publish annual legitimate
	// requirements (rule R9).
	ALR bool `json:"alr"`
	// Source cites where the facts come from, with evidence tags.
	Source string `json:"source"`
	// Note records caveats, chiefly facts the sources mark as unverified.
	Note string `json:"note"`
}

// ChemicalByCAS returns the catalogue entry whose primary CAS number or one
// of whose salt CAS numbers is cas.
func ChemicalByCAS(cas string) (Chemical, bool) {
	t := load()
	i, ok := t.byCAS[cas]
	if !ok {
		return Chemical{}, false
	}
	return t.chemicals[i].clone(), true
}

// Chemicals returns the whole catalogue in file order. The result is a copy
// the caller may modify.
func Chemicals() []Chemical {
	t := load()
	out := make([]Chemical, len(t.chemicals))
	for i, c := range t.chemicals {
		out[i] = c.clone()
	}
	return out
}

// clone copies the slices too, so no caller can change the shared catalogue.
func (c Chemical) clone() Chemical {
	c.Synonyms = slices.Clone(c.Synonyms)
	c.SaltCAS = slices.Clone(c.SaltCAS)
	c.HS = slices.Clone(c.HS)
	return c
}

type chemicalsFile struct {
	Version   string     `json:"version"`
	About     string     `json:"about"`
	Chemicals []Chemical `json:"chemicals"`
}

// parseChemicals decodes and checks the catalogue: every CAS well formed with
// a correct check digit and unique across primary and salt numbers, every HS
// code six digits, every UN table known.
func parseChemicals(b []byte) ([]Chemical, map[string]int, error) {
	var f chemicalsFile
	if err := decodeStrict(b, &f); err != nil {
		return nil, nil, err
	}
	if f.Version != Version {
		return nil, nil, fmt.Errorf("version %q, want %q", f.Version, Version)
	}
	if len(f.Chemicals) == 0 {
		return nil, nil, errors.New("no chemicals")
	}
	byCAS := make(map[string]int)
	addCAS := func(i int, cas string) error {
		if !ValidCASCheckDigit(cas) {
			return fmt.Errorf("CAS %q fails the format or check digit", cas)
		}
		if j, dup := byCAS[cas]; dup {
			return fmt.Errorf("CAS %q already used by entry %d", cas, j)
		}
		byCAS[cas] = i
		return nil
	}
	for i, c := range f.Chemicals {
		if c.Name == "" || c.Source == "" {
			return nil, nil, fmt.Errorf("entry %d (%s): name and source are required", i, c.CAS)
		}
		if err := addCAS(i, c.CAS); err != nil {
			return nil, nil, fmt.Errorf("entry %d (%s): %w", i, c.Name, err)
		}
		for _, s := range c.SaltCAS {
			if err := addCAS(i, s); err != nil {
				return nil, nil, fmt.Errorf("entry %d (%s) salt: %w", i, c.Name, err)
			}
		}
		for _, hs := range c.HS {
			if len(hs) != 6 || !allDigits(hs) {
				return nil, nil, fmt.Errorf("entry %d (%s): HS %q is not 6 digits", i, c.Name, hs)
			}
		}
		switch c.UNTable {
		case "I", "II", "":
		default:
			return nil, nil, fmt.Errorf("entry %d (%s): UN table %q is not I, II or empty", i, c.Name, c.UNTable)
		}
		if c.UNTable != "" && c.YearControlled < 1988 {
			return nil, nil, fmt.Errorf("entry %d (%s): UN-table entry needs a year from 1988 on, got %d", i, c.Name, c.YearControlled)
		}
	}
	return f.Chemicals, byCAS, nil
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown fields
// so a misspelt key in a data file fails the tests instead of vanishing.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
