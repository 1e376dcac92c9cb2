// Package server assembles the chemledger service: the gRPC server with its
// interceptors, health and reflection services, and the HTTP gateway that
// reaches it over a real gRPC connection, with health, metrics and the
// OpenAPI document. Handlers are thin; the ledger does the work, and
// toStatus is the one place errors become statuses.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// Config configures the server.
type Config struct {
	// MaxRecvMsgSize bounds a gRPC request message.
	MaxRecvMsgSize int
	// MaxHTTPBody bounds an HTTP request body.
	MaxHTTPBody int64
	// ShutdownTimeout bounds graceful shutdown before connections are cut.
	ShutdownTimeout time.Duration
	// Logger receives the service's logs.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	// DefaultMaxRecvMsgSize leaves room for one envelope (64 KiB) and its
	// framing, and no more.
	DefaultMaxRecvMsgSize = envelope.MaxEnvelopeBytes + 16<<10
	// DefaultMaxHTTPBody covers one envelope in JSON (base64 grows it by a
	// third).
	DefaultMaxHTTPBody = (envelope.MaxEnvelopeBytes+2)/3*4 + 8<<10
	// DefaultShutdownTimeout lets in-flight requests finish.
	DefaultShutdownTimeout = 10 * time.Second
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxRecvMsgSize:  DefaultMaxRecvMsgSize,
		MaxHTTPBody:     DefaultMaxHTTPBody,
		ShutdownTimeout: DefaultShutdownTimeout,
		Logger:          slog.Default(),
	}
}

// Server is the assembled service.
type Server struct {
	cfg     Config
	ledger  *ledger.Ledger
	grpc    *grpc.Server
	health  *health.Server
	metrics *metrics
	// deriver, when set, is the detector behind the analyst API.
	deriver *derive.Deriver
}

// Deps are what the server serves.
type Deps struct {
	Ledger  *ledger.Ledger
	Members *members.Registry
	// VerifierKey is the note verifier key of the log's checkpoint signer.
	VerifierKey string
	// Deriver, when set, serves the analyst API over the detector's flags.
	Deriver *derive.Deriver
	// Policy is the detection policy the Deriver runs.
	Policy detect.Policy
}

// New assembles the gRPC server around an open ledger.
func New(cfg Config, deps Deps) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := deps.Ledger
	s := &Server{cfg: cfg, ledger: l, health: health.NewServer()}
	s.metrics = newMetrics(func() float64 {
		cp, _ := l.Checkpoint()
		return float64(cp.Size)
	})
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgSize),
		grpc.ChainUnaryInterceptor(unaryObserve(s.metrics, cfg.Logger)),
		grpc.ChainStreamInterceptor(streamObserve(s.metrics, cfg.Logger)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.MaxConcurrentStreams(1024),
	)
	entries := NewLedgerService(l, deps.Members, deps.VerifierKey, cfg.Logger)
	chemledgerv1.RegisterLedgerServiceServer(s.grpc, entries)
	if deps.Deriver != nil {
		chemledgerv1.RegisterAnalystServiceServer(s.grpc, NewAnalystService(entries, deps.Deriver, deps.Policy, cfg.Logger))
		chemledgerv1.RegisterAdminServiceServer(s.grpc, NewAdminService(deps.Deriver, cfg.Logger))
		s.deriver = deps.Deriver
	}
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(chemledgerv1.LedgerService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return s
}

// GRPC is the gRPC server, for tests that serve it on a listener of their
// own.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Serve serves gRPC on grpcLis and HTTP on httpLis until ctx ends, then
// shuts both down gracefully: it stops taking new requests, lets in-flight
// ones finish (each submission is answered only once durable), and returns.
func (s *Server) Serve(ctx context.Context, grpcLis, httpLis net.Listener) error {
	errc := make(chan error, 2)
	go func() { errc <- s.grpc.Serve(grpcLis) }()

	conn, err := grpc.NewClient(grpcLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		s.grpc.Stop()
		return fmt.Errorf("dial own gRPC listener: %w", err)
	}
	defer conn.Close()
	gwCtx, cancelGW := context.WithCancel(context.Background())
	defer cancelGW()
	handler, err := s.newGateway(gwCtx, conn)
	if err != nil {
		s.grpc.Stop()
		return err
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := hs.Serve(httpLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()

	select {
	case <-ctx.Done():
	case err := <-errc:
		s.grpc.Stop()
		hs.Close()
		return fmt.Errorf("serve: %w", err)
	}
	s.health.Shutdown()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	hs.Shutdown(shutdownCtx)
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-shutdownCtx.Done():
		s.grpc.Stop()
	}
	return nil
}
