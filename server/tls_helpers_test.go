package server_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// The one way the tests reach a service over mutual TLS: startSecured runs
// it, clientTLS is a member's client configuration from the dev PKI, and a
// secured service keeps one gRPC connection and one HTTPS client per member
// and role. Tests that present other credentials (tls_test.go) build them
// on clientTLS and connect with dialTLS and httpsClient.

// secured is a service over mutual TLS on both listeners, with one gRPC
// connection and one HTTPS client per member and role, made on first use.
type secured struct {
	in *servertest.Instance
	// stop stops the service and closes its clients before the test ends
	// (which a restart needs); the end of the test calls it too.
	stop func()

	mu    sync.Mutex
	peers map[string]peer
}

// peer is how one member acting in one role reaches a secured service.
type peer struct {
	conn  *grpc.ClientConn
	https *http.Client
}

// startSecured runs a service over dir (a fresh one when dir is "") with
// mutual TLS (opts.TLS is forced on) until the test ends or stop is called.
func startSecured(tb testing.TB, dir string, opts servertest.Options) *secured {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	opts.TLS = true
	in, err := servertest.Start(dir, opts)
	if err != nil {
		tb.Fatalf("servertest.Start(%s) with TLS: %v", dir, err)
	}
	s := &secured{in: in, peers: map[string]peer{}}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			s.mu.Lock()
			for _, p := range s.peers {
				p.conn.Close()
				p.https.CloseIdleConnections()
			}
			s.mu.Unlock()
			if err := in.Stop(); err != nil {
				tb.Errorf("stop service: %v", err)
			}
		})
	}
	tb.Cleanup(s.stop)
	return s
}

// as is the connection and the HTTPS client of member acting in role, with
// the demo client certificate for that pair.
func (s *secured) as(tb testing.TB, member, role string) peer {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := member + "/" + role
	if p, ok := s.peers[key]; ok {
		return p
	}
	cfg := clientTLS(tb, s.in, member, role)
	conn, err := grpcClient(s.in.GRPCAddr, cfg.Clone())
	if err != nil {
		tb.Fatalf("dial %s as %s: %v", s.in.GRPCAddr, key, err)
	}
	p := peer{conn: conn, https: httpsClient(cfg)}
	s.peers[key] = p
	return p
}

// conn is the gRPC connection of member acting in role.
func (s *secured) conn(tb testing.TB, member, role string) *grpc.ClientConn {
	tb.Helper()
	return s.as(tb, member, role).conn
}

func (s *secured) ledger(tb testing.TB, member, role string) chemledgerv1.LedgerServiceClient {
	tb.Helper()
	return chemledgerv1.NewLedgerServiceClient(s.conn(tb, member, role))
}

func (s *secured) analyst(tb testing.TB, member, role string) chemledgerv1.AnalystServiceClient {
	tb.Helper()
	return chemledgerv1.NewAnalystServiceClient(s.conn(tb, member, role))
}

// do makes one HTTPS request as member in role and returns the status,
// headers and body. body may be nil; a request with one is sent as JSON.
func (s *secured) do(tb testing.TB, member, role, method, path string, body io.Reader) (int, http.Header, []byte) {
	tb.Helper()
	code, h, b, err := clientDo(tb.Context(), s.as(tb, member, role).https, method, "https://"+s.in.HTTPAddr+path, body, jsonHeader(body != nil, nil))
	if err != nil {
		tb.Fatalf("as %s/%s: %v", member, role, err)
	}
	return code, h, b
}

// rawConn is a TLS connection to the HTTP listener as member in role, its
// handshake done.
func (s *secured) rawConn(tb testing.TB, member, role string) *tls.Conn {
	tb.Helper()
	cfg := clientTLS(tb, s.in, member, role)
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", s.in.HTTPAddr, cfg)
	if err != nil {
		tb.Fatalf("TLS dial %s as %s/%s: %v", s.in.HTTPAddr, member, role, err)
	}
	if err := conn.HandshakeContext(tb.Context()); err != nil {
		tb.Fatalf("TLS handshake as %s/%s: %v", member, role, err)
	}
	return conn
}

// clientTLS is the dev PKI's client configuration of member in role.
func clientTLS(tb testing.TB, in *servertest.Instance, member, role string) *tls.Config {
	tb.Helper()
	cfg, err := in.ClientTLS(member, role)
	if err != nil {
		tb.Fatalf("client TLS of %s/%s: %v", member, role, err)
	}
	return cfg
}

// dialTLS connects to the instance's gRPC listener with cfg (in plaintext
// when cfg is nil) until the test ends. Nothing is sent until the first
// call.
func dialTLS(tb testing.TB, in *servertest.Instance, cfg *tls.Config) *grpc.ClientConn {
	tb.Helper()
	conn, err := grpcClient(in.GRPCAddr, cfg)
	if err != nil {
		tb.Fatalf("dial %s: %v", in.GRPCAddr, err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// grpcClient is a client of addr over TLS with cfg, in plaintext when cfg
// is nil.
func grpcClient(addr string, cfg *tls.Config) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if cfg != nil {
		creds = credentials.NewTLS(cfg)
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
}

// httpsClient is an HTTP client with cfg as its TLS configuration (none
// when cfg is nil), keeping its connections alive between requests.
func httpsClient(cfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// jsonHeader is header with Content-Type application/json when the request
// has a body; header's own values win.
func jsonHeader(hasBody bool, header http.Header) http.Header {
	if !hasBody {
		return header
	}
	h := http.Header{"Content-Type": {"application/json"}}
	for k, vs := range header {
		h[k] = vs
	}
	return h
}
