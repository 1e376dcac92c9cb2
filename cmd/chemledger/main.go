// Command chemledger is the command-line client of a chemledger log: it
// signs and submits shipment events, reads entries and checkpoints, and
// verifies inclusion and consistency proofs; for analysts it lists and shows
// the detector's flags with their evidence verified, records signed
// dispositions, follows shipments across members, and prints the rules and
// flag counts. Like etcdctl, it has one file per verb.
//
// It holds no rules of its own: what it checks, the client library checks.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(os.Getenv).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "chemledger: %v\n", err)
		os.Exit(1)
	}
}
