package server

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// metrics are the service's Prometheus metrics, on a registry of its own so
// that tests can run many servers in one process.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	opsMetrics
}

func newMetrics(treeSize func() float64) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chemledger_grpc_requests_total",
			Help: "gRPC requests handled, by method and status code (HTTP requests reach gRPC through the gateway and count here too).",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chemledger_grpc_request_seconds",
			Help:    "gRPC request latency, by method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method"}),
		opsMetrics: newOpsMetrics(),
	}
	m.registry.MustRegister(m.opsMetrics.collectors()...)
	m.registry.MustRegister(m.requests, m.latency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chemledger_log_size",
			Help: "Entries in the log, as of the latest signed checkpoint.",
		}, treeSize),
		prometheus.NewGoCollector(),
		prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}),
	)
	return m
}

// unaryObserve counts, times and logs every unary call, and turns a panic
// into Internal so one bad request cannot take the service down.
func unaryObserve(m *metrics, log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic in handler", "method", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
			observe(m, log, info.FullMethod, start, err)
		}()
		return handler(ctx, req)
	}
}

func streamObserve(m *metrics, log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic in stream handler", "method", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, "internal error")
			}
			observe(m, log, info.FullMethod, start, err)
		}()
		return handler(srv, ss)
	}
}

func observe(m *metrics, log *slog.Logger, method string, start time.Time, err error) {
	code := status.Code(err)
	took := time.Since(start)
	m.requests.WithLabelValues(method, code.String()).Inc()
	m.latency.WithLabelValues(method).Observe(took.Seconds())
	level := slog.LevelDebug
	switch code {
	case codes.OK, codes.NotFound, codes.AlreadyExists, codes.InvalidArgument, codes.OutOfRange, codes.Canceled:
	default:
		level = slog.LevelWarn
	}
	if code != codes.OK && level == slog.LevelDebug {
		level = slog.LevelInfo
	}
	log.Log(context.Background(), level, "rpc", "method", method, "code", code.String(), "took", took, "err", err)
}
