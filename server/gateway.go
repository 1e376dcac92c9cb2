package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/console"
	"github.com/chemledger/chemledger/internal/badinput"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// newGateway builds the HTTP side: the grpc-gateway mux over a connection
// to our own gRPC listener (so every interceptor runs for HTTP too), plus
// /healthz, /metrics, /openapi.json and the plain-text checkpoint.
func (s *Server) newGateway(ctx context.Context, conn *grpc.ClientConn) (http.Handler, error) {
	strict := &runtime.JSONPb{
		MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true},
		// Unknown fields in a request are refused: a field the service does
		// not know is a mistake the caller should hear about.
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, wholeBodyJSON{strict}),
		runtime.WithErrorHandler(gatewayErrorHandler),
		// The caller the HTTP listener authenticated goes upstream; no
		// header a client sends can stand in for it.
		runtime.WithIncomingHeaderMatcher(incomingHeaders),
		runtime.SetQueryParameterParser(&strictQuery{}),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithMiddlewares(notePattern),
		runtime.WithMetadata(func(ctx context.Context, r *http.Request) metadata.MD {
			if c, ok := r.Context().Value(httpCallerKey{}).(*httpCaller); ok && c.forward != "" {
				return metadata.Pairs(callerHeader, c.forward)
			}
			return nil
		}),
	)
	if err := chemledgerv1.RegisterLedgerServiceHandler(ctx, gw, conn); err != nil {
		return nil, fmt.Errorf("register gateway: %w", err)
	}
	if s.deriver != nil {
		if err := chemledgerv1.RegisterAnalystServiceHandler(ctx, gw, conn); err != nil {
			return nil, fmt.Errorf("register analyst gateway: %w", err)
		}
		if err := chemledgerv1.RegisterAdminServiceHandler(ctx, gw, conn); err != nil {
			return nil, fmt.Errorf("register admin gateway: %w", err)
		}
		if err := chemledgerv1.RegisterScorecardServiceHandler(ctx, gw, conn); err != nil {
			return nil, fmt.Errorf("register scorecard gateway: %w", err)
		}
	}
	if s.auditLog != nil {
		if err := chemledgerv1.RegisterAuditServiceHandler(ctx, gw, conn); err != nil {
			return nil, fmt.Errorf("register audit gateway: %w", err)
		}
	}
	client := chemledgerv1.NewLedgerServiceClient(conn)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		cp, _ := s.ledger.Checkpoint()
		h := map[string]any{"status": "SERVING", "tree_size": cp.Size}
		code := http.StatusOK
		if err := s.ledger.WriteError(); err != nil {
			// Reads work; writes do not. Say so loudly enough for a load
			// balancer and an operator at 3 a.m.
			h["status"], h["write_error"], code = "DEGRADED", err.Error(), http.StatusServiceUnavailable
		}
		if s.deriver != nil {
			// How far the detector has read: flags cover entries below it.
			h["detector_applied"] = s.deriver.Applied()
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(h)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(servedOpenAPI())
	})
	// The checkpoint is served as its exact signed note text, the form
	// witnesses and tlog tools read; JSON on request.
	mux.HandleFunc("GET /v1/checkpoint", func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			gw.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		if c, ok := ctx.Value(httpCallerKey{}).(*httpCaller); ok && c.forward != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, callerHeader, c.forward)
		}
		cp, err := client.GetCheckpoint(ctx, &chemledgerv1.GetCheckpointRequest{})
		if err != nil {
			gatewayErrorHandler(r.Context(), gw, strict, w, r, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, cp.GetNote())
	})
	mux.Handle("GET "+tlogPrefix, s.tlogHandler(client, func(w http.ResponseWriter, r *http.Request, err error) {
		gatewayErrorHandler(r.Context(), gw, strict, w, r, toStatus(s.cfg.Logger, err))
	}))
	mux.Handle("GET "+console.Prefix, consoleHandler())
	mux.Handle("/", gw)

	limit := s.cfg.MaxHTTPBody
	return s.countHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := r.Body
		// refuse audits and counts a request refused before its body is
		// read and answers it; then reads what is left of the body
		// (discardBody), so that the connection ends cleanly rather than
		// with a reset.
		refuse := func(c *httpCaller, err error, answer func()) {
			http.NewResponseController(w).EnableFullDuplex()
			s.metrics.refused(c.principal, err)
			s.auditHTTP(r, c, status.Code(err))
			if !willDiscard(r) {
				w.Header().Set("Connection", "close")
			}
			answer()
			discardBody(w, r, body)
		}
		caller, err := s.httpCaller(r)
		if err != nil {
			refuse(caller, err, func() { gatewayErrorHandler(r.Context(), gw, strict, w, r, err) })
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), httpCallerKey{}, caller))
		if err := canonicalPath(r.URL.EscapedPath()); err != nil {
			refuse(caller, status.Convert(err).Err(), func() { writeStatus(w, http.StatusBadRequest, status.Convert(err)) })
			return
		}
		if err := crossOriginRefusal(r); err != nil {
			refuse(caller, err, func() { gatewayErrorHandler(r.Context(), gw, strict, w, r, err) })
			return
		}
		if r.ContentLength > limit {
			refuse(caller, withDetails(codes.ResourceExhausted, "body too large", ReasonBodyTooLarge, nil), func() { writeTooLarge(w, limit) })
			return
		}
		if r.ContentLength < 0 {
			// A chunked body over the limit is refused as it is read
			// (below); the rest of it is read after the 413.
			http.NewResponseController(w).EnableFullDuplex()
		}
		if servedHere(r.URL.Path) {
			// Served here, not upstream: audited here, before the
			// answer, failing closed like any read.
			if err := s.auditHTTP(r, caller, codes.OK); err != nil {
				gatewayErrorHandler(r.Context(), gw, strict, w, r, err)
				return
			}
		}
		// The server's own writer, not a wrapper of it: MaxBytesReader asks
		// it for Connection: close on a body over the limit.
		r.Body = http.MaxBytesReader(connWriter(w), r.Body, limit)
		clearWriteDeadline(w, r)
		rec := &statusRecorder{ResponseWriter: w}
		mux.ServeHTTP(rec, r)
		if !caller.forwarded.Load() && !servedHere(r.URL.Path) {
			// Refused before reaching the gRPC side (a body the gateway
			// could not decode, an unknown path): audited here.
			s.auditHTTP(r, caller, httpCode(rec.status))
			if c := httpCode(rec.status); c != codes.OK {
				s.metrics.refused(caller.principal, status.Error(c, ""))
			}
		}
		if rec.status == http.StatusRequestEntityTooLarge {
			// A chunked body that went over the limit as it was read
			// (http.MaxBytesReader has asked for Connection: close).
			discardBody(w, r, body)
		}
	}), mux), nil
}

