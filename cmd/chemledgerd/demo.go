package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/datadir"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/eventfile"
	"github.com/chemledger/chemledger/members"
)

// runDemo shows a newcomer the service doing its job: it submits a file of
// events through the public gRPC API as the demo member agencies, checks
// every receipt's signed checkpoint and inclusion proof, proves the log grew
// consistently, and says how to look further.
func runDemo(ctx context.Context, path, grpcAddr, httpAddr string, layout datadir.Layout, vkey string, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := client.Dial(grpcAddr, client.WithLogVerifierKey(vkey))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	_, kept, err := c.Checkpoint(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== demo: submitting %s as the demo member agencies ==\n", path)
	keys := map[string]members.PrivateKey{}
	n := 0
	for line := range eventfile.Read(f) {
		if line.Err != nil {
			return line.Err
		}
		member, err := eventfile.DemoMemberFor(line.Event)
		if err != nil {
			return fmt.Errorf("line %d: %w", line.Number, err)
		}
		key, ok := keys[member]
		if !ok {
			if key, err = members.ReadPrivateKey(layout.MemberKey(member)); err != nil {
				return err
			}
			keys[member] = key
		}
		env, err := envelope.Sign(envelope.PayloadTypeEventJSON, line.Raw, key.Signer())
		if err != nil {
			return err
		}
		r, err := c.SubmitEnvelope(ctx, eventfile.SubmissionID(member, line), env)
		if err != nil {
			return fmt.Errorf("line %d: %w", line.Number, err)
		}
		n++
		ev := line.Event
		fmt.Fprintf(out, "  entry %3d  %-9s %-21s %-26s %9.1f %s  receipt verified (checkpoint %d)\n",
			r.Index, member, ev.GetShipmentRef(), ev.GetKind().String()[len("EVENT_KIND_"):],
			ev.GetQuantity().GetValue(), ev.GetQuantity().GetUnit(), r.Checkpoint.Size)
	}
	latest, _, err := c.VerifyConsistency(ctx, kept)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "== %d events submitted; every receipt's checkpoint signature and inclusion proof verified;\n", n)
	fmt.Fprintf(out, "   the log of %d entries is consistent with the checkpoint kept before the demo ==\n", latest.Size)
	fmt.Fprintf(out, "Look further:\n")
	fmt.Fprintf(out, "  curl -s http://%s/v1/checkpoint\n", httpAddr)
	fmt.Fprintf(out, "  curl -s 'http://%s/v1/entries?filter=shipment_ref%%3D%%22PEN-CN-2026-000871%%22'\n", httpAddr)
	fmt.Fprintf(out, "  go run ./cmd/chemledger list --filter 'kind = RECEIPT_CONFIRMATION'\n")
	fmt.Fprintf(out, "  go run ./cmd/chemledger verify inclusion 3\n")
	fmt.Fprintf(out, "The service keeps running; stop it with Ctrl-C.\n\n")
	return nil
}
