package detect_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/chemledger/chemledger/detect"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Ref logs a reference update on day d.
func Ref(d int, u detect.ReferenceUpdate) entry { return entry{ref: &u, refAt: d} }

// Reference data set by the coalition in the log replaces the embedded
// tables for the dates it is valid for, in log order: each kind changes
// the flags of the rule that reads it, an event outside the validity keeps
// the embedded answer, a later update overrides an earlier one, and an
// invalid update changes nothing. Before the detector held reference data
// in its state, none of these updates had any effect.
func TestReferenceUpdates(t *testing.T) {
	ch := party("Alpenchemie AG", "CH")
	de := party("Berliner Arzneimittelwerk GmbH", "DE")
	penCH := func(from, until int) detect.ReferenceUpdate {
		u := detect.ReferenceUpdate{Kind: detect.ReferencePENRequirement, Country: "CH", CAS: []string{"TABLE_I"}, ValidFrom: day(from)}
		if until != 0 {
			u.ValidUntil = day(until)
		}
		return u
	}
	acetoneSplit := []entry{
		E(export("S1", 20, chem(acetone, "291411"), qty(20, "KGM"))),
		E(export("S2", 25, chem(acetone, "291411"), qty(20, "KGM"), from(exporterB()))),
		E(export("S3", 30, chem(acetone, "291411"), qty(20, "KGM"))),
	}
	p2pMethylamine := []entry{
		E(pen("S1", 20, chem(p2p, "291431"))), E(pen("S2", 40, chem(methylamine, "292111"))),
	}
	solvents := detect.ReferenceUpdate{Kind: detect.ReferenceSynthesisSet, SetID: "test-solvents", SetName: "a test route of acetone and toluene",
		Steps: [][]string{{acetone}, {"108-88-3"}}}
	tests := []struct {
		name    string
		rule    string
		entries []entry
		want    int
		// wantText is in the explanation or a threshold of every flag.
		wantText string
	}{
		{name: "R4 embedded: CH requires no PEN", rule: "R4", want: 0, entries: []entry{E(export("S1", 20, to(ch)))}},
		{name: "R4 CH requires PENs for Table I from day 10", rule: "R4", want: 1, wantText: "reference entry 1 set by CH, valid from 2026-01-15 without end",
			entries: []entry{Ref(5, penCH(10, 0)), E(export("S1", 20, to(ch)))}},
		{name: "R4 an export before the update's validity", rule: "R4", want: 0,
			entries: []entry{Ref(5, penCH(10, 0)), E(export("S1", 8, to(ch)))}},
		{name: "R4 an export after the validity ended", rule: "R4", want: 0,
			entries: []entry{Ref(5, penCH(10, 15)), E(export("S1", 20, to(ch)))}},
		{name: "R4 DE's requirement withdrawn", rule: "R4", want: 0, entries: []entry{
			Ref(0, detect.ReferenceUpdate{Kind: detect.ReferencePENRequirement, Country: "DE", Removed: true}), E(export("S1", 20, to(de))),
		}},
		{name: "R4 the later update in log order wins", rule: "R4", want: 0, entries: []entry{
			Ref(1, penCH(0, 0)), Ref(2, detect.ReferenceUpdate{Kind: detect.ReferencePENRequirement, Country: "CH", CAS: []string{"TABLE_II"}}),
			E(export("S1", 20, to(ch))),
		}},
		{name: "R4 an invalid update changes nothing", rule: "R4", want: 0, entries: []entry{
			Ref(1, detect.ReferenceUpdate{Kind: detect.ReferencePENRequirement, Country: "CH", CAS: []string{"1-2-3"}}), E(export("S1", 20, to(ch))),
		}},
		{name: "R6 CH's register declared complete", rule: "R6", want: 1, wantText: "reference entry 1 set by CH", entries: []entry{
			Ref(0, detect.ReferenceUpdate{Kind: detect.ReferenceLicenceRegister, Country: "CH", Complete: true}), E(imp("S1", 20, to(ch))),
		}},
		{name: "R6 DE's register no longer taken as complete", rule: "R6", want: 0, entries: []entry{
			Ref(0, detect.ReferenceUpdate{Kind: detect.ReferenceLicenceRegister, Country: "DE", Complete: false}), E(imp("S1", 20, to(de))),
		}},
		{name: "R6 embedded: DE's register complete", rule: "R6", want: 1, entries: []entry{E(imp("S1", 20, to(de)))}},
		{name: "R11 embedded: acetone has no reporting threshold", rule: "R11", want: 0, entries: acetoneSplit},
		{name: "R11 a reporting threshold for acetone", rule: "R11", want: 1, wantText: "reference entry 1 set by CH",
			entries: append([]entry{Ref(0, detect.ReferenceUpdate{Kind: detect.ReferenceReportingThreshold, CAS: []string{acetone}, KG: 50})}, acetoneSplit...)},
		{name: "R28 a new set", rule: "R28", want: 1, wantText: "a test route of acetone and toluene", entries: []entry{
			Ref(0, solvents), E(pen("S1", 20, chem(acetone, "291411"))), E(pen("S2", 30, chem("108-88-3", "290230"))),
		}},
		{name: "R28 embedded: P-2-P and methylamine", rule: "R28", want: 1, entries: p2pMethylamine},
		{name: "R28 the P-2-P set withdrawn", rule: "R28", want: 0, entries: append([]entry{
			Ref(0, detect.ReferenceUpdate{Kind: detect.ReferenceSynthesisSet, SetID: "methamphetamine-p2p", Removed: true}),
		}, p2pMethylamine...)},
		{name: "R28 withdrawn only after the orders", rule: "R28", want: 1, entries: append([]entry{
			Ref(0, detect.ReferenceUpdate{Kind: detect.ReferenceSynthesisSet, SetID: "methamphetamine-p2p", Removed: true, ValidFrom: day(100)}),
		}, p2pMethylamine...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := heads(ofRule(run(t, detect.DefaultPolicy(), tc.entries, time.Time{}), tc.rule))
			if len(got) != tc.want {
				t.Fatalf("%s raised %d flags, want %d:\n%s", tc.rule, len(got), tc.want, mustJSON(t, got))
			}
			for _, f := range got {
				text := f.Explanation
				for _, th := range f.Thresholds {
					text += " " + th.Name + "=" + th.Value
				}
				if !strings.Contains(text, tc.wantText) {
					t.Errorf("flag does not name %q:\n%s", tc.wantText, text)
				}
			}
		})
	}
}

