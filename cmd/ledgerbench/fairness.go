package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// The members of the fairness mode: the victim submits at an ordinary pace,
// the flooder with every submitter it has.
const (
	fairnessVictim  = "MX-ANAM"
	fairnessFlooder = "CN-GACC"
	// fairnessReps is how many idle/flooded pairs are measured.
	fairnessReps = 3
)

// phaseStats is the victim's side of one phase.
type phaseStats struct {
	n        int
	elapsed  time.Duration
	p50, p99 time.Duration
	// flooded is the flooder's accepted submissions per second over the
	// same window (zero in an idle phase), refused how often it was told
	// to come back later.
	flooded float64
	refused int64
}

func (s phaseStats) rate() float64 { return float64(s.n) / s.elapsed.Seconds() }

// fairness measures how far one member's flood reaches another member: a
// victim with c.victims submitters (unary CreateEntry over mutual TLS, one
// connection each, as a member's daemon submits) alone, then with a flooder
// at c.flooders submitters beside it, in turn, fairnessReps times, against
// one service with the daemon's defaults (ledger linger, rate limit, audit
// trail). Idle and flooded phases alternate in the same run so that the
// machine's drift falls on both alike.
func fairness(ctx context.Context, c config) error {
	c.tls = true
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return err
	}
	defer cleanup()
	in, err := servertest.Start(dir, servertest.Options{
		TLS: true, Audit: true, NoDetection: true,
		// servertest commits without lingering; the daemon lingers.
		Ledger: func(lc *ledger.Config) {
			lc.Linger = ledger.DefaultLinger
			if c.memberShare > 0 {
				lc.MemberShare = c.memberShare
			}
		},
	})
	if err != nil {
		return err
	}
	defer in.Stop()

	victim, err := newSubmitters(ctx, c, in, fairnessVictim, c.victims, "victim")
	if err != nil {
		return err
	}
	defer victim.close()
	flooder, err := newSubmitters(ctx, c, in, fairnessFlooder, c.flooders, "flood")
	if err != nil {
		return err
	}
	defer flooder.close()

	fmt.Fprintf(c.out, "fairness: victim %s at %d submitters, flooder %s at %d, unary CreateEntry over mutual TLS, %v per phase\n",
		fairnessVictim, c.victims, fairnessFlooder, c.flooders, c.duration)
	var idle, flooded []phaseStats
	for rep := range fairnessReps {
		for _, flood := range []bool{false, true} {
			s, err := fairnessPhase(ctx, c, victim, flooder, flood)
			if err != nil {
				return fmt.Errorf("repetition %d (flooded %v): %w", rep+1, flood, err)
			}
			name := "idle"
			if flood {
				name = "flooded"
				flooded = append(flooded, s)
			} else {
				idle = append(idle, s)
			}
			fmt.Fprintf(c.out, "  rep %d %-7s victim %6d in %5.2fs = %7.0f/s  p50 %7.2fms  p99 %7.2fms", rep+1, name, s.n, s.elapsed.Seconds(), s.rate(), ms(s.p50), ms(s.p99))
			if flood {
				fmt.Fprintf(c.out, "  (flooder %7.0f/s, told to retry %d times)", s.flooded, s.refused)
			}
			fmt.Fprintln(c.out)
		}
	}
	if n, err := in.Audit.VerifyAll(); err != nil {
		return fmt.Errorf("audit trail: %w", err)
	} else {
		fmt.Fprintf(c.out, "  audit trail: %d records, chain verified\n", n)
	}

	get := func(ss []phaseStats, f func(phaseStats) float64) []float64 {
		out := make([]float64, len(ss))
		for i, s := range ss {
			out[i] = f(s)
		}
		return out
	}
	p50 := func(s phaseStats) float64 { return ms(s.p50) }
	p99 := func(s phaseStats) float64 { return ms(s.p99) }
	rate := phaseStats.rate
	fmt.Fprintf(c.out, "\nvictim, median [range] of %d repetitions:\n", fairnessReps)
	fmt.Fprintf(c.out, "  %-8s %-26s %-26s %s\n", "", "p50 ms", "p99 ms", "throughput /s")
	for _, row := range []struct {
		name string
		ss   []phaseStats
	}{{"idle", idle}, {"flooded", flooded}} {
		fmt.Fprintf(c.out, "  %-8s %-26s %-26s %s\n", row.name, spread(get(row.ss, p50), "%.2f"), spread(get(row.ss, p99), "%.2f"), spread(get(row.ss, rate), "%.0f"))
	}
	ratio := func(f func(phaseStats) float64) []float64 {
		out := make([]float64, fairnessReps)
		for i := range out {
			out[i] = f(flooded[i]) / f(idle[i])
		}
		return out
	}
	p99x, ratex := ratio(p99), ratio(rate)
	fmt.Fprintf(c.out, "\nflooded/idle in each repetition: p99 %s (target at most 2x), throughput %s (target at least 0.80)\n",
		spread(p99x, "%.2fx"), spread(ratex, "%.2f"))
	return nil
}

