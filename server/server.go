// Package server assembles the chemledger service: the gRPC server with its
// interceptors, health and reflection services, and the HTTP gateway that
// reaches it over a real gRPC connection, with health, metrics and the
// OpenAPI document. Handlers are thin; the ledger does the work, and
// toStatus is the one place errors become statuses.
//
// It must not hold business logic: authenticate, validate, call, map the
// error, return. Nothing below it imports it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/chemledger/chemledger/audit"
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
	// TLS is the server side of both listeners (pki.ServerConfig: TLS 1.3,
	// client certificates required). Nil is plaintext, which New refuses
	// unless InsecurePlaintext is set.
	TLS *tls.Config
	// GatewayTLS is the client side of the gateway's in-process hop to the
	// gRPC server. Its certificate authenticates the hop only: the gRPC
	// side authorises the caller the gateway forwards, never the gateway.
	GatewayTLS *tls.Config
	// InsecurePlaintext serves without TLS and without authentication:
	// every caller may do everything. Development only, and logged loudly.
	InsecurePlaintext bool
	// RatePerMember and RateBurst are each member's token bucket: requests
	// per second and the burst above it. Zero rate: no limit.
	RatePerMember float64
	RateBurst     int
	// RefusalWindow is how long refusals of one kind are counted into one
	// audit record after the first is recorded on its own (see
	// DefaultRefusalWindow); zero means the default, negative records
	// every refusal on its own.
	RefusalWindow time.Duration
	// Webhooks, with a Key, delivers members' webhook subscriptions.
	Webhooks WebhookConfig
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
	// DefaultRatePerMember is generous for a customs system's batch
	// uploads and still stops one member's runaway client from taking
	// every core.
	DefaultRatePerMember = 5000
	DefaultRateBurst     = 10000
)

// maxHeaderBytes bounds a request's header list on both listeners. grpc-go
// would otherwise keep up to 16 MiB of header fields per stream, however
// many CONTINUATION frames it takes to send them, before cutting the
// connection; legitimate calls send a few hundred bytes.
const maxHeaderBytes = 64 << 10

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		MaxRecvMsgSize:  DefaultMaxRecvMsgSize,
		MaxHTTPBody:     DefaultMaxHTTPBody,
		ShutdownTimeout: DefaultShutdownTimeout,
		Logger:          slog.Default(),
		RatePerMember:   DefaultRatePerMember,
		RateBurst:       DefaultRateBurst,
		RefusalWindow:   DefaultRefusalWindow,
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
	// members answers roles and revoked certificates.
	members *members.Registry
	limits  *limiter
	// auditLog, when set, records every read and every refusal.
	auditLog *audit.Store
	// refusals counts refusals into auditLog (nil without it).
	refusals *refusals
	// gateway is the in-process listener the HTTP gateway dials.
	gateway gatewayListener
	// httpTLS is the HTTP listener's TLS (nil in plaintext).
	httpTLS *tls.Config
	// hooks, when set, delivers webhook subscriptions while serving.
	hooks *webhooks
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
	// Audit, when set, is the audit trail of reads and refusals; reads
	// fail closed when it cannot be written.
	Audit *audit.Store
	// Checkpoints, when set, serves the witnessed checkpoint on
	// GetCheckpoint, GET /v1/checkpoint and /tlog/checkpoint.
	Checkpoints CheckpointSource
	// Backup, when set, serves AdminService.Backup.
	Backup BackupSource
}

// ErrPlaintext is New's refusal to serve without TLS unless told to.
var ErrPlaintext = errors.New("no TLS configuration: refusing to serve plaintext without --insecure-dev-plaintext")

