package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

// Regression tests of the protocol-level findings of issue 10: what the
// listeners do with input no well-behaved client library sends.

// liveHeap is the live heap after a collection: what the process holds on
// to, as against what it allocated and dropped.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestContinuationFloodCut (issue 10, finding 5): a HEADERS frame without
// END_HEADERS followed by megabytes of CONTINUATION frames, from a client
// with a valid certificate, made the gRPC server keep every header field
// up to grpc-go's default list size of 16 MiB, per stream, and a few
// streams on a few connections cost hundreds of megabytes. The server bounds header
// lists at 64 KiB as the HTTP listener does, so the connection is cut long
// before the flood ends and the heap does not keep it.
func TestContinuationFloodCut(t *testing.T) {
	s := startSecured(t, "", servertest.Options{NoDetection: true})
	cfg := clientTLS(t, s.in, "US-CBP", "analyst")
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", s.in.GRPCAddr, cfg)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", s.in.GRPCAddr, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatalf("client preface: %v", err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatalf("SETTINGS: %v", err)
	}
	// The server's frames are read until it closes the connection;
	// closed says when, and with what.
	closed := make(chan error, 1)
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				closed <- err
				return
			}
			// The server's SETTINGS go unacknowledged: the framer is
			// written from one goroutine only, and grpc-go does not
			// wait for the ack.
			if g, ok := f.(*http2.GoAwayFrame); ok {
				closed <- errors.New("GOAWAY " + g.ErrCode.String())
				return
			}
		}
	}()

	var hdr bytes.Buffer
	enc := hpack.NewEncoder(&hdr)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", "https"}, {":authority", "localhost"},
		{":path", "/chemledger.v1.LedgerService/GetCheckpoint"},
		{"content-type", "application/grpc"}, {"te", "trailers"},
	} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	start := bytes.Clone(hdr.Bytes())
	// Each CONTINUATION frame is one never-indexed field of nearly a
	// whole frame (16 KiB by default), so everything sent is something a
	// server without a bound keeps.
	hdr.Reset()
	enc.WriteField(hpack.HeaderField{Name: "x-flood", Value: string(bytes.Repeat([]byte{'a'}, 16<<10-64)), Sensitive: true})
	field := bytes.Clone(hdr.Bytes())
	// Under grpc-go's default bound (16 MiB, after which it does cut the
	// connection), so that an unbounded server still holds all of it
	// when the heap is measured.
	const flood = 8 << 20
	frames := flood / len(field)

	before := liveHeap()
	conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	sent, werr := 0, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: start})
	for ; werr == nil && sent < frames; sent++ {
		werr = fr.WriteContinuation(1, false, field)
	}
	var closedBy error
	select {
	case closedBy = <-closed:
	case <-time.After(2 * time.Second):
	}
	grew := int64(liveHeap()) - int64(before)
	t.Logf("CONTINUATION flood: %d of %d frames (%d KiB) written, write error %v; server closed the connection: %v; live heap grew by %d KiB",
		sent, frames, sent*len(field)>>10, werr, closedBy, grew>>10)
	if closedBy == nil {
		t.Errorf("the server kept the connection open through %d KiB of CONTINUATION frames; want it closed", sent*len(field)>>10)
	}
	if sent == frames && werr == nil {
		t.Errorf("all %d KiB of the flood were accepted; want the connection cut long before", flood>>10)
	}
	// A quarter of the flood is generous: a bounded server keeps at most
	// one 64 KiB header list (and with the connection closed, not even
	// that).
	if grew > flood/4 {
		t.Errorf("the live heap grew by %d KiB during a %d KiB CONTINUATION flood; want less than %d KiB", grew>>10, flood>>10, flood/4>>10)
	}
}

