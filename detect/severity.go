package detect

import "fmt"

// Severity ranks flags for an analyst's queue, after the scoring in
// reference/domain.md §9: critical is a hard stop, high and medium are
// weighed, info only adds context.
type Severity int

// The severities, in increasing order, so flags sort by comparing them.
const (
	SeverityInfo Severity = iota + 1
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = map[Severity]string{
	SeverityInfo:     "info",
	SeverityMedium:   "medium",
	SeverityHigh:     "high",
	SeverityCritical: "critical",
}

// String returns the lower-case name: "info", "medium", "high", "critical".
func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// MarshalText writes the name, so encoded flags read "critical", not 4.
func (s Severity) MarshalText() ([]byte, error) {
	if _, ok := severityNames[s]; !ok {
		return nil, fmt.Errorf("severity %d has no name", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads a name written by MarshalText.
func (s *Severity) UnmarshalText(b []byte) error {
	for k, n := range severityNames {
		if n == string(b) {
			*s = k
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", b)
}
