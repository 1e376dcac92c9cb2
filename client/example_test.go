package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/client/clienttest"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// exampleLog starts a fake log and returns it with a client that pins its
// key and a member key to sign with. A real caller dials the log's address
// and pins the key the log operator publishes.
func exampleLog() (*clienttest.Server, *client.Client, envelope.Signer) {
	srv, err := clienttest.Start(clienttest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.Dial(srv.Addr, client.WithLogVerifierKey(srv.VerifierKey))
	if err != nil {
		log.Fatal(err)
	}
	key, err := members.GenerateKey("US-CBP")
	if err != nil {
		log.Fatal(err)
	}
	return srv, c, key.Signer()
}

func ExampleClient_Submit() {
	srv, c, signer := exampleLog()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()

	ev := &chemledgerv1.ShipmentEvent{
		EventId:         "EXP-2026-0001",
		Kind:            chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION,
		ShipmentRef:     "PEN-US-2026-000123",
		Chemical:        &chemledgerv1.Chemical{Cas: "39742-60-4"},
		Quantity:        &chemledgerv1.Quantity{Value: 25, Unit: "KGM"},
		LocationCountry: "US",
	}
	// The receipt is returned only after its checkpoint signature and
	// inclusion proof have been checked.
	r, err := c.Submit(ctx, "US-CBP:EXP-2026-0001", ev, signer)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("entry %d verified in a tree of size %d\n", r.Index, r.Checkpoint.Size)

	// Retrying after, say, a timeout is safe: the same id and bytes get the
	// original receipt.
	again, err := c.Submit(ctx, "US-CBP:EXP-2026-0001", ev, signer)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("retry: entry %d\n", again.Index)
	// Output:
	// entry 0 verified in a tree of size 1
	// retry: entry 0
}

func ExampleClient_SubmitStream() {
	srv, c, signer := exampleLog()
	defer srv.Close()
	defer c.Close()

	var items []client.Item
	for _, id := range []string{"EXP-1", "EXP-2", "", "EXP-3"} {
		ev := &chemledgerv1.ShipmentEvent{EventId: id, Kind: chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION, LocationCountry: "US"}
		payload, err := envelope.EncodeEventJSON(ev)
		if err != nil {
			log.Fatal(err)
		}
		env, err := envelope.Sign(envelope.PayloadTypeEventJSON, payload, signer)
		if err != nil {
			log.Fatal(err)
		}
		items = append(items, client.Item{SubmissionID: fmt.Sprintf("US-CBP:item-%d", len(items)), Envelope: env})
	}
	err := c.SubmitStream(context.Background(), slices.Values(items), func(r client.BulkResult) {
		if ie, ok := client.AsItemError(r.Err); ok {
			fmt.Printf("%d %s refused: %v %v\n", r.Position, r.SubmissionID, ie.Code, ie.FieldViolations)
			return
		}
		fmt.Printf("%d %s: entry %d verified\n", r.Position, r.SubmissionID, r.Index)
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// 0 US-CBP:item-0: entry 0 verified
	// 1 US-CBP:item-1: entry 1 verified
	// 2 US-CBP:item-2 refused: InvalidArgument [{event.event_id required}]
	// 3 US-CBP:item-3: entry 2 verified
}

func ExampleClient_VerifyInclusion() {
	srv, c, _ := exampleLog()
	defer srv.Close()
	defer c.Close()
	srv.AppendLeaves([]byte("one"), []byte("two"), []byte("three"))

	cp, err := c.VerifyInclusion(context.Background(), 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("entry 1 is included in the tree of size %d: verified\n", cp.Size)
	// Output:
	// entry 1 is included in the tree of size 3: verified
}

func ExampleClient_VerifyConsistency() {
	srv, c, _ := exampleLog()
	defer srv.Close()
	defer c.Close()
	ctx := context.Background()
	srv.AppendLeaves([]byte("one"), []byte("two"))

	// An auditor keeps the signed checkpoint it saw...
	_, kept, err := c.Checkpoint(ctx)
	if err != nil {
		log.Fatal(err)
	}
	// ...and later checks that the log only grew since.
	srv.AppendLeaves([]byte("three"))
	latest, kept, err := c.VerifyConsistency(ctx, kept)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("the log of size %d extends the kept checkpoint: verified\n", latest.Size)

	// A log that rewrites its history is caught, with both signed
	// checkpoints as evidence.
	srv.Rewrite(1, []byte("TWO"), []byte("three"), []byte("four"))
	_, _, err = c.VerifyConsistency(ctx, kept)
	var ce *client.ConsistencyError
	fmt.Println("history rewritten:", errors.As(err, &ce))
	// Output:
	// the log of size 3 extends the kept checkpoint: verified
	// history rewritten: true
}
