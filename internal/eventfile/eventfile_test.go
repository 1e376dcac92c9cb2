package eventfile

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

func TestRead(t *testing.T) {
	in := strings.Join([]string{
		`{"eventId":"E-1","locationCountry":"MX"}`,
		``,
		`   {"eventId":"E-2","locationCountry":"US"}   `,
		`{"eventId":"E-3","bogus":true}`,
		`not json`,
	}, "\n")
	var got []Line
	for l := range Read(strings.NewReader(in)) {
		got = append(got, l)
	}
	want := []struct {
		number int
		raw    string
		ok     bool
	}{
		{1, `{"eventId":"E-1","locationCountry":"MX"}`, true},
		{3, `{"eventId":"E-2","locationCountry":"US"}`, true},
		{4, `{"eventId":"E-3","bogus":true}`, false},
		{5, `not json`, false},
	}
	if len(got) != len(want) {
		t.Fatalf("Read yielded %d lines, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Number != w.number || string(g.Raw) != w.raw || (g.Err == nil) != w.ok {
			t.Errorf("line %d = {%d %q err=%v}, want {%d %q ok=%v}", i, g.Number, g.Raw, g.Err, w.number, w.raw, w.ok)
		}
		if !w.ok && !strings.Contains(g.Err.Error(), "line ") {
			t.Errorf("line %d error %q does not name the line", i, g.Err)
		}
	}
}

func TestSubmissionID(t *testing.T) {
	tests := []struct {
		name, eventID, want string
	}{
		{"event id used", "CN-GACC-EXP-2026-004512", "CN-GACC:CN-GACC-EXP-2026-004512"},
		{"space falls back to the line hash", "EXP 1", "CN-GACC:sha256-"},
		{"empty falls back to the line hash", "", "CN-GACC:sha256-"},
		{"too long falls back to the line hash", strings.Repeat("x", 130), "CN-GACC:sha256-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := Line{Raw: []byte(`{"eventId":"` + tc.eventID + `"}`), Event: &chemledgerv1.ShipmentEvent{EventId: tc.eventID}}
			got := SubmissionID("CN-GACC", l)
			if !strings.HasPrefix(got, tc.want) || len(got) > 128 {
				t.Fatalf("SubmissionID(%q) = %q, want prefix %q and at most 128 bytes", tc.eventID, got, tc.want)
			}
			if again := SubmissionID("CN-GACC", l); again != got {
				t.Fatalf("not stable: %q then %q", got, again)
			}
		})
	}
}

func TestDemoMemberFor(t *testing.T) {
	if m, err := DemoMemberFor(&chemledgerv1.ShipmentEvent{LocationCountry: "PA"}); err != nil || m != "PA-ANA" {
		t.Fatalf("DemoMemberFor(PA) = %q, %v; want PA-ANA", m, err)
	}
	if _, err := DemoMemberFor(&chemledgerv1.ShipmentEvent{LocationCountry: "FR"}); err == nil {
		t.Fatal("DemoMemberFor(FR) found a member; the demo has none in France")
	}
}

