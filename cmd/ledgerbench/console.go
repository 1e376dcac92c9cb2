package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/chemledger/chemledger/server/servertest"
)

// Issue 15's targets for the console's flag queue.
const (
	consoleQueueTarget = 300 * time.Millisecond
	consoleBytesTarget = 200 << 10
)

// consoleQueue builds the analyst log (at least c.flags flags), lets the
// detector derive them, and then loads the console's landing page over
// HTTP exactly as a browser does: the page, its stylesheet, its script,
// its coordinates (only the shipment page reads those, but they count
// against the weight here anyway) and the three API calls the queue makes
// at once (the first page of flags most severe first, the rule catalogue,
// the counts per filter value). The rows wait only for the first two, made
// in parallel, so the first page's server time is the slower of those;
// the counts fill in after and are reported on their own. Times are taken
// at the client on 127.0.0.1, so they include the loopback.
func consoleQueue(ctx context.Context, c config) error {
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return err
	}
	defer cleanup()
	lg := buildAnalystLog(c.flags)
	if err := appendAnalystLog(ctx, c, dir, lg.items); err != nil {
		return err
	}
	in, err := servertest.Start(dir, servertest.Options{})
	if err != nil {
		return err
	}
	defer in.Stop()
	cp, _ := in.Ledger.Checkpoint()
	for in.Deriver.Applied() < cp.Size {
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	flags := len(in.Deriver.Snapshot())
	base := "http://" + in.HTTPAddr
	hc := &http.Client{}
	get := func(path string) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return int(n), err
	}
	assets := []string{"/console/", "/console/static/console.css", "/console/static/console.js", "/console/static/places.json"}
	// The rows wait for the first two; the counts (GetStats) fill in
	// after them and are timed on their own.
	calls := []string{
		"/v1/flags?" + url.Values{"order_by": {"severity desc"}, "page_size": {"50"}}.Encode(),
		"/v1/rules", "/v1/stats",
	}
	const firstPage = 2
	total := 0
	for _, p := range append(assets, calls...) {
		n, err := get(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "  %-60s %7d bytes\n", p, n)
		total += n
	}
	const rounds = 50
	lat := make([]time.Duration, 0, rounds)
	each := make([][]time.Duration, len(calls))
	for range rounds {
		var wg sync.WaitGroup
		errs := make([]error, len(calls))
		took := make([]time.Duration, len(calls))
		for i, p := range calls {
			wg.Go(func() {
				t := time.Now()
				_, errs[i] = get(p)
				took[i] = time.Since(t)
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		lat = append(lat, max(took[0], took[1]))
		for i := range calls {
			each[i] = append(each[i], took[i])
		}
	}
	for i, p := range calls {
		fmt.Fprintf(c.out, "  %-60s p50 %6.1fms p99 %6.1fms\n", p, ms(percentile(each[i], 0.5)), ms(percentile(each[i], 0.99)))
	}
	p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
	fmt.Fprintf(c.out, "console queue over %d flags: first page (the %d calls its rows wait for, in parallel) p50 %.1fms p99 %.1fms (target ≤ %v); the counts after it p50 %.1fms p99 %.1fms; transfer %d bytes = %.1f KiB uncompressed (target ≤ %d KiB)\n",
		flags, firstPage, ms(p50), ms(p99), consoleQueueTarget, ms(percentile(each[2], 0.5)), ms(percentile(each[2], 0.99)), total, float64(total)/1024, consoleBytesTarget>>10)
	if p99 > consoleQueueTarget || total > consoleBytesTarget {
		return fmt.Errorf("console queue misses its target: p99 %v, %d bytes", p99, total)
	}
	return nil
}
