// Command ledgerbench measures the ledger's write and proof paths on this
// machine, durable (fsync on), with a bare-bbolt baseline in the same run so
// the ratio means something:
//
//	go run ./cmd/ledgerbench baseline   bare bbolt, same value size and batching
//	go run ./cmd/ledgerbench unary      64 concurrent gRPC clients, unary submit (-tls: over mutual TLS)
//	go run ./cmd/ledgerbench unary-tls  unary in plaintext, then over mutual TLS, and the ratio
//	go run ./cmd/ledgerbench auditread  GetEntry latency over mutual TLS with the audit trail on and off
//	go run ./cmd/ledgerbench bulk       bulk streams
//	go run ./cmd/ledgerbench sequencer  the durable write path alone, admission excluded
//	go run ./cmd/ledgerbench all        baseline, unary and bulk in one run
//	go run ./cmd/ledgerbench million    a 1,000,000-entry log: heap, restart, proof latency
//	go run ./cmd/ledgerbench freshness  commit-to-queryable flag latency under a steady -rate of events
//	go run ./cmd/ledgerbench analyst    detection over a log of -flags flags; ListFlags, GetShipment, GetStats
//	go run ./cmd/ledgerbench fairness   a victim member's submissions alone and beside a flooding member, in turn
//	go run ./cmd/ledgerbench witness    submit → witnessed checkpoint latency at a steady -rate, three witnesses on loopback
//	go run ./cmd/ledgerbench mirror     a mirror catching up with an upstream of -entries entries, verifying everything
//	go run ./cmd/ledgerbench watch      write throughput with and without -watches watches; commit-to-delivery latency at -rate
//	go run ./cmd/ledgerbench keyring    chemledger submit --keyring: -entries events of 8 members interleaved line by line, over mutual TLS
//	go run ./cmd/ledgerbench console    the console's flag queue over -flags flags: first-page server time and transfer
//
// Every mode starts from an empty temporary directory and removes it after.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"
)

// profileStart starts the CPU profile, if one was asked for.
var profileStart = func() {}

type config struct {
	clients int
	streams int
	// victims and flooders are the fairness mode's two members' unary
	// submitters.
	victims  int
	flooders int
	// memberShare overrides ledger.DefaultMemberShare (0: the default).
	memberShare int
	duration    time.Duration
	entries     int
	rate        int
	flags       int
	dir         string
	target      string
	targetDir   string
	watches     int
	rounds      int
	// tls serves and connects over mutual TLS, each client with the demo
	// certificate of the member it acts as.
	tls bool
	// litewitness runs the witness mode against litewitness processes.
	litewitness bool
	out         io.Writer
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ledgerbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ledgerbench", flag.ContinueOnError)
	var c config
	fs.IntVar(&c.clients, "clients", 64, "concurrent unary clients")
	fs.IntVar(&c.streams, "streams", 4, "concurrent bulk streams")
	fs.IntVar(&c.victims, "victims", 2, "fairness: the victim member's concurrent submitters")
	fs.IntVar(&c.flooders, "flooders", 200, "fairness: the flooding member's concurrent submitters")
	fs.IntVar(&c.memberShare, "member-share", 0, "fairness: each member's share of a batch under contention (0: ledger.DefaultMemberShare)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long each throughput run lasts")
	fs.IntVar(&c.entries, "entries", 1_000_000, "log size for the million and mirror modes")
	fs.IntVar(&c.rate, "rate", 2000, "freshness and witness: events/s")
	fs.IntVar(&c.flags, "flags", 100_000, "analyst: flag-raising notifications in the log")
	fs.IntVar(&c.watches, "watches", 100, "watch: open watches of the whole log")
	fs.IntVar(&c.rounds, "rounds", 3, "watch: rounds of runs with and without watches, interleaved")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	fs.StringVar(&c.target, "target", "", "unary: measure a running chemledgerd at this gRPC address instead of an in-process one")
	fs.StringVar(&c.targetDir, "target-data-dir", "./chemledger-data", "with -target: the server's dev data dir, for a member key")
	fs.BoolVar(&c.tls, "tls", false, "unary: serve and connect over mutual TLS (each client with its member's submitter certificate)")
	fs.BoolVar(&c.litewitness, "litewitness", false, "witness: three litewitness processes instead of in-process witnesses")
	fs.StringVar(&c.dir, "dir", "", "parent of the temporary data directory (default: the system temp dir)")
	if len(args) == 0 {
		return fmt.Errorf("usage: ledgerbench baseline|unary|unary-tls|auditread|bulk|sequencer|all|million|freshness|analyst|fairness|witness|mirror|watch|console|keyring [flags]")
	}
	mode := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c.out = os.Stdout
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		// The profile starts when the measured phase does, after the
		// envelopes are signed.
		profileStart = func() {
			if err := pprof.StartCPUProfile(f); err == nil {
				profileStart = func() {}
			}
		}
		defer pprof.StopCPUProfile()
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if c.tls && mode != "unary" {
		return fmt.Errorf("-tls applies to the unary mode (unary-tls and auditread always use mutual TLS)")
	}
	switch mode {
	case "baseline":
		_, err := runBaseline(ctx, c)
		return err
	case "unary":
		_, err := unary(ctx, c)
		return err
	case "unary-tls":
		plain, err := unary(ctx, c)
		if err != nil {
			return err
		}
		c.tls = true
		secure, err := unary(ctx, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "\nunary over mutual TLS %.0f/s = %.1f%% of plaintext %.0f/s (target: at least 80%%)\n", secure, 100*secure/plain, plain)
		return nil
	case "auditread":
		return auditRead(ctx, c)
	case "bulk":
		_, err := bulk(ctx, c)
		return err
	case "all":
		base, err := runBaseline(ctx, c)
		if err != nil {
			return err
		}
		u, err := unary(ctx, c)
		if err != nil {
			return err
		}
		b, err := bulk(ctx, c)
		if err != nil {
			return err
		}
		sq, err := sequencer(ctx, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "\nunary %.0f/s = %.1f%% of the bare-bbolt baseline %.0f/s; bulk %.0f/s; write path alone %.0f/s\n", u, 100*u/base, base, b, sq)
		return nil
	case "sequencer":
		_, err := sequencer(ctx, c)
		return err
	case "million":
		return million(ctx, c)
	case "freshness":
		return freshness(ctx, c)
	case "analyst":
		return analyst(ctx, c)
	case "fairness":
		return fairness(ctx, c)
	case "witness":
		return witnessLatency(ctx, c)
	case "mirror":
		return mirrorCatchUp(ctx, c)
	case "keyring":
		return keyringSubmit(ctx, c)
	case "watch":
		return watchBench(ctx, c)
	case "console":
		return consoleQueue(ctx, c)
	}
	return fmt.Errorf("unknown mode %q", mode)
}

func tempDir(c config) (string, func(), error) {
	d, err := os.MkdirTemp(c.dir, "ledgerbench-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}
