// Package audit keeps a durable, hash-chained record of every read and every
// denied request, in its own bbolt file next to the ledger's.
//
// The ledger proves what was submitted; this package answers the other
// question agencies ask of a shared register: who looked at what, and who
// was turned away. Each Record carries the SHA-256 of the one before it, so
// an auditor handed any run of records (List) can check with Verify, offline
// and without this code, that none was altered, removed or reordered inside
// the run. The chain does not by itself reveal a cut-off tail; that needs the
// head (seq and hash) anchored somewhere the store's operator cannot rewrite.
//
// Appends are group-committed by a single writer goroutine, as the ledger's
// sequencer does: one bbolt transaction and one fsync for every record that
// arrived within Linger, and each Append returns only once its record is on
// disk. A request whose audit record cannot be stored must fail closed; the
// caller decides that, this package only reports the error.
//
// It must not know the ledger's insides or hold up the ledger's writer: it keeps
// its own file and its own group commit, and it never decides whether a
// request is allowed.
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is one audited request.
type Record struct {
	// Seq is the record's position in the chain, 0, 1, 2, …, assigned by
	// the store.
	Seq uint64 `json:"seq"`
	// Time is when the request arrived, set by the caller; the store keeps
	// it in UTC to the microsecond so that it encodes the same way forever.
	Time time.Time `json:"time"`
	// Principal is who asked, "MX-ANAM/analyst", or "" when the request
	// was not authenticated.
	Principal string `json:"principal"`
	// Via is the front door: "grpc" or "http".
	Via string `json:"via"`
	// Method is the full gRPC method ("/chemledger.v1.AnalystService/GetFlag")
	// or, for plain HTTP, "GET /healthz".
	Method string `json:"method"`
	// Resources names what was read or asked for: "entries/12",
	// "flags/R1-…", "shipments/PEN-…", or a list filter.
	Resources []string `json:"resources,omitempty"`
	// Outcome is the gRPC code name: "OK", "PERMISSION_DENIED", ….
	Outcome string `json:"outcome"`
	// Count, when set, is how many requests the record stands for (at
	// least 2): refusals of one principal, front door, method and outcome
	// counted together, so that a flood of refusals costs a record a
	// window rather than a record (and an fsync) each. Time is then the
	// first one's arrival and Last the last one's; Resources are those
	// asked for, as far as they were kept. Zero for a single request.
	Count uint64 `json:"count,omitempty"`
	// Last is when the last of Count requests arrived; zero without Count.
	Last time.Time `json:"last,omitzero"`
	// Prev is the previous record's Hash; 32 zero bytes for seq 0.
	Prev []byte `json:"prev"`
	// Hash is ComputeHash of this record.
	Hash []byte `json:"hash"`
}

// hashDomain separates audit record hashes from every other SHA-256 in the
// system (leaf hashes, checkpoint notes): no other structure's bytes can
// start with it.
const hashDomain = "chemledger-audit-v1\n"

// zeroHash is the Prev of the first record.
var zeroHash [sha256.Size]byte

// ComputeHash returns the record's hash, computed from its fields (never from
// r.Hash). It is SHA-256 over this byte string, where u64(n) is n as 8 bytes
// big-endian and str(b) is u64(len(b)) followed by the bytes b:
//
//	"chemledger-audit-v1\n"                      (20 bytes, no length prefix)
//	u64(Seq)
//	u64(Time as microseconds since 1970-01-01T00:00:00Z; two's complement
//	    if before it)
//	str(Principal)
//	str(Via)
//	str(Method)
//	u64(number of Resources) str(Resources[0]) … str(Resources[n-1])
//	str(Outcome)
//	str(Prev)
//	and only when Count is set (a counted record):
//	u64(Count)
//	u64(Last as microseconds, as Time)
//
// Strings are their UTF-8 bytes as stored. Every variable-length field is
// length-prefixed, so no two different records share an encoding; a nil and
// an empty Resources encode alike, as they do in the stored JSON.
func (r *Record) ComputeHash() []byte {
	h := sha256.Sum256(r.encode())
	return h[:]
}

