package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/checkpoint"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// strictJSON reads the service's JSON as a client that knows the API
// exactly would: a field it does not know is an error.
var strictJSON = protojson.UnmarshalOptions{DiscardUnknown: false}

// receiptLine is one line the CLI's submit prints.
type receiptLine struct {
	SubmissionID string          `json:"submission_id"`
	Index        *uint64         `json:"index"`
	LeafHash     []byte          `json:"leaf_hash"`
	Error        json.RawMessage `json:"error"`
}

// submitCLI runs "chemledger submit path" and returns its receipts, which
// must all be acceptances.
func submitCLI(tb testing.TB, d *daemon, path string) []receiptLine {
	tb.Helper()
	r := d.runCLI(tb, "submit", path)
	if r.code != 0 || r.stderr != "" {
		tb.Fatalf("submit %s: exit %d, stderr %q; want exit 0 and no stderr", path, r.code, r.stderr)
	}
	var out []receiptLine
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	for dec.More() {
		var l receiptLine
		if err := dec.Decode(&l); err != nil {
			tb.Fatalf("submit %s printed %q: %v", path, r.stdout, err)
		}
		if l.Index == nil || l.Error != nil {
			tb.Fatalf("submit %s: %+v, want an accepted receipt", path, l)
		}
		out = append(out, l)
	}
	return out
}