// A fold with reference updates rebuilds to the same bytes, straight or
// resumed from a snapshot taken after the updates.
func TestReferenceUpdatesRebuild(t *testing.T) {
	entries := []entry{
		Ref(0, detect.ReferenceUpdate{Kind: detect.ReferencePENRequirement, Country: "CH", CAS: []string{"TABLE_I"}}),
		Ref(1, detect.ReferenceUpdate{Kind: detect.ReferenceSynthesisSet, SetID: "test", SetName: "test route", Steps: [][]string{{acetone}, {"108-88-3"}}}),
		Ref(2, detect.ReferenceUpdate{Kind: detect.ReferenceReportingThreshold, CAS: []string{acetone}, KG: 50}),
		E(export("S1", 20, chem(acetone, "291411"), qty(20, "KGM"))),
		E(export("S2", 25, chem(acetone, "291411"), qty(20, "KGM"), from(exporterB()))),
		E(export("S3", 30, chem("108-88-3", "290230"), qty(20, "KGM"))),
		E(export("S4", 31, chem(acetone, "291411"), qty(20, "KGM"))),
		E(export("S5", 32)),
	}
	straight := mustJSON(t, run(t, detect.DefaultPolicy(), entries, time.Time{}))
	if again := mustJSON(t, run(t, detect.DefaultPolicy(), entries, time.Time{})); !bytes.Equal(straight, again) {
		t.Fatal("two folds of one log give different flags")
	}
	e := detect.NewEngine(detect.DefaultPolicy())
	s := detect.NewState()
	recs := records(entries)
	var flags []detect.Flag
	for i, r := range recs {
		if i == 4 {
			b, err := e.EncodeState(s)
			if err != nil {
				t.Fatal(err)
			}
			if s, err = e.DecodeState(b); err != nil {
				t.Fatal(err)
			}
		}
		flags = append(flags, e.Apply(s, r)...)
	}
	if resumed := mustJSON(t, flags); !bytes.Equal(straight, resumed) {
		t.Errorf("resumed from a snapshot:\n%s\nstraight:\n%s", resumed, straight)
	}
	for _, id := range []string{"R4", "R11", "R28"} {
		if len(ofRule(flags, id)) == 0 {
			t.Errorf("no %s flag: the updates had no effect", id)
		}
	}
}

