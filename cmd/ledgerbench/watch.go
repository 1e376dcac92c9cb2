package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// Targets of the watch mode (issue 14).
const (
	watchDeliveryTarget = 100 * time.Millisecond // p99 commit → delivery
	watchCostTarget     = 10.0                   // % of write throughput
)

// watchBench measures what open watches cost and how fresh they are, in
// rounds that interleave runs with and without watches (so drift of the
// machine falls on both alike), each run on a fresh log:
//
//   - throughput: c.clients unary clients submitting as fast as they can
//     for c.duration, with no watch, then with c.watches watches of the
//     whole log (every one receiving every entry);
//   - delivery: a steady c.rate entries/s with c.watches watches open; for
//     every entry and every watch, the time from the receipt (the entry
//     is durable and published) to the watch receiving it, and from the
//     moment the entry was sent.
func watchBench(ctx context.Context, c config) error {
	var without, with, p50s, p99s, sendP99s []float64
	for round := range c.rounds {
		// Alternate which goes first.
		order := []int{0, c.watches}
		if round%2 == 1 {
			order = []int{c.watches, 0}
		}
		for _, w := range order {
			rate, err := watchThroughput(ctx, c, w)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "round %d: %3d watches: %6.0f entries/s (%d unary clients, %v)\n", round+1, w, rate, c.clients, c.duration)
			if w == 0 {
				without = append(without, rate)
			} else {
				with = append(with, rate)
			}
		}
		p50, p99, sendP99, n, err := watchDelivery(ctx, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "round %d: %d entries/s with %d watches: %d deliveries; receipt → delivery p50 %.1fms p99 %.1fms; sent → delivery p99 %.1fms\n",
			round+1, c.rate, c.watches, n, ms(p50), ms(p99), ms(sendP99))
		p50s, p99s, sendP99s = append(p50s, ms(p50)), append(p99s, ms(p99)), append(sendP99s, ms(sendP99))
	}
	mw, mo := median(with), median(without)
	cost := 100 * (mo - mw) / mo
	fmt.Fprintf(c.out, "\nthroughput without watches: median %.0f/s (range %.0f–%.0f); with %d watches: median %.0f/s (range %.0f–%.0f); cost %.1f%% [target ≤ %.0f%%: %s]\n",
		mo, slices.Min(without), slices.Max(without), c.watches, mw, slices.Min(with), slices.Max(with), cost, watchCostTarget, verdict(cost <= watchCostTarget))
	fmt.Fprintf(c.out, "delivery at %d/s with %d watches, receipt → delivery: p50 median %.1fms (range %.1f–%.1f); p99 median %.1fms (range %.1f–%.1f) [target p99 ≤ %v: %s]; sent → delivery p99 median %.1fms (range %.1f–%.1f)\n",
		c.rate, c.watches, median(p50s), slices.Min(p50s), slices.Max(p50s), median(p99s), slices.Min(p99s), slices.Max(p99s),
		watchDeliveryTarget, verdict(median(p99s) <= ms(watchDeliveryTarget)), median(sendP99s), slices.Min(sendP99s), slices.Max(sendP99s))
	return nil
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// openWatches opens n watches of the whole log from its start over a few
// connections; each calls got(watch, index, when) for every entry it
// receives. They stop when ctx ends; wait waits for that.
func openWatches(ctx context.Context, in *servertest.Instance, n int, got func(w int, index uint64, at time.Time)) (wait func() error, err error) {
	conns, err := connect(ctx, min(n, 10), func(int) (*grpc.ClientConn, error) {
		return grpc.NewClient(in.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(indexOnlyCodec{encoding.GetCodecV2("proto")})))
	})
	if err != nil {
		return nil, err
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		first  error
		opened sync.WaitGroup
	)
	for w := range n {
		opened.Add(1)
		wg.Go(func() {
			st, err := chemledgerv1.NewLedgerServiceClient(conns[w%len(conns)]).WatchEntries(ctx, &chemledgerv1.WatchEntriesRequest{})
			if err == nil {
				// The first message (progress on the empty log) says the
				// stream is open.
				_, err = st.Recv()
			}
			opened.Done()
			for err == nil {
				var m *chemledgerv1.WatchEntriesResponse
				if m, err = st.Recv(); err == nil && got != nil {
					at := time.Now()
					for _, e := range m.GetEntries() {
						got(w, e.GetIndex(), at)
					}
				}
			}
			if ctx.Err() == nil {
				mu.Lock()
				first = errors.Join(first, fmt.Errorf("watch %d: %w", w, err))
				mu.Unlock()
			}
		})
	}
	opened.Wait()
	return func() error {
		wg.Wait()
		closeAll(conns)
		return first
	}, nil
}