// connWriter is the connection's own ResponseWriter under any wrappers
// that unwrap (the metrics' and the audit's status recorders).
func connWriter(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}

// canonicalPath refuses a path with dot segments or empty segments. The
// mux would clean it and redirect the caller there (GET
// /v1/shipments/../../etc/passwd answered 307 to /etc/passwd), so the API
// would answer for paths it does not have and send clients wherever the
// dots lead. The check is on the escaped path, as the mux's is: an escaped
// slash or dot inside a shipment reference is data, not a segment.
func canonicalPath(p string) error {
	clean := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if clean == p {
		return nil
	}
	return withDetails(codes.InvalidArgument, fmt.Sprintf("the path %q has dot segments or empty segments; no API path does", p),
		ReasonBadInput, []badinput.Violation{{Field: "path", Description: "not in canonical form: no \".\" or \"..\" segments and no \"//\""}})
}

// MaxDiscardedBody is how much of the body of a request refused before its
// body was read (too large, unauthenticated, a bad path) the HTTP listener
// reads and throws away after the answer, so that the connection ends
// cleanly. Closing it with the body still arriving resets it, and a client
// that sends its whole body before reading (many do) then has its send
// fail, and across a network can lose the answer it never read. Past
// this much, or discardTime, the connection is cut all the same: reading
// costs bandwidth and a goroutine, never memory.
const MaxDiscardedBody = 64 << 20

const discardTime = 10 * time.Second

// discardBody sends the answer already written, then reads and discards
// the rest of body within MaxDiscardedBody and discardTime. A client that
// asked to be told before sending (Expect: 100-continue) has sent nothing,
// and reading would invite it to: the connection is closed instead.
// A body read to its end leaves the connection fit for the next request.
func discardBody(w http.ResponseWriter, r *http.Request, body io.Reader) {
	rc := http.NewResponseController(w)
	rc.Flush()
	if !willDiscard(r) {
		return
	}
	rc.SetReadDeadline(time.Now().Add(discardTime))
	io.CopyN(io.Discard, body, MaxDiscardedBody)
}

func willDiscard(r *http.Request) bool {
	return r.ContentLength <= MaxDiscardedBody && !strings.EqualFold(r.Header.Get("Expect"), "100-continue")
}

