package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// flagWatch reads a flag watch until a progress message at or past
// cursor, and returns the changes and the last cursor.
func flagWatch(tb testing.TB, st chemledgerv1.AnalystService_WatchFlagsClient, until uint64) ([]*chemledgerv1.FlagChange, uint64) {
	tb.Helper()
	var got []*chemledgerv1.FlagChange
	for {
		m, err := st.Recv()
		if err != nil {
			tb.Fatalf("WatchFlags after %d changes: %v", len(got), err)
		}
		got = append(got, m.GetChanges()...)
		if m.GetProgress() && m.GetCursor() >= until {
			return got, m.GetCursor()
		}
	}
}

// TestWatchFlags: a flag watch opened before the examples are submitted
// receives every flag the detector raises, once each; a disposition comes
// as a status change; resumed from a cursor it gets only what changed
// after it; a filter narrows it as it narrows ListFlags; submitters may
// not watch flags.
func TestWatchFlags(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	an := s.analyst(t, "MX-ANAM", pki.RoleAnalyst)
	st, err := an.WatchFlags(ctx, &chemledgerv1.WatchFlagsRequest{ProgressIntervalMs: 100})
	if err != nil {
		t.Fatal(err)
	}
	submitExamplesTLS(t, s)
	waitDerived(t, s.in)
	applied := s.in.Deriver.Applied()
	got, cursor := flagWatch(t, st, applied)
	want := s.in.Deriver.Snapshot()
	if len(want) == 0 {
		t.Fatal("the examples raised no flags")
	}
	seen := map[string]int{}
	last := uint64(0)
	for _, c := range got {
		seen[c.GetFlag().GetId()]++
		if c.GetKind() != chemledgerv1.FlagChangeKind_FLAG_CHANGE_KIND_RAISED || c.GetSeq() < last || c.GetSeq() > cursor {
			t.Errorf("change %v (after seq %d, cursor %d)", c, last, cursor)
		}
		last = c.GetSeq()
	}
	for _, f := range want {
		if seen[f.ID] != 1 {
			t.Errorf("flag %s delivered %d times, want once", f.ID, seen[f.ID])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d flags delivered, the detector holds %d", len(seen), len(want))
	}

	// A disposition: one status change, on the open stream.
	target := want[0].ID
	b, err := protojson.Marshal(&chemledgerv1.Disposition{FlagId: target, Status: chemledgerv1.DispositionStatus_DISPOSITION_STATUS_ESCALATED, Note: "watch"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := an.CreateDisposition(ctx, &chemledgerv1.CreateDispositionRequest{Id: target, SubmissionId: "MX-ANAM:watch-d1", Envelope: signAs(t, s.in, "MX-ANAM", envelope.PayloadTypeDispositionJSON, b)})
	if err != nil {
		t.Fatal(err)
	}
	waitDerived(t, s.in)
	more, _ := flagWatch(t, st, r.GetIndex()+1)
	if len(more) != 1 || more[0].GetFlag().GetId() != target || more[0].GetKind() != chemledgerv1.FlagChangeKind_FLAG_CHANGE_KIND_STATUS_CHANGED ||
		more[0].GetFlag().GetStatus() != chemledgerv1.FlagStatus_FLAG_STATUS_ESCALATED || more[0].GetSeq() != r.GetIndex()+1 {
		t.Fatalf("after the disposition at %d: %v; want one STATUS_CHANGED of %s, ESCALATED, seq %d", r.GetIndex(), more, target, r.GetIndex()+1)
	}

	// Resumed from the cursor before the disposition: that change alone.
	rst, err := an.WatchFlags(ctx, &chemledgerv1.WatchFlagsRequest{Cursor: cursor, ProgressIntervalMs: 100})
	if err != nil {
		t.Fatal(err)
	}
	resumed, _ := flagWatch(t, rst, r.GetIndex()+1)
	if len(resumed) != 1 || resumed[0].GetFlag().GetId() != target {
		t.Errorf("resumed at %d: %v; want the disposition of %s alone", cursor, resumed, target)
	}

	// A filter, as ListFlags reads it.
	rule := want[0].RuleID
	fst, err := an.WatchFlags(ctx, &chemledgerv1.WatchFlagsRequest{Filter: `rule_id = "` + rule + `"`, ProgressIntervalMs: 100})
	if err != nil {
		t.Fatal(err)
	}
	filtered, _ := flagWatch(t, fst, r.GetIndex()+1)
	if len(filtered) == 0 {
		t.Errorf("rule_id = %s: nothing delivered", rule)
	}
	for _, c := range filtered {
		if c.GetFlag().GetRuleId() != rule {
			t.Errorf("rule_id = %s delivered a flag of %s", rule, c.GetFlag().GetRuleId())
		}
	}

	// Over HTTPS: newline-delimited JSON, the first line the flags so far.
	hctx, hcancel := context.WithTimeout(ctx, 30*time.Second)
	defer hcancel()
	req, err := http.NewRequestWithContext(hctx, "GET", "https://"+s.in.HTTPAddr+"/v1/flags:watch?progress_interval_ms=100", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.as(t, "MX-ANAM", pki.RoleAnalyst).https.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 4<<20)
	var line struct {
		Result json.RawMessage `json:"result"`
	}
	var first chemledgerv1.WatchFlagsResponse
	if resp.StatusCode != http.StatusOK || !sc.Scan() || json.Unmarshal(sc.Bytes(), &line) != nil || protojson.Unmarshal(line.Result, &first) != nil || len(first.GetChanges()) == 0 {
		t.Errorf("GET /v1/flags:watch: %d, first line %.200q", resp.StatusCode, sc.Text())
	}
	resp.Body.Close()
	hcancel()
	if code, _, _ := s.do(t, "MX-ANAM", pki.RoleSubmitter, "GET", "/v1/flags:watch", nil); code != http.StatusForbidden {
		t.Errorf("a submitter's GET /v1/flags:watch: %d, want 403", code)
	}

	sub, err := s.analyst(t, "MX-ANAM", pki.RoleSubmitter).WatchFlags(ctx, &chemledgerv1.WatchFlagsRequest{})
	if err == nil {
		_, err = sub.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("a submitter watching flags: %v, want PERMISSION_DENIED", err)
	}
	bad, err := an.WatchFlags(ctx, &chemledgerv1.WatchFlagsRequest{Filter: "colour = red"})
	if err == nil {
		_, err = bad.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("a bad filter: %v, want INVALID_ARGUMENT", err)
	}
}