// rawRequest writes one HTTP/1.1 request, exactly as given, on a fresh TLS
// connection to the HTTP listener as member in role, and reads the answer:
// no client library cleans the path, follows a redirect or picks the
// framing.
func rawRequest(tb testing.TB, s *secured, member, role, req string) (*http.Response, []byte) {
	tb.Helper()
	conn := s.rawConn(tb, member, role)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		tb.Fatalf("write %.80q: %v", req, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		tb.Fatalf("read the answer to %.80q: %v", req, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read the body of the answer to %.80q: %v", req, err)
	}
	return resp, b
}

// TestDotSegmentPathsRefused (issue 10, finding 11): GET
// /v1/shipments/../../etc/passwd was answered 307 to /etc/passwd: the
// HTTP mux cleaned the path and redirected to wherever it led. A path with
// dot segments or empty segments is not one the API has, so it is refused
// as bad input (400, INVALID_ARGUMENT, field "path"), never redirected,
// and the refusal is audited with the caller's identity. Dots inside a
// segment, and an escaped slash in a shipment reference, are still
// ordinary path data.
func TestDotSegmentPathsRefused(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true, Server: func(c *server.Config) {
		c.RefusalWindow = -1 // each refusal on its own record, to check each
	}})
	in := s.in
	host := in.HTTPAddr
	for _, path := range []string{
		"/v1/shipments/../../etc/passwd",
		"/v1/shipments/..",
		"/v1/shipments/./PEN-CN-2026-000871",
		"/v1/entries/0/..",
		"/v1/./checkpoint",
		"/v1/entries/../audit-records",
		"//v1/entries",
		"/v1//entries",
		"/v1/entries//0",
		"/healthz/..",
		"/../healthz",
		"/v1/shipments/../../etc/passwd?x=1",
	} {
		t.Run(path, func(t *testing.T) {
			before := auditCount(t, in)
			resp, b := rawRequest(t, s, "US-CBP", "analyst", "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("GET %s: status %d, Location %q, body %.300s; want 400 and no redirect", path, resp.StatusCode, resp.Header.Get("Location"), b)
			}
			d, err := httpErrorDetails(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if want := badInput("path"); d.code != want.code || d.reason != want.reason || !slices.Equal(d.fields, []string{"path"}) {
				t.Errorf("GET %s: body %s; want INVALID_ARGUMENT, %s, field path", path, b, server.ReasonBadInput)
			}
			recs, _, err := in.Audit.List(before, 10)
			if err != nil || len(recs) != 1 {
				t.Fatalf("audit records of GET %s: %+v, %v; want one", path, recs, err)
			}
			if r := recs[0]; r.Principal != "US-CBP/analyst" || r.Via != "http" || r.Outcome != "INVALID_ARGUMENT" {
				t.Errorf("audit record of GET %s: %+v; want US-CBP/analyst, http, INVALID_ARGUMENT", path, r)
			}
		})
	}
	// Not dot segments: a dot within a reference, and a reference whose
	// slashes and dots are escaped into one segment.
	for _, path := range []string{
		"/v1/shipments/PEN.CN.2026",
		"/v1/shipments/" + url.PathEscape("UCR/../X"),
		"/v1/shipments/...",
	} {
		resp, b := rawRequest(t, s, "US-CBP", "analyst", "GET "+path+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, body %.300s; want 404 (no such shipment)", path, resp.StatusCode, b)
		} else if d, err := httpErrorDetails(t, b); err != nil || d.reason != server.ReasonShipmentNotFound {
			t.Errorf("GET %s: body %s (%v); want reason %s", path, b, err, server.ReasonShipmentNotFound)
		}
	}
}

