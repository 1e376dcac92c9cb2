package refdata

import "strings"

// ValidCASFormat reports whether cas has the shape of a CAS registry number:
// 2 to 7 digits (no leading zero), a hyphen, 2 digits, a hyphen and 1 check
// digit. It does not check the check digit.
//
// Leading zeros are refused because the catalogue matches numbers as strings:
// "050-00-0" would otherwise pass the check digit and still never match
// "50-00-0".
func ValidCASFormat(cas string) bool {
	first, rest, ok := strings.Cut(cas, "-")
	if !ok {
		return false
	}
	second, check, ok := strings.Cut(rest, "-")
	return ok &&
		len(first) >= 2 && len(first) <= 7 && first[0] != '0' && allDigits(first) &&
		len(second) == 2 && allDigits(second) &&
		len(check) == 1 && allDigits(check)
}

// ValidCASCheckDigit reports whether cas is a well-formed CAS registry number
// (see ValidCASFormat) whose check digit is right: the last digit equals the
// sum of the other digits, each multiplied by its position counted from the
// right starting at 1, modulo 10.
func ValidCASCheckDigit(cas string) bool {
	if !ValidCASFormat(cas) {
		return false
	}
	sum, weight := 0, 1
	// Walk right to left over the digits before the check digit, skipping
	// the hyphens.
	for i := len(cas) - 3; i >= 0; i-- {
		if cas[i] == '-' {
			continue
		}
		sum += int(cas[i]-'0') * weight
		weight++
	}
	return sum%10 == int(cas[len(cas)-1]-'0')
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
