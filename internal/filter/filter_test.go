package filter_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chemledger/chemledger/internal/filter"
	"github.com/chemledger/chemledger/storage"
)

// kinds resolves a kind as the server does: the short name or the full enum
// name, to the short name.
func kinds(s string) (string, bool) {
	for _, k := range []string{"PRE_EXPORT_NOTIFICATION", "PEN_REPLY", "EXPORT_DECLARATION", "TRANSIT", "IMPORT_DECLARATION", "RECEIPT_CONFIRMATION", "INCIDENT"} {
		if s == k || s == "EVENT_KIND_"+k {
			return k, true
		}
	}
	return "", false
}

func ns(tb testing.TB, rfc3339 string) int64 {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UnixNano()
}

func TestParse(t *testing.T) {
	mar1 := ns(t, "2026-03-01T00:00:00Z")
	mar2 := ns(t, "2026-03-02T00:00:00Z")
	for _, tc := range []struct {
		name string
		expr string
		want storage.Filter
	}{
		{name: "empty", expr: "", want: storage.Filter{}},
		{name: "only space", expr: " \t\r\n", want: storage.Filter{}},
		{name: "quoted shipment ref", expr: `shipment_ref = "PEN-CN-2026-000871"`, want: storage.Filter{ShipmentRef: "PEN-CN-2026-000871"}},
		{name: "bare shipment ref", expr: `shipment_ref = PEN-CN-2026-000871`, want: storage.Filter{ShipmentRef: "PEN-CN-2026-000871"}},
		{name: "no spaces", expr: `member="MX-ANAM"AND cas=39742-60-4`, want: storage.Filter{Member: "MX-ANAM", CAS: "39742-60-4"}},
		{name: "every equality field", expr: "shipment_ref = R AND member = M\tAND cas = \"39742-60-4\"\nAND kind = TRANSIT", want: storage.Filter{ShipmentRef: "R", Member: "M", CAS: "39742-60-4", Kind: "TRANSIT"}},
		{name: "short kind", expr: `kind = EXPORT_DECLARATION`, want: storage.Filter{Kind: "EXPORT_DECLARATION"}},
		{name: "full kind", expr: `kind = EVENT_KIND_EXPORT_DECLARATION`, want: storage.Filter{Kind: "EXPORT_DECLARATION"}},
		{name: "quoted kind", expr: `kind = "EVENT_KIND_PEN_REPLY"`, want: storage.Filter{Kind: "PEN_REPLY"}},
		{name: "escaped quotes", expr: `shipment_ref = "say \"hi\""`, want: storage.Filter{ShipmentRef: `say "hi"`}},
		{name: "escaped backslash", expr: `shipment_ref = "a\\b"`, want: storage.Filter{ShipmentRef: `a\b`}},
		{name: "other backslash kept", expr: `shipment_ref = "a\nb"`, want: storage.Filter{ShipmentRef: `a\nb`}},
		{name: "spaces and non-ASCII in a string", expr: `member = "Aduana México"`, want: storage.Filter{Member: "Aduana México"}},
		{name: "bare word with dots, colons and underscores", expr: `member = a.b:c_d`, want: storage.Filter{Member: "a.b:c_d"}},
		{name: "since inclusive", expr: `integrated_time >= "2026-03-01T00:00:00Z"`, want: storage.Filter{SinceNano: mar1}},
		{name: "since exclusive", expr: `integrated_time > "2026-03-01T00:00:00Z"`, want: storage.Filter{SinceNano: mar1 + 1}},
		{name: "until exclusive", expr: `integrated_time < "2026-03-01T00:00:00Z"`, want: storage.Filter{UntilNano: mar1}},
		{name: "until inclusive", expr: `integrated_time <= "2026-03-01T00:00:00Z"`, want: storage.Filter{UntilNano: mar1 + 1}},
		{name: "bare time", expr: `integrated_time >= 2026-03-01T00:00:00Z`, want: storage.Filter{SinceNano: mar1}},
		{name: "fractional seconds", expr: `integrated_time >= "2026-03-01T00:00:00.000000042Z"`, want: storage.Filter{SinceNano: mar1 + 42}},
		{name: "offset", expr: `integrated_time < "2026-03-01T01:00:00+01:00"`, want: storage.Filter{UntilNano: mar1}},
		{name: "range", expr: `integrated_time >= "2026-03-01T00:00:00Z" AND integrated_time < "2026-03-02T00:00:00Z"`, want: storage.Filter{SinceNano: mar1, UntilNano: mar2}},
		{name: "one-nanosecond range", expr: `integrated_time >= "2026-03-01T00:00:00Z" AND integrated_time <= "2026-03-01T00:00:00Z"`, want: storage.Filter{SinceNano: mar1, UntilNano: mar1 + 1}},
		{name: "range and fields", expr: `member = "MX-ANAM" AND integrated_time > 2026-03-01T00:00:00Z AND kind = INCIDENT AND integrated_time <= 2026-03-02T00:00:00Z`, want: storage.Filter{Member: "MX-ANAM", Kind: "INCIDENT", SinceNano: mar1 + 1, UntilNano: mar2 + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := filter.Parse(tc.expr, kinds)
			if err != nil || got != tc.want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v, nil", tc.expr, got, err, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	long := "member = " + strings.Repeat("a", filter.MaxLength)
	for _, tc := range []struct {
		name string
		expr string
		pos  int
	}{
		{name: "unknown field", expr: `color = "red"`, pos: 0},
		{name: "unknown second field", expr: `member = A AND color = red`, pos: 15},
		{name: "OR", expr: `member = "A" OR member = "B"`, pos: 13},
		{name: "lower-case and", expr: `member = A and kind = TRANSIT`, pos: 11},
		{name: "two comparisons without AND", expr: `member = A kind = TRANSIT`, pos: 11},
		{name: "!=", expr: `member != "A"`, pos: 7},
		{name: "NOT", expr: `NOT member = A`, pos: 4},
		{name: "==", expr: `member == A`, pos: 7},
		{name: "has operator", expr: `member : A`, pos: 7},
		{name: "parentheses", expr: `(member = A)`, pos: 0},
		{name: "missing value", expr: `member =`, pos: 0},
		{name: "missing value after AND", expr: `member = A AND kind =`, pos: 15},
		{name: "missing operator and value", expr: `member`, pos: 0},
		{name: "trailing AND", expr: `member = A AND`, pos: 14},
		{name: "operator as value", expr: `member = =`, pos: 9},
		{name: "string as field", expr: `"member" = A`, pos: 0},
		{name: "unterminated string", expr: `member = "MX`, pos: 9},
		{name: "string ending in an escaped quote", expr: `member = "MX\"`, pos: 9},
		{name: "control character in a string", expr: "member = \"M\x01X\"", pos: 11},
		{name: "non-ASCII bare word", expr: `member = México`, pos: 10},
		{name: "duplicate field", expr: `member = A AND member = B`, pos: 15},
		{name: "duplicate kind", expr: `kind = TRANSIT AND kind = INCIDENT`, pos: 19},
		{name: "duplicate lower bound", expr: `integrated_time >= 2026-03-01T00:00:00Z AND integrated_time >= 2026-03-02T00:00:00Z`, pos: 44},
		// A second lower bound spelled with the other operator would silently
		// replace the first instead of narrowing the range.
		{name: "lower bound twice with >= and >", expr: `integrated_time >= 2026-03-02T00:00:00Z AND integrated_time > 2026-03-01T00:00:00Z`, pos: 44},
		{name: "upper bound twice with < and <=", expr: `integrated_time < 2026-03-01T00:00:00Z AND integrated_time <= 2026-03-02T00:00:00Z`, pos: 43},
		{name: "empty range", expr: `integrated_time >= "2026-03-02T00:00:00Z" AND integrated_time < "2026-03-01T00:00:00Z"`, pos: 0},
		{name: "empty range at one instant", expr: `integrated_time >= "2026-03-01T00:00:00Z" AND integrated_time < "2026-03-01T00:00:00Z"`, pos: 0},
		{name: "empty range with > and <=", expr: `integrated_time > "2026-03-01T00:00:00Z" AND integrated_time <= "2026-03-01T00:00:00Z"`, pos: 0},
		{name: "too long", expr: long, pos: filter.MaxLength},
		{name: "kind not a kind", expr: `kind = BANANA`, pos: 7},
		{name: "kind unspecified", expr: `kind = EVENT_KIND_UNSPECIFIED`, pos: 7},
		{name: "empty value", expr: `member = ""`, pos: 9},
		{name: "empty kind", expr: `kind = ""`, pos: 7},
		{name: "equality field with <", expr: `member < "A"`, pos: 7},
		{name: "time with =", expr: `integrated_time = "2026-03-01T00:00:00Z"`, pos: 16},
		{name: "time not RFC 3339", expr: `integrated_time >= "yesterday"`, pos: 19},
		{name: "time without zone", expr: `integrated_time >= "2026-03-01T00:00:00"`, pos: 19},
		{name: "time before 1970", expr: `integrated_time >= "1969-12-31T23:59:59Z"`, pos: 19},
		{name: "time at the epoch", expr: `integrated_time >= "1970-01-01T00:00:00Z"`, pos: 19},
		{name: "time after 2200", expr: `integrated_time < "2201-01-01T00:00:00Z"`, pos: 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := filter.Parse(tc.expr, kinds)
			var fe *filter.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) = %+v, %v; want a *filter.Error at offset %d", tc.expr, got, err, tc.pos)
			}
			if fe.Pos != tc.pos {
				t.Errorf("Parse(%q) = %v; want the error at offset %d", tc.expr, err, tc.pos)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		`shipment_ref = "PEN-CN-2026-000871" AND kind = EXPORT_DECLARATION`,
		`member = "MX-ANAM" AND integrated_time >= "2026-03-01T00:00:00Z"`,
		`integrated_time > 2026-03-01T00:00:00Z AND integrated_time <= 2026-03-02T00:00:00.5+01:00`,
		`shipment_ref = "say \"hi\" \\"`,
		`member != "A" OR (kind = X)`,
		`member = "unterminated`,
		`kind = EVENT_KIND_TRANSIT AND cas = 39742-60-4`,
		"member = \"\x00\"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		got, err := filter.Parse(expr, kinds)
		if err != nil {
			var fe *filter.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q) = %v, want a *filter.Error", expr, err)
			}
			if fe.Pos < 0 || fe.Pos > len(expr) {
				t.Fatalf("Parse(%q) = %v: offset outside the expression", expr, err)
			}
			return
		}
		if got.SinceNano < 0 || got.UntilNano < 0 || (got.SinceNano != 0 && got.UntilNano != 0 && got.SinceNano >= got.UntilNano) {
			t.Fatalf("Parse(%q) = %+v: an empty or negative time range was accepted", expr, got)
		}
		if got.Kind != "" {
			if _, ok := kinds(got.Kind); !ok {
				t.Fatalf("Parse(%q) = %+v: kind not resolved", expr, got)
			}
		}
	})
}
