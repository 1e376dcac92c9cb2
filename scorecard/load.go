package scorecard

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/storage"
)

// Computed is a scorecard with the signed checkpoint note it was computed
// at.
type Computed struct {
	Card *Card
	// Note is the checkpoint note, byte for byte as the log signed it.
	Note []byte
	// Log is the decoded prefix the card was computed from, for drill-down
	// and case files.
	Log []LogEntry
}

// FromLedger computes the scorecard at the ledger's latest checkpoint: it
// reads every entry the checkpoint covers, folds them through the detector
// under policy, and counts. Entries that do not decode (a schema that moved
// on) count for nothing, as in derive.
func FromLedger(ctx context.Context, l *ledger.Ledger, members []Member, policy detect.Policy) (*Computed, error) {
	cp, noteText := l.Checkpoint()
	var log []LogEntry
	for start := uint64(0); start < cp.Size; {
		page, next, done, err := l.List(ctx, storage.Filter{}, start, 1024)
		if err != nil {
			return nil, fmt.Errorf("read entries from %d: %w", start, err)
		}
		for _, e := range page {
			if e.Index >= cp.Size {
				done = true
				break
			}
			log = append(log, Decode(e.Index, e.Meta.Member, time.Unix(0, e.Meta.IntegratedTime).UTC(), e.Leaf))
		}
		if done || len(page) == 0 {
			break
		}
		start = next
	}
	if uint64(len(log)) != cp.Size {
		return nil, fmt.Errorf("read %d entries, the checkpoint covers %d", len(log), cp.Size)
	}
	return ComputeAt(log, cp, noteText, members, policy), nil
}

// ComputeAt computes the scorecard of a decoded prefix at its checkpoint.
func ComputeAt(log []LogEntry, cp checkpoint.Checkpoint, noteText []byte, members []Member, policy detect.Policy) *Computed {
	eng, entries, flags := Detect(log, policy)
	card := Compute(Input{
		Checkpoint: Checkpoint{Origin: cp.Origin, Size: cp.Size, RootHash: base64.StdEncoding.EncodeToString(cp.Root)},
		Members:    members, Entries: entries, Flags: flags, KG: KG(eng),
	})
	return &Computed{Card: card, Note: noteText, Log: log}
}

// Decode turns one stored leaf into a LogEntry; a leaf that does not decode
// gives an entry with no content.
func Decode(index uint64, member string, t time.Time, leaf []byte) LogEntry {
	le := LogEntry{Entry: Entry{Index: index, Member: member, Time: t}}
	if env, err := envelope.Parse(leaf); err == nil {
		if p, err := envelope.DecodePayload(env); err == nil {
			le.Event, le.Registry, le.Disposition = p.Event, p.Registry, p.Disposition
		}
	}
	return le
}

// Period is a span of calendar months: "2026-Q3", "2026-07" or "2026".
type Period struct {
	Name     string
	from, to string // months, inclusive, YYYY-MM
}

// ParsePeriod parses a period name.
func ParsePeriod(s string) (Period, error) {
	bad := fmt.Errorf("period %q: want YYYY, YYYY-Qn or YYYY-MM", s)
	y, rest, _ := strings.Cut(s, "-")
	year, err := strconv.Atoi(y)
	if err != nil || len(y) != 4 {
		return Period{}, bad
	}
	switch {
	case rest == "":
		return Period{s, y + "-01", y + "-12"}, nil
	case len(rest) == 2 && rest[0] == 'Q' && rest[1] >= '1' && rest[1] <= '4':
		q := int(rest[1] - '0')
		return Period{s, fmt.Sprintf("%04d-%02d", year, 3*q-2), fmt.Sprintf("%04d-%02d", year, 3*q)}, nil
	case len(rest) == 2:
		m, err := strconv.Atoi(rest)
		if err != nil || m < 1 || m > 12 {
			return Period{}, bad
		}
		return Period{s, s, s}, nil
	}
	return Period{}, bad
}

// Contains reports whether month (YYYY-MM) is in the period.
func (p Period) Contains(month string) bool { return month >= p.from && month <= p.to }

// Months are the period's months in order.
func (p Period) Months() []string {
	var out []string
	t, _ := time.Parse("2006-01", p.from)
	for ; t.Format("2006-01") <= p.to; t = t.AddDate(0, 1, 0) {
		out = append(out, t.Format("2006-01"))
	}
	return out
}

// Select returns the card's rows in period for member ("" for every
// member), keeping its checkpoint and definitions.
func (c *Card) Select(p Period, member string) *Card {
	out := &Card{Checkpoint: c.Checkpoint, AsOf: c.AsOf, Definitions: c.Definitions}
	for _, r := range c.Rows {
		if p.Contains(r.Month) && (member == "" || r.Member == member) {
			out.Rows = append(out.Rows, r)
		}
	}
	return out
}

// Figure finds one figure of member's month.
func (c *Card) Figure(member, month, id string) (Figure, bool) {
	for _, r := range c.Rows {
		if r.Member != member || r.Month != month {
			continue
		}
		for _, f := range r.Figures {
			if f.ID == id {
				return f, true
			}
		}
	}
	return Figure{}, false
}

// YearToDate is the span from January of the period's year to the period's
// last month: what a review charts, so trends lead into the period.
func (p Period) YearToDate() Period {
	return Period{Name: p.Name, from: p.from[:4] + "-01", to: p.to}
}
