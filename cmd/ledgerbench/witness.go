package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/chemledger/chemledger/internal/cosign"
	"github.com/chemledger/chemledger/internal/cosign/cosigntest"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/server/servertest"
	"github.com/chemledger/chemledger/witness"
)

// witnessLatency measures how long a new entry waits for a checkpoint that
// covers it with a witness quorum: a steady -rate of submissions for
// -duration into the durable ledger, three tlog-witness witnesses on
// loopback HTTP (cosigntest: the protocol, checks and signatures, state in
// memory), a 2-of-3 policy, the feeder at its default cadence. An entry's
// latency runs from its submission to the first served checkpoint with
// quorum that covers it.
func witnessLatency(ctx context.Context, c config) error {
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return err
	}
	defer cleanup()
	in, err := servertest.Start(dir, servertest.Options{})
	if err != nil {
		return err
	}
	defer in.Stop()
	var text strings.Builder
	kind := "cosigntest (in-process, state in memory)"
	if c.litewitness {
		kind = "litewitness (SQLite, ssh-agent)"
		lines, stop, err := liteWitnesses(dir, 3, in.Ledger.Origin(), in.VerifierKey)
		defer stop()
		if err != nil {
			return err
		}
		for _, l := range lines {
			text.WriteString(l)
		}
	} else {
		for i := range 3 {
			w, err := cosigntest.Start(fmt.Sprintf("w%d.bench", i+1), in.Ledger.Verifier())
			if err != nil {
				return err
			}
			defer w.Close()
			text.WriteString(w.PolicyLine(fmt.Sprintf("w%d", i+1)))
		}
	}
	text.WriteString("group g 2 w1 w2 w3\nquorum g\n")
	p, err := witness.ParsePolicy([]byte(text.String()))
	if err != nil {
		return err
	}
	cfg := cosign.DefaultConfig(p)
	cfg.Logger = slog.Default()
	f, err := cosign.New(in.Ledger, cfg)
	if err != nil {
		return err
	}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go f.Run(fctx)

	n := c.rate * int(c.duration/time.Second)
	envs, err := signedEnvelopes(0, n, in.Keys["CN-GACC"])
	if err != nil {
		return err
	}
	sent := make([]time.Time, n)
	lat := make([]time.Duration, 0, n)
	// One goroutine submits at the steady rate: index order is send order.
	errc := make(chan error, 1)
	go func() {
		start := time.Now()
		for i, env := range envs {
			time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(c.rate))))
			sent[i] = time.Now()
			if _, err := in.Ledger.Enqueue(ctx, ledger.Submission{
				ID: fmt.Sprintf("w-%d", i), Leaf: env, Member: "CN-GACC",
				ShipmentRef: fmt.Sprintf("PEN-CN-2026-%06d", i%100000), CAS: "39742-60-4", Kind: "PRE_EXPORT_NOTIFICATION",
			}, false); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	rounds := 0
	covered := uint64(0)
	for covered < uint64(n) {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cp, _, err := f.WaitServed(wctx, covered+1)
		cancel()
		if err != nil {
			return fmt.Errorf("no witnessed checkpoint beyond %d within 10s: %w", covered, err)
		}
		now := time.Now()
		for i := covered; i < cp.Size; i++ {
			lat = append(lat, now.Sub(sent[i]))
		}
		covered = cp.Size
		rounds++
	}
	if err := <-errc; err != nil {
		return err
	}
	p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
	fmt.Fprintf(c.out, "witness: %d entries at %d/s, 3 %s witnesses (2 of 3), cadence %v: %d witnessed checkpoints; submit → checkpoint with quorum p50 %.1fms p99 %.1fms max %.1fms (target p99 ≤ 1000ms: %s)\n",
		n, c.rate, kind, cfg.Interval, rounds, ms(p50), ms(p99), ms(lat[len(lat)-1]), verdict(p99 <= time.Second))
	return nil
}
