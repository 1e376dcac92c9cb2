package detect

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/chemledger/chemledger/internal/refdata"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Reference data the coalition sets — which importing countries require a
// pre-export notification for what (R4), the synthesis sets (R28), the
// per-chemical reporting thresholds (R11) and which countries' licence
// registers are complete (R6) — ships embedded (data/, the policy) and is
// the default. A member changes it with a log entry: a ReferenceUpdate,
// with the dates it is valid for, signed by the member that sets it. The
// detector holds every update in its state and applies them in log order:
// an event is judged by the latest update, in log order, whose validity
// covers the event's date, and by the embedded table where none does. So a
// rebuild after a change gives the new flags, the same every time, and the
// events before the change keep the flags they had.

// ReferenceKind says which table an update changes.
type ReferenceKind int

const (
	ReferenceUnspecified ReferenceKind = iota
	// ReferencePENRequirement sets the chemicals an importing country
	// requires a pre-export notification for (replacing the whole list).
	ReferencePENRequirement
	// ReferenceSynthesisSet adds, replaces or removes a synthesis set.
	ReferenceSynthesisSet
	// ReferenceReportingThreshold sets a chemical's reporting threshold.
	ReferenceReportingThreshold
	// ReferenceLicenceRegister says whether a country's licence register
	// in the shared registry is complete.
	ReferenceLicenceRegister
)

var referenceKindNames = map[ReferenceKind]string{
	ReferencePENRequirement: "pen_requirement", ReferenceSynthesisSet: "synthesis_set",
	ReferenceReportingThreshold: "reporting_threshold", ReferenceLicenceRegister: "licence_register",
}

func (k ReferenceKind) String() string {
	if n, ok := referenceKindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("ReferenceKind(%d)", int(k))
}

// ReferenceUpdate is one change to the reference data, as a registry entry
// carries it.
type ReferenceUpdate struct {
	Kind ReferenceKind
	// ValidFrom and ValidUntil bound the dates (of the events judged) the
	// update applies to; a zero ValidFrom is from the start, a zero
	// ValidUntil without end.
	ValidFrom, ValidUntil time.Time
	// Country is the importing country (PEN requirement) or the country
	// of the register.
	Country string
	// CAS are the chemicals a country requires a PEN for: CAS numbers of
	// the catalogue, "TABLE_I" or "TABLE_II"; the chemical of a reporting
	// threshold is CAS[0].
	CAS []string
	// SetID, SetName and Steps describe a synthesis set; Steps lists
	// catalogue CAS numbers per step.
	SetID, SetName string
	Steps          [][]string
	// KG is a reporting threshold in kg of pure substance (0: none).
	KG float64
	// Complete says whether a licence register is complete.
	Complete bool
	// Removed withdraws a synthesis set or a country's PEN requirement
	// for the validity period.
	Removed bool
}

// ReferenceFromProto is the update a registry entry's reference_update
// carries. An unknown kind stays unknown, so ValidateReference refuses it.
func ReferenceFromProto(p *chemledgerv1.ReferenceUpdate) ReferenceUpdate {
	u := ReferenceUpdate{
		Kind: ReferenceKind(p.GetKind()), Country: p.GetCountry(), CAS: slices.Clone(p.GetCas()),
		SetID: p.GetSetId(), SetName: p.GetSetName(), KG: p.GetKilograms(), Complete: p.GetComplete(), Removed: p.GetRemoved(),
	}
	if p.GetValidFrom() != nil {
		u.ValidFrom = p.GetValidFrom().AsTime().UTC()
	}
	if p.GetValidUntil() != nil {
		u.ValidUntil = p.GetValidUntil().AsTime().UTC()
	}
	for _, st := range p.GetSteps() {
		u.Steps = append(u.Steps, slices.Clone(st.GetCas()))
	}
	return u
}

