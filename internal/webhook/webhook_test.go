package webhook_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chemledger/chemledger/internal/webhook"
)

// events is an in-memory Source of n events, ten at a time.
type events struct{ n uint64 }

func (s events) Next(ctx context.Context, after uint64) ([]webhook.Event, error) {
	if after >= s.n {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var out []webhook.Event
	for i := after; i < min(s.n, after+10); i++ {
		body, _ := json.Marshal(map[string]any{"index": i})
		out = append(out, webhook.Event{Cursor: i + 1, Key: fmt.Sprintf("sub-1:%d", i), Body: body})
	}
	return out, nil
}

// receiver is a member's endpoint over TLS on 127.0.0.1: it refuses the
// first attempts, and while down; it verifies every signature; it keeps
// each key once, as a receiver de-duplicating by key would.
type receiver struct {
	srv      *httptest.Server
	pub      ed25519.PublicKey
	failLeft atomic.Int32
	down     atomic.Bool
	mu       sync.Mutex
	keys     map[string]int
	bad      int
}

func newReceiver(tb testing.TB, pub ed25519.PublicKey, failFirst int32) *receiver {
	r := &receiver{pub: pub, keys: map[string]int{}}
	r.failLeft.Store(failFirst)
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if r.down.Load() || r.failLeft.Add(-1) >= 0 {
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		if err := webhook.Verify(r.pub, req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			r.mu.Lock()
			r.bad++
			r.mu.Unlock()
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.mu.Lock()
		r.keys[req.Header.Get(webhook.HeaderKey)]++
		r.mu.Unlock()
	}))
	tb.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}

func waitFor(tb testing.TB, what string, timeout time.Duration, ok func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(timeout); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, timeout)
		}
	}
}

// TestDeliveryRetriesSignsAndSurvivesRestart: a receiver that fails its
// first attempts still gets every event, each signed so that it verifies;
// the status shows the failure while it lasts; a receiver down across a
// restart of the deliverer gets everything once it is back, from the
// durable cursor; repeats carry the same key.
func TestDeliveryRetriesSignsAndSurvivesRestart(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, pub, 3)
	const n = 50
	dir := t.TempDir()
	sub := webhook.Subscription{ID: "sub-1", URL: r.srv.URL}
	cfg := webhook.Config{Client: r.srv.Client(), Key: key, Dir: dir, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}

	d := webhook.New(cfg)
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, sub, events{n}) }()
	waitFor(t, "a failed attempt shown", 5*time.Second, func() bool {
		st, _ := d.Status(sub.ID)
		return st.LastError != "" || r.distinct() > 0
	})
	waitFor(t, "half delivered", 10*time.Second, func() bool { return r.distinct() >= n/2 })

	// The receiver goes down, then the service restarts.
	r.down.Store(true)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cursor, err := d.Cursor(sub.ID)
	if err != nil || cursor < n/2 {
		t.Fatalf("durable cursor %d (%v) after %d acknowledged", cursor, err, r.distinct())
	}
	d2 := webhook.New(cfg)
	ctx2, stop2 := context.WithCancel(t.Context())
	defer stop2()
	go func() { done <- d2.Run(ctx2, sub, events{n}) }()
	waitFor(t, "the failure shown while down", 5*time.Second, func() bool {
		st, _ := d2.Status(sub.ID)
		return st.LastError != ""
	})
	r.down.Store(false)
	waitFor(t, "every event delivered", 10*time.Second, func() bool { return r.distinct() == n })
	st, _ := d2.Status(sub.ID)
	waitFor(t, "the cursor at the end", 5*time.Second, func() bool { st, _ = d2.Status(sub.ID); return st.Cursor == n })
	if st.LastError != "" {
		t.Errorf("status after recovery still shows %q", st.LastError)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bad != 0 {
		t.Errorf("%d deliveries failed verification", r.bad)
	}
	for i := range n {
		if r.keys[fmt.Sprintf("sub-1:%d", i)] == 0 {
			t.Errorf("event %d never delivered", i)
		}
	}
}

// TestVerifyRefusesTampering: a body, timestamp or signature changed in
// transit, another key, or a stale timestamp fail verification.
func TestVerifyRefusesTampering(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	now := time.Now()
	ts := fmt.Sprint(now.Unix())
	body := []byte(`{"index":7,"entry":{"member":"CN-GACC"}}`)
	sig := webhook.Sign(key, ts, body)
	if err := webhook.Verify(pub, ts, sig, body, now, time.Minute); err != nil {
		t.Fatalf("an untouched delivery: %v", err)
	}
	for _, tc := range []struct {
		name    string
		pub     ed25519.PublicKey
		ts, sig string
		body    []byte
		at      time.Time
	}{
		{"body", pub, ts, sig, []byte(`{"index":7,"entry":{"member":"MX-ANAM"}}`), now},
		{"timestamp", pub, fmt.Sprint(now.Unix() + 1), sig, body, now},
		{"signature", pub, ts, webhook.Sign(key, ts, []byte("x")), body, now},
		{"another key", otherPub, ts, sig, body, now},
		{"stale", pub, ts, sig, body, now.Add(10 * time.Minute)},
		{"no prefix", pub, ts, sig[len("ed25519="):], body, now},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := webhook.Verify(tc.pub, tc.ts, tc.sig, tc.body, tc.at, time.Minute); err == nil {
				t.Errorf("tampered %s verified", tc.name)
			}
		})
	}
}
