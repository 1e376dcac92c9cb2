package server

import (
	"bytes"
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
