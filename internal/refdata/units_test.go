package refdata_test

import (
	"testing"

	"github.com/chemledger/chemledger/internal/refdata"
)

func TestUnitByCode(t *testing.T) {
	tests := []struct {
		code       string
		wantOK     bool
		wantKind   refdata.UnitKind
		wantFactor float64
	}{
		{"KGM", true, refdata.Mass, 1},
		{"58", true, refdata.Mass, 1},
		{"GRM", true, refdata.Mass, 0.001},
		{"MGM", true, refdata.Mass, 1e-6},
		{"TNE", true, refdata.Mass, 1000},
		{"DTN", true, refdata.Mass, 100},
		{"LBR", true, refdata.Mass, 0.45359237},
		{"ONZ", true, refdata.Mass, 0.028349523125},
		{"LTR", true, refdata.Volume, 1},
		{"MLT", true, refdata.Volume, 0.001},
		{"MTQ", true, refdata.Volume, 1000},
		{"GLL", true, refdata.Volume, 3.785411784},
		{"kgm", false, 0, 0},
		{"KG", false, 0, 0},
		{"LB", false, 0, 0},
		{"", false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			u, ok := refdata.UnitByCode(tt.code)
			if ok != tt.wantOK || u.Kind != tt.wantKind || u.Factor != tt.wantFactor {
				t.Errorf("UnitByCode(%q) = (%+v, %v), want kind %v factor %v ok %v", tt.code, u, ok, tt.wantKind, tt.wantFactor, tt.wantOK)
			}
			if ok && (u.Code != tt.code || u.Name == "") {
				t.Errorf("UnitByCode(%q) = %+v, want its own code and a name", tt.code, u)
			}
		})
	}
}

func TestUnitsMatchesUnitByCode(t *testing.T) {
	units := refdata.Units()
	if len(units) == 0 {
		t.Fatal("Units() is empty")
	}
	for _, u := range units {
		if got, ok := refdata.UnitByCode(u.Code); !ok || got != u {
			t.Errorf("UnitByCode(%q) = (%+v, %v), want (%+v, true)", u.Code, got, ok, u)
		}
	}
}
