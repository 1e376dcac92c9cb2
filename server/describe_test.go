package server_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
	"github.com/chemledger/chemledger/storage"
)

// TestDescribeMatchesAdmission submits the examples, as JSON and as binary
// protobuf payloads, and checks that Describe derives from each stored leaf
// the very index fields admission stored, and that the ledger's full check
// (which uses Describe) passes on reopening.
func TestDescribeMatchesAdmission(t *testing.T) {
	dir := t.TempDir()
	in, err := servertest.Start(dir, servertest.Options{NoDetection: true})
	if err != nil {
		t.Fatal(err)
	}
	c := ledgerClient(t, in)
	for i, ex := range signedExamples(t, in) {
		env := ex.env
		if i%2 == 1 {
			payload, err := proto.Marshal(ex.line.Event)
			if err != nil {
				t.Fatal(err)
			}
			env = signAs(t, in, ex.member, envelope.PayloadTypeEventProto, payload)
		}
		if _, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: ex.id, Envelope: env}); err != nil {
			t.Fatalf("submit %s: %v", ex.id, err)
		}
	}
	cp, _ := in.Ledger.Checkpoint()
	for i := range cp.Size {
		e, err := in.Ledger.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		got, err := server.Describe(e.Leaf, storage.Meta{Member: e.Meta.Member})
		if err != nil {
			t.Fatalf("Describe(entry %d): %v", i, err)
		}
		if got.ShipmentRef != e.Meta.ShipmentRef || got.CAS != e.Meta.CAS || got.Kind != e.Meta.Kind || got.EventKey == "" {
			t.Errorf("Describe(entry %d) = ref %q, CAS %q, kind %q, event key %q; admission stored ref %q, CAS %q, kind %q",
				i, got.ShipmentRef, got.CAS, got.Kind, got.EventKey, e.Meta.ShipmentRef, e.Meta.CAS, e.Meta.Kind)
		}
	}
	in.Stop()
	in, err = servertest.Start(dir, servertest.Options{NoDetection: true})
	if err != nil {
		t.Fatalf("reopen with the full check of every index: %v", err)
	}
	in.Stop()
}
