package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

// opsGet makes a plaintext GET on the ops listener at addr.
func opsGet(tb testing.TB, addr, path string) (int, []byte) {
	tb.Helper()
	return opsDo(tb, http.MethodGet, "http://"+addr+path)
}

func opsDo(tb testing.TB, method, url string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), method, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// TestOpsBeforeAttach: while the ledger is being opened and checked, the
// process is live, not ready, and has no metrics to give yet.
func TestOpsBeforeAttach(t *testing.T) {
	hs := httptest.NewServer(server.NewOps(nil).Handler())
	t.Cleanup(hs.Close)
	addr := strings.TrimPrefix(hs.URL, "http://")
	for _, tc := range []struct {
		path       string
		wantCode   int
		wantStatus string
	}{
		{"/healthz", http.StatusOK, "STARTING"},
		{"/readyz", http.StatusServiceUnavailable, "STARTING"},
		{"/metrics", http.StatusServiceUnavailable, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, body := opsGet(t, addr, tc.path)
			if code != tc.wantCode {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, code, body, tc.wantCode)
			}
			if tc.wantStatus == "" {
				return
			}
			var h struct{ Status string }
			if err := json.Unmarshal(body, &h); err != nil || h.Status != tc.wantStatus {
				t.Fatalf("GET %s body %s (%v): want status %q", tc.path, body, err, tc.wantStatus)
			}
		})
	}
}

// TestOpsReadiness: a service that restarts with entries its detector has
// not applied is live but not ready (503) until the detector has caught up
// with the log as it stood at start; then it is ready (200).
func TestOpsReadiness(t *testing.T) {
	dir := t.TempDir()
	first, err := servertest.Start(dir, servertest.Options{NoDetection: true})
	if err != nil {
		t.Fatal(err)
	}
	conn := dial(t, first)
	submitAll(t, chemledgerv1.NewLedgerServiceClient(conn), signedExamples(t, first))
	conn.Close()
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}

	in, err := servertest.Start(dir, servertest.Options{HoldDetector: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop() })
	readyz := func() (int, string) {
		code, body := opsGet(t, in.OpsAddr, "/readyz")
		var h struct{ Status string }
		if err := json.Unmarshal(body, &h); err != nil {
			t.Fatalf("/readyz body %q: %v", body, err)
		}
		return code, h.Status
	}
	if code, st := readyz(); code != http.StatusServiceUnavailable || st != "CATCHING_UP" {
		t.Fatalf("/readyz with the detector at %d of the log = %d %s, want 503 CATCHING_UP", in.Deriver.Applied(), code, st)
	}
	if code, _ := opsGet(t, in.OpsAddr, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz while catching up = %d, want 200 (live)", code)
	}
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	go in.Deriver.Run(ctx)
	waitDerived(t, in)
	if code, st := readyz(); code != http.StatusOK || st != "READY" {
		t.Fatalf("/readyz once the detector caught up = %d %s, want 200 READY", code, st)
	}
}

// apiBindings are the paths of every HTTP binding in
// proto/chemledger/v1/http.yaml, as written there ("/v1/entries/{index}").
func apiBindings(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "proto", "chemledger", "v1", "http.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	binding := regexp.MustCompile(`(?m)^\s*(?:get|post|put|patch|delete):\s*(\S+)`)
	var paths []string
	for _, m := range binding.FindAllStringSubmatch(string(b), -1) {
		// The OpenAPI document names a {ref=**} parameter {ref}.
		paths = append(paths, strings.ReplaceAll(m[1], "=**}", "}"))
	}
	if len(paths) < 10 {
		tb.Fatalf("found only %d bindings in http.yaml: %q", len(paths), paths)
	}
	return paths
}

// apiPaths are every HTTP binding, with sample values for the path
// parameters, and the paths the HTTPS listener serves itself.
func apiPaths(tb testing.TB) []string {
	tb.Helper()
	param := regexp.MustCompile(`\{[^}]+\}`)
	var paths []string
	for _, p := range apiBindings(tb) {
		paths = append(paths, param.ReplaceAllString(p, "1"))
	}
	return append(paths, "/v1/", "/v1/entries/0", "/openapi.json", "/tlog/checkpoint", "/", "/debug/pprof/")
}