// routingError answers a method the path does not have with 405 (and
// UNIMPLEMENTED in the body), where grpc-gateway would answer 501, which
// says the server cannot do the method at all.
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus != http.StatusMethodNotAllowed {
		runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
		return
	}
	writeStatus(w, http.StatusMethodNotAllowed, status.New(codes.Unimplemented, fmt.Sprintf("%s is not a method of %s", r.Method, r.URL.Path)))
}

func writeTooLarge(w http.ResponseWriter, limit int64) {
	msg := "request body is too large"
	if limit > 0 {
		msg = fmt.Sprintf("request body is larger than the %d bytes allowed", limit)
	}
	writeStatus(w, http.StatusRequestEntityTooLarge, status.Convert(withDetails(codes.ResourceExhausted, msg, ReasonBodyTooLarge, nil)))
}

// writeStatus answers with a google.rpc.Status body and an HTTP status of
// our choosing, where grpc-gateway's code mapping would mislead.
func writeStatus(w http.ResponseWriter, code int, st *status.Status) {
	b, _ := protojson.Marshal(st.Proto())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// fieldPatterns find the field a gateway decoding error is about: an unknown
// or repeated body field, or a path or query parameter that does not parse.
var fieldPatterns = []*regexp.Regexp{
	regexp.MustCompile(`unknown field "([^"]+)"`),
	regexp.MustCompile(`unknown query parameter "([^"]+)"`),
	regexp.MustCompile(`duplicate field "([^"]+)"`),
	regexp.MustCompile(`parsing field "([^"]+)"`),
	regexp.MustCompile(`type mismatch, parameter: ([A-Za-z0-9_.]+)`),
	regexp.MustCompile(`missing parameter ([A-Za-z0-9_.]+)`),
}

// wholeBodyJSON is JSONPb whose request decoder takes the whole body as one
// JSON value: runtime.JSONPb's decoder reads the first value and the
// generated handlers discard whatever follows it.
type wholeBodyJSON struct{ *runtime.JSONPb }

func (m wholeBodyJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		b, err := readBody(r)
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return io.EOF
		}
		msg, ok := v.(proto.Message)
		if !ok {
			return fmt.Errorf("decode %T: not a proto message", v)
		}
		return m.UnmarshalOptions.Unmarshal(b, msg)
	})
}

// readBody reads a request body to its end. Unlike io.ReadAll it keeps
// nothing when the read fails, which is how a body over the limit ends
// (http.MaxBytesReader): io.ReadAll first copies what arrived into one more
// slice, so refusing a chunked body one byte over the limit cost more than
// twice the limit. Chunks grow to 16 KiB (a TLS record's worth) and no
// further, so they overshoot what arrived by less than one of them.
func readBody(r io.Reader) ([]byte, error) {
	const maxChunk = 16 << 10
	var chunks [][]byte
	b := make([]byte, 0, 512)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			chunks = append(chunks, b)
			b = make([]byte, 0, min(2*cap(b), maxChunk))
		}
	}
	if len(chunks) == 0 {
		return b, nil
	}
	return bytes.Join(append(chunks, b), nil), nil
}

// gatewayErrorHandler is the default handler, except that a request body the
// gateway could not decode (malformed or with unknown fields) gets the same
// ErrorInfo and field violations as any other bad input, and a body over
// the limit gets 413.
func gatewayErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			secs := int64(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds()))
			w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		}
	}
	if reasonOf(st) == ReasonNoSpace {
		// The service's disk is full: not the caller's rate (429) but
		// the server's storage, and retrying soon will not help.
		writeStatus(w, http.StatusInsufficientStorage, st)
		return
	}
	if st.Code() == codes.ResourceExhausted && len(st.Details()) == 0 {
		// grpc-go's own "message larger than max": a body too large, not a
		// reason to retry (the gateway would answer 429).
		writeTooLarge(w, -1)
		return
	}
	if st.Code() == codes.InvalidArgument && len(st.Details()) == 0 {
		if strings.Contains(st.Message(), "http: request body too large") {
			writeTooLarge(w, -1)
			return
		}
		field := "body"
		for _, p := range fieldPatterns {
			if m := p.FindStringSubmatch(st.Message()); m != nil {
				field = m[1]
				break
			}
		}
		if d, derr := st.WithDetails(
			&errdetails.ErrorInfo{Reason: ReasonBadInput, Domain: errorDomain},
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: st.Message()}}},
		); derr == nil {
			st = d
		}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, st.Err())
}
