package e2e

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/internal/webhook"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// TestWebhookCLIAndSIGKILL: with the real binaries, a member subscribes
// with "chemledger webhook add"; the service (trusting the receiver's CA
// through --webhook-ca) POSTs what is addressed to Mexico, signed with the
// key GetLog publishes; SIGKILLed with the receiver down, restarted, it
// still delivers everything; "webhook list" shows the subscription.
func TestWebhookCLIAndSIGKILL(t *testing.T) {
	var (
		down atomic.Bool
		pub  atomic.Pointer[ed25519.PublicKey]
		mu   sync.Mutex
		got  = map[uint64]bool{}
		bad  atomic.Int32
	)
	recv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		k := pub.Load()
		if k == nil || webhook.Verify(*k, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute) != nil {
			bad.Add(1)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var d struct {
			Index uint64 `json:"index"`
		}
		json.Unmarshal(body, &d)
		mu.Lock()
		got[d.Index] = true
		mu.Unlock()
	}))
	defer recv.Close()
	ca := filepath.Join(t.TempDir(), "receiver-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: recv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	d := startDaemon(t, dir, "--webhook-ca", ca)
	conn, err := grpc.NewClient(d.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	info, err := chemledgerv1.NewLedgerServiceClient(conn).GetLog(t.Context(), &chemledgerv1.GetLogRequest{})
	conn.Close()
	if err != nil || len(info.GetWebhookPublicKey()) != ed25519.PublicKeySize {
		t.Fatalf("GetLog: %v (webhook key %x)", err, info.GetWebhookPublicKey())
	}
	k := ed25519.PublicKey(info.GetWebhookPublicKey())
	pub.Store(&k)

	if r := d.runCLI(t, "webhook", "add", "--member", "MX-ANAM", "--id", "pen", "--url", recv.URL, "--filter", `addressed_to = "MX"`); r.code != 0 {
		t.Fatalf("webhook add: %d %s", r.code, r.stderr)
	}
	if r := d.runCLI(t, "submit", examplesFile); r.code != 0 {
		t.Fatalf("submit: %d %s", r.code, r.stderr)
	}
	addressed := func(c *client.Client) []uint64 {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		var out []uint64
		for m, err := range c.Watch(ctx, client.WatchOptions{Filter: `addressed_to = "MX"`}) {
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range m.GetEntries() {
				out = append(out, e.GetIndex())
			}
			if m.GetProgress() {
				break
			}
		}
		return out
	}
	delivered := func(want []uint64) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, i := range want {
			if !got[i] {
				return false
			}
		}
		return true
	}
	want := addressed(d.dial(t))
	if len(want) == 0 {
		t.Fatal("no example is addressed to MX")
	}
	for deadline := time.Now().Add(30 * time.Second); !delivered(want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not every entry addressed to MX delivered within 30 s (%d of them)", len(want))
		}
	}
	if r := d.runCLI(t, "webhook", "list", "--member", "MX-ANAM"); r.code != 0 || !strings.Contains(r.stdout, "pen") || !strings.Contains(r.stdout, recv.URL) {
		t.Errorf("webhook list: %d %q %s", r.code, r.stdout, r.stderr)
	}

	// The receiver goes down; the service is killed and restarted; more
	// entries come; the receiver comes back.
	down.Store(true)
	d.kill(t)
	d = startDaemon(t, dir, "--webhook-ca", ca)
	if r := d.runCLI(t, "submit", "--type", "registry", "examples/registry.jsonl"); r.code != 0 {
		t.Fatalf("submit registry: %d %s", r.code, r.stderr)
	}
	ev := readExamples(t)[1] // DE's notification of P-2-P for MX
	signers := demoSigners(t, dir)
	c := d.dial(t)
	if _, err := c.SubmitEnvelope(t.Context(), "after-kill-1", signedEvent(t, ev, "AFTER-KILL-1", false, signers[ev.member])); err != nil {
		t.Fatal(err)
	}
	want = addressed(c)
	time.Sleep(300 * time.Millisecond)
	down.Store(false)
	for deadline := time.Now().Add(60 * time.Second); !delivered(want); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the SIGKILL and restart, not every entry addressed to MX delivered within 60 s")
		}
	}
	if n := bad.Load(); n != 0 {
		t.Errorf("%d deliveries failed verification", n)
	}
}
