package detect

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/chemledger/chemledger/internal/refdata"
)

// Tables is the reference data the rules read besides the policy's
// thresholds. The embedded defaults are in data/; the files whose real
// figures are not public (pen_required.json, alr.json) carry illustrative
// values and say so, and an operator replaces them with LoadTables. Real
// annual legitimate requirements also arrive as registry entries in the log,
// which take precedence over alr.json.
type Tables struct {
	// Version is the version every table file carries.
	Version string
	// Illustrative names the files whose values are placeholders.
	Illustrative []string
	// PENRequired maps an importing country to the catalogue CAS numbers
	// it requires a pre-export notification for (R4).
	PENRequired map[string]map[string]bool
	// ALR maps country → CAS → kilograms of pure substance a year (R9).
	ALR map[string]map[string]float64
	// Sets are the synthesis sets (R28), in file order.
	Sets []SynthesisSet
	// Densities maps a CAS to kilograms per litre (R1 and every quantity
	// declared by volume).
	Densities map[string]float64
}

// SynthesisSet is a combination of chemicals that together make a route to a
// drug. Chemicals in one step are alternatives for that step.
type SynthesisSet struct {
	ID     string
	Name   string
	Source string
	// Steps lists catalogue CAS numbers per step.
	Steps [][]string
}

// step returns the index of the step cas belongs to, or -1.
func (s SynthesisSet) step(cas string) int {
	for i, st := range s.Steps {
		for _, c := range st {
			if c == cas {
				return i
			}
		}
	}
	return -1
}

//go:embed data/pen_required.json data/alr.json data/synthesis_sets.json data/densities.json
var tableFiles embed.FS

// DefaultTables returns a copy of the embedded tables. They are parsed by
// the package tests, so a malformed file fails the build's tests, not a
// running server; here that is a build defect and panics.
func DefaultTables() Tables { return defaultTables().clone() }

var defaultTables = sync.OnceValue(func() Tables {
	sub, err := fs.Sub(tableFiles, "data")
	if err != nil {
		panic("detect: embedded tables: " + err.Error())
	}
	t, err := LoadTables(sub)
	if err != nil {
		panic("detect: embedded tables are malformed (build defect): " + err.Error())
	}
	return t
})

// clone copies the tables, so a caller that edits its copy does not change
// every other policy's.
func (t Tables) clone() Tables {
	out := t
	out.Illustrative = slices.Clone(t.Illustrative)
	out.PENRequired = make(map[string]map[string]bool, len(t.PENRequired))
	for k, v := range t.PENRequired {
		out.PENRequired[k] = maps.Clone(v)
	}
	out.ALR = make(map[string]map[string]float64, len(t.ALR))
	for k, v := range t.ALR {
		out.ALR[k] = maps.Clone(v)
	}
	out.Sets = make([]SynthesisSet, len(t.Sets))
	for i, s := range t.Sets {
		s.Steps = slices.Clone(s.Steps)
		for j := range s.Steps {
			s.Steps[j] = slices.Clone(s.Steps[j])
		}
		out.Sets[i] = s
	}
	out.Densities = maps.Clone(t.Densities)
	return out
}