// New assembles the gRPC server around an open ledger.
func New(cfg Config, deps Deps) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.InsecurePlaintext:
		cfg.TLS, cfg.GatewayTLS = nil, nil
		cfg.Logger.Warn("INSECURE: serving plaintext without authentication; every caller may do everything (development only)")
	case cfg.TLS == nil:
		return nil, ErrPlaintext
	case cfg.GatewayTLS == nil:
		return nil, errors.New("TLS without a gateway client configuration")
	}
	l := deps.Ledger
	s := &Server{
		cfg: cfg, ledger: l, health: health.NewServer(), members: deps.Members, auditLog: deps.Audit,
		limits: newLimiter(cfg.RatePerMember, cfg.RateBurst), gateway: newGatewayListener(),
	}
	if deps.Audit != nil && cfg.RefusalWindow >= 0 {
		s.refusals = newRefusals(cfg.RefusalWindow, deps.Audit.Append, cfg.Logger)
	}
	if deps.Members != nil {
		n, err := replayMemberChanges(context.Background(), l, deps.Members, cfg.Logger)
		if err != nil {
			return nil, fmt.Errorf("member registry changes in the log: %w", err)
		}
		if n > 0 {
			cfg.Logger.Info("member registry changes applied from the log", "changes", n)
		}
	}
	grpcTLS, httpTLS := serverTLS(cfg.TLS)
	s.httpTLS = httpTLS
	var creds []grpc.ServerOption
	if grpcTLS != nil {
		creds = append(creds, grpc.Creds(credentials.NewTLS(grpcTLS)))
	}
	s.metrics = newMetrics(func() float64 {
		cp, _ := l.Checkpoint()
		return float64(cp.Size)
	})
	s.metrics.watch(l, deps.Deriver)
	s.grpc = grpc.NewServer(append(creds,
		grpc.MaxRecvMsgSize(cfg.MaxRecvMsgSize),
		grpc.MaxHeaderListSize(maxHeaderBytes),
		grpc.ForceServerCodecV2(newProtoCodec()),
		grpc.StatsHandler(auditNet{s}),
		grpc.UnknownServiceHandler(unknownMethod),
		grpc.ChainUnaryInterceptor(unaryObserve(s.metrics, cfg.Logger), s.unaryAuthorise),
		grpc.ChainStreamInterceptor(streamObserve(s.metrics, cfg.Logger), s.streamAuthorise),
		// A client that pings more often than every 10 s is cut off;
		// idle connections are closed after 5 minutes.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute, Time: 2 * time.Minute, Timeout: 20 * time.Second}),
		grpc.MaxConcurrentStreams(1024),
		grpc.ConnectionTimeout(10*time.Second),
	)...)
	entries := NewLedgerService(l, deps.Members, deps.VerifierKey, cfg.Logger)
	entries.(*ledgerService).checkpoints = deps.Checkpoints
	if cfg.Webhooks.Key != nil {
		s.hooks = newWebhooks(entries.(*ledgerService), deps.Members, cfg.Webhooks, cfg.Logger)
		entries.(*ledgerService).hooks = s.hooks
	}
	reg := guardedRegistrar{s}
	chemledgerv1.RegisterLedgerServiceServer(reg, entries)
	if deps.Deriver != nil {
		chemledgerv1.RegisterAnalystServiceServer(reg, NewAnalystService(entries, deps.Deriver, deps.Policy, cfg.Logger))
		chemledgerv1.RegisterAdminServiceServer(reg, &adminService{deriver: deps.Deriver, log: cfg.Logger,
			backup: deps.Backup, origin: l.Origin(), verifierKey: deps.VerifierKey})
		chemledgerv1.RegisterScorecardServiceServer(reg, NewScorecardService(l, deps.Members, deps.Policy, cfg.Logger))
		s.deriver = deps.Deriver
	}
	if deps.Audit != nil {
		chemledgerv1.RegisterAuditServiceServer(reg, &auditService{store: deps.Audit, log: cfg.Logger})
	}
	healthpb.RegisterHealthServer(reg, s.health)
	reflection.Register(s.grpc)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(chemledgerv1.LedgerService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return s, nil
}

// GRPC is the gRPC server, for tests that serve it on a listener of their
// own.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Serve serves gRPC on grpcLis and HTTP on httpLis until ctx ends, then
// shuts both down gracefully: it stops taking new requests, lets in-flight
// ones finish (each submission is answered only once durable), and returns.
func (s *Server) Serve(ctx context.Context, grpcLis, httpLis net.Listener) error {
	errc := make(chan error, 3)
	if s.hooks != nil {
		hctx, stopHooks := context.WithCancel(ctx)
		hooksDone := make(chan struct{})
		go func() { defer close(hooksDone); s.hooks.run(hctx) }()
		// Stopped before Serve returns, so no delivery outlives the
		// server and writes a cursor behind a restart's back.
		defer func() { stopHooks(); <-hooksDone }()
	}
	go func() { errc <- s.grpc.Serve(grpcLis) }()
	go func() { errc <- s.grpc.Serve(s.gateway) }()

	hopCreds := insecure.NewCredentials()
	if s.cfg.TLS != nil {
		gw := s.cfg.GatewayTLS.Clone()
		if gw.ServerName == "" {
			gw.ServerName = "localhost"
		}
		hopCreds = credentials.NewTLS(gw)
	}
	conn, err := grpc.NewClient("passthrough:///gateway", grpc.WithTransportCredentials(hopCreds),
		grpc.WithContextDialer(s.gateway.dial),
		grpc.WithChainUnaryInterceptor(markForwarded), grpc.WithChainStreamInterceptor(markForwardedStream))
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
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	if s.httpTLS != nil {
		hs.TLSConfig = s.httpTLS
		httpLis = tls.NewListener(httpLis, s.httpTLS)
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
	// The counts of refusals still being counted, before the caller
	// closes the audit store.
	if s.refusals != nil {
		s.refusals.close()
	}
	return nil
}
