package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// watchUntil receives from a watch until done says stop (after each
// message), or the deadline passes, and returns the entries, checking that
// each is below the checkpoint size of its message.
func watchUntil(tb testing.TB, c chemledgerv1.LedgerServiceClient, req *chemledgerv1.WatchEntriesRequest, timeout time.Duration,
	done func(m *chemledgerv1.WatchEntriesResponse) bool) []*chemledgerv1.Entry {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), timeout)
	defer cancel()
	st, err := c.WatchEntries(ctx, req)
	if err != nil {
		tb.Fatalf("WatchEntries(%v): %v", req, err)
	}
	var got []*chemledgerv1.Entry
	for {
		m, err := st.Recv()
		if err != nil {
			tb.Fatalf("WatchEntries(%v) after %d entries: %v", req, len(got), err)
		}
		for _, e := range m.GetEntries() {
			if e.GetIndex() >= m.GetCheckpointSize() {
				tb.Fatalf("entry %d in a message at checkpoint size %d", e.GetIndex(), m.GetCheckpointSize())
			}
		}
		got = append(got, m.GetEntries()...)
		if done(m) {
			return got
		}
	}
}

func untilProgress(m *chemledgerv1.WatchEntriesResponse) bool { return m.GetProgress() }

// manyEvents is n copies of the first example (IN-NCB's notification),
// each under its own event id, signed by IN-NCB, split over clients.
func manyEvents(tb testing.TB, in *servertest.Instance, clients, n int, tag string) [][]bulkItem {
	tb.Helper()
	ex := signedExamples(tb, in)[0]
	out := make([][]bulkItem, clients)
	for i := range n {
		id := fmt.Sprintf("%s-%05d", tag, i)
		out[i%clients] = append(out[i%clients], bulkItem{id: ex.member + ":" + id, env: signAs(tb, in, ex.member, envelope.PayloadTypeEventJSON, renamedEvent(tb, ex.line.Event, id))})
	}
	return out
}

// TestWatchEntriesExactlyOnceInOrder opens a watch of the empty log, then
// eight clients submit concurrently: the watch receives every entry once,
// in index order, each covered by the checkpoint size it names; a second
// watch resumed from the middle gets exactly the rest.
func TestWatchEntriesExactlyOnceInOrder(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	const clients, n = 8, 2000
	items := manyEvents(t, in, clients, n, "WATCH")

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := c.WatchEntries(ctx, &chemledgerv1.WatchEntriesRequest{ProgressIntervalMs: 100})
	if err != nil {
		t.Fatal(err)
	}
	// The empty log: the first message says the stream is caught up at 0.
	if m, err := st.Recv(); err != nil || !m.GetProgress() || m.GetCheckpointSize() != 0 || m.GetNextIndex() != 0 {
		t.Fatalf("first message %v, %v; want progress at size 0", m, err)
	}

	var wg sync.WaitGroup
	for _, its := range items {
		wg.Go(func() {
			if _, err := bulkResults(ctx, c, its); err != nil {
				t.Errorf("bulk: %v", err)
			}
		})
	}
	var got []uint64
	next := uint64(0)
	for len(got) < n {
		m, err := st.Recv()
		if err != nil {
			t.Fatalf("after %d entries: %v", len(got), err)
		}
		if m.GetProgress() {
			if m.GetNextIndex() < next {
				t.Fatalf("progress next_index %d went back from %d", m.GetNextIndex(), next)
			}
			next = m.GetNextIndex()
			continue
		}
		for _, e := range m.GetEntries() {
			if e.GetIndex() != next {
				t.Fatalf("entry %d after next_index %d: a gap or a duplicate", e.GetIndex(), next)
			}
			if m.GetCheckpointSize() <= e.GetIndex() {
				t.Fatalf("entry %d with checkpoint_size %d", e.GetIndex(), m.GetCheckpointSize())
			}
			if e.GetEvent() == nil || len(e.GetLeaf()) == 0 {
				t.Fatalf("entry %d without its content", e.GetIndex())
			}
			got = append(got, e.GetIndex())
			next = e.GetIndex() + 1
		}
		if m.GetNextIndex() != next {
			t.Fatalf("message ending at entry %d has next_index %d", next-1, m.GetNextIndex())
		}
	}
	wg.Wait()
	cancel()
	if size := logSize(t, c); size != n {
		t.Fatalf("log size %d, want %d", size, n)
	}

	// Resumed from the middle, as after a disconnect.
	from := uint64(n / 3)
	rest := watchUntil(t, c, &chemledgerv1.WatchEntriesRequest{StartIndex: from}, time.Minute, untilProgress)
	if uint64(len(rest)) != n-from {
		t.Fatalf("resumed at %d: %d entries, want %d", from, len(rest), n-from)
	}
	for i, e := range rest {
		if e.GetIndex() != from+uint64(i) {
			t.Fatalf("resumed at %d: entry %d is %d", from, i, e.GetIndex())
		}
	}
}

