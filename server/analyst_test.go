package server_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/derive"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// waitDerived waits until the detector has applied the whole log.
func waitDerived(tb testing.TB, in *servertest.Instance) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, _ := in.Ledger.Checkpoint()
		if in.Deriver.Applied() >= cp.Size {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("detector applied %d of %d entries after 10 s", in.Deriver.Applied(), cp.Size)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startDerived runs a service holding every example, each committed on its
// own, with the detector caught up; conn is a plaintext connection to it.
func startDerived(tb testing.TB) (*servertest.Instance, *grpc.ClientConn) {
	tb.Helper()
	in := start(tb, "")
	conn := dial(tb, in)
	submitAll(tb, chemledgerv1.NewLedgerServiceClient(conn), signedExamples(tb, in))
	waitDerived(tb, in)
	return in, conn
}

func TestAnalystAPI(t *testing.T) {
	in, conn := startDerived(t)
	a := chemledgerv1.NewAnalystServiceClient(conn)

	resp, err := a.ListFlags(t.Context(), &chemledgerv1.ListFlagsRequest{Filter: `rule_id = "R1" AND shipment_ref = "PEN-CN-2026-000871"`})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetFlags()) != 1 {
		t.Fatalf("R1 flags on PEN-CN-2026-000871: %v, want one", resp.GetFlags())
	}
	flag := resp.GetFlags()[0]
	if flag.GetStatus() != chemledgerv1.FlagStatus_FLAG_STATUS_OPEN || flag.GetExplanation() == "" || len(flag.GetThresholds()) == 0 {
		t.Errorf("flag %v: want an open flag with an explanation and thresholds", flag)
	}

	// The evidence comes with proofs an auditor can check offline.
	detail, err := a.GetFlag(t.Context(), &chemledgerv1.GetFlagRequest{Id: flag.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if len(detail.GetEvidence()) != len(flag.GetEvidence()) || len(detail.GetProofs()) != len(flag.GetEvidence()) {
		t.Fatalf("GetFlag: %d evidence entries and %d proofs for %d indexes", len(detail.GetEvidence()), len(detail.GetProofs()), len(flag.GetEvidence()))
	}
	for i, p := range detail.GetProofs() {
		cp := openCheckpoint(t, in, in.Ledger.Origin(), p.GetCheckpoint())
		if err := cp.VerifyInclusion(p.GetIndex(), checkpoint.LeafHash(detail.GetEvidence()[i].GetLeaf()), p.GetHashes()); err != nil {
			t.Errorf("evidence %d: %v", p.GetIndex(), err)
		}
	}

	// A disposition is a signed entry; the flag's status follows it.
	payload, _ := proto.Marshal(&chemledgerv1.Disposition{FlagId: flag.GetId(), Status: chemledgerv1.DispositionStatus_DISPOSITION_STATUS_CONFIRMED, Note: "70 kg missing; consignee could not account for it."})
	env := signAs(t, in, "MX-ANAM", envelope.PayloadTypeDispositionProto, payload)
	if _, err := a.CreateDisposition(t.Context(), &chemledgerv1.CreateDispositionRequest{Id: "R1-000000000000", SubmissionId: "MX-ANAM:disp-x", Envelope: env}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("disposition under another flag's id: %v, want INVALID_ARGUMENT", err)
	}
	r, err := a.CreateDisposition(t.Context(), &chemledgerv1.CreateDispositionRequest{Id: flag.GetId(), SubmissionId: "MX-ANAM:disp-1", Envelope: env})
	if err != nil {
		t.Fatal(err)
	}
	waitDerived(t, in)
	detail, err = a.GetFlag(t.Context(), &chemledgerv1.GetFlagRequest{Id: flag.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	h := detail.GetFlag().GetStatusHistory()
	if detail.GetFlag().GetStatus() != chemledgerv1.FlagStatus_FLAG_STATUS_CONFIRMED || len(h) != 1 || h[0].GetIndex() != r.GetIndex() || h[0].GetMember() != "MX-ANAM" {
		t.Fatalf("after the disposition: status %v, history %v", detail.GetFlag().GetStatus(), h)
	}

	// Errors say what is wrong.
	errs := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"unknown flag", func() error {
			_, err := a.GetFlag(t.Context(), &chemledgerv1.GetFlagRequest{Id: "R1-ffffffffffff"})
			return err
		}, codes.NotFound},
		{"disposition of an unknown flag", func() error {
			p, _ := proto.Marshal(&chemledgerv1.Disposition{FlagId: "R1-ffffffffffff", Status: chemledgerv1.DispositionStatus_DISPOSITION_STATUS_DISMISSED, Note: "n"})
			_, err := a.CreateDisposition(t.Context(), &chemledgerv1.CreateDispositionRequest{Id: "R1-ffffffffffff", SubmissionId: "US-CBP:d2", Envelope: signAs(t, in, "US-CBP", envelope.PayloadTypeDispositionProto, p)})
			return err
		}, codes.NotFound},
		{"bad filter", func() error {
			_, err := a.ListFlags(t.Context(), &chemledgerv1.ListFlagsRequest{Filter: `severity = "loud"`})
			return err
		}, codes.InvalidArgument},
		{"bad order", func() error {
			_, err := a.ListFlags(t.Context(), &chemledgerv1.ListFlagsRequest{OrderBy: "explanation asc"})
			return err
		}, codes.InvalidArgument},
		{"bad page token", func() error {
			_, err := a.ListFlags(t.Context(), &chemledgerv1.ListFlagsRequest{PageToken: "xyz"})
			return err
		}, codes.InvalidArgument},
	}
	for _, e := range errs {
		if err := e.call(); status.Code(err) != e.code {
			t.Errorf("%s: %v, want %v", e.name, err, e.code)
		}
	}

	rules, err := a.ListRules(t.Context(), &chemledgerv1.ListRulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.GetRules()) < 16 || rules.GetPolicyVersion() == "" {
		t.Fatalf("ListRules: %d rules, policy %q; want at least 16", len(rules.GetRules()), rules.GetPolicyVersion())
	}

	// Over HTTP too.
	code, _, body := httpCall(t, "GET", "http://"+in.HTTPAddr+"/v1/flags?filter=rule_id%3D%22R1%22", nil, nil)
	if code != 200 {
		t.Fatalf("GET /v1/flags: %d %s", code, body)
	}
}

// Filtered, ordered, paged listings equal a brute-force filter and sort over
// all flags, for random queries.
func TestListFlagsMatchesBruteForce(t *testing.T) {
	in, conn := startDerived(t)
	a := chemledgerv1.NewAnalystServiceClient(conn)

	all := in.Deriver.Snapshot()
	if len(all) < 3 {
		t.Fatalf("only %d flags from the examples", len(all))
	}
	var rules, refs, countries []string
	for _, f := range all {
		rules = append(rules, f.RuleID)
		refs = append(refs, f.ShipmentRef)
		countries = append(countries, f.Countries...)
	}
	pick := func(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 60 {
		var conds []string
		var want []string
		keep := func(pred func(i int) bool) {
			var w []string
			for j, f := range all {
				if pred(j) && (want == nil || slices.Contains(want, f.ID)) {
					w = append(w, f.ID)
				}
			}
			if w == nil {
				w = []string{}
			}
			want = w
		}
		if r.IntN(2) == 0 {
			v := pick(r, rules)
			conds = append(conds, fmt.Sprintf("rule_id = %q", v))
			keep(func(j int) bool { return all[j].RuleID == v })
		}
		if r.IntN(3) == 0 {
			v := pick(r, countries)
			conds = append(conds, fmt.Sprintf("country = %q", v))
			keep(func(j int) bool { return slices.Contains(all[j].Countries, v) })
		}
		if r.IntN(3) == 0 && pick(r, refs) != "" {
			v := pick(r, refs)
			if v != "" {
				conds = append(conds, fmt.Sprintf("shipment_ref = %q", v))
				keep(func(j int) bool { return all[j].ShipmentRef == v })
			}
		}
		if want == nil {
			keep(func(int) bool { return true })
		}
		filter := ""
		for k, c := range conds {
			if k > 0 {
				filter += " AND "
			}
			filter += c
		}
		order := []string{"", "severity desc"}[r.IntN(2)]
		var got []string
		token := ""
		for {
			resp, err := a.ListFlags(t.Context(), &chemledgerv1.ListFlagsRequest{Filter: filter, OrderBy: order, PageSize: int32(1 + r.IntN(4)), PageToken: token})
			if err != nil {
				t.Fatalf("query %d %q: %v", i, filter, err)
			}
			for _, f := range resp.GetFlags() {
				got = append(got, f.GetId())
			}
			if token = resp.GetNextPageToken(); token == "" {
				break
			}
		}
		// The pages, joined, are in the order asked for.
		byID := map[string]int{}
		for j, f := range all {
			byID[f.ID] = j
		}
		for k := 1; k < len(got); k++ {
			p, q := all[byID[got[k-1]]], all[byID[got[k]]]
			if order == "severity desc" && p.Severity != q.Severity {
				if p.Severity < q.Severity {
					t.Fatalf("query %d: %s (%v) listed before the more severe %s (%v)", i, p.ID, p.Severity, q.ID, q.Severity)
				}
				continue
			}
			if p.RaisedAt.Before(q.RaisedAt) || p.RaisedAt.Equal(q.RaisedAt) && p.ID > q.ID {
				t.Fatalf("query %d: %s (%v) listed before the newer %s (%v)", i, p.ID, p.RaisedAt, q.ID, q.RaisedAt)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("query %d filter %q order %q: got %v, want %v", i, filter, order, got, want)
		}
	}
}

func TestGetShipmentAndStats(t *testing.T) {
	in, conn := startDerived(t)
	a := chemledgerv1.NewAnalystServiceClient(conn)

	sh, err := a.GetShipment(t.Context(), &chemledgerv1.GetShipmentRequest{Ref: "PEN-CN-2026-000871"})
	if err != nil {
		t.Fatal(err)
	}
	var members []string
	var exported, received float64
	for _, l := range sh.GetLegs() {
		members = append(members, l.GetMember())
		switch l.GetKind() {
		case chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION:
			exported = l.GetKilograms()
		case chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION:
			received = l.GetKilograms()
		}
	}
	for _, m := range []string{"CN-GACC", "MX-ANAM", "PA-ANA"} {
		if !slices.Contains(members, m) {
			t.Errorf("shipment legs reported by %v; want legs from %s too", members, m)
		}
	}
	// 500 kg and 430 kg declared at 99 %: reconciled in kg of pure 4-AP.
	if exported != 495 || received != 425.7 {
		t.Errorf("reconciled quantities: exported %v kg, received %v kg; want 495 and 425.7 (kg pure)", exported, received)
	}
	found := false
	for _, q := range sh.GetOpenQuestions() {
		found = found || q == "Exported 495 kg, received 425.7 kg (-14.0 %)."
	}
	if !found {
		t.Errorf("open questions %q do not mention the 70 kg gap", sh.GetOpenQuestions())
	}
	if len(sh.GetFlags()) == 0 {
		t.Error("no flags on the shipment")
	}
	if _, err := a.GetShipment(t.Context(), &chemledgerv1.GetShipmentRequest{Ref: "PEN-XX-0000"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown shipment: %v, want NOT_FOUND", err)
	}

	st, err := a.GetStats(t.Context(), &chemledgerv1.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	all := in.Deriver.Snapshot()
	if st.GetTotal() != int64(len(all)) {
		t.Fatalf("stats total %d, want %d", st.GetTotal(), len(all))
	}
	var sum int64
	for _, c := range st.GetByRule() {
		sum += c.GetCount()
	}
	if sum != st.GetTotal() {
		t.Errorf("counts by rule add up to %d, total %d", sum, st.GetTotal())
	}
	if _, err := a.GetStats(t.Context(), &chemledgerv1.GetStatsRequest{Filter: "month = 3"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad stats filter: %v, want INVALID_ARGUMENT", err)
	}
}

// The admin RPC rebuilds the derived state in a running service, with the
// same flags the live detector derived.
func TestRebuildDerivedStateRPC(t *testing.T) {
	in, conn := startDerived(t)
	before := in.Deriver.Snapshot()
	resp, err := chemledgerv1.NewAdminServiceClient(conn).RebuildDerivedState(t.Context(), &chemledgerv1.RebuildDerivedStateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	after := in.Deriver.Snapshot()
	if resp.GetFlags() != uint64(len(before)) || resp.GetApplied() != logSize(t, chemledgerv1.NewLedgerServiceClient(conn)) {
		t.Fatalf("rebuild reported %d flags over %d entries; had %d flags", resp.GetFlags(), resp.GetApplied(), len(before))
	}
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("flags differ after the rebuild:\nbefore %v\nafter  %v", before, after)
	}
}

// A disposition signed by a key that is no member's is refused, and the
// flag's history does not change.
func TestDispositionByNonMemberRefused(t *testing.T) {
	in, conn := startDerived(t)
	c := chemledgerv1.NewLedgerServiceClient(conn)
	a := chemledgerv1.NewAnalystServiceClient(conn)
	flags, _, err := in.Deriver.ListFlags(derive.Query{Filter: `rule_id = "R1"`})
	if err != nil || len(flags) == 0 {
		t.Fatalf("no R1 flag: %v", err)
	}
	outsider, err := members.GenerateKey("XX-OUTSIDER")
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := proto.Marshal(&chemledgerv1.Disposition{FlagId: flags[0].ID, Status: chemledgerv1.DispositionStatus_DISPOSITION_STATUS_DISMISSED, Note: "nothing to see"})
	env, err := envelope.Sign(envelope.PayloadTypeDispositionProto, payload, outsider.Signer())
	if err != nil {
		t.Fatal(err)
	}
	size := logSize(t, c)
	_, err = a.CreateDisposition(t.Context(), &chemledgerv1.CreateDispositionRequest{Id: flags[0].ID, SubmissionId: "outsider-1", Envelope: env})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !slices.Contains(detailsOf(st).fields, "envelope.signatures[0].keyid") {
		t.Fatalf("disposition by a non-member key: %v, want INVALID_ARGUMENT on envelope.signatures[0].keyid", err)
	}
	if got := logSize(t, c); got != size {
		t.Fatalf("log grew from %d to %d", size, got)
	}
	if f, _ := in.Deriver.Flag(flags[0].ID); len(f.History) != 0 {
		t.Fatalf("flag history after a refused disposition: %+v", f.History)
	}
}
