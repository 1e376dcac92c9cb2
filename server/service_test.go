package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/eventfile"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

// ---- helpers shared by the server_test files ----

// start runs a complete service over dir (a fresh one when dir is "") until
// the test ends.
func start(tb testing.TB, dir string) *servertest.Instance {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	in, err := servertest.Start(dir, servertest.Options{})
	if err != nil {
		tb.Fatalf("servertest.Start(%s): %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := in.Stop(); err != nil {
			tb.Errorf("stop service: %v", err)
		}
	})
	return in
}

// dial connects to the instance's gRPC listener in plaintext.
func dial(tb testing.TB, in *servertest.Instance) *grpc.ClientConn {
	tb.Helper()
	return dialTLS(tb, in, nil)
}

func ledgerClient(tb testing.TB, in *servertest.Instance) chemledgerv1.LedgerServiceClient {
	tb.Helper()
	return chemledgerv1.NewLedgerServiceClient(dial(tb, in))
}

// example is one line of examples/events.jsonl signed as its demo member
// would sign it.
type example struct {
	line   eventfile.Line
	member string
	id     string
	env    []byte
}

// readExamples reads examples/events.jsonl.
func readExamples(tb testing.TB) []eventfile.Line {
	tb.Helper()
	f, err := os.Open(filepath.Join("..", "examples", "events.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var lines []eventfile.Line
	for l := range eventfile.Read(f) {
		if l.Err != nil {
			tb.Fatalf("examples: %v", l.Err)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		tb.Fatal("examples/events.jsonl holds no events")
	}
	return lines
}

// signedExamples signs every example with the key of the demo member of its
// location country, under the submission id the CLI would choose.
func signedExamples(tb testing.TB, in *servertest.Instance) []example {
	tb.Helper()
	var out []example
	for _, l := range readExamples(tb) {
		member, err := eventfile.DemoMemberFor(l.Event)
		if err != nil {
			tb.Fatalf("line %d: %v", l.Number, err)
		}
		out = append(out, example{
			line:   l,
			member: member,
			id:     eventfile.SubmissionID(member, l),
			env:    signAs(tb, in, member, envelope.PayloadTypeEventJSON, l.Raw),
		})
	}
	return out
}

// signAs signs payload with the demo key of member.
func signAs(tb testing.TB, in *servertest.Instance, member, payloadType string, payload []byte) []byte {
	tb.Helper()
	k, ok := in.Keys[member]
	if !ok {
		tb.Fatalf("no demo key for member %q", member)
	}
	return signWith(tb, k, payloadType, payload)
}

// signWith signs payload with k.
func signWith(tb testing.TB, k members.PrivateKey, payloadType string, payload []byte) []byte {
	tb.Helper()
	env, err := envelope.Sign(payloadType, payload, k.Signer())
	if err != nil {
		tb.Fatalf("sign with %s (%s): %v", k.KeyID, k.Member, err)
	}
	return env
}

// eventJSON is ev changed by mutate (when not nil), as the JSON a member
// signs; ev itself is left as it is.
func eventJSON(tb testing.TB, ev *chemledgerv1.ShipmentEvent, mutate func(ev *chemledgerv1.ShipmentEvent)) []byte {
	tb.Helper()
	ev = proto.Clone(ev).(*chemledgerv1.ShipmentEvent)
	if mutate != nil {
		mutate(ev)
	}
	b, err := protojson.Marshal(ev)
	if err != nil {
		tb.Fatalf("marshal event %s: %v", ev.GetEventId(), err)
	}
	return b
}

// renamedEvent is ev under a new event id, as JSON: a new event, not a
// replay of ev.
func renamedEvent(tb testing.TB, ev *chemledgerv1.ShipmentEvent, eventID string) []byte {
	tb.Helper()
	return eventJSON(tb, ev, func(ev *chemledgerv1.ShipmentEvent) { ev.EventId = eventID })
}

// signMutated signs example ex, changed by mutate, as its member.
func signMutated(tb testing.TB, in *servertest.Instance, ex example, mutate func(ev *chemledgerv1.ShipmentEvent)) []byte {
	tb.Helper()
	return signAs(tb, in, ex.member, envelope.PayloadTypeEventJSON, eventJSON(tb, ex.line.Event, mutate))
}

// usImport is example 13, an import declaration into the US.
func usImport(tb testing.TB, in *servertest.Instance) example {
	tb.Helper()
	imp := signedExamples(tb, in)[13]
	if imp.line.Event.GetKind() != chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION || imp.member != "US-CBP" {
		tb.Fatalf("example 13 is %v by %s, want a US import declaration", imp.line.Event.GetKind(), imp.member)
	}
	return imp
}

// importNamed is the US import declaration imp again as a shipment of its
// own named name, for a consignee of that name with no licence: each one
// is an entry and raises a flag.
func importNamed(tb testing.TB, in *servertest.Instance, imp example, name string) bulkItem {
	tb.Helper()
	return bulkItem{id: "US-CBP:" + name, env: signMutated(tb, in, imp, func(ev *chemledgerv1.ShipmentEvent) {
		ev.EventId, ev.ShipmentRef, ev.References = name, name, nil
		ev.Consignee.Name, ev.Consignee.Identifiers = "Consignee "+name, nil
	})}
}

// logSize is the size of the latest checkpoint, as a client sees it.
func logSize(tb testing.TB, c chemledgerv1.LedgerServiceClient) uint64 {
	tb.Helper()
	cp, err := c.GetCheckpoint(tb.Context(), &chemledgerv1.GetCheckpointRequest{})
	if err != nil {
		tb.Fatalf("GetCheckpoint: %v", err)
	}
	return cp.GetSize()
}

// submitAll submits the examples one by one, so that each is its own batch
// with its own checkpoint and integrated time, and returns the receipts.
func submitAll(tb testing.TB, c chemledgerv1.LedgerServiceClient, exs []example) []*chemledgerv1.Receipt {
	tb.Helper()
	var out []*chemledgerv1.Receipt
	for _, ex := range exs {
		r, err := c.CreateEntry(tb.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: ex.id, Envelope: ex.env})
		if err != nil {
			tb.Fatalf("CreateEntry(%s): %v", ex.id, err)
		}
		out = append(out, r)
	}
	return out
}

// openCheckpoint verifies a checkpoint note with the log's key.
func openCheckpoint(tb testing.TB, in *servertest.Instance, origin string, cp *chemledgerv1.Checkpoint) checkpoint.Checkpoint {
	tb.Helper()
	v, err := note.NewVerifier(in.VerifierKey)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := checkpoint.Open([]byte(cp.GetNote()), origin, v)
	if err != nil {
		tb.Fatalf("open checkpoint %q: %v", cp.GetNote(), err)
	}
	if c.Size != cp.GetSize() || !bytes.Equal(c.Root, cp.GetRootHash()) {
		tb.Fatalf("checkpoint fields (size %d, root %x) disagree with its note %q", cp.GetSize(), cp.GetRootHash(), cp.GetNote())
	}
	return c
}

// httpCall makes one HTTP request and returns the status, headers and body.
func httpCall(tb testing.TB, method, url string, body io.Reader, header http.Header) (int, http.Header, []byte) {
	tb.Helper()
	code, h, b, err := httpDo(tb.Context(), method, url, body, header)
	if err != nil {
		tb.Fatal(err)
	}
	return code, h, b
}

// httpDo is httpCall for goroutines, which must not call FailNow.
func httpDo(ctx context.Context, method, url string, body io.Reader, header http.Header) (int, http.Header, []byte, error) {
	return clientDo(ctx, http.DefaultClient, method, url, body, header)
}

// clientDo is httpDo with hc as the client (an HTTPS one, for mutual TLS).
func clientDo(ctx context.Context, hc *http.Client, method, url string, body io.Reader, header http.Header) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// entryBody is the HTTP/JSON form of a CreateEntryRequest or
// CreateDispositionRequest body, spelled out rather than produced by
// protojson so the test pins the wire form. (Marshalling two strings cannot
// fail, so it needs no testing.TB and a row can build it before its test
// runs.)
func entryBody(id string, env []byte) []byte {
	b, _ := json.Marshal(struct {
		SubmissionID string `json:"submissionId"`
		Envelope     string `json:"envelope"`
	}{id, base64.StdEncoding.EncodeToString(env)})
	return b
}

func postEntry(tb testing.TB, in *servertest.Instance, body []byte) (int, []byte) {
	tb.Helper()
	code, _, b := httpCall(tb, http.MethodPost, "http://"+in.HTTPAddr+"/v1/entries", bytes.NewReader(body),
		http.Header{"Content-Type": {"application/json"}})
	return code, b
}

// errorDetails is what a status says beyond its code.
type errorDetails struct {
	code   codes.Code
	reason string
	domain string
	// fields are the distinct field paths of the BadRequest violations,
	// sorted; nil when there is no BadRequest.
	fields []string
}

func detailsOf(st *status.Status) errorDetails {
	d := errorDetails{code: st.Code()}
	for _, x := range st.Details() {
		switch x := x.(type) {
		case *errdetails.ErrorInfo:
			d.reason, d.domain = x.GetReason(), x.GetDomain()
		case *errdetails.BadRequest:
			for _, v := range x.GetFieldViolations() {
				if !slices.Contains(d.fields, v.GetField()) {
					d.fields = append(d.fields, v.GetField())
				}
			}
		}
	}
	slices.Sort(d.fields)
	return d
}

// httpErrorDetails decodes a grpc-gateway error body (a google.rpc.Status in
// JSON whose details carry their @type).
func httpErrorDetails(tb testing.TB, body []byte) (errorDetails, error) {
	tb.Helper()
	d, _, err := httpStatusBody(tb, body)
	return d, err
}

// httpStatusBody is httpErrorDetails with the status message too.
func httpStatusBody(tb testing.TB, body []byte) (errorDetails, string, error) {
	tb.Helper()
	var st spb.Status
	if err := protojson.Unmarshal(body, &st); err != nil {
		return errorDetails{}, "", fmt.Errorf("error body %.300q is not a google.rpc.Status: %w", body, err)
	}
	s := status.FromProto(&st)
	return detailsOf(s), s.Message(), nil
}

// ---- CreateEntry idempotency ----

func TestCreateEntryIdempotentUnderConcurrency(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	exs := signedExamples(t, in)
	const n = 20

	before := logSize(t, c)
	var (
		wg       sync.WaitGroup
		ready    = make(chan struct{})
		receipts [n]*chemledgerv1.Receipt
		errs     [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-ready
			receipts[i], errs[i] = c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: exs[0].id, Envelope: exs[0].env})
		})
	}
	close(ready)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("gRPC call %d: CreateEntry(%s): %v", i, exs[0].id, err)
		}
	}
	if got, want := logSize(t, c), before+1; got != want {
		t.Errorf("after %d concurrent gRPC submissions of one id: log size %d, want %d", n, got, want)
	}
	for i, r := range receipts {
		if !proto.Equal(r, receipts[0]) {
			t.Errorf("gRPC receipt %d differs from receipt 0:\n%s", i, cmp.Diff(receipts[0], r, protocmp.Transform()))
		}
	}
	if r := receipts[0]; r.GetIndex() != before || r.GetSubmissionId() != exs[0].id || r.GetMember() != exs[0].member {
		t.Errorf("receipt: index %d, id %q, member %q; want %d, %q, %q", r.GetIndex(), r.GetSubmissionId(), r.GetMember(), before, exs[0].id, exs[0].member)
	}

	// The same over HTTP, with another submission.
	before = logSize(t, c)
	var httpReceipts [n]*chemledgerv1.Receipt
	body := entryBody(exs[1].id, exs[1].env)
	ready = make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-ready
			code, _, b, err := httpDo(t.Context(), http.MethodPost, "http://"+in.HTTPAddr+"/v1/entries", bytes.NewReader(body), nil)
			if err != nil {
				t.Errorf("HTTP call %d: %v", i, err)
				return
			}
			if code != http.StatusOK {
				t.Errorf("HTTP call %d: status %d, body %s; want 200", i, code, b)
				return
			}
			r := &chemledgerv1.Receipt{}
			if err := protojson.Unmarshal(b, r); err != nil {
				t.Errorf("HTTP call %d: receipt %s: %v", i, b, err)
				return
			}
			httpReceipts[i] = r
		})
	}
	close(ready)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if got, want := logSize(t, c), before+1; got != want {
		t.Errorf("after %d concurrent HTTP submissions of one id: log size %d, want %d", n, got, want)
	}
	for i, r := range httpReceipts {
		if !proto.Equal(r, httpReceipts[0]) {
			t.Errorf("HTTP receipt %d differs from receipt 0:\n%s", i, cmp.Diff(httpReceipts[0], r, protocmp.Transform()))
		}
	}

	// Either transport answers a retry of the other's submission with the
	// original receipt.
	code, b := postEntry(t, in, entryBody(exs[0].id, exs[0].env))
	got := &chemledgerv1.Receipt{}
	if err := protojson.Unmarshal(b, got); code != http.StatusOK || err != nil {
		t.Fatalf("HTTP retry of a gRPC submission: status %d, body %s, decode error %v", code, b, err)
	}
	if !proto.Equal(got, receipts[0]) {
		t.Errorf("HTTP retry of a gRPC submission:\n%s", cmp.Diff(receipts[0], got, protocmp.Transform()))
	}
	if got, want := logSize(t, c), before+1; got != want {
		t.Errorf("after retries: log size %d, want %d", got, want)
	}
}