// TestWatchEntriesProgressWhileIdle: an idle stream keeps saying it is
// caught up, at the interval asked for; a filter that matches nothing
// still moves next_index past what it examined.
func TestWatchEntriesProgressWhileIdle(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	submitAll(t, c, signedExamples(t, in)[:3])
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := c.WatchEntries(ctx, &chemledgerv1.WatchEntriesRequest{Filter: `shipment_ref = "NO-SUCH"`, ProgressIntervalMs: 100})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	for i := range 3 {
		m, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if !m.GetProgress() || len(m.GetEntries()) != 0 || m.GetCheckpointSize() != 3 || m.GetNextIndex() != 3 {
			t.Fatalf("message %d: %v; want progress at 3", i, m)
		}
	}
	if el := time.Since(begin); el < 150*time.Millisecond || el > 5*time.Second {
		t.Errorf("three progress messages took %v; want about two 100 ms intervals", el)
	}
}

// TestWatchEntriesBadInput: the errors are the list's, with the field.
func TestWatchEntriesBadInput(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	for _, tc := range []struct {
		name   string
		req    *chemledgerv1.WatchEntriesRequest
		field  string
		reason string
	}{
		{"bad filter", &chemledgerv1.WatchEntriesRequest{Filter: "colour = red"}, "filter", "BAD_FILTER"},
		{"not a country", &chemledgerv1.WatchEntriesRequest{Filter: `addressed_to = "XX"`}, "filter", "BAD_FILTER"},
		{"interval too short", &chemledgerv1.WatchEntriesRequest{ProgressIntervalMs: 10}, "progress_interval_ms", "BAD_INPUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := c.WatchEntries(t.Context(), tc.req)
			if err == nil {
				_, err = st.Recv()
			}
			s := status.Convert(err)
			d := detailsOf(s)
			if s.Code() != codes.InvalidArgument || d.reason != tc.reason || len(d.fields) == 0 || d.fields[0] != tc.field {
				t.Fatalf("WatchEntries(%v): %v %+v; want INVALID_ARGUMENT %s on %s", tc.req, err, d, tc.reason, tc.field)
			}
		})
	}
}

// TestWatchAddressedTo: the German notification of P-2-P for Mexico via
// Rotterdam reaches Mexico (importer) and the Netherlands (transit), and
// neither the exporting country nor the others.
func TestWatchAddressedTo(t *testing.T) {
	s := startSecured(t, "", servertest.Options{})
	submitExamplesTLS(t, s)
	const pen = "PEN-DE-2026-000317"
	for _, tc := range []struct {
		member string
		want   bool
	}{
		{"MX-ANAM", true}, {"NL-DOUANE", true}, {"DE-ZOLL", false}, {"US-CBP", false}, {"IN-NCB", false}, {"CN-GACC", false},
	} {
		t.Run(tc.member, func(t *testing.T) {
			m, _ := s.in.Members.Member(tc.member)
			filter := fmt.Sprintf("addressed_to = %q AND kind = PRE_EXPORT_NOTIFICATION", m.Country)
			got := watchUntil(t, s.ledger(t, tc.member, pki.RoleAnalyst), &chemledgerv1.WatchEntriesRequest{Filter: filter}, 30*time.Second, untilProgress)
			found := false
			for _, e := range got {
				ev := e.GetEvent()
				if ev.GetKind() != chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION {
					t.Errorf("%s: entry %d is a %v", filter, e.GetIndex(), ev.GetKind())
				}
				found = found || ev.GetShipmentRef() == pen
			}
			if found != tc.want {
				t.Errorf("%s as %s: %s delivered %v, want %v (got %d entries)", filter, tc.member, pen, found, tc.want, len(got))
			}
		})
	}
}

