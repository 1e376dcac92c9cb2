package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/eventfile"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// examplesLog is the real service, detector included, holding
// examples/registry.jsonl and then examples/events.jsonl, each line signed
// by its demo member, with the detector caught up.
type examplesLog struct {
	in *servertest.Instance
	c  *client.Client
}

// startExamples starts it in dir. It takes no testing.TB so that examples
// can use it too; close stops it.
func startExamples(ctx context.Context, dir string) (_ *examplesLog, closeFn func() error, err error) {
	in, err := servertest.Start(dir, servertest.Options{})
	if err != nil {
		return nil, nil, err
	}
	c, err := client.Dial(in.GRPCAddr, client.WithLogVerifierKey(in.VerifierKey))
	if err != nil {
		in.Stop()
		return nil, nil, err
	}
	closeFn = func() error {
		c.Close()
		return in.Stop()
	}
	l := &examplesLog{in: in, c: c}
	defer func() {
		if err != nil {
			closeFn()
		}
	}()
	items, err := exampleItems(in)
	if err != nil {
		return nil, nil, err
	}
	err = c.SubmitStream(ctx, slices.Values(items), func(r client.BulkResult) {
		if r.Err != nil && err == nil {
			err = fmt.Errorf("%s: %w", r.SubmissionID, r.Err)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	if err := l.waitDerived(ctx); err != nil {
		return nil, nil, err
	}
	return l, closeFn, nil
}

// exampleItems signs the registry, then the events, as their demo members.
func exampleItems(in *servertest.Instance) ([]client.Item, error) {
	var items []client.Item
	sign := func(member, payloadType, id string, raw []byte) error {
		k, ok := in.Keys[member]
		if !ok {
			return fmt.Errorf("no demo key of %s", member)
		}
		env, err := envelope.Sign(payloadType, raw, k.Signer())
		if err != nil {
			return err
		}
		items = append(items, client.Item{SubmissionID: id, Envelope: env})
		return nil
	}
	reg, err := os.ReadFile(filepath.Join("..", "examples", "registry.jsonl"))
	if err != nil {
		return nil, err
	}
	for l := range eventfile.ReadRegistry(bytes.NewReader(reg)) {
		if l.Err != nil {
			return nil, l.Err
		}
		m, err := eventfile.DemoMemberForRegistry(l.Entry)
		if err != nil {
			return nil, err
		}
		if err := sign(m, envelope.PayloadTypeRegistryJSON, eventfile.RegistrySubmissionID(m, l), l.Raw); err != nil {
			return nil, err
		}
	}
	evs, err := os.ReadFile(filepath.Join("..", "examples", "events.jsonl"))
	if err != nil {
		return nil, err
	}
	for l := range eventfile.Read(bytes.NewReader(evs)) {
		if l.Err != nil {
			return nil, l.Err
		}
		m, err := eventfile.DemoMemberFor(l.Event)
		if err != nil {
			return nil, err
		}
		if err := sign(m, envelope.PayloadTypeEventJSON, eventfile.SubmissionID(m, l), l.Raw); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// waitDerived waits until the detector has read the whole log.
func (l *examplesLog) waitDerived(ctx context.Context) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, _ := l.in.Ledger.Checkpoint()
		if l.in.Deriver.Applied() >= cp.Size {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the detector applied %d of %d entries after 10 s", l.in.Deriver.Applied(), cp.Size)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func newExamplesLog(tb testing.TB) *examplesLog {
	tb.Helper()
	if testing.Short() {
		tb.Skip("starts a service")
	}
	l, closeFn, err := startExamples(tb.Context(), tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := closeFn(); err != nil {
			tb.Errorf("stop service: %v", err)
		}
	})
	return l
}

// r1Flag is the flag the examples are written to raise: 70 kg of 4-AP lost
// between export and receipt.
func r1Flag(tb testing.TB, c *client.Client) *chemledgerv1.Flag {
	tb.Helper()
	var got []*chemledgerv1.Flag
	for f, err := range c.Flags(tb.Context(), `rule_id = "R1" AND shipment_ref = "PEN-CN-2026-000871"`, "", 0) {
		if err != nil {
			tb.Fatal(err)
		}
		got = append(got, f)
	}
	if len(got) != 1 {
		tb.Fatalf("R1 flags on PEN-CN-2026-000871: %v, want one", got)
	}
	return got[0]
}

func TestFlags(t *testing.T) {
	l := newExamplesLog(t)
	ctx := t.Context()
	all := l.in.Deriver.Snapshot()
	if len(all) < 3 {
		t.Fatalf("the detector raised %d flags from the examples, want several", len(all))
	}
	var want []string
	for _, f := range all {
		want = append(want, f.ID)
	}
	slices.Sort(want)

	for _, pageSize := range []int32{0, 1, 3, 1000} {
		var got []string
		var prev *chemledgerv1.Flag
		for f, err := range l.c.Flags(ctx, "", "severity desc", pageSize) {
			if err != nil {
				t.Fatalf("page size %d: %v", pageSize, err)
			}
			if prev != nil && prev.GetSeverity() < f.GetSeverity() {
				t.Errorf("page size %d: %s (%v) before the more severe %s (%v)", pageSize, prev.GetId(), prev.GetSeverity(), f.GetId(), f.GetSeverity())
			}
			got, prev = append(got, f.GetId()), f
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("page size %d: flags %v, want %v", pageSize, got, want)
		}
	}

	// Stopping early stops fetching.
	n := 0
	for _, err := range l.c.Flags(ctx, "", "", 1) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 2 {
			break
		}
	}

	for _, err := range l.c.Flags(ctx, `severity = "loud"`, "", 0) {
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("bad filter: %v, want INVALID_ARGUMENT", err)
		}
	}
}

func TestFlagVerifiesEvidence(t *testing.T) {
	l := newExamplesLog(t)
	f := r1Flag(t, l.c)
	d, err := l.c.Flag(t.Context(), f.GetId())
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(d.GetFlag(), f) || len(d.GetEvidence()) != len(f.GetEvidence()) || len(f.GetEvidence()) < 2 {
		t.Fatalf("Flag(%s) = %v with %d evidence entries; want %v and its %d entries", f.GetId(), d.GetFlag(), len(d.GetEvidence()), f, len(f.GetEvidence()))
	}
	cp, _ := l.in.Ledger.Checkpoint()
	for i, p := range d.GetProofs() {
		if p.GetTreeSize() != cp.Size || d.GetEvidence()[i].GetIndex() != f.GetEvidence()[i] {
			t.Errorf("evidence %d: entry %d proved at size %d, want entry %d at %d", i, d.GetEvidence()[i].GetIndex(), p.GetTreeSize(), f.GetEvidence()[i], cp.Size)
		}
	}

	if _, err := l.c.Flag(t.Context(), "R1-ffffffffffff"); status.Code(err) != codes.NotFound {
		t.Errorf("unknown flag: %v, want NOT_FOUND", err)
	}

	// A log that lies about the evidence is caught.
	lies := []struct {
		name   string
		tamper func(*chemledgerv1.FlagDetail)
	}{
		{"an entry that is not its leaf", func(d *chemledgerv1.FlagDetail) { d.Evidence[1].Leaf = []byte("forged") }},
		{"a leaf and hash swapped for another", func(d *chemledgerv1.FlagDetail) {
			d.Evidence[1].Leaf, d.Evidence[1].LeafHash = d.Evidence[0].Leaf, d.Evidence[0].LeafHash
			d.Proofs[1].LeafHash = nil
		}},
		{"a wrong audit path", func(d *chemledgerv1.FlagDetail) { d.Proofs[0].Hashes[0] = make([]byte, 32) }},
		{"a missing proof", func(d *chemledgerv1.FlagDetail) { d.Proofs = d.Proofs[1:] }},
		{"evidence the flag does not cite", func(d *chemledgerv1.FlagDetail) { d.Flag.Evidence[0]++ }},
		{"an altered checkpoint note", func(d *chemledgerv1.FlagDetail) {
			cp := d.GetProofs()[0].GetCheckpoint()
			cp.Note = strings.Replace(cp.GetNote(), "\n", "\n1", 1) // size 41 becomes 141
		}},
		{"an unsigned checkpoint", func(d *chemledgerv1.FlagDetail) { d.Proofs[0].Checkpoint = nil }},
		{"a proof for another size", func(d *chemledgerv1.FlagDetail) { d.Proofs[0].TreeSize-- }},
		{"another flag", func(d *chemledgerv1.FlagDetail) { d.Flag.Id = "R1-000000000000" }},
	}
	for _, lie := range lies {
		t.Run(lie.name, func(t *testing.T) {
			liar := lyingClient(t, l.in, func(m any) {
				if d, ok := m.(*chemledgerv1.FlagDetail); ok {
					lie.tamper(d)
				}
			})
			if _, err := liar.Flag(t.Context(), f.GetId()); !errors.Is(err, client.ErrVerification) {
				t.Errorf("Flag from a log that sends %s: %v, want ErrVerification", lie.name, err)
			}
		})
	}
}

// lyingClient is a client of in whose answers tamper edits on the way in,
// as a lying log (or something between it and the client) would.
func lyingClient(tb testing.TB, in *servertest.Instance, tamper func(any)) *client.Client {
	tb.Helper()
	intercept := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err == nil {
			tamper(reply)
		}
		return err
	}
	c, err := client.Dial(in.GRPCAddr, client.WithLogVerifierKey(in.VerifierKey), client.WithDialOptions(grpc.WithUnaryInterceptor(intercept)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func TestDispose(t *testing.T) {
	l := newExamplesLog(t)
	ctx := t.Context()
	f := r1Flag(t, l.c)
	signer := l.in.Keys["MX-ANAM"].Signer()
	escalated := chemledgerv1.DispositionStatus_DISPOSITION_STATUS_ESCALATED
	const note = "70 kg unaccounted for; passed to the prosecutor."

	r, err := l.c.Dispose(ctx, f.GetId(), escalated, note, signer, "MX-ANAM:disp-1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Member != "MX-ANAM" || r.SubmissionID != "MX-ANAM:disp-1" || r.Index >= r.Checkpoint.Size {
		t.Errorf("receipt %+v, want MX-ANAM:disp-1 by MX-ANAM inside its checkpoint", r)
	}
	e, err := l.c.Get(ctx, r.Index)
	if err != nil {
		t.Fatal(err)
	}
	if e.GetPayloadType() != envelope.PayloadTypeDispositionJSON || e.GetDisposition().GetFlagId() != f.GetId() || e.GetDisposition().GetNote() != note {
		t.Errorf("entry %d is %s %v, want a JSON disposition of %s", r.Index, e.GetPayloadType(), e.GetDisposition(), f.GetId())
	}

	// A retry gets the original receipt.
	again, err := l.c.Dispose(ctx, f.GetId(), escalated, note, signer, "MX-ANAM:disp-1")
	if err != nil || again.Index != r.Index {
		t.Errorf("retry: %+v, %v; want the receipt of entry %d", again, err, r.Index)
	}

	if err := l.waitDerived(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := l.c.Flag(ctx, f.GetId())
	if err != nil {
		t.Fatal(err)
	}
	h := d.GetFlag().GetStatusHistory()
	if d.GetFlag().GetStatus() != chemledgerv1.FlagStatus_FLAG_STATUS_ESCALATED || len(h) != 1 || h[0].GetMember() != "MX-ANAM" || h[0].GetIndex() != r.Index || h[0].GetNote() != note {
		t.Errorf("after the disposition: status %v, history %v; want ESCALATED by MX-ANAM at entry %d", d.GetFlag().GetStatus(), h, r.Index)
	}

	refusals := []struct {
		name   string
		flagID string
		status chemledgerv1.DispositionStatus
		code   codes.Code
	}{
		{"no decision", f.GetId(), chemledgerv1.DispositionStatus_DISPOSITION_STATUS_UNSPECIFIED, codes.InvalidArgument},
		{"an unknown flag", "R1-ffffffffffff", escalated, codes.NotFound},
	}
	for i, tt := range refusals {
		_, err := l.c.Dispose(ctx, tt.flagID, tt.status, "n", signer, fmt.Sprintf("MX-ANAM:bad-%d", i))
		if ie, ok := client.AsItemError(err); !ok || ie.Code != tt.code {
			t.Errorf("disposition with %s: %v, want %v", tt.name, err, tt.code)
		}
	}

	liar := lyingClient(t, l.in, func(m any) {
		if r, ok := m.(*chemledgerv1.Receipt); ok {
			r.InclusionProof = append(r.InclusionProof, make([]byte, 32))
		}
	})
	if _, err := liar.Dispose(ctx, f.GetId(), chemledgerv1.DispositionStatus_DISPOSITION_STATUS_CONFIRMED, "confirmed", signer, "MX-ANAM:disp-2"); !errors.Is(err, client.ErrVerification) {
		t.Errorf("a receipt with a bad proof: %v, want ErrVerification", err)
	}
}

func TestShipmentRulesStats(t *testing.T) {
	l := newExamplesLog(t)
	ctx := t.Context()

	sh, err := l.c.Shipment(ctx, "PEN-CN-2026-000871")
	if err != nil {
		t.Fatal(err)
	}
	var kgs []float64
	for _, leg := range sh.GetLegs() {
		kgs = append(kgs, leg.GetKilograms())
	}
	if !slices.Contains(kgs, 495) || !slices.Contains(kgs, 425.7) || len(sh.GetOpenQuestions()) == 0 || len(sh.GetFlags()) == 0 {
		t.Errorf("shipment: legs of %v kg, open questions %q, %d flags; want 495 and 425.7 kg, questions and flags", kgs, sh.GetOpenQuestions(), len(sh.GetFlags()))
	}
	if _, err := l.c.Shipment(ctx, "PEN-XX-0000"); status.Code(err) != codes.NotFound {
		t.Errorf("unknown shipment: %v, want NOT_FOUND", err)
	}

	rules, err := l.c.Rules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.GetRules()) < 16 || rules.GetPolicyVersion() == "" || rules.GetRules()[0].GetId() != "R1" {
		t.Errorf("rules: %d, policy %q, first %q; want at least 16 from R1 and a policy version", len(rules.GetRules()), rules.GetPolicyVersion(), rules.GetRules()[0].GetId())
	}

	st, err := l.c.Stats(ctx, `rule_id = "R1"`)
	if err != nil {
		t.Fatal(err)
	}
	var r1 int64
	for _, f := range l.in.Deriver.Snapshot() {
		if f.RuleID == "R1" {
			r1++
		}
	}
	if st.GetTotal() != r1 || len(st.GetByRule()) != 1 || st.GetByRule()[0].GetKey() != "R1" {
		t.Errorf("stats of R1: total %d by rule %v; want %d, all R1", st.GetTotal(), st.GetByRule(), r1)
	}
	if _, err := l.c.Stats(ctx, "month = 3"); status.Code(err) != codes.InvalidArgument {
		t.Errorf("bad stats filter: %v, want INVALID_ARGUMENT", err)
	}
}

func ExampleClient_Flag() {
	dir, cleanup, err := servertest.TempDir()
	if err != nil {
		log.Fatal(err)
	}
	defer cleanup()
	ctx := context.Background()
	// A log holding the examples; a real caller dials the log's address.
	l, closeFn, err := startExamples(ctx, dir)
	if err != nil {
		log.Fatal(err)
	}
	defer closeFn()
	c := l.c

	for f, err := range c.Flags(ctx, `rule_id = "R1"`, "severity desc", 0) {
		if err != nil {
			log.Fatal(err)
		}
		// The flag comes with its evidence entries, each already checked
		// to be in a tree the log signed.
		d, err := c.Flag(ctx, f.GetId())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(f.GetRuleId(), f.GetSeverity(), f.GetShipmentRef())
		for i, e := range d.GetEvidence() {
			fmt.Printf("  entry %d by %s: inclusion verified at size %d\n", e.GetIndex(), e.GetMember(), d.GetProofs()[i].GetTreeSize())
		}
	}
	// Output:
	// R1 SEVERITY_CRITICAL PEN-CN-2026-000871
	//   entry 14 by CN-GACC: inclusion verified at size 41
	//   entry 19 by CN-GACC: inclusion verified at size 41
	//   entry 39 by MX-ANAM: inclusion verified at size 41
}
