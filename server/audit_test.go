package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/chemledger/chemledger/audit"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
)

// auditTrail reads the whole audit trail as an auditor would, through
// AuditService.ListAuditRecords on the gRPC listener. Each call is itself
// audited after it answers, so it reads up to the total the first page
// reported and no further.
func auditTrail(tb testing.TB, s *secured) []audit.Record {
	tb.Helper()
	c := chemledgerv1.NewAuditServiceClient(s.conn(tb, "NL-DOUANE", "auditor"))
	var out []audit.Record
	total := uint64(0)
	for first := true; first || uint64(len(out)) < total; first = false {
		resp, err := c.ListAuditRecords(tb.Context(), &chemledgerv1.ListAuditRecordsRequest{StartSeq: uint64(len(out)), PageSize: int32(server.MaxPageSize)})
		if err != nil {
			tb.Fatalf("ListAuditRecords from %d as NL-DOUANE/auditor: %v", len(out), err)
		}
		if first {
			total = resp.GetTotal()
		}
		if len(resp.GetRecords()) == 0 && uint64(len(out)) < total {
			tb.Fatalf("ListAuditRecords from %d: no records, total %d", len(out), total)
		}
		for _, r := range resp.GetRecords() {
			if uint64(len(out)) < total {
				out = append(out, audit.FromProto(r))
			}
		}
	}
	return out
}

// auditCount is how many records the store holds, asked of the store
// directly so that asking adds none.
func auditCount(tb testing.TB, in *servertest.Instance) uint64 {
	tb.Helper()
	_, n, err := in.Audit.List(0, 0)
	if err != nil {
		tb.Fatalf("audit store: %v", err)
	}
	return n
}

// auditStep is one request of the scripted session and the audit record it
// must leave, if any.
type auditStep struct {
	name         string
	member, role string
	// Exactly one of call (gRPC) and httpMethod/path (HTTPS) is set.
	call       func(ctx context.Context) error
	httpMethod string
	path       string
	body       func() []byte
	// want is the outcome; over HTTP the status is what grpc-gateway
	// makes of it.
	want codes.Code
	// audited: reads (allowed or refused) and refused writes are;
	// successful writes are accounted for by the log instead.
	audited bool
	// method is the record's Method; resource, when set, one of its
	// Resources.
	method   string
	resource string
}

func (st auditStep) via() string {
	if st.call != nil {
		return "grpc"
	}
	return "http"
}

const (
	ledgerSvc  = "/chemledger.v1.LedgerService/"
	analystSvc = "/chemledger.v1.AnalystService/"
)

