package validate

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/internal/badinput"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func steps(s ...[]string) []*v1.ReferenceUpdate_Step {
	var out []*v1.ReferenceUpdate_Step
	for _, cas := range s {
		out = append(out, &v1.ReferenceUpdate_Step{Cas: cas})
	}
	return out
}

// TestReferenceUpdate checks each kind's fields, and that what the server
// accepts the detector applies (detect.ValidateReference agrees), since
// the detector silently skips an update it would refuse.
func TestReferenceUpdate(t *testing.T) {
	const acetone, toluene = "67-64-1", "108-88-3"
	day := func(d int) *timestamppb.Timestamp {
		return timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d))
	}
	pen := v1.ReferenceUpdate_KIND_PEN_REQUIREMENT
	set := v1.ReferenceUpdate_KIND_SYNTHESIS_SET
	thr := v1.ReferenceUpdate_KIND_REPORTING_THRESHOLD
	reg := v1.ReferenceUpdate_KIND_LICENCE_REGISTER
	const f = "registry.reference_update"
	tests := []struct {
		name string
		u    *v1.ReferenceUpdate
		want []string
	}{
		{name: "PEN requirement of a table", u: &v1.ReferenceUpdate{Kind: pen, Country: "CH", Cas: []string{"TABLE_I"}, ValidFrom: day(0), ValidUntil: day(30)}},
		{name: "PEN requirement of chemicals", u: &v1.ReferenceUpdate{Kind: pen, Country: "CH", Cas: []string{acetone, toluene}}},
		{name: "PEN requirement removed", u: &v1.ReferenceUpdate{Kind: pen, Country: "CH", Removed: true}},
		{name: "PEN requirement without chemicals", u: &v1.ReferenceUpdate{Kind: pen, Country: "CH"}, want: []string{f + ".cas"}},
		{name: "PEN requirement of an uncatalogued chemical", u: &v1.ReferenceUpdate{Kind: pen, Country: "CH", Cas: []string{"TABLE_I", "50-00-0"}}, want: []string{f + ".cas[1]"}},
		{name: "PEN requirement without a country", u: &v1.ReferenceUpdate{Kind: pen, Cas: []string{"TABLE_I"}}, want: []string{f + ".country"}},
		{name: "PEN requirement of no country", u: &v1.ReferenceUpdate{Kind: pen, Country: "XX", Cas: []string{"TABLE_I"}}, want: []string{f + ".country"}},
		{name: "validity backwards", u: &v1.ReferenceUpdate{Kind: pen, Country: "CH", Cas: []string{"TABLE_II"}, ValidFrom: day(30), ValidUntil: day(1)}, want: []string{f + ".valid_until"}},
		{name: "validity out of range", u: &v1.ReferenceUpdate{Kind: reg, Country: "CH", ValidFrom: timestamppb.New(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC))}, want: []string{f + ".valid_from"}},
		{name: "no kind", u: &v1.ReferenceUpdate{Country: "CH"}, want: []string{f + ".kind"}},
		{name: "synthesis set", u: &v1.ReferenceUpdate{Kind: set, SetId: "test", SetName: "a test route", Steps: steps([]string{acetone}, []string{toluene})}},
		{name: "synthesis set removed", u: &v1.ReferenceUpdate{Kind: set, SetId: "methamphetamine-p2p", Removed: true}},
		{name: "synthesis set without id or name", u: &v1.ReferenceUpdate{Kind: set, Steps: steps([]string{acetone}, []string{toluene})}, want: []string{f + ".set_id", f + ".set_name"}},
		{name: "synthesis set of one step", u: &v1.ReferenceUpdate{Kind: set, SetId: "x", SetName: "x", Steps: steps([]string{acetone})}, want: []string{f + ".steps"}},
		{name: "synthesis set with an empty step", u: &v1.ReferenceUpdate{Kind: set, SetId: "x", SetName: "x", Steps: steps([]string{acetone}, nil)}, want: []string{f + ".steps[1].cas"}},
		{name: "synthesis set with a chemical twice", u: &v1.ReferenceUpdate{Kind: set, SetId: "x", SetName: "x", Steps: steps([]string{acetone}, []string{toluene, acetone})}, want: []string{f + ".steps[1].cas[1]"}},
		{name: "reporting threshold", u: &v1.ReferenceUpdate{Kind: thr, Cas: []string{acetone}, Kilograms: 50}},
		{name: "reporting threshold of none", u: &v1.ReferenceUpdate{Kind: thr, Cas: []string{acetone}}},
		{name: "reporting threshold of two chemicals", u: &v1.ReferenceUpdate{Kind: thr, Cas: []string{acetone, toluene}, Kilograms: 50}, want: []string{f + ".cas"}},
		{name: "reporting threshold negative", u: &v1.ReferenceUpdate{Kind: thr, Cas: []string{acetone}, Kilograms: -1}, want: []string{f + ".kilograms"}},
		{name: "reporting threshold NaN", u: &v1.ReferenceUpdate{Kind: thr, Cas: []string{acetone}, Kilograms: math.NaN()}, want: []string{f + ".kilograms"}},
		{name: "reporting threshold implausible", u: &v1.ReferenceUpdate{Kind: thr, Cas: []string{acetone}, Kilograms: 2e9}, want: []string{f + ".kilograms"}},
		{name: "licence register complete", u: &v1.ReferenceUpdate{Kind: reg, Country: "CH", Complete: true}},
		{name: "licence register without a country", u: &v1.ReferenceUpdate{Kind: reg, Complete: true}, want: []string{f + ".country"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &v1.RegistryEntry{EntryId: "r-1", EffectiveTime: day(0), Change: &v1.RegistryEntry_ReferenceUpdate{ReferenceUpdate: tt.u}}
			err := RegistryEntry(r)
			var got []string
			var bad *badinput.Error
			if errors.As(err, &bad) {
				for _, v := range bad.Violations {
					got = append(got, v.Field)
				}
			} else if err != nil {
				t.Fatalf("error %v is not a *badinput.Error", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("violations on %v:\n got %q\nwant %q\n(%v)", tt.u, got, tt.want, err)
			}
			// The server may be stricter (time ranges), never laxer.
			if derr := detect.ValidateReference(detect.ReferenceFromProto(tt.u)); err == nil && derr != nil {
				t.Errorf("the server accepts %v but the detector would skip it: %v", tt.u, derr)
			}
		})
	}
}

