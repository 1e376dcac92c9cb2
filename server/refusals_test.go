package server_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/audit"
	"github.com/chemledger/chemledger/internal/datadir"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

// TestRateLimitedFloodCoalescedInAudit: a flood of rate-limited requests
// becomes two audit records, not one (and one fsync) each: the first
// refusal on its own, before its answer, and the rest counted into one
// record, written when the window closes or, as here, at shutdown. The
// counts add up to the refusals the flooder was told of, and the trail
// still verifies.
func TestRateLimitedFloodCoalescedInAudit(t *testing.T) {
	const (
		calls   = 400
		workers = 8
	)
	s := startSecured(t, "", servertest.Options{Audit: true, Server: func(c *server.Config) {
		c.RatePerMember, c.RateBurst = 1, 1
		c.RefusalWindow = time.Hour // every refusal after the first is counted until shutdown
	}})
	flooder := s.ledger(t, "MX-ANAM", "analyst")
	before := auditCount(t, s.in)

	var refused, served atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls / workers {
				_, err := flooder.GetCheckpoint(t.Context(), &chemledgerv1.GetCheckpointRequest{})
				switch {
				case err == nil:
					served.Add(1)
				case status.Code(err) == codes.ResourceExhausted:
					refused.Add(1)
				default:
					t.Errorf("GetCheckpoint as MX-ANAM/analyst: %v, want OK or RESOURCE_EXHAUSTED", err)
				}
			}
		})
	}
	wg.Wait()
	if refused.Load() < calls/2 {
		t.Fatalf("%d of %d calls refused at 1/s; the test needs a flood", refused.Load(), calls)
	}
	// While the flood is counted, the trail holds its reads and the first
	// refusal only: the flood did not become one append per refusal.
	if got, want := auditCount(t, s.in)-before, uint64(served.Load())+1; got != want {
		t.Errorf("during the flood the trail grew by %d records, want %d (%d reads served and the first refusal)", got, want, served.Load())
	}

	// Shutdown writes the count still open.
	s.stop()
	st, err := audit.Open(audit.DefaultOptions(datadir.Layout{Dir: s.in.Dir}.Audit()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.VerifyAll(); err != nil {
		t.Fatalf("audit chain after the flood (%d records verified): %v", n, err)
	}
	recs, _, err := st.List(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var records, counted uint64
	for _, r := range recs {
		if r.Principal != "MX-ANAM/analyst" || r.Outcome != "RESOURCE_EXHAUSTED" {
			continue
		}
		records++
		n := max(1, r.Count)
		counted += n
		if r.Method != "/chemledger.v1.LedgerService/GetCheckpoint" || r.Via != "grpc" {
			t.Errorf("refusal record %+v, want GetCheckpoint over grpc", r)
		}
		if r.Count > 0 && (r.Last.Before(r.Time) || r.Last.IsZero()) {
			t.Errorf("counted record %d: first %v, last %v; want last at or after first", r.Seq, r.Time, r.Last)
		}
	}
	if records != 2 {
		t.Errorf("%d refusal records for a flood of %d refusals, want 2 (the first, then the count)", records, refused.Load())
	}
	if counted != uint64(refused.Load()) {
		t.Errorf("refusal records count %d refusals, the flooder was refused %d times", counted, refused.Load())
	}
}

// TestHTTPListenerRefusalsCoalesced: refusals the HTTP listener answers
// itself (here a flood of made-up dot-segment paths, each different) are
// counted like the gRPC side's, by HTTP method: a path per request does not
// make a record, and an fsync, per request.
func TestHTTPListenerRefusalsCoalesced(t *testing.T) {
	const calls = 60
	s := startSecured(t, "", servertest.Options{Audit: true, Server: func(c *server.Config) {
		c.RefusalWindow = time.Hour
	}})
	before := auditCount(t, s.in)
	for i := range calls {
		if code, _, body := s.do(t, "MX-ANAM", "analyst", "GET", fmt.Sprintf("/v1/shipments/../x%d", i), nil); code != 400 {
			t.Fatalf("GET a dot-segment path: %d %s, want 400", code, body)
		}
	}
	if got := auditCount(t, s.in) - before; got != 1 {
		t.Errorf("%d distinct refused paths added %d records while running, want 1 (the first; the rest counted)", calls, got)
	}
	s.stop()
	st, err := audit.Open(audit.DefaultOptions(datadir.Layout{Dir: s.in.Dir}.Audit()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recs, _, err := st.List(before, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var counted uint64
	for _, r := range recs {
		if r.Outcome == "INVALID_ARGUMENT" && r.Via == "http" {
			counted += max(1, r.Count)
		}
	}
	if counted != calls {
		t.Errorf("the records count %d refusals, want %d", counted, calls)
	}
}