// TestAuditScriptedSession runs a session of reads, refusals and writes as
// several members and roles over both listeners, and checks that the audit
// trail holds exactly one record for every read and every refusal (and none
// for a successful write), each saying who asked, through which listener,
// for what and with what outcome; that an auditor can read the trail and
// verify its chain; and that a non-auditor cannot.
func TestAuditScriptedSession(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true})
	in := s.in
	exs := signedExamples(t, in)
	usEx, mxEx, usHTTPEx := exs[2], exs[3], exs[13]
	if usEx.member != "US-CBP" || mxEx.member != "MX-ANAM" || usHTTPEx.member != "US-CBP" {
		t.Fatalf("examples 2, 3, 13 are by %s, %s, %s; want US-CBP, MX-ANAM, US-CBP", usEx.member, mxEx.member, usHTTPEx.member)
	}
	ref := usEx.line.Event.GetShipmentRef()
	// Indexes the reads ask for, set by the writes that come first.
	var usIndex, mxIndex uint64
	create := func(member, role string, ex example, id string, index *uint64) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			r, err := s.ledger(t, member, role).CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: id, Envelope: ex.env})
			if err == nil && index != nil {
				*index = r.GetIndex()
			}
			return err
		}
	}
	getEntry := func(member, role string, index *uint64) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := s.ledger(t, member, role).GetEntry(ctx, &chemledgerv1.GetEntryRequest{Index: *index})
			return err
		}
	}
	listFlags := func(member, role string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := s.analyst(t, member, role).ListFlags(ctx, &chemledgerv1.ListFlagsRequest{})
			return err
		}
	}
	steps := []auditStep{
		// Writes: successful ones leave no audit record.
		{name: "submitter writes its own event", member: "US-CBP", role: "submitter",
			call: create("US-CBP", "submitter", usEx, usEx.id, &usIndex), want: codes.OK, method: ledgerSvc + "CreateEntry"},
		{name: "another submitter writes its own event", member: "MX-ANAM", role: "submitter",
			call: create("MX-ANAM", "submitter", mxEx, mxEx.id, &mxIndex), want: codes.OK, method: ledgerSvc + "CreateEntry"},
		{name: "submitter writes over HTTP", member: "US-CBP", role: "submitter",
			httpMethod: http.MethodPost, path: "/v1/entries", body: func() []byte { return entryBody(usHTTPEx.id, usHTTPEx.env) },
			want: codes.OK, method: ledgerSvc + "CreateEntry"},
		// Refused writes are audited.
		{name: "submitter writes an envelope another member signed", member: "US-CBP", role: "submitter",
			call: create("US-CBP", "submitter", mxEx, "US-CBP:not-mine", nil), want: codes.PermissionDenied, audited: true,
			method: ledgerSvc + "CreateEntry", resource: "entries?submission_id=US-CBP:not-mine"},
		{name: "analyst calls RebuildDerivedState", member: "US-CBP", role: "analyst",
			call: func(ctx context.Context) error {
				_, err := chemledgerv1.NewAdminServiceClient(s.conn(t, "US-CBP", "analyst")).RebuildDerivedState(ctx, &chemledgerv1.RebuildDerivedStateRequest{})
				return err
			}, want: codes.PermissionDenied, audited: true, method: "/chemledger.v1.AdminService/RebuildDerivedState"},
		{name: "analyst submits over HTTP", member: "MX-ANAM", role: "analyst",
			httpMethod: http.MethodPost, path: "/v1/entries", body: func() []byte { return entryBody("MX-ANAM:as-analyst", mxEx.env) },
			want: codes.PermissionDenied, audited: true, method: ledgerSvc + "CreateEntry"},
		{name: "analyst rebuilds over HTTP", member: "MX-ANAM", role: "analyst",
			httpMethod: http.MethodPost, path: "/v1/derived:rebuild", body: func() []byte { return []byte(`{}`) },
			want: codes.PermissionDenied, audited: true, method: "/chemledger.v1.AdminService/RebuildDerivedState"},
		// Reads, allowed and refused, on gRPC.
		{name: "analyst reads the checkpoint", member: "MX-ANAM", role: "analyst",
			call: func(ctx context.Context) error {
				_, err := s.ledger(t, "MX-ANAM", "analyst").GetCheckpoint(ctx, &chemledgerv1.GetCheckpointRequest{})
				return err
			}, want: codes.OK, audited: true, method: ledgerSvc + "GetCheckpoint", resource: "checkpoint"},
		{name: "submitter reads its own entry", member: "US-CBP", role: "submitter",
			call: getEntry("US-CBP", "submitter", &usIndex), want: codes.OK, audited: true, method: ledgerSvc + "GetEntry"},
		{name: "submitter reads another member's entry", member: "US-CBP", role: "submitter",
			call: getEntry("US-CBP", "submitter", &mxIndex), want: codes.PermissionDenied, audited: true, method: ledgerSvc + "GetEntry"},
		{name: "analyst reads another member's entry", member: "US-CBP", role: "analyst",
			call: getEntry("US-CBP", "analyst", &mxIndex), want: codes.OK, audited: true, method: ledgerSvc + "GetEntry"},
		{name: "auditor reads an entry's hashes", member: "NL-DOUANE", role: "auditor",
			call: getEntry("NL-DOUANE", "auditor", &usIndex), want: codes.OK, audited: true, method: ledgerSvc + "GetEntry"},
		{name: "analyst lists entries", member: "MX-ANAM", role: "analyst",
			call: func(ctx context.Context) error {
				_, err := s.ledger(t, "MX-ANAM", "analyst").ListEntries(ctx, &chemledgerv1.ListEntriesRequest{Filter: `member = "US-CBP"`, PageSize: 10})
				return err
			}, want: codes.OK, audited: true, method: ledgerSvc + "ListEntries", resource: `entries?filter=member = "US-CBP"`},
		{name: "submitter lists its own entries", member: "MX-ANAM", role: "submitter",
			call: func(ctx context.Context) error {
				_, err := s.ledger(t, "MX-ANAM", "submitter").ListEntries(ctx, &chemledgerv1.ListEntriesRequest{})
				return err
			}, want: codes.OK, audited: true, method: ledgerSvc + "ListEntries"},
		{name: "analyst lists flags", member: "MX-ANAM", role: "analyst",
			call: listFlags("MX-ANAM", "analyst"), want: codes.OK, audited: true, method: analystSvc + "ListFlags", resource: "flags"},
		{name: "submitter lists flags", member: "US-CBP", role: "submitter",
			call: listFlags("US-CBP", "submitter"), want: codes.PermissionDenied, audited: true, method: analystSvc + "ListFlags"},
		{name: "auditor lists flags", member: "NL-DOUANE", role: "auditor",
			call: listFlags("NL-DOUANE", "auditor"), want: codes.PermissionDenied, audited: true, method: analystSvc + "ListFlags"},
		{name: "analyst reads a shipment", member: "US-CBP", role: "analyst",
			call: func(ctx context.Context) error {
				waitDerived(t, in) // so that the shipment is there to read
				_, err := s.analyst(t, "US-CBP", "analyst").GetShipment(ctx, &chemledgerv1.GetShipmentRequest{Ref: ref})
				return err
			}, want: codes.OK, audited: true, method: analystSvc + "GetShipment", resource: "shipments/" + ref},
		{name: "submitter reads a shipment", member: "US-CBP", role: "submitter",
			call: func(ctx context.Context) error {
				_, err := s.analyst(t, "US-CBP", "submitter").GetShipment(ctx, &chemledgerv1.GetShipmentRequest{Ref: ref})
				return err
			}, want: codes.PermissionDenied, audited: true, method: analystSvc + "GetShipment", resource: "shipments/" + ref},
		{name: "analyst lists the audit trail", member: "MX-ANAM", role: "analyst",
			call: func(ctx context.Context) error {
				_, err := chemledgerv1.NewAuditServiceClient(s.conn(t, "MX-ANAM", "analyst")).ListAuditRecords(ctx, &chemledgerv1.ListAuditRecordsRequest{})
				return err
			}, want: codes.PermissionDenied, audited: true, method: "/chemledger.v1.AuditService/ListAuditRecords"},
		{name: "admin lists the audit trail", member: "US-CBP", role: "admin",
			call: func(ctx context.Context) error {
				_, err := chemledgerv1.NewAuditServiceClient(s.conn(t, "US-CBP", "admin")).ListAuditRecords(ctx, &chemledgerv1.ListAuditRecordsRequest{})
				return err
			}, want: codes.PermissionDenied, audited: true, method: "/chemledger.v1.AuditService/ListAuditRecords"},
		// Reads, allowed and refused, on HTTP.
		{name: "auditor asks /healthz", member: "NL-DOUANE", role: "auditor",
			httpMethod: http.MethodGet, path: "/healthz", want: codes.OK, audited: true, method: "GET /healthz", resource: "/healthz"},
		{name: "submitter asks /healthz", member: "MX-ANAM", role: "submitter",
			httpMethod: http.MethodGet, path: "/healthz", want: codes.OK, audited: true, method: "GET /healthz"},
		{name: "analyst reads an entry over HTTP", member: "MX-ANAM", role: "analyst",
			httpMethod: http.MethodGet, path: "/v1/entries/{us}", want: codes.OK, audited: true, method: ledgerSvc + "GetEntry"},
		{name: "submitter reads another member's entry over HTTP", member: "MX-ANAM", role: "submitter",
			httpMethod: http.MethodGet, path: "/v1/entries/{us}", want: codes.PermissionDenied, audited: true, method: ledgerSvc + "GetEntry"},
		{name: "submitter reads its own entry over HTTP", member: "MX-ANAM", role: "submitter",
			httpMethod: http.MethodGet, path: "/v1/entries/{mx}", want: codes.OK, audited: true, method: ledgerSvc + "GetEntry"},
		{name: "auditor lists entries over HTTP", member: "NL-DOUANE", role: "auditor",
			httpMethod: http.MethodGet, path: "/v1/entries?page_size=5", want: codes.OK, audited: true, method: ledgerSvc + "ListEntries"},
		{name: "auditor reads the checkpoint note over HTTP", member: "NL-DOUANE", role: "auditor",
			httpMethod: http.MethodGet, path: "/v1/checkpoint", want: codes.OK, audited: true, method: ledgerSvc + "GetCheckpoint"},
		{name: "analyst lists flags over HTTP", member: "US-CBP", role: "analyst",
			httpMethod: http.MethodGet, path: "/v1/flags", want: codes.OK, audited: true, method: analystSvc + "ListFlags"},
		{name: "submitter lists flags over HTTP", member: "US-CBP", role: "submitter",
			httpMethod: http.MethodGet, path: "/v1/flags", want: codes.PermissionDenied, audited: true, method: analystSvc + "ListFlags"},
		{name: "analyst reads a shipment over HTTP", member: "MX-ANAM", role: "analyst",
			httpMethod: http.MethodGet, path: "/v1/shipments/" + ref, want: codes.OK, audited: true, method: analystSvc + "GetShipment"},
		{name: "analyst lists the audit trail over HTTP", member: "MX-ANAM", role: "analyst",
			httpMethod: http.MethodGet, path: "/v1/audit-records", want: codes.PermissionDenied, audited: true, method: "/chemledger.v1.AuditService/ListAuditRecords"},
		{name: "auditor lists the audit trail over HTTP", member: "NL-DOUANE", role: "auditor",
			httpMethod: http.MethodGet, path: "/v1/audit-records?page_size=1", want: codes.OK, audited: true, method: "/chemledger.v1.AuditService/ListAuditRecords"},
		// A write that succeeds after all the reads still leaves none.
		{name: "submitter writes again", member: "MX-ANAM", role: "submitter",
			call: create("MX-ANAM", "submitter", exs[8], exs[8].id, nil), want: codes.OK, method: ledgerSvc + "CreateEntry"},
	}

	before := auditCount(t, in)
	for _, st := range steps {
		var got codes.Code
		if st.call != nil {
			got = status.Code(st.call(t.Context()))
		} else {
			path := strings.NewReplacer("{us}", fmt.Sprint(usIndex), "{mx}", fmt.Sprint(mxIndex)).Replace(st.path)
			var body io.Reader
			if st.body != nil {
				body = bytes.NewReader(st.body())
			}
			code, _, b := s.do(t, st.member, st.role, st.httpMethod, path, body)
			if want := runtime.HTTPStatusFromCode(st.want); code != want {
				t.Fatalf("%s: %s %s as %s/%s: status %d, want %d; body %.300s", st.name, st.httpMethod, path, st.member, st.role, code, want, b)
			}
			got = st.want
		}
		if got != st.want {
			t.Fatalf("%s: as %s/%s over %s: %v, want %v", st.name, st.member, st.role, st.via(), got, st.want)
		}
	}
	var want []auditStep
	for _, st := range steps {
		if st.audited {
			want = append(want, st)
		}
	}
	if got := auditCount(t, in) - before; got != uint64(len(want)) {
		t.Errorf("the session of %d requests (%d reads or refusals) added %d audit records, want %d", len(steps), len(want), got, len(want))
	}

	// The trail as an auditor reads it over the API: its chain verifies,
	// and each record of the session says who did what and how it went.
	trail := auditTrail(t, s)
	if err := audit.Verify(nil, trail); err != nil {
		t.Fatalf("audit.Verify of %d records read through ListAuditRecords: %v", len(trail), err)
	}
	if uint64(len(trail)) < before {
		t.Fatalf("the trail holds %d records, fewer than the %d there before the session", len(trail), before)
	}
	session := trail[before:]
	if len(session) != len(want) {
		t.Fatalf("the session's part of the trail has %d records, want %d:\n%s", len(session), len(want), describe(session))
	}
	for i, st := range want {
		r := session[i]
		if wantP := st.member + "/" + st.role; r.Principal != wantP || r.Via != st.via() || r.Method != st.method || r.Outcome != outcomeName(st.want) {
			t.Errorf("record %d (%s): principal %q, via %q, method %q, outcome %q; want %q, %q, %q, %q",
				r.Seq, st.name, r.Principal, r.Via, r.Method, r.Outcome, wantP, st.via(), st.method, outcomeName(st.want))
		}
		if st.resource != "" && !slices.Contains(r.Resources, st.resource) {
			t.Errorf("record %d (%s): resources %q, want them to hold %q", r.Seq, st.name, r.Resources, st.resource)
		}
		// Every read names what it read; a refused rebuild asks for no
		// record in particular.
		if len(r.Resources) == 0 && st.method != "/chemledger.v1.AdminService/RebuildDerivedState" {
			t.Errorf("record %d (%s): no resources", r.Seq, st.name)
		}
		if r.Time.IsZero() || time.Since(r.Time) > time.Minute {
			t.Errorf("record %d (%s): time %v is not this session's", r.Seq, st.name, r.Time)
		}
	}
	// The auditor's own reading was audited too, after it was answered.
	if n, err := in.Audit.VerifyAll(); err != nil || n < uint64(len(trail))+1 {
		t.Errorf("VerifyAll after the auditor's read: %d records, %v; want at least %d and no error", n, err, len(trail)+1)
	}
	recs, _, err := in.Audit.List(uint64(len(trail)), 1)
	if err != nil || len(recs) != 1 || recs[0].Method != "/chemledger.v1.AuditService/ListAuditRecords" || recs[0].Principal != "NL-DOUANE/auditor" || recs[0].Outcome != "OK" {
		t.Errorf("record after the trail read: %+v, %v; want the auditor's ListAuditRecords, OK", recs, err)
	}
}