// TestOversizeBodyAnswered413 (issue 10, finding 12): a 20 MiB POST got a
// connection reset instead of 413. The 413 went out at once, but the
// listener stopped reading and closed the connection half a second later
// with the body still arriving, so a client that sends its whole body
// before it reads (as many do) had its send reset, and across a network
// the reset can destroy the unread answer. Now the 413 goes out as soon as
// the header (Content-Length) or the body read so far (chunked) exceeds
// the limit, and the listener reads and discards the rest of a body it can
// afford to (server.MaxDiscardedBody), so the client finishes sending and
// reads the 413; then the connection serves the next request (a body with
// a Content-Length, read to its end) or ends cleanly (chunked: the
// listener's body limit closes it, after the body).
func TestOversizeBodyAnswered413(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true})
	const size = 20 << 20
	chunk := bytes.Repeat([]byte{'a'}, 16<<10)
	path := "/v1/entries"
	head := func(chunked bool) string {
		h := "POST " + path + " HTTP/1.1\r\nHost: " + s.in.HTTPAddr + "\r\nContent-Type: application/json\r\n"
		if chunked {
			return h + "Transfer-Encoding: chunked\r\n\r\n"
		}
		return h + fmt.Sprintf("Content-Length: %d\r\n\r\n", size)
	}
	// send writes the header and then the whole body, 16 KiB at a time.
	send := func(conn *tls.Conn, chunked bool) error {
		if _, err := io.WriteString(conn, head(chunked)); err != nil {
			return err
		}
		for sent := 0; sent < size; sent += len(chunk) {
			var err error
			if chunked {
				_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
			} else {
				_, err = conn.Write(chunk)
			}
			if err != nil {
				return fmt.Errorf("after %d of %d body bytes: %w", sent, size, err)
			}
		}
		if chunked {
			_, err := io.WriteString(conn, "0\r\n\r\n")
			return err
		}
		return nil
	}
	// check reads the answer: 413, RESOURCE_EXHAUSTED, BODY_TOO_LARGE;
	// then a chunked body's connection ends cleanly (EOF, not a reset)
	// and a Content-Length body's serves GET /healthz.
	check := func(t *testing.T, conn *tls.Conn, br *bufio.Reader, chunked bool) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("read the answer: %v", err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("read the answer's body: %v", err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Close != chunked {
			t.Errorf("status %d, Connection %q, body %.300s; want 413, and Connection: close only if chunked", resp.StatusCode, resp.Header.Get("Connection"), b)
		}
		if d, err := httpErrorDetails(t, b); err != nil || d.code != codes.ResourceExhausted || d.reason != server.ReasonBodyTooLarge {
			t.Errorf("body %s (%v); want RESOURCE_EXHAUSTED, %s", b, err, server.ReasonBodyTooLarge)
		}
		if chunked {
			if n, err := br.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("after the 413: read %d bytes, %v; want a clean end of the connection (EOF)", n, err)
			}
			return
		}
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: "+s.in.HTTPAddr+"\r\n\r\n"); err != nil {
			t.Fatalf("GET /healthz after the 413: %v", err)
		}
		resp, err = http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("GET /healthz on the connection after the 413: %v, %v; want 200", resp, err)
		}
	}
	for _, chunked := range []bool{false, true} {
		name := map[bool]string{false: "Content-Length", true: "chunked"}[chunked]
		// A client that reads while it sends has the 413 at once, well
		// before it has sent the body (and long before the 30 s read
		// timeout).
		t.Run(name+", reading while sending", func(t *testing.T) {
			conn := s.rawConn(t, "US-CBP", "submitter")
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			sent := make(chan error, 1)
			start := time.Now()
			go func() { sent <- send(conn, chunked) }()
			br := bufio.NewReader(conn)
			if _, err := br.Peek(1); err != nil {
				t.Fatalf("waiting for the answer: %v", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the 413 took %v, want it at once", took)
			}
			if err := <-sent; err != nil {
				t.Errorf("sending the %d-byte body: %v; want the listener to read it to its end, not reset the connection", size, err)
			}
			check(t, conn, br, chunked)
		})
		// A client that sends everything before it reads: its send
		// completes, and the 413 is there to read.
		t.Run(name+", sending then reading", func(t *testing.T) {
			conn := s.rawConn(t, "US-CBP", "submitter")
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			if err := send(conn, chunked); err != nil {
				t.Errorf("sending the %d-byte body: %v; want the listener to read it to its end, not reset the connection", size, err)
			}
			check(t, conn, bufio.NewReader(conn), chunked)
		})
	}
	// Any request refused before its body is read ends as cleanly: here
	// one refused for its path.
	t.Run("refused for its path, sending then reading", func(t *testing.T) {
		path = "/v1/../v1/entries"
		conn := s.rawConn(t, "US-CBP", "submitter")
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		if err := send(conn, false); err != nil {
			t.Errorf("sending the %d-byte body: %v; want the listener to read it to its end, not reset the connection", size, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s: %v, %v; want 400", path, resp, err)
		}
	})
}

// rawCodec sends and receives messages as the bytes they are, so that a
// test can put on the wire what no protobuf library would encode. It is
// named "proto" so that the request says application/grpc+proto.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// invokeRaw makes a unary call of method with body as its message bytes.
func invokeRaw(ctx context.Context, conn *grpc.ClientConn, method string, body []byte) error {
	var reply []byte
	return conn.Invoke(ctx, method, &body, &reply, grpc.ForceCodecV2(rawCodec{}))
}

// bulkRaw sends body as the one message of a BulkCreateEntries stream and
// returns how the stream ended.
func bulkRaw(ctx context.Context, conn *grpc.ClientConn, body []byte) error {
	st, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, ledgerSvc+"BulkCreateEntries", grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		return err
	}
	if err := st.SendMsg(&body); err != nil && err != io.EOF {
		return err
	}
	st.CloseSend()
	for {
		var reply []byte
		if err := st.RecvMsg(&reply); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// malformedMessages are protobuf encodings no library produces: each is a
// CreateEntryRequest (or GetEntryRequest: field 1 is a varint there) the
// parser must refuse, and the field the refusal must name.
var malformedMessages = []struct {
	name  string
	body  []byte
	field string
}{
	// Field 3 (unknown) with a varint of 11 bytes: at most 10 exist.
	{"an 11-byte varint", append([]byte{3<<3 | 0}, append(bytes.Repeat([]byte{0xff}, 10), 0x01)...), "body"},
	// Field 1 says 32 bytes follow; one does.
	{"a length past the end", []byte{1<<3 | 2, 32, 'a'}, "body"},
	// submission_id (field 1, a string) of the bytes ff fe.
	{"invalid UTF-8 in a string field", []byte{1<<3 | 2, 2, 0xff, 0xfe}, "submission_id"},
	// A tag with field number 0.
	{"field number 0", []byte{0<<3 | 0, 1}, "body"},
}

// TestMalformedProtobufInvalidArgument (issue 10, finding 6): a gRPC
// request whose message does not parse was answered INTERNAL (grpc-go's
// "failed to unmarshal"), as if the server were at fault, where HTTP
// answers a body it cannot decode with INVALID_ARGUMENT. Over gRPC it is
// now INVALID_ARGUMENT with reason BAD_INPUT and the field at fault (the
// string field with invalid UTF-8; "body" when the wire format itself is
// broken), in a unary call and in a bulk stream alike, and it changes
// nothing.
func TestMalformedProtobufInvalidArgument(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true, NoDetection: true})
	conn := s.conn(t, "US-CBP", "submitter")
	before := logSize(t, s.ledger(t, "US-CBP", "submitter"))
	for _, m := range malformedMessages {
		want := badInput(m.field)
		t.Run(m.name, func(t *testing.T) {
			err := invokeRaw(t.Context(), conn, ledgerSvc+"CreateEntry", m.body)
			st := status.Convert(err)
			want.check(t, "CreateEntry", detailsOf(st), st.Message())
			err = bulkRaw(t.Context(), conn, m.body)
			st = status.Convert(err)
			want.check(t, "BulkCreateEntries", detailsOf(st), st.Message())
			if m.field == "submission_id" {
				return // GetEntryRequest has no string field
			}
			err = invokeRaw(t.Context(), s.conn(t, "MX-ANAM", "analyst"), ledgerSvc+"GetEntry", m.body)
			st = status.Convert(err)
			want.check(t, "GetEntry", detailsOf(st), st.Message())
		})
	}
	if got := logSize(t, s.ledger(t, "US-CBP", "submitter")); got != before {
		t.Errorf("log size %d after malformed messages, want %d", got, before)
	}
}

