package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

// Page tokens are opaque to clients (AIP-158): a version byte, the index the
// next page starts at, and the first 8 bytes of the SHA-256 of the filter
// they were made for, so a token cannot be reused with another filter.
const pageTokenVersion = 1

func encodePageToken(filter string, next uint64) string {
	b := []byte{pageTokenVersion}
	b = binary.AppendUvarint(b, next)
	sum := sha256.Sum256([]byte(filter))
	b = append(b, sum[:8]...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(token, filter string) (uint64, error) {
	if token == "" {
		return 0, nil
	}
	// Strict: a token with stray bits after its last byte is another
	// spelling of a real one (found by FuzzPageToken); only what
	// encodePageToken writes is accepted.
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(b) < 10 || b[0] != pageTokenVersion {
		return 0, fmt.Errorf("%w: not a token this service issued", errBadPageToken)
	}
	next, n := binary.Uvarint(b[1:])
	if n <= 0 || len(b) != 1+n+8 {
		return 0, fmt.Errorf("%w: not a token this service issued", errBadPageToken)
	}
	sum := sha256.Sum256([]byte(filter))
	if string(b[1+n:]) != string(sum[:8]) {
		return 0, fmt.Errorf("%w: it was issued for another filter", errBadPageToken)
	}
	if n != len(binary.AppendUvarint(nil, next)) { // an overlong varint
		return 0, fmt.Errorf("%w: not a token this service issued", errBadPageToken)
	}
	return next, nil
}
