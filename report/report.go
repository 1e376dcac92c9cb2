// Package report renders the coalition's periodic review from a scorecard:
// a cover with the period, the checkpoint (with whatever cosignatures it
// carries) and the digest of what the report rests on; a page per
// indicator with every member's monthly figures as trend lines and the
// coalition median; a table per member; and the methodology. PDF (fpdf,
// charts by gonum/plot) and HTML (inline SVG charts) carry the same content.
//
// Both are deterministic: the core PDF fonts and gonum's embedded Liberation
// fonts, no time but the checkpoint's, fixed document dates, sorted maps.
// Any member that computes the scorecard from its own copy of the log gets
// the same digest, and the same bytes.
//
// It must not fetch anything or read the clock.
package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/chemledger/chemledger/scorecard"
)

// Review is what a report shows.
type Review struct {
	Period scorecard.Period
	// Checkpoint is the checkpoint note, as signed (cosignatures included).
	Checkpoint string
	// Card holds every month from the start of the period's year to the
	// period's end, so charts show the trend into the period.
	Card *scorecard.Card
	// PolicyVersion is the detection policy the flags were folded under.
	PolicyVersion string
}

// digestInput is exactly what Digest covers, in this order and encoding.
type digestInput struct {
	Format string `json:"format"`
	Period string `json:"period"`
	// CheckpointBody is the signed body of the checkpoint (origin, tree
	// size, root hash): it commits to every input entry. Signature lines
	// are left out, so a cosignature added later does not change it.
	CheckpointBody string                 `json:"checkpoint_body"`
	PolicyVersion  string                 `json:"policy_version"`
	Definitions    []scorecard.Definition `json:"definitions"`
	// Rows are every member's figures of every month in the report.
	Rows []digestRow `json:"rows"`
}

type digestRow struct {
	Member  string         `json:"member"`
	Month   string         `json:"month"`
	Figures []digestFigure `json:"figures"`
}

// digestFigure is a figure as the digest covers it: the entry and flag
// lists are fixed by the checkpoint and the definitions, so their counts
// stand for them (and the API's GetScorecard carries only the counts).
type digestFigure struct {
	ID          string  `json:"id"`
	Value       float64 `json:"value"`
	Defined     bool    `json:"defined"`
	Numerator   float64 `json:"numerator"`
	Denominator float64 `json:"denominator"`
	Entries     int     `json:"entries"`
	Flags       int     `json:"flags"`
}

// DigestFormat names the digest's input layout.
const DigestFormat = "chemledger-review-digest/v1"

// Digest is the hex SHA-256 of the JSON encoding of the report's inputs and
// figures: the format name, the period, the checkpoint body (which commits
// to the log prefix the figures were computed from), the detection policy
// version, the indicator definitions, and every figure of every member and
// month shown, with how many entries and flags each counts.
func (r *Review) Digest() string {
	var rows []digestRow
	for _, row := range r.Card.Rows {
		dr := digestRow{Member: row.Member, Month: row.Month}
		for _, f := range row.Figures {
			dr.Figures = append(dr.Figures, digestFigure{f.ID, f.Value, f.Defined, f.Numerator, f.Denominator, f.EntryCount, f.FlagCount})
		}
		rows = append(rows, dr)
	}
	b, err := json.Marshal(digestInput{DigestFormat, r.Period.Name, noteBody(r.Checkpoint), r.PolicyVersion, r.Card.Definitions, rows})
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func noteBody(n string) string {
	if i := strings.Index(n, "\n\n"); i >= 0 {
		return n[:i+1]
	}
	return n
}

// series is one indicator's values by member and month.
type series struct {
	months  []string
	members []string
	// value[member][i] for months[i]; ok false where undefined.
	value map[string][]float64
	ok    map[string][]bool
}

func (r *Review) series(id string) series {
	s := series{value: map[string][]float64{}, ok: map[string][]bool{}}
	months := map[string]bool{}
	members := map[string]bool{}
	for _, row := range r.Card.Rows {
		months[row.Month] = true
		members[row.Member] = true
	}
	s.months = slices.Sorted(mapKeys(months))
	s.members = slices.Sorted(mapKeys(members))
	for _, m := range s.members {
		s.value[m] = make([]float64, len(s.months))
		s.ok[m] = make([]bool, len(s.months))
	}
	for _, row := range r.Card.Rows {
		i := slices.Index(s.months, row.Month)
		for _, f := range row.Figures {
			if f.ID == id && f.Defined {
				s.value[row.Member][i], s.ok[row.Member][i] = f.Value, true
			}
		}
	}
	return s
}

// median is the coalition median of each month over the members with a
// defined figure (the mean of the middle two for an even count).
func (s series) median() ([]float64, []bool) {
	out, ok := make([]float64, len(s.months)), make([]bool, len(s.months))
	for i := range s.months {
		var xs []float64
		for _, m := range s.members {
			if s.ok[m][i] {
				xs = append(xs, s.value[m][i])
			}
		}
		if len(xs) == 0 {
			continue
		}
		slices.Sort(xs)
		n := len(xs)
		if n%2 == 1 {
			out[i] = xs[n/2]
		} else {
			out[i] = (xs[n/2-1] + xs[n/2]) / 2
		}
		ok[i] = true
	}
	return out, ok
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// format renders a figure for a table.
func format(d scorecard.Definition, f scorecard.Figure) string {
	if !f.Defined {
		return "–"
	}
	switch d.Unit {
	case "share":
		return fmt.Sprintf("%.1f %%", 100*f.Value)
	case "count":
		return fmt.Sprintf("%.0f", f.Value)
	default:
		return fmt.Sprintf("%.1f", f.Value)
	}
}

// Methodology is the methodology text, paragraph by paragraph.
func (r *Review) Methodology() []string {
	return []string{
		"Every figure is computed from the log alone, at the checkpoint on the cover: the entries with an index below its tree size, read in index order, and the flags the detector raises when it folds those same entries (policy " + r.PolicyVersion + "), with the log's own clock. Nothing else goes in: no wall clock, no derived state of any node.",
		"Months are calendar months in UTC of each event's occurred time (a disposition's: its integrated time). A member's shipments are the shipment references whose first event falls in the month and that have an event the member signed. A flag counts for a member when its evidence includes an entry the member signed, in the month it was raised.",
		"Shares are shown with what they count over what; a share of nothing is shown as a dash, not as zero. Medians and percentiles are nearest-rank. The coalition median in each chart is the median over the members with a defined figure that month.",
		"To dispute a figure, recount it from your own copy: chemledger scorecard --member M --month YYYY-MM --indicator ID lists the entries (index and leaf hash) it counts; each can be checked against the checkpoint with an inclusion proof.",
		"The digest on the cover is the SHA-256 of the JSON encoding of: the format name " + DigestFormat + ", the period, the checkpoint's signed body (origin, tree size, root hash — which commits to every input entry), the detection policy version, the indicator definitions, and every figure of every member and month in this report (value, numerator, denominator, and how many entries and flags it counts; which ones is fixed by the checkpoint and the definitions). Signature lines are left out, so cosignatures added later do not change it. Any member regenerating this report from its own copy at the same checkpoint gets the same digest.",
	}
}

// Bytes is a small helper for tests and the CLI: the report as PDF or HTML
// by file extension.
func (r *Review) Bytes(ext string) ([]byte, error) {
	switch ext {
	case ".pdf":
		return r.PDF()
	case ".html", ".htm":
		var b bytes.Buffer
		if err := r.HTML(&b); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("report format %q: want .pdf or .html", ext)
}
