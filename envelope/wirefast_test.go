package envelope

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzScanWire checks that whatever the fast reader takes, the tokenizer
// reads the same way: scanWire may decline, never disagree.
func FuzzScanWire(f *testing.F) {
	for _, s := range []string{
		`{"payloadType":"application/vnd.chemledger.shipment-event.v1+json","payload":"e30=","signatures":[{"keyid":"k","sig":"AAAA"}]}`,
		` { "payload" : "e30=" , "payloadType":"x", "signatures" : [ { "sig":"a" , "keyid":"k" } , {"keyid":"j"} ] } ` + "\n",
		`{}`, `{"signatures":[]}`, `{"payload":"a","payload":"b"}`, `{"Payload":"a"}`, `{"payload":"a\u0041"}`,
		`{"payload":"a",}`, `{"payload":"a"} x`, `{"payload":null}`, `{"signatures":[{},]}`, `{"payload":"é€"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // Parse refuses it before either reader
		}
		fast, ok := scanWire(b)
		if !ok {
			return
		}
		slow, err := decodeWireTokens(b)
		if err != nil {
			t.Fatalf("scanWire took %q, the tokenizer refuses it: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: scanWire read %+v, the tokenizer %+v", b, fast, slow)
		}
	})
}
