package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestOpsListener drives the real binary's ops listener as an operator's
// tools would: plaintext, no certificate. It is ready once serving, its
// metrics parse and count the commits of the examples submitted, and it
// answers no API path.
func TestOpsListener(t *testing.T) {
	d := startDaemon(t, t.TempDir(), "--secure")
	if d.opsAddr == "" {
		t.Fatal("the ready file names no ops address")
	}
	submitCLI(t, d, examplesFile)
	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := hc.Get("http://" + d.opsAddr + path)
		if err != nil {
			t.Fatalf("GET %s on the ops listener: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := get("/readyz")
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %s after 20 s, want 200", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %s, want 200", code, body)
	}

	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	batches := fams["chemledger_commit_batch_size"]
	if batches == nil || len(batches.GetMetric()) != 1 || batches.GetMetric()[0].GetHistogram().GetSampleSum() < float64(len(readExamples(t))) {
		t.Errorf("chemledger_commit_batch_size = %v, want commits summing to at least the %d examples", batches, len(readExamples(t)))
	}

	for _, path := range []string{"/v1/checkpoint", "/v1/entries/0", "/v1/flags", "/v1/audit-records", "/openapi.json", "/tlog/checkpoint"} {
		if code, body := get(path); code != http.StatusNotFound {
			t.Errorf("GET %s on the ops listener = %d %.100s, want 404", path, code, body)
		}
	}
}
