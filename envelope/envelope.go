// Package envelope reads and writes the signed envelopes members submit: DSSE
// (Dead Simple Signing Envelope) JSON with Ed25519 signatures over the
// pre-authentication encoding of payload type and payload. The envelope bytes
// a member signs and submits are the log leaf, so this package parses without
// ever re-serialising, and it is strict: unknown fields, trailing data and
// non-canonical base64 are refused rather than guessed at.
//
// It must not re-encode a payload or decide who may sign: signatures are
// checked against the keys the caller passes in.
package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chemledger/chemledger/internal/badinput"
)

// Payload types the ledger accepts: shipment events, registry entries
// (licences, watch lists, annual requirements) and analysts' dispositions,
// each as canonical proto3 JSON or binary protobuf. The type names the
// message, so every entry of the log says what it is.
const (
	PayloadTypeEventJSON        = "application/vnd.chemledger.shipment-event.v1+json"
	PayloadTypeEventProto       = "application/vnd.chemledger.shipment-event.v1+protobuf"
	PayloadTypeRegistryJSON     = "application/vnd.chemledger.registry-entry.v1+json"
	PayloadTypeRegistryProto    = "application/vnd.chemledger.registry-entry.v1+protobuf"
	PayloadTypeDispositionJSON  = "application/vnd.chemledger.disposition.v1+json"
	PayloadTypeDispositionProto = "application/vnd.chemledger.disposition.v1+protobuf"
)

// payloadTypes are the accepted payload types, in the order error messages
// list them.
var payloadTypes = []string{
	PayloadTypeEventJSON, PayloadTypeEventProto,
	PayloadTypeRegistryJSON, PayloadTypeRegistryProto,
	PayloadTypeDispositionJSON, PayloadTypeDispositionProto,
}

// Limits that bound what a parser will look at.
const (
	// MaxEnvelopeBytes bounds a whole envelope. A shipment event is a few
	// kilobytes at most; 64 KiB leaves room and keeps one leaf small, and
	// one byte less fits the big-endian uint16 length each entry carries
	// in a tlog-tiles entry bundle.
	MaxEnvelopeBytes = 64<<10 - 1
	// MaxSignatures bounds the signatures on one envelope (a key rotation
	// needs two; more is noise).
	MaxSignatures = 4
	// MaxKeyIDLen bounds a key id.
	MaxKeyIDLen = 128
)

// Envelope is a parsed DSSE envelope.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []Signature
}

// Signature is one signature on an envelope.
type Signature struct {
	KeyID string
	Sig   []byte
}

// wire is the DSSE JSON shape.
type wire struct {
	PayloadType *string         `json:"payloadType"`
	Payload     *string         `json:"payload"`
	Signatures  []wireSignature `json:"signatures"`
}

type wireSignature struct {
	KeyID string  `json:"keyid"`
	Sig   *string `json:"sig"`
}

// PAE is DSSE's pre-authentication encoding of a payload type and payload:
// the exact bytes a signature covers.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// Signer is a key that signs envelopes.
type Signer struct {
	KeyID string
	Key   ed25519.PrivateKey
}

// Sign returns the DSSE JSON envelope of payload, signed by every signer.
func Sign(payloadType string, payload []byte, signers ...Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, errors.New("sign envelope: no signer")
	}
	pae := PAE(payloadType, payload)
	env := wire{PayloadType: &payloadType}
	p := base64.StdEncoding.EncodeToString(payload)
	env.Payload = &p
	for _, s := range signers {
		if len(s.Key) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("sign envelope: key %q is not an Ed25519 private key", s.KeyID)
		}
		sig := base64.StdEncoding.EncodeToString(ed25519.Sign(s.Key, pae))
		env.Signatures = append(env.Signatures, wireSignature{KeyID: s.KeyID, Sig: &sig})
	}
	return json.Marshal(env)
}