// TestOpsServesNoLedgerData walks every API path on the ops listener, with
// GET and POST, and gets 404 for each; nothing it does is audited.
func TestOpsServesNoLedgerData(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true})
	submitExamplesTLS(t, s)
	before := auditCount(t, s.in)
	for _, path := range apiPaths(t) {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(method+" "+path, func(t *testing.T) {
				code, body := opsDo(t, method, "http://"+s.in.OpsAddr+path)
				if code != http.StatusNotFound {
					t.Errorf("%s %s on the ops listener = %d %.200s, want 404", method, path, code, body)
				}
			})
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, body := opsGet(t, s.in.OpsAddr, path); code != http.StatusOK {
			t.Errorf("GET %s = %d %.200s, want 200", path, code, body)
		}
	}
	if after := auditCount(t, s.in); after != before {
		t.Errorf("audit trail grew from %d to %d records over ops requests; they are not audited", before, after)
	}
}

// scrape reads /metrics with Prometheus's own text parser.
func scrape(tb testing.TB, addr string) map[string]*dto.MetricFamily {
	tb.Helper()
	code, body := opsGet(tb, addr, "/metrics")
	if code != http.StatusOK {
		tb.Fatalf("GET /metrics = %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		tb.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// sample is a family's value as one number: the sum of its counters or
// gauges, or of its histograms' sample counts, over the series whose
// labels include want.
func sample(f *dto.MetricFamily, want map[string]string) float64 {
	var v float64
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, w := range want {
			if labels[k] != w {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v
}

// TestOpsMetrics scrapes /metrics before and after writes (with the
// sequencer held so that submissions queue), reads, refusals and the
// detector catching up, and checks that every family an operator needs
// exists and moves the way the activity says it must.
func TestOpsMetrics(t *testing.T) {
	var hold atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	s := startSecured(t, "", servertest.Options{Audit: true, HoldDetector: true, Ledger: func(c *ledger.Config) {
		c.Hooks = &ledger.Hooks{BeforeCommit: func(uint64) error {
			if hold.CompareAndSwap(true, false) {
				close(entered)
				<-release
			}
			return nil
		}}
	}})
	before := scrape(t, s.in.OpsAddr)

	// Writes: the first commit is held, so the others, sent once it is,
	// wait in the queue.
	hold.Store(true)
	exs := signedExamples(t, s.in)
	var wg sync.WaitGroup
	errs := make([]error, len(exs))
	submit := func(i int) {
		wg.Go(func() {
			ex := exs[i]
			_, errs[i] = s.ledger(t, ex.member, pki.RoleSubmitter).CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: ex.id, Envelope: ex.env})
		})
	}
	submit(0)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first commit did not start within 10 s")
	}
	for i := 1; i < len(exs); i++ {
		submit(i)
	}
	var queued float64
	for deadline := time.Now().Add(10 * time.Second); queued == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		queued = sample(scrape(t, s.in.OpsAddr)["chemledger_sequencer_queue_depth"], nil)
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("submit %s: %v", exs[i].id, err)
		}
	}
	if queued == 0 {
		t.Errorf("chemledger_sequencer_queue_depth stayed 0 while a commit was held and %d submissions waited", len(exs)-1)
	}
	behind := scrape(t, s.in.OpsAddr)
	if got := sample(behind["chemledger_detector_lag_entries"], nil); got != float64(len(exs)) {
		t.Errorf("chemledger_detector_lag_entries with the detector held = %v, want %d", got, len(exs))
	}
	if got := sample(behind["chemledger_detector_lag_seconds"], nil); got <= 0 {
		t.Errorf("chemledger_detector_lag_seconds with the detector held = %v, want > 0", got)
	}

	// Reads and refusals, over HTTPS and gRPC.
	if code, _, body := s.do(t, "US-CBP", pki.RoleAnalyst, http.MethodGet, "/v1/entries/0", nil); code != http.StatusOK {
		t.Fatalf("GET /v1/entries/0 as analyst = %d %s", code, body)
	}
	if code, _, _ := s.do(t, "MX-ANAM", pki.RoleSubmitter, http.MethodGet, "/v1/flags", nil); code != http.StatusForbidden {
		t.Fatalf("GET /v1/flags as submitter = %d, want 403", code)
	}
	if code, _, _ := s.do(t, "MX-ANAM", pki.RoleAnalyst, http.MethodGet, "/v1/no-such-thing", nil); code != http.StatusNotFound {
		t.Fatalf("GET /v1/no-such-thing = %d, want 404", code)
	}
	_, err := s.analyst(t, "MX-ANAM", pki.RoleSubmitter).ListFlags(t.Context(), &chemledgerv1.ListFlagsRequest{})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("ListFlags as submitter: %v, want PermissionDenied", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	go s.in.Deriver.Run(ctx)
	waitDerived(t, s.in)
	after := scrape(t, s.in.OpsAddr)

	for _, tc := range []struct {
		family string
		labels map[string]string
		// grew: the value must rise; else it must be zero after.
		grew bool
		// lazy: a labelled family whose series appear on first use, so
		// it may be absent before.
		lazy bool
	}{
		{"chemledger_commit_batch_size", nil, true, false},
		{"chemledger_commit_seconds", nil, true, false},
		{"chemledger_commit_fsync_seconds", nil, true, false},
		{"chemledger_sequencer_queue_capacity", nil, false, false}, // constant, checked below
		{"chemledger_flags_raised_total", nil, true, false},
		{"chemledger_audit_write_seconds", nil, true, false},
		{"chemledger_refusals_total", map[string]string{"member": "MX-ANAM", "reason": "PERMISSION_DENIED"}, true, true},
		{"chemledger_http_requests_total", map[string]string{"route": "GET /v1/entries/{index}", "code": "200"}, true, true},
		{"chemledger_http_requests_total", map[string]string{"route": "unmatched", "code": "404"}, true, true},
		{"chemledger_http_requests_total", map[string]string{"route": "GET /v1/flags", "code": "403"}, true, true},
		{"chemledger_grpc_requests_total", nil, true, true},
		{"chemledger_log_size", nil, true, false},
		{"chemledger_detector_lag_entries", nil, false, false},
		{"chemledger_detector_lag_seconds", nil, false, false},
		{"chemledger_sequencer_queue_depth", nil, false, false},
	} {
		t.Run(fmt.Sprintf("%s%v", tc.family, tc.labels), func(t *testing.T) {
			b, a := before[tc.family], after[tc.family]
			if a == nil || (b == nil && !tc.lazy) {
				t.Fatalf("family %s missing (before: %v, after: %v)", tc.family, b != nil, a != nil)
			}
			vb, va := sample(b, tc.labels), sample(a, tc.labels)
			switch {
			case tc.family == "chemledger_sequencer_queue_capacity":
				if va != float64(ledger.DefaultQueueSize) {
					t.Errorf("%s = %v, want %d", tc.family, va, ledger.DefaultQueueSize)
				}
			case tc.grew && va <= vb:
				t.Errorf("%s%v = %v before, %v after; want it to grow", tc.family, tc.labels, vb, va)
			case !tc.grew && va != 0:
				t.Errorf("%s = %v once everything is done, want 0", tc.family, va)
			}
		})
	}
	// Every rule has a series, so bounded by the catalogue and present
	// before it fires.
	if n := len(before["chemledger_flags_raised_total"].GetMetric()); n == 0 {
		t.Error("chemledger_flags_raised_total has no series before any flag")
	}
	for _, m := range after["chemledger_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), "/v1/entries/0") {
				t.Errorf("route label %q is a raw path, not a pattern", l.GetValue())
			}
		}
	}
	members := map[string]bool{"-": true}
	for _, m := range s.in.Members.Members() {
		members[m.ID] = true
	}
	for _, m := range after["chemledger_refusals_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "member" && !members[l.GetValue()] {
				t.Errorf("refusal member label %q is not a known member", l.GetValue())
			}
		}
	}
}
