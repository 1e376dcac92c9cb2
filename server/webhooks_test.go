package server_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/webhook"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

// hookReceiver is a member's HTTPS endpoint on 127.0.0.1: it refuses its
// first attempts and whatever comes while it is down, verifies every
// delivery with the key GetLog publishes, and keeps each index once.
type hookReceiver struct {
	srv      *httptest.Server
	pub      atomic.Pointer[ed25519.PublicKey]
	failLeft atomic.Int32
	down     atomic.Bool
	mu       sync.Mutex
	got      map[uint64]int // deliveries by index
	bad      int
}

func newHookReceiver(tb testing.TB) *hookReceiver {
	r := &hookReceiver{got: map[uint64]int{}}
	r.failLeft.Store(2)
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if r.down.Load() || r.failLeft.Add(-1) >= 0 {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		pub := r.pub.Load()
		if pub == nil || webhook.Verify(*pub, req.Header.Get(webhook.HeaderTimestamp), req.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute) != nil {
			r.mu.Lock()
			r.bad++
			r.mu.Unlock()
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var d struct {
			Index uint64          `json:"index"`
			Entry json.RawMessage `json:"entry"`
		}
		var e chemledgerv1.Entry
		if json.Unmarshal(body, &d) != nil || protojson.Unmarshal(d.Entry, &e) != nil || e.GetIndex() != d.Index {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got[d.Index]++
		r.mu.Unlock()
	}))
	tb.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) has(indexes []uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, i := range indexes {
		if r.got[i] == 0 {
			return false
		}
	}
	return true
}

// TestWebhooksDeliverAcrossRestart: MX-ANAM subscribes (a registry entry of
// its own) to what is addressed to Mexico; the service POSTs each such
// entry to its endpoint, signed with the key GetLog publishes, through a
// receiver that fails at first; with the receiver down across a restart
// of the service, it still gets everything, and nothing else; the
// subscription's lag and last error show in ListWebhooks.
func TestWebhooksDeliverAcrossRestart(t *testing.T) {
	recv := newHookReceiver(t)
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opts := servertest.Options{Server: func(c *server.Config) {
		c.Webhooks = server.WebhookConfig{Key: key, Client: recv.srv.Client(), Dir: filepath.Join(dir, "webhooks"), MinBackoff: 10 * time.Millisecond}
	}}
	in, err := servertest.Start(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := ledgerClient(t, in)
	info, err := c.GetLog(t.Context(), &chemledgerv1.GetLogRequest{})
	if err != nil || len(info.GetWebhookPublicKey()) != ed25519.PublicKeySize {
		t.Fatalf("GetLog: %v, webhook key %x", err, info.GetWebhookPublicKey())
	}
	pub := ed25519.PublicKey(info.GetWebhookPublicKey())
	recv.pub.Store(&pub)

	sub, err := protojson.Marshal(&chemledgerv1.RegistryEntry{
		EntryId: "MX-ANAM-WEBHOOK-1", EffectiveTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		Change: &chemledgerv1.RegistryEntry_Webhook{Webhook: &chemledgerv1.Webhook{Id: "pen", Url: recv.srv.URL, Filter: `addressed_to = "MX"`}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: "MX-ANAM:webhook-1", Envelope: signAs(t, in, "MX-ANAM", envelope.PayloadTypeRegistryJSON, sub)}); err != nil {
		t.Fatal(err)
	}
	exs := signedExamples(t, in)
	submitAll(t, c, exs[:len(exs)/2])
	addressed := func() []uint64 {
		var out []uint64
		for _, e := range watchUntil(t, c, &chemledgerv1.WatchEntriesRequest{Filter: `addressed_to = "MX"`}, 30*time.Second, untilProgress) {
			out = append(out, e.GetIndex())
		}
		return out
	}
	want := addressed()
	if len(want) == 0 {
		t.Fatal("no example is addressed to MX")
	}
	waitFor(t, "the first half delivered", 30*time.Second, func() bool { return recv.has(want) })

	// Down across a restart, with more entries meanwhile.
	recv.down.Store(true)
	if err := in.Stop(); err != nil {
		t.Fatal(err)
	}
	in, err = servertest.Start(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop() })
	c = ledgerClient(t, in)
	submitAll(t, c, exs[len(exs)/2:])
	want = addressed()
	waitFor(t, "the failure shown in ListWebhooks", 30*time.Second, func() bool {
		l, err := c.ListWebhooks(t.Context(), &chemledgerv1.ListWebhooksRequest{})
		return err == nil && len(l.GetWebhooks()) == 1 && l.GetWebhooks()[0].GetLastError() != ""
	})
	recv.down.Store(false)
	waitFor(t, "everything delivered after the restart", 30*time.Second, func() bool { return recv.has(want) })
	waitFor(t, "ListWebhooks caught up", 30*time.Second, func() bool {
		l, err := c.ListWebhooks(t.Context(), &chemledgerv1.ListWebhooksRequest{})
		return err == nil && len(l.GetWebhooks()) == 1 && l.GetWebhooks()[0].GetLastError() == "" && l.GetWebhooks()[0].GetCursor() == want[len(want)-1]+1
	})

	recv.mu.Lock()
	defer recv.mu.Unlock()
	if recv.bad != 0 {
		t.Errorf("%d deliveries failed verification", recv.bad)
	}
	isWanted := map[uint64]bool{}
	for _, i := range want {
		isWanted[i] = true
	}
	for i := range recv.got {
		if !isWanted[i] {
			t.Errorf("entry %d, not addressed to MX, was delivered", i)
		}
	}
}

func waitFor(tb testing.TB, what string, timeout time.Duration, ok func() bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), timeout)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			tb.Fatalf("%s: not within %v", what, timeout)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
