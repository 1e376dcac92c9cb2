package members

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/pki"
)

// ErrNotApplicable is returned for a member change that cannot apply to the
// registry as it stands: a join of an id already given out, a suspension of
// a member that is not active. Such a change is refused before it gets an
// index, so every member change in the log is one that applied.
var ErrNotApplicable = errors.New("member change does not apply")

// Join admits a new member from entry index. The id must never have been
// given out (removed members keep theirs), and its key ids must be new.
func (r *Registry) Join(index uint64, m Member) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkJoinLocked(m); err != nil {
		return err
	}
	m.Status = Active
	m.Roles = slices.Sorted(slices.Values(m.Roles))
	m.History = []Change{{Index: index, What: "joined with roles " + rolesText(m.Roles) + keysText(m.Keys)}}
	for _, k := range m.Keys {
		r.byKey[k.ID] = envelope.Key{ID: k.ID, MemberID: m.ID, Public: ed25519.PublicKey(k.Ed25519)}
	}
	r.members = append(r.members, m)
	return nil
}

func (r *Registry) checkJoinLocked(m Member) error {
	if i := r.index(m.ID); i >= 0 {
		return fmt.Errorf("%w: %s is already a member (%s)", ErrNotApplicable, m.ID, r.members[i].Status)
	}
	if !pki.MemberIDPattern.MatchString(m.ID) {
		return fmt.Errorf("%w: %q is not a member id", ErrNotApplicable, m.ID)
	}
	if len(m.Keys) == 0 {
		return fmt.Errorf("%w: %s joins with no signing key", ErrNotApplicable, m.ID)
	}
	for _, k := range m.Keys {
		if _, dup := r.byKey[k.ID]; dup {
			return fmt.Errorf("%w: key id %q is already in use", ErrNotApplicable, k.ID)
		}
		if len(k.Ed25519) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: key %q is %d bytes, an Ed25519 public key is %d", ErrNotApplicable, k.ID, len(k.Ed25519), ed25519.PublicKeySize)
		}
	}
	return nil
}

// SetStatus suspends, reinstates or removes a member from entry index. A
// suspension needs an active member, a reinstatement a suspended one; a
// removal ends the member's keys and roles for good.
func (r *Registry) SetStatus(index uint64, member string, to Status, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, err := r.checkStatusLocked(member, to)
	if err != nil {
		return err
	}
	m := &r.members[i]
	m.Status = to
	what := map[Status]string{Active: "reinstated", Suspended: "suspended", Removed: "removed"}[to]
	if reason != "" {
		what += ": " + reason
	}
	if to == Removed {
		for j := range m.Keys {
			m.Keys[j].Revoked = true
			k := r.byKey[m.Keys[j].ID]
			k.Revoked = true
			r.byKey[m.Keys[j].ID] = k
		}
		m.Roles = nil
	}
	m.History = append(m.History, Change{Index: index, What: what})
	return nil
}

func (r *Registry) checkStatusLocked(member string, to Status) (int, error) {
	i := r.index(member)
	if i < 0 {
		return -1, fmt.Errorf("%w: %s: %w", ErrNotApplicable, member, ErrUnknownMember)
	}
	from := r.members[i].Status
	ok := false
	switch to {
	case Suspended:
		ok = from == Active
	case Active:
		ok = from == Suspended
	case Removed:
		ok = from != Removed
	}
	if !ok {
		return -1, fmt.Errorf("%w: %s is %s", ErrNotApplicable, member, from)
	}
	return i, nil
}

// Status says whether member may act, and whether it is a member at all.
func (r *Registry) Status(member string) (Status, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	i := r.index(member)
	if i < 0 {
		return 0, false
	}
	return r.members[i].Status, true
}

// Note adds a change made by entry index to member's history; the key,
// role and certificate changes call it once they have applied.
func (r *Registry) Note(member string, index uint64, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := r.index(member); i >= 0 {
		r.members[i].History = append(r.members[i].History, Change{Index: index, What: what})
	}
}

func rolesText(roles []string) string {
	if len(roles) == 0 {
		return "none"
	}
	return strings.Join(roles, ", ")
}

func keysText(keys []PublicKey) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return " and keys " + strings.Join(ids, ", ")
}
