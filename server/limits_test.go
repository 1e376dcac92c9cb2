package server_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/envelope"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

// allocatedDuring is how many bytes the whole process allocated while fn
// ran (the growth of MemStats.TotalAlloc). The heap can grow only by
// allocating, so this bounds from above how far the heap grew during fn,
// its peak included, which a before/after HeapAlloc cannot see (a buffer
// allocated and dropped within fn leaves no trace in it). It counts every
// goroutine of the process, this test's client and the service's
// background work as well as the request's handling, so it can overstate
// what the request cost but never understate it.
func allocatedDuring(fn func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestLimitBodyOverMTLS: a request body one byte over MaxHTTPBody is
// refused with 413 and a RESOURCE_EXHAUSTED status before it is read (with
// a Content-Length) or as soon as the limit is passed (chunked), without
// the heap growing by as much as twice the limit, and the refusal is
// audited. A gRPC message over MaxRecvMsgSize is RESOURCE_EXHAUSTED.
// Nothing reaches the log.
func TestLimitBodyOverMTLS(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true})
	in := s.in
	limit := int(server.DefaultMaxHTTPBody)
	submitter := s.ledger(t, "US-CBP", "submitter")
	before := logSize(t, submitter)

	for _, tc := range []struct {
		name    string
		chunked bool
	}{
		{name: "Content-Length"},
		{name: "chunked", chunked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := bodyOfSize(limit + 1)
			// As a client library sends it.
			var body io.Reader = bytes.NewReader(raw)
			if tc.chunked {
				body = unsized{body}
			}
			code, _, resp := s.do(t, "US-CBP", "submitter", http.MethodPost, "/v1/entries", body)
			if code != http.StatusRequestEntityTooLarge {
				t.Fatalf("POST %d-byte body (%s): status %d, want 413; body %.300s", len(raw), tc.name, code, resp)
			}
			d, err := httpErrorDetails(t, resp)
			if err != nil {
				t.Fatal(err)
			}
			if d.code != codes.ResourceExhausted || d.domain != "chemledger.dev" || d.reason == "" {
				t.Errorf("POST %d-byte body (%s): status body %s; want RESOURCE_EXHAUSTED with an ErrorInfo of chemledger.dev", len(raw), tc.name, resp)
			}

			// What refusing it costs the service. The request is sent as
			// bytes built beforehand on a connection whose handshake is
			// done, so that the test's own client allocates next to
			// nothing while it is measured (an http.Client would copy
			// the body through a 32 KiB buffer of its own). Each
			// measurement is an upper bound on what the service
			// allocated for the request (see allocatedDuring), so their
			// minimum is too, with less of the service's background work
			// in it.
			req := rawPost(in.HTTPAddr, "/v1/entries", raw, tc.chunked)
			warm := rawPost(in.HTTPAddr, "/v1/entries", raw, false)
			var alloc []uint64
			for range 5 {
				// The connection's own buffers (TLS records both ways,
				// the server's reader and writer) are made by a first
				// request, as they would be for any request on it.
				conn := s.rawConn(t, "US-CBP", "submitter")
				br := bufio.NewReaderSize(conn, 64<<10)
				if status := rawRoundTrip(t, conn, br, warm); status != http.StatusRequestEntityTooLarge {
					t.Fatalf("raw POST of a %d-byte body: status %d, want 413", len(raw), status)
				}
				var status int
				a := allocatedDuring(func() { status = rawRoundTrip(t, conn, br, req) })
				conn.Close()
				if status != http.StatusRequestEntityTooLarge {
					t.Fatalf("raw POST of a %d-byte body (%s): status %d, want 413", len(raw), tc.name, status)
				}
				alloc = append(alloc, a)
			}
			least := slices.Min(alloc)
			t.Logf("%d-byte body (%s) over mTLS: %v bytes allocated while it was refused (limit %d)", len(raw), tc.name, alloc, limit)
			if least >= 2*uint64(limit) && !raceEnabled {
				t.Errorf("refusing a %d-byte body (%s) allocated %d bytes, want less than twice the %d-byte limit", len(raw), tc.name, least, limit)
			}
			// Refused before reaching the gRPC side, so audited by the
			// HTTP listener.
			recs, n, err := in.Audit.List(auditCount(t, in)-1, 1)
			if err != nil || len(recs) != 1 {
				t.Fatalf("last audit record of %d: %v, %v", n, recs, err)
			}
			if r := recs[0]; r.Principal != "US-CBP/submitter" || r.Via != "http" || r.Method != "POST /v1/entries" || r.Outcome != "RESOURCE_EXHAUSTED" {
				t.Errorf("audit record of the refused body: %+v; want US-CBP/submitter, http, POST /v1/entries, RESOURCE_EXHAUSTED", r)
			}
		})
	}

	t.Run("gRPC message", func(t *testing.T) {
		env := bytes.Repeat([]byte{'{'}, server.DefaultMaxRecvMsgSize+1)
		_, err := submitter.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: "US-CBP:big", Envelope: env})
		if got := status.Code(err); got != codes.ResourceExhausted {
			t.Errorf("CreateEntry with a %d-byte envelope (max message %d): %v, want RESOURCE_EXHAUSTED", len(env), server.DefaultMaxRecvMsgSize, err)
		}
	})

	if got := logSize(t, submitter); got != before {
		t.Errorf("log size %d after oversized requests, want %d", got, before)
	}
}