// TestRefusalsAttributedToCertificate (issue 10, finding 9): a caller with
// a verified certificate that forged the gateway's caller metadata was
// audited with no principal, as were the gateway's own certificate used
// from outside and a certificate of no member: the attempt could not be
// traced to the key that made it. Every refusal after the handshake now
// records who the certificate says the caller is.
func TestRefusalsAttributedToCertificate(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true, NoDetection: true})
	in := s.in
	gatewayCert, err := pki.LoadClient(in.PKI.CA(), in.PKI.GatewayCert(), in.PKI.GatewayKey())
	if err != nil {
		t.Fatal(err)
	}
	stranger := issueClient(t, devCA(t, in), "ZZ-NOBODY", pki.RoleAnalyst, nil)
	strangerTLS := withCert(clientTLS(t, in, "MX-ANAM", pki.RoleAnalyst), &stranger)
	forged := metadata.Pairs("x-chemledger-caller", "US-CBP;admin;")
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
		via  string
		want string
	}{
		{"analyst's certificate with forged caller metadata", func(ctx context.Context) error {
			_, err := s.ledger(t, "MX-ANAM", "analyst").GetCheckpoint(metadata.NewOutgoingContext(ctx, forged), &chemledgerv1.GetCheckpointRequest{})
			return err
		}, "grpc", "MX-ANAM/analyst"},
		{"forged caller metadata on a malformed message", func(ctx context.Context) error {
			return invokeRaw(metadata.NewOutgoingContext(ctx, forged), s.conn(t, "MX-ANAM", "submitter"), ledgerSvc+"CreateEntry", malformedMessages[0].body)
		}, "grpc", "MX-ANAM/submitter"},
		{"the gateway's certificate over gRPC", func(ctx context.Context) error {
			return openGRPC(t, in, gatewayCert).checkpoint(ctx)
		}, "grpc", "gateway"},
		{"the gateway's certificate over HTTP", func(ctx context.Context) error {
			c := openHTTPS(in, gatewayCert)
			defer c.close()
			return c.checkpoint(ctx)
		}, "http", "gateway"},
		{"a certificate of no member over gRPC", func(ctx context.Context) error {
			return openGRPC(t, in, strangerTLS).checkpoint(ctx)
		}, "grpc", "ZZ-NOBODY/analyst"},
		{"a certificate of no member over HTTP", func(ctx context.Context) error {
			c := openHTTPS(in, strangerTLS)
			defer c.close()
			return c.checkpoint(ctx)
		}, "http", "ZZ-NOBODY/analyst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := auditCount(t, in)
			if err := tc.call(t.Context()); status.Code(err) != codes.Unauthenticated || reasonOf(err) != server.ReasonUnauthenticated {
				t.Fatalf("%v, want UNAUTHENTICATED, %s", err, server.ReasonUnauthenticated)
			}
			recs, _, err := in.Audit.List(before, 10)
			if err != nil || len(recs) != 1 {
				t.Fatalf("audit records of the refusal: %+v, %v; want one", recs, err)
			}
			if r := recs[0]; r.Principal != tc.want || r.Via != tc.via || r.Outcome != "UNAUTHENTICATED" {
				t.Errorf("audit record %+v; want principal %q, via %s, UNAUTHENTICATED", r, tc.want, tc.via)
			}
		})
	}
}

