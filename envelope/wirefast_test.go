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

func BenchmarkDecodeWire(b *testing.B) {
	env := []byte(`{"payloadType":"application/vnd.chemledger.shipment-event.v1+proto","payload":"` +
		string(make([]byte, 0)) + `CgpCRU5DSC0wMDAwMDAwMDAxEAEaElBFTi1DTi0yMDI2LTAwMDAwMSI1CgozOTc0Mi02MC00EgYyOTMzMzcaGE4tUGhlbmV0aHlsLTQtcGlwZXJpZG9uZSoMCQAAAAAAQFlAEgNLR00yJgoiSGFuZ3pob3UgRXhhbXBsZSBGaW5lIENoZW1pY2FsIENvLhICQ046JgoiRGlzdHJpYnVpZG9yYSBFamVtcGxvIFMuQS4gZGUgQy5WLhICTVhCHQoZTGFib3JhdG9yaW9zIEVqZW1wbG8gUy5BLhICTVhKBgiA8K+sBlICQ04=` +
		`","signatures":[{"keyid":"CN-GACC-2026-01","sig":"` + "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJqw==" + `"}]}`)
	for _, c := range []struct {
		name string
		read func([]byte) (wire, error)
	}{
		{"scan", decodeWire},
		{"tokens", decodeWireTokens},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.read(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
