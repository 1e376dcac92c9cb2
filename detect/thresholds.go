package detect

import (
	"math"
	"strconv"
)

// compiledRule is a rule with its policy folded into arrays, so resolving
// its thresholds for a finding allocates nothing.
type compiledRule struct {
	rule    *Rule
	enabled bool
	base    [maxThresholds]float64
	// Overrides hold NaN where the policy sets nothing.
	byCAS        map[string]*[maxThresholds]float64
	byCountry    map[string]*[maxThresholds]float64
	byCASCountry map[string]map[string]*[maxThresholds]float64
}

// tvals are a rule's thresholds resolved for one chemical and country.
type tvals struct {
	defs []ThresholdDef
	v    [maxThresholds]float64
}

// get returns the threshold by name; asking for a name the rule does not
// define is a programming error caught by every rule's tests.
func (t *tvals) get(name string) float64 {
	for i, d := range t.defs {
		if d.Name == name {
			return t.v[i]
		}
	}
	panic("detect: rule asks for undefined threshold " + name)
}

// set replaces a threshold by name, for a value a reference update sets.
func (t *tvals) set(name string, v float64) {
	for i, d := range t.defs {
		if d.Name == name {
			t.v[i] = v
			return
		}
	}
	panic("detect: rule sets undefined threshold " + name)
}

// list returns the thresholds as the flag records them, sorted by name.
func (t *tvals) list() []Threshold {
	out := make([]Threshold, len(t.defs))
	for i, d := range t.defs {
		out[i] = Threshold{Name: d.Name, Value: strconv.FormatFloat(t.v[i], 'f', -1, 64)}
	}
	return out
}

func compileRule(r *Rule, rp RulePolicy) *compiledRule {
	cr := &compiledRule{rule: r, enabled: !rp.Disabled}
	for i, d := range r.Thresholds {
		cr.base[i] = d.Default
		if v, ok := rp.Thresholds[d.Name]; ok {
			cr.base[i] = v
		}
	}
	vec := func(m map[string]float64) *[maxThresholds]float64 {
		var a [maxThresholds]float64
		for i, d := range r.Thresholds {
			a[i] = math.NaN()
			if v, ok := m[d.Name]; ok {
				a[i] = v
			}
		}
		return &a
	}
	if len(rp.ByCAS) > 0 {
		cr.byCAS = make(map[string]*[maxThresholds]float64)
		for k, m := range rp.ByCAS {
			cr.byCAS[k] = vec(m)
		}
	}
	if len(rp.ByCountry) > 0 {
		cr.byCountry = make(map[string]*[maxThresholds]float64)
		for k, m := range rp.ByCountry {
			cr.byCountry[k] = vec(m)
		}
	}
	if len(rp.ByCASCountry) > 0 {
		cr.byCASCountry = make(map[string]map[string]*[maxThresholds]float64)
		for cas, byC := range rp.ByCASCountry {
			inner := make(map[string]*[maxThresholds]float64)
			for c, m := range byC {
				inner[c] = vec(m)
			}
			cr.byCASCountry[cas] = inner
		}
	}
	return cr
}

// resolve picks each threshold from the most specific level that sets it.
func (cr *compiledRule) resolve(cas, country string) tvals {
	t := tvals{defs: cr.rule.Thresholds, v: cr.base}
	layers := [3]*[maxThresholds]float64{cr.byCountry[country], cr.byCAS[cas], cr.byCASCountry[cas][country]}
	for _, l := range layers { // least specific first; later layers win
		if l == nil {
			continue
		}
		for i := range t.defs {
			if !math.IsNaN(l[i]) {
				t.v[i] = l[i]
			}
		}
	}
	return t
}
