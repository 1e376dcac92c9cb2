// Package badinput is the one error type for input that breaks the API
// contract: a list of field violations, each naming the field path and what
// is wrong with it. Parsers and validators return it; the server's boundary
// translator turns it into INVALID_ARGUMENT with google.rpc.BadRequest
// details (HTTP 400), so every caller sees the same precise answer.
//
// It must not import gRPC: the mapping to a status is the server's.
package badinput

import (
	"errors"
	"fmt"
	"strings"
)

// Violation is one field at fault.
type Violation struct {
	// Field is the path of the field, dot-separated with [i] for repeated
	// fields, for example "event.route[2].locode".
	Field string
	// Description says what is wrong, in words a caller can act on.
	Description string
}

// Error is bad input: one or more violations.
type Error struct {
	Violations []Violation
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// New returns an Error with a single violation.
func New(field, format string, args ...any) *Error {
	return &Error{Violations: []Violation{{Field: field, Description: fmt.Sprintf(format, args...)}}}
}

// List collects violations; its Err is nil when nothing was added, so a
// validator can add as it goes and return list.Err() at the end.
type List struct {
	violations []Violation
}

// Add records a violation of field.
func (l *List) Add(field, format string, args ...any) {
	l.violations = append(l.violations, Violation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Merge adds the violations of err under the path prefix (with a dot), if
// err is an *Error; it reports whether it was.
func (l *List) Merge(prefix string, err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	for _, v := range e.Violations {
		if prefix != "" {
			v.Field = prefix + "." + v.Field
		}
		l.violations = append(l.violations, v)
	}
	return true
}

// Len is the number of violations so far.
func (l *List) Len() int { return len(l.violations) }

// Err returns the collected violations as an *Error, or nil if there are
// none.
func (l *List) Err() error {
	if len(l.violations) == 0 {
		return nil
	}
	return &Error{Violations: append([]Violation(nil), l.violations...)}
}

// Prefix returns err with every field path prefixed (with a dot) when err is
// an *Error, and err unchanged otherwise.
func Prefix(prefix string, err error) error {
	var l List
	if l.Merge(prefix, err) {
		return l.Err()
	}
	return err
}
