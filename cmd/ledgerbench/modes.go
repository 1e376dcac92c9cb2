package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
	"github.com/chemledger/chemledger/storage/baseline"
)

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[min(len(lat)-1, int(float64(len(lat))*p))]
}

func report(c config, name string, n int, elapsed time.Duration, lat []time.Duration) float64 {
	rate := float64(n) / elapsed.Seconds()
	fmt.Fprintf(c.out, "%-9s %8d events in %6.2fs = %8.0f events/s", name, n, elapsed.Seconds(), rate)
	if len(lat) > 0 {
		fmt.Fprintf(c.out, "  p50 %6.2fms  p99 %6.2fms", ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99)))
	}
	fmt.Fprintln(c.out)
	return rate
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// envelopeSize is the size of a signed benchmark envelope.
func envelopeSize() (int, error) {
	// Any member key signs an envelope of the same size: no service needed.
	key, err := members.GenerateKey("CN-GACC")
	if err != nil {
		return 0, err
	}
	envs, err := signedEnvelopes(0, 1, key)
	if err != nil {
		return 0, err
	}
	return len(envs[0]), nil
}

func runBaseline(ctx context.Context, c config) (float64, error) {
	size, err := envelopeSize()
	if err != nil {
		return 0, err
	}
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	res, err := baseline.Run(ctx, dir, c.clients, size, ledger.DefaultMaxBatch, c.duration)
	if err != nil {
		return 0, err
	}
	return report(c, fmt.Sprintf("baseline(%dB values, %d writers)", size, c.clients), res.Writes, res.Elapsed, res.Latencies), nil
}

// unary runs c.clients concurrent clients, each on its own connection,
// each submitting pre-signed envelopes one at a time with CreateEntry.
func unary(ctx context.Context, c config) (float64, error) {
	in, stop, err := target(c)
	if err != nil {
		return 0, err
	}
	defer stop()

	// Enough envelopes for ~12,000 events/s over the run, signed before
	// the clock starts. Client cl acts as submitter memberOf(cl) and signs
	// as it: with mTLS the service refuses an envelope signed by anyone but
	// the caller.
	perClient := max(200, int(12000*c.duration.Seconds())/c.clients)
	first := int(time.Now().UnixNano() % 1e12)
	ids := submitters(c)
	memberOf := func(cl int) string { return ids[cl%len(ids)] }
	signers := map[string]envelope.Signer{}
	for _, m := range ids {
		signers[m] = in.Keys[m].Signer()
	}
	envs, err := signedEnvelopesBy(first, c.clients*perClient, func(i int) envelope.Signer { return signers[memberOf(i/perClient)] })
	if err != nil {
		return 0, err
	}
	conns, err := connect(ctx, c.clients, func(i int) (*grpc.ClientConn, error) {
		return dialAs(c, in, memberOf(i), pki.RoleSubmitter)
	})
	if err != nil {
		return 0, err
	}
	defer closeAll(conns)
	apis := make([]chemledgerv1.LedgerServiceClient, len(conns))
	for i, conn := range conns {
		apis[i] = chemledgerv1.NewLedgerServiceClient(conn)
	}
	runtime.GC()
	profileStart()
	deadline := time.Now().Add(c.duration)
	start := time.Now()
	lat, errs := timedCalls(c.clients, func(i int) bool { return i < perClient && time.Now().Before(deadline) }, func(cl, i int) error {
		n := cl*perClient + i
		_, err := apis[cl].CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: fmt.Sprintf("bench-%d", first+n), Envelope: envs[n]})
		return err
	})
	elapsed := time.Since(start)
	if len(errs) > 0 {
		return 0, fmt.Errorf("unary: %d errors, first: %w", len(errs), errs[0])
	}
	name := fmt.Sprintf("unary(%d clients)", c.clients)
	if c.tls {
		name = fmt.Sprintf("unary mTLS(%d clients as %d members)", c.clients, len(ids))
	}
	return report(c, name, len(lat), elapsed, lat), nil
}

