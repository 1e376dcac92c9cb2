package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/chemledger/chemledger/internal/cosign"
	"github.com/chemledger/chemledger/internal/cosign/cosigntest"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/mirror"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
	"github.com/chemledger/chemledger/storage"
	"github.com/chemledger/chemledger/witness"
)

// mirrorCatchUp measures a mirror catching up with an upstream of -entries
// entries: every checkpoint's signature and quorum, every hash tile against
// the root, every entry's leaf hash and DSSE signature, and the durable
// append into the mirror's own store, over loopback HTTP from the
// upstream's tlog-tiles API.
func mirrorCatchUp(ctx context.Context, c config) error {
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return err
	}
	defer cleanup()
	var feeder *cosign.Feeder
	var policy *witness.Policy
	var witnesses []*cosigntest.Witness
	in, err := servertest.Start(filepath.Join(dir, "primary"), servertest.Options{NoDetection: true, Checkpoints: func(l *ledger.Ledger) server.CheckpointSource {
		var text strings.Builder
		for i := range 3 {
			w, err := cosigntest.Start(fmt.Sprintf("w%d.bench", i+1), l.Verifier())
			if err != nil {
				panic(err)
			}
			witnesses = append(witnesses, w)
			text.WriteString(w.PolicyLine(fmt.Sprintf("w%d", i+1)))
		}
		text.WriteString("group g 2 w1 w2 w3\nquorum g\n")
		if policy, err = witness.ParsePolicy([]byte(text.String())); err != nil {
			panic(err)
		}
		cfg := cosign.DefaultConfig(policy)
		cfg.Logger = slog.Default()
		if feeder, err = cosign.New(l, cfg); err != nil {
			panic(err)
		}
		return feeder
	}})
	if err != nil {
		return err
	}
	defer in.Stop()
	for _, w := range witnesses {
		defer w.Close()
	}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go feeder.Run(fctx)

	start := time.Now()
	if err := appendSigned(ctx, in.Ledger, c.entries, in.Keys["CN-GACC"]); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	_, _, err = feeder.WaitServed(wctx, uint64(c.entries))
	cancel()
	if err != nil {
		return fmt.Errorf("upstream not witnessed: %w", err)
	}
	fmt.Fprintf(c.out, "upstream: %d entries appended and witnessed in %v\n", c.entries, time.Since(start).Round(time.Millisecond))

	reg, err := members.Load(datadir.Layout{Dir: in.Dir}.Members())
	if err != nil {
		return err
	}
	st, err := storage.Open(filepath.Join(dir, "mirror.db"), storage.DefaultOptions())
	if err != nil {
		return err
	}
	defer st.Close()
	lcfg := ledger.DefaultConfig(nil, in.Ledger.Verifier())
	lcfg.Mirror = true
	m, err := ledger.Open(st, lcfg)
	if err != nil {
		return err
	}
	defer m.Close()
	f, err := mirror.New(m, mirror.Config{
		Upstream: "http://" + in.HTTPAddr, Client: &http.Client{Timeout: time.Minute}, Policy: policy,
		Admit: server.MirrorAdmitter(reg, slog.Default()),
	})
	if err != nil {
		return err
	}
	profileStart()
	start = time.Now()
	cpu0 := cpuTime()
	if err := f.Sync(ctx); err != nil {
		return err
	}
	elapsed := time.Since(start)
	// The process's CPU time over the catch-up (the upstream serving its
	// tiles is in it too): on a shared machine the wall-clock rate says how
	// busy the neighbours were, this says what the work costs.
	cpu := cpuTime() - cpu0
	cp, _ := m.Checkpoint()
	up, _ := in.Ledger.Checkpoint()
	if !cp.Equal(up) {
		return fmt.Errorf("the mirror's checkpoint (%d) is not the upstream's (%d)", cp.Size, up.Size)
	}
	rate := float64(cp.Size) / elapsed.Seconds()
	fmt.Fprintf(c.out, "mirror catch-up: %d entries verified (tiles, leaf hashes, DSSE signatures, quorum) and stored in %v = %.0f entries/s (target ≥ 10,000/s: %s); CPU %.1fs = %.0f entries per CPU-second, %.0f%% of %d cores busy\n",
		cp.Size, elapsed.Round(time.Millisecond), rate, verdict(rate >= 10000), cpu.Seconds(), float64(cp.Size)/cpu.Seconds(),
		100*cpu.Seconds()/elapsed.Seconds()/float64(runtime.NumCPU()), runtime.NumCPU())
	return nil
}

// cpuTime is the user and system time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
