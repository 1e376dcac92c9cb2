package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"

	"google.golang.org/grpc"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// auditReadEntries is the log the readers read from.
const auditReadEntries = 2000

// readStats is one phase of auditRead.
type readStats struct {
	reads    int
	elapsed  time.Duration
	p50, p99 time.Duration
}

// auditRead measures what the audit trail adds to a read: GetEntry over
// mutual TLS against a service that keeps the audit trail (each read waits
// until its record is durable, group-committed with the others that
// arrived within the store's linger) and against one that does not. Each
// service is read first by one client at a time, then by c.clients
// concurrent clients, for half of c.duration each. Readers are analysts of
// every demo member in turn, so that no one member's rate limit is what is
// measured.
func auditRead(ctx context.Context, c config) error {
	c.tls = true
	var off, on [2]readStats
	for _, auditOn := range []bool{false, true} {
		stats, err := auditReadOnce(ctx, c, auditOn)
		if err != nil {
			return fmt.Errorf("audit %v: %w", auditOn, err)
		}
		if auditOn {
			on = stats
		} else {
			off = stats
		}
	}
	fmt.Fprintf(c.out, "\naudit write added to a GetEntry: one client p50 %+.2fms p99 %+.2fms; %d clients p50 %+.2fms p99 %+.2fms (throughput %.0f%% of audit off)\n",
		ms(on[0].p50-off[0].p50), ms(on[0].p99-off[0].p99), c.clients, ms(on[1].p50-off[1].p50), ms(on[1].p99-off[1].p99),
		100*rateOf(on[1])/rateOf(off[1]))
	return nil
}

func rateOf(s readStats) float64 { return float64(s.reads) / s.elapsed.Seconds() }

// auditReadOnce runs both phases against a fresh service with the audit
// trail on or off.
func auditReadOnce(ctx context.Context, c config, auditOn bool) ([2]readStats, error) {
	var out [2]readStats
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return out, err
	}
	defer cleanup()
	in, err := servertest.Start(dir, servertest.Options{TLS: true, Audit: auditOn})
	if err != nil {
		return out, err
	}
	defer in.Stop()
	if err := preload(ctx, c, in, auditReadEntries); err != nil {
		return out, fmt.Errorf("preload: %w", err)
	}
	ids := submitters(c)
	conns, err := connect(ctx, max(c.clients, len(ids)), func(i int) (*grpc.ClientConn, error) {
		return dialAs(c, in, ids[i%len(ids)], pki.RoleAnalyst)
	})
	if err != nil {
		return out, err
	}
	defer closeAll(conns)
	name := map[bool]string{false: "audit off", true: "audit on "}[auditOn]
	runtime.GC()
	profileStart()
	// One client at a time: the one goroutine turns from member to member.
	if out[0], err = readPhase(ctx, [][]*grpc.ClientConn{conns[:len(ids)]}, c.duration/2); err != nil {
		return out, err
	}
	reportReads(c, name+", 1 client", out[0])
	perClient := make([][]*grpc.ClientConn, c.clients)
	for i := range perClient {
		perClient[i] = conns[i : i+1]
	}
	if out[1], err = readPhase(ctx, perClient, c.duration/2); err != nil {
		return out, err
	}
	reportReads(c, fmt.Sprintf("%s, %d clients", name, c.clients), out[1])
	if in.Audit != nil {
		n, err := in.Audit.VerifyAll()
		if err != nil {
			return out, fmt.Errorf("audit trail: %w", err)
		}
		fmt.Fprintf(c.out, "          audit trail: %d records, chain verified\n", n)
	}
	return out, nil
}

// preload submits n events as CN-GACC over one bulk stream.
func preload(ctx context.Context, c config, in *servertest.Instance, n int) error {
	conn, err := dialAs(c, in, "CN-GACC", pki.RoleSubmitter)
	if err != nil {
		return err
	}
	defer conn.Close()
	signer := in.Keys["CN-GACC"].Signer()
	envs, err := signedEnvelopesBy(0, n, func(int) envelope.Signer { return signer })
	if err != nil {
		return err
	}
	st, err := chemledgerv1.NewLedgerServiceClient(conn).BulkCreateEntries(ctx)
	if err != nil {
		return err
	}
	go func() {
		for i, env := range envs {
			if st.Send(&chemledgerv1.BulkCreateEntriesRequest{SubmissionId: fmt.Sprintf("read-%d", i), Envelope: env}) != nil {
				return
			}
		}
		st.CloseSend()
	}()
	got := 0
	for {
		resp, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		for _, r := range resp.GetResults() {
			if r.GetError() != nil {
				return fmt.Errorf("item %d: %s", r.GetPosition(), r.GetError().GetMessage())
			}
			got++
		}
	}
	if got != n {
		return fmt.Errorf("%d of %d preloaded", got, n)
	}
	return nil
}

// readPhase runs one goroutine per element of clients for d, each reading
// random entries with GetEntry, one at a time, turning through its
// connections call by call.
func readPhase(ctx context.Context, clients [][]*grpc.ClientConn, d time.Duration) (readStats, error) {
	apis := make([][]chemledgerv1.LedgerServiceClient, len(clients))
	for g, conns := range clients {
		for _, conn := range conns {
			apis[g] = append(apis[g], chemledgerv1.NewLedgerServiceClient(conn))
		}
	}
	start := time.Now()
	deadline := start.Add(d)
	lat, errs := timedCalls(len(clients), func(int) bool { return time.Now().Before(deadline) }, func(g, i int) error {
		_, err := apis[g][i%len(apis[g])].GetEntry(ctx, &chemledgerv1.GetEntryRequest{Index: rand.Uint64N(auditReadEntries)})
		return err
	})
	elapsed := time.Since(start)
	if len(errs) > 0 {
		return readStats{}, fmt.Errorf("%d errors, first: %w", len(errs), errs[0])
	}
	return readStats{reads: len(lat), elapsed: elapsed, p50: percentile(lat, 0.50), p99: percentile(lat, 0.99)}, nil
}

func reportReads(c config, name string, s readStats) {
	fmt.Fprintf(c.out, "auditread %-22s %8d reads in %6.2fs = %8.0f reads/s  p50 %6.2fms  p99 %6.2fms\n",
		name, s.reads, s.elapsed.Seconds(), rateOf(s), ms(s.p50), ms(s.p99))
}
