// Package filter parses the list filter of ListEntries: a small subset of
// AIP-160. A filter is comparisons joined by AND:
//
//	shipment_ref = "PEN-CN-2026-000871" AND kind = EXPORT_DECLARATION
//	member = "MX-ANAM" AND integrated_time >= "2026-03-01T00:00:00Z"
//
// Fields shipment_ref, member, cas and kind take "="; integrated_time takes
// >=, >, <= and < with an RFC 3339 timestamp. Values are quoted strings, or
// bare words of letters, digits and -_.: (enum names). Anything else is
// refused with a message that says where and why, rather than guessed at.
package filter

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chemledger/chemledger/storage"
)

// MaxLength bounds a filter expression.
const MaxLength = 1024

// Error is a filter that cannot be parsed; Pos is the byte offset of the
// problem.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("filter: at offset %d: %s", e.Pos, e.Msg) }

// KindName maps a kind spelled in a filter (EXPORT_DECLARATION, or the full
// EVENT_KIND_EXPORT_DECLARATION) to the stored kind name, or reports false.
type KindName func(s string) (string, bool)

// Parse parses expr into a storage filter. kinds resolves kind values.
func Parse(expr string, kinds KindName) (storage.Filter, error) {
	var f storage.Filter
	if len(expr) > MaxLength {
		return f, &Error{Pos: MaxLength, Msg: fmt.Sprintf("longer than %d bytes", MaxLength)}
	}
	toks, err := lex(expr)
	if err != nil {
		return f, err
	}
	seen := map[string]bool{}
	for i := 0; i < len(toks); {
		if i > 0 {
			if toks[i].kind != tokWord || toks[i].text != "AND" {
				return f, &Error{Pos: toks[i].pos, Msg: fmt.Sprintf("want AND between comparisons, got %q (OR, NOT and parentheses are not supported)", toks[i].text)}
			}
			i++
		}
		if i+3 > len(toks) {
			pos := len(expr)
			if i < len(toks) {
				pos = toks[i].pos
			}
			return f, &Error{Pos: pos, Msg: "incomplete comparison: want FIELD OP VALUE"}
		}
		field, op, val := toks[i], toks[i+1], toks[i+2]
		i += 3
		if field.kind != tokWord {
			return f, &Error{Pos: field.pos, Msg: fmt.Sprintf("want a field name, got %q", field.text)}
		}
		if op.kind != tokOp {
			return f, &Error{Pos: op.pos, Msg: fmt.Sprintf("want an operator after %s, got %q", field.text, op.text)}
		}
		if val.kind != tokWord && val.kind != tokString {
			return f, &Error{Pos: val.pos, Msg: fmt.Sprintf("want a value, got %q", val.text)}
		}
		// integrated_time may have one lower and one upper bound.
		key := field.text
		if field.text == "integrated_time" {
			key += strings.TrimSuffix(op.text, "=")
		}
		if seen[key] {
			return f, &Error{Pos: field.pos, Msg: fmt.Sprintf("%s is compared twice", field.text)}
		}
		seen[key] = true
		if err := apply(&f, field, op, val, kinds); err != nil {
			return f, err
		}
	}
	if f.SinceNano != 0 && f.UntilNano != 0 && f.SinceNano >= f.UntilNano {
		return f, &Error{Pos: 0, Msg: "the integrated_time range is empty"}
	}
	return f, nil
}

func apply(f *storage.Filter, field, op, val token, kinds KindName) error {
	eqOnly := func(dst *string) error {
		if op.text != "=" {
			return &Error{Pos: op.pos, Msg: fmt.Sprintf("%s takes only =", field.text)}
		}
		if val.text == "" {
			return &Error{Pos: val.pos, Msg: fmt.Sprintf("%s = \"\" matches nothing; leave it out", field.text)}
		}
		*dst = val.text
		return nil
	}
	switch field.text {
	case "shipment_ref":
		return eqOnly(&f.ShipmentRef)
	case "member":
		return eqOnly(&f.Member)
	case "cas":
		return eqOnly(&f.CAS)
	case "kind":
		var k string
		if err := eqOnly(&k); err != nil {
			return err
		}
		name, ok := kinds(k)
		if !ok {
			return &Error{Pos: val.pos, Msg: fmt.Sprintf("%q is not an event kind", k)}
		}
		f.Kind = name
		return nil
	case "integrated_time":
		t, err := time.Parse(time.RFC3339Nano, val.text)
		if err != nil {
			return &Error{Pos: val.pos, Msg: fmt.Sprintf("integrated_time wants an RFC 3339 time such as \"2026-03-01T00:00:00Z\": %v", err)}
		}
		if t.Year() < 1970 || t.Year() > 2200 {
			return &Error{Pos: val.pos, Msg: "integrated_time is out of range"}
		}
		n := t.UnixNano()
		switch op.text {
		case ">=":
			f.SinceNano = n
		case ">":
			f.SinceNano = n + 1
		case "<":
			f.UntilNano = n
		case "<=":
			f.UntilNano = n + 1
		default:
			return &Error{Pos: op.pos, Msg: "integrated_time takes >=, >, <= or <"}
		}
		if n <= 0 {
			return &Error{Pos: val.pos, Msg: "integrated_time must be after 1970"}
		}
		return nil
	default:
		return &Error{Pos: field.pos, Msg: fmt.Sprintf("unknown field %q; filter on shipment_ref, member, cas, kind or integrated_time", field.text)}
	}
}

type tokKind int

const (
	tokWord tokKind = iota
	tokString
	tokOp
	tokOther
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func isWordRune(r rune) bool {
	return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.:", r))
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
					j++
				} else if s[j] < 0x20 {
					return nil, &Error{Pos: j, Msg: "control character in a string"}
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, &Error{Pos: i, Msg: "unterminated string"}
			}
			toks = append(toks, token{tokString, b.String(), i})
			i = j + 1
		case c == '=' || c == '<' || c == '>' || c == '!' || c == ':':
			op := string(c)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			}
			if op == "!" || op == "!=" || op == ":" || op == "==" {
				return nil, &Error{Pos: i, Msg: fmt.Sprintf("operator %q is not supported; use =, >=, >, <= or <", op)}
			}
			toks = append(toks, token{tokOp, op, i})
			i += len(op)
		case isWordRune(rune(c)):
			j := i
			for j < len(s) && isWordRune(rune(s[j])) {
				j++
			}
			toks = append(toks, token{tokWord, s[i:j], i})
			i = j
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, &Error{Pos: i, Msg: fmt.Sprintf("unexpected character %q", r)}
		}
	}
	return toks, nil
}
