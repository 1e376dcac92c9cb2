package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chemledger/chemledger/internal/authz"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// callerHeader carries, from the HTTP gateway to the gRPC side, the caller
// the gateway authenticated by its TLS client certificate. It is believed
// only on the gateway's in-process connection; on the public listener a
// request carrying it is refused (etcd CVE-2018-16886: a gateway must not
// lend its own identity, and a caller must not borrow one).
const callerHeader = "x-chemledger-caller"

// access is what the interceptor decided for a call, for the handlers that
// serve "own" or "hashes" answers.
type access struct {
	principal authz.Principal
	scope     authz.Scope
	via       string
	// throttle waits for the caller's next token: a bulk stream pays one
	// per item beyond the first (the call paid for that), so a stream is
	// slowed to the member's rate rather than refused.
	throttle func(context.Context) error
	// refuseItem audits the refusal of one item of a bulk stream, which
	// is answered in the stream while the stream itself succeeds; nil in
	// handlers called directly.
	refuseItem func(submissionID string, err error)
	// open audits a watch stream as it opens, once, before the first
	// message (watch.go); the stream's end then writes no record of its
	// own. Nil in handlers called directly.
	open func(req any) error
	// recheck says whether the caller may still do what it was allowed
	// when the call began: a watch outlives the check at its start.
	recheck func() error
}

type accessKey struct{}

func accessOf(ctx context.Context) access {
	if a, ok := ctx.Value(accessKey{}).(access); ok {
		return a
	}
	// Handlers called directly (unit tests of a service) act as in
	// insecure development mode.
	return access{principal: authz.Principal{Insecure: true}, scope: authz.Any}
}

// denied is the one refusal: it never says whether the object exists.
func denied(format string, args ...any) error {
	return withDetails(codes.PermissionDenied, fmt.Sprintf(format, args...), ReasonDenied, nil)
}

func unauthenticated(msg string) error {
	return withDetails(codes.Unauthenticated, msg, ReasonUnauthenticated, nil)
}

// gatewayAddr is the remote address of the gateway's in-process
// connections: no network peer can present it.
type gatewayAddr struct{}

func (gatewayAddr) Network() string { return "chemledger-gateway" }
func (gatewayAddr) String() string  { return "gateway" }

// identify finds who is calling: the peer's verified certificate on the
// public listener, the forwarded caller on the gateway's connection. A
// caller refused after its certificate was verified is still returned as
// what the certificate names (attributed), for the audit record of the
// refusal; it authorises nothing.
func (s *Server) identify(ctx context.Context) (authz.Principal, string, error) {
	p, _ := peer.FromContext(ctx)
	via := "grpc"
	fromGateway := p != nil && p.Addr != nil && p.Addr.Network() == (gatewayAddr{}).Network()
	if fromGateway {
		via = "http"
	}
	md, _ := metadata.FromIncomingContext(ctx)
	forwarded := md.Get(callerHeader)
	if s.cfg.InsecurePlaintext {
		return authz.Principal{Insecure: true}, via, nil
	}
	var id pki.Identity
	if fromGateway {
		if len(forwarded) != 1 {
			return authz.Principal{}, via, unauthenticated("the gateway forwarded no single caller")
		}
		var err error
		if id, err = parseForwarded(forwarded[0]); err != nil {
			return authz.Principal{}, via, unauthenticated(err.Error())
		}
	} else {
		if p == nil || p.AuthInfo == nil {
			return authz.Principal{}, via, unauthenticated("no client certificate")
		}
		ti, ok := p.AuthInfo.(credentials.TLSInfo)
		if !ok {
			return authz.Principal{}, via, unauthenticated("no client certificate")
		}
		var err error
		if id, err = pki.PeerIdentity(ti.State); err != nil {
			return authz.Principal{}, via, unauthenticated(err.Error())
		}
		if len(forwarded) > 0 {
			return attributed(id), via, unauthenticated(callerHeader + " is set by the service's gateway only")
		}
	}
	pr, err := s.principalOf(id)
	if err != nil {
		return attributed(id), via, err
	}
	return pr, via, nil
}

