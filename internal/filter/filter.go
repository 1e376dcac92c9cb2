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
//
// It must not run queries; storage and derive apply a parsed filter.
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

// FieldKind is what a field can be compared with.
type FieldKind int

const (
	// Equality fields take "=" and a non-empty value.
	Equality FieldKind = iota
	// Time fields take >=, >, <= or < and an RFC 3339 time, at most one
	// lower and one upper bound.
	Time
)

// Field is a field a filter may name.
type Field struct {
	Name string
	Kind FieldKind
}

// Cond is one comparison of a parsed filter.
type Cond struct {
	Field string
	Op    string
	Value string
	// Time is the value of a Time field's comparison.
	Time time.Time
	// ValuePos is the byte offset of the value, for errors about it.
	ValuePos int
}

// Bounds is a time range in unix nanoseconds, Since inclusive and Until
// exclusive; zero means unbounded.
type Bounds struct{ Since, Until int64 }

// Add narrows b by a Time comparison.
func (b *Bounds) Add(c Cond) {
	n := c.Time.UnixNano()
	switch c.Op {
	case ">=":
		b.Since = n
	case ">":
		b.Since = n + 1
	case "<":
		b.Until = n
	case "<=":
		b.Until = n + 1
	}
}

// Parse parses expr into a storage filter over log entries. kinds resolves
// kind values.
func Parse(expr string, kinds KindName) (storage.Filter, error) {
	conds, err := Conds(expr, EntryFields)
	if err != nil {
		return storage.Filter{}, err
	}
	return fromConds(conds, kinds)
}

// fromConds turns parsed comparisons of EntryFields into a storage filter.
func fromConds(conds []Cond, kinds KindName) (storage.Filter, error) {
	var f storage.Filter
	var b Bounds
	for _, c := range conds {
		switch c.Field {
		case "shipment_ref":
			f.ShipmentRef = c.Value
		case "member":
			f.Member = c.Value
		case "cas":
			f.CAS = c.Value
		case "kind":
			name, ok := kinds(c.Value)
			if !ok {
				return f, &Error{Pos: c.ValuePos, Msg: fmt.Sprintf("%q is not an event kind", c.Value)}
			}
			f.Kind = name
		case "integrated_time":
			b.Add(c)
		}
	}
	f.SinceNano, f.UntilNano = b.Since, b.Until
	return f, nil
}

// EntryFields are the fields of a ListEntries filter.
var EntryFields = []Field{
	{"shipment_ref", Equality}, {"member", Equality}, {"cas", Equality}, {"kind", Equality}, {"integrated_time", Time},
}

// Conds parses expr into comparisons of the given fields: each field
// compared once (a Time field once from below and once from above), with
// an operator its kind takes, and a time range that is not empty.
func Conds(expr string, fields []Field) ([]Cond, error) {
	if len(expr) > MaxLength {
		return nil, &Error{Pos: MaxLength, Msg: fmt.Sprintf("longer than %d bytes", MaxLength)}
	}
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	var conds []Cond
	seen := map[string]bool{}
	bounds := map[string]*Bounds{}
	for i := 0; i < len(toks); {
		if i > 0 {
			if toks[i].kind != tokWord || toks[i].text != "AND" {
				return nil, &Error{Pos: toks[i].pos, Msg: fmt.Sprintf("want AND between comparisons, got %q (OR, NOT and parentheses are not supported)", toks[i].text)}
			}
			i++
		}
		if i+3 > len(toks) {
			pos := len(expr)
			if i < len(toks) {
				pos = toks[i].pos
			}
			return nil, &Error{Pos: pos, Msg: "incomplete comparison: want FIELD OP VALUE"}
		}
		field, op, val := toks[i], toks[i+1], toks[i+2]
		i += 3
		if field.kind != tokWord {
			return nil, &Error{Pos: field.pos, Msg: fmt.Sprintf("want a field name, got %q", field.text)}
		}
		if op.kind != tokOp {
			return nil, &Error{Pos: op.pos, Msg: fmt.Sprintf("want an operator after %s, got %q", field.text, op.text)}
		}
		if val.kind != tokWord && val.kind != tokString {
			return nil, &Error{Pos: val.pos, Msg: fmt.Sprintf("want a value, got %q", val.text)}
		}
		fd, ok := lookup(fields, field.text)
		if !ok {
			return nil, &Error{Pos: field.pos, Msg: fmt.Sprintf("unknown field %q; filter on %s", field.text, names(fields))}
		}
		// A Time field may have one lower and one upper bound.
		key := field.text
		if fd.Kind == Time {
			key += strings.TrimSuffix(op.text, "=")
		}
		if seen[key] {
			return nil, &Error{Pos: field.pos, Msg: fmt.Sprintf("%s is compared twice", field.text)}
		}
		seen[key] = true
		c := Cond{Field: field.text, Op: op.text, Value: val.text, ValuePos: val.pos}
		switch fd.Kind {
		case Equality:
			if op.text != "=" {
				return nil, &Error{Pos: op.pos, Msg: fmt.Sprintf("%s takes only =", field.text)}
			}
			if val.text == "" {
				return nil, &Error{Pos: val.pos, Msg: fmt.Sprintf("%s = \"\" matches nothing; leave it out", field.text)}
			}
		case Time:
			t, err := time.Parse(time.RFC3339Nano, val.text)
			if err != nil {
				return nil, &Error{Pos: val.pos, Msg: fmt.Sprintf("%s wants an RFC 3339 time such as \"2026-03-01T00:00:00Z\": %v", field.text, err)}
			}
			if t.Year() < 1970 || t.Year() > 2200 {
				return nil, &Error{Pos: val.pos, Msg: field.text + " is out of range"}
			}
			switch op.text {
			case ">=", ">", "<", "<=":
			default:
				return nil, &Error{Pos: op.pos, Msg: field.text + " takes >=, >, <= or <"}
			}
			if t.UnixNano() <= 0 {
				return nil, &Error{Pos: val.pos, Msg: field.text + " must be after 1970"}
			}
			c.Time = t
			b := bounds[field.text]
			if b == nil {
				b = &Bounds{}
				bounds[field.text] = b
			}
			b.Add(c)
			if b.Since != 0 && b.Until != 0 && b.Since >= b.Until {
				return nil, &Error{Pos: 0, Msg: fmt.Sprintf("the %s range is empty", field.text)}
			}
		}
		conds = append(conds, c)
	}
	return conds, nil
}

func lookup(fields []Field, name string) (Field, bool) {
	for _, f := range fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// names lists field names for a message: "a, b or c".
func names(fields []Field) string {
	var b strings.Builder
	for i, f := range fields {
		switch {
		case i == 0:
		case i == len(fields)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
	}
	return b.String()
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
