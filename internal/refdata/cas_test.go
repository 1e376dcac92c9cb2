package refdata_test

import (
	"regexp"
	"testing"

	"github.com/chemledger/chemledger/internal/refdata"
)

func TestValidCASCheckDigit(t *testing.T) {
	tests := []struct {
		name string
		cas  string
		want bool
	}{
		{name: "NPP", cas: "39742-60-4", want: true},
		{name: "NPP wrong check digit", cas: "39742-60-5", want: false},
		{name: "formaldehyde, shortest first part", cas: "50-00-0", want: true},
		{name: "water", cas: "7732-18-5", want: true},
		{name: "longest first part", cas: "2167189-50-4", want: true},
		{name: "norfentanyl", cas: "1609-66-1", want: true},
		{name: "norfentanyl as mis-stated by a third party", cas: "1609-66-5", want: false},
		{name: "well formed, wrong check digit", cas: "123-45-6", want: false},
		{name: "well formed, right check digit", cas: "123-45-5", want: true},
		{name: "first part one digit", cas: "1-23-4", want: false},
		{name: "first part one digit, check digit right", cas: "1-23-0", want: false},
		{name: "first part eight digits", cas: "12345678-90-1", want: false},
		{name: "leading zero", cas: "050-00-0", want: false},
		{name: "second part one digit", cas: "7732-1-5", want: false},
		{name: "second part three digits", cas: "7732-180-5", want: false},
		{name: "check part two digits", cas: "7732-18-55", want: false},
		{name: "letters", cas: "77A2-18-5", want: false},
		{name: "letter check digit", cas: "7732-18-X", want: false},
		{name: "leading space", cas: " 7732-18-5", want: false},
		{name: "trailing space", cas: "7732-18-5 ", want: false},
		{name: "inner space", cas: "7732 -18-5", want: false},
		{name: "no hyphens", cas: "7732185", want: false},
		{name: "extra hyphen", cas: "7732-18-5-", want: false},
		{name: "en dash", cas: "7732–18–5", want: false},
		{name: "full-width digits", cas: "７７３２-18-5", want: false},
		{name: "empty", cas: "", want: false},
		{name: "hyphens only", cas: "--", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refdata.ValidCASCheckDigit(tt.cas); got != tt.want {
				t.Errorf("ValidCASCheckDigit(%q) = %v, want %v", tt.cas, got, tt.want)
			}
		})
	}
}

func TestValidCASFormat(t *testing.T) {
	tests := []struct {
		name string
		cas  string
		want bool
	}{
		{name: "wrong check digit is still well formed", cas: "39742-60-5", want: true},
		{name: "good", cas: "50-00-0", want: true},
		{name: "first part one digit", cas: "1-23-4", want: false},
		{name: "letters", cas: "AB-CD-E", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refdata.ValidCASFormat(tt.cas); got != tt.want {
				t.Errorf("ValidCASFormat(%q) = %v, want %v", tt.cas, got, tt.want)
			}
		})
	}
}

// casOracle is a second, deliberately different implementation of the check
// for the fuzz target to compare against.
var casPattern = regexp.MustCompile(`^([1-9][0-9]{1,6})-([0-9]{2})-([0-9])$`)

func casOracle(cas string) bool {
	m := casPattern.FindStringSubmatch(cas)
	if m == nil {
		return false
	}
	digits := m[1] + m[2]
	sum := 0
	for i := range digits {
		sum += int(digits[i]-'0') * (len(digits) - i)
	}
	return sum%10 == int(m[3][0]-'0')
}

func FuzzCAS(f *testing.F) {
	for _, s := range []string{"39742-60-4", "39742-60-5", "50-00-0", "7732-18-5", "1-23-4", "", "2167189-50-4", "050-00-0", "a-b-c", "1--1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cas string) {
		got := refdata.ValidCASCheckDigit(cas)
		if want := casOracle(cas); got != want {
			t.Fatalf("ValidCASCheckDigit(%q) = %v, oracle says %v", cas, got, want)
		}
		if got && !refdata.ValidCASFormat(cas) {
			t.Fatalf("ValidCASCheckDigit(%q) = true but ValidCASFormat = false", cas)
		}
	})
}