func TestCreateEntryConcurrentConflict(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	exs := signedExamples(t, in)
	const id, n = "contested-id", 20

	// Half the callers send one envelope under the id, half another: one
	// envelope wins, its senders all get its receipt, the others
	// ALREADY_EXISTS.
	before := logSize(t, c)
	var (
		wg       sync.WaitGroup
		ready    = make(chan struct{})
		receipts [n]*chemledgerv1.Receipt
		errs     [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-ready
			receipts[i], errs[i] = c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: id, Envelope: exs[i%2].env})
		})
	}
	close(ready)
	wg.Wait()
	if got, want := logSize(t, c), before+1; got != want {
		t.Fatalf("log size %d, want %d", got, want)
	}
	e, err := c.GetEntry(t.Context(), &chemledgerv1.GetEntryRequest{Index: before})
	if err != nil {
		t.Fatal(err)
	}
	winner := slices.IndexFunc(exs[:2], func(ex example) bool { return bytes.Equal(ex.env, e.GetLeaf()) })
	if winner < 0 {
		t.Fatalf("entry %d holds neither contested envelope", before)
	}
	var first *chemledgerv1.Receipt
	for i := range n {
		d := detailsOf(status.Convert(errs[i]))
		switch {
		case i%2 == winner && errs[i] == nil:
			if first == nil {
				first = receipts[i]
			}
			if !proto.Equal(receipts[i], first) || receipts[i].GetIndex() != before {
				t.Errorf("caller %d (winning envelope): receipt %v, want %v at index %d", i, receipts[i], first, before)
			}
		case i%2 != winner && d.code == codes.AlreadyExists && d.reason == "SUBMISSION_ID_REUSED" && slices.Equal(d.fields, []string{"submission_id"}):
		default:
			t.Errorf("caller %d (envelope %d, winner %d): %v", i, i%2, winner, errs[i])
		}
	}
}