// rateLimitedRecords is how many audit records the README promises for n
// of one member's calls refused for its rate in one burst. Each is its own
// record today; when such refusals are coalesced into counted records,
// this function, and nothing else in TestEveryRefusalAudited, changes.
// rateLimitedRecords is how many records rate-limited refusals add while the
// service runs: refusals of one kind (principal, front door, method,
// outcome) are counted into one record per RefusalWindow, the first on its
// own before its answer. With the window longer than the test, that is one
// record per front door limited; the counts are written at shutdown.
func rateLimitedRecords(kinds int) uint64 { return uint64(kinds) }

// waitAudit waits (briefly) until the audit store holds want records:
// refusals grpc-go answers itself are recorded as the call ends, just after
// the answer. It returns how many it holds.
func waitAudit(tb testing.TB, in *servertest.Instance, want uint64) uint64 {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := auditCount(tb, in)
		if n >= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEveryRefusalAudited (issue 10, finding 8): the README says every
// read and every refused request is recorded, and malformed protobuf,
// gRPC messages over the size limit, INVALID_ARGUMENT (and every other
// refusal but a denial) on writes, and bulk items refused one by one left
// no record. A scripted session sends every class of request (allowed,
// refused by authorisation, by validation, malformed, oversize, with a bad
// path, unauthenticated, of a method that does not exist, rate-limited)
// over both listeners, and each must
// leave exactly the records the README promises, naming who asked; the
// README's one exception, a request the HTTP server refuses before it is
// a request (431), leaves none.
func TestEveryRefusalAudited(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true})
	in := s.in
	exs := signedExamples(t, in)
	usEx, mxEx, usHTTPEx := exs[2], exs[3], exs[13]
	if usEx.member != "US-CBP" || mxEx.member != "MX-ANAM" || usHTTPEx.member != "US-CBP" {
		t.Fatalf("examples 2, 3, 13 are by %s, %s, %s; want US-CBP, MX-ANAM, US-CBP", usEx.member, mxEx.member, usHTTPEx.member)
	}
	submitter := s.ledger(t, "US-CBP", "submitter")
	grpcWant := func(t *testing.T, err error, want codes.Code) {
		t.Helper()
		if status.Code(err) != want {
			t.Fatalf("%v, want %v", err, want)
		}
	}
	httpWant := func(t *testing.T, member, role, method, path string, body io.Reader, want int) {
		t.Helper()
		if code, _, b := s.do(t, member, role, method, path, body); code != want {
			t.Fatalf("%s %s as %s/%s: %d %.300s, want %d", method, path, member, role, code, b, want)
		}
	}
	create := func(c chemledgerv1.LedgerServiceClient, id string, env []byte) error {
		_, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: id, Envelope: env})
		return err
	}
	tooBig := make([]byte, server.DefaultMaxRecvMsgSize+1)
	steps := []struct {
		name    string
		run     func(t *testing.T)
		records uint64
	}{
		// Allowed: reads are recorded, writes are in the log instead.
		{"allowed read over gRPC", func(t *testing.T) {
			_, err := s.ledger(t, "MX-ANAM", "analyst").GetCheckpoint(t.Context(), &chemledgerv1.GetCheckpointRequest{})
			grpcWant(t, err, codes.OK)
		}, 1},
		{"allowed write over gRPC", func(t *testing.T) { grpcWant(t, create(submitter, usEx.id, usEx.env), codes.OK) }, 0},
		{"allowed read over HTTP", func(t *testing.T) {
			httpWant(t, "NL-DOUANE", "auditor", http.MethodGet, "/v1/checkpoint", nil, http.StatusOK)
		}, 1},
		{"allowed local read over HTTP", func(t *testing.T) {
			httpWant(t, "NL-DOUANE", "auditor", http.MethodGet, "/healthz", nil, http.StatusOK)
		}, 1},
		{"allowed write over HTTP", func(t *testing.T) {
			httpWant(t, "US-CBP", "submitter", http.MethodPost, "/v1/entries", bytes.NewReader(entryBody(usHTTPEx.id, usHTTPEx.env)), http.StatusOK)
		}, 0},
		{"allowed bulk stream", func(t *testing.T) {
			checkBulk(t, nil, runBulk(t, submitter, nil), 0)
		}, 0},
		// Refused by authorisation.
		{"denied read over gRPC", func(t *testing.T) {
			_, err := s.analyst(t, "US-CBP", "submitter").ListFlags(t.Context(), &chemledgerv1.ListFlagsRequest{})
			grpcWant(t, err, codes.PermissionDenied)
		}, 1},
		{"denied write over gRPC", func(t *testing.T) {
			grpcWant(t, create(s.ledger(t, "MX-ANAM", "analyst"), mxEx.id, mxEx.env), codes.PermissionDenied)
		}, 1},
		{"denied read over HTTP", func(t *testing.T) {
			httpWant(t, "US-CBP", "submitter", http.MethodGet, "/v1/flags", nil, http.StatusForbidden)
		}, 1},
		{"denied write over HTTP", func(t *testing.T) {
			httpWant(t, "MX-ANAM", "analyst", http.MethodPost, "/v1/entries", bytes.NewReader(entryBody(mxEx.id, mxEx.env)), http.StatusForbidden)
		}, 1},
		// Refused by validation, and other refusals of writes.
		{"invalid write over gRPC", func(t *testing.T) { grpcWant(t, create(submitter, "US-CBP:empty", nil), codes.InvalidArgument) }, 1},
		{"invalid write over HTTP", func(t *testing.T) {
			httpWant(t, "US-CBP", "submitter", http.MethodPost, "/v1/entries", bytes.NewReader(entryBody("US-CBP:empty", nil)), http.StatusBadRequest)
		}, 1},
		{"submission id reused over gRPC", func(t *testing.T) { grpcWant(t, create(submitter, usEx.id, usHTTPEx.env), codes.AlreadyExists) }, 1},
		{"invalid read over gRPC", func(t *testing.T) {
			_, err := s.analyst(t, "US-CBP", "analyst").GetShipment(t.Context(), &chemledgerv1.GetShipmentRequest{Ref: "PEN CN"})
			grpcWant(t, err, codes.InvalidArgument)
		}, 1},
		{"bulk stream with two items refused, one accepted", func(t *testing.T) {
			good := exs[8]
			results := runBulk(t, s.ledger(t, good.member, "submitter"), []bulkItem{{id: good.member + ":bulk-empty-1"}, {id: good.id, env: good.env}, {id: good.member + ":bulk-empty-2"}})
			if len(results) != 3 || results[0].GetError() == nil || results[1].GetError() != nil || results[2].GetError() == nil {
				t.Fatalf("bulk results %v; want the first and last refused", results)
			}
		}, 2},
		// Malformed.
		{"malformed message over gRPC (write)", func(t *testing.T) {
			grpcWant(t, invokeRaw(t.Context(), s.conn(t, "US-CBP", "submitter"), ledgerSvc+"CreateEntry", malformedMessages[0].body), codes.InvalidArgument)
		}, 1},
		{"malformed message over gRPC (read)", func(t *testing.T) {
			grpcWant(t, invokeRaw(t.Context(), s.conn(t, "MX-ANAM", "analyst"), ledgerSvc+"GetEntry", malformedMessages[1].body), codes.InvalidArgument)
		}, 1},
		{"malformed message in a bulk stream", func(t *testing.T) {
			grpcWant(t, bulkRaw(t.Context(), s.conn(t, "US-CBP", "submitter"), malformedMessages[2].body), codes.InvalidArgument)
		}, 1},
		{"body the gateway cannot decode", func(t *testing.T) {
			httpWant(t, "US-CBP", "submitter", http.MethodPost, "/v1/entries", strings.NewReader(`{"submissionId":`), http.StatusBadRequest)
		}, 1},
		{"body with an unknown field", func(t *testing.T) {
			httpWant(t, "US-CBP", "submitter", http.MethodPost, "/v1/entries", strings.NewReader(`{"submitter":"MX-ANAM"}`), http.StatusBadRequest)
		}, 1},
		// Oversize.
		{"gRPC message over the limit", func(t *testing.T) { grpcWant(t, create(submitter, "US-CBP:big", tooBig), codes.ResourceExhausted) }, 1},
		{"gRPC read message over the limit", func(t *testing.T) {
			big := append([]byte{1<<3 | 2}, protowire.AppendVarint(nil, uint64(len(tooBig)))...)
			grpcWant(t, invokeRaw(t.Context(), s.conn(t, "MX-ANAM", "analyst"), ledgerSvc+"ListEntries", append(big, tooBig...)), codes.ResourceExhausted)
		}, 1},
		{"bulk item over the limit", func(t *testing.T) {
			_, err := bulkResults(t.Context(), submitter, []bulkItem{{id: "US-CBP:bulk-big", env: tooBig}})
			grpcWant(t, err, codes.ResourceExhausted)
		}, 1},
		{"HTTP body over the limit, Content-Length", func(t *testing.T) {
			httpWant(t, "US-CBP", "submitter", http.MethodPost, "/v1/entries", bytes.NewReader(bodyOfSize(server.DefaultMaxHTTPBody+1)), http.StatusRequestEntityTooLarge)
		}, 1},
		{"HTTP body over the limit, chunked", func(t *testing.T) {
			httpWant(t, "US-CBP", "submitter", http.MethodPost, "/v1/entries", unsized{bytes.NewReader(bodyOfSize(server.DefaultMaxHTTPBody + 1))}, http.StatusRequestEntityTooLarge)
		}, 1},
		// Paths and identity.
		{"path with dot segments", func(t *testing.T) {
			resp, b := rawRequest(t, s, "MX-ANAM", "analyst", "GET /v1/shipments/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d %.300s, want 400", resp.StatusCode, b)
			}
		}, 1},
		{"unknown HTTP path", func(t *testing.T) {
			httpWant(t, "MX-ANAM", "analyst", http.MethodGet, "/v1/nothing-here", nil, http.StatusNotFound)
		}, 1},
		{"gRPC call of a method the service does not have", func(t *testing.T) {
			grpcWant(t, invokeRaw(t.Context(), s.conn(t, "US-CBP", "admin"), ledgerSvc+"DeleteEntry", nil), codes.PermissionDenied)
		}, 1},
		{"forged caller metadata over gRPC", func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(t.Context(), "x-chemledger-caller", "US-CBP;admin;")
			_, err := s.ledger(t, "MX-ANAM", "analyst").GetCheckpoint(ctx, &chemledgerv1.GetCheckpointRequest{})
			grpcWant(t, err, codes.Unauthenticated)
		}, 1},
		// The README's exception: refused by the HTTP server before it
		// is a request.
		{"HTTP header block over 64 KiB", func(t *testing.T) {
			resp, b := rawRequest(t, s, "MX-ANAM", "analyst", "GET /v1/checkpoint HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 80<<10)+"\r\n\r\n")
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Fatalf("status %d %.300s, want 431", resp.StatusCode, b)
			}
		}, 0},
	}
	start := waitAudit(t, in, 0)
	total := start
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.run(t)
			total += st.records
			if got := waitAudit(t, in, total); got != total {
				t.Errorf("%d audit records after it, want %d (%d for this request)", got, total, st.records)
				total = got
			}
		})
	}
	recs, _, err := in.Audit.List(start, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Principal == "" {
			t.Errorf("audit record %d names nobody: %+v", r.Seq, r)
		}
	}
	if t.Failed() {
		t.Logf("the session's records:\n%s", describe(recs))
	}

	// Rate-limited, on a service with a small bucket: every call answered
	// is recorded as a read, and the refusals as rateLimitedRecords says.
	t.Run("rate-limited", func(t *testing.T) {
		const calls = 12
		rl := startSecured(t, "", servertest.Options{Audit: true, NoDetection: true, Server: func(c *server.Config) {
			c.RatePerMember, c.RateBurst = 1, 3
			c.RefusalWindow = time.Hour // counted until shutdown, then written
		}})
		// First, on this service without a detector, a method of the
		// matrix that it does not serve: UNIMPLEMENTED, and recorded.
		_, err := chemledgerv1.NewAdminServiceClient(rl.conn(t, "US-CBP", "admin")).RebuildDerivedState(t.Context(), &chemledgerv1.RebuildDerivedStateRequest{})
		if status.Code(err) != codes.Unimplemented || reasonOf(err) != server.ReasonUnknownMethod {
			t.Errorf("RebuildDerivedState without a detector: %v, want UNIMPLEMENTED, %s", err, server.ReasonUnknownMethod)
		}
		if got := waitAudit(t, rl.in, 1); got != 1 {
			t.Errorf("%d audit records after RebuildDerivedState without a detector, want 1", got)
		}
		start := auditCount(t, rl.in)
		ok, limited := 0, 0
		limitedVia := map[string]bool{}
		for i := range calls {
			var code codes.Code
			if i%2 == 0 {
				_, err := rl.ledger(t, "MX-ANAM", "analyst").GetCheckpoint(t.Context(), &chemledgerv1.GetCheckpointRequest{})
				code = status.Code(err)
			} else {
				switch c, _, b := rl.do(t, "MX-ANAM", "analyst", http.MethodGet, "/v1/checkpoint", nil); c {
				case http.StatusOK:
					code = codes.OK
				case http.StatusTooManyRequests:
					code = codes.ResourceExhausted
				default:
					t.Fatalf("GET /v1/checkpoint: %d %.300s", c, b)
				}
			}
			switch code {
			case codes.OK:
				ok++
			case codes.ResourceExhausted:
				limited++
				limitedVia[[]string{"grpc", "http"}[i%2]] = true
			default:
				t.Fatalf("call %d: %v, want OK or RESOURCE_EXHAUSTED", i, code)
			}
		}
		if limited == 0 {
			t.Fatalf("%d calls at 1/s with a burst of 3 were never limited", calls)
		}
		want := start + uint64(ok) + rateLimitedRecords(len(limitedVia))
		if got := waitAudit(t, rl.in, want); got != want {
			t.Errorf("%d calls (%d answered, %d rate-limited) added %d audit records, want %d", calls, ok, limited, got-start, want-start)
		}
		// At shutdown the counts are written: they add up to every
		// refusal, so none went unrecorded.
		rl.stop()
		st, err := audit.Open(audit.DefaultOptions(datadir.Layout{Dir: rl.in.Dir}.Audit()))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		recs, _, err := st.List(start, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var counted uint64
		for _, r := range recs {
			if r.Outcome == "RESOURCE_EXHAUSTED" {
				counted += max(1, r.Count)
			}
		}
		if counted != uint64(limited) {
			t.Errorf("the rate-limited records count %d refusals, the client was refused %d times", counted, limited)
		}
	})
}

