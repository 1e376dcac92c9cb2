package refdata_test

import (
	"testing"

	"github.com/chemledger/chemledger/internal/refdata"
)

func TestIsCountry(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"US", true}, {"MX", true}, {"CN", true}, {"IN", true}, {"NL", true}, {"DE", true},
		{"BE", true}, {"PA", true}, {"AE", true}, {"HK", true}, {"SG", true}, {"CA", true},
		{"GB", true}, {"FR", true}, {"SS", true}, {"CW", true}, {"AX", true}, {"TW", true},
		// User-assigned.
		{"XX", false}, {"ZZ", false}, {"AA", false}, {"QM", false}, {"QZ", false}, {"XA", false},
		{"XK", false}, {"XI", false},
		// Reserved, deleted or never assigned.
		{"UK", false}, {"EU", false}, {"SU", false}, {"YU", false}, {"AN", false}, {"UN", false},
		// Shape.
		{"us", false}, {"Us", false}, {"USA", false}, {"U", false}, {"", false}, {" US", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := refdata.IsCountry(tt.code); got != tt.want {
				t.Errorf("IsCountry(%q) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}
