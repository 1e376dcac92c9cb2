package server

import (
	"crypto/sha256"
	"encoding/hex"
)

// dispositionKey is the event key of a disposition. A disposition has no id
// of its own, so its signed payload is its identity: replaying the envelope
// under another submission id is refused as a duplicate, rather than
// deciding the flag again in the analyst's name (and, after a later
// decision by someone else, turning the flag back).
func dispositionKey(member string, payload []byte) string {
	sum := sha256.Sum256(payload)
	return member + "\x00" + "disposition sha256:" + hex.EncodeToString(sum[:])
}
