package envelope_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/badinput"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// testKey is a deterministic member key.
type testKey struct {
	id, member string
	priv       ed25519.PrivateKey
	revoked    bool
}

func newTestKey(id, member string) testKey {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, id)
	return testKey{id: id, member: member, priv: ed25519.NewKeyFromSeed(seed)}
}

func (k testKey) signer() envelope.Signer { return envelope.Signer{KeyID: k.id, Key: k.priv} }

var (
	keyCBP1 = newTestKey("us-cbp-1", "US-CBP")
	keyCBP2 = newTestKey("us-cbp-2", "US-CBP")
	keyANAM = newTestKey("mx-anam-1", "MX-ANAM")
	keyOld  = func() testKey { k := newTestKey("us-cbp-old", "US-CBP"); k.revoked = true; return k }()
)

// lookup finds the given keys by id.
func lookup(keys ...testKey) envelope.KeyLookup {
	return func(id string) (envelope.Key, bool) {
		for _, k := range keys {
			if k.id == id {
				return envelope.Key{ID: k.id, MemberID: k.member, Public: k.priv.Public().(ed25519.PublicKey), Revoked: k.revoked}, true
			}
		}
		return envelope.Key{}, false
	}
}

var allKeys = lookup(keyCBP1, keyCBP2, keyANAM, keyOld)

func testEvent() *chemledgerv1.ShipmentEvent {
	return &chemledgerv1.ShipmentEvent{
		EventId:     "evt-0001",
		Kind:        chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION,
		ShipmentRef: "PEN-CN-2026-000871",
		Chemical:    &chemledgerv1.Chemical{Cas: "39742-60-4", HsCode: "293339", Name: "NPP"},
		Quantity:    &chemledgerv1.Quantity{Value: 25, Unit: "KGM"},
		Exporter:    &chemledgerv1.Party{Name: "Exporter Ltd", Country: "CN"},
	}
}

func jsonPayload(tb testing.TB) []byte {
	tb.Helper()
	b, err := envelope.EncodeEventJSON(testEvent())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func protoPayload(tb testing.TB) []byte {
	tb.Helper()
	b, err := proto.Marshal(testEvent())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func sign(tb testing.TB, payloadType string, payload []byte, keys ...testKey) []byte {
	tb.Helper()
	var signers []envelope.Signer
	for _, k := range keys {
		signers = append(signers, k.signer())
	}
	b, err := envelope.Sign(payloadType, payload, signers...)
	if err != nil {
		tb.Fatalf("Sign: %v", err)
	}
	return b
}

func TestPAE(t *testing.T) {
	for _, tc := range []struct {
		name, payloadType, payload, want string
	}{
		{name: "DSSE spec example", payloadType: "http://example.com/HelloWorld", payload: "hello world", want: "DSSEv1 29 http://example.com/HelloWorld 11 hello world"},
		{name: "empty", want: "DSSEv1 0  0 "},
		{name: "multi-byte runes count bytes", payloadType: "é", payload: "ü\n", want: "DSSEv1 2 é 3 ü\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(envelope.PAE(tc.payloadType, []byte(tc.payload))); got != tc.want {
				t.Errorf("PAE(%q, %q) = %q, want %q", tc.payloadType, tc.payload, got, tc.want)
			}
		})
	}
}

