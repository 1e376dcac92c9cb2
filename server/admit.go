package server

import (
	"regexp"

	"github.com/chemledger/chemledger/badinput"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/ledger"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/validate"
)

// submissionIDPattern is what a submission id may look like: short, and
// safe in a URL, a file name and a log line.
var submissionIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// admit turns raw submission input into a ledger submission, or says
// precisely what is wrong with it: the id's shape, the envelope's form, its
// signatures against the members' keys, and the event's content. It writes
// nothing.
func (s *ledgerService) admit(id string, env []byte) (ledger.Submission, error) {
	var v badinput.List
	if !submissionIDPattern.MatchString(id) {
		v.Add("submission_id", "must be 1 to 128 characters of letters, digits and . _ : -")
	}
	e, err := envelope.Parse(env)
	if err != nil {
		if !v.Merge("", err) {
			return ledger.Submission{}, err
		}
		return ledger.Submission{}, v.Err()
	}
	member, err := envelope.Verify(e, s.members.Key)
	if err != nil {
		if !v.Merge("", err) {
			return ledger.Submission{}, err
		}
		return ledger.Submission{}, v.Err()
	}
	ev, err := envelope.DecodeEvent(e)
	if err != nil {
		v.Merge("", err)
		return ledger.Submission{}, v.Err()
	}
	if err := validate.Event(ev); err != nil {
		if !v.Merge("", err) {
			return ledger.Submission{}, err
		}
	}
	size, _ := s.ledger.Checkpoint()
	for i, r := range ev.GetReferences() {
		if r.GetIndex() >= size.Size {
			v.Add(fieldf("event.references[%d].index", i), "entry %d does not exist (the log has %d entries)", r.GetIndex(), size.Size)
		}
	}
	if err := v.Err(); err != nil {
		return ledger.Submission{}, err
	}
	return ledger.Submission{
		ID:          id,
		Leaf:        env,
		Member:      member,
		ShipmentRef: ev.GetShipmentRef(),
		CAS:         ev.GetChemical().GetCas(),
		Kind:        kindName(ev.GetKind()),
	}, nil
}

// kindName is the stored (and filterable) name of an event kind: the enum
// value name without its EVENT_KIND_ prefix.
func kindName(k chemledgerv1.EventKind) string {
	const prefix = "EVENT_KIND_"
	n := k.String()
	if len(n) > len(prefix) && n[:len(prefix)] == prefix {
		return n[len(prefix):]
	}
	return n
}

// kindFromFilter resolves a kind as written in a filter.
func kindFromFilter(s string) (string, bool) {
	for v := range chemledgerv1.EventKind_name {
		k := chemledgerv1.EventKind(v)
		if k == chemledgerv1.EventKind_EVENT_KIND_UNSPECIFIED {
			continue
		}
		if s == k.String() || s == kindName(k) {
			return kindName(k), true
		}
	}
	return "", false
}
