package derive

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/internal/badinput"
	"github.com/chemledger/chemledger/internal/filter"
)

// FlagFields are the fields of a ListFlags filter.
var FlagFields = []filter.Field{
	{Name: "rule_id", Kind: filter.Equality}, {Name: "severity", Kind: filter.Equality},
	{Name: "status", Kind: filter.Equality}, {Name: "country", Kind: filter.Equality},
	{Name: "cas", Kind: filter.Equality}, {Name: "shipment_ref", Kind: filter.Equality},
	{Name: "raised_time", Kind: filter.Time},
}

// Orders of ListFlags.
const (
	OrderNewest      = "raised_time desc"
	OrderMostSevere  = "severity desc"
	DefaultPageSize  = 50
	MaxPageSize      = 1000
	pageTokenVersion = 1
)

// Query selects flags.
type Query struct {
	Filter    string
	OrderBy   string
	PageSize  int
	PageToken string
}

// ErrBadPageToken means a page token was not issued for this query.
var ErrBadPageToken = errors.New("invalid page token")

// matcher is a parsed flag filter: the equality fields that index
// postings, then severity and status, then the time bounds.
type matcher struct {
	eq       map[string]string // rule_id, country, cas, shipment_ref
	severity detect.Severity   // 0: any
	status   string            // "": any
	bounds   filter.Bounds
}

func parseFlagFilter(expr string) (matcher, error) {
	m := matcher{eq: map[string]string{}}
	conds, err := filter.Conds(expr, FlagFields)
	if err != nil {
		return m, err
	}
	for _, c := range conds {
		switch c.Field {
		case "raised_time":
			m.bounds.Add(c)
		case "severity":
			var s detect.Severity
			if err := s.UnmarshalText([]byte(strings.ToLower(strings.TrimPrefix(c.Value, "SEVERITY_")))); err != nil {
				return m, &filter.Error{Pos: c.ValuePos, Msg: fmt.Sprintf("%q is not a severity (INFO, MEDIUM, HIGH or CRITICAL)", c.Value)}
			}
			m.severity = s
		case "status":
			v := strings.TrimPrefix(c.Value, "FLAG_STATUS_")
			switch v {
			case StatusOpen, StatusConfirmed, StatusDismissed, StatusEscalated:
			default:
				return m, &filter.Error{Pos: c.ValuePos, Msg: fmt.Sprintf("%q is not a status (OPEN, CONFIRMED, DISMISSED or ESCALATED)", c.Value)}
			}
			m.status = v
		default:
			m.eq[c.Field] = c.Value
		}
	}
	return m, nil
}

func (m matcher) match(f *Flag) bool {
	if m.severity != 0 && f.Severity != m.severity || m.status != "" && f.Status() != m.status {
		return false
	}
	for k, v := range m.eq {
		var ok bool
		switch k {
		case "rule_id":
			ok = f.RuleID == v
		case "country":
			ok = slices.Contains(f.Countries, v)
		case "cas":
			ok = f.CAS == v
		case "shipment_ref":
			ok = f.ShipmentRef == v
		}
		if !ok {
			return false
		}
	}
	n := f.RaisedAt.UnixNano()
	return (m.bounds.Since == 0 || n >= m.bounds.Since) && (m.bounds.Until == 0 || n < m.bounds.Until)
}

// compareFlags orders flags for a listing; the id breaks ties so the order
// is total and paging is stable.
func compareFlags(order string) func(a, b *Flag) int {
	newest := func(a, b *Flag) int {
		if c := b.RaisedAt.Compare(a.RaisedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	}
	if order == OrderMostSevere {
		return func(a, b *Flag) int {
			if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
				return c
			}
			return newest(a, b)
		}
	}
	return newest
}

// pageToken marks where a page ended: the last flag's sort key, for the
// query it was issued for.
type pageToken struct {
	V        int       `json:"v"`
	Query    string    `json:"q"`
	Severity int       `json:"s"`
	Raised   time.Time `json:"t"`
	ID       string    `json:"i"`
}

func (t pageToken) encode() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func queryDigest(q Query, order string) string {
	sum := sha256.Sum256([]byte(order + "\x00" + q.Filter))
	return base64.RawURLEncoding.EncodeToString(sum[:8])
}

// ListFlags returns one page of flags matching q, and the next page's
// token ("" on the last page).
func (d *Deriver) ListFlags(q Query) ([]Flag, string, error) {
	m, err := parseFlagFilter(q.Filter)
	if err != nil {
		return nil, "", err
	}
	order := q.OrderBy
	switch strings.Join(strings.Fields(order), " ") {
	case "", OrderNewest:
		order = OrderNewest
	case OrderMostSevere:
		order = OrderMostSevere
	default:
		return nil, "", badinput.New("order_by", "%q is not an order; use %q or %q", q.OrderBy, OrderNewest, OrderMostSevere)
	}
	size := q.PageSize
	switch {
	case size < 0:
		return nil, "", badinput.New("page_size", "must not be negative")
	case size == 0:
		size = DefaultPageSize
	case size > MaxPageSize:
		size = MaxPageSize
	}
	digest := queryDigest(q, order)
	var after *Flag
	if q.PageToken != "" {
		b, err := base64.RawURLEncoding.Strict().DecodeString(q.PageToken)
		var t pageToken
		if err != nil || json.Unmarshal(b, &t) != nil || t.V != pageTokenVersion || t.encode() != q.PageToken {
			// Only the spelling this service wrote: no stray base64
			// bits, no other JSON for the same key.
			return nil, "", fmt.Errorf("%w: not a token this service issued", ErrBadPageToken)
		}
		if t.Query != digest {
			return nil, "", fmt.Errorf("%w: it was issued for another filter or order", ErrBadPageToken)
		}
		after = &Flag{Flag: detect.Flag{ID: t.ID, Severity: detect.Severity(t.Severity), RaisedAt: t.Raised}}
	}

	d.mu.RLock()
	matched := make([]Flag, 0, size+1)
	d.flags.walk(m, order, after, func(f *Flag) bool {
		matched = append(matched, *f)
		return len(matched) <= size
	})
	d.mu.RUnlock()

	var next string
	if len(matched) > size {
		last := matched[size-1]
		next = pageToken{V: pageTokenVersion, Query: digest, Severity: int(last.Severity), Raised: last.RaisedAt, ID: last.ID}.encode()
		matched = matched[:size]
	}
	return matched, next, nil
}

// Snapshot returns every flag, sorted by id: the derived state a rebuild
// must reproduce.
func (d *Deriver) Snapshot() []Flag {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Flag, 0, len(d.flags.byID))
	for _, f := range d.flags.byID {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b Flag) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Match returns every flag matching a ListFlags filter, newest first.
func (d *Deriver) Match(expr string) ([]Flag, error) {
	var out []Flag
	err := d.Each(expr, func(f *Flag) { out = append(out, *f) })
	return out, err
}

// Each calls fn with every flag matching a ListFlags filter, newest first,
// under the read lock: fn must not keep f or call into d. It is how a tally
// over many flags avoids copying them.
func (d *Deriver) Each(expr string, fn func(f *Flag)) error {
	m, err := parseFlagFilter(expr)
	if err != nil {
		return err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.flags.walk(m, OrderNewest, nil, func(f *Flag) bool { fn(f); return true })
	return nil
}
