package detect

import (
	"math"
	"strconv"
	"strings"
	"time"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// render fills a rule's explanation template. vars are name, value pairs;
// every {name} in the template is replaced. Placeholders without a value
// stay visible, and a test over every rule's cases checks none is left.
func render(template string, vars []string) string {
	pairs := make([]string, 0, len(vars))
	for i := 0; i+1 < len(vars); i += 2 {
		pairs = append(pairs, "{"+vars[i]+"}", vars[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(template)
}

// num formats a figure for an explanation: at most three decimals, no
// trailing zeros, no exponent.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// pct formats a percentage with at most two decimals.
func pct(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// day formats a time as an ISO date (UTC), the precision explanations need.
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// idx formats a log index.
func idx(i uint64) string { return strconv.FormatUint(i, 10) }

// kindText names an event kind in a sentence.
func kindText(k chemledgerv1.EventKind) string {
	switch k {
	case chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION:
		return "pre-export notification"
	case chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY:
		return "PEN reply"
	case chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION:
		return "export declaration"
	case chemledgerv1.EventKind_EVENT_KIND_TRANSIT:
		return "transit report"
	case chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION:
		return "import declaration"
	case chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
		return "receipt confirmation"
	case chemledgerv1.EventKind_EVENT_KIND_INCIDENT:
		return "incident report"
	}
	return "event"
}

// partyText names a party for an explanation: its name as declared, or
// "an unnamed party".
func partyText(p *Party) string {
	if p.Name == "" {
		return "an unnamed party"
	}
	return p.Name
}

// countryText is a country code or "an undeclared country".
func countryText(c string) string {
	if c == "" {
		return "an undeclared country"
	}
	return c
}