func TestReadRegistry(t *testing.T) {
	in := strings.Join([]string{
		`{"entryId":"R-1","licence":{"number":"L-1","issuingCountry":"US"}}`,
		`   `,
		`{"entryId":"R-2","annualRequirement":{"country":"MX","cas":"90-82-4"}}`,
		`{"eventId":"E-1","locationCountry":"MX"}`, // an event is not a registry entry
		`{"entryId":"R-3","licence":{},"watchListEntry":{}}`,
	}, "\n")
	var got []RegistryLine
	for l := range ReadRegistry(strings.NewReader(in)) {
		got = append(got, l)
	}
	want := []struct {
		number int
		id     string // "" when the line does not parse
	}{
		{1, "R-1"},
		{3, "R-2"},
		{4, ""},
		{5, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("ReadRegistry yielded %d lines, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Number != w.number || g.Entry.GetEntryId() != w.id || (g.Err == nil) != (w.id != "") || (g.Entry == nil) == (g.Err == nil) {
			t.Errorf("line %d = {%d %q entry=%v err=%v}, want {%d entry %q}", i, g.Number, g.Raw, g.Entry, g.Err, w.number, w.id)
		}
		if g.Err != nil && !strings.Contains(g.Err.Error(), "line ") {
			t.Errorf("line %d error %q does not name the line", i, g.Err)
		}
	}
}

func TestReadLineTooLong(t *testing.T) {
	in := `{"entryId":"R-1"}` + "\n" + strings.Repeat("x", MaxLineBytes+2) + "\n"
	var got []RegistryLine
	for l := range ReadRegistry(strings.NewReader(in)) {
		got = append(got, l)
	}
	if len(got) != 2 || got[0].Err != nil || got[1].Number != 0 || got[1].Err == nil || !strings.Contains(got[1].Err.Error(), "after line 1") {
		t.Fatalf("ReadRegistry of an over-long line 2 = %+v, want line 1, then a read error after line 1", got)
	}
}

func TestRegistrySubmissionID(t *testing.T) {
	tests := []struct {
		name, entryID, want string
	}{
		{"entry id used", "MX-ANAM-REG-2026-000001", "MX-ANAM:MX-ANAM-REG-2026-000001"},
		{"slash falls back to the line hash", "LIC/1", "MX-ANAM:sha256-"},
		{"empty falls back to the line hash", "", "MX-ANAM:sha256-"},
		{"too long falls back to the line hash", strings.Repeat("x", 130), "MX-ANAM:sha256-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := RegistryLine{Raw: []byte(`{"entryId":"` + tc.entryID + `"}`), Entry: &chemledgerv1.RegistryEntry{EntryId: tc.entryID}}
			got := RegistrySubmissionID("MX-ANAM", l)
			if !strings.HasPrefix(got, tc.want) || len(got) > 128 {
				t.Fatalf("RegistrySubmissionID(%q) = %q, want prefix %q and at most 128 bytes", tc.entryID, got, tc.want)
			}
			if again := RegistrySubmissionID("MX-ANAM", l); again != got {
				t.Fatalf("not stable: %q then %q", got, again)
			}
		})
	}
}

func TestDemoMemberForRegistry(t *testing.T) {
	tests := []struct {
		name  string
		entry *chemledgerv1.RegistryEntry
		want  string // "" for an error
	}{
		{"licence: the issuing country", &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_Licence{
			Licence: &chemledgerv1.Licence{IssuingCountry: "US", Holder: &chemledgerv1.Party{Country: "MX"}}}}, "US-CBP"},
		{"annual requirement: its country", &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_AnnualRequirement{
			AnnualRequirement: &chemledgerv1.AnnualRequirement{Country: "MX"}}}, "MX-ANAM"},
		{"watch list: the party's country", &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_WatchListEntry{
			WatchListEntry: &chemledgerv1.WatchListEntry{Party: &chemledgerv1.Party{Country: "PA"}}}}, "PA-ANA"},
		{"watch list without a country", &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_WatchListEntry{
			WatchListEntry: &chemledgerv1.WatchListEntry{Party: &chemledgerv1.Party{Name: "X"}}}}, ""},
		{"licence from a country without a demo member", &chemledgerv1.RegistryEntry{Change: &chemledgerv1.RegistryEntry_Licence{
			Licence: &chemledgerv1.Licence{IssuingCountry: "FR"}}}, ""},
		{"no change", &chemledgerv1.RegistryEntry{EntryId: "R-1"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DemoMemberForRegistry(tc.entry)
			if got != tc.want || (err == nil) != (tc.want != "") {
				t.Fatalf("DemoMemberForRegistry(%v) = %q, %v; want %q", tc.entry, got, err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), "registry.") {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}
}

// FuzzRead checks that any input reads without panicking, every line either
// parsed or refused, the same whichever kind of entry is asked for.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"eventId":"E-1","locationCountry":"MX"}` + "\n\n" + `{"entryId":"R-1","licence":{}}`))
	f.Add([]byte("not json\r\n{"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, in []byte) {
		var events, entries []int
		for l := range Read(bytes.NewReader(in)) {
			if (l.Event == nil) == (l.Err == nil) {
				t.Fatalf("event line %d: event %v, err %v: want exactly one", l.Number, l.Event, l.Err)
			}
			events = append(events, l.Number)
		}
		for l := range ReadRegistry(bytes.NewReader(in)) {
			if (l.Entry == nil) == (l.Err == nil) {
				t.Fatalf("registry line %d: entry %v, err %v: want exactly one", l.Number, l.Entry, l.Err)
			}
			entries = append(entries, l.Number)
		}
		if !slices.Equal(events, entries) {
			t.Fatalf("Read saw lines %v, ReadRegistry %v", events, entries)
		}
	})
}