// Parse reads a DSSE JSON envelope strictly. Its errors are *badinput.Error
// with field paths under "envelope".
func Parse(b []byte) (*Envelope, error) {
	if len(b) == 0 {
		return nil, badinput.New("envelope", "required")
	}
	if len(b) > MaxEnvelopeBytes {
		return nil, badinput.New("envelope", "is %d bytes, more than the %d allowed", len(b), MaxEnvelopeBytes)
	}
	if !utf8.Valid(b) {
		return nil, badinput.New("envelope", "is not valid UTF-8 JSON")
	}
	w, err := decodeWire(b)
	if errors.Is(err, errTooManySignatures) {
		return nil, badinput.New("envelope.signatures", "has more than the %d signatures allowed", MaxSignatures)
	}
	if err != nil {
		return nil, badinput.New("envelope", "is not a DSSE JSON envelope: %v", err)
	}

	var v badinput.List
	env := &Envelope{}
	switch {
	case w.PayloadType == nil || *w.PayloadType == "":
		v.Add("envelope.payload_type", "required")
	case !slices.Contains(payloadTypes, *w.PayloadType):
		v.Add("envelope.payload_type", "%q is not accepted; use one of %s", truncate(*w.PayloadType), strings.Join(payloadTypes, ", "))
	default:
		env.PayloadType = *w.PayloadType
	}
	if w.Payload == nil || *w.Payload == "" {
		v.Add("envelope.payload", "required")
	} else if p, err := decodeBase64(*w.Payload); err != nil {
		v.Add("envelope.payload", "is not standard base64: %v", err)
	} else {
		env.Payload = p
	}
	switch n := len(w.Signatures); {
	case n == 0:
		v.Add("envelope.signatures", "at least one signature is required")
	case n > MaxSignatures:
		v.Add("envelope.signatures", "has %d signatures, more than the %d allowed", n, MaxSignatures)
	}
	for i, s := range w.Signatures {
		if i >= MaxSignatures {
			break
		}
		field := fmt.Sprintf("envelope.signatures[%d]", i)
		switch {
		case s.KeyID == "":
			v.Add(field+".keyid", "required: the id of the member key that signed")
		case len(s.KeyID) > MaxKeyIDLen:
			v.Add(field+".keyid", "is longer than %d bytes", MaxKeyIDLen)
		}
		var sig []byte
		if s.Sig == nil || *s.Sig == "" {
			v.Add(field+".sig", "required")
		} else if d, err := decodeBase64(*s.Sig); err != nil {
			v.Add(field+".sig", "is not standard base64: %v", err)
		} else if len(d) != ed25519.SignatureSize {
			v.Add(field+".sig", "is %d bytes; an Ed25519 signature is %d", len(d), ed25519.SignatureSize)
		} else {
			sig = d
		}
		env.Signatures = append(env.Signatures, Signature{KeyID: s.KeyID, Sig: sig})
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return env, nil
}

// decodeBase64 accepts only canonical standard base64, so that one payload has
// one spelling.
func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.Strict().DecodeString(s)
}

func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// errTooManySignatures stops reading an envelope with far too many
// signatures before it has decoded them all.
var errTooManySignatures = errors.New("too many signatures")

// decodeWire reads the DSSE JSON shape token by token. encoding/json alone
// would match keys case-insensitively and let a repeated key overwrite an
// earlier one, so that two readers of the same stored leaf could see two
// different payloads; here every key must be spelled exactly and appear once.
func decodeWire(b []byte) (wire, error) {
	if w, ok := scanWire(b); ok {
		return w, nil
	}
	return decodeWireTokens(b)
}

// decodeWireTokens is decodeWire with encoding/json's tokenizer: the
// definition of what an envelope is, and the reader of whatever scanWire
// does not take.
func decodeWireTokens(b []byte) (wire, error) {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(b))
	err := readObject(dec, func(key string) error {
		switch key {
		case "payloadType":
			s, err := readString(dec)
			w.PayloadType = &s
			return err
		case "payload":
			s, err := readString(dec)
			w.Payload = &s
			return err
		case "signatures":
			if err := expectDelim(dec, '['); err != nil {
				return err
			}
			for dec.More() {
				if len(w.Signatures) > MaxSignatures {
					return errTooManySignatures
				}
				var sig wireSignature
				err := readObject(dec, func(key string) error {
					switch key {
					case "keyid":
						s, err := readString(dec)
						sig.KeyID = s
						return err
					case "sig":
						s, err := readString(dec)
						sig.Sig = &s
						return err
					}
					return fmt.Errorf("unknown field %q in a signature", key)
				})
				if err != nil {
					return err
				}
				w.Signatures = append(w.Signatures, sig)
			}
			return expectDelim(dec, ']')
		}
		return fmt.Errorf("unknown field %q", key)
	})
	if err != nil {
		return w, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return w, errors.New("data after the JSON object")
	}
	return w, nil
}

// readObject reads one JSON object, calling field for each key with the
// decoder positioned at its value; a key may appear only once.
func readObject(dec *json.Decoder, field func(key string) error) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := t.(string)
		if !ok {
			return fmt.Errorf("want a field name, got %v", t)
		}
		if seen[key] {
			return fmt.Errorf("field %q appears twice", key)
		}
		seen[key] = true
		if err := field(key); err != nil {
			return err
		}
	}
	return expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v", want, t)
	}
	return nil
}

func readString(dec *json.Decoder) (string, error) {
	t, err := dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %v", t)
	}
	return s, nil
}