// LoadTables reads pen_required.json, alr.json, synthesis_sets.json and
// densities.json from fsys (for example os.DirFS of an operator's
// directory), strictly: unknown fields, unknown countries, CAS numbers that
// are not in the chemical catalogue, negative figures and files of different
// versions are errors.
func LoadTables(fsys fs.FS) (Tables, error) {
	var t Tables
	var versions []string
	read := func(name string, v any) error {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if err := decodeStrict(b, v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}

	var pen struct {
		header
		Countries map[string][]string `json:"countries"`
	}
	if err := read("pen_required.json", &pen); err != nil {
		return Tables{}, err
	}
	var alr struct {
		header
		Countries map[string]map[string]float64 `json:"countries"`
	}
	if err := read("alr.json", &alr); err != nil {
		return Tables{}, err
	}
	var sets struct {
		header
		Sets []struct {
			ID     string     `json:"id"`
			Name   string     `json:"name"`
			Source string     `json:"source"`
			Steps  [][]string `json:"steps"`
		} `json:"sets"`
	}
	if err := read("synthesis_sets.json", &sets); err != nil {
		return Tables{}, err
	}
	var dens struct {
		header
		Densities map[string]struct {
			KgPerLitre float64 `json:"kg_per_litre"`
			Note       string  `json:"note"`
		} `json:"densities"`
	}
	if err := read("densities.json", &dens); err != nil {
		return Tables{}, err
	}
	for _, h := range []struct {
		name string
		h    header
	}{{"pen_required.json", pen.header}, {"alr.json", alr.header}, {"synthesis_sets.json", sets.header}, {"densities.json", dens.header}} {
		if h.h.Version == "" || h.h.About == "" {
			return Tables{}, fmt.Errorf("%s: version and about are required", h.name)
		}
		versions = append(versions, h.h.Version)
		if h.h.Illustrative {
			t.Illustrative = append(t.Illustrative, h.name)
		}
	}
	for _, v := range versions[1:] {
		if v != versions[0] {
			return Tables{}, fmt.Errorf("table files carry different versions %q and %q; change them together", versions[0], v)
		}
	}
	t.Version = versions[0]

	t.PENRequired = make(map[string]map[string]bool)
	for country, entries := range pen.Countries {
		if !refdata.IsCountry(country) {
			return Tables{}, fmt.Errorf("pen_required.json: %q is not an ISO 3166-1 alpha-2 country code", country)
		}
		set := make(map[string]bool)
		for _, e := range entries {
			switch e {
			case "TABLE_I", "TABLE_II":
				table := e[len("TABLE_"):]
				for _, c := range refdata.Chemicals() {
					if c.UNTable == table {
						set[c.CAS] = true
					}
				}
			default:
				cas, err := catalogueCAS(e)
				if err != nil {
					return Tables{}, fmt.Errorf("pen_required.json: %s: %w", country, err)
				}
				set[cas] = true
			}
		}
		t.PENRequired[country] = set
	}

	t.ALR = make(map[string]map[string]float64)
	for country, byCAS := range alr.Countries {
		if !refdata.IsCountry(country) {
			return Tables{}, fmt.Errorf("alr.json: %q is not an ISO 3166-1 alpha-2 country code", country)
		}
		m := make(map[string]float64)
		for c, kg := range byCAS {
			cas, err := catalogueCAS(c)
			if err != nil {
				return Tables{}, fmt.Errorf("alr.json: %s: %w", country, err)
			}
			if !(kg > 0) || math.IsInf(kg, 0) {
				return Tables{}, fmt.Errorf("alr.json: %s %s: %v is not a positive number of kilograms", country, c, kg)
			}
			m[cas] = kg
		}
		t.ALR[country] = m
	}

	seen := make(map[string]bool)
	for i, s := range sets.Sets {
		if s.ID == "" || s.Name == "" || s.Source == "" {
			return Tables{}, fmt.Errorf("synthesis_sets.json: set %d: id, name and source are required", i)
		}
		if seen[s.ID] {
			return Tables{}, fmt.Errorf("synthesis_sets.json: duplicate set id %q", s.ID)
		}
		seen[s.ID] = true
		if len(s.Steps) < 2 {
			return Tables{}, fmt.Errorf("synthesis_sets.json: set %s: a combination needs at least 2 steps", s.ID)
		}
		inSet := make(map[string]bool)
		set := SynthesisSet{ID: s.ID, Name: s.Name, Source: s.Source}
		for _, st := range s.Steps {
			if len(st) == 0 {
				return Tables{}, fmt.Errorf("synthesis_sets.json: set %s: empty step", s.ID)
			}
			var step []string
			for _, c := range st {
				cas, err := catalogueCAS(c)
				if err != nil {
					return Tables{}, fmt.Errorf("synthesis_sets.json: set %s: %w", s.ID, err)
				}
				if inSet[cas] {
					return Tables{}, fmt.Errorf("synthesis_sets.json: set %s: %s listed twice", s.ID, c)
				}
				inSet[cas] = true
				step = append(step, cas)
			}
			set.Steps = append(set.Steps, step)
		}
		t.Sets = append(t.Sets, set)
	}

	t.Densities = make(map[string]float64)
	for c, d := range dens.Densities {
		cas, err := catalogueCAS(c)
		if err != nil {
			return Tables{}, fmt.Errorf("densities.json: %w", err)
		}
		if !(d.KgPerLitre > 0 && d.KgPerLitre < 25) {
			return Tables{}, fmt.Errorf("densities.json: %s: %v kg/l is not a plausible density", c, d.KgPerLitre)
		}
		t.Densities[cas] = d.KgPerLitre
	}
	sort.Strings(t.Illustrative)
	return t, nil
}

// header is the part every data file shares.
type header struct {
	Version      string `json:"version"`
	Illustrative bool   `json:"illustrative"`
	About        string `json:"about"`
}

// catalogueCAS returns the catalogue (parent) CAS for cas, which must be in
// the chemical catalogue as a parent or a salt.
func catalogueCAS(cas string) (string, error) {
	c, ok := refdata.ChemicalByCAS(cas)
	if !ok {
		return "", fmt.Errorf("CAS %q is not in the chemical catalogue (refdata %s)", cas, refdata.Version)
	}
	return c.CAS, nil
}

// decodeStrict decodes exactly one JSON value, rejecting unknown fields and
// trailing data.
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
