package eventfile

import (
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