// rawPost is an HTTP/1.1 POST of body, with a Content-Length or chunked
// in 16 KiB chunks, as the bytes that go on the wire.
func rawPost(host, path string, body []byte, chunked bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", path, host)
	if !chunked {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
		b.Write(body)
		return b.Bytes()
	}
	b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	for rest := body; len(rest) > 0; {
		n := min(len(rest), 16<<10)
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(rest[:n])
		b.WriteString("\r\n")
		rest = rest[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

// rawRoundTrip writes req on conn and returns the response's status.
func rawRoundTrip(tb testing.TB, conn *tls.Conn, br *bufio.Reader, req []byte) int {
	tb.Helper()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(req); err != nil {
		tb.Fatalf("write request: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatalf("read response: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// retryDetails are the RetryInfo delay and ErrorInfo reason of a status.
func retryDetails(err error) (time.Duration, string) {
	var (
		delay  time.Duration
		reason string
	)
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			delay = d.GetRetryDelay().AsDuration()
		case *errdetails.ErrorInfo:
			reason = d.GetReason()
		}
	}
	return delay, reason
}

// TestRateLimitPerMember: a member that floods the service is throttled
// (RESOURCE_EXHAUSTED with RetryInfo and reason RATE_LIMITED over gRPC, 429
// with Retry-After over HTTP), another member is not slowed by it, and
// the flooding member is served again once it waits as told.
func TestRateLimitPerMember(t *testing.T) {
	const (
		perSecond = 20
		burst     = 10
		maxTries  = 1000
	)
	s := startSecured(t, "", servertest.Options{Server: func(c *server.Config) { c.RatePerMember, c.RateBurst = perSecond, burst }})
	flooder := s.ledger(t, "MX-ANAM", "analyst")
	other := s.ledger(t, "US-CBP", "analyst")

	// flood calls GetCheckpoint as MX-ANAM until it is throttled.
	flood := func() (int, time.Duration) {
		t.Helper()
		for i := range maxTries {
			_, err := flooder.GetCheckpoint(t.Context(), &chemledgerv1.GetCheckpointRequest{})
			if err == nil {
				continue
			}
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("GetCheckpoint %d as MX-ANAM/analyst: %v, want OK or RESOURCE_EXHAUSTED", i, err)
			}
			delay, reason := retryDetails(err)
			if reason != server.ReasonRateLimited || delay <= 0 || delay > time.Second/perSecond+10*time.Millisecond {
				t.Fatalf("GetCheckpoint %d as MX-ANAM/analyst: %v; want reason %s and a RetryInfo delay in (0, %v]", i, err, server.ReasonRateLimited, time.Second/perSecond)
			}
			return i, delay
		}
		t.Fatalf("%d GetCheckpoint calls as MX-ANAM/analyst at %d/s (burst %d) were never throttled", maxTries, perSecond, burst)
		return 0, 0
	}
	served, delay := flood()
	t.Logf("MX-ANAM served %d calls before it was throttled; retry in %v", served, delay)
	if served < burst {
		t.Errorf("MX-ANAM was throttled after %d calls, want at least its burst of %d", served, burst)
	}
	// Another member's bucket is its own: it is served in full while
	// MX-ANAM is throttled.
	for i := range burst / 2 {
		if _, err := other.GetCheckpoint(t.Context(), &chemledgerv1.GetCheckpointRequest{}); err != nil {
			t.Fatalf("GetCheckpoint %d as US-CBP/analyst while MX-ANAM is throttled: %v", i, err)
		}
	}
	if code, _, b := s.do(t, "US-CBP", "analyst", http.MethodGet, "/v1/checkpoint", nil); code != http.StatusOK {
		t.Errorf("GET /v1/checkpoint as US-CBP/analyst while MX-ANAM is throttled: %d %.300s", code, b)
	}

	// Over HTTP the flooding member gets 429 and Retry-After (whole
	// seconds, at least 1).
	var retryAfter int
	for i := range maxTries {
		code, h, b := s.do(t, "MX-ANAM", "analyst", http.MethodGet, "/v1/checkpoint", nil)
		if code == http.StatusOK {
			continue
		}
		if code != http.StatusTooManyRequests {
			t.Fatalf("GET /v1/checkpoint %d as MX-ANAM/analyst: %d %.300s, want 200 or 429", i, code, b)
		}
		var err error
		if retryAfter, err = strconv.Atoi(h.Get("Retry-After")); err != nil || retryAfter < 1 {
			t.Errorf("429 with Retry-After %q, want a whole number of seconds, at least 1", h.Get("Retry-After"))
		}
		if d, err := httpErrorDetails(t, b); err != nil || d.code != codes.ResourceExhausted || d.reason != server.ReasonRateLimited {
			t.Errorf("429 body %s (%v), want RESOURCE_EXHAUSTED, %s", b, err, server.ReasonRateLimited)
		}
		break
	}
	if retryAfter == 0 {
		t.Fatalf("%d GETs as MX-ANAM/analyst were never throttled", maxTries)
	}

	// Waiting as told is enough: over gRPC the RetryInfo delay, over HTTP
	// Retry-After.
	_, delay = flood()
	time.Sleep(delay)
	if _, err := flooder.GetCheckpoint(t.Context(), &chemledgerv1.GetCheckpointRequest{}); err != nil {
		t.Errorf("GetCheckpoint as MX-ANAM/analyst after waiting the %v it was told to: %v", delay, err)
	}
	flood()
	time.Sleep(time.Duration(retryAfter) * time.Second)
	if code, _, b := s.do(t, "MX-ANAM", "analyst", http.MethodGet, "/v1/checkpoint", nil); code != http.StatusOK {
		t.Errorf("GET /v1/checkpoint as MX-ANAM/analyst after waiting Retry-After %ds: %d %.300s", retryAfter, code, b)
	}
}

// TestPageSizeBounded: a page size far over the maximum is served as the
// maximum, not refused and not honoured, over gRPC and HTTP, for entries
// (server.MaxPageSize) and flags (derive.MaxPageSize).
func TestPageSizeBounded(t *testing.T) {
	s := startSecured(t, "", servertest.Options{})
	in := s.in
	const huge = 100000
	n := max(server.MaxPageSize, derive.MaxPageSize) + 50

	// US import declarations for consignees with no licence: each is an
	// entry and raises a flag.
	imp := usImport(t, in)
	items := make([]bulkItem, n)
	for i := range items {
		items[i] = importNamed(t, in, imp, fmt.Sprintf("UCR-PAGE-%05d", i))
	}
	first := logSize(t, s.ledger(t, "US-CBP", "analyst"))
	checkBulk(t, items, runBulk(t, s.ledger(t, "US-CBP", "submitter"), items), first)
	waitDerived(t, in)

	ctx := t.Context()
	for _, tc := range []struct {
		rpc   string
		grpc  func() (proto.Message, error)
		path  string
		resp  proto.Message
		count func(proto.Message) (int, string)
		want  int
	}{
		{"ListEntries", func() (proto.Message, error) {
			return s.ledger(t, "US-CBP", "analyst").ListEntries(ctx, &chemledgerv1.ListEntriesRequest{PageSize: huge})
		}, "/v1/entries?page_size=100000", &chemledgerv1.ListEntriesResponse{}, func(m proto.Message) (int, string) {
			r := m.(*chemledgerv1.ListEntriesResponse)
			return len(r.GetEntries()), r.GetNextPageToken()
		}, server.MaxPageSize},
		{"ListFlags", func() (proto.Message, error) {
			return s.analyst(t, "US-CBP", "analyst").ListFlags(ctx, &chemledgerv1.ListFlagsRequest{PageSize: huge})
		}, "/v1/flags?page_size=100000", &chemledgerv1.ListFlagsResponse{}, func(m proto.Message) (int, string) {
			r := m.(*chemledgerv1.ListFlagsResponse)
			return len(r.GetFlags()), r.GetNextPageToken()
		}, derive.MaxPageSize},
	} {
		resp, err := tc.grpc()
		if err != nil {
			t.Fatalf("%s page_size %d: %v", tc.rpc, huge, err)
		}
		if got, next := tc.count(resp); got != tc.want || next == "" {
			t.Errorf("%s page_size %d over %d flag-raising entries: %d items, next page token %q; want %d and a token",
				tc.rpc, huge, n, got, next, tc.want)
		}
		code, _, b := s.do(t, "US-CBP", "analyst", http.MethodGet, tc.path, nil)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d %.300s", tc.path, code, b)
			continue
		}
		if err := protojson.Unmarshal(b, tc.resp); err != nil {
			t.Errorf("GET %s: %v", tc.path, err)
			continue
		}
		if got, next := tc.count(tc.resp); got != tc.want || next == "" {
			t.Errorf("GET %s: %d items, next page token %q; want %d and a token", tc.path, got, next, tc.want)
		}
	}
}

// TestBulkStreamThrottled: a bulk stream pays a token per item, so one
// member's upload is slowed to its rate (back-pressure, nothing refused)
// while another member is still served at once.
func TestBulkStreamThrottled(t *testing.T) {
	const perSecond, burst, items = 50, 10, 60
	s := startSecured(t, "", servertest.Options{NoDetection: true, Server: func(c *server.Config) { c.RatePerMember, c.RateBurst = perSecond, burst }})
	ex := signedExamples(t, s.in)[0]
	var bulk []bulkItem
	for i := range items {
		p := renamedEvent(t, ex.line.Event, fmt.Sprintf("THROTTLE-%d", i))
		bulk = append(bulk, bulkItem{id: fmt.Sprintf("%s:throttle-%d", ex.member, i), env: signAs(t, s.in, ex.member, envelope.PayloadTypeEventJSON, p)})
	}
	other := s.ledger(t, "US-CBP", "analyst")
	if ex.member == "US-CBP" {
		other = s.ledger(t, "MX-ANAM", "analyst")
	}
	done := make(chan []*chemledgerv1.BulkResult)
	start := time.Now()
	go func() { done <- runBulk(t, s.ledger(t, ex.member, "submitter"), bulk) }()
	// While the stream is held back, the other member is served.
	time.Sleep(100 * time.Millisecond)
	if _, err := other.GetCheckpoint(t.Context(), &chemledgerv1.GetCheckpointRequest{}); err != nil {
		t.Errorf("another member during the throttled stream: %v", err)
	}
	results := <-done
	took := time.Since(start)
	for _, r := range results {
		if r.GetError() != nil {
			t.Fatalf("item %d refused: %v; a throttled stream is slowed, not refused", r.GetPosition(), r.GetError())
		}
	}
	if len(results) != items {
		t.Fatalf("%d results, want %d", len(results), items)
	}
	// The stream cannot have been faster than the bucket allows: the
	// burst, then one item per 1/perSecond.
	if min := time.Duration(items-burst-1) * time.Second / perSecond; took < min {
		t.Errorf("%d items at %d/s (burst %d) took %v, less than the %v the bucket allows", items, perSecond, burst, took, min)
	}
	t.Logf("%d items at %d/s, burst %d: %v", items, perSecond, burst, took)
}
