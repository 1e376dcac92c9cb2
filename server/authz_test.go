package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/authz"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// submitExamplesTLS submits the example events, each as the member that
// signed it, and returns their indexes by member.
func submitExamplesTLS(tb testing.TB, s *secured) map[string][]uint64 {
	tb.Helper()
	byMember := map[string][]uint64{}
	for _, ex := range signedExamples(tb, s.in) {
		r, err := s.ledger(tb, ex.member, pki.RoleSubmitter).CreateEntry(tb.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: ex.id, Envelope: ex.env})
		if err != nil {
			tb.Fatalf("submit %s as %s: %v", ex.id, ex.member, err)
		}
		byMember[ex.member] = append(byMember[ex.member], r.GetIndex())
	}
	return byMember
}

// authzCall is one RPC made for the matrix: over gRPC, and (when it has an
// HTTP binding) over the gateway. own says whether it asks for the caller's
// own records, other another member's; "-" marks an RPC about no member's
// records.
type authzCall struct {
	method string
	scope  string
	grpc   func(conn *grpc.ClientConn) (proto.Message, error)
	http   func() (verb, path string, body []byte)
}

// TestAuthorisationMatrix makes every RPC as MX-ANAM in each role, for its
// own records and for US-CBP's, over gRPC and over HTTP, and checks each
// outcome against authz.Decide and against a golden table
// (testdata/authz_calls.golden) that reviewers read.
func TestAuthorisationMatrix(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true})
	in := s.in
	byMember := submitExamplesTLS(t, s)
	waitDerived(t, in)
	const me, them = "MX-ANAM", "US-CBP"
	mine, theirs := byMember[me][0], byMember[them][0]
	flags := in.Deriver.Snapshot()
	if len(flags) == 0 {
		t.Fatal("the examples raised no flags")
	}
	flagID, ref := flags[0].ID, flags[0].ShipmentRef

	// A fresh event (or disposition) per call, signed by member, so that
	// an allowed write really writes.
	seq := 0
	role := ""
	first := readExamples(t)[0].Event
	// A month the scorecard has a row for: every member has one for every
	// month with an event.
	scoreMonth := first.GetOccurredTime().AsTime().UTC().Format("2006-01")
	event := func(member string) (string, []byte) {
		seq++
		id, entryID := fmt.Sprintf("%s:authz-%d", member, seq), fmt.Sprintf("AUTHZ-%d", seq)
		if role == pki.RoleAdmin {
			// What an admin appends: a member registry change.
			b, err := protojson.Marshal(&chemledgerv1.RegistryEntry{
				EntryId: entryID, EffectiveTime: timestamppb.New(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)),
				Change: &chemledgerv1.RegistryEntry_MemberRole{MemberRole: &chemledgerv1.MemberRole{Member: "PA-ANA", Role: pki.RoleAnalyst}},
			})
			if err != nil {
				t.Fatal(err)
			}
			return id, signAs(t, in, member, envelope.PayloadTypeRegistryJSON, b)
		}
		return id, signAs(t, in, member, envelope.PayloadTypeEventJSON, renamedEvent(t, first, entryID))
	}
	disposition := func(member string) (string, []byte) {
		seq++
		b, err := protojson.Marshal(&chemledgerv1.Disposition{FlagId: flagID, Status: chemledgerv1.DispositionStatus_DISPOSITION_STATUS_ESCALATED, Note: fmt.Sprintf("matrix %d", seq)})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%s:authz-d%d", member, seq), signAs(t, in, member, envelope.PayloadTypeDispositionJSON, b)
	}
	memberFilter := func(m string) string { return fmt.Sprintf("member = %q", m) }
	ledger := func(conn *grpc.ClientConn) chemledgerv1.LedgerServiceClient {
		return chemledgerv1.NewLedgerServiceClient(conn)
	}
	analyst := func(conn *grpc.ClientConn) chemledgerv1.AnalystServiceClient {
		return chemledgerv1.NewAnalystServiceClient(conn)
	}
	ctx := t.Context()
	const ls, as = "/chemledger.v1.LedgerService/", "/chemledger.v1.AnalystService/"
	var calls []authzCall
	for _, who := range []struct{ scope, member string }{{"own", me}, {"other", them}} {
		idx := mine
		if who.member == them {
			idx = theirs
		}
		calls = append(calls,
			authzCall{ls + "CreateEntry", who.scope, func(conn *grpc.ClientConn) (proto.Message, error) {
				id, env := event(who.member)
				return ledger(conn).CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: id, Envelope: env})
			}, func() (string, string, []byte) {
				id, env := event(who.member)
				return "POST", "/v1/entries", entryBody(id, env)
			}},
			authzCall{ls + "BulkCreateEntries", who.scope, func(conn *grpc.ClientConn) (proto.Message, error) {
				id, env := event(who.member)
				return bulkOne(ctx, ledger(conn), id, env)
			}, nil},
			authzCall{ls + "GetEntry", who.scope, func(conn *grpc.ClientConn) (proto.Message, error) {
				return ledger(conn).GetEntry(ctx, &chemledgerv1.GetEntryRequest{Index: idx})
			}, func() (string, string, []byte) { return "GET", fmt.Sprintf("/v1/entries/%d", idx), nil }},
			authzCall{ls + "ListEntries", who.scope, func(conn *grpc.ClientConn) (proto.Message, error) {
				return ledger(conn).ListEntries(ctx, &chemledgerv1.ListEntriesRequest{Filter: memberFilter(who.member)})
			}, func() (string, string, []byte) {
				return "GET", "/v1/entries?filter=" + url.QueryEscape(memberFilter(who.member)), nil
			}},
			authzCall{ls + "WatchEntries", who.scope, func(conn *grpc.ClientConn) (proto.Message, error) {
				return firstWatched(ctx, ledger(conn), &chemledgerv1.WatchEntriesRequest{Filter: memberFilter(who.member)})
			}, nil},
			authzCall{ls + "GetInclusionProof", who.scope, func(conn *grpc.ClientConn) (proto.Message, error) {
				return ledger(conn).GetInclusionProof(ctx, &chemledgerv1.GetInclusionProofRequest{Index: idx, TreeSize: committed(in)})
			}, func() (string, string, []byte) {
				return "GET", fmt.Sprintf("/v1/entries/%d/inclusion-proof?treeSize=%d", idx, committed(in)), nil
			}},
			authzCall{as + "CreateDisposition", who.scope, func(conn *grpc.ClientConn) (proto.Message, error) {
				id, env := disposition(who.member)
				return analyst(conn).CreateDisposition(ctx, &chemledgerv1.CreateDispositionRequest{Id: flagID, SubmissionId: id, Envelope: env})
			}, func() (string, string, []byte) {
				id, env := disposition(who.member)
				return "POST", "/v1/flags/" + flagID + ":disposition", entryBody(id, env)
			}},
		)
	}
	calls = append(calls,
		authzCall{ls + "GetLog", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return ledger(conn).GetLog(ctx, &chemledgerv1.GetLogRequest{})
		}, func() (string, string, []byte) { return "GET", "/v1/log", nil }},
		authzCall{ls + "GetCheckpoint", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return ledger(conn).GetCheckpoint(ctx, &chemledgerv1.GetCheckpointRequest{})
		}, func() (string, string, []byte) { return "GET", "/v1/checkpoint", nil }},
		authzCall{ls + "GetConsistencyProof", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return ledger(conn).GetConsistencyProof(ctx, &chemledgerv1.GetConsistencyProofRequest{First: 1, Second: 2})
		}, func() (string, string, []byte) { return "GET", "/v1/consistency-proof?first=1&second=2", nil }},
		authzCall{ls + "ListWebhooks", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return ledger(conn).ListWebhooks(ctx, &chemledgerv1.ListWebhooksRequest{})
		}, func() (string, string, []byte) { return "GET", "/v1/webhooks", nil }},
		authzCall{ls + "ListMembers", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return ledger(conn).ListMembers(ctx, &chemledgerv1.ListMembersRequest{})
		}, func() (string, string, []byte) { return "GET", "/v1/members", nil }},
		authzCall{ls + "GetTile", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return ledger(conn).GetTile(ctx, &chemledgerv1.GetTileRequest{Level: 0, Index: 0, Width: 1})
		}, func() (string, string, []byte) { return "GET", "/tlog/tile/0/000.p/1", nil }},
		authzCall{ls + "GetEntryBundle", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return ledger(conn).GetEntryBundle(ctx, &chemledgerv1.GetEntryBundleRequest{Index: 0, Width: 1})
		}, func() (string, string, []byte) { return "GET", "/tlog/tile/entries/000.p/1", nil }},
		authzCall{as + "ListFlags", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return analyst(conn).ListFlags(ctx, &chemledgerv1.ListFlagsRequest{})
		}, func() (string, string, []byte) { return "GET", "/v1/flags", nil }},
		authzCall{as + "WatchFlags", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			st, err := analyst(conn).WatchFlags(wctx, &chemledgerv1.WatchFlagsRequest{})
			if err != nil {
				return nil, err
			}
			return st.Recv()
		}, nil},
		authzCall{as + "GetFlag", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return analyst(conn).GetFlag(ctx, &chemledgerv1.GetFlagRequest{Id: flagID})
		}, func() (string, string, []byte) { return "GET", "/v1/flags/" + flagID, nil }},
		authzCall{as + "ListRules", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return analyst(conn).ListRules(ctx, &chemledgerv1.ListRulesRequest{})
		}, func() (string, string, []byte) { return "GET", "/v1/rules", nil }},
		authzCall{as + "GetShipment", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return analyst(conn).GetShipment(ctx, &chemledgerv1.GetShipmentRequest{Ref: ref})
		}, func() (string, string, []byte) { return "GET", "/v1/shipments/" + ref, nil }},
		authzCall{as + "GetStats", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return analyst(conn).GetStats(ctx, &chemledgerv1.GetStatsRequest{})
		}, func() (string, string, []byte) { return "GET", "/v1/stats", nil }},
		authzCall{"/chemledger.v1.ScorecardService/GetScorecard", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return chemledgerv1.NewScorecardServiceClient(conn).GetScorecard(ctx, &chemledgerv1.GetScorecardRequest{Period: "2026"})
		}, func() (string, string, []byte) { return "GET", "/v1/scorecard?period=2026", nil }},
		authzCall{"/chemledger.v1.ScorecardService/ListScorecardEntries", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return chemledgerv1.NewScorecardServiceClient(conn).ListScorecardEntries(ctx, &chemledgerv1.ListScorecardEntriesRequest{Member: "US-CBP", Month: scoreMonth, Indicator: "pen_sent"})
		}, func() (string, string, []byte) {
			return "GET", "/v1/scorecard/entries?member=US-CBP&month=" + scoreMonth + "&indicator=pen_sent", nil
		}},
		authzCall{"/chemledger.v1.AdminService/RebuildDerivedState", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return chemledgerv1.NewAdminServiceClient(conn).RebuildDerivedState(ctx, &chemledgerv1.RebuildDerivedStateRequest{})
		}, func() (string, string, []byte) { return "POST", "/v1/derived:rebuild", []byte("{}") }},
		authzCall{"/chemledger.v1.AdminService/Backup", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			// Read the whole stream: a refusal comes with the first Recv.
			st, err := chemledgerv1.NewAdminServiceClient(conn).Backup(ctx, &chemledgerv1.BackupRequest{})
			if err != nil {
				return nil, err
			}
			for {
				c, err := st.Recv()
				if err != nil {
					return nil, err
				}
				if c.GetManifest() != nil {
					return c, nil
				}
			}
		}, nil},
		authzCall{"/chemledger.v1.AuditService/ListAuditRecords", "-", func(conn *grpc.ClientConn) (proto.Message, error) {
			return chemledgerv1.NewAuditServiceClient(conn).ListAuditRecords(ctx, &chemledgerv1.ListAuditRecordsRequest{PageSize: 1})
		}, func() (string, string, []byte) { return "GET", "/v1/audit-records?pageSize=1", nil }},
	)

	var table strings.Builder
	fmt.Fprintf(&table, "%-52s %-9s %-6s %-18s %s\n", "method", "role", "scope", "grpc", "http")
	for _, role = range pki.Roles {
		conn := s.conn(t, me, role)
		for _, c := range calls {
			resp, err := c.grpc(conn)
			got := status.Code(err)
			want := expectedCode(authz.Decide(authz.Principal{Member: me, Roles: []string{role}}, c.method), c.scope)
			if got != want {
				t.Errorf("gRPC %s as %s/%s (%s records): %v, want %v", c.method, me, role, c.scope, err, want)
			}
			if e, ok := resp.(*chemledgerv1.Entry); ok && role == pki.RoleAuditor && len(e.GetLeaf()) > 0 {
				t.Errorf("auditor's GetEntry holds the entry's content; auditors read hashes only")
			}
			if l, ok := resp.(*chemledgerv1.ListEntriesResponse); ok && role == pki.RoleAuditor {
				for _, e := range l.GetEntries() {
					if len(e.GetLeaf()) > 0 || e.GetEvent() != nil {
						t.Errorf("auditor's ListEntries holds entry %d's content", e.GetIndex())
					}
				}
			}
			if w, ok := resp.(*chemledgerv1.WatchEntriesResponse); ok && role == pki.RoleAuditor {
				for _, e := range w.GetEntries() {
					if len(e.GetLeaf()) > 0 || e.GetEvent() != nil {
						t.Errorf("auditor's WatchEntries holds entry %d's content", e.GetIndex())
					}
				}
			}
			httpCode := "-"
			if c.http != nil {
				verb, path, body := c.http()
				var r io.Reader
				if body != nil {
					r = bytes.NewReader(body)
				}
				code, _, _ := s.do(t, me, role, verb, path, r)
				httpCode = fmt.Sprint(code)
				if wantHTTP := authzHTTPStatus(want); code != wantHTTP {
					t.Errorf("HTTP %s %s as %s/%s: %d, want %d", verb, path, me, role, code, wantHTTP)
				}
			}
			fmt.Fprintf(&table, "%-52s %-9s %-6s %-18s %s\n", c.method, role, c.scope, got, httpCode)
		}
	}

	const golden = "testdata/authz_calls.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(table.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestAuthorisationMatrix -update writes it)", err)
	}
	if table.String() != string(want) {
		t.Errorf("the outcomes differ from %s (rerun with -update if the matrix changed on purpose):\n%s", golden, table.String())
	}
}