func TestValidateReference(t *testing.T) {
	tests := []struct {
		name    string
		u       detect.ReferenceUpdate
		wantErr string
	}{
		{name: "PEN requirement", u: detect.ReferenceUpdate{Kind: detect.ReferencePENRequirement, Country: "CH", CAS: []string{"TABLE_I", acetone}}},
		{name: "PEN requirement withdrawn", u: detect.ReferenceUpdate{Kind: detect.ReferencePENRequirement, Country: "CH", Removed: true}},
		{name: "unknown country", u: detect.ReferenceUpdate{Kind: detect.ReferencePENRequirement, Country: "XX", CAS: []string{"TABLE_I"}}, wantErr: "not an ISO 3166-1"},
		{name: "uncatalogued chemical", u: detect.ReferenceUpdate{Kind: detect.ReferencePENRequirement, Country: "CH", CAS: []string{"50-00-0"}}, wantErr: "not in the chemical catalogue"},
		{name: "no chemicals", u: detect.ReferenceUpdate{Kind: detect.ReferencePENRequirement, Country: "CH"}, wantErr: "at least one chemical"},
		{name: "validity backwards", u: detect.ReferenceUpdate{Kind: detect.ReferenceLicenceRegister, Country: "CH", ValidFrom: day(10), ValidUntil: day(5)}, wantErr: "before valid_from"},
		{name: "set with one step", u: detect.ReferenceUpdate{Kind: detect.ReferenceSynthesisSet, SetID: "x", SetName: "x", Steps: [][]string{{acetone}}}, wantErr: "at least 2 steps"},
		{name: "set listing a chemical twice", u: detect.ReferenceUpdate{Kind: detect.ReferenceSynthesisSet, SetID: "x", SetName: "x", Steps: [][]string{{fourPiperidone}, {fourPipHCl}}}, wantErr: "listed twice"},
		{name: "threshold of two chemicals", u: detect.ReferenceUpdate{Kind: detect.ReferenceReportingThreshold, CAS: []string{acetone, ephedrine}, KG: 5}, wantErr: "exactly one chemical"},
		{name: "negative threshold", u: detect.ReferenceUpdate{Kind: detect.ReferenceReportingThreshold, CAS: []string{acetone}, KG: -1}, wantErr: "plausible"},
		{name: "no kind", u: detect.ReferenceUpdate{}, wantErr: "unknown reference kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := detect.ValidateReference(tc.u)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("ValidateReference(%+v) = %v, want nil", tc.u, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("ValidateReference(%+v) = %v, want an error containing %q", tc.u, err, tc.wantErr)
			}
		})
	}
}

