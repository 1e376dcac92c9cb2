package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// textWidth is where wrapped text breaks.
const textWidth = 78

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// printJSON prints m as one line of proto3 JSON.
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func severityName(s chemledgerv1.Severity) string {
	return strings.TrimPrefix(s.String(), "SEVERITY_")
}

func statusName(s chemledgerv1.FlagStatus) string {
	return strings.TrimPrefix(s.String(), "FLAG_STATUS_")
}

func kindName(k chemledgerv1.EventKind) string {
	return strings.TrimPrefix(k.String(), "EVENT_KIND_")
}

// orDash shows an empty field as "-", so table columns stay aligned and
// "none" reads as none.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func date(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format(time.DateOnly)
}

func timestamp(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

// firstLine is the first line of text, cut at a word to at most width
// characters with an ellipsis, for a table cell.
func firstLine(text string, width int) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	if utf8.RuneCountInString(line) <= width {
		return line
	}
	cut := line[:len(string([]rune(line)[:width-1]))]
	if i := strings.LastIndexByte(cut, ' '); i > 0 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:") + "…"
}

// wrap breaks text into lines of at most width characters (longer words
// stay whole), each starting with indent.
func wrap(text string, width int, indent string) string {
	var b strings.Builder
	col := 0
	for _, w := range strings.Fields(text) {
		n := utf8.RuneCountInString(w)
		switch {
		case col == 0:
			b.WriteString(indent)
			col = utf8.RuneCountInString(indent)
		case col+1+n > width:
			b.WriteString("\n")
			b.WriteString(indent)
			col = utf8.RuneCountInString(indent)
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
	}
	return b.String()
}

// printFlagTable prints flags one a line: severity, rule, id, shipment,
// status and the start of the explanation.
func printFlagTable(w io.Writer, flags []*chemledgerv1.Flag) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "SEVERITY\tRULE\tID\tSHIPMENT\tSTATUS\tEXPLANATION")
	for _, f := range flags {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", severityName(f.GetSeverity()), f.GetRuleId(), f.GetId(),
			orDash(f.GetShipmentRef()), statusName(f.GetStatus()), firstLine(f.GetExplanation(), 72))
	}
	return tw.Flush()
}