// FuzzReferenceUpdate feeds arbitrary wire bytes into a reference_update:
// never a panic, violations only under registry.reference_update, and
// nothing accepted that the detector would skip.
func FuzzReferenceUpdate(f *testing.F) {
	seeds := []*v1.ReferenceUpdate{
		{Kind: v1.ReferenceUpdate_KIND_PEN_REQUIREMENT, Country: "CH", Cas: []string{"TABLE_I", "67-64-1"}},
		{Kind: v1.ReferenceUpdate_KIND_SYNTHESIS_SET, SetId: "x", SetName: "x", Steps: steps([]string{"67-64-1"}, []string{"108-88-3"})},
		{Kind: v1.ReferenceUpdate_KIND_REPORTING_THRESHOLD, Cas: []string{"67-64-1"}, Kilograms: 50},
		{Kind: v1.ReferenceUpdate_KIND_LICENCE_REGISTER, Country: "CH", Complete: true, ValidUntil: timestamppb.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))},
		{Kind: 9},
	}
	for _, u := range seeds {
		b, err := proto.Marshal(u)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var u v1.ReferenceUpdate
		if err := proto.Unmarshal(data, &u); err != nil {
			return
		}
		err := RegistryEntry(&v1.RegistryEntry{EntryId: "r-1", EffectiveTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
			Change: &v1.RegistryEntry_ReferenceUpdate{ReferenceUpdate: &u}})
		var bad *badinput.Error
		if errors.As(err, &bad) {
			for _, v := range bad.Violations {
				if !strings.HasPrefix(v.Field, "registry.reference_update.") {
					t.Errorf("violation field %q is not under registry.reference_update", v.Field)
				}
			}
		} else if err != nil {
			t.Fatalf("error %v is not a *badinput.Error", err)
		}
		if derr := detect.ValidateReference(detect.ReferenceFromProto(&u)); err == nil && derr != nil {
			t.Errorf("the server accepts %v but the detector would skip it: %v", &u, derr)
		}
	})
}
