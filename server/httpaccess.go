package server

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/internal/authz"
	"github.com/chemledger/chemledger/pki"
)

// httpCaller is who sent an HTTP request, as its TLS client certificate
// says. The gateway forwards it upstream; forwarded records that the
// request reached the gRPC side, which then audits it (so it is audited
// once, not twice).
type httpCaller struct {
	principal authz.Principal
	forward   string
	forwarded atomic.Bool
}

type httpCallerKey struct{}

// local are the paths answered by the HTTP listener itself.
var local = map[string]bool{"/healthz": true, "/metrics": true, "/openapi.json": true}

func (s *Server) httpCaller(r *http.Request) (*httpCaller, error) {
	if s.cfg.InsecurePlaintext {
		return &httpCaller{principal: authz.Principal{Insecure: true}}, nil
	}
	if r.TLS == nil {
		return &httpCaller{}, unauthenticated("no client certificate")
	}
	id, err := pki.PeerIdentity(*r.TLS)
	if err != nil {
		return &httpCaller{}, unauthenticated(err.Error())
	}
	p, err := s.principalOf(id)
	if err != nil {
		return &httpCaller{principal: attributed(id)}, err
	}
	return &httpCaller{principal: p, forward: forwardedIdentity(id)}, nil
}

// incomingHeaders forwards what grpc-gateway forwards by default, except
// anything that would reach the gRPC side as our own metadata.
func incomingHeaders(key string) (string, bool) {
	if strings.HasPrefix(strings.ToLower(key), "grpc-metadata-x-chemledger-") {
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

// markForwarded and markForwardedStream note, on the HTTP request's
// context, that the call went upstream (where it is audited).
func markForwarded(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	noteForwarded(ctx)
	return invoker(ctx, method, req, reply, cc, opts...)
}

func markForwardedStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	noteForwarded(ctx)
	return streamer(ctx, desc, cc, method, opts...)
}

func noteForwarded(ctx context.Context) {
	if c, ok := ctx.Value(httpCallerKey{}).(*httpCaller); ok {
		c.forwarded.Store(true)
	}
}

// auditHTTP records a request the HTTP listener answered itself.
func (s *Server) auditHTTP(r *http.Request, c *httpCaller, outcome codes.Code) error {
	if s.auditLog == nil {
		return nil
	}
	var p authz.Principal
	if c != nil {
		p = c.principal
	}
	rec := audit.Record{
		Time: time.Now().UTC(), Principal: principalName(p), Via: "http", Method: r.Method + " " + r.URL.Path,
		Resources: []string{r.URL.RequestURI()}, Outcome: codeName(outcome),
	}
	if outcome != codes.OK && s.refusals != nil {
		// Counted like the gRPC side's refusals, by the HTTP method alone:
		// the path is the refused caller's choice, and a kind per path
		// would let a flood of made-up paths become an fsync each. The
		// first is recorded as it is; the paths of the rest are the
		// counted record's resources.
		if !s.refusals.recordAs(rec, r.Method+" (HTTP listener)") {
			return nil
		}
	}
	return s.writeAudit(r.Context(), rec)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// httpCode is the gRPC code an HTTP status stands for: the statuses this
// listener writes itself, else the inverse of grpc-gateway's mapping (the
// first code that maps to the status).
func httpCode(status int) codes.Code {
	switch status {
	case 0:
		return codes.OK
	case http.StatusMethodNotAllowed:
		return codes.Unimplemented
	case http.StatusRequestEntityTooLarge, http.StatusInsufficientStorage:
		return codes.ResourceExhausted
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if runtime.HTTPStatusFromCode(c) == status {
			return c
		}
	}
	return codes.Unknown
}