// spread is the median of xs and their range.
func spread(xs []float64, format string) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	f := func(v float64) string { return fmt.Sprintf(format, v) }
	return fmt.Sprintf("%s [%s–%s]", f(s[len(s)/2]), f(s[0]), f(s[len(s)-1]))
}

// fairnessPhase measures the victim for c.duration, with the flooder
// running throughout (from a second before until the victim is done) when
// flood is set.
func fairnessPhase(ctx context.Context, c config, victim, flooder *memberClients, flood bool) (phaseStats, error) {
	var (
		stop     atomic.Bool
		floodWG  sync.WaitGroup
		accepted atomic.Int64
		refused  atomic.Int64
		floodErr error
		errOnce  sync.Once
	)
	if flood {
		for g := range flooder.apis {
			floodWG.Go(func() {
				for !stop.Load() {
					n, err := flooder.submit(ctx, g, &refused)
					if err != nil {
						errOnce.Do(func() { floodErr = err })
						return
					}
					accepted.Add(int64(n))
				}
			})
		}
		// Let the flood reach its steady state before measuring.
		time.Sleep(time.Second)
	}
	start := time.Now()
	acceptedBefore, refusedBefore := accepted.Load(), refused.Load()
	deadline := start.Add(c.duration)
	var victimRefused atomic.Int64
	lat, errs := timedCalls(len(victim.apis), func(int) bool { return time.Now().Before(deadline) }, func(g, _ int) error {
		_, err := victim.submit(ctx, g, &victimRefused)
		return err
	})
	elapsed := time.Since(start)
	s := phaseStats{n: len(lat), elapsed: elapsed, p50: percentile(lat, 0.50), p99: percentile(lat, 0.99)}
	s.flooded = float64(accepted.Load()-acceptedBefore) / elapsed.Seconds()
	s.refused = refused.Load() - refusedBefore
	stop.Store(true)
	floodWG.Wait()
	if len(errs) > 0 {
		return s, fmt.Errorf("victim: %d errors, first: %w", len(errs), errs[0])
	}
	if n := victimRefused.Load(); n > 0 {
		return s, fmt.Errorf("victim was told to retry %d times", n)
	}
	if floodErr != nil {
		return s, fmt.Errorf("flooder: %w", floodErr)
	}
	return s, nil
}

// memberClients are one member's unary clients, each on its own connection,
// with envelopes signed ahead and more signed when those run out.
type memberClients struct {
	member string
	prefix string
	signer envelope.Signer
	conns  []*grpc.ClientConn
	apis   []chemledgerv1.LedgerServiceClient
	first  int
	next   atomic.Int64
	envs   [][]byte
}

// newSubmitters connects n clients as member's submitter and signs enough
// envelopes for a high guess of what they will send.
func newSubmitters(ctx context.Context, c config, in *servertest.Instance, member string, n int, prefix string) (*memberClients, error) {
	s := &memberClients{member: member, prefix: prefix, signer: in.Keys[member].Signer(), first: int(time.Now().UnixNano() % 1e12)}
	// 2 phases of every repetition each, at up to 4,000 a second
	// between them (a guess above what two cores serve).
	want := min(200_000, 4000*2*fairnessReps*int(c.duration.Seconds()+1))
	if n <= 4 {
		want = min(want, 1000*n*2*fairnessReps*int(c.duration.Seconds()+1))
	}
	var err error
	if s.envs, err = signedEnvelopesBy(s.first, want, func(int) envelope.Signer { return s.signer }); err != nil {
		return nil, err
	}
	if s.conns, err = connect(ctx, n, func(int) (*grpc.ClientConn, error) { return dialAs(c, in, member, pki.RoleSubmitter) }); err != nil {
		return nil, err
	}
	for _, conn := range s.conns {
		s.apis = append(s.apis, chemledgerv1.NewLedgerServiceClient(conn))
	}
	return s, nil
}

func (s *memberClients) close() { closeAll(s.conns) }

// submit sends the next event on client g, as a member's daemon would: told
// to come back later (RESOURCE_EXHAUSTED with RetryInfo), it waits as long
// as it was told and sends the same submission again, counting the refusal
// in refused. It returns how many entries were accepted (0 or 1).
func (s *memberClients) submit(ctx context.Context, g int, refused *atomic.Int64) (int, error) {
	i := int(s.next.Add(1) - 1)
	var env []byte
	if i < len(s.envs) {
		env = s.envs[i]
	} else {
		envs, err := signedEnvelopesBy(s.first+i, 1, func(int) envelope.Signer { return s.signer })
		if err != nil {
			return 0, err
		}
		env = envs[0]
	}
	req := &chemledgerv1.CreateEntryRequest{SubmissionId: fmt.Sprintf("%s-%d", s.prefix, s.first+i), Envelope: env}
	for {
		_, err := s.apis[g].CreateEntry(ctx, req)
		if err == nil {
			return 1, nil
		}
		wait, ok := retryDelay(err)
		if !ok {
			return 0, err
		}
		refused.Add(1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// retryDelay is how long a RESOURCE_EXHAUSTED refusal with RetryInfo asks
// the caller to wait; anything else is not a refusal a daemon can handle.
func retryDelay(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}
