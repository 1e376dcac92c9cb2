package refdata

import (
	"fmt"
	"math"
)

// UnitKind is what a unit measures.
type UnitKind int

const (
	// Mass units convert to kilograms.
	Mass UnitKind = iota + 1
	// Volume units convert to litres; turning them into mass needs the
	// substance's density, which is not reference data here.
	Volume
)

func (k UnitKind) String() string {
	switch k {
	case Mass:
		return "mass"
	case Volume:
		return "volume"
	}
	return fmt.Sprintf("UnitKind(%d)", int(k))
}

// Unit is a UN/ECE Recommendation 20 unit a quantity may be declared in.
type Unit struct {
	// Code is the Rec 20 common code, for example "KGM".
	Code string
	// Name is the unit's English name.
	Name string
	// Kind says whether the unit measures mass or volume.
	Kind UnitKind
	// Factor converts one unit to kilograms (Mass) or litres (Volume).
	Factor float64
}

// UnitByCode returns the supported unit with the Rec 20 code (case
// sensitive: codes are upper case).
func UnitByCode(code string) (Unit, bool) {
	t := load()
	i, ok := t.byUnit[code]
	if !ok {
		return Unit{}, false
	}
	return t.units[i], true
}

// Units returns every supported unit in file order, so error messages and
// documentation can list them.
func Units() []Unit {
	return append([]Unit(nil), load().units...)
}

type unitsFile struct {
	Version string `json:"version"`
	About   string `json:"about"`
	Units   []struct {
		Code   string  `json:"code"`
		Name   string  `json:"name"`
		Kind   string  `json:"kind"`
		Factor float64 `json:"factor"`
	} `json:"units"`
}

func parseUnits(b []byte) ([]Unit, map[string]int, error) {
	var f unitsFile
	if err := decodeStrict(b, &f); err != nil {
		return nil, nil, err
	}
	if f.Version != Version {
		return nil, nil, fmt.Errorf("version %q, want %q", f.Version, Version)
	}
	units := make([]Unit, 0, len(f.Units))
	byCode := make(map[string]int)
	for i, u := range f.Units {
		var kind UnitKind
		switch u.Kind {
		case "mass":
			kind = Mass
		case "volume":
			kind = Volume
		default:
			return nil, nil, fmt.Errorf("unit %d (%s): kind %q is not mass or volume", i, u.Code, u.Kind)
		}
		if u.Code == "" || u.Name == "" {
			return nil, nil, fmt.Errorf("unit %d: code and name are required", i)
		}
		if !(u.Factor > 0) || math.IsInf(u.Factor, 0) {
			return nil, nil, fmt.Errorf("unit %d (%s): factor %v is not a positive finite number", i, u.Code, u.Factor)
		}
		if _, dup := byCode[u.Code]; dup {
			return nil, nil, fmt.Errorf("unit %d: duplicate code %s", i, u.Code)
		}
		byCode[u.Code] = len(units)
		units = append(units, Unit{Code: u.Code, Name: u.Name, Kind: kind, Factor: u.Factor})
	}
	if len(units) == 0 {
		return nil, nil, fmt.Errorf("no units")
	}
	return units, byCode, nil
}