// outcomeName is a code as audit records spell it: PERMISSION_DENIED.
func outcomeName(c codes.Code) string {
	return map[codes.Code]string{
		codes.OK: "OK", codes.PermissionDenied: "PERMISSION_DENIED", codes.Unauthenticated: "UNAUTHENTICATED",
		codes.ResourceExhausted: "RESOURCE_EXHAUSTED", codes.NotFound: "NOT_FOUND", codes.Unavailable: "UNAVAILABLE",
		codes.InvalidArgument: "INVALID_ARGUMENT",
	}[c]
}

func describe(recs []audit.Record) string {
	var b bytes.Buffer
	for _, r := range recs {
		fmt.Fprintf(&b, "  %d %s %s %s %q %s\n", r.Seq, r.Principal, r.Via, r.Method, r.Resources, r.Outcome)
	}
	return b.String()
}

// TestAuditFailureFailsReadsClosed: when the audit record of a read cannot
// be written, the read is refused (UNAVAILABLE, AUDIT_UNAVAILABLE; HTTP
// 503) rather than answered unaccounted for, on both listeners; the next
// read, with the store healthy again, is answered and audited. A refused
// write stays refused, and a successful write needs no record.
func TestAuditFailureFailsReadsClosed(t *testing.T) {
	s := startSecured(t, "", servertest.Options{Audit: true})
	in := s.in
	ex := signedExamples(t, in)[2]
	r, err := s.ledger(t, "US-CBP", "submitter").CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: ex.id, Envelope: ex.env})
	if err != nil {
		t.Fatalf("CreateEntry: %v", err)
	}
	analyst := s.ledger(t, "MX-ANAM", "analyst")
	read := func() error {
		_, err := analyst.GetEntry(t.Context(), &chemledgerv1.GetEntryRequest{Index: r.GetIndex()})
		return err
	}
	entryPath := fmt.Sprintf("/v1/entries/%d", r.GetIndex())
	if err := read(); err != nil {
		t.Fatalf("GetEntry with the audit store healthy: %v", err)
	}
	before := auditCount(t, in)

	in.Audit.InjectFailures(1)
	err = read()
	if d := detailsOf(status.Convert(err)); d.code != codes.Unavailable || d.reason != server.ReasonAuditFailed {
		t.Errorf("gRPC GetEntry with the audit write failing: %v (code %v, reason %q), want UNAVAILABLE, %s", err, d.code, d.reason, server.ReasonAuditFailed)
	}
	if err := read(); err != nil {
		t.Errorf("gRPC GetEntry after the failure: %v, want it answered", err)
	}

	in.Audit.InjectFailures(1)
	code, _, body := s.do(t, "MX-ANAM", "analyst", http.MethodGet, entryPath, nil)
	if code != http.StatusServiceUnavailable {
		t.Errorf("GET %s with the audit write failing: status %d, want 503; body %.300s", entryPath, code, body)
	} else if d, err := httpErrorDetails(t, body); err != nil || d.reason != server.ReasonAuditFailed {
		t.Errorf("GET %s with the audit write failing: body %s (%v), want reason %s", entryPath, body, err, server.ReasonAuditFailed)
	}
	if code, _, body := s.do(t, "MX-ANAM", "analyst", http.MethodGet, entryPath, nil); code != http.StatusOK {
		t.Errorf("GET %s after the failure: status %d, want 200; body %.300s", entryPath, code, body)
	}

	// What the HTTP listener answers itself fails closed too.
	in.Audit.InjectFailures(1)
	if code, _, body := s.do(t, "MX-ANAM", "analyst", http.MethodGet, "/healthz", nil); code != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz with the audit write failing: status %d, want 503; body %.300s", code, body)
	}

	// A refused write is refused whether or not its record is written.
	in.Audit.InjectFailures(1)
	_, err = chemledgerv1.NewAdminServiceClient(s.conn(t, "MX-ANAM", "analyst")).RebuildDerivedState(t.Context(), &chemledgerv1.RebuildDerivedStateRequest{})
	if got := status.Code(err); got != codes.PermissionDenied {
		t.Errorf("analyst RebuildDerivedState with the audit write failing: %v, want PERMISSION_DENIED", err)
	}
	// A successful write writes no record, so a failing store is no
	// reason to refuse it.
	in.Audit.InjectFailures(1)
	ex = signedExamples(t, in)[13]
	if _, err := s.ledger(t, "US-CBP", "submitter").CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: ex.id, Envelope: ex.env}); err != nil {
		t.Errorf("CreateEntry with an audit failure pending: %v", err)
	}
	in.Audit.InjectFailures(0)

	// Only the two answered reads were recorded; the refused ones left
	// nothing, and the chain is whole.
	if got := auditCount(t, in) - before; got != 2 {
		t.Errorf("%d records added across the failures, want 2 (the reads that were answered)", got)
	}
	trail := auditTrail(t, s)
	if err := audit.Verify(nil, trail); err != nil {
		t.Errorf("audit.Verify after injected failures: %v", err)
	}
}