// TestMalformedProtobufLeavesNoMark: the codec marks a message it cannot
// decode for the handler to refuse; grpc-go decodes a second message of a
// unary call into the same message to refuse the call, so that mark too
// must be taken out, or each such call would pin its message in memory.
func TestMalformedProtobufLeavesNoMark(t *testing.T) {
	s := startSecured(t, "", servertest.Options{NoDetection: true})
	conn := s.conn(t, "MX-ANAM", "analyst")
	good := []byte{1<<3 | 0, 1} // GetEntryRequest{index: 1}
	for _, msgs := range [][][]byte{
		{malformedMessages[0].body},
		{good, malformedMessages[1].body},
		{malformedMessages[0].body, malformedMessages[1].body},
	} {
		st, err := conn.NewStream(t.Context(), &grpc.StreamDesc{ClientStreams: true}, ledgerSvc+"GetEntry", grpc.ForceCodecV2(rawCodec{}))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			st.SendMsg(&m)
		}
		st.CloseSend()
		var reply []byte
		err = st.RecvMsg(&reply)
		t.Logf("GetEntry with %d messages: %v", len(msgs), err)
		if status.Code(err) == codes.OK {
			t.Errorf("GetEntry with %d messages (%x): answered, want refused", len(msgs), msgs)
		}
	}
	if n := server.UndecodablePending(); n != 0 {
		t.Errorf("%d undecodable-message marks left after the calls ended, want 0", n)
	}
}