// TestEndToEndCLI drives the service with the CLI, as a member agency
// would, and reads it back over HTTP/JSON, as an auditor would.
func TestEndToEndCLI(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	examples := readExamples(t)

	// Submitting the examples: one receipt per line, in line order.
	first := submitCLI(t, d, examplesFile)
	if len(first) != len(examples) {
		t.Fatalf("submit %s printed %d receipts, want %d", examplesFile, len(first), len(examples))
	}
	c := d.dial(t)
	leaves := map[uint64][]byte{}
	for i, r := range first {
		wantID := examples[i].member + ":" + examples[i].event.GetEventId()
		if *r.Index != uint64(i) || r.SubmissionID != wantID {
			t.Errorf("receipt %d = %s at index %d, want %s at index %d", i, r.SubmissionID, *r.Index, wantID, i)
		}
		e, err := c.Get(t.Context(), *r.Index)
		if err != nil {
			t.Fatal(err)
		}
		leaves[*r.Index] = e.GetLeaf()
		if got := rfc6962.DefaultHasher.HashLeaf(e.GetLeaf()); !bytes.Equal(got, r.LeafHash) {
			t.Errorf("receipt %d: leaf hash %x, but entry %d hashes to %x", i, r.LeafHash, *r.Index, got)
		}
	}

	// Keep a checkpoint and prove an entry is in the log.
	cp1 := filepath.Join(dir, "cp1")
	r := d.runCLI(t, "checkpoint", "--out", cp1)
	kept, err := os.ReadFile(cp1)
	if r.code != 0 || err != nil || r.stdout != string(kept) || !strings.HasPrefix(r.stdout, devOrigin(t, d.dir)+"\n33\n") {
		t.Fatalf("checkpoint --out: exit %d, stdout %q, stderr %q; file %q, %v; want the signed checkpoint of size 33 in both", r.code, r.stdout, r.stderr, kept, err)
	}
	root := strings.Split(string(kept), "\n")[2]
	r = d.runCLI(t, "verify", "inclusion", "5")
	if want := fmt.Sprintf("entry 5 is included in the tree of size 33 (root %s)\n", root); r.code != 0 || r.stdout != want {
		t.Errorf("verify inclusion 5: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}

	// More events, then the log must still extend the kept checkpoint.
	const shipment = "PEN-CN-2026-000871"
	var extra bytes.Buffer
	var extraEvents []*chemledgerv1.ShipmentEvent
	for n, i := range []int{0, 6, 10} {
		ev := proto.Clone(examples[i].event).(*chemledgerv1.ShipmentEvent)
		ev.EventId = fmt.Sprintf("E2E-EXTRA-%d", n)
		b, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		extra.Write(append(b, '\n'))
		extraEvents = append(extraEvents, ev)
	}
	extraFile := filepath.Join(t.TempDir(), "extra.jsonl")
	if err := os.WriteFile(extraFile, extra.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	more := submitCLI(t, d, extraFile)
	for i, r := range more {
		if want := uint64(len(examples) + i); len(more) != len(extraEvents) || *r.Index != want {
			t.Fatalf("submit %s: %d receipts, receipt %d at index %d; want %d receipts at indexes from %d", extraFile, len(more), i, *r.Index, len(extraEvents), len(examples))
		}
	}
	size := uint64(len(examples) + len(extraEvents))
	r = d.runCLI(t, "verify", "consistency", "--since", cp1)
	if want := fmt.Sprintf("the log of size %d extends the kept checkpoint of size 33\n", size); r.code != 0 || r.stdout != want {
		t.Errorf("verify consistency --since cp1: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, want)
	}

	// Submitting the examples again changes nothing.
	again := submitCLI(t, d, examplesFile)
	if !slicesEqualReceipts(again, first) {
		t.Errorf("second submit of %s = %+v, want the first receipts %+v", examplesFile, again, first)
	}
	if cp, _, err := c.Checkpoint(t.Context()); err != nil || cp.Size != size {
		t.Errorf("log size after resubmitting = %d (%v), want %d", cp.Size, err, size)
	}

	// Read back over HTTP/JSON.
	base := "http://" + d.httpAddr
	t.Run("GET /v1/entries/5", func(t *testing.T) {
		body, ctype := httpGet(t, base+"/v1/entries/5", http.StatusOK)
		var e chemledgerv1.Entry
		if err := strictJSON.Unmarshal(body, &e); err != nil || !strings.HasPrefix(ctype, "application/json") {
			t.Fatalf("entry 5 as %s %q: %v", ctype, body, err)
		}
		if e.GetIndex() != 5 || !bytes.Equal(e.GetLeaf(), leaves[5]) || !bytes.Equal(e.GetLeafHash(), first[5].LeafHash) {
			t.Errorf("entry 5 = index %d, leaf %q, leaf hash %x; want index 5, leaf %q, leaf hash %x", e.GetIndex(), e.GetLeaf(), e.GetLeafHash(), leaves[5], first[5].LeafHash)
		}
		if !proto.Equal(e.GetEvent(), examples[5].event) || e.GetMember() != examples[5].member || e.GetSubmissionId() != first[5].SubmissionID {
			t.Errorf("entry 5 = event %v by %q as %q; want event %v by %q as %q", e.GetEvent(), e.GetMember(), e.GetSubmissionId(), examples[5].event, examples[5].member, first[5].SubmissionID)
		}
	})
	t.Run("GET /v1/entries?filter", func(t *testing.T) {
		var want []string
		for _, ex := range examples {
			if ex.event.GetShipmentRef() == shipment {
				want = append(want, ex.event.GetEventId())
			}
		}
		for _, ev := range extraEvents {
			if ev.GetShipmentRef() == shipment {
				want = append(want, ev.GetEventId())
			}
		}
		filter := url.QueryEscape(`shipment_ref = "` + shipment + `"`)
		body, _ := httpGet(t, base+"/v1/entries?filter="+filter, http.StatusOK)
		var resp chemledgerv1.ListEntriesResponse
		if err := strictJSON.Unmarshal(body, &resp); err != nil {
			t.Fatalf("list %q: %v", body, err)
		}
		var got []string
		for _, e := range resp.GetEntries() {
			if e.GetEvent().GetShipmentRef() != shipment {
				t.Errorf("entry %d has shipment %q, want only %q", e.GetIndex(), e.GetEvent().GetShipmentRef(), shipment)
			}
			got = append(got, e.GetEvent().GetEventId())
		}
		if !slices.Equal(got, want) || resp.GetNextPageToken() != "" {
			t.Errorf("entries of shipment %s = %v (next page %q), want %v and no next page", shipment, got, resp.GetNextPageToken(), want)
		}
	})
	t.Run("GET /v1/checkpoint", func(t *testing.T) {
		body, ctype := httpGet(t, base+"/v1/checkpoint", http.StatusOK)
		vkey := logKey(t, dir)
		v, err := note.NewVerifier(vkey)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := checkpoint.Open(body, v.Name(), v)
		if err != nil || cp.Size != size || !strings.HasPrefix(ctype, "text/plain") || !strings.HasPrefix(string(body), v.Name()+"\n") {
			t.Errorf("checkpoint as %s %q: size %d, %v; want text/plain, opening with %q, signed by the key in log.pub, of size %d", ctype, body, cp.Size, err, v.Name(), size)
		}
	})
	t.Run("GET /v1/log", func(t *testing.T) {
		body, _ := httpGet(t, base+"/v1/log", http.StatusOK)
		var info chemledgerv1.LogInfo
		if err := strictJSON.Unmarshal(body, &info); err != nil {
			t.Fatalf("log info %q: %v", body, err)
		}
		if want := logKey(t, dir); info.GetVerifierKey() != want || info.GetOrigin() != devOrigin(t, dir) {
			t.Errorf("log info = %v, want origin %q and key %q", &info, devOrigin(t, dir), want)
		}
	})
	t.Run("GET /healthz", func(t *testing.T) {
		body, _ := httpGet(t, base+"/healthz", http.StatusOK)
		var h struct {
			Status   string `json:"status"`
			TreeSize uint64 `json:"tree_size"`
		}
		if err := json.Unmarshal(body, &h); err != nil || h.Status != "SERVING" || h.TreeSize != size {
			t.Errorf("healthz = %q (%v), want SERVING at tree size %d", body, err, size)
		}
	})
	t.Run("GET /metrics", func(t *testing.T) {
		body, _ := httpGet(t, base+"/metrics", http.StatusOK)
		if !bytes.Contains(body, []byte("chemledger_log_size")) {
			t.Errorf("metrics:\n%s\nwant chemledger_log_size", body)
		}
	})
	t.Run("GET /openapi.json", func(t *testing.T) {
		body, _ := httpGet(t, base+"/openapi.json", http.StatusOK)
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("openapi.json is not JSON: %v", err)
		}
		var version string
		var info struct{ Version string }
		if json.Unmarshal(doc["openapi"], &version) != nil || !strings.HasPrefix(version, "3.") {
			t.Errorf("openapi.json has keys %v and openapi %s, want an OpenAPI 3.x document", slices.Sorted(maps.Keys(doc)), doc["openapi"])
		}
		// The binary fills in its own version; the generated placeholder
		// must not reach a reader.
		if json.Unmarshal(doc["info"], &info) != nil || info.Version == "" || strings.Contains(info.Version, "unversioned") {
			t.Errorf("openapi.json info %s: want the build's version", doc["info"])
		}
	})
	t.Run("POST /v1/entries with an unknown field", func(t *testing.T) {
		body := fmt.Sprintf(`{"submissionId":"e2e-unknown-field","envelope":%q,"bogus":true}`, base64.StdEncoding.EncodeToString(leaves[0]))
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/v1/entries", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var st spb.Status
		if resp.StatusCode != http.StatusBadRequest || strictJSON.Unmarshal(got, &st) != nil {
			t.Fatalf("POST %s: %s %q, want 400 with a google.rpc.Status", body, resp.Status, got)
		}
		var fields []string
		for _, a := range st.GetDetails() {
			var br errdetails.BadRequest
			if a.UnmarshalTo(&br) != nil {
				continue
			}
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
		if !slices.Contains(fields, "bogus") {
			t.Errorf("POST with an unknown field: error %q has field violations %v, want one for %q", got, fields, "bogus")
		}
	})
	if cp, _, err := c.Checkpoint(t.Context()); err != nil || cp.Size != size {
		t.Errorf("log size after the HTTP reads = %d (%v), want %d", cp.Size, err, size)
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// httpGet fetches url, checks the status code and returns the body and its
// content type.
func httpGet(tb testing.TB, url string, wantCode int) ([]byte, string) {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodGet, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != wantCode {
		tb.Fatalf("GET %s: %s %q, want %d", url, resp.Status, body, wantCode)
	}
	return body, resp.Header.Get("Content-Type")
}

func slicesEqualReceipts(a, b []receiptLine) bool {
	return slices.EqualFunc(a, b, func(x, y receiptLine) bool {
		return x.SubmissionID == y.SubmissionID && *x.Index == *y.Index && bytes.Equal(x.LeafHash, y.LeafHash)
	})
}