func TestSignParseVerify(t *testing.T) {
	for _, tc := range []struct {
		name        string
		payloadType string
		payload     []byte
		keys        []testKey
		member      string
	}{
		{name: "JSON", payloadType: envelope.PayloadTypeEventJSON, payload: jsonPayload(t), keys: []testKey{keyCBP1}, member: "US-CBP"},
		{name: "proto", payloadType: envelope.PayloadTypeEventProto, payload: protoPayload(t), keys: []testKey{keyANAM}, member: "MX-ANAM"},
		{name: "two keys of one member", payloadType: envelope.PayloadTypeEventJSON, payload: jsonPayload(t), keys: []testKey{keyCBP1, keyCBP2}, member: "US-CBP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := sign(t, tc.payloadType, tc.payload, tc.keys...)
			env, err := envelope.Parse(b)
			if err != nil {
				t.Fatalf("Parse(%s): %v", b, err)
			}
			if env.PayloadType != tc.payloadType || !bytes.Equal(env.Payload, tc.payload) || len(env.Signatures) != len(tc.keys) {
				t.Fatalf("Parse(%s) = %s, want type %q, payload %x, %d signatures", b, describe(env), tc.payloadType, tc.payload, len(tc.keys))
			}
			for i, s := range env.Signatures {
				if s.KeyID != tc.keys[i].id || !ed25519.Verify(tc.keys[i].priv.Public().(ed25519.PublicKey), envelope.PAE(tc.payloadType, tc.payload), s.Sig) {
					t.Errorf("signature %d = %+v, want a valid signature by %q", i, s, tc.keys[i].id)
				}
			}
			member, err := envelope.Verify(env, allKeys)
			if err != nil || member != tc.member {
				t.Fatalf("Verify(%s) = %q, %v; want %q, nil", b, member, err, tc.member)
			}
			ev, err := envelope.DecodeEvent(env)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if want := testEvent(); !proto.Equal(ev, want) {
				t.Errorf("DecodeEvent = %v, want %v", ev, want)
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	if b, err := envelope.Sign(envelope.PayloadTypeEventJSON, []byte("{}")); err == nil {
		t.Errorf("Sign with no signer = %s, want an error", b)
	}
	if b, err := envelope.Sign(envelope.PayloadTypeEventJSON, []byte("{}"), envelope.Signer{KeyID: "k", Key: make([]byte, 5)}); err == nil {
		t.Errorf("Sign with a 5-byte key = %s, want an error", b)
	}
}

// envJSON builds envelope JSON from parts, with no signature checks.
func envJSON(tb testing.TB, fields map[string]any) []byte {
	tb.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func sigs(n int) []map[string]string {
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = map[string]string{"keyid": fmt.Sprintf("k%d", i), "sig": b64(make([]byte, ed25519.SignatureSize))}
	}
	return out
}

// describe prints an envelope short enough to read in a failure.
func describe(env *envelope.Envelope) string {
	if env == nil {
		return "<nil>"
	}
	var ids []string
	for _, s := range env.Signatures {
		ids = append(ids, fmt.Sprintf("%q (%d-byte sig)", s.KeyID, len(s.Sig)))
	}
	return fmt.Sprintf("{type %q, payload %.60q, signatures [%s]}", env.PayloadType, env.Payload, strings.Join(ids, ", "))
}

// violationFields returns the field paths of a *badinput.Error.
func violationFields(err error) []string {
	var e *badinput.Error
	if !errors.As(err, &e) {
		return nil
	}
	var fields []string
	for _, v := range e.Violations {
		fields = append(fields, v.Field)
	}
	return fields
}

func TestParseRejects(t *testing.T) {
	valid := sign(t, envelope.PayloadTypeEventJSON, jsonPayload(t), keyCBP1)
	// A payload whose standard base64 has '+' and '/', so its URL-safe
	// spelling differs.
	binary := bytes.Repeat([]byte{0xfb, 0xff}, 8)
	ok := func(m map[string]any) map[string]any {
		base := map[string]any{"payloadType": envelope.PayloadTypeEventJSON, "payload": b64([]byte("{}")), "signatures": sigs(1)}
		for k, v := range m {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		return base
	}
	for _, tc := range []struct {
		name  string
		input []byte
		field string
	}{
		{name: "empty", input: nil, field: "envelope"},
		{name: "not JSON", input: []byte("hello"), field: "envelope"},
		{name: "JSON array", input: []byte("[]"), field: "envelope"},
		{name: "JSON null", input: []byte("null"), field: "envelope"},
		{name: "trailing data", input: append(bytes.Clone(valid), []byte(" {}")...), field: "envelope"},
		{name: "trailing garbage", input: append(bytes.Clone(valid), '}'), field: "envelope"},
		{name: "unknown field", input: envJSON(t, ok(map[string]any{"extra": 1})), field: "envelope"},
		{name: "unknown signature field", input: envJSON(t, ok(map[string]any{"signatures": []map[string]string{{"keyid": "k", "sig": b64(make([]byte, 64)), "cert": "x"}}})), field: "envelope"},
		{name: "missing payloadType", input: envJSON(t, ok(map[string]any{"payloadType": nil})), field: "envelope.payload_type"},
		{name: "empty payloadType", input: envJSON(t, ok(map[string]any{"payloadType": ""})), field: "envelope.payload_type"},
		{name: "unsupported payloadType", input: envJSON(t, ok(map[string]any{"payloadType": "application/vnd.in-toto+json"})), field: "envelope.payload_type"},
		{name: "payloadType not a string", input: envJSON(t, ok(map[string]any{"payloadType": 7})), field: "envelope"},
		{name: "missing payload", input: envJSON(t, ok(map[string]any{"payload": nil})), field: "envelope.payload"},
		{name: "payload not base64", input: envJSON(t, ok(map[string]any{"payload": "not base64!"})), field: "envelope.payload"},
		{name: "payload URL-safe base64", input: envJSON(t, ok(map[string]any{"payload": base64.URLEncoding.EncodeToString(binary)})), field: "envelope.payload"},
		{name: "payload unpadded", input: envJSON(t, ok(map[string]any{"payload": base64.RawStdEncoding.EncodeToString([]byte("{}"))})), field: "envelope.payload"},
		{name: "payload non-canonical padding bits", input: envJSON(t, ok(map[string]any{"payload": "e31="})), field: "envelope.payload"},
		{name: "no signatures", input: envJSON(t, ok(map[string]any{"signatures": sigs(0)})), field: "envelope.signatures"},
		{name: "signatures missing", input: envJSON(t, ok(map[string]any{"signatures": nil})), field: "envelope.signatures"},
		{name: "5 signatures", input: envJSON(t, ok(map[string]any{"signatures": sigs(5)})), field: "envelope.signatures"},
		{name: "100 signatures", input: envJSON(t, ok(map[string]any{"signatures": sigs(100)})), field: "envelope.signatures"},
		{name: "empty keyid", input: envJSON(t, ok(map[string]any{"signatures": []map[string]string{{"keyid": "", "sig": b64(make([]byte, 64))}}})), field: "envelope.signatures[0].keyid"},
		{name: "keyid too long", input: envJSON(t, ok(map[string]any{"signatures": []map[string]string{{"keyid": strings.Repeat("k", envelope.MaxKeyIDLen+1), "sig": b64(make([]byte, 64))}}})), field: "envelope.signatures[0].keyid"},
		{name: "sig missing", input: envJSON(t, ok(map[string]any{"signatures": []map[string]string{{"keyid": "k"}}})), field: "envelope.signatures[0].sig"},
		{name: "sig wrong length", input: envJSON(t, ok(map[string]any{"signatures": []map[string]string{{"keyid": "k", "sig": b64(make([]byte, 63))}}})), field: "envelope.signatures[0].sig"},
		{name: "second sig not base64", input: envJSON(t, ok(map[string]any{"signatures": []map[string]string{{"keyid": "k", "sig": b64(make([]byte, 64))}, {"keyid": "k2", "sig": "%%"}}})), field: "envelope.signatures[1].sig"},
		{name: "oversize", input: envJSON(t, ok(map[string]any{"payload": b64(make([]byte, envelope.MaxEnvelopeBytes))})), field: "envelope"},
		{name: "invalid UTF-8", input: bytes.Replace(envJSON(t, ok(map[string]any{"signatures": []map[string]string{{"keyid": "k\u00e9", "sig": b64(make([]byte, 64))}}})), []byte("\u00e9"), []byte{0xff}, 1), field: "envelope"},
		// The leaf is the envelope's exact bytes: any parser must read the
		// same fields from them, so spellings DSSE does not define are
		// refused, not folded.
		{name: "field name in other case", input: bytes.Replace(valid, []byte(`"payloadType"`), []byte(`"PayloadType"`), 1), field: "envelope"},
		{name: "duplicate keyid", input: bytes.Replace(valid, []byte(`"keyid":`), []byte(`"keyid":"us-cbp-2","keyid":`), 1), field: "envelope"},
		{name: "signatures null", input: []byte(`{"payloadType":"` + envelope.PayloadTypeEventJSON + `","payload":"e30=","signatures":null}`), field: "envelope"},
		{name: "duplicate payload", input: bytes.Replace(valid, []byte(`"payload":`), []byte(`"payload":"e30=","payload":`), 1), field: "envelope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := envelope.Parse(tc.input)
			if err == nil {
				t.Fatalf("Parse(%.200q) = %s, want an error at %q", tc.input, describe(env), tc.field)
			}
			if fields := violationFields(err); !slices.Contains(fields, tc.field) {
				t.Errorf("Parse(%.200q) = %v (fields %q), want a *badinput.Error at %q", tc.input, err, fields, tc.field)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	payload := jsonPayload(t)
	parse := func(b []byte) *envelope.Envelope {
		t.Helper()
		env, err := envelope.Parse(b)
		if err != nil {
			t.Fatalf("Parse(%s): %v", b, err)
		}
		return env
	}
	// An envelope signed as JSON, relabelled as protobuf.
	relabelled := parse(sign(t, envelope.PayloadTypeEventJSON, payload, keyCBP1))
	relabelled.PayloadType = envelope.PayloadTypeEventProto
	// keyCBP1's id on a signature made with keyANAM's key.
	forged := parse(sign(t, envelope.PayloadTypeEventJSON, payload, keyANAM))
	forged.Signatures[0].KeyID = keyCBP1.id
	for _, tc := range []struct {
		name    string
		env     *envelope.Envelope
		lookup  envelope.KeyLookup
		field   string
		revoked bool
	}{
		{name: "unknown key", env: parse(sign(t, envelope.PayloadTypeEventJSON, payload, keyCBP1)), lookup: lookup(keyANAM), field: "envelope.signatures[0].keyid"},
		{name: "bad signature", env: forged, lookup: allKeys, field: "envelope.signatures[0].sig"},
		{name: "revoked key", env: parse(sign(t, envelope.PayloadTypeEventJSON, payload, keyOld)), lookup: allKeys, field: "envelope.signatures[0].keyid", revoked: true},
		{name: "revoked second key", env: parse(sign(t, envelope.PayloadTypeEventJSON, payload, keyCBP1, keyOld)), lookup: allKeys, field: "envelope.signatures[1].keyid", revoked: true},
		{name: "two members", env: parse(sign(t, envelope.PayloadTypeEventJSON, payload, keyCBP1, keyANAM)), lookup: allKeys, field: "envelope.signatures[1].keyid"},
		{name: "one good, one unknown", env: parse(sign(t, envelope.PayloadTypeEventJSON, payload, keyCBP1, newTestKey("stranger", "XX"))), lookup: allKeys, field: "envelope.signatures[1].keyid"},
		{name: "signature over another payload type", env: relabelled, lookup: allKeys, field: "envelope.signatures[0].sig"},
		// Parse never yields this, but Verify's answer must not depend on
		// that: no signature is no member.
		{name: "no signatures", env: &envelope.Envelope{PayloadType: envelope.PayloadTypeEventJSON, Payload: payload}, lookup: allKeys, field: "envelope.signatures"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			member, err := envelope.Verify(tc.env, tc.lookup)
			if err == nil {
				t.Fatalf("Verify(%s) = %q, nil; want an error at %q", describe(tc.env), member, tc.field)
			}
			if member != "" {
				t.Errorf("Verify(%s) = member %q with error %v, want no member", describe(tc.env), member, err)
			}
			var re *envelope.RevokedError
			if got := errors.Is(err, envelope.ErrKeyRevoked); got != tc.revoked {
				t.Errorf("Verify(%s) = %v: errors.Is(ErrKeyRevoked) = %v, want %v", describe(tc.env), err, got, tc.revoked)
			}
			if tc.revoked {
				if !errors.As(err, &re) || re.Field != tc.field || re.KeyID != keyOld.id {
					t.Errorf("Verify(%s) = %#v, want *RevokedError{Field: %q, KeyID: %q}", describe(tc.env), err, tc.field, keyOld.id)
				}
				return
			}
			if fields := violationFields(err); !slices.Contains(fields, tc.field) {
				t.Errorf("Verify(%s) = %v (fields %q), want a *badinput.Error at %q", describe(tc.env), err, fields, tc.field)
			}
		})
	}
}

func TestDecodeEventRejects(t *testing.T) {
	pb := protoPayload(t)
	// A field unknown to ShipmentEvent, and one unknown to its Chemical.
	unknownTop := protowire.AppendVarint(protowire.AppendTag(bytes.Clone(pb), 9999, protowire.VarintType), 1)
	chem, err := proto.Marshal(&chemledgerv1.Chemical{Cas: "39742-60-4"})
	if err != nil {
		t.Fatal(err)
	}
	chem = protowire.AppendVarint(protowire.AppendTag(chem, 9999, protowire.VarintType), 1)
	unknownNested := protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), chem)
	var js map[string]any
	if err := json.Unmarshal(jsonPayload(t), &js); err != nil {
		t.Fatal(err)
	}
	js["smuggled"] = "x"
	unknownJSON, err := json.Marshal(js)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		env   *envelope.Envelope
		field string
	}{
		{name: "unknown JSON field", env: &envelope.Envelope{PayloadType: envelope.PayloadTypeEventJSON, Payload: unknownJSON}, field: "envelope.payload"},
		{name: "JSON not an event", env: &envelope.Envelope{PayloadType: envelope.PayloadTypeEventJSON, Payload: []byte(`[1]`)}, field: "envelope.payload"},
		{name: "proto payload as JSON", env: &envelope.Envelope{PayloadType: envelope.PayloadTypeEventJSON, Payload: pb}, field: "envelope.payload"},
		{name: "unknown binary field", env: &envelope.Envelope{PayloadType: envelope.PayloadTypeEventProto, Payload: unknownTop}, field: "envelope.payload"},
		{name: "unknown binary field in a nested message", env: &envelope.Envelope{PayloadType: envelope.PayloadTypeEventProto, Payload: unknownNested}, field: "envelope.payload"},
		{name: "truncated binary", env: &envelope.Envelope{PayloadType: envelope.PayloadTypeEventProto, Payload: pb[:len(pb)-1]}, field: "envelope.payload"},
		{name: "unknown payload type", env: &envelope.Envelope{PayloadType: "text/plain", Payload: pb}, field: "envelope.payload_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := envelope.DecodeEvent(tc.env)
			if err == nil {
				t.Fatalf("DecodeEvent(%q, %x) = %v, want an error at %q", tc.env.PayloadType, tc.env.Payload, ev, tc.field)
			}
			if fields := violationFields(err); !slices.Contains(fields, tc.field) {
				t.Errorf("DecodeEvent(%q, %x) = %v (fields %q), want a *badinput.Error at %q", tc.env.PayloadType, tc.env.Payload, err, fields, tc.field)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sign(f, envelope.PayloadTypeEventJSON, jsonPayload(f), keyCBP1))
	f.Add(sign(f, envelope.PayloadTypeEventProto, protoPayload(f), keyCBP1, keyCBP2))
	f.Add([]byte(`{"payloadType":"x","payload":"","signatures":[]}`))
	f.Add([]byte(`{"payloadType":"` + envelope.PayloadTypeEventJSON + `","payload":"e30=","signatures":[{"keyid":"k","sig":"` + b64(make([]byte, 64)) + `"}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"payload":"e30=","payload":"e30="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := envelope.Parse(b)
		if err != nil {
			var e *badinput.Error
			if !errors.As(err, &e) || len(e.Violations) == 0 {
				t.Fatalf("Parse(%q) = %v, want a *badinput.Error", b, err)
			}
			return
		}
		if env.PayloadType != envelope.PayloadTypeEventJSON && env.PayloadType != envelope.PayloadTypeEventProto {
			t.Fatalf("Parse(%q) accepted payload type %q", b, env.PayloadType)
		}
		if n := len(env.Signatures); n < 1 || n > envelope.MaxSignatures {
			t.Fatalf("Parse(%q) accepted %d signatures", b, n)
		}
		for i, s := range env.Signatures {
			if s.KeyID == "" || len(s.Sig) != ed25519.SignatureSize {
				t.Fatalf("Parse(%q) accepted signature %d = %+v", b, i, s)
			}
		}
		if len(env.Payload) == 0 {
			t.Fatalf("Parse(%q) accepted an empty payload", b)
		}
		// Verify and DecodeEvent must not panic on anything Parse accepts.
		_, _ = envelope.Verify(env, allKeys)
		_, _ = envelope.DecodeEvent(env)
	})
}