// TestWatchEntriesScopeAndAudit: a watch delivers what the list would to
// the same caller (a submitter its own entries, an auditor hashes), is
// refused where the list is, and leaves one audit record per stream.
func TestWatchEntriesScopeAndAudit(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true})
	byMember := submitExamplesTLS(t, s)

	before := auditCount(t, s.in)
	got := watchUntil(t, s.ledger(t, "MX-ANAM", pki.RoleSubmitter), &chemledgerv1.WatchEntriesRequest{}, 30*time.Second, untilProgress)
	if len(got) != len(byMember["MX-ANAM"]) {
		t.Errorf("submitter MX-ANAM watched %d entries, want its own %d", len(got), len(byMember["MX-ANAM"]))
	}
	for _, e := range got {
		if e.GetMember() != "MX-ANAM" {
			t.Errorf("submitter MX-ANAM was sent entry %d of %s", e.GetIndex(), e.GetMember())
		}
	}
	// The audit record is written before the first message, so it is there.
	if after := auditCount(t, s.in); after != before+1 {
		t.Errorf("a stream of %d entries left %d audit records, want 1", len(got), after-before)
	}

	got = watchUntil(t, s.ledger(t, "MX-ANAM", pki.RoleAuditor), &chemledgerv1.WatchEntriesRequest{}, 30*time.Second, untilProgress)
	if len(got) == 0 {
		t.Fatal("auditor watched no entries")
	}
	for _, e := range got {
		if len(e.GetLeaf()) > 0 || e.GetEvent() != nil || len(e.GetLeafHash()) != 32 {
			t.Errorf("auditor was sent entry %d with content (or without its leaf hash)", e.GetIndex())
		}
	}

	st, err := s.ledger(t, "MX-ANAM", pki.RoleSubmitter).WatchEntries(t.Context(), &chemledgerv1.WatchEntriesRequest{Filter: `member = "US-CBP"`})
	if err == nil {
		_, err = st.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("submitter watching US-CBP's entries: %v, want PERMISSION_DENIED", err)
	}
}

// TestWatchEntriesHTTP: over HTTPS the watch is newline-delimited JSON,
// one {"result": …} per message, flushed as it is sent, and it outlives
// nothing it should not: a refused one is an ordinary 403.
func TestWatchEntriesHTTP(t *testing.T) {
	s := startSecured(t, "", servertest.Options{})
	submitExamplesTLS(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	q := url.Values{"filter": {`addressed_to = "MX"`}, "progress_interval_ms": {"100"}}
	req, err := http.NewRequestWithContext(ctx, "GET", "https://"+s.in.HTTPAddr+"/v1/entries:watch?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.as(t, "MX-ANAM", pki.RoleAnalyst).https.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/entries:watch: %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	entries := 0
	for sc.Scan() {
		var line struct {
			Result json.RawMessage `json:"result"`
		}
		var m chemledgerv1.WatchEntriesResponse
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if err := protojson.Unmarshal(line.Result, &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if m.GetProgress() {
			break
		}
		entries += len(m.GetEntries())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if entries == 0 {
		t.Error("no entries addressed to MX over HTTP")
	}
	cancel()

	code, _, body := s.do(t, "MX-ANAM", pki.RoleSubmitter, "GET", "/v1/entries:watch?filter="+url.QueryEscape(`member = "US-CBP"`), nil)
	if code != http.StatusForbidden {
		t.Errorf("submitter watching US-CBP over HTTP: %d %s, want 403", code, body)
	}
}

// TestWatchEndsWhenCallerSuspended: a watch does not outlive the caller's
// right to list. Suspended mid-stream, the member's watch ends with
// PERMISSION_DENIED at the next progress message, and the end is audited
// as a refusal (the stream's second and last record).
func TestWatchEndsWhenCallerSuspended(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true})
	submitExamplesTLS(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	before := auditCount(t, s.in)
	st, err := s.ledger(t, "PA-ANA", pki.RoleSubmitter).WatchEntries(ctx, &chemledgerv1.WatchEntriesRequest{ProgressIntervalMs: 100})
	if err != nil {
		t.Fatal(err)
	}
	for {
		m, err := st.Recv()
		if err != nil {
			t.Fatalf("before the suspension: %v", err)
		}
		if m.GetProgress() {
			break
		}
	}
	if err := s.in.Members.SetStatus(0, "PA-ANA", members.Suspended, "test"); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := st.Recv()
		if err != nil {
			if status.Code(err) != codes.PermissionDenied {
				t.Fatalf("after the suspension: %v, want PERMISSION_DENIED", err)
			}
			break
		}
		if len(m.GetEntries()) > 0 {
			t.Fatalf("entries sent after the suspension")
		}
	}
	if got := auditCount(t, s.in) - before; got != 2 {
		t.Errorf("the stream left %d audit records, want 2 (opened, then ended by the refusal)", got)
	}
}
