// Command chemledger is the command-line client of a chemledger log: it
// signs and submits shipment events, reads entries and checkpoints, and
// verifies inclusion and consistency proofs, like etcdctl with one file per
// verb.
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