// ---- BulkCreateEntries ----

type bulkItem struct {
	id  string
	env []byte
	// field is the violation a bad item must be answered with; "" for a
	// good item.
	field string
}

// runBulk sends items over one BulkCreateEntries stream and returns the
// results, checking that every response answers something and that its
// checkpoint covers what it accepted.
func runBulk(tb testing.TB, c chemledgerv1.LedgerServiceClient, items []bulkItem) []*chemledgerv1.BulkResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	resps, err := bulkStream(ctx, c, items)
	var results []*chemledgerv1.BulkResult
	for _, resp := range resps {
		if len(resp.GetResults()) == 0 {
			tb.Errorf("bulk response with no results: %v", resp)
		}
		var maxIndex uint64
		accepted := false
		for _, r := range resp.GetResults() {
			if r.GetError() == nil {
				accepted = true
				maxIndex = max(maxIndex, r.GetIndex())
			}
		}
		if accepted && resp.GetCheckpoint().GetSize() <= maxIndex {
			tb.Errorf("bulk response checkpoint size %d does not cover its accepted index %d", resp.GetCheckpoint().GetSize(), maxIndex)
		}
		results = append(results, resp.GetResults()...)
	}
	if err != nil {
		tb.Fatalf("bulk stream, after %d results: %v", len(results), err)
	}
	return results
}

