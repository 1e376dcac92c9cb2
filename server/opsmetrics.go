package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/internal/authz"
	"github.com/chemledger/chemledger/ledger"
)

// opsMetrics are the metrics an operator watches the write path, the
// detector and the audit trail by. Every label has a bounded set of
// values: members are the known set, reasons are the ErrorInfo reasons (or
// gRPC code names), routes are patterns, never raw paths.
type opsMetrics struct {
	commitBatch    prometheus.Histogram
	commitSeconds  prometheus.Histogram
	syncSeconds    prometheus.Histogram
	commitFailures prometheus.Counter
	flagsRaised    *prometheus.CounterVec
	auditSeconds   prometheus.Histogram
	auditFailures  prometheus.Counter
	refusals       *prometheus.CounterVec
	httpRequests   *prometheus.CounterVec
}

// latencyBuckets span a fast fsync (well under a millisecond on an SSD)
// to a disk in trouble (seconds).
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

func newOpsMetrics() opsMetrics {
	return opsMetrics{
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chemledger_commit_batch_size",
			Help:    "Submissions decided by one commit of the sequencer (group commit: it grows with the load).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 … 1024, DefaultMaxBatch
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chemledger_commit_seconds",
			Help:    "Time of one commit of the sequencer: deciding the batch, writing it, signing the checkpoint, making it durable.",
			Buckets: latencyBuckets,
		}),
		syncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chemledger_commit_fsync_seconds",
			Help:    "Part of one commit spent writing pages to the database file and syncing them to disk.",
			Buckets: latencyBuckets,
		}),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chemledger_commit_failures_total",
			Help: "Commits that failed (every submission in the batch was refused; nothing was written).",
		}),
		flagsRaised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chemledger_flags_raised_total",
			Help: "Flags the detector raised since the service started, by rule.",
		}, []string{"rule"}),
		auditSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "chemledger_audit_write_seconds",
			Help:    "Time for an audit record to become durable, as the read or refusal waiting for it sees it.",
			Buckets: latencyBuckets,
		}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chemledger_audit_write_failures_total",
			Help: "Audit records that could not be written (each failed its read closed).",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chemledger_refusals_total",
			Help: "Requests answered with an error, by the calling member (\"-\" when unauthenticated) and the ErrorInfo reason (the gRPC code when there is none).",
		}, []string{"member", "reason"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chemledger_http_requests_total",
			Help: "HTTP requests on the HTTPS listener, by route pattern and status; \"unmatched\" when no route took the request (an unknown path, or a caller refused before routing).",
		}, []string{"route", "code"}),
	}
}

func (o opsMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{o.commitBatch, o.commitSeconds, o.syncSeconds, o.commitFailures,
		o.flagsRaised, o.auditSeconds, o.auditFailures, o.refusals, o.httpRequests}
}

// watch registers what is read at scrape time from the ledger and the
// detector, and makes the metrics their observer.
func (m *metrics) watch(l *ledger.Ledger, d *derive.Deriver) {
	l.Observe(m)
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chemledger_sequencer_queue_depth",
			Help: "Admitted submissions waiting for the sequencer; at chemledger_sequencer_queue_capacity submitters block.",
		}, func() float64 { return float64(l.QueueDepth()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chemledger_sequencer_queue_capacity",
			Help: "The most submissions that may wait for the sequencer.",
		}, func() float64 { return float64(l.QueueCapacity()) }),
	)
	if d == nil {
		return
	}
	d.Observe(m)
	// Every rule has a series from the start, so a rate() over a rule
	// that has not fired yet is 0, not absent.
	for _, r := range detect.Catalogue() {
		m.flagsRaised.WithLabelValues(r.ID)
	}
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chemledger_detector_lag_entries",
			Help: "Committed entries the detector has not applied yet: flags cover the log below it.",
		}, func() float64 {
			cp, _ := l.Checkpoint()
			return float64(cp.Size - min(cp.Size, d.Applied()))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "chemledger_detector_lag_seconds",
			Help: "How long the oldest committed entry the detector has not applied has been in the log; 0 when it is caught up.",
		}, func() float64 { return detectorLag(l, d).Seconds() }),
	)
}

// detectorLag is how long ago the first entry the detector has not
// applied was committed, or 0 when it has applied them all.
func detectorLag(l *ledger.Ledger, d *derive.Deriver) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e, err := l.Entry(ctx, d.Applied())
	if err != nil {
		return 0 // caught up: no such entry yet
	}
	return max(0, time.Since(time.Unix(0, e.Meta.IntegratedTime)))
}

// Committed implements ledger.Observer.
func (m *metrics) Committed(c ledger.CommitStats) {
	if c.Err != nil {
		m.commitFailures.Inc()
		return
	}
	m.commitBatch.Observe(float64(c.Batch))
	m.commitSeconds.Observe(c.Took.Seconds())
	m.syncSeconds.Observe(c.Sync.Seconds())
}

// FlagRaised implements derive.Observer.
func (m *metrics) FlagRaised(rule string) { m.flagsRaised.WithLabelValues(rule).Inc() }

// auditWritten records one audit write.
func (m *metrics) auditWritten(took time.Duration, err error) {
	if m == nil {
		return
	}
	m.auditSeconds.Observe(took.Seconds())
	if err != nil {
		m.auditFailures.Inc()
	}
}

// refused counts a call answered with err, if it is an error.
func (m *metrics) refused(p authz.Principal, err error) {
	if m == nil || err == nil {
		return
	}
	st := status.Convert(err)
	reason := reasonOf(st)
	if reason == "" {
		reason = codeName(st.Code())
	}
	m.refusals.WithLabelValues(memberLabel(p), reason).Inc()
}

// memberLabel is a principal as a label value: a known member (principalOf
// admits no other), "insecure" in plaintext development, "-" for a caller
// nobody authenticated.
func memberLabel(p authz.Principal) string {
	switch {
	case p.Insecure:
		return "insecure"
	case p.Member == "":
		return "-"
	}
	return p.Member
}

// routeNote is where the gateway's middleware leaves the pattern of the
// route it matched, for the counter around the whole HTTP handler.
type routeNote struct{ pattern string }

type routeNoteKey struct{}

// notePattern is a grpc-gateway middleware: it runs after routing, where
// the matched pattern is known.
func notePattern(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if n, ok := r.Context().Value(routeNoteKey{}).(*routeNote); ok {
			if p, ok := runtime.HTTPPattern(r.Context()); ok {
				// "/v1/entries/{index=*}" reads better as "/v1/entries/{index}".
				n.pattern = r.Method + " " + strings.ReplaceAll(p.String(), "=*}", "}")
			}
		}
		next(w, r, params)
	}
}

// countHTTP counts every request by the route it took and the status it
// got. Routes are the local mux's patterns or the gateway's, so the label
// stays bounded whatever paths clients send.
func (s *Server) countHTTP(next http.Handler, local *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note := &routeNote{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeNoteKey{}, note)))
		route := note.pattern
		if route == "" {
			if _, p := local.Handler(r); p != "" && p != "/" {
				route = p
			} else {
				route = "unmatched"
			}
		}
		code := rec.status
		if code == 0 {
			code = http.StatusOK
		}
		s.metrics.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	})
}