// TestAuditReadLatency reports what the audit write adds to a read: GetEntry
// over mutual TLS, one caller at a time, with the audit store and without.
// Informational: the figures depend on the disk's fsync, so nothing is
// asserted.
func TestAuditReadLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("latency report")
	}
	const reads = 300
	measure := func(auditOn bool) (p50, p99 time.Duration) {
		s := startSecured(t, "", servertest.Options{Audit: auditOn})
		ex := signedExamples(t, s.in)[2]
		r, err := s.ledger(t, "US-CBP", "submitter").CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: ex.id, Envelope: ex.env})
		if err != nil {
			t.Fatalf("CreateEntry: %v", err)
		}
		c := s.ledger(t, "MX-ANAM", "analyst")
		lat := make([]time.Duration, 0, reads)
		for i := range reads + 20 {
			start := time.Now()
			if _, err := c.GetEntry(t.Context(), &chemledgerv1.GetEntryRequest{Index: r.GetIndex()}); err != nil {
				t.Fatalf("GetEntry (audit %v): %v", auditOn, err)
			}
			if i >= 20 { // the first calls warm the connection
				lat = append(lat, time.Since(start))
			}
		}
		slices.Sort(lat)
		return lat[len(lat)/2], lat[len(lat)*99/100]
	}
	on50, on99 := measure(true)
	off50, off99 := measure(false)
	t.Logf("GetEntry over mTLS, %d sequential reads: audit on p50 %v p99 %v; audit off p50 %v p99 %v; the audit write adds p50 %v, p99 %v",
		reads, on50, on99, off50, off99, on50-off50, on99-off99)
}
