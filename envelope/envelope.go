// Package envelope reads and writes the signed envelopes members submit: DSSE
// (Dead Simple Signing Envelope) JSON with Ed25519 signatures over the
// pre-authentication encoding of payload type and payload. The envelope bytes
// a member signs and submits are the log leaf, so this package parses without
// ever re-serialising, and it is strict: unknown fields, trailing data and
// non-canonical base64 are refused rather than guessed at.
package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/chemledger/chemledger/badinput"
)

// Payload types the ledger accepts. The event is either canonical proto3 JSON
// or binary protobuf; both decode to the same chemledger.v1.ShipmentEvent.
const (
	PayloadTypeEventJSON  = "application/vnd.chemledger.shipment-event.v1+json"
	PayloadTypeEventProto = "application/vnd.chemledger.shipment-event.v1+protobuf"
)

// Limits that bound what a parser will look at.
const (
	// MaxEnvelopeBytes bounds a whole envelope. A shipment event is a few
	// kilobytes at most; 64 KiB leaves room and keeps one leaf small.
	MaxEnvelopeBytes = 64 << 10
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
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wire
	if err := dec.Decode(&w); err != nil {
		return nil, badinput.New("envelope", "is not a DSSE JSON envelope: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badinput.New("envelope", "has data after the JSON object")
	}

	var v badinput.List
	env := &Envelope{}
	switch {
	case w.PayloadType == nil || *w.PayloadType == "":
		v.Add("envelope.payload_type", "required")
	case *w.PayloadType != PayloadTypeEventJSON && *w.PayloadType != PayloadTypeEventProto:
		v.Add("envelope.payload_type", "%q is not accepted; use %q or %q", truncate(*w.PayloadType), PayloadTypeEventJSON, PayloadTypeEventProto)
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