// EffectiveReference answers, per value, what the rules read on a date
// and where it comes from; a registry entry carrying the update as proto
// folds as the decoded update does.
func TestEffectiveReference(t *testing.T) {
	e := detect.NewEngine(detect.DefaultPolicy())
	s := detect.NewState()
	apply := func(i uint64, u *v1.ReferenceUpdate) {
		e.Apply(s, detect.Record{Index: i, Member: "PA-ANA", Registry: &v1.RegistryEntry{Change: &v1.RegistryEntry_ReferenceUpdate{ReferenceUpdate: u}}})
	}
	apply(1, &v1.ReferenceUpdate{Kind: v1.ReferenceUpdate_KIND_PEN_REQUIREMENT, Country: "PA", Cas: []string{acetone}, ValidFrom: ts(day(10)), ValidUntil: ts(day(20))})
	apply(2, &v1.ReferenceUpdate{Kind: v1.ReferenceUpdate_KIND_PEN_REQUIREMENT, Country: "US", Removed: true, ValidFrom: ts(day(15))})
	apply(3, &v1.ReferenceUpdate{Kind: v1.ReferenceUpdate_KIND_LICENCE_REGISTER, Country: "PA", Complete: true})
	apply(4, &v1.ReferenceUpdate{Kind: v1.ReferenceUpdate_KIND_SYNTHESIS_SET, SetId: "methamphetamine-p2p", Removed: true, ValidFrom: ts(day(15))})
	apply(5, &v1.ReferenceUpdate{Kind: v1.ReferenceUpdate_KIND_PEN_REQUIREMENT, Country: "PA", Cas: []string{"50-00-0"}}) // not catalogued: skipped

	pen := func(r detect.EffectiveReference, c string) *detect.PENRequirement {
		for i := range r.PENRequirements {
			if r.PENRequirements[i].Country == c {
				return &r.PENRequirements[i]
			}
		}
		return nil
	}
	hasSet := func(r detect.EffectiveReference, id string) bool {
		for _, set := range r.SynthesisSets {
			if set.ID == id {
				return true
			}
		}
		return false
	}
	srcIndex := func(src detect.ReferenceSource) uint64 {
		if src.Entry == nil {
			return 0
		}
		return src.Entry.Index
	}
	tests := []struct {
		name       string
		day        int
		paIndex    uint64 // 0: PA has no requirement
		usIndex    uint64 // 0: the embedded table's
		usRequired bool
		p2p        bool
		paRegister uint64
	}{
		{name: "before any validity", day: 5, paIndex: 0, usIndex: 0, usRequired: true, p2p: true, paRegister: 3},
		{name: "inside PA's window", day: 12, paIndex: 1, usIndex: 0, usRequired: true, p2p: true, paRegister: 3},
		{name: "US removed, set removed", day: 16, paIndex: 1, usIndex: 2, usRequired: false, p2p: false, paRegister: 3},
		{name: "after PA's window", day: 25, paIndex: 0, usIndex: 2, usRequired: false, p2p: false, paRegister: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.EffectiveReference(s, day(tt.day))
			pa, us := pen(r, "PA"), pen(r, "US")
			if got := uint64(0); pa != nil {
				got = srcIndex(pa.Source)
				if got != tt.paIndex || len(pa.CAS) != 1 || pa.CAS[0] != acetone {
					t.Errorf("PA: %+v, want acetone from entry %d", pa, tt.paIndex)
				}
			} else if tt.paIndex != 0 {
				t.Errorf("PA: none, want entry %d", tt.paIndex)
			}
			if us == nil || srcIndex(us.Source) != tt.usIndex || (len(us.CAS) > 0) != tt.usRequired || tt.usIndex == 0 && us.Source.Table == "" {
				t.Errorf("US: %+v, want entry %d (0: the table), chemicals required %v", us, tt.usIndex, tt.usRequired)
			}
			if hasSet(r, "methamphetamine-p2p") != tt.p2p {
				t.Errorf("methamphetamine-p2p in force: %v, want %v", !tt.p2p, tt.p2p)
			}
			found := false
			for _, lr := range r.LicenceRegisters {
				if lr.Country == "PA" {
					found = lr.Complete && srcIndex(lr.Source) == tt.paRegister
				}
			}
			if !found {
				t.Errorf("PA's register: %+v, want complete from entry %d", r.LicenceRegisters, tt.paRegister)
			}
			if len(r.ReportingThresholds) == 0 {
				t.Error("no reporting thresholds: the policy's are missing")
			}
		})
	}
}
