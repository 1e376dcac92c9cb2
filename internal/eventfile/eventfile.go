// Package eventfile reads JSONL files of log entries, one protojson message
// per line, as national systems export them and as the CLI and the demo
// submit them: shipment events (Read) or registry entries (ReadRegistry).
// A line does not say which it is; the caller says what the file holds, so
// existing event files keep their format. It keeps each line's own bytes:
// they are what gets signed, so submitting the same file twice sends the
// same bytes and is idempotent.
//
// It must not sign or submit; the CLI and the demo do.
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

	"github.com/chemledger/chemledger/internal/datadir"
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

// RegistryLine is one registry line.
type RegistryLine struct {
	// Number is the 1-based line number.
	Number int
	// Raw is the line's bytes, without surrounding white space.
	Raw []byte
	// Entry is the parsed registry entry, nil when Err is set.
	Entry *chemledgerv1.RegistryEntry
	// Err says why the line does not parse.
	Err error
}

var strict = protojson.UnmarshalOptions{DiscardUnknown: false}

// Read yields the non-blank lines of r, each a ShipmentEvent. A line that
// does not parse is yielded with Err set; a read error ends the sequence
// with a final Line whose Err is set and Number 0.
func Read(r io.Reader) iter.Seq[Line] {
	return func(yield func(Line) bool) {
		for s := range scan(r) {
			l := Line{Number: s.n, Raw: s.raw, Err: s.err}
			if s.err == nil {
				ev := &chemledgerv1.ShipmentEvent{}
				if err := strict.Unmarshal(s.raw, ev); err != nil {
					l.Err = fmt.Errorf("line %d: %w", s.n, err)
				} else {
					l.Event = ev
				}
			}
			if !yield(l) {
				return
			}
		}
	}
}

// ReadRegistry is Read for a file of RegistryEntry lines.
func ReadRegistry(r io.Reader) iter.Seq[RegistryLine] {
	return func(yield func(RegistryLine) bool) {
		for s := range scan(r) {
			l := RegistryLine{Number: s.n, Raw: s.raw, Err: s.err}
			if s.err == nil {
				e := &chemledgerv1.RegistryEntry{}
				if err := strict.Unmarshal(s.raw, e); err != nil {
					l.Err = fmt.Errorf("line %d: %w", s.n, err)
				} else {
					l.Entry = e
				}
			}
			if !yield(l) {
				return
			}
		}
	}
}

// scanned is one non-blank line, or (err set, n 0) the read error that
// ended the file.
type scanned struct {
	n   int
	raw []byte
	err error
}

func scan(r io.Reader) iter.Seq[scanned] {
	return func(yield func(scanned) bool) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes+1)
		n := 0
		for sc.Scan() {
			n++
			raw := bytes.TrimSpace(sc.Bytes())
			if len(raw) == 0 {
				continue
			}
			if !yield(scanned{n: n, raw: bytes.Clone(raw)}) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(scanned{err: fmt.Errorf("after line %d: %w", n, err)})
		}
	}
}

var idSafe = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

// SubmissionID derives a stable submission id for a line signed by member:
// member:eventId when that is a valid id, else member:sha256-<digest of the
// line>. Stable ids make resubmitting a file safe.
func SubmissionID(member string, l Line) string {
	return submissionID(member, l.Event.GetEventId(), l.Raw)
}

// RegistrySubmissionID is SubmissionID for a registry line:
// member:entryId, or member:sha256-<digest of the line>.
func RegistrySubmissionID(member string, l RegistryLine) string {
	return submissionID(member, l.Entry.GetEntryId(), l.Raw)
}

func submissionID(member, entryID string, raw []byte) string {
	id := member + ":" + entryID
	if entryID != "" && len(id) <= 128 && idSafe.MatchString(id) {
		return id
	}
	sum := sha256.Sum256(raw)
	return member + ":sha256-" + hex.EncodeToString(sum[:16])
}

// DemoMemberFor picks the demo member that reports from the event's
// location country, as a national agency would.
func DemoMemberFor(ev *chemledgerv1.ShipmentEvent) (string, error) {
	return demoMember("location_country", ev.GetLocationCountry())
}

// DemoMemberForRegistry picks the demo member of the country that makes the
// registry change (see RegistryCountry).
func DemoMemberForRegistry(e *chemledgerv1.RegistryEntry) (string, error) {
	country, field := RegistryCountry(e)
	return demoMember(field, country)
}

// RegistryCountry says which country's agency makes a registry change, as
// the register belongs to it: a licence's issuing country, an annual
// requirement's country, a watch-listed party's country, the importing
// country of a PEN requirement. field is where that
// country is, as validate names fields; country is "" when it is unset.
func RegistryCountry(e *chemledgerv1.RegistryEntry) (country, field string) {
	switch {
	case e.GetLicence() != nil:
		return e.GetLicence().GetIssuingCountry(), "registry.licence.issuing_country"
	case e.GetAnnualRequirement() != nil:
		return e.GetAnnualRequirement().GetCountry(), "registry.annual_requirement.country"
	case e.GetWatchListEntry() != nil:
		return e.GetWatchListEntry().GetParty().GetCountry(), "registry.watch_list_entry.party.country"
	case e.GetReferenceUpdate().GetKind() == chemledgerv1.ReferenceUpdate_KIND_PEN_REQUIREMENT:
		// A country sets its own PEN requirement; the shared tables are
		// the secretariat's, whose member the caller names.
		return e.GetReferenceUpdate().GetCountry(), "registry.reference_update.country"
	}
	return "", "registry.change"
}

func demoMember(field, country string) (string, error) {
	for _, m := range datadir.DemoMembers {
		if m.Country == country {
			return m.ID, nil
		}
	}
	return "", fmt.Errorf("no demo member reports from %s %q; name one with --member", field, country)
}
