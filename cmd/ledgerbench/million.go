package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
	"github.com/chemledger/chemledger/storage"
)

// million appends c.entries signed envelopes straight to the ledger (the
// durable group-commit path, without the network and admission), then
// reports the Go heap in use, the restart time with each start-up check,
// and the latency of in-process inclusion proofs for random leaves.
func million(ctx context.Context, c config) error {
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return err
	}
	defer cleanup()
	layout := datadir.Layout{Dir: dir}
	if err := datadir.EnsureDev(layout); err != nil {
		return err
	}
	logKeys, err := datadir.ReadLogKeys(layout)
	if err != nil {
		return err
	}
	signer, verifier := logKeys.Signer, logKeys.Verifier
	key, err := members.ReadPrivateKey(layout.MemberKey("CN-GACC"))
	if err != nil {
		return err
	}
	open := func(v ledger.Verification) (*ledger.Ledger, *storage.Store, time.Duration, error) {
		start := time.Now()
		st, err := storage.Open(filepath.Join(dir, "ledger.db"), storage.DefaultOptions())
		if err != nil {
			return nil, nil, 0, err
		}
		cfg := ledger.DefaultConfig(signer, verifier)
		cfg.VerifyOnOpen = v
		cfg.NewLog = true              // the benchmark's own directory, new on the first open
		cfg.Describe = server.Describe // as chemledgerd checks at start
		l, err := ledger.Open(st, cfg)
		if err != nil {
			st.Close()
			return nil, nil, 0, err
		}
		return l, st, time.Since(start), nil
	}

	l, st, _, err := open(ledger.VerifyFull)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := appendSigned(ctx, l, c.entries, key); err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(c.out, "appended %d signed ~500-byte envelopes in %.1fs (%.0f/s, signing included)\n", c.entries, elapsed.Seconds(), float64(c.entries)/elapsed.Seconds())

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(c.out, "Go heap after appending: HeapInuse %.1f MiB, HeapAlloc %.1f MiB (Sys %.1f MiB)\n",
		mib(ms.HeapInuse), mib(ms.HeapAlloc), mib(ms.Sys))

	proofLatency(ctx, c, l, "before restart")
	l.Close()
	st.Close()

	for _, v := range []struct {
		name string
		v    ledger.Verification
	}{{"full (rehash every entry and node)", ledger.VerifyFull}, {"state (signed checkpoint vs stored tree state)", ledger.VerifyState}} {
		l, st, took, err := open(v.v)
		if err != nil {
			return err
		}
		cp, _ := l.Checkpoint()
		fmt.Fprintf(c.out, "restart with %d entries, check %s: %v\n", cp.Size, v.name, took.Round(time.Millisecond))
		if v.v == ledger.VerifyFull {
			proofLatency(ctx, c, l, "after restart")
		}
		l.Close()
		st.Close()
	}
	return nil
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// appendSigned signs n events on every core and hands them to the ledger,
// keeping the queue full.
func appendSigned(ctx context.Context, l *ledger.Ledger, n int, key members.PrivateKey) error {
	signer := key.Signer()
	outcomes := make(chan (<-chan ledger.Outcome), 16384)
	var (
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range outcomes {
			if o := <-ch; o.Err != nil {
				fail(o.Err)
			}
		}
	}()
	enqueue := func(i int) error {
		payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(event(i))
		if err != nil {
			return err
		}
		env, err := envelope.Sign(envelope.PayloadTypeEventProto, payload, signer)
		if err != nil {
			return err
		}
		// Indexed as admission indexes it, so that the full check at
		// restart, which derives the same fields, finds them.
		ix, err := server.Describe(env, storage.Meta{Member: "CN-GACC"})
		if err != nil {
			return err
		}
		ch, err := l.Enqueue(ctx, ledger.Submission{
			ID: fmt.Sprintf("m-%d", i), Leaf: env, Member: "CN-GACC",
			ShipmentRef: ix.ShipmentRef, CAS: ix.CAS, Kind: ix.Kind, EventKey: ix.EventKey,
		}, false)
		if err != nil {
			return err
		}
		outcomes <- ch
		return nil
	}
	onEveryCore(n, func(i int) error {
		err := enqueue(i)
		if err != nil {
			fail(err) // in the order it happens, as the outcomes' errors are
		}
		return err
	})
	close(outcomes)
	<-done
	return firstErr
}

func proofLatency(ctx context.Context, c config, l *ledger.Ledger, when string) {
	cp, _ := l.Checkpoint()
	const samples = 20000
	lat := make([]time.Duration, 0, samples)
	r := rand.New(rand.NewPCG(1, 2))
	for range samples {
		i := r.Uint64N(cp.Size)
		t := time.Now()
		if _, _, err := l.InclusionProof(ctx, i, 0); err != nil {
			fmt.Fprintf(c.out, "proof %d: %v\n", i, err)
			return
		}
		lat = append(lat, time.Since(t))
	}
	fmt.Fprintf(c.out, "inclusion proof, random leaf of %d (%s, %d samples): p50 %.3fms p99 %.3fms max %.3fms\n",
		cp.Size, when, samples, ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), ms(lat[len(lat)-1]))
}

// sequencer measures the durable write path alone: envelopes signed and
// admitted beforehand, handed straight to the ledger from many goroutines,
// committed in groups with fsync. It is what the bulk path could reach if
// admission (above all the Ed25519 check) cost nothing.
func sequencer(ctx context.Context, c config) (float64, error) {
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	in, err := servertest.Start(dir, servertest.Options{})
	if err != nil {
		return 0, err
	}
	defer in.Stop()
	const n = 200000
	envs, err := signedEnvelopes(0, n, in.Keys["CN-GACC"])
	if err != nil {
		return 0, err
	}
	profileStart()
	start := time.Now()
	outcomes := make(chan (<-chan ledger.Outcome), n)
	for i, env := range envs {
		ch, err := in.Ledger.Enqueue(ctx, ledger.Submission{
			ID: fmt.Sprintf("s-%d", i), Leaf: env, Member: "CN-GACC",
			ShipmentRef: fmt.Sprintf("PEN-CN-2026-%06d", i%100000), CAS: "39742-60-4", Kind: "PRE_EXPORT_NOTIFICATION",
		}, false)
		if err != nil {
			return 0, err
		}
		outcomes <- ch
	}
	close(outcomes)
	for ch := range outcomes {
		if o := <-ch; o.Err != nil {
			return 0, o.Err
		}
	}
	return report(c, "sequencer(pre-admitted)", n, time.Since(start), nil), nil
}
