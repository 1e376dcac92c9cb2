// Package eventfile reads JSONL files of shipment events, one protojson
// ShipmentEvent per line, as national systems export them and as the CLI and
// the demo submit them. It keeps each line's own bytes: they are what gets
// signed, so submitting the same file twice sends the same bytes and is
// idempotent.
package eventfile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"regexp"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/datadir"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// MaxLineBytes bounds one line (an envelope is at most 64 KiB).
const MaxLineBytes = 64 << 10

// Line is one event line.
type Line struct {
	// Number is the 1-based line number.
	Number int
	// Raw is the line's bytes, without surrounding white space.
	Raw []byte
	// Event is the parsed event, nil when Err is set.
	Event *chemledgerv1.ShipmentEvent
	// Err says why the line does not parse.
	Err error
}

var strict = protojson.UnmarshalOptions{DiscardUnknown: false}

// Read yields the non-blank lines of r. A line that does not parse is
// yielded with Err set; a read error ends the sequence with a final Line
// whose Err is set and Number 0.
func Read(r io.Reader) iter.Seq[Line] {
	return func(yield func(Line) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes+1)
		n := 0
		for sc.Scan() {
			n++
			raw := bytes.TrimSpace(sc.Bytes())
			if len(raw) == 0 {
				continue
			}
			l := Line{Number: n, Raw: bytes.Clone(raw)}
			ev := &chemledgerv1.ShipmentEvent{}
			if err := strict.Unmarshal(raw, ev); err != nil {
				l.Err = fmt.Errorf("line %d: %w", n, err)
			} else {
				l.Event = ev
			}
			if !yield(l) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Line{Err: fmt.Errorf("after line %d: %w", n, err)})
		}
	}
}

var idSafe = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// SubmissionID derives a stable submission id for a line signed by member:
// member:eventId when that is a valid id, else member:sha256-<digest of the
// line>. Stable ids make resubmitting a file safe.
func SubmissionID(member string, l Line) string {
	id := member + ":" + l.Event.GetEventId()
	if l.Event.GetEventId() != "" && len(id) <= 128 && idSafe.MatchString(id) {
		return id
	}
	sum := sha256.Sum256(l.Raw)
	return member + ":sha256-" + hex.EncodeToString(sum[:16])
}

// DemoMemberFor picks the demo member that reports from the event's
// location country, as a national agency would.
func DemoMemberFor(ev *chemledgerv1.ShipmentEvent) (string, error) {
	for _, m := range datadir.DemoMembers {
		if m.Country == ev.GetLocationCountry() {
			return m.ID, nil
		}
	}
	return "", fmt.Errorf("no demo member reports from location_country %q; name one with --member", ev.GetLocationCountry())
}
