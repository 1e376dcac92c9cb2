package detect_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/chemledger/chemledger/detect"
)

func TestDefaultPolicyStatesEveryDefault(t *testing.T) {
	p := detect.DefaultPolicy()
	for _, r := range detect.Catalogue() {
		rp, ok := p.Rules[r.ID]
		if !ok {
			t.Errorf("policy.json has no entry for %s; list every rule so the file documents them all", r.ID)
			continue
		}
		if rp.Note == "" {
			t.Errorf("policy.json: %s has no note", r.ID)
		}
		for _, d := range r.Thresholds {
			if got, ok := rp.Thresholds[d.Name]; !ok || got != d.Default {
				t.Errorf("policy.json: %s.%s = %v (set: %v), want the catalogue default %v", r.ID, d.Name, got, ok, d.Default)
			}
		}
	}
}

func TestParsePolicyRejects(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string
	}{
		{name: "not JSON", json: `{`, wantErr: "unexpected EOF"},
		{name: "unknown field", json: `{"version":"v1","rules":{},"colour":"red"}`, wantErr: `unknown field "colour"`},
		{name: "trailing data", json: `{"version":"v1"} {}`, wantErr: "trailing data"},
		{name: "no version", json: `{"rules":{}}`, wantErr: "version is required"},
		{name: "version with a space", json: `{"version":"v 1"}`, wantErr: "printable ASCII"},
		{name: "unknown rule", json: `{"version":"v1","rules":{"R99":{}}}`, wantErr: `unknown rule id "R99"`},
		{name: "unknown threshold", json: `{"version":"v1","rules":{"R1":{"thresholds":{"tolerance":1}}}}`, wantErr: `unknown threshold "tolerance"`},
		{name: "negative threshold", json: `{"version":"v1","rules":{"R1":{"thresholds":{"tolerance_mass_percent":-1}}}}`, wantErr: "not a finite non-negative number"},
		{name: "fractional days", json: `{"version":"v1","rules":{"R1A":{"thresholds":{"grace_days":1.5}}}}`, wantErr: "whole number of days"},
		{name: "window beyond the look-back", json: `{"version":"v1","rules":{"R28":{"thresholds":{"window_days":500}}}}`, wantErr: "whole number of days up to 400"},
		{name: "zero count", json: `{"version":"v1","rules":{"R11":{"thresholds":{"min_shipments":0}}}}`, wantErr: "whole count"},
		{name: "ratio over one", json: `{"version":"v1","rules":{"R27":{"thresholds":{"name_similarity":1.2}}}}`, wantErr: "ratio"},
		{name: "CAS not in the catalogue", json: `{"version":"v1","rules":{"R11":{"by_cas":{"50-00-0":{"reporting_threshold_kg":1}}}}}`, wantErr: "not in the chemical catalogue"},
		{name: "salt CAS", json: `{"version":"v1","rules":{"R11":{"by_cas":{"41979-39-9":{"reporting_threshold_kg":1}}}}}`, wantErr: "salt or ester of 41661-47-6"},
		{name: "unknown country", json: `{"version":"v1","rules":{"R1":{"by_country":{"XX":{"tolerance_mass_percent":1}}}}}`, wantErr: `"XX" is not an ISO 3166-1`},
		{name: "unknown country under a CAS", json: `{"version":"v1","rules":{"R1":{"by_cas_country":{"299-42-3":{"UK":{"tolerance_mass_percent":1}}}}}}`, wantErr: `"UK" is not an ISO 3166-1`},
		{name: "unknown register country", json: `{"version":"v1","licence_registers":{"countries":["EU"]}}`, wantErr: `"EU" is not an ISO 3166-1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := detect.ParsePolicy([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePolicy(%s) error = %v, want one containing %q", tt.json, err, tt.wantErr)
			}
		})
	}
}

// TestThresholdPrecedence checks that the most specific override wins and
// that the flag records the value used: a 2.5 % shortfall of ephedrine into
// Switzerland under different R1 tolerances.
func TestThresholdPrecedence(t *testing.T) {
	entries := []entry{E(export("S1", 0, qty(1000, "KGM"))), E(receipt("S1", 20, qty(975, "KGM")))}
	tests := []struct {
		name string
		rule string // the R1 policy as JSON
		want string // the tolerance recorded, or "" for no flag
	}{
		{name: "catalogue default", rule: `{}`, want: "0.5"},
		{name: "rule threshold", rule: `{"thresholds":{"tolerance_mass_percent":2}}`, want: "2"},
		{name: "country over rule", rule: `{"thresholds":{"tolerance_mass_percent":2},"by_country":{"CH":{"tolerance_mass_percent":1}}}`, want: "1"},
		{name: "CAS over country", rule: `{"by_country":{"CH":{"tolerance_mass_percent":1}},"by_cas":{"299-42-3":{"tolerance_mass_percent":1.5}}}`, want: "1.5"},
		{name: "CAS and country over CAS", rule: `{"by_cas":{"299-42-3":{"tolerance_mass_percent":1.5}},"by_cas_country":{"299-42-3":{"CH":{"tolerance_mass_percent":3}}}}`, want: ""},
		{name: "other country's override does not apply", rule: `{"by_country":{"MX":{"tolerance_mass_percent":3}}}`, want: "0.5"},
		{name: "disabled", rule: `{"disabled":true}`, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := detect.ParsePolicy([]byte(`{"version":"test","rules":{"R1":` + tt.rule + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			got := ofRule(run(t, p, entries, t0), "R1")
			switch {
			case tt.want == "" && len(got) != 0:
				t.Fatalf("policy %s: got a flag, want none: %s", tt.rule, mustJSON(t, got))
			case tt.want == "":
			case len(got) != 1:
				t.Fatalf("policy %s: %d flags, want 1", tt.rule, len(got))
			default:
				var tol string
				for _, th := range got[0].Thresholds {
					if th.Name == "tolerance_mass_percent" {
						tol = th.Value
					}
				}
				if tol != tt.want {
					t.Errorf("policy %s: tolerance used = %q, want %q", tt.rule, tol, tt.want)
				}
				if got[0].PolicyVersion == "" || !strings.HasPrefix(got[0].PolicyVersion, "test+data.") {
					t.Errorf("policy version on the flag = %q, want it to start with %q", got[0].PolicyVersion, "test+data.")
				}
			}
		})
	}
}

// FuzzPolicy checks that ParsePolicy never panics and that whatever it
// accepts survives a round trip through JSON unchanged.
func FuzzPolicy(f *testing.F) {
	b, err := json.Marshal(detect.DefaultPolicy())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	for _, s := range []string{
		`{"version":"v1"}`,
		`{"version":"v1","rules":{"R1":{"thresholds":{"tolerance_mass_percent":1e308}}}}`,
		`{"version":"v1","rules":{"R11":{"by_cas_country":{"299-42-3":{"MX":{"reporting_threshold_kg":0}}}}}}`,
		`{"version":"v1","rules":{"R27":{"thresholds":{"name_similarity":-0}}}}`,
		`{"version":"v1","licence_registers":{"illustrative":true,"countries":["DE","DE"]}}`,
		`{"version":"\u0000"}`, `null`, `[]`, `{"version":"v1","rules":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := detect.ParsePolicy(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("accepted policy does not encode: %v", err)
		}
		q, err := detect.ParsePolicy(again)
		if err != nil {
			t.Fatalf("re-encoded policy %s is rejected: %v", again, err)
		}
		if diff := cmp.Diff(p, q, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(detect.Policy{}, "Tables")); diff != "" {
			t.Errorf("round trip changed the policy (-first +second):\n%s", diff)
		}
		detect.NewEngine(p) // compiling an accepted policy must not panic
	})
}
