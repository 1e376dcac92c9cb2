package refdata

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// IsCountry reports whether code is an officially assigned ISO 3166-1
// alpha-2 code, in upper case. User-assigned codes (XX, ZZ, QM–QZ, XA–XZ,
// AA) and reserved ones (UK, EU, SU) are not countries.
func IsCountry(code string) bool {
	return load().countries[code]
}

// parseCountries reads lines of "CODE<TAB>name"; lines starting with # are
// comments, one of which must be "# version: <Version>".
func parseCountries(b []byte) (map[string]bool, error) {
	out := make(map[string]bool)
	version := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "# version: "); ok {
			version = v
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		code, name, ok := strings.Cut(line, "\t")
		if !ok || name == "" || len(code) != 2 || !isUpper(code[0]) || !isUpper(code[1]) {
			return nil, fmt.Errorf("line %d: %q is not CODE<TAB>name", n, line)
		}
		if out[code] {
			return nil, fmt.Errorf("line %d: duplicate code %s", n, code)
		}
		out[code] = true
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if version != Version {
		return nil, fmt.Errorf("version %q, want %q", version, Version)
	}
	return out, nil
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