// encode is the canonical encoding ComputeHash documents.
func (r *Record) encode() []byte {
	n := len(hashDomain) + 10*8 + len(r.Principal) + len(r.Via) + len(r.Method) + len(r.Outcome) + len(r.Prev)
	for _, s := range r.Resources {
		n += 8 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, hashDomain...)
	b = binary.BigEndian.AppendUint64(b, r.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixMicro()))
	b = appendStr(b, r.Principal)
	b = appendStr(b, r.Via)
	b = appendStr(b, r.Method)
	b = binary.BigEndian.AppendUint64(b, uint64(len(r.Resources)))
	for _, s := range r.Resources {
		b = appendStr(b, s)
	}
	b = appendStr(b, r.Outcome)
	b = appendStr(b, string(r.Prev))
	// A record of one request encodes as records always have, so every
	// hash in a trail written before counted records existed still holds;
	// Prev is length-prefixed, so the tail cannot be mistaken for it.
	if r.Count > 0 {
		b = binary.BigEndian.AppendUint64(b, r.Count)
		b = binary.BigEndian.AppendUint64(b, uint64(r.Last.UnixMicro()))
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// Limits on what one record keeps. Principal, Method and filter strings can
// come from unauthenticated callers; without a bound, a stream of denied
// requests with megabyte URLs would fill the disk the ledger shares.
const (
	// MaxFieldBytes is the most bytes kept of any one string field.
	MaxFieldBytes = 4096
	// MaxResources is the most resources kept per record; a longer list
	// keeps the first MaxResources and a last item saying how many more.
	MaxResources = 256
)

// normalize makes r what the store will keep, so that the record hashed, the
// record returned and the record read back from JSON are identical: time in
// UTC to the microsecond (a zero time becomes now, since a record with no
// time is useless to an auditor), strings valid UTF-8 (encoding/json would
// silently replace invalid bytes, changing the hash) and within the limits
// above. Seq, Prev and Hash are the store's to set.
func normalize(r Record, now func() time.Time) Record {
	if r.Time.IsZero() {
		r.Time = now()
	}
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	if r.Count <= 1 {
		r.Count, r.Last = 0, time.Time{}
	} else {
		r.Last = r.Last.UTC().Truncate(time.Microsecond)
	}
	r.Principal = clean(r.Principal)
	r.Via = clean(r.Via)
	r.Method = clean(r.Method)
	r.Outcome = clean(r.Outcome)
	var res []string
	for i, s := range r.Resources {
		if i == MaxResources {
			res = append(res, fmt.Sprintf("… %d more", len(r.Resources)-MaxResources))
			break
		}
		res = append(res, clean(s))
	}
	r.Resources = res
	r.Seq, r.Prev, r.Hash = 0, nil, nil
	return r
}

// clean returns s as valid UTF-8 of at most MaxFieldBytes, cut on a rune
// boundary and marked with "…" when cut.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxFieldBytes {
		return s
	}
	const mark = "…"
	cut := MaxFieldBytes - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// ErrBroken is what every chain verification failure wraps.
var ErrBroken = errors.New("audit chain broken")

// ChainError names the first record at which a chain fails to verify.
type ChainError struct {
	Seq    uint64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("%v at record %d: %s", ErrBroken, e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrBroken) true.
func (e *ChainError) Is(target error) bool { return target == ErrBroken }

// Verify checks a run of records as List returned them: consecutive seqs,
// each Prev the Hash before it and each Hash recomputing. prev is the hash
// expected before records[0]: that of record records[0].Seq-1, or nil when
// the run starts at seq 0. The error is a *ChainError naming the first bad
// record: for a missing or misplaced record, the seq that should have come
// next.
func Verify(prev []byte, records []Record) error {
	_, err := verify(prev, records)
	return err
}

// verify is Verify that also says how many records, from the first, passed.
func verify(prev []byte, records []Record) (int, error) {
	if len(records) == 0 {
		return 0, nil
	}
	if prev == nil {
		if records[0].Seq != 0 {
			return 0, &ChainError{Seq: records[0].Seq, Reason: "a run that does not start at seq 0 needs the hash of the record before it"}
		}
		prev = zeroHash[:]
	}
	for i := range records {
		r := &records[i]
		if i > 0 {
			if want := records[i-1].Seq + 1; r.Seq != want {
				return i, &ChainError{Seq: want, Reason: fmt.Sprintf("missing or out of order: record %d follows record %d", r.Seq, want-1)}
			}
		}
		if !bytes.Equal(r.Prev, prev) {
			return i, &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("prev %x is not the previous record's hash %x", r.Prev, prev)}
		}
		if h := r.ComputeHash(); !bytes.Equal(r.Hash, h) {
			return i, &ChainError{Seq: r.Seq, Reason: fmt.Sprintf("stored hash %x does not match its fields (%x)", r.Hash, h)}
		}
		prev = r.Hash
	}
	return len(records), nil
}
