package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// strictJSON decodes a response the way a strict client would: an unknown
// field fails.
var strictJSON = protojson.UnmarshalOptions{DiscardUnknown: false}

func TestHealthz(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	submitAll(t, c, signedExamples(t, in)[:2])

	code, h, b := httpCall(t, http.MethodGet, "http://"+in.HTTPAddr+"/healthz", nil, nil)
	if code != http.StatusOK || h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /healthz: status %d, content type %q, body %s; want 200 application/json", code, h.Get("Content-Type"), b)
	}
	var got struct {
		Status          string `json:"status"`
		TreeSize        uint64 `json:"tree_size"`
		DetectorApplied uint64 `json:"detector_applied"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("GET /healthz: body %s: %v", b, err)
	}
	if got.Status != "SERVING" || got.TreeSize != 2 || got.DetectorApplied > 2 {
		t.Errorf("GET /healthz: %+v, want status SERVING, tree_size 2, detector_applied at most 2", got)
	}
}

func TestMetricsCountHTTPCalls(t *testing.T) {
	in := start(t, "")
	base := "http://" + in.HTTPAddr

	// Only HTTP calls are made, so whatever the gRPC counter holds came
	// through the gateway's connection and the interceptors.
	if code, _, b := httpCall(t, http.MethodGet, base+"/v1/log", nil, nil); code != http.StatusOK {
		t.Fatalf("GET /v1/log: %d %s", code, b)
	}
	for range 2 {
		if code, _, b := httpCall(t, http.MethodGet, base+"/v1/entries/7", nil, nil); code != http.StatusNotFound {
			t.Fatalf("GET /v1/entries/7: %d %s", code, b)
		}
	}
	code, _, b := httpCall(t, http.MethodGet, base+"/metrics", nil, nil)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, b)
	}
	for _, want := range []string{
		`chemledger_grpc_requests_total{code="OK",method="/chemledger.v1.LedgerService/GetLog"} 1`,
		`chemledger_grpc_requests_total{code="NotFound",method="/chemledger.v1.LedgerService/GetEntry"} 2`,
		`chemledger_grpc_request_seconds_count{method="/chemledger.v1.LedgerService/GetLog"} 1`,
		`chemledger_log_size 0`,
	} {
		if !bytes.Contains(b, []byte(want+"\n")) {
			t.Errorf("GET /metrics has no line %q; metrics:\n%s", want, grepLines(b, "chemledger_"))
		}
	}
}

func grepLines(b []byte, substr string) string {
	var out []string
	for l := range strings.Lines(string(b)) {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

func TestOpenAPIGolden(t *testing.T) {
	in := start(t, "")
	code, h, b := httpCall(t, http.MethodGet, "http://"+in.HTTPAddr+"/openapi.json", nil, nil)
	if code != http.StatusOK || h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: status %d, content type %q; want 200 application/json", code, h.Get("Content-Type"))
	}
	// Normalised, so that only a change of content shows.
	var compact, got bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatalf("GET /openapi.json is not JSON: %v", err)
	}
	if err := json.Indent(&got, compact.Bytes(), "", "  "); err != nil {
		t.Fatal(err)
	}
	got.WriteByte('\n')

	golden := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestOpenAPIGolden -update to write it)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got.String(), "\n")); diff != "" {
		t.Errorf("GET /openapi.json differs from %s (-want +got); if the API changed on purpose, rerun with -update:\n%s", golden, diff)
	}
}

func TestCheckpointForms(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	submitAll(t, c, signedExamples(t, in)[:3])
	cp, err := c.GetCheckpoint(t.Context(), &chemledgerv1.GetCheckpointRequest{})
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + in.HTTPAddr + "/v1/checkpoint"

	for _, tc := range []struct {
		name   string
		accept string
	}{
		{"no Accept", ""},
		{"text/plain", "text/plain"},
		{"anything", "*/*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.accept != "" {
				h.Set("Accept", tc.accept)
			}
			code, rh, b := httpCall(t, http.MethodGet, u, nil, h)
			if code != http.StatusOK || rh.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Fatalf("GET /v1/checkpoint (Accept %q): status %d, content type %q; want 200 text/plain; charset=utf-8", tc.accept, code, rh.Get("Content-Type"))
			}
			if string(b) != cp.GetNote() {
				t.Errorf("GET /v1/checkpoint (Accept %q):\n got %q\nwant %q (GetCheckpoint's note)", tc.accept, b, cp.GetNote())
			}
		})
	}

	t.Run("JSON", func(t *testing.T) {
		code, rh, b := httpCall(t, http.MethodGet, u, nil, http.Header{"Accept": {"application/json"}})
		if code != http.StatusOK || rh.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /v1/checkpoint (JSON): status %d, content type %q; want 200 application/json", code, rh.Get("Content-Type"))
		}
		got := &chemledgerv1.Checkpoint{}
		if err := strictJSON.Unmarshal(b, got); err != nil {
			t.Fatalf("GET /v1/checkpoint (JSON): %s: %v", b, err)
		}
		if !proto.Equal(got, cp) {
			t.Errorf("GET /v1/checkpoint (JSON) (-gRPC +HTTP):\n%s", cmp.Diff(cp, got, protocmp.Transform()))
		}
	})
}

// unsized hides a reader's length, so the client sends it chunked.
type unsized struct{ io.Reader }

// bodyOfSize is a CreateEntry body of exactly n bytes whose envelope
// string runs to the end, so the decoder reads all of it. The base64 is
// canonical, with white space making up the length.
func bodyOfSize(n int) []byte {
	head, tail := `{"submissionId":"big","envelope":"`, `"}`
	b64 := (n - len(head) - len(tail)) / 4 * 4
	b := head + strings.Repeat("A", b64) + tail
	return []byte(b + strings.Repeat(" ", n-len(b)))
}

func TestHTTPBodyLimit(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	before := logSize(t, c)
	limit := server.DefaultMaxHTTPBody

	for _, tc := range []struct {
		name    string
		n       int
		chunked bool
		status  int
		reason  string
	}{
		// A body at the limit is read, and refused for what it holds (an
		// envelope over MaxEnvelopeBytes), with the service's own error.
		// Today the gateway's gRPC call fails first: the decoded request
		// (about 96 KiB) is over DefaultMaxRecvMsgSize (80 KiB), and grpc-go
		// answers RESOURCE_EXHAUSTED with no ErrorInfo, which the gateway
		// turns into 429 Too Many Requests, an invitation to retry.
		{name: "at the limit", n: limit, status: http.StatusBadRequest, reason: server.ReasonBadInput},
		{name: "at the limit, chunked", n: limit, chunked: true, status: http.StatusBadRequest, reason: server.ReasonBadInput},
		{name: "one byte over, with Content-Length", n: limit + 1, status: http.StatusRequestEntityTooLarge, reason: "BODY_TOO_LARGE"},
		{name: "one byte over, chunked", n: limit + 1, chunked: true, status: http.StatusRequestEntityTooLarge, reason: "BODY_TOO_LARGE"},
		{name: "far over, chunked", n: 4 * limit, chunked: true, status: http.StatusRequestEntityTooLarge, reason: "BODY_TOO_LARGE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(bodyOfSize(tc.n))
			if tc.chunked {
				body = unsized{body}
			}
			code, _, b := httpCall(t, http.MethodPost, "http://"+in.HTTPAddr+"/v1/entries", body, http.Header{"Content-Type": {"application/json"}})
			if code != tc.status {
				t.Errorf("POST %d-byte body (chunked %v): status %d, want %d; body %.300s", tc.n, tc.chunked, code, tc.status, b)
			}
			d, err := httpErrorDetails(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if d.reason != tc.reason || d.domain != "chemledger.dev" {
				t.Errorf("POST %d-byte body (chunked %v): reason %q, domain %q; want %q, chemledger.dev", tc.n, tc.chunked, d.reason, d.domain, tc.reason)
			}
		})
	}
	if got := logSize(t, c); got != before {
		t.Errorf("log size %d after oversized bodies, want %d", got, before)
	}
}

// TestHTTPBodyTrailingData: a request body is one JSON object and nothing
// else. grpc-gateway's JSONPb decoder reads the first JSON value and the
// generated handler discards the rest, so without a stricter decoder the
// service accepts (and logs) a body with anything after the object.
func TestHTTPBodyTrailingData(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	exs := signedExamples(t, in)
	before := logSize(t, c)

	for i, trailer := range []string{
		` {"submissionId":"second","envelope":""}`,
		` trailing garbage`,
		`}`,
	} {
		t.Run(fmt.Sprintf("%q", trailer), func(t *testing.T) {
			body := append(entryBody(exs[i].id, exs[i].env), trailer...)
			code, b := postEntry(t, in, body)
			w := expect{code: codes.InvalidArgument, reason: server.ReasonBadInput, field: "body", status: http.StatusBadRequest}
			w.checkHTTP(t, code, b, nil)
			if t.Failed() {
				t.Logf("body %.120s…%s\nanswer %.300s", body, trailer, b)
			}
		})
	}
	if got := logSize(t, c); got != before {
		t.Errorf("log size %d after bodies with trailing data, want %d (nothing accepted)", got, before)
	}
}

func TestHTTPEntryDecodesStrictly(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	exs := signedExamples(t, in)
	submitAll(t, c, exs[:5])

	want, err := c.GetEntry(t.Context(), &chemledgerv1.GetEntryRequest{Index: 0})
	if err != nil {
		t.Fatal(err)
	}
	code, h, b := httpCall(t, http.MethodGet, "http://"+in.HTTPAddr+"/v1/entries/0", nil, nil)
	if code != http.StatusOK || h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/entries/0: status %d, content type %q, body %.300s", code, h.Get("Content-Type"), b)
	}
	got := &chemledgerv1.Entry{}
	if err := strictJSON.Unmarshal(b, got); err != nil {
		t.Fatalf("GET /v1/entries/0: %v; body %.300s", err, b)
	}
	if !proto.Equal(got, want) {
		t.Errorf("GET /v1/entries/0 (-gRPC +HTTP):\n%s", cmp.Diff(want, got, protocmp.Transform()))
	}

	// A page of ListEntries too.
	const filter = `kind = PRE_EXPORT_NOTIFICATION`
	wantList, err := c.ListEntries(t.Context(), &chemledgerv1.ListEntriesRequest{Filter: filter, PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	code, _, b = httpCall(t, http.MethodGet, "http://"+in.HTTPAddr+"/v1/entries?pageSize=1&filter=kind+%3D+PRE_EXPORT_NOTIFICATION", nil, nil)
	gotList := &chemledgerv1.ListEntriesResponse{}
	if err := strictJSON.Unmarshal(b, gotList); code != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/entries (list): status %d, decode error %v, body %.300s", code, err, b)
	}
	if !proto.Equal(gotList, wantList) {
		t.Errorf("ListEntries(%q, 1) (-gRPC +HTTP):\n%s", filter, cmp.Diff(wantList, gotList, protocmp.Transform()))
	}
}

func TestReflection(t *testing.T) {
	in := start(t, "")
	stream, err := reflectionpb.NewServerReflectionClient(dial(t, in)).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *reflectionpb.ServerReflectionRequest) *reflectionpb.ServerReflectionResponse {
		t.Helper()
		if err := stream.Send(req); err != nil {
			t.Fatalf("reflection send %v: %v", req, err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("reflection receive for %v: %v", req, err)
		}
		return resp
	}

	resp := ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	var services []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	for _, want := range []string{"chemledger.v1.LedgerService", "grpc.health.v1.Health"} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection lists %q, want it to include %q", services, want)
		}
	}

	resp = ask(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "chemledger.v1.LedgerService"}})
	if len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("reflection: no file descriptor for chemledger.v1.LedgerService: %v", resp)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("reflection stream end: %v, want EOF", err)
	}
}

func TestGRPCHealth(t *testing.T) {
	in := start(t, "")
	h := healthpb.NewHealthClient(dial(t, in))
	for _, tc := range []struct {
		service string
		want    healthpb.HealthCheckResponse_ServingStatus
		code    codes.Code
	}{
		{"", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"chemledger.v1.LedgerService", healthpb.HealthCheckResponse_SERVING, codes.OK},
		{"chemledger.v1.NoSuchService", healthpb.HealthCheckResponse_SERVICE_UNKNOWN, codes.NotFound},
	} {
		t.Run(tc.service, func(t *testing.T) {
			resp, err := h.Check(t.Context(), &healthpb.HealthCheckRequest{Service: tc.service})
			if status.Code(err) != tc.code || resp.GetStatus() != tc.want && tc.code == codes.OK {
				t.Errorf("Check(%q): %v, %v; want %v, %v", tc.service, resp.GetStatus(), err, tc.want, tc.code)
			}
		})
	}
}
