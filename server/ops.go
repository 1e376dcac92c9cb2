package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Ops is the operations listener: /healthz, /readyz and /metrics in
// plaintext, for load balancers, orchestrators and Prometheus, which
// cannot present a member's certificate. It serves nothing of the ledger:
// no entries, flags, checkpoints or audit records, and no API path. Its
// requests carry no caller and no ledger data, so they are not audited.
//
// It starts before the ledger is opened (a full start-up check of a large
// log takes a while, and an orchestrator should see the process live but
// not ready meanwhile); Attach hands it the assembled server.
type Ops struct {
	log *slog.Logger
	srv atomic.Pointer[Server]
	// metrics serves the attached server's registry.
	metrics atomic.Pointer[http.Handler]

	mu sync.Mutex
	// catchUpTo is the log size when the server was attached: the
	// detector must have applied that much before the service is ready.
	catchUpTo uint64
	// caughtUp latches once it has: a detector briefly behind under load
	// must not take a serving node out of rotation.
	caughtUp bool
}

// NewOps returns an ops listener with nothing attached yet: live, not
// ready.
func NewOps(log *slog.Logger) *Ops {
	if log == nil {
		log = slog.Default()
	}
	return &Ops{log: log}
}

// Attach makes s the server the ops listener reports on: from now on it
// can be ready and serves s's metrics.
func (o *Ops) Attach(s *Server) {
	o.mu.Lock()
	if s.deriver != nil {
		cp, _ := s.ledger.Checkpoint()
		o.catchUpTo = cp.Size
	}
	o.mu.Unlock()
	h := promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
	o.metrics.Store(&h)
	o.srv.Store(s)
}

// readiness says whether the service should be sent traffic, and if not,
// why. Ready means: the ledger is open and passed its start-up check (the
// server is attached only after), the server has not begun shutting down,
// the last commit succeeded, and the detector has applied every entry
// that was in the log when the server was attached, so flags are not
// missing for old entries.
func (o *Ops) readiness() (map[string]any, bool) {
	s := o.srv.Load()
	if s == nil {
		return map[string]any{"status": "STARTING", "reason": "the ledger is not open yet"}, false
	}
	h, err := s.health.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return map[string]any{"status": "STOPPING", "reason": "the server is shutting down"}, false
	}
	if err := s.ledger.WriteError(); err != nil {
		return map[string]any{"status": "DEGRADED", "reason": "the last commit failed: " + err.Error()}, false
	}
	if s.deriver == nil {
		return map[string]any{"status": "READY"}, true
	}
	applied := s.deriver.Applied()
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.caughtUp && applied < o.catchUpTo {
		return map[string]any{"status": "CATCHING_UP", "reason": fmt.Sprintf("the detector has applied %d of the %d entries in the log at start", applied, o.catchUpTo),
			"detector_applied": applied, "detector_target": o.catchUpTo}, false
	}
	o.caughtUp = true
	return map[string]any{"status": "READY"}, true
}

// Handler is the ops listener's handler. Every other path is 404.
func (o *Ops) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// Liveness: the process answers. A ledger whose writes fail is
		// reported, as on the mTLS listeners' /healthz.
		h, code := map[string]any{"status": "SERVING"}, http.StatusOK
		if s := o.srv.Load(); s == nil {
			h["status"] = "STARTING"
		} else if err := s.ledger.WriteError(); err != nil {
			h["status"], h["write_error"], code = "DEGRADED", err.Error(), http.StatusServiceUnavailable
		}
		writeJSON(w, code, h)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		h, ready := o.readiness()
		code := http.StatusOK
		if !ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, h)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		h := o.metrics.Load()
		if h == nil {
			http.Error(w, "starting: the ledger is not open yet", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Serve serves the ops endpoints on lis until ctx ends, then stops
// taking requests and lets those in flight finish.
func (o *Ops) Serve(ctx context.Context, lis net.Listener) error {
	hs := &http.Server{
		Handler:           o.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(o.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve ops: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop ops: %w", err)
	}
	return nil
}