// attributed is the principal a refused caller's verified certificate
// names, with the role it claims and no other: for the audit record only,
// since the call is refused. The gateway's own certificate, used from
// outside, is recorded as "gateway".
func attributed(id pki.Identity) authz.Principal {
	p := authz.Principal{Member: id.Member, Serial: id.Serial}
	if id.Gateway {
		p.Member = id.String()
	}
	if id.Role != "" {
		p.Roles = []string{id.Role}
	}
	return p
}

// principalOf turns a certificate's identity into a principal: the member
// must be known and the certificate not revoked; its roles are those the
// registry grants, narrowed to the certificate's role when it names one.
func (s *Server) principalOf(id pki.Identity) (authz.Principal, error) {
	if id.Gateway {
		// The gateway's certificate authenticates the hop, never a caller.
		return authz.Principal{}, unauthenticated("the gateway's certificate names no caller")
	}
	if s.members.CertificateRevoked(id.Serial) {
		return authz.Principal{}, unauthenticated(fmt.Sprintf("certificate %s of %s is revoked", id.Serial, id.Member))
	}
	roles, ok := s.members.Roles(id.Member)
	if !ok {
		return authz.Principal{}, unauthenticated(fmt.Sprintf("%s is not a member", id.Member))
	}
	if st, _ := s.members.Status(id.Member); st != members.Active {
		// Who it is is known, so the refusal is attributable; what it may
		// do is nothing until an admin reinstates it.
		return authz.Principal{Member: id.Member, Serial: id.Serial}, denied("%s is %s in the member registry", id.Member, st)
	}
	if id.Role != "" {
		if !slices.Contains(roles, id.Role) {
			return authz.Principal{Member: id.Member, Serial: id.Serial}, nil // no roles: every call denied, and audited
		}
		roles = []string{id.Role}
	}
	return authz.Principal{Member: id.Member, Roles: roles, Serial: id.Serial}, nil
}

// forwardedIdentity is what the gateway puts in callerHeader.
func forwardedIdentity(id pki.Identity) string {
	return id.Member + ";" + id.Role + ";" + id.Serial
}

func parseForwarded(v string) (pki.Identity, error) {
	parts := strings.Split(v, ";")
	if len(parts) != 3 || parts[0] == "" {
		return pki.Identity{}, errors.New("malformed forwarded caller")
	}
	return pki.Identity{Member: parts[0], Role: parts[1], Serial: parts[2]}, nil
}

// limiter holds one token bucket per member, so that one member's flood
// does not slow the others.
type limiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	by    map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: burst, by: map[string]*rate.Limiter{}}
}

func (l *limiter) bucket(member string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.by[member]
	if b == nil {
		b = rate.NewLimiter(l.rate, l.burst)
		l.by[member] = b
	}
	return b
}

// allow takes a token for member, or says how long until one is due.
func (l *limiter) allow(member string) (time.Duration, bool) {
	if l == nil || l.rate <= 0 {
		return 0, true
	}
	r := l.bucket(member).Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return d, false
	}
	return 0, true
}

// wait blocks until member's bucket has a token, or fails when ctx ends
// first (or would, by the time the token is due).
func (l *limiter) wait(ctx context.Context, member string) error {
	if l == nil || l.rate <= 0 {
		return nil
	}
	return l.bucket(member).Wait(ctx)
}

func rateLimited(member string, wait time.Duration) error {
	return withDetails(codes.ResourceExhausted, fmt.Sprintf("%s is over its request rate; retry in %v", member, wait.Round(time.Millisecond)),
		ReasonRateLimited, nil, &errdetails.RetryInfo{RetryDelay: durationpb.New(wait)})
}