// ValidateReference checks an update before it is logged (the server's
// job); Apply skips one that does not pass, so that a bad entry in the log
// changes nothing.
func ValidateReference(u ReferenceUpdate) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !u.ValidUntil.IsZero() && u.ValidUntil.Before(u.ValidFrom) {
		bad("valid_until %s is before valid_from %s", u.ValidUntil.Format(time.RFC3339), u.ValidFrom.Format(time.RFC3339))
	}
	catalogued := func(cas string) {
		if _, err := catalogueCAS(cas); err != nil {
			bad("%w", err)
		}
	}
	switch u.Kind {
	case ReferencePENRequirement:
		if !refdata.IsCountry(u.Country) {
			bad("country %q is not an ISO 3166-1 alpha-2 code", u.Country)
		}
		if len(u.CAS) == 0 && !u.Removed {
			bad("a PEN requirement lists at least one chemical, TABLE_I or TABLE_II (or is removed)")
		}
		for _, c := range u.CAS {
			if c != "TABLE_I" && c != "TABLE_II" {
				catalogued(c)
			}
		}
	case ReferenceSynthesisSet:
		if u.SetID == "" {
			bad("a synthesis set needs an id")
		}
		if !u.Removed {
			if u.SetName == "" {
				bad("a synthesis set needs a name")
			}
			if len(u.Steps) < 2 {
				bad("a synthesis set needs at least 2 steps")
			}
			seen := map[string]bool{}
			for _, st := range u.Steps {
				if len(st) == 0 {
					bad("empty step")
				}
				for _, c := range st {
					catalogued(c)
					if p, err := catalogueCAS(c); err == nil && seen[p] {
						bad("%s listed twice", c)
					} else if err == nil {
						seen[p] = true
					}
				}
			}
			if len(u.Steps) > 64 {
				bad("at most 64 steps")
			}
		}
	case ReferenceReportingThreshold:
		if len(u.CAS) != 1 {
			bad("a reporting threshold names exactly one chemical")
		} else {
			catalogued(u.CAS[0])
		}
		if !(u.KG >= 0) || u.KG > 1e9 {
			bad("reporting threshold %v kg is not a plausible figure", u.KG)
		}
	case ReferenceLicenceRegister:
		if !refdata.IsCountry(u.Country) {
			bad("country %q is not an ISO 3166-1 alpha-2 code", u.Country)
		}
	default:
		bad("unknown reference kind %v", u.Kind)
	}
	return errors.Join(errs...)
}

// ReferenceEntry is one update as the state holds it, normalised:
// catalogue CAS numbers, tables expanded, with the entry that made it and
// the member that signed it.
type ReferenceEntry struct {
	Index    uint64
	Member   string
	From     time.Time
	Until    time.Time
	Removed  bool
	CAS      []string // PEN requirement: the chemicals, sorted; threshold: one
	Name     string   // synthesis set
	Steps    [][]string
	KG       float64
	Complete bool
}

func (v *ReferenceEntry) covers(t time.Time) bool {
	return (v.From.IsZero() || !t.Before(v.From)) && (v.Until.IsZero() || !t.After(v.Until))
}

// source is how a flag names the entry it was judged by.
func (v *ReferenceEntry) source() string {
	return "reference entry " + idx(v.Index) + " set by " + v.Member + ", valid " + validityText(v.From, v.Until)
}

func validityText(from, until time.Time) string {
	f, u := "from the start", "without end"
	if !from.IsZero() {
		f = "from " + day(from)
	}
	if !until.IsZero() {
		u = "until " + day(until)
	}
	return f + " " + u
}

func refKey(k ReferenceKind, key string) string { return k.String() + "|" + key }

// applyReference folds an update into s; one that does not validate is
// skipped.
func (e *Engine) applyReference(s *State, r Record) {
	u := *r.Reference
	if ValidateReference(u) != nil {
		return
	}
	v := ReferenceEntry{Index: r.Index, Member: r.Member, From: u.ValidFrom.UTC(), Until: u.ValidUntil.UTC(), Removed: u.Removed, KG: u.KG, Complete: u.Complete}
	var key string
	switch u.Kind {
	case ReferencePENRequirement:
		key = u.Country
		set := map[string]bool{}
		for _, c := range u.CAS {
			switch c {
			case "TABLE_I", "TABLE_II":
				for _, ch := range refdata.Chemicals() {
					if ch.UNTable == c[len("TABLE_"):] {
						set[ch.CAS] = true
					}
				}
			default:
				set[e.catalogueCAS(c)] = true
			}
		}
		for c := range set {
			v.CAS = append(v.CAS, c)
		}
		slices.Sort(v.CAS)
	case ReferenceSynthesisSet:
		key, v.Name = u.SetID, u.SetName
		for _, st := range u.Steps {
			var step []string
			for _, c := range st {
				step = append(step, e.catalogueCAS(c))
			}
			v.Steps = append(v.Steps, step)
		}
	case ReferenceReportingThreshold:
		key = e.catalogueCAS(u.CAS[0])
		v.CAS = []string{key}
	case ReferenceLicenceRegister:
		key = u.Country
	}
	k := refKey(u.Kind, key)
	s.refs[k] = append(s.refs[k], v)
	if u.Kind == ReferenceSynthesisSet {
		s.refSets++
	}
}