// timedCalls runs one goroutine per g in [0, goroutines), each making
// call(g, i) for i = 0, 1, ... while more(i) holds, and returns the latency
// of every call that succeeded. A goroutine stops at its first error; the
// errors are returned too.
func timedCalls(goroutines int, more func(i int) bool, call func(g, i int) error) ([]time.Duration, []error) {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			var mine []time.Duration
			for i := 0; more(i); i++ {
				t := time.Now()
				if err := call(g, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					break
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat, errs
}

// connect opens n connections with dial(i) and makes one call on each, so
// that setting them up (with mTLS, the handshake) is done before the clock
// starts. On an error it closes those it opened.
func connect(ctx context.Context, n int, dial func(i int) (*grpc.ClientConn, error)) ([]*grpc.ClientConn, error) {
	conns := make([]*grpc.ClientConn, 0, n)
	for i := range n {
		conn, err := dial(i)
		if err == nil {
			conns = append(conns, conn)
			_, err = chemledgerv1.NewLedgerServiceClient(conn).GetCheckpoint(ctx, &chemledgerv1.GetCheckpointRequest{})
		}
		if err != nil {
			closeAll(conns)
			return nil, err
		}
	}
	return conns, nil
}

func closeAll(conns []*grpc.ClientConn) {
	for _, c := range conns {
		c.Close()
	}
}

// submitters are the members the unary clients act as: CN-GACC alone in
// plaintext, as the ledger core benchmark ran; with mTLS every demo member,
// so that 64 clients are several agencies' and no one member's rate limit
// (DefaultRatePerMember) is what is measured.
func submitters(c config) []string {
	if !c.tls {
		return []string{"CN-GACC"}
	}
	var ids []string
	for _, m := range datadir.DemoMembers {
		ids = append(ids, m.ID)
	}
	return ids
}

// dialAs connects to the service's gRPC listener as member in role: with
// that demo certificate over mutual TLS when c.tls, else in plaintext.
func dialAs(c config, in *servertest.Instance, member, role string) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if c.tls {
		cfg, err := in.ClientTLS(member, role)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	return grpc.NewClient(in.GRPCAddr, grpc.WithTransportCredentials(creds))
}

// bulk sends pre-signed envelopes over c.streams concurrent bulk streams.
func bulk(ctx context.Context, c config) (float64, error) {
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
	const perStream = 50000
	envs, err := signedEnvelopes(0, c.streams*perStream, in.Keys["CN-GACC"])
	if err != nil {
		return 0, err
	}
	conn, err := grpc.NewClient(in.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	api := chemledgerv1.NewLedgerServiceClient(conn)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		errs  []error
	)
	profileStart()
	start := time.Now()
	for s := range c.streams {
		wg.Go(func() {
			st, err := api.BulkCreateEntries(ctx)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			go func() {
				for i := range perStream {
					n := s*perStream + i
					if st.Send(&chemledgerv1.BulkCreateEntriesRequest{SubmissionId: fmt.Sprintf("bulk-%d", n), Envelope: envs[n]}) != nil {
						return
					}
				}
				st.CloseSend()
			}()
			got := 0
			for {
				resp, err := st.Recv()
				if err != nil {
					break
				}
				for _, r := range resp.GetResults() {
					if r.GetError() != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("item %d: %s", r.GetPosition(), r.GetError().GetMessage()))
						mu.Unlock()
						continue
					}
					got++
				}
			}
			mu.Lock()
			total += got
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(errs) > 0 {
		return 0, fmt.Errorf("bulk: %d errors, first: %w", len(errs), errs[0])
	}
	return report(c, fmt.Sprintf("bulk(%d streams)", c.streams), total, elapsed, nil), nil
}

// target is the service to measure: an in-process one over a temporary
// directory (with mutual TLS when c.tls, else insecure plaintext), or with
// -target a running chemledgerd (its dev data dir gives the member keys and,
// with -tls, the client certificates), so that clients and server can be
// separate processes.
func target(c config) (*servertest.Instance, func(), error) {
	if c.target != "" {
		layout := datadir.Layout{Dir: c.targetDir}
		keys := map[string]members.PrivateKey{}
		for _, m := range append(submitters(c), "CN-GACC") {
			k, err := members.ReadPrivateKey(layout.MemberKey(m))
			if err != nil {
				return nil, nil, err
			}
			keys[m] = k
		}
		return &servertest.Instance{GRPCAddr: c.target, Keys: keys, PKI: layout.TLS()}, func() {}, nil
	}
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return nil, nil, err
	}
	in, err := servertest.Start(dir, servertest.Options{TLS: c.tls})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return in, func() { in.Stop(); cleanup() }, nil
}