// authorise runs for every call on both gRPC servers: who is calling, may
// they, are they within their rate; then the handler; then the audit record
// of a read or a refusal, which must be durable before the answer leaves.
func (s *Server) authorise(ctx context.Context, method string, req any, handler func(context.Context) (any, error)) (any, error) {
	markAudited(ctx) // whatever happens to the call, it is accounted for here
	p, via, err := s.identify(ctx)
	scope := authz.Deny
	if err == nil {
		if scope = authz.Decide(p, method); scope == authz.Deny {
			err = denied("%s may not call %s", p, method)
		} else if p.Insecure {
			// Development without authentication: nobody to limit.
		} else if wait, ok := s.limits.allow(p.Member); !ok {
			err = rateLimited(p.Member, wait)
		}
	}
	var resp any
	var opened atomic.Bool
	if err == nil {
		a := access{principal: p, scope: scope, via: via}
		a.refuseItem = func(id string, err error) {
			s.audit(ctx, p, via, method, &chemledgerv1.CreateEntryRequest{SubmissionId: id}, err)
		}
		if !p.Insecure {
			a.throttle = func(ctx context.Context) error { return s.limits.wait(ctx, p.Member) }
		}
		a.open = func(req any) error {
			if err := s.audit(ctx, p, via, method, req, nil); err != nil {
				return err
			}
			opened.Store(true)
			return nil
		}
		a.recheck = func() error { return s.stillAllowed(p, method, scope) }
		resp, err = handler(context.WithValue(ctx, accessKey{}, a))
		if opened.Load() && !endedByRefusal(err) {
			// A watch, recorded as it opened: how it ends (the client
			// went away, the server stopped) is not another read.
			return resp, err
		}
	}
	s.metrics.refused(p, err)
	if aerr := s.audit(ctx, p, via, method, req, err); aerr != nil {
		return nil, aerr
	}
	return resp, err
}

func (s *Server) unaryAuthorise(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return s.authorise(ctx, info.FullMethod, req, func(ctx context.Context) (any, error) { return handler(ctx, req) })
}

func (s *Server) streamAuthorise(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	_, err := s.authorise(ss.Context(), info.FullMethod, nil, func(ctx context.Context) (any, error) {
		return nil, handler(srv, &ctxStream{ServerStream: ss, ctx: ctx})
	})
	return err
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *ctxStream) Context() context.Context { return c.ctx }

// RecvMsg answers a message that does not decode with the service's own
// refusal (decodeRefusal); the stream's handler returns it, and authorise
// audits it.
func (c *ctxStream) RecvMsg(m any) error { return decodeRefusal(m, c.ServerStream.RecvMsg(m)) }

// gatewayListener is the in-process listener the HTTP gateway dials: its
// connections are known to come from the gateway by their address, which
// no network peer can present.
type gatewayListener struct{ *bufconn.Listener }

func newGatewayListener() gatewayListener { return gatewayListener{bufconn.Listen(1 << 20)} }

func (l gatewayListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return gatewayConn{c}, nil
}

func (l gatewayListener) Addr() net.Addr { return gatewayAddr{} }

func (l gatewayListener) dial(ctx context.Context, _ string) (net.Conn, error) {
	return l.Listener.DialContext(ctx)
}

type gatewayConn struct{ net.Conn }

func (gatewayConn) RemoteAddr() net.Addr { return gatewayAddr{} }

// serverTLS returns the gRPC and HTTP listeners' TLS configs (nil without
// TLS): the same verification, each with its own ALPN.
func serverTLS(base *tls.Config) (grpcTLS, httpTLS *tls.Config) {
	if base == nil {
		return nil, nil
	}
	grpcTLS, httpTLS = base.Clone(), base.Clone()
	grpcTLS.NextProtos = []string{"h2"}
	httpTLS.NextProtos = []string{"http/1.1"}
	return grpcTLS, httpTLS
}
