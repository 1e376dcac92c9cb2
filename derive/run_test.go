package derive

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// errorCounter counts the error records logged through it.
type errorCounter struct {
	slog.Handler
	n *atomic.Int64
}

func (h errorCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.n.Add(1)
	}
	return nil
}

// A detector behind the log whose store fails (here: closed under it, as a
// test service's Stop does) retries at a pace, not in a busy loop, and Run
// still returns when its context ends. It used to spin: the log is beyond
// the applied mark, so waiting for the log returned at once, forever.
func TestRunBacksOffWhenCatchUpFails(t *testing.T) {
	f := newFixture(t, t.TempDir())
	var failures atomic.Int64
	cfg := testConfig()
	cfg.Logger = slog.New(errorCounter{Handler: quiet.Handler(), n: &failures})
	d, err := Open(f.store, f.ledger, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.submit(t, f.subs...)
	f.store.Close()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	const watch = 1200 * time.Millisecond
	time.Sleep(watch)
	cancel()
	select {
	case <-done:
	case <-time.After(2 * catchUpRetry):
		t.Fatalf("Run did not return within %v of its context ending", 2*catchUpRetry)
	}
	if n, most := failures.Load(), int64(watch/catchUpRetry)+1; n == 0 || n > most {
		t.Errorf("%d failed catch-ups logged in %v, want 1 to %d (one every %v)", n, watch, most, catchUpRetry)
	}
}
