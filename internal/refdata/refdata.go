// Package refdata is the reference data the ledger checks events against:
// the catalogue of controlled precursor chemicals keyed by CAS registry
// number, the assigned ISO 3166-1 alpha-2 country codes, and the UN/ECE
// Recommendation 20 units a quantity may be declared in.
//
// The data is embedded in the binary and versioned as a whole by Version, so
// every node running one build validates and scores events against the same
// facts, and an output can say which facts it used. The files under data/
// name their sources (see data/README.md).
//
// It must not change at run time: facts that the coalition sets by registry
// entries belong to detect's state, not here.
package refdata

import (
	"embed"
	"fmt"
	"sync"
)

// Version identifies the embedded data set. Every data file carries the same
// string; change them together whenever a fact changes.
const Version = "2026-11-27.1"

//go:embed data/chemicals.json data/countries.txt data/units.json
var files embed.FS

// tables is the parsed data; it is never modified after loading, so readers
// share it without locks.
type tables struct {
	chemicals []Chemical
	byCAS     map[string]int // primary or salt CAS → index into chemicals
	countries map[string]bool
	units     []Unit
	byUnit    map[string]int
}

// load parses the embedded files once, on first use. Malformed embedded data
// is a build defect, not a runtime condition a caller could handle, so it
// panics; the package tests parse the same files and fail first.
var load = sync.OnceValue(func() *tables {
	t, err := parseFiles(files)
	if err != nil {
		panic("refdata: embedded reference data is malformed (build defect): " + err.Error())
	}
	return t
})

func parseFiles(fsys embed.FS) (*tables, error) {
	read := func(name string) ([]byte, error) {
		b, err := fsys.ReadFile("data/" + name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return b, nil
	}
	t := &tables{}
	b, err := read("chemicals.json")
	if err != nil {
		return nil, err
	}
	if t.chemicals, t.byCAS, err = parseChemicals(b); err != nil {
		return nil, fmt.Errorf("chemicals.json: %w", err)
	}
	if b, err = read("countries.txt"); err != nil {
		return nil, err
	}
	if t.countries, err = parseCountries(b); err != nil {
		return nil, fmt.Errorf("countries.txt: %w", err)
	}
	if b, err = read("units.json"); err != nil {
		return nil, err
	}
	if t.units, t.byUnit, err = parseUnits(b); err != nil {
		return nil, fmt.Errorf("units.json: %w", err)
	}
	return t, nil
}
