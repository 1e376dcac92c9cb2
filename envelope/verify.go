package envelope

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/chemledger/chemledger/internal/badinput"
)

// Key is a member's public key as the verifier needs it.
type Key struct {
	ID       string
	MemberID string
	Public   ed25519.PublicKey
	Revoked  bool
}

// KeyLookup finds a key by id; ok is false when no member has it.
type KeyLookup func(keyID string) (k Key, ok bool)

// ErrKeyRevoked marks a signature by a key its member has revoked.
var ErrKeyRevoked = errors.New("signing key revoked")

// RevokedError names the revoked key and where it was used.
type RevokedError struct {
	Field string
	KeyID string
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("%s: key %q has been revoked", e.Field, e.KeyID)
}

func (e *RevokedError) Unwrap() error { return ErrKeyRevoked }

// Verify checks every signature on env against the member keys and returns
// the member that signed. Every signature must be valid and made by a known,
// unrevoked key, and all must belong to one member: an envelope is
// attributable to exactly one member.
func Verify(env *Envelope, lookup KeyLookup) (member string, err error) {
	if len(env.Signatures) == 0 {
		return "", badinput.New("envelope.signatures", "at least one signature is required")
	}
	pae := PAE(env.PayloadType, env.Payload)
	var v badinput.List
	for i, s := range env.Signatures {
		field := fmt.Sprintf("envelope.signatures[%d]", i)
		k, ok := lookup(s.KeyID)
		if !ok {
			v.Add(field+".keyid", "no member key has id %q", truncate(s.KeyID))
			continue
		}
		if k.Revoked {
			return "", &RevokedError{Field: field + ".keyid", KeyID: s.KeyID}
		}
		if !ed25519.Verify(k.Public, pae, s.Sig) {
			v.Add(field+".sig", "does not verify with key %q over the payload type and payload", s.KeyID)
			continue
		}
		switch {
		case member == "":
			member = k.MemberID
		case member != k.MemberID:
			v.Add(field+".keyid", "key %q belongs to member %q but an earlier signature is by %q; an envelope is signed by one member", s.KeyID, k.MemberID, member)
		}
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	return member, nil
}