// bulkResults is runBulk for a stream that may fail: it returns the
// stream's error instead of failing the test.
func bulkResults(ctx context.Context, c chemledgerv1.LedgerServiceClient, items []bulkItem) ([]*chemledgerv1.BulkResult, error) {
	resps, err := bulkStream(ctx, c, items)
	var results []*chemledgerv1.BulkResult
	for _, resp := range resps {
		results = append(results, resp.GetResults()...)
	}
	return results, err
}

// bulkStream sends items over one BulkCreateEntries stream and returns the
// responses received and the stream's error: its status when the service
// ends it, else the sending side's error.
func bulkStream(ctx context.Context, c chemledgerv1.LedgerServiceClient, items []bulkItem) ([]*chemledgerv1.BulkCreateEntriesResponse, error) {
	stream, err := c.BulkCreateEntries(ctx)
	if err != nil {
		return nil, err
	}
	sendErr := make(chan error, 1)
	go func() {
		for _, it := range items {
			if err := stream.Send(&chemledgerv1.BulkCreateEntriesRequest{SubmissionId: it.id, Envelope: it.env}); err != nil {
				sendErr <- fmt.Errorf("send item %s: %w", it.id, err)
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	var resps []*chemledgerv1.BulkCreateEntriesResponse
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return resps, <-sendErr
		}
		if err != nil {
			<-sendErr // a failed send is this failure seen from the other side
			return resps, err
		}
		resps = append(resps, resp)
	}
}

func TestBulkCreateEntries(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	exs := signedExamples(t, in)

	var items []bulkItem
	for i, ex := range exs {
		switch i {
		case 8:
			env := signMutated(t, in, ex, func(ev *chemledgerv1.ShipmentEvent) { ev.Chemical.Cas = "90-82-5" })
			items = append(items, bulkItem{id: "bulk-bad-cas", env: env, field: "event.chemical.cas"})
		case 16:
			items = append(items, bulkItem{id: "bulk bad id", env: ex.env, field: "submission_id"})
		case 24:
			e, err := envelope.Parse(ex.env)
			if err != nil {
				t.Fatal(err)
			}
			e.Signatures[0].Sig[5] ^= 0x40
			items = append(items, bulkItem{id: "bulk-bad-sig", env: encodeEnvelope(t, e), field: "envelope.signatures[0].sig"})
		}
		items = append(items, bulkItem{id: ex.id, env: ex.env})
	}
	if got, want := len(items), len(exs)+3; got != want {
		t.Fatalf("built %d items, want %d", got, want)
	}

	before := logSize(t, c)
	first := runBulk(t, c, items)
	checkBulk(t, items, first, before)
	if got, want := logSize(t, c), before+uint64(len(exs)); got != want {
		t.Errorf("after the stream: log size %d, want %d", got, want)
	}

	// The same stream again is answered with the same indexes and adds
	// nothing.
	again := runBulk(t, c, items)
	if diff := cmp.Diff(first, again, protocmp.Transform()); diff != "" {
		t.Errorf("second identical stream (-first +second):\n%s", diff)
	}
	if got, want := logSize(t, c), before+uint64(len(exs)); got != want {
		t.Errorf("after the second stream: log size %d, want %d", got, want)
	}
}

func checkBulk(tb testing.TB, items []bulkItem, results []*chemledgerv1.BulkResult, firstIndex uint64) {
	tb.Helper()
	if len(results) != len(items) {
		tb.Fatalf("%d results for %d items", len(results), len(items))
	}
	next := firstIndex
	for i, r := range results {
		it := items[i]
		if r.GetPosition() != uint64(i) || r.GetSubmissionId() != it.id {
			tb.Errorf("result %d: position %d, id %q; want %d, %q", i, r.GetPosition(), r.GetSubmissionId(), i, it.id)
		}
		if it.field != "" {
			e := r.GetError()
			var fields []string
			for _, v := range e.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
			if e.GetCode() != int32(codes.InvalidArgument) || e.GetReason() != "BAD_INPUT" || !slices.Equal(fields, []string{it.field}) {
				tb.Errorf("bad item %d (%s): error %v; want code 3, reason BAD_INPUT, field violations [%s]", i, it.id, e, it.field)
			}
			continue
		}
		if r.GetError() != nil {
			tb.Errorf("good item %d (%s): error %v", i, it.id, r.GetError())
			continue
		}
		if r.GetIndex() != next {
			tb.Errorf("good item %d (%s): index %d, want %d (contiguous in stream order)", i, it.id, r.GetIndex(), next)
		}
		if want := checkpoint.LeafHash(it.env); !bytes.Equal(r.GetLeafHash(), want) {
			tb.Errorf("good item %d (%s): leaf hash %x, want %x", i, it.id, r.GetLeafHash(), want)
		}
		next = r.GetIndex() + 1
	}
}

// encodeEnvelope writes a parsed envelope back as DSSE JSON (for tests that
// tamper with one part of it).
func encodeEnvelope(tb testing.TB, e *envelope.Envelope) []byte {
	tb.Helper()
	w := wireEnvelope{PayloadType: e.PayloadType, Payload: base64.StdEncoding.EncodeToString(e.Payload)}
	for _, s := range e.Signatures {
		w.Signatures = append(w.Signatures, wireSignature{KeyID: s.KeyID, Sig: base64.StdEncoding.EncodeToString(s.Sig)})
	}
	return w.json(tb)
}

// wireEnvelope is DSSE JSON with every value as written, so a test can put
// anything in it.
type wireEnvelope struct {
	PayloadType string          `json:"payloadType"`
	Payload     string          `json:"payload"`
	Signatures  []wireSignature `json:"signatures"`
}

type wireSignature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

func (w wireEnvelope) json(tb testing.TB) []byte {
	tb.Helper()
	if w.Signatures == nil {
		w.Signatures = []wireSignature{}
	}
	b, err := json.Marshal(w)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// ---- reading: ListEntries, GetEntry, proofs ----

// loaded is a service holding every example, each committed on its own.
type loaded struct {
	in       *servertest.Instance
	c        chemledgerv1.LedgerServiceClient
	exs      []example
	receipts []*chemledgerv1.Receipt
	entries  []*chemledgerv1.Entry
}

func loadExamples(tb testing.TB) *loaded {
	tb.Helper()
	in := start(tb, "")
	l := &loaded{in: in, c: ledgerClient(tb, in), exs: signedExamples(tb, in)}
	l.receipts = submitAll(tb, l.c, l.exs)
	for i := range l.exs {
		e, err := l.c.GetEntry(tb.Context(), &chemledgerv1.GetEntryRequest{Index: uint64(i)})
		if err != nil {
			tb.Fatalf("GetEntry(%d): %v", i, err)
		}
		l.entries = append(l.entries, e)
	}
	return l
}

func TestGetEntry(t *testing.T) {
	l := loadExamples(t)
	for i, ex := range l.exs {
		e := l.entries[i]
		if !proto.Equal(e.GetEvent(), ex.line.Event) {
			t.Errorf("entry %d (line %d): decoded event differs from the parsed JSON line:\n%s", i, ex.line.Number, cmp.Diff(ex.line.Event, e.GetEvent(), protocmp.Transform()))
		}
		if !bytes.Equal(e.GetLeaf(), ex.env) {
			t.Errorf("entry %d: leaf is not the submitted envelope bytes", i)
		}
		if want := checkpoint.LeafHash(ex.env); !bytes.Equal(e.GetLeafHash(), want) {
			t.Errorf("entry %d: leaf hash %x, want %x", i, e.GetLeafHash(), want)
		}
		if e.GetIndex() != uint64(i) || e.GetMember() != ex.member || e.GetSubmissionId() != ex.id || e.GetPayloadType() != envelope.PayloadTypeEventJSON {
			t.Errorf("entry %d: index %d, member %q, submission id %q, payload type %q; want %d, %q, %q, %q",
				i, e.GetIndex(), e.GetMember(), e.GetSubmissionId(), e.GetPayloadType(), i, ex.member, ex.id, envelope.PayloadTypeEventJSON)
		}
		if got, want := e.GetIntegratedTime().AsTime(), l.receipts[i].GetIntegratedTime().AsTime(); !got.Equal(want) {
			t.Errorf("entry %d: integrated time %v, receipt says %v", i, got, want)
		}
	}

	// A binary protobuf payload decodes to the same event. (Under a new
	// event id: the same event again would be a replay, refused.)
	ex := l.exs[0]
	pbEvent := proto.Clone(ex.line.Event).(*chemledgerv1.ShipmentEvent)
	pbEvent.EventId += "-PB"
	payload, err := proto.Marshal(pbEvent)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{
		SubmissionId: "proto-payload", Envelope: signAs(t, l.in, ex.member, envelope.PayloadTypeEventProto, payload),
	})
	if err != nil {
		t.Fatalf("CreateEntry with a protobuf payload: %v", err)
	}
	e, err := l.c.GetEntry(t.Context(), &chemledgerv1.GetEntryRequest{Index: r.GetIndex()})
	if err != nil {
		t.Fatalf("GetEntry(%d): %v", r.GetIndex(), err)
	}
	if e.GetPayloadType() != envelope.PayloadTypeEventProto || !proto.Equal(e.GetEvent(), pbEvent) {
		t.Errorf("protobuf payload entry: payload type %q, event diff:\n%s", e.GetPayloadType(), cmp.Diff(pbEvent, e.GetEvent(), protocmp.Transform()))
	}
}

func TestListEntries(t *testing.T) {
	l := loadExamples(t)
	at := func(i int) time.Time { return l.entries[i].GetIntegratedTime().AsTime() }
	ts := func(i int) string { return at(i).Format(time.RFC3339Nano) }
	kindIs := func(k chemledgerv1.EventKind) func(*chemledgerv1.Entry) bool {
		return func(e *chemledgerv1.Entry) bool { return e.GetEvent().GetKind() == k }
	}
	refIs := func(s string) func(*chemledgerv1.Entry) bool {
		return func(e *chemledgerv1.Entry) bool { return e.GetEvent().GetShipmentRef() == s }
	}
	and := func(ps ...func(*chemledgerv1.Entry) bool) func(*chemledgerv1.Entry) bool {
		return func(e *chemledgerv1.Entry) bool {
			for _, p := range ps {
				if !p(e) {
					return false
				}
			}
			return true
		}
	}
	for _, tc := range []struct {
		name   string
		filter string
		match  func(*chemledgerv1.Entry) bool
	}{
		{"all", "", func(*chemledgerv1.Entry) bool { return true }},
		{"shipment_ref", `shipment_ref = "PEN-CN-2026-000871"`, refIs("PEN-CN-2026-000871")},
		{"member", `member = "MX-ANAM"`, func(e *chemledgerv1.Entry) bool { return e.GetMember() == "MX-ANAM" }},
		{"cas", `cas = "299-42-3"`, func(e *chemledgerv1.Entry) bool { return e.GetEvent().GetChemical().GetCas() == "299-42-3" }},
		{"kind short", `kind = EXPORT_DECLARATION`, kindIs(chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION)},
		{"kind full", `kind = EVENT_KIND_PEN_REPLY`, kindIs(chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY)},
		{"kind quoted", `kind = "TRANSIT"`, kindIs(chemledgerv1.EventKind_EVENT_KIND_TRANSIT)},
		{"cas and member", `cas = "299-42-3" AND member = "PA-ANA"`, func(e *chemledgerv1.Entry) bool {
			return e.GetEvent().GetChemical().GetCas() == "299-42-3" && e.GetMember() == "PA-ANA"
		}},
		{"ref and kind", `shipment_ref = "PEN-CN-2026-000871" AND kind = TRANSIT`,
			and(refIs("PEN-CN-2026-000871"), kindIs(chemledgerv1.EventKind_EVENT_KIND_TRANSIT))},
		{"time range", fmt.Sprintf(`integrated_time >= %q AND integrated_time < %q`, ts(10), ts(20)), func(e *chemledgerv1.Entry) bool {
			t := e.GetIntegratedTime().AsTime()
			return !t.Before(at(10)) && t.Before(at(20))
		}},
		{"after", fmt.Sprintf(`integrated_time > %q`, ts(5)), func(e *chemledgerv1.Entry) bool { return e.GetIntegratedTime().AsTime().After(at(5)) }},
		{"until", fmt.Sprintf(`integrated_time <= %q`, ts(7)), func(e *chemledgerv1.Entry) bool { return !e.GetIntegratedTime().AsTime().After(at(7)) }},
		{"member since", fmt.Sprintf(`member = "CN-GACC" AND integrated_time >= %q`, ts(12)), func(e *chemledgerv1.Entry) bool {
			return e.GetMember() == "CN-GACC" && !e.GetIntegratedTime().AsTime().Before(at(12))
		}},
		{"kind in a window", fmt.Sprintf(`kind = PEN_REPLY AND integrated_time > %q AND integrated_time < %q`, ts(3), ts(27)),
			and(kindIs(chemledgerv1.EventKind_EVENT_KIND_PEN_REPLY), func(e *chemledgerv1.Entry) bool {
				t := e.GetIntegratedTime().AsTime()
				return t.After(at(3)) && t.Before(at(27))
			})},
		{"no match", `shipment_ref = "PEN-XX-0000-000000"`, func(*chemledgerv1.Entry) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []*chemledgerv1.Entry
			for _, e := range l.entries {
				if tc.match(e) {
					want = append(want, e)
				}
			}
			got := listAll(t, l.c, tc.filter, 4)
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("ListEntries(filter %q, page size 4) (-brute force +listed):\n%s", tc.filter, diff)
			}
		})
	}

	t.Run("page tokens", func(t *testing.T) {
		const filter = `member = "MX-ANAM"`
		resp, err := l.c.ListEntries(t.Context(), &chemledgerv1.ListEntriesRequest{Filter: filter, PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		tok := resp.GetNextPageToken()
		if tok == "" {
			t.Fatalf("ListEntries(%q, 2): no next page token", filter)
		}
		if _, err := base64.RawURLEncoding.DecodeString(tok); err != nil || strings.Contains(tok, "MX-ANAM") {
			t.Errorf("page token %q: want opaque URL-safe base64 (decode error %v)", tok, err)
		}
		// The token goes on with the filter it was made for ...
		if _, err := l.c.ListEntries(t.Context(), &chemledgerv1.ListEntriesRequest{Filter: filter, PageSize: 7, PageToken: tok}); err != nil {
			t.Errorf("next page with its own filter: %v", err)
		}
		// ... and with no other.
		for _, other := range []string{"", `member = "US-CBP"`, `member = "MX-ANAM" AND kind = INCIDENT`, `member =  "MX-ANAM"`} {
			_, err := l.c.ListEntries(t.Context(), &chemledgerv1.ListEntriesRequest{Filter: other, PageToken: tok})
			d := detailsOf(status.Convert(err))
			if d.code != codes.InvalidArgument || d.reason != "BAD_PAGE_TOKEN" || !slices.Equal(d.fields, []string{"page_token"}) {
				t.Errorf("token of filter %q used with filter %q: %+v; want INVALID_ARGUMENT, BAD_PAGE_TOKEN, field page_token", filter, other, d)
			}
		}
	})
}

// listAll pages through ListEntries.
func listAll(tb testing.TB, c chemledgerv1.LedgerServiceClient, filter string, pageSize int32) []*chemledgerv1.Entry {
	tb.Helper()
	var all []*chemledgerv1.Entry
	tok := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			tb.Fatalf("ListEntries(%q): more than 1000 pages", filter)
		}
		resp, err := c.ListEntries(tb.Context(), &chemledgerv1.ListEntriesRequest{Filter: filter, PageSize: pageSize, PageToken: tok})
		if err != nil {
			tb.Fatalf("ListEntries(%q, page %d): %v", filter, pages, err)
		}
		if n := len(resp.GetEntries()); n > int(pageSize) {
			tb.Fatalf("ListEntries(%q, page %d): %d entries, page size %d", filter, pages, n, pageSize)
		}
		all = append(all, resp.GetEntries()...)
		if tok = resp.GetNextPageToken(); tok == "" {
			return all
		}
	}
}

