package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// FuzzPageToken: decoding never panics, and a token only decodes for the
// filter it was issued for, to the index it was issued at.
func FuzzPageToken(f *testing.F) {
	f.Add(encodePageToken(`kind = PEN_REPLY`, 42), `kind = PEN_REPLY`)
	f.Add(encodePageToken("", 0), "")
	f.Add("AQ", "x")
	f.Add("!!!", "")
	f.Fuzz(func(t *testing.T, token, filter string) {
		next, err := decodePageToken(token, filter)
		if err != nil {
			return
		}
		if token != "" && encodePageToken(filter, next) != token {
			t.Fatalf("token %q decodes to %d for %q, which encodes as %q", token, next, filter, encodePageToken(filter, next))
		}
	})
}

// FuzzGatewayBody feeds request bodies to the gateway's strict decoder:
// it never panics, and what it accepts is one CreateEntryRequest with no
// unknown fields and nothing after it.
func FuzzGatewayBody(f *testing.F) {
	f.Add([]byte(`{"submissionId":"US-CBP:1","envelope":"e30="}`))
	f.Add([]byte(`{"submissionId":"x"} {"x":1}`))
	f.Add([]byte(`{"bogus":1}`))
	f.Add([]byte(`[`))
	f.Add([]byte(``))
	dec := wholeBodyJSON{&runtime.JSONPb{UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false}}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req chemledgerv1.CreateEntryRequest
		if err := dec.NewDecoder(bytes.NewReader(body)).Decode(&req); err != nil {
			return
		}
		var again chemledgerv1.CreateEntryRequest
		if err := protojson.Unmarshal(body, &again); err != nil {
			t.Fatalf("the gateway accepted %q, which strict protojson refuses: %v", body, err)
		}
	})
}

// TestPageTokenTrailingBitsRegression: FuzzPageToken found that a token
// with stray bits in its last base64 character decoded to the same page as
// the token issued, so two different strings were the same token. Only the
// issued spelling is accepted now; so is an overlong varint refused.
func TestPageTokenTrailingBitsRegression(t *testing.T) {
	const filter = `kind = PEN_REPLY`
	issued := encodePageToken(filter, 125)
	if next, err := decodePageToken(issued, filter); err != nil || next != 125 {
		t.Fatalf("issued token: got %d, %v", next, err)
	}
	overlong := base64.RawURLEncoding.EncodeToString(append([]byte{pageTokenVersion, 0xfd, 0x80, 0x00}, sha8(filter)...))
	for _, tok := range []string{"AX0zcSl7wIp6JB", issued[:len(issued)-1] + string(issued[len(issued)-1]+1), overlong} {
		if tok == issued {
			continue
		}
		if next, err := decodePageToken(tok, filter); !errors.Is(err, errBadPageToken) {
			t.Errorf("token %q: got page %d, %v; want %v", tok, next, err, errBadPageToken)
		}
	}
}

func sha8(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:8]
}