// watchThroughput is the unary write throughput of a fresh log with
// watches watches following it.
func watchThroughput(ctx context.Context, c config, watches int) (float64, error) {
	in, stop, err := target(c)
	if err != nil {
		return 0, err
	}
	defer stop()
	perClient := max(200, int(8000*c.duration.Seconds())/c.clients)
	first := int(time.Now().UnixNano() % 1e12)
	envs, err := signedEnvelopes(first, c.clients*perClient, in.Keys["CN-GACC"])
	if err != nil {
		return 0, err
	}
	conns, err := connect(ctx, c.clients, func(int) (*grpc.ClientConn, error) {
		return grpc.NewClient(in.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	})
	if err != nil {
		return 0, err
	}
	defer closeAll(conns)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wait := func() error { return nil }
	if watches > 0 {
		if wait, err = openWatches(wctx, in, watches, nil); err != nil {
			return 0, err
		}
	}
	runtime.GC()
	if watches > 0 {
		profileStart()
	}
	deadline := time.Now().Add(c.duration)
	start := time.Now()
	lat, errs := timedCalls(c.clients, func(i int) bool { return i < perClient && time.Now().Before(deadline) }, func(cl, i int) error {
		n := cl*perClient + i
		_, err := chemledgerv1.NewLedgerServiceClient(conns[cl]).CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: fmt.Sprintf("wb-%d", first+n), Envelope: envs[n]})
		return err
	})
	elapsed := time.Since(start)
	cancel()
	if err := wait(); err != nil {
		return 0, err
	}
	if len(errs) > 0 {
		return 0, fmt.Errorf("watch throughput: %d errors, first: %w", len(errs), errs[0])
	}
	return float64(len(lat)) / elapsed.Seconds(), nil
}

// watchDelivery runs a steady c.rate of unary submissions against a fresh
// log with c.watches watches and returns the receipt → delivery p50 and p99
// over every (entry, watch) pair, the sent → delivery p99, and how many
// deliveries there were. An entry some watch never received is an error.
func watchDelivery(ctx context.Context, c config) (p50, p99, sendP99 time.Duration, n int, err error) {
	in, stop, err := target(c)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer stop()
	total := int(float64(c.rate) * c.duration.Seconds())
	first := int(time.Now().UnixNano() % 1e12)
	envs, err := signedEnvelopes(first, total, in.Keys["CN-GACC"])
	if err != nil {
		return 0, 0, 0, 0, err
	}
	conns, err := connect(ctx, 4, func(int) (*grpc.ClientConn, error) {
		return grpc.NewClient(in.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer closeAll(conns)

	sent := make([]time.Time, total)
	receipt := make([]time.Time, total)
	delivered := make([][]time.Time, c.watches)
	for w := range delivered {
		delivered[w] = make([]time.Time, total)
	}
	counts := make([]atomic.Int64, c.watches)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wait, err := openWatches(wctx, in, c.watches, func(w int, index uint64, at time.Time) {
		if index < uint64(total) {
			delivered[w][index] = at
			counts[w].Add(1)
		}
	})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	runtime.GC()

	// A pacer releases entries at c.rate on a 10 ms tick to c.clients
	// workers; indexes are assigned by the log, so each worker notes the
	// index its receipt names.
	work := make(chan int, total)
	go func() {
		defer close(work)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		start, next := time.Now(), 0
		for next < total {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				for due := min(total, int(now.Sub(start).Seconds()*float64(c.rate))); next < due; next++ {
					work <- next
				}
			}
		}
	}()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range c.clients {
		wg.Go(func() {
			api := chemledgerv1.NewLedgerServiceClient(conns[w%len(conns)])
			for i := range work {
				t := time.Now()
				r, err := api.CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: fmt.Sprintf("wd-%d", first+i), Envelope: envs[i]})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				if idx := r.GetIndex(); idx < uint64(total) {
					sent[idx], receipt[idx] = t, time.Now()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return 0, 0, 0, 0, fmt.Errorf("watch delivery: %d errors, first: %w", len(errs), errs[0])
	}
	// Let the last entries reach every watch.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		behind := false
		for w := range counts {
			behind = behind || counts[w].Load() < int64(total)
		}
		if !behind {
			break
		}
	}
	cancel()
	if err := wait(); err != nil {
		return 0, 0, 0, 0, err
	}
	var fromReceipt, fromSend []time.Duration
	for w := range delivered {
		for i, at := range delivered[w] {
			if at.IsZero() {
				return 0, 0, 0, 0, fmt.Errorf("watch %d never received entry %d", w, i)
			}
			// A watch can hear of an entry before its submitter has
			// read the receipt: that is no delay at all.
			fromReceipt = append(fromReceipt, max(0, at.Sub(receipt[i])))
			fromSend = append(fromSend, at.Sub(sent[i]))
		}
	}
	return percentile(fromReceipt, 0.5), percentile(fromReceipt, 0.99), percentile(fromSend, 0.99), len(fromReceipt), nil
}

// indexOnlyCodec is the benchmark watches' codec: the watches run in this
// process, on the cores the service uses, and a real member's watch runs
// on its own machine. It still receives every byte of every message; it
// decodes only what the benchmark needs (the entry's index, and whether
// the message is progress), so that the watches' own decoding is not
// counted as the service's cost. Requests are encoded as usual.
type indexOnlyCodec struct{ encoding.CodecV2 }

func (c indexOnlyCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*chemledgerv1.WatchEntriesResponse)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	b := data.Materialize()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			entry, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			e := &chemledgerv1.Entry{}
			m.Entries = append(m.Entries, e)
			for len(entry) > 0 {
				enum, etyp, en := protowire.ConsumeTag(entry)
				if en < 0 {
					return protowire.ParseError(en)
				}
				entry = entry[en:]
				if enum == 1 && etyp == protowire.VarintType {
					e.Index, _ = protowire.ConsumeVarint(entry)
					break
				}
				if en = protowire.ConsumeFieldValue(enum, etyp, entry); en < 0 {
					return protowire.ParseError(en)
				}
				entry = entry[en:]
			}
			b = b[n:]
			continue
		}
		if num == 4 && typ == protowire.VarintType {
			p, _ := protowire.ConsumeVarint(b)
			m.Progress = p != 0
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

func (indexOnlyCodec) Name() string { return "proto" }