// expectedCode is what a call in scope ("own", "other" or "-") must get.
func expectedCode(s authz.Scope, scope string) codes.Code {
	switch {
	case s == authz.Deny:
		return codes.PermissionDenied
	case s == authz.Own && scope == "other":
		return codes.PermissionDenied
	}
	return codes.OK
}

func authzHTTPStatus(c codes.Code) int {
	if c == codes.PermissionDenied {
		return http.StatusForbidden
	}
	return http.StatusOK
}

// bulkOne sends one item over the bulk stream: the stream's refusal, or
// the item's.
func bulkOne(ctx context.Context, c chemledgerv1.LedgerServiceClient, id string, env []byte) (proto.Message, error) {
	resps, err := bulkStream(ctx, c, []bulkItem{{id: id, env: env}})
	if err != nil {
		return nil, err
	}
	if len(resps) == 0 {
		return nil, status.Error(codes.Internal, "test: the bulk stream ended with no response")
	}
	if r := resps[0].GetResults(); len(r) == 1 && r[0].GetError() != nil {
		return nil, status.Error(codes.Code(r[0].GetError().GetCode()), r[0].GetError().GetMessage())
	}
	return resps[0], nil
}

// firstWatched opens a watch and returns its first message (an entry, or
// progress when none matches), then closes it.
func firstWatched(ctx context.Context, c chemledgerv1.LedgerServiceClient, req *chemledgerv1.WatchEntriesRequest) (proto.Message, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.WatchEntries(ctx, req)
	if err != nil {
		return nil, err
	}
	return st.Recv()
}
