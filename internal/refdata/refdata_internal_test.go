package refdata

import (
	"strings"
	"testing"
)

func TestEmbeddedDataParses(t *testing.T) {
	if _, err := parseFiles(files); err != nil {
		t.Fatalf("parseFiles(embedded) = %v, want nil", err)
	}
}

func TestCountryCount(t *testing.T) {
	if got := len(load().countries); got != 249 {
		t.Errorf("assigned ISO 3166-1 alpha-2 codes: %d, want 249", got)
	}
}

// TestParseChemicalsRejects shows the load-time checks catch the defects the
// catalogue must never ship with.
func TestParseChemicalsRejects(t *testing.T) {
	entry := func(fields string) string {
		return `{"version":"` + Version + `","about":"","chemicals":[{"name":"x","source":"s",` + fields + `}]}`
	}
	tests := []struct {
		name    string
		json    string
		wantErr string
	}{
		{name: "bad check digit", json: entry(`"cas":"39742-60-5","un_table":"I","year_controlled":2017`), wantErr: "check digit"},
		{name: "bad salt check digit", json: entry(`"cas":"39742-60-4","salt_cas":["1609-66-5"]`), wantErr: "check digit"},
		{name: "salt repeats primary", json: entry(`"cas":"39742-60-4","salt_cas":["39742-60-4"]`), wantErr: "already used"},
		{name: "HS with dot", json: entry(`"cas":"39742-60-4","hs":["2933.37"]`), wantErr: "not 6 digits"},
		{name: "unknown table", json: entry(`"cas":"39742-60-4","un_table":"III","year_controlled":2017`), wantErr: "UN table"},
		{name: "UN entry without year", json: entry(`"cas":"39742-60-4","un_table":"I"`), wantErr: "year"},
		{name: "misspelt field", json: entry(`"cas":"39742-60-4","un_tabel":"I"`), wantErr: "unknown field"},
		{name: "wrong version", json: `{"version":"0","chemicals":[]}`, wantErr: "version"},
		{name: "trailing data", json: entry(`"cas":"39742-60-4"`) + `{}`, wantErr: "trailing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseChemicals([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseChemicals(%s) = %v, want an error containing %q", tt.json, err, tt.wantErr)
			}
		})
	}
}

func TestParseCountriesRejects(t *testing.T) {
	v := "# version: " + Version + "\n"
	tests := []struct {
		name string
		text string
	}{
		{name: "lower case", text: v + "us\tUnited States\n"},
		{name: "three letters", text: v + "USA\tUnited States\n"},
		{name: "no name", text: v + "US\n"},
		{name: "duplicate", text: v + "US\tA\nUS\tB\n"},
		{name: "no version", text: "US\tUnited States\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseCountries([]byte(tt.text)); err == nil {
				t.Errorf("parseCountries(%q) = nil error, want one", tt.text)
			}
		})
	}
}

func TestParseUnitsRejects(t *testing.T) {
	wrap := func(u string) string { return `{"version":"` + Version + `","units":[` + u + `]}` }
	tests := []struct {
		name string
		json string
	}{
		{name: "unknown kind", json: wrap(`{"code":"KGM","name":"kg","kind":"weight","factor":1}`)},
		{name: "zero factor", json: wrap(`{"code":"KGM","name":"kg","kind":"mass","factor":0}`)},
		{name: "duplicate", json: wrap(`{"code":"KGM","name":"kg","kind":"mass","factor":1},{"code":"KGM","name":"kg","kind":"mass","factor":1}`)},
		{name: "empty", json: wrap(``)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := parseUnits([]byte(tt.json)); err == nil {
				t.Errorf("parseUnits(%s) = nil error, want one", tt.json)
			}
		})
	}
}
