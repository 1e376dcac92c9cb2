package server

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// TestEncodedWatchEntries: a watch's pre-encoded message is, once decoded,
// the WatchEntriesResponse the generated code would send.
func TestEncodedWatchEntries(t *testing.T) {
	var entries []*chemledgerv1.Entry
	var b wireBatch
	for i := range 3 {
		e := &chemledgerv1.Entry{Index: uint64(40 + i), LeafHash: bytes.Repeat([]byte{byte(i)}, 32), Member: "MX-ANAM", Leaf: []byte(`{"payload":"x"}`)}
		wire, err := proto.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
		b.add(wire, e.Index+1)
	}
	for _, size := range []uint64{43, 1 << 40} {
		msg, err := newProtoCodec().Marshal(b.message(size, b.next))
		if err != nil {
			t.Fatal(err)
		}
		var got chemledgerv1.WatchEntriesResponse
		if err := proto.Unmarshal(msg.Materialize(), &got); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		want := &chemledgerv1.WatchEntriesResponse{Entries: entries, CheckpointSize: size, NextIndex: 43}
		if !proto.Equal(&got, want) {
			t.Errorf("decoded %v, want %v", &got, want)
		}
	}
}
