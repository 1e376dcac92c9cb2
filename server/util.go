package server

import (
	"strings"
	"time"
)

func timeOf(unixNano int64) time.Time { return time.Unix(0, unixNano).UTC() }

// noteBody is the signed text of a note: everything before the blank line
// that starts the signatures.
func noteBody(n []byte) string {
	body, _, _ := strings.Cut(string(n), "\n\n")
	return body + "\n"
}