func TestProofsVerify(t *testing.T) {
	l := loadExamples(t)
	info, err := l.c.GetLog(t.Context(), &chemledgerv1.GetLogRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetVerifierKey() != l.in.VerifierKey {
		t.Errorf("GetLog verifier key %q, want %q", info.GetVerifierKey(), l.in.VerifierKey)
	}
	origin := info.GetOrigin()

	// Every entry was committed on its own, so the receipts hold a signed
	// checkpoint of every size.
	cps := map[uint64]checkpoint.Checkpoint{}
	for i, r := range l.receipts {
		cp := openCheckpoint(t, l.in, origin, r.GetCheckpoint())
		if err := cp.VerifyInclusion(r.GetIndex(), r.GetLeafHash(), r.GetInclusionProof()); err != nil {
			t.Errorf("receipt %d: %v", i, err)
		}
		cps[cp.Size] = cp
	}
	n := uint64(len(l.receipts))
	for size := uint64(1); size <= n; size++ {
		if _, ok := cps[size]; !ok {
			t.Fatalf("no receipt carries a checkpoint of size %d", size)
		}
	}

	for i := range n {
		for _, size := range []uint64{i + 1, (i + 1 + n) / 2, n, 0} {
			p, err := l.c.GetInclusionProof(t.Context(), &chemledgerv1.GetInclusionProofRequest{Index: i, TreeSize: size})
			if err != nil {
				t.Fatalf("GetInclusionProof(%d, %d): %v", i, size, err)
			}
			want := size
			if size == 0 {
				want = n
			}
			if p.GetTreeSize() != want || p.GetIndex() != i || !bytes.Equal(p.GetLeafHash(), l.entries[i].GetLeafHash()) {
				t.Errorf("GetInclusionProof(%d, %d): index %d, tree size %d, leaf hash %x; want %d, %d, %x", i, size, p.GetIndex(), p.GetTreeSize(), p.GetLeafHash(), i, want, l.entries[i].GetLeafHash())
			}
			cp := cps[want]
			if err := cp.VerifyInclusion(i, l.entries[i].GetLeafHash(), p.GetHashes()); err != nil {
				t.Errorf("GetInclusionProof(%d, %d): %v", i, size, err)
			}
			if p.GetCheckpoint() != nil {
				if got := openCheckpoint(t, l.in, origin, p.GetCheckpoint()); !got.Equal(cp) {
					t.Errorf("GetInclusionProof(%d, %d): checkpoint %+v, want %+v", i, size, got, cp)
				}
			}
			if len(p.GetHashes()) > 0 {
				bad := slices.Clone(p.GetHashes())
				bad[0] = append([]byte{bad[0][0] ^ 1}, bad[0][1:]...)
				if cp.VerifyInclusion(i, l.entries[i].GetLeafHash(), bad) == nil {
					t.Errorf("GetInclusionProof(%d, %d): a tampered proof verifies too", i, size)
				}
			}
		}
	}

	for first := uint64(1); first <= n; first++ {
		for _, second := range []uint64{first, first + 1, (first + n) / 2, n, 0} {
			if second > n {
				continue
			}
			p, err := l.c.GetConsistencyProof(t.Context(), &chemledgerv1.GetConsistencyProofRequest{First: first, Second: second})
			if err != nil {
				t.Fatalf("GetConsistencyProof(%d, %d): %v", first, second, err)
			}
			want := second
			if second == 0 {
				want = n
			}
			if p.GetFirst() != first || p.GetSecond() != want {
				t.Errorf("GetConsistencyProof(%d, %d): sizes %d, %d; want %d, %d", first, second, p.GetFirst(), p.GetSecond(), first, want)
			}
			if err := cps[want].VerifyConsistency(cps[first], p.GetHashes()); err != nil {
				t.Errorf("GetConsistencyProof(%d, %d): %v", first, second, err)
			}
			if len(p.GetHashes()) > 0 {
				bad := slices.Clone(p.GetHashes())
				last := len(bad) - 1
				bad[last] = append([]byte{bad[last][0] ^ 1}, bad[last][1:]...)
				if cps[want].VerifyConsistency(cps[first], bad) == nil {
					t.Errorf("GetConsistencyProof(%d, %d): a tampered proof verifies too", first, second)
				}
			}
		}
	}
}
