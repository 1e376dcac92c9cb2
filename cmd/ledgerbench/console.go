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
// at once (the first page of flags most severe first, the counts per filter
// value, the rule catalogue). The server time of the first page is the
// slowest of the three calls, since the page makes them in parallel; it
// is measured at the client on 127.0.0.1, so it includes the loopback.
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
	calls := []string{
		"/v1/flags?" + url.Values{"order_by": {"severity desc"}, "page_size": {"50"}}.Encode(),
		"/v1/stats", "/v1/rules",
	}
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
	for range rounds {
		t := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, len(calls))
		for i, p := range calls {
			wg.Go(func() { _, errs[i] = get(p) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		lat = append(lat, time.Since(t))
	}
	p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99)
	fmt.Fprintf(c.out, "console queue over %d flags: first page (3 API calls in parallel) p50 %.1fms p99 %.1fms (target ≤ %v); transfer %d bytes = %.1f KiB uncompressed (target ≤ %d KiB)\n",
		flags, ms(p50), ms(p99), consoleQueueTarget, total, float64(total)/1024, consoleBytesTarget>>10)
	if p99 > consoleQueueTarget || total > consoleBytesTarget {
		return fmt.Errorf("console queue misses its target: p99 %v, %d bytes", p99, total)
	}
	return nil
}