// Reference implements View.
func (s *State) Reference(kind ReferenceKind, key string, t time.Time) (*ReferenceEntry, bool) {
	vs := s.refs[refKey(kind, key)]
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].covers(t) {
			return &vs[i], true
		}
	}
	return nil, false
}

// ReferenceKeys implements View.
func (s *State) ReferenceKeys(kind ReferenceKind) []string {
	if kind == ReferenceSynthesisSet && s.refSets == 0 {
		return nil
	}
	prefix := refKey(kind, "")
	var out []string
	for k := range s.refs {
		if key, ok := strings.CutPrefix(k, prefix); ok {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// penRequired reports whether country requires a PEN for cas on date t,
// and where that answer comes from.
func (e *Engine) penRequired(s View, country, cas string, t time.Time) (bool, string) {
	if v, ok := s.Reference(ReferencePENRequirement, country, t); ok {
		_, found := slices.BinarySearch(v.CAS, cas)
		return found && !v.Removed, v.source()
	}
	note := "requirement matrix pen_required.json, version " + e.policy.Tables.Version
	if slices.Contains(e.policy.Tables.Illustrative, "pen_required.json") {
		note += ", illustrative values"
	}
	return e.policy.Tables.PENRequired[country][cas], note
}

// registerComplete reports whether country's licence register is complete
// on date t, and where that answer comes from.
func (e *Engine) registerComplete(s View, country string, t time.Time) (bool, string) {
	if v, ok := s.Reference(ReferenceLicenceRegister, country, t); ok {
		return v.Complete, v.source()
	}
	note := "policy " + e.policy.Version
	if e.policy.LicenceRegisters.Illustrative {
		note += ", illustrative list"
	}
	return e.registers[country], note
}

// reportingThreshold is R11's threshold for cas on date t: a reference
// update's, else the policy's (already resolved into th).
func (e *Engine) reportingThreshold(s View, th *tvals, cas string, t time.Time) (float64, string) {
	if v, ok := s.Reference(ReferenceReportingThreshold, cas, t); ok {
		return v.KG, v.source()
	}
	return th.get("reporting_threshold_kg"), "" // the policy's, recorded with the thresholds
}

// synthesisSets are the sets in force on date t: the embedded ones in file
// order, each replaced or removed by an update that covers t, then the sets
// only updates define, by id.
func (e *Engine) synthesisSets(s View, t time.Time) []SynthesisSet {
	updated := s.ReferenceKeys(ReferenceSynthesisSet)
	if len(updated) == 0 {
		return e.policy.Tables.Sets // the usual case: no update ever made
	}
	var out []SynthesisSet
	known := map[string]bool{}
	for _, set := range e.policy.Tables.Sets {
		known[set.ID] = true
		if v, ok := s.Reference(ReferenceSynthesisSet, set.ID, t); ok {
			if !v.Removed {
				out = append(out, SynthesisSet{ID: set.ID, Name: v.Name, Source: v.source(), Steps: v.Steps})
			}
			continue
		}
		out = append(out, set)
	}
	for _, id := range updated {
		if known[id] {
			continue
		}
		if v, ok := s.Reference(ReferenceSynthesisSet, id, t); ok && !v.Removed {
			out = append(out, SynthesisSet{ID: id, Name: v.Name, Source: v.source(), Steps: v.Steps})
		}
	}
	return out
}

// ReferenceSource says where an effective value comes from: an entry of
// the log (Entry set) or the embedded table (Entry nil, Table naming it).
type ReferenceSource struct {
	Entry *ReferenceEntry
	Table string
}

// PENRequirement is the chemicals an importing country requires a PEN for.
type PENRequirement struct {
	Country string
	CAS     []string // catalogue CAS numbers, sorted
	Source  ReferenceSource
}

// EffectiveSynthesisSet is a synthesis set in force.
type EffectiveSynthesisSet struct {
	SynthesisSet
	Source ReferenceSource
}

// ReportingThreshold is a chemical's R11 reporting threshold in kg (0: none).
type ReportingThreshold struct {
	CAS    string
	KG     float64
	Source ReferenceSource
}

// LicenceRegister says whether a country's licence register is complete.
type LicenceRegister struct {
	Country  string
	Complete bool
	Source   ReferenceSource
}

// EffectiveReference is the reference data as the rules read it on a date.
type EffectiveReference struct {
	PENRequirements     []PENRequirement // by country
	SynthesisSets       []EffectiveSynthesisSet
	ReportingThresholds []ReportingThreshold // by CAS
	LicenceRegisters    []LicenceRegister    // by country
}

// EffectiveReference returns the tables in force on date t: the embedded
// ones with every update of s that covers t in place, each value naming
// its source. The reporting thresholds are the policy's per-chemical ones
// (a policy's per-country override is not shown); a country's PEN
// requirement removed by an update is listed with no chemicals.
func (e *Engine) EffectiveReference(s View, t time.Time) EffectiveReference {
	var out EffectiveReference
	penTable := "pen_required.json, version " + e.policy.Tables.Version
	countries := map[string]bool{}
	for c := range e.policy.Tables.PENRequired {
		countries[c] = true
	}
	for _, c := range s.ReferenceKeys(ReferencePENRequirement) {
		countries[c] = true
	}
	for _, c := range slices.Sorted(maps.Keys(countries)) {
		if v, ok := s.Reference(ReferencePENRequirement, c, t); ok {
			var cas []string
			if !v.Removed {
				cas = slices.Clone(v.CAS)
			}
			out.PENRequirements = append(out.PENRequirements, PENRequirement{Country: c, CAS: cas, Source: ReferenceSource{Entry: v}})
			continue
		}
		var cas []string
		for k, req := range e.policy.Tables.PENRequired[c] {
			if req {
				cas = append(cas, k)
			}
		}
		if len(cas) == 0 {
			continue
		}
		slices.Sort(cas)
		out.PENRequirements = append(out.PENRequirements, PENRequirement{Country: c, CAS: cas, Source: ReferenceSource{Table: penTable}})
	}
	for _, set := range e.synthesisSets(s, t) {
		src := ReferenceSource{Table: "synthesis sets, version " + e.policy.Tables.Version}
		if v, ok := s.Reference(ReferenceSynthesisSet, set.ID, t); ok {
			src = ReferenceSource{Entry: v}
		}
		out.SynthesisSets = append(out.SynthesisSets, EffectiveSynthesisSet{SynthesisSet: set, Source: src})
	}
	r11 := e.byID["R11"]
	for _, c := range refdata.Chemicals() {
		if v, ok := s.Reference(ReferenceReportingThreshold, c.CAS, t); ok {
			out.ReportingThresholds = append(out.ReportingThresholds, ReportingThreshold{CAS: c.CAS, KG: v.KG, Source: ReferenceSource{Entry: v}})
			continue
		}
		th := r11.resolve(c.CAS, "")
		if kg := th.get("reporting_threshold_kg"); kg > 0 {
			out.ReportingThresholds = append(out.ReportingThresholds, ReportingThreshold{CAS: c.CAS, KG: kg, Source: ReferenceSource{Table: "policy " + e.policy.Version}})
		}
	}
	slices.SortFunc(out.ReportingThresholds, func(a, b ReportingThreshold) int { return strings.Compare(a.CAS, b.CAS) })
	regs := map[string]bool{}
	for c := range e.registers {
		regs[c] = true
	}
	for _, c := range s.ReferenceKeys(ReferenceLicenceRegister) {
		regs[c] = true
	}
	for _, c := range slices.Sorted(maps.Keys(regs)) {
		if v, ok := s.Reference(ReferenceLicenceRegister, c, t); ok {
			out.LicenceRegisters = append(out.LicenceRegisters, LicenceRegister{Country: c, Complete: v.Complete, Source: ReferenceSource{Entry: v}})
		} else if e.registers[c] {
			out.LicenceRegisters = append(out.LicenceRegisters, LicenceRegister{Country: c, Complete: true, Source: ReferenceSource{Table: "policy " + e.policy.Version + " licence_registers"}})
		}
	}
	return out
}
