package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/eventfile"
	"github.com/chemledger/chemledger/internal/validate"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
)

// The bad-input catalogue: every write and query endpoint, each row sent
// over gRPC and over HTTP (where the transport can express it), with the
// exact code, HTTP status, ErrorInfo reason and field path it must get, and
// the log no longer after the row than before it. Rows that repeat
// TestBadInput and TestBadQueries are here on purpose: this is the one
// place that lists them all.

// catFixture is the bad-input fixture (a revoked DE-ZOLL key, the first
// examples at indexes 0 to 5) with the rest of the examples, the registry
// examples, one disposition, and the detector caught up.
type catFixture struct {
	*badFixture
	a     chemledgerv1.AnalystServiceClient
	admin chemledgerv1.AdminServiceClient

	// flag is the R1 flag on PEN-CN-2026-000871; disp is MX-ANAM's
	// disposition of it, at dispIndex under dispID.
	flag      string
	disp      []byte
	dispID    string
	dispIndex uint64
	// licence is the first licence of registry.jsonl, at licenceIndex.
	licence      []byte
	licenceIndex uint64
	// flagToken is a ListFlags page token for no filter and the default
	// order.
	flagToken string

	seq int
}

func newCatFixture(tb testing.TB) *catFixture {
	tb.Helper()
	f := &catFixture{badFixture: newBadFixture(tb)}
	conn := dial(tb, f.in)
	f.a = chemledgerv1.NewAnalystServiceClient(conn)
	f.admin = chemledgerv1.NewAdminServiceClient(conn)

	file, err := os.Open(filepath.Join("..", "examples", "registry.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer file.Close()
	for l := range eventfile.ReadRegistry(file) {
		if l.Err != nil {
			tb.Fatalf("registry examples: %v", l.Err)
		}
		member, err := eventfile.DemoMemberForRegistry(l.Entry)
		if err != nil {
			tb.Fatal(err)
		}
		env := signAs(tb, f.in, member, envelope.PayloadTypeRegistryJSON, l.Raw)
		r, err := f.c.CreateEntry(tb.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: eventfile.RegistrySubmissionID(member, l), Envelope: env})
		if err != nil {
			tb.Fatalf("registry line %d: %v", l.Number, err)
		}
		if f.licence == nil && l.Entry.GetLicence() != nil {
			f.licence, f.licenceIndex = env, r.GetIndex()
		}
	}
	submitAll(tb, f.c, f.exs[f.preloaded:])
	waitDerived(tb, f.in)

	flags, err := f.a.ListFlags(tb.Context(), &chemledgerv1.ListFlagsRequest{Filter: `rule_id = "R1" AND shipment_ref = "PEN-CN-2026-000871"`})
	if err != nil || len(flags.GetFlags()) != 1 {
		tb.Fatalf("the R1 flag of the examples: %v, %v", flags, err)
	}
	f.flag = flags.GetFlags()[0].GetId()
	f.disp = f.dispositionEnv(tb, "MX-ANAM", &chemledgerv1.Disposition{
		FlagId: f.flag, Status: chemledgerv1.DispositionStatus_DISPOSITION_STATUS_CONFIRMED, Note: "70 kg unaccounted for.",
	})
	f.dispID = "MX-ANAM:disp-catalogue"
	r, err := f.a.CreateDisposition(tb.Context(), &chemledgerv1.CreateDispositionRequest{Id: f.flag, SubmissionId: f.dispID, Envelope: f.disp})
	if err != nil {
		tb.Fatalf("disposition of %s: %v", f.flag, err)
	}
	f.dispIndex = r.GetIndex()
	waitDerived(tb, f.in)

	page, err := f.a.ListFlags(tb.Context(), &chemledgerv1.ListFlagsRequest{PageSize: 1})
	if err != nil || page.GetNextPageToken() == "" {
		tb.Fatalf("ListFlags(page size 1): %v, no next page token (%v)", page, err)
	}
	f.flagToken = page.GetNextPageToken()
	return f
}

// dispositionEnv signs d (JSON) as member.
func (f *catFixture) dispositionEnv(tb testing.TB, member string, d *chemledgerv1.Disposition) []byte {
	tb.Helper()
	p, err := protojson.Marshal(d)
	if err != nil {
		tb.Fatal(err)
	}
	return signAs(tb, f.in, member, envelope.PayloadTypeDispositionJSON, p)
}

// fresh returns a submission id and a valid event envelope that are not in
// the log: example i under a new event id, changed by mutate.
func (f *catFixture) fresh(tb testing.TB, i int, mutate func(ev *chemledgerv1.ShipmentEvent)) (string, []byte) {
	tb.Helper()
	f.seq++
	n := f.seq
	return fmt.Sprintf("cat-%d", n), f.mutated(tb, i, func(ev *chemledgerv1.ShipmentEvent) {
		ev.EventId = fmt.Sprintf("CAT-%d", n)
		ev.References = nil
		if mutate != nil {
			mutate(ev)
		}
	})
}

// size is the log's size now.
func (f *catFixture) size(tb testing.TB) uint64 { return logSize(tb, f.c) }

// httpReq is a row's HTTP form.
type httpReq struct {
	method, path string
	body         io.Reader
	header       http.Header
}

func get(path string) *httpReq { return &httpReq{method: http.MethodGet, path: path} }

func postJSON(path string, body []byte) *httpReq {
	return &httpReq{method: http.MethodPost, path: path, body: bytes.NewReader(body), header: http.Header{"Content-Type": {"application/json"}}}
}

// call is a row made ready to send: the same input in both transports.
type call struct {
	// grpc sends it over gRPC; nil when gRPC cannot express it (a
	// malformed HTTP body or path).
	grpc func(ctx context.Context) error
	// http is the HTTP request; nil when HTTP cannot express it (the bulk
	// stream has no HTTP binding; gRPC-only sizes and timestamps).
	http *httpReq
	// msg, when set, must also appear in the message (a value only known
	// once the fixture is built, such as an entry index).
	msg string
	// receipt is what an accepted gRPC submission got.
	receipt *chemledgerv1.Receipt
	// sub is a refused CreateEntry submission, sent again through the
	// bulk stream.
	sub *bulkItem
}

// catRow is one row of the catalogue.
type catRow struct {
	endpoint, name string
	call           func(tb testing.TB, f *catFixture) *call
	want           expect
	// httpWant is what HTTP answers when it differs from want.
	httpWant *expect
	// check, for a row the service accepts (want.code OK), says why
	// accepting it is right; the log must grow by exactly one entry.
	check func(tb testing.TB, f *catFixture, r *chemledgerv1.Receipt)
}

// submission is a CreateEntry call: over gRPC, as POST /v1/entries, and
// (when refused) through the bulk stream.
func submission(f *catFixture, id string, env []byte) *call {
	c := &call{http: postJSON("/v1/entries", entryBody(id, env)), sub: &bulkItem{id: id, env: env}}
	c.grpc = func(ctx context.Context) error {
		r, err := f.c.CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: id, Envelope: env})
		c.receipt = r
		return err
	}
	return c
}

// freshEvent is a CreateEntry row of example i, under a new event id,
// changed by mutate.
func freshEvent(i int, mutate func(ev *chemledgerv1.ShipmentEvent)) func(testing.TB, *catFixture) *call {
	return func(tb testing.TB, f *catFixture) *call {
		id, env := f.fresh(tb, i, mutate)
		return submission(f, id, env)
	}
}

// freshEnvelope is a CreateEntry row of an envelope built by env, under a
// new submission id.
func freshEnvelope(env func(tb testing.TB, f *catFixture) []byte) func(testing.TB, *catFixture) *call {
	return func(tb testing.TB, f *catFixture) *call {
		f.seq++
		return submission(f, fmt.Sprintf("cat-%d", f.seq), env(tb, f))
	}
}

// rawBody is an HTTP-only POST of body to path.
func rawBody(path string, body func(f *catFixture) []byte) func(testing.TB, *catFixture) *call {
	return func(_ testing.TB, f *catFixture) *call { return &call{http: postJSON(path, body(f))} }
}

// malformedMessage is a gRPC-only CreateEntry call whose message is
// malformedMessages[i] as it is, and the same bytes as the one item of a
// bulk stream (which must end the same way).
func malformedMessage(i int) func(testing.TB, *catFixture) *call {
	return func(tb testing.TB, f *catFixture) *call {
		conn, body := dial(tb, f.in), malformedMessages[i].body
		return &call{grpc: func(ctx context.Context) error {
			err := invokeRaw(ctx, conn, ledgerSvc+"CreateEntry", body)
			if berr := bulkRaw(ctx, conn, body); status.Code(berr) != status.Code(err) || status.Convert(berr).Message() != status.Convert(err).Message() {
				return status.Errorf(codes.Internal, "test: the bulk stream ended with %v, CreateEntry answered %v", berr, err)
			}
			return err
		}}
	}
}

// disposition is a CreateDisposition call of flag id.
func disposition(f *catFixture, flag, id string, env []byte) *call {
	c := &call{http: postJSON("/v1/flags/"+url.PathEscape(flag)+":disposition", entryBody(id, env))}
	c.grpc = func(ctx context.Context) error {
		r, err := f.a.CreateDisposition(ctx, &chemledgerv1.CreateDispositionRequest{Id: flag, SubmissionId: id, Envelope: env})
		c.receipt = r
		return err
	}
	return c
}

// listEntries is a ListEntries call.
func listEntries(f *catFixture, filter, token string, size int32) *call {
	return &call{
		grpc: func(ctx context.Context) error {
			_, err := f.c.ListEntries(ctx, &chemledgerv1.ListEntriesRequest{Filter: filter, PageToken: token, PageSize: size})
			return err
		},
		http: get("/v1/entries?" + pageQuery(filter, "", token, size)),
	}
}

// listFlags is a ListFlags call.
func listFlags(f *catFixture, filter, order, token string, size int32) *call {
	return &call{
		grpc: func(ctx context.Context) error {
			_, err := f.a.ListFlags(ctx, &chemledgerv1.ListFlagsRequest{Filter: filter, OrderBy: order, PageToken: token, PageSize: size})
			return err
		},
		http: get("/v1/flags?" + pageQuery(filter, order, token, size)),
	}
}

func getEntry(f *catFixture, index uint64) *call {
	return &call{
		grpc: func(ctx context.Context) error {
			_, err := f.c.GetEntry(ctx, &chemledgerv1.GetEntryRequest{Index: index})
			return err
		},
		http: get("/v1/entries/" + strconv.FormatUint(index, 10)),
	}
}

func inclusionProof(f *catFixture, index, treeSize uint64) *call {
	return &call{
		grpc: func(ctx context.Context) error {
			_, err := f.c.GetInclusionProof(ctx, &chemledgerv1.GetInclusionProofRequest{Index: index, TreeSize: treeSize})
			return err
		},
		http: get(fmt.Sprintf("/v1/entries/%d/inclusion-proof?treeSize=%d", index, treeSize)),
	}
}

func consistencyProof(f *catFixture, first, second uint64) *call {
	return &call{
		grpc: func(ctx context.Context) error {
			_, err := f.c.GetConsistencyProof(ctx, &chemledgerv1.GetConsistencyProofRequest{First: first, Second: second})
			return err
		},
		http: get(fmt.Sprintf("/v1/consistency-proof?first=%d&second=%d", first, second)),
	}
}

func getFlag(f *catFixture, id string) *call {
	return &call{
		grpc: func(ctx context.Context) error {
			_, err := f.a.GetFlag(ctx, &chemledgerv1.GetFlagRequest{Id: id})
			return err
		},
		http: get("/v1/flags/" + url.PathEscape(id)),
	}
}

func getShipment(f *catFixture, ref string) *call {
	c := &call{grpc: func(ctx context.Context) error {
		_, err := f.a.GetShipment(ctx, &chemledgerv1.GetShipmentRequest{Ref: ref})
		return err
	}}
	if ref != "" {
		c.http = get("/v1/shipments/" + url.PathEscape(ref))
	}
	return c
}

func getStats(f *catFixture, filter string) *call {
	return &call{
		grpc: func(ctx context.Context) error {
			_, err := f.a.GetStats(ctx, &chemledgerv1.GetStatsRequest{Filter: filter})
			return err
		},
		http: get("/v1/stats?" + url.Values{"filter": {filter}}.Encode()),
	}
}

func rebuild(f *catFixture, asOf *timestamppb.Timestamp) *call {
	return &call{grpc: func(ctx context.Context) error {
		_, err := f.admin.RebuildDerivedState(ctx, &chemledgerv1.RebuildDerivedStateRequest{AsOf: asOf})
		return err
	}}
}

// bulk sends items over one BulkCreateEntries stream. Every item must be
// answered with the same error, which is returned as a status (an
// ItemError carries no domain: it is the stream's, chemledger.dev); a
// stream that fails returns its own status.
func bulk(f *catFixture, items ...bulkItem) *call {
	return &call{grpc: func(ctx context.Context) error {
		results, err := bulkResults(ctx, f.c, items)
		if err != nil {
			return err
		}
		if len(results) != len(items) {
			return status.Errorf(codes.Internal, "test: %d results for %d items", len(results), len(items))
		}
		var first *chemledgerv1.ItemError
		for i, r := range results {
			e := r.GetError()
			if e == nil {
				return status.Errorf(codes.Internal, "test: item %d (%s) accepted at index %d", i, items[i].id, r.GetIndex())
			}
			if first == nil {
				first = e
			} else if !proto.Equal(e, first) && (e.GetCode() != first.GetCode() || e.GetReason() != first.GetReason()) {
				return status.Errorf(codes.Internal, "test: item %d answered %v, item 0 %v", i, e, first)
			}
		}
		br := &errdetails.BadRequest{}
		for _, v := range first.GetFieldViolations() {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
		}
		st, err := status.New(codes.Code(first.GetCode()), first.GetMessage()).
			WithDetails(&errdetails.ErrorInfo{Reason: first.GetReason(), Domain: "chemledger.dev"}, br)
		if err != nil {
			return err
		}
		return st.Err()
	}}
}

// Expectations used by many rows.
func badInput(field string) expect {
	return expect{code: codes.InvalidArgument, reason: server.ReasonBadInput, field: field}
}

var (
	badFilterWant = expect{code: codes.InvalidArgument, reason: server.ReasonBadFilter, field: "filter"}
	badTokenWant  = expect{code: codes.InvalidArgument, reason: server.ReasonBadPageToken, field: "page_token"}
	noEntryWant   = expect{code: codes.NotFound, reason: server.ReasonEntryNotFound}
	treeSizeWant  = expect{code: codes.OutOfRange, reason: server.ReasonTreeSize}
	// grpc-go refuses a message over MaxRecvMsgSize before any handler
	// runs, with a status of its own.
	grpcTooLarge = expect{code: codes.ResourceExhausted, msg: "larger than max"}
	// The HTTP side refuses a body over MaxHTTPBody with 413.
	httpTooLarge = &expect{code: codes.ResourceExhausted, reason: server.ReasonBodyTooLarge, status: http.StatusRequestEntityTooLarge}
	duplicate    = expect{code: codes.AlreadyExists, reason: server.ReasonDuplicateEvent, field: "envelope.payload", msg: "already submitted"}
	// A method the path does not have: 405, with UNIMPLEMENTED and no
	// ErrorInfo in the body (grpc-gateway alone answered 501).
	wrongMethod = expect{code: codes.Unimplemented, status: http.StatusMethodNotAllowed, msg: "is not a method of"}
)

// nestedArrays is n '[' then n ']'.
func nestedArrays(n int) []byte {
	return []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
}

// nestedGroups is a protobuf message of n nested unknown groups (field 15).
func nestedGroups(n int) []byte {
	return append(bytes.Repeat([]byte{15<<3 | 3}, n), bytes.Repeat([]byte{15<<3 | 4}, n)...)
}

// Names for the confusable rows. "Аcme" and "Istmо" and "Nоrthbrook" carry
// Cyrillic letters (А U+0410, о U+043E) where the genuine names have Latin
// ones.
const (
	acmeGenuine    = "Acme Chemicals"
	acmeCyrillic   = "\u0410cme Chemicals"
	northbrookFake = "N\u043erthbrook Pharma Ingredients Inc."
	navieraFake    = "Naviera Cristalina del Istm\u043e S.A."
	navieraListed  = "Naviera Cristalina del Istmo S.A."
)

// flagsOn lists the flags on a shipment.
func flagsOn(tb testing.TB, f *catFixture, ref string) []*chemledgerv1.Flag {
	tb.Helper()
	waitDerived(tb, f.in)
	resp, err := f.a.ListFlags(tb.Context(), &chemledgerv1.ListFlagsRequest{Filter: fmt.Sprintf("shipment_ref = %q", ref)})
	if err != nil {
		tb.Fatalf("ListFlags(%s): %v", ref, err)
	}
	return resp.GetFlags()
}

// consigneeOf is the consignee name entry index holds, as stored.
func consigneeOf(tb testing.TB, f *catFixture, index uint64) string {
	tb.Helper()
	e, err := f.c.GetEntry(tb.Context(), &chemledgerv1.GetEntryRequest{Index: index})
	if err != nil {
		tb.Fatalf("GetEntry(%d): %v", index, err)
	}
	return e.GetEvent().GetConsignee().GetName()
}

// shipmentConsignees are the consignee names of a shipment's legs.
func shipmentConsignees(tb testing.TB, f *catFixture, ref string) []string {
	tb.Helper()
	sh, err := f.a.GetShipment(tb.Context(), &chemledgerv1.GetShipmentRequest{Ref: ref})
	if err != nil {
		tb.Fatalf("GetShipment(%s): %v", ref, err)
	}
	var out []string
	for _, l := range sh.GetLegs() {
		out = append(out, l.GetConsignee())
	}
	return out
}

func catalogueRows() []catRow {
	inv := func(field string) expect { return badInput(field) }
	var rows []catRow
	add := func(endpoint string, rs ...catRow) {
		for _, r := range rs {
			r.endpoint = endpoint
			rows = append(rows, r)
		}
	}

	// ---- LedgerService.CreateEntry ----
	add("CreateEntry",
		// (a) Unicode confusables in company names: accepted verbatim as a
		// distinct party, never merged with the genuine one.
		catRow{name: "consignee 'Аcme Chemicals' with a Cyrillic А beside the genuine 'Acme Chemicals'",
			call: func(tb testing.TB, f *catFixture) *call {
				// The genuine company first, on a shipment of its own.
				gid, genv := f.fresh(tb, 0, func(ev *chemledgerv1.ShipmentEvent) {
					ev.ShipmentRef, ev.Consignee.Name, ev.Consignee.Identifiers = "PEN-IN-2026-ACME-1", acmeGenuine, nil
				})
				if _, err := f.c.CreateEntry(tb.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: gid, Envelope: genv}); err != nil {
					tb.Fatalf("the genuine Acme Chemicals: %v", err)
				}
				id, env := f.fresh(tb, 0, func(ev *chemledgerv1.ShipmentEvent) {
					ev.ShipmentRef, ev.Consignee.Name, ev.Consignee.Identifiers = "PEN-IN-2026-ACME-2", acmeCyrillic, nil
				})
				return submission(f, id, env)
			},
			want: expect{code: codes.OK},
			check: func(tb testing.TB, f *catFixture, r *chemledgerv1.Receipt) {
				if got := consigneeOf(tb, f, r.GetIndex()); got != acmeCyrillic {
					tb.Errorf("entry %d consignee %q (% x), want %q verbatim", r.GetIndex(), got, got, acmeCyrillic)
				}
				if got := shipmentConsignees(tb, f, "PEN-IN-2026-ACME-2"); !slices.Equal(got, []string{acmeCyrillic}) {
					tb.Errorf("shipment PEN-IN-2026-ACME-2 consignees %q, want [%q]", got, acmeCyrillic)
				}
				if got := shipmentConsignees(tb, f, "PEN-IN-2026-ACME-1"); !slices.Equal(got, []string{acmeGenuine}) {
					tb.Errorf("shipment PEN-IN-2026-ACME-1 consignees %q, want [%q]: the genuine company's record changed", got, acmeGenuine)
				}
			}},
		catRow{name: "consignee 'Nоrthbrook Pharma Ingredients Inc.' (Cyrillic о) of a licensed company's name, on an import declaration",
			call: freshEvent(13, func(ev *chemledgerv1.ShipmentEvent) {
				// The examples' Northbrook holds licence RN4829151 for this
				// chemical in the US, whose register the policy treats as
				// complete. The look-alike names no identifier.
				ev.ShipmentRef = "PEN-IN-2026-NORTHBR-1"
				ev.Consignee.Name, ev.Consignee.Identifiers = northbrookFake, nil
				ev.Importer.Name, ev.Importer.Identifiers = northbrookFake, nil
			}),
			want: expect{code: codes.OK},
			check: func(tb testing.TB, f *catFixture, r *chemledgerv1.Receipt) {
				if got := consigneeOf(tb, f, r.GetIndex()); got != northbrookFake {
					tb.Errorf("entry %d consignee %q, want %q verbatim", r.GetIndex(), got, northbrookFake)
				}
				if got := shipmentConsignees(tb, f, "PEN-IN-2026-NORTHBR-1"); !slices.Equal(got, []string{northbrookFake}) {
					tb.Errorf("shipment consignees %q, want [%q]", got, northbrookFake)
				}
				// Not merged: the genuine company's licence does not cover
				// the look-alike, so R6 flags it by its own name ...
				var r6 *chemledgerv1.Flag
				for _, fl := range flagsOn(tb, f, "PEN-IN-2026-NORTHBR-1") {
					if fl.GetRuleId() == "R6" {
						r6 = fl
					}
				}
				if r6 == nil || !strings.Contains(r6.GetExplanation(), northbrookFake) {
					tb.Errorf("no R6 flag naming %q on its shipment (%v): the look-alike was merged with the licensed Northbrook", northbrookFake, r6)
				}
				// ... while the genuine company's own import is not flagged.
				for _, fl := range flagsOn(tb, f, "PEN-IN-2026-001204") {
					if fl.GetRuleId() == "R6" {
						tb.Errorf("the genuine, licensed Northbrook is flagged: %v", fl)
					}
				}
			}},
		catRow{name: "consignee 'Naviera Cristalina del Istmо S.A.' (Cyrillic о) of a watch-listed name",
			call: freshEvent(0, func(ev *chemledgerv1.ShipmentEvent) {
				ev.ShipmentRef = "PEN-IN-2026-NAVIERA-1"
				ev.Consignee.Name, ev.Consignee.Country, ev.Consignee.Identifiers = navieraFake, "PA", nil
			}),
			want: expect{code: codes.OK},
			check: func(tb testing.TB, f *catFixture, r *chemledgerv1.Receipt) {
				if got := consigneeOf(tb, f, r.GetIndex()); got != navieraFake {
					tb.Errorf("entry %d consignee %q, want %q verbatim", r.GetIndex(), got, navieraFake)
				}
				// R27 matches it to the listed company across the look-alike
				// letter, and names both: the party as declared and the
				// entry it matches.
				var r27 *chemledgerv1.Flag
				for _, fl := range flagsOn(tb, f, "PEN-IN-2026-NAVIERA-1") {
					if fl.GetRuleId() == "R27" {
						r27 = fl
					}
				}
				if r27 == nil {
					tb.Fatalf("no R27 flag on the look-alike of the watch-listed %q", navieraListed)
				}
				if x := r27.GetExplanation(); !strings.Contains(x, navieraFake+" (PA)") || !strings.Contains(x, "matches "+navieraListed) {
					tb.Errorf("R27 explanation %q: want it to name %q as declared and the listed %q", x, navieraFake, navieraListed)
				}
				if !slices.Contains(r27.GetEvidence(), r.GetIndex()) {
					tb.Errorf("R27 evidence %v does not include entry %d", r27.GetEvidence(), r.GetIndex())
				}
			}},
		catRow{name: "consignee name with a zero-width joiner inside 'Acme Chemicals'",
			call: freshEvent(0, func(ev *chemledgerv1.ShipmentEvent) { ev.Consignee.Name = "Ac\u200dme Chemicals" }),
			want: inv("event.consignee.name")},
		catRow{name: "importer name with a right-to-left override",
			call: freshEvent(0, func(ev *chemledgerv1.ShipmentEvent) { ev.Importer.Name = "Northbrook \u202ePharma" }),
			want: inv("event.importer.name")},
		catRow{name: "exporter name with a control character",
			call: freshEvent(0, func(ev *chemledgerv1.ShipmentEvent) { ev.Exporter.Name = "Sarvodaya\x07 Fine Chemicals" }),
			want: inv("event.exporter.name")},

		// (b) Replays of old signed envelopes under new submission ids.
		catRow{name: "old event envelope replayed under a new submission id",
			call: func(tb testing.TB, f *catFixture) *call {
				c := submission(f, "replay-of-entry-0", f.exs[0].env)
				c.msg = "as entry 0"
				return c
			},
			want: duplicate},
		catRow{name: "old event envelope re-wrapped (same payload and signature, JSON re-indented)",
			call: func(tb testing.TB, f *catFixture) *call {
				var b bytes.Buffer
				if err := json.Indent(&b, f.exs[1].env, "", "  "); err != nil {
					tb.Fatal(err)
				}
				c := submission(f, "replay-rewrapped", b.Bytes())
				c.msg = "as entry 1"
				return c
			},
			want: duplicate},
		catRow{name: "old event re-encoded as a protobuf payload and signed again by its member",
			call: func(tb testing.TB, f *catFixture) *call {
				p, err := proto.Marshal(f.exs[2].line.Event)
				if err != nil {
					tb.Fatal(err)
				}
				c := submission(f, "replay-reencoded", signAs(tb, f.in, f.exs[2].member, envelope.PayloadTypeEventProto, p))
				c.msg = "as entry 2"
				return c
			},
			want: duplicate},
		catRow{name: "old licence (registry entry) replayed under a new submission id",
			call: func(tb testing.TB, f *catFixture) *call {
				c := submission(f, "replay-licence", f.licence)
				c.msg = fmt.Sprintf("as entry %d", f.licenceIndex)
				return c
			},
			want: duplicate},
		catRow{name: "old disposition replayed under a new submission id",
			call: func(tb testing.TB, f *catFixture) *call {
				c := submission(f, "replay-disposition", f.disp)
				c.msg = fmt.Sprintf("as entry %d", f.dispIndex)
				return c
			},
			want: duplicate},
		catRow{name: "old event with a new event_id (a new event, accepted)",
			call: freshEvent(0, nil),
			want: expect{code: codes.OK},
			check: func(tb testing.TB, f *catFixture, r *chemledgerv1.Receipt) {
				e, err := f.c.GetEntry(tb.Context(), &chemledgerv1.GetEntryRequest{Index: r.GetIndex()})
				if err != nil {
					tb.Fatal(err)
				}
				if !strings.HasPrefix(e.GetEvent().GetEventId(), "CAT-") || e.GetEvent().GetShipmentRef() != f.exs[0].line.Event.GetShipmentRef() {
					tb.Errorf("entry %d: event %q of %q", r.GetIndex(), e.GetEvent().GetEventId(), e.GetEvent().GetShipmentRef())
				}
			}},

		// (c) Oversized.
		catRow{name: "HTTP body of exactly the limit + 1 bytes (Content-Length)",
			call: func(_ testing.TB, f *catFixture) *call {
				return &call{http: postJSON("/v1/entries", bodyOfSize(server.DefaultMaxHTTPBody+1))}
			},
			want: *httpTooLarge},
		catRow{name: "HTTP body of the limit + 1 bytes, chunked",
			call: func(_ testing.TB, f *catFixture) *call {
				r := postJSON("/v1/entries", nil)
				r.body = unsized{bytes.NewReader(bodyOfSize(server.DefaultMaxHTTPBody + 1))}
				return &call{http: r}
			},
			want: *httpTooLarge},
		catRow{name: "HTTP body at the limit: read, and refused for its envelope's size",
			call: func(_ testing.TB, f *catFixture) *call {
				return &call{http: postJSON("/v1/entries", bodyOfSize(server.DefaultMaxHTTPBody))}
			},
			want: inv("envelope")},
		catRow{name: "gRPC message one byte over MaxRecvMsgSize",
			call: func(_ testing.TB, f *catFixture) *call {
				c := submission(f, "too-big", make([]byte, server.DefaultMaxRecvMsgSize+1))
				c.http, c.sub = nil, nil
				return c
			},
			want: grpcTooLarge},
		// (c') Protobuf no library encodes: INVALID_ARGUMENT like an HTTP
		// body that does not decode (grpc-go alone answered INTERNAL).
		catRow{name: "gRPC message with an 11-byte varint", call: malformedMessage(0), want: inv("body")},
		catRow{name: "gRPC message with a length past its end", call: malformedMessage(1), want: inv("body")},
		catRow{name: "gRPC message with invalid UTF-8 in submission_id", call: malformedMessage(2), want: inv("submission_id")},
		catRow{name: "envelope one byte over MaxEnvelopeBytes (within both transport limits)",
			call: freshEnvelope(func(tb testing.TB, f *catFixture) []byte {
				env := f.raw(tb, envelope.PayloadTypeEventJSON, f.line0(), f.member0())
				return append(env, bytes.Repeat([]byte(" "), envelope.MaxEnvelopeBytes+1-len(env))...)
			}),
			want: inv("envelope")},

		// (d) Deeply nested JSON: refused at the first token that cannot
		// be, no recursion, no panic.
		catRow{name: "HTTP body of 90,000 '[' (under the body limit)",
			call: rawBody("/v1/entries", func(*catFixture) []byte { return bytes.Repeat([]byte("["), 90_000) }),
			want: inv("body")},
		catRow{name: "HTTP body of 100,000 '[' (over the body limit)",
			call: rawBody("/v1/entries", func(*catFixture) []byte { return bytes.Repeat([]byte("["), 100_000) }),
			want: *httpTooLarge},
		catRow{name: "HTTP body of 15,000 nested objects",
			call: rawBody("/v1/entries", func(*catFixture) []byte {
				return []byte(strings.Repeat(`{"submissionId":`, 5_000) + `"x"` + strings.Repeat("}", 5_000))
			}),
			want: inv("body")},
		catRow{name: "HTTP body whose envelope is 40,000 nested arrays",
			call: rawBody("/v1/entries", func(*catFixture) []byte {
				return append(append([]byte(`{"submissionId":"nested","envelope":`), nestedArrays(40_000)...), '}')
			}),
			want: inv("body")},
		catRow{name: "payload of 20,000 nested JSON arrays",
			call: freshEnvelope(func(tb testing.TB, f *catFixture) []byte {
				return signAs(tb, f.in, f.member0(), envelope.PayloadTypeEventJSON, nestedArrays(20_000))
			}),
			want: inv("envelope.payload")},
		catRow{name: "payload of 3,000 nested JSON objects in a known field",
			call: freshEnvelope(func(tb testing.TB, f *catFixture) []byte {
				p := strings.Repeat(`{"chemical":`, 3_000) + "{}" + strings.Repeat("}", 3_000)
				return signAs(tb, f.in, f.member0(), envelope.PayloadTypeEventJSON, []byte(p))
			}),
			want: inv("envelope.payload")},
		catRow{name: "payload of 12,000 nested protobuf groups",
			call: freshEnvelope(func(tb testing.TB, f *catFixture) []byte {
				return signAs(tb, f.in, f.member0(), envelope.PayloadTypeEventProto, nestedGroups(12_000))
			}),
			want: inv("envelope.payload")},
		catRow{name: "registry payload of 20,000 nested JSON arrays",
			call: freshEnvelope(func(tb testing.TB, f *catFixture) []byte {
				return signAs(tb, f.in, "MX-ANAM", envelope.PayloadTypeRegistryJSON, nestedArrays(20_000))
			}),
			want: inv("envelope.payload")},
		catRow{name: "envelope with an unknown key holding 20,000 nested arrays",
			call: freshEnvelope(func(tb testing.TB, f *catFixture) []byte {
				env := f.raw(tb, envelope.PayloadTypeEventJSON, f.line0(), f.member0())
				return append(append([]byte(`{"x":`), nestedArrays(20_000)...), append([]byte(","), env[1:]...)...)
			}),
			want: inv("envelope")},
		catRow{name: "envelope whose payloadType is 20,000 nested arrays",
			call: freshEnvelope(func(testing.TB, *catFixture) []byte {
				return append(append([]byte(`{"payloadType":`), nestedArrays(20_000)...), '}')
			}),
			want: inv("envelope")},

		// (e) The rest.
		catRow{name: "CAS check digit wrong", call: freshEvent(0, func(ev *chemledgerv1.ShipmentEvent) { ev.Chemical.Cas = "90-82-5" }), want: inv("event.chemical.cas")},
		catRow{name: "quantity NaN", call: freshEvent(0, func(ev *chemledgerv1.ShipmentEvent) { ev.Quantity.Value = math.NaN() }), want: inv("event.quantity.value")},
		catRow{name: "shipment_ref with a space", call: freshEvent(0, func(ev *chemledgerv1.ShipmentEvent) { ev.ShipmentRef = "PEN IN 2026" }), want: inv("event.shipment_ref")},
		catRow{name: "shipment_ref with a Cyrillic letter", call: freshEvent(0, func(ev *chemledgerv1.ShipmentEvent) { ev.ShipmentRef = "PEN-\u0406N-2026-001204" }), want: inv("event.shipment_ref")},
		catRow{name: "reference to an entry beyond the log", call: freshEvent(0, func(ev *chemledgerv1.ShipmentEvent) {
			ev.References = []*chemledgerv1.EntryReference{{Index: 1 << 40, Relation: chemledgerv1.Relation_RELATION_FOLLOWS}}
		}), want: inv("event.references[0].index")},
		catRow{name: "submission id with a space",
			call: func(tb testing.TB, f *catFixture) *call {
				_, env := f.fresh(tb, 0, nil)
				return submission(f, "IN-NCB:PEN 1204", env)
			},
			want: inv("submission_id")},
		catRow{name: "submission id reused with other bytes",
			call: func(tb testing.TB, f *catFixture) *call {
				_, env := f.fresh(tb, 0, nil)
				return submission(f, f.exs[0].id, env)
			},
			want: expect{code: codes.AlreadyExists, reason: server.ReasonSubmissionReuse, field: "submission_id"}},
		catRow{name: "envelope empty", call: freshEnvelope(func(testing.TB, *catFixture) []byte { return nil }), want: inv("envelope")},
		catRow{name: "payload type not accepted", call: freshEnvelope(func(tb testing.TB, f *catFixture) []byte {
			return f.raw(tb, "application/json", f.line0(), f.member0())
		}), want: inv("envelope.payload_type")},
		catRow{name: "signature by a key no member holds", call: freshEnvelope(func(tb testing.TB, f *catFixture) []byte {
			k, err := members.GenerateKey("XX-OUTSIDER")
			if err != nil {
				tb.Fatal(err)
			}
			env, err := envelope.Sign(envelope.PayloadTypeEventJSON, f.line0(), k.Signer())
			if err != nil {
				tb.Fatal(err)
			}
			return env
		}), want: inv("envelope.signatures[0].keyid")},
		catRow{name: "signature by a revoked key", call: freshEnvelope(func(tb testing.TB, f *catFixture) []byte {
			return signedBy(tb, envelope.PayloadTypeEventJSON, f.exs[1].line.Raw, f.revoked)
		}), want: expect{code: codes.PermissionDenied, reason: server.ReasonKeyRevoked, field: "envelope.signatures[0].keyid"}},
		catRow{name: "HTTP body with an unknown field",
			call: rawBody("/v1/entries", func(f *catFixture) []byte {
				return append([]byte(`{"priority":"high",`), entryBody("cat-unknown", f.exs[0].env)[1:]...)
			}),
			want: inv("priority")},
		catRow{name: "HTTP body not JSON",
			call: rawBody("/v1/entries", func(*catFixture) []byte { return []byte("submissionId=x&envelope=y") }),
			want: inv("body")},
		catRow{name: "HTTP body with the envelope not base64",
			call: rawBody("/v1/entries", func(*catFixture) []byte { return []byte(`{"submissionId":"x","envelope":"{not base64}"}`) }),
			want: inv("body")},
		catRow{name: "HTTP body with trailing data",
			call: rawBody("/v1/entries", func(f *catFixture) []byte {
				return append(entryBody("cat-trailing", f.exs[0].env), " {}"...)
			}),
			want: inv("body")},
	)

	// ---- LedgerService.BulkCreateEntries (no HTTP binding) ----
	add("BulkCreateEntries",
		catRow{name: "old event replayed twice in one stream",
			call: func(_ testing.TB, f *catFixture) *call {
				c := bulk(f, bulkItem{id: "bulk-replay-1", env: f.exs[0].env}, bulkItem{id: "bulk-replay-2", env: f.exs[0].env})
				c.msg = "as entry 0"
				return c
			},
			want: duplicate},
		catRow{name: "old disposition replayed in a stream",
			call: func(_ testing.TB, f *catFixture) *call {
				return bulk(f, bulkItem{id: "bulk-replay-disp", env: f.disp})
			},
			want: duplicate},
		catRow{name: "item with a bad CAS",
			call: func(tb testing.TB, f *catFixture) *call {
				id, env := f.fresh(tb, 0, func(ev *chemledgerv1.ShipmentEvent) { ev.Chemical.Cas = "90-82-5" })
				return bulk(f, bulkItem{id: id, env: env})
			},
			want: inv("event.chemical.cas")},
		catRow{name: "submission id reused with other bytes",
			call: func(tb testing.TB, f *catFixture) *call {
				_, env := f.fresh(tb, 0, nil)
				return bulk(f, bulkItem{id: f.exs[1].id, env: env})
			},
			want: expect{code: codes.AlreadyExists, reason: server.ReasonSubmissionReuse, field: "submission_id"}},
		catRow{name: "item with an empty envelope",
			call: func(_ testing.TB, f *catFixture) *call { return bulk(f, bulkItem{id: "bulk-empty", env: nil}) },
			want: inv("envelope")},
		catRow{name: "item whose payload is 20,000 nested arrays",
			call: func(tb testing.TB, f *catFixture) *call {
				return bulk(f, bulkItem{id: "bulk-nested", env: signAs(tb, f.in, f.member0(), envelope.PayloadTypeEventJSON, nestedArrays(20_000))})
			},
			want: inv("envelope.payload")},
		catRow{name: "item signed by a revoked key",
			call: func(tb testing.TB, f *catFixture) *call {
				env := signedBy(tb, envelope.PayloadTypeEventJSON, f.exs[1].line.Raw, f.revoked)
				return bulk(f, bulkItem{id: "bulk-revoked", env: env})
			},
			want: expect{code: codes.PermissionDenied, reason: server.ReasonKeyRevoked, field: "envelope.signatures[0].keyid"}},
		catRow{name: "item over the message limit: the stream ends",
			call: func(_ testing.TB, f *catFixture) *call {
				return bulk(f, bulkItem{id: "bulk-too-big", env: make([]byte, server.DefaultMaxRecvMsgSize+1)})
			},
			want: grpcTooLarge},
	)

	// ---- LedgerService.GetEntry ----
	add("GetEntry",
		catRow{name: "index at the end of the log", call: func(tb testing.TB, f *catFixture) *call { return getEntry(f, f.size(tb)) }, want: noEntryWant},
		catRow{name: "index 2^64-1", call: func(_ testing.TB, f *catFixture) *call { return getEntry(f, math.MaxUint64) }, want: noEntryWant},
		catRow{name: "HTTP index not a number", call: func(testing.TB, *catFixture) *call { return &call{http: get("/v1/entries/first")} }, want: inv("index")},
		catRow{name: "HTTP index negative", call: func(testing.TB, *catFixture) *call { return &call{http: get("/v1/entries/-1")} }, want: inv("index")},
		catRow{name: "HTTP index 2^64 (overflows uint64)", call: func(testing.TB, *catFixture) *call {
			return &call{http: get("/v1/entries/18446744073709551616")}
		}, want: inv("index")},
		catRow{name: "HTTP index with a fraction", call: func(testing.TB, *catFixture) *call { return &call{http: get("/v1/entries/1.5")} }, want: inv("index")},
	)

	// ---- LedgerService.ListEntries ----
	for _, l := range []struct {
		name, filter, token string
		size                int32
		want                expect
	}{
		{name: "filter on an unknown field", filter: `colour = "red"`, want: badFilterWant},
		{name: "filter with OR", filter: `member = "US-CBP" OR member = "MX-ANAM"`, want: badFilterWant},
		{name: "filter with an unterminated string", filter: `shipment_ref = "PEN-IN-2026`, want: badFilterWant},
		{name: "filter on an unknown kind", filter: `kind = SMUGGLING`, want: badFilterWant},
		{name: "filter with a time that is not RFC 3339", filter: `integrated_time >= "yesterday"`, want: badFilterWant},
		{name: "filter with !=", filter: `member != "US-CBP"`, want: badFilterWant},
		{name: "filter ending in AND", filter: `member = "US-CBP" AND`, want: badFilterWant},
		{name: "filter over 1024 bytes", filter: `member = "` + strings.Repeat("M", 1100) + `"`, want: badFilterWant},
		{name: "filter with a Cyrillic look-alike in an unquoted value", filter: "kind = EXP\u041eRT_DECLARATION", want: badFilterWant},
		{name: "page token not ours", token: "bm90LWEtdG9rZW4", want: badTokenWant},
		{name: "page token not base64", token: "%%%", want: badTokenWant},
		{name: "page size negative", size: -1, want: badInput("page_size")},
	} {
		add("ListEntries", catRow{name: l.name, call: func(_ testing.TB, f *catFixture) *call { return listEntries(f, l.filter, l.token, l.size) }, want: l.want})
	}
	add("ListEntries",
		catRow{name: "page token of another filter", call: func(_ testing.TB, f *catFixture) *call {
			return listEntries(f, "kind = PEN_REPLY", f.token, 0)
		}, want: badTokenWant},
		catRow{name: "page token cut short by one character", call: func(_ testing.TB, f *catFixture) *call {
			return listEntries(f, f.tokenFilter, f.token[:len(f.token)-1], 0)
		}, want: badTokenWant},
		catRow{name: "HTTP page size not a number", call: func(testing.TB, *catFixture) *call { return &call{http: get("/v1/entries?pageSize=ten")} }, want: inv("page_size")},
		catRow{name: "HTTP page size over int32", call: func(testing.TB, *catFixture) *call { return &call{http: get("/v1/entries?pageSize=4294967296")} }, want: inv("page_size")},
	)

	// ---- LedgerService.GetCheckpoint (takes no input: only the HTTP
	// method can be wrong) ----
	add("GetCheckpoint",
		catRow{name: "HTTP POST", call: func(testing.TB, *catFixture) *call {
			return &call{http: postJSON("/v1/checkpoint", []byte("{}"))}
		}, want: wrongMethod},
		catRow{name: "HTTP DELETE", call: func(testing.TB, *catFixture) *call {
			return &call{http: &httpReq{method: http.MethodDelete, path: "/v1/checkpoint"}}
		}, want: wrongMethod},
	)

	// ---- LedgerService.GetInclusionProof ----
	add("GetInclusionProof",
		catRow{name: "index beyond the end", call: func(tb testing.TB, f *catFixture) *call { return inclusionProof(f, f.size(tb)+3, 0) }, want: noEntryWant},
		catRow{name: "index 2^64-1", call: func(_ testing.TB, f *catFixture) *call { return inclusionProof(f, math.MaxUint64, 0) }, want: noEntryWant},
		catRow{name: "tree size beyond the log", call: func(tb testing.TB, f *catFixture) *call { return inclusionProof(f, 0, f.size(tb)+1) }, want: treeSizeWant},
		catRow{name: "tree size 2^64-1", call: func(_ testing.TB, f *catFixture) *call { return inclusionProof(f, 0, math.MaxUint64) }, want: treeSizeWant},
		catRow{name: "tree the entry is not in (index = tree size)", call: func(_ testing.TB, f *catFixture) *call { return inclusionProof(f, 3, 3) }, want: treeSizeWant},
		catRow{name: "HTTP index not a number", call: func(testing.TB, *catFixture) *call { return &call{http: get("/v1/entries/x/inclusion-proof")} }, want: inv("index")},
		catRow{name: "HTTP tree size not a number", call: func(testing.TB, *catFixture) *call {
			return &call{http: get("/v1/entries/0/inclusion-proof?treeSize=big")}
		}, want: inv("tree_size")},
		catRow{name: "HTTP tree size negative", call: func(testing.TB, *catFixture) *call {
			return &call{http: get("/v1/entries/0/inclusion-proof?tree_size=-2")}
		}, want: inv("tree_size")},
	)

	// ---- LedgerService.GetConsistencyProof ----
	add("GetConsistencyProof",
		catRow{name: "first 0", call: func(_ testing.TB, f *catFixture) *call { return consistencyProof(f, 0, 2) }, want: badInput("first")},
		catRow{name: "first after second", call: func(_ testing.TB, f *catFixture) *call { return consistencyProof(f, 4, 2) }, want: treeSizeWant},
		catRow{name: "second beyond the log", call: func(tb testing.TB, f *catFixture) *call { return consistencyProof(f, 1, f.size(tb)+1) }, want: treeSizeWant},
		catRow{name: "first beyond the log, second the latest", call: func(tb testing.TB, f *catFixture) *call { return consistencyProof(f, f.size(tb)+1, 0) }, want: treeSizeWant},
		catRow{name: "first 2^64-1", call: func(_ testing.TB, f *catFixture) *call { return consistencyProof(f, math.MaxUint64, 0) }, want: treeSizeWant},
		catRow{name: "HTTP first negative", call: func(testing.TB, *catFixture) *call {
			return &call{http: get("/v1/consistency-proof?first=-1&second=2")}
		}, want: inv("first")},
		catRow{name: "HTTP second not a number", call: func(testing.TB, *catFixture) *call {
			return &call{http: get("/v1/consistency-proof?first=1&second=latest")}
		}, want: inv("second")},
	)

	// ---- AnalystService.ListFlags ----
	for _, l := range []struct {
		name, filter, order, token string
		size                       int32
		want                       expect
	}{
		{name: "filter on an unknown field", filter: `colour = "red"`, want: badFilterWant},
		{name: "filter with a severity that is none", filter: `severity = "loud"`, want: badFilterWant},
		{name: "filter with a status that is none", filter: `status = CLOSED`, want: badFilterWant},
		{name: "filter with OR", filter: `rule_id = "R1" OR rule_id = "R6"`, want: badFilterWant},
		{name: "filter with a raised_time that is not RFC 3339", filter: `raised_time > "last week"`, want: badFilterWant},
		{name: "filter over 1024 bytes", filter: `rule_id = "` + strings.Repeat("R", 1100) + `"`, want: badFilterWant},
		{name: "order_by on a field that does not order", order: "explanation asc", want: badInput("order_by")},
		{name: "order_by ascending severity", order: "severity asc", want: badInput("order_by")},
		{name: "page size negative", size: -5, want: badInput("page_size")},
		{name: "page token not ours", token: "bm90LWEtdG9rZW4", want: badTokenWant},
		{name: "page token not base64", token: "xyz!", want: badTokenWant},
	} {
		add("ListFlags", catRow{name: l.name, call: func(_ testing.TB, f *catFixture) *call { return listFlags(f, l.filter, l.order, l.token, l.size) }, want: l.want})
	}
	add("ListFlags",
		catRow{name: "page token of another filter", call: func(_ testing.TB, f *catFixture) *call {
			return listFlags(f, `rule_id = "R1"`, "", f.flagToken, 0)
		}, want: badTokenWant},
		catRow{name: "page token of another order", call: func(_ testing.TB, f *catFixture) *call {
			return listFlags(f, "", "severity desc", f.flagToken, 0)
		}, want: badTokenWant},
		catRow{name: "HTTP page size not a number", call: func(testing.TB, *catFixture) *call { return &call{http: get("/v1/flags?pageSize=all")} }, want: inv("page_size")},
		// A misspelt parameter used to be ignored, listing every flag.
		catRow{name: "HTTP unknown query parameter (a misspelt filter)", call: func(testing.TB, *catFixture) *call {
			return &call{http: get("/v1/flags?fitler=" + url.QueryEscape(`rule_id = "R1"`))}
		}, want: expect{code: codes.InvalidArgument, reason: server.ReasonBadInput, field: "fitler", msg: "unknown query parameter"}},
	)
	add("ListEntries",
		catRow{name: "HTTP unknown query parameter", call: func(testing.TB, *catFixture) *call {
			return &call{http: get("/v1/entries?shipment_ref=PEN-CN-2026-000871")}
		}, want: expect{code: codes.InvalidArgument, reason: server.ReasonBadInput, field: "shipment_ref", msg: "unknown query parameter"}},
	)

	// ---- AnalystService.GetFlag ----
	notFlag := expect{code: codes.NotFound, reason: server.ReasonFlagNotFound}
	add("GetFlag",
		catRow{name: "unknown flag id", call: func(_ testing.TB, f *catFixture) *call { return getFlag(f, "R1-ffffffffffff") }, want: notFlag},
		catRow{name: "flag id not of the form", call: func(_ testing.TB, f *catFixture) *call { return getFlag(f, "not-a-flag") }, want: notFlag},
		catRow{name: "flag id with a Cyrillic look-alike of a real one", call: func(_ testing.TB, f *catFixture) *call {
			return getFlag(f, "\u0420"+f.flag[1:]) // Р, U+0420
		}, want: notFlag},
		catRow{name: "flag id of 10,000 characters", call: func(_ testing.TB, f *catFixture) *call { return getFlag(f, strings.Repeat("R", 10_000)) }, want: notFlag},
		catRow{name: "empty flag id (gRPC)", call: func(_ testing.TB, f *catFixture) *call {
			c := getFlag(f, "")
			c.http = nil
			return c
		}, want: notFlag},
	)

	// ---- AnalystService.CreateDisposition ----
	dispOf := func(flag string, st chemledgerv1.DispositionStatus, note string) *chemledgerv1.Disposition {
		return &chemledgerv1.Disposition{FlagId: flag, Status: st, Note: note}
	}
	const dismissed = chemledgerv1.DispositionStatus_DISPOSITION_STATUS_DISMISSED
	add("CreateDisposition",
		catRow{name: "disposition of an unknown flag", call: func(tb testing.TB, f *catFixture) *call {
			return disposition(f, "R1-ffffffffffff", "US-CBP:cat-d1", f.dispositionEnv(tb, "US-CBP", dispOf("R1-ffffffffffff", dismissed, "n")))
		}, want: expect{code: codes.NotFound, reason: server.ReasonFlagNotFound}},
		catRow{name: "disposition of another flag than the one in the path", call: func(tb testing.TB, f *catFixture) *call {
			return disposition(f, "R1-000000000000", "US-CBP:cat-d2", f.dispositionEnv(tb, "US-CBP", dispOf(f.flag, dismissed, "n")))
		}, want: inv("id")},
		catRow{name: "disposition by a key no member holds", call: func(tb testing.TB, f *catFixture) *call {
			k, err := members.GenerateKey("XX-OUTSIDER")
			if err != nil {
				tb.Fatal(err)
			}
			p, _ := protojson.Marshal(dispOf(f.flag, dismissed, "nothing to see"))
			env, err := envelope.Sign(envelope.PayloadTypeDispositionJSON, p, k.Signer())
			if err != nil {
				tb.Fatal(err)
			}
			return disposition(f, f.flag, "outsider-1", env)
		}, want: inv("envelope.signatures[0].keyid")},
		catRow{name: "disposition by a revoked key", call: func(tb testing.TB, f *catFixture) *call {
			p, _ := protojson.Marshal(dispOf(f.flag, dismissed, "n"))
			return disposition(f, f.flag, "DE-ZOLL:cat-d3", signedBy(tb, envelope.PayloadTypeDispositionJSON, p, f.revoked))
		}, want: expect{code: codes.PermissionDenied, reason: server.ReasonKeyRevoked, field: "envelope.signatures[0].keyid"}},
		catRow{name: "a shipment event instead of a disposition", call: func(tb testing.TB, f *catFixture) *call {
			_, env := f.fresh(tb, 0, nil)
			return disposition(f, f.flag, "IN-NCB:cat-d4", env)
		}, want: inv("envelope.payload_type")},
		catRow{name: "disposition without a decision", call: func(tb testing.TB, f *catFixture) *call {
			return disposition(f, f.flag, "US-CBP:cat-d5", f.dispositionEnv(tb, "US-CBP", dispOf(f.flag, 0, "n")))
		}, want: inv("disposition.status")},
		catRow{name: "disposition without a note", call: func(tb testing.TB, f *catFixture) *call {
			return disposition(f, f.flag, "US-CBP:cat-d6", f.dispositionEnv(tb, "US-CBP", dispOf(f.flag, dismissed, "")))
		}, want: inv("disposition.note")},
		catRow{name: "disposition with a note one byte too long", call: func(tb testing.TB, f *catFixture) *call {
			note := strings.Repeat("n", validate.MaxDispositionNoteBytes+1)
			return disposition(f, f.flag, "US-CBP:cat-d7", f.dispositionEnv(tb, "US-CBP", dispOf(f.flag, dismissed, note)))
		}, want: inv("disposition.note")},
		catRow{name: "submission id with a slash", call: func(tb testing.TB, f *catFixture) *call {
			return disposition(f, f.flag, "US-CBP/cat-d8", f.dispositionEnv(tb, "US-CBP", dispOf(f.flag, dismissed, "n")))
		}, want: inv("submission_id")},
		catRow{name: "submission id reused with other bytes", call: func(tb testing.TB, f *catFixture) *call {
			return disposition(f, f.flag, f.dispID, f.dispositionEnv(tb, "MX-ANAM", dispOf(f.flag, dismissed, "changed my mind")))
		}, want: expect{code: codes.AlreadyExists, reason: server.ReasonSubmissionReuse, field: "submission_id"}},
		catRow{name: "old disposition replayed under a new submission id", call: func(_ testing.TB, f *catFixture) *call {
			c := disposition(f, f.flag, "MX-ANAM:disp-replayed", f.disp)
			c.msg = fmt.Sprintf("as entry %d", f.dispIndex)
			return c
		}, want: duplicate},
		catRow{name: "envelope empty", call: func(_ testing.TB, f *catFixture) *call { return disposition(f, f.flag, "US-CBP:cat-d9", nil) }, want: inv("envelope")},
		catRow{name: "payload of 20,000 nested JSON arrays", call: func(tb testing.TB, f *catFixture) *call {
			return disposition(f, f.flag, "US-CBP:cat-d10", signAs(tb, f.in, "US-CBP", envelope.PayloadTypeDispositionJSON, nestedArrays(20_000)))
		}, want: inv("envelope.payload")},
		catRow{name: "gRPC message over MaxRecvMsgSize", call: func(_ testing.TB, f *catFixture) *call {
			c := disposition(f, f.flag, "US-CBP:cat-d11", make([]byte, server.DefaultMaxRecvMsgSize+1))
			c.http = nil
			return c
		}, want: grpcTooLarge},
		catRow{name: "HTTP body of the limit + 1 bytes", call: func(_ testing.TB, f *catFixture) *call {
			return &call{http: postJSON("/v1/flags/"+f.flag+":disposition", bodyOfSize(server.DefaultMaxHTTPBody+1))}
		}, want: *httpTooLarge},
		catRow{name: "HTTP body with an unknown field", call: func(_ testing.TB, f *catFixture) *call {
			return &call{http: postJSON("/v1/flags/"+f.flag+":disposition", []byte(`{"submissionId":"x","verdict":"guilty"}`))}
		}, want: inv("verdict")},
		catRow{name: "HTTP body of 90,000 '['", call: func(_ testing.TB, f *catFixture) *call {
			return &call{http: postJSON("/v1/flags/"+f.flag+":disposition", bytes.Repeat([]byte("["), 90_000))}
		}, want: inv("body")},
	)

	// ---- AnalystService.GetShipment ----
	notShipment := expect{code: codes.NotFound, reason: server.ReasonShipmentNotFound}
	add("GetShipment",
		catRow{name: "empty ref (gRPC)", call: func(_ testing.TB, f *catFixture) *call { return getShipment(f, "") }, want: badInput("ref")},
		catRow{name: "ref of 65 characters", call: func(_ testing.TB, f *catFixture) *call { return getShipment(f, strings.Repeat("P", 65)) }, want: badInput("ref")},
		catRow{name: "unknown ref", call: func(_ testing.TB, f *catFixture) *call { return getShipment(f, "PEN-XX-0000-000000") }, want: notShipment},
		catRow{name: "ref with a space", call: func(_ testing.TB, f *catFixture) *call { return getShipment(f, "PEN CN 2026") }, want: badInput("ref")},
		catRow{name: "ref with a Cyrillic look-alike of a real one", call: func(_ testing.TB, f *catFixture) *call {
			return getShipment(f, "PEN-\u0421N-2026-000871") // С, U+0421
		}, want: badInput("ref")},
		catRow{name: "ref of a real one in lower case", call: func(_ testing.TB, f *catFixture) *call { return getShipment(f, "pen-cn-2026-000871") }, want: notShipment},
		// Dot segments and empty segments are refused as they are, never
		// cleaned and redirected (it was 307 to /etc/passwd).
		catRow{name: "HTTP path /v1/shipments/../../etc/passwd", call: func(testing.TB, *catFixture) *call {
			return &call{http: get("/v1/shipments/../../etc/passwd")}
		}, want: badInput("path")},
		catRow{name: "HTTP path with a . segment", call: func(testing.TB, *catFixture) *call {
			return &call{http: get("/v1/shipments/./PEN-CN-2026-000871")}
		}, want: badInput("path")},
		catRow{name: "HTTP path with an empty segment", call: func(testing.TB, *catFixture) *call {
			return &call{http: get("/v1//shipments/PEN-CN-2026-000871")}
		}, want: badInput("path")},
	)

	// ---- AnalystService.GetStats ----
	for _, s := range []struct{ name, filter string }{
		{"filter on an unknown field", "month = 3"},
		{"filter with a severity that is none", "severity = LOUD"},
		{"filter with a raised_time that is not RFC 3339", `raised_time >= "2026"`},
		{"filter with OR", `country = "MX" OR country = "PA"`},
		{"filter over 1024 bytes", `cas = "` + strings.Repeat("9", 1100) + `"`},
	} {
		add("GetStats", catRow{name: s.name, call: func(_ testing.TB, f *catFixture) *call { return getStats(f, s.filter) }, want: badFilterWant})
	}

	// ---- AnalystService.ListRules (takes no input: only the HTTP method
	// can be wrong) ----
	add("ListRules",
		catRow{name: "HTTP POST", call: func(testing.TB, *catFixture) *call { return &call{http: postJSON("/v1/rules", []byte("{}"))} }, want: wrongMethod},
	)

	// ---- AdminService.RebuildDerivedState ----
	add("RebuildDerivedState",
		catRow{name: "as_of with negative nanos (gRPC)", call: func(_ testing.TB, f *catFixture) *call {
			return rebuild(f, &timestamppb.Timestamp{Seconds: 1_780_000_000, Nanos: -1})
		}, want: badInput("as_of")},
		catRow{name: "as_of after the year 9999 (gRPC)", call: func(_ testing.TB, f *catFixture) *call {
			return rebuild(f, &timestamppb.Timestamp{Seconds: 1 << 62})
		}, want: badInput("as_of")},
		catRow{name: "HTTP asOf not a time", call: rawBody("/v1/derived:rebuild", func(*catFixture) []byte { return []byte(`{"asOf":"yesterday"}`) }), want: inv("body")},
		catRow{name: "HTTP asOf in the year 10000", call: rawBody("/v1/derived:rebuild", func(*catFixture) []byte {
			return []byte(`{"asOf":"10000-01-01T00:00:00Z"}`)
		}), want: inv("body")},
		catRow{name: "HTTP body with an unknown field", call: rawBody("/v1/derived:rebuild", func(*catFixture) []byte { return []byte(`{"force":true}`) }), want: inv("force")},
		catRow{name: "HTTP body of 90,000 '['", call: rawBody("/v1/derived:rebuild", func(*catFixture) []byte { return bytes.Repeat([]byte("["), 90_000) }), want: inv("body")},
		catRow{name: "HTTP GET", call: func(testing.TB, *catFixture) *call { return &call{http: get("/v1/derived:rebuild")} }, want: wrongMethod},
	)
	return rows
}

func TestBadInputCatalogue(t *testing.T) {
	f := newCatFixture(t)
	rows := catalogueRows()

	perEndpoint := map[string]int{}
	var order []string
	for _, r := range rows {
		if perEndpoint[r.endpoint] == 0 {
			order = append(order, r.endpoint)
		}
		perEndpoint[r.endpoint]++
	}
	for _, e := range order {
		t.Logf("%-20s %3d rows", e, perEndpoint[e])
	}
	t.Logf("%-20s %3d rows", "total", len(rows))
	if len(rows) < 60 {
		t.Errorf("%d rows, want at least 60", len(rows))
	}

	history := func() int {
		d, err := f.a.GetFlag(t.Context(), &chemledgerv1.GetFlagRequest{Id: f.flag})
		if err != nil {
			t.Fatalf("GetFlag(%s): %v", f.flag, err)
		}
		return len(d.GetFlag().GetStatusHistory())
	}
	historyBefore := history()

	var refused []bulkItem
	var refusedWants []expect
	forms := map[string]int{}
	defer func() {
		t.Logf("rows sent over gRPC and HTTP: %d; gRPC only (the bulk stream, message sizes, invalid timestamps): %d; HTTP only (bodies, paths and methods gRPC cannot express): %d",
			forms["gRPC and HTTP"], forms["gRPC only"], forms["HTTP only"])
	}()
	names := map[string]bool{}
	for _, row := range rows {
		name := row.endpoint + "/" + row.name
		if names[name] {
			t.Fatalf("two rows named %q", name)
		}
		names[name] = true
		t.Run(name, func(t *testing.T) {
			c := row.call(t, f)
			before := f.size(t)
			httpWant := row.want
			if row.httpWant != nil {
				httpWant = *row.httpWant
			}
			want, hw := row.want, httpWant
			if c.msg != "" {
				want.msg, hw.msg = c.msg, c.msg
			}
			switch {
			case c.grpc == nil && c.http == nil:
				t.Fatal("the row has neither a gRPC nor an HTTP form")
			case c.grpc == nil:
				forms["HTTP only"]++
			case c.http == nil:
				forms["gRPC only"]++
			default:
				forms["gRPC and HTTP"]++
			}

			if c.grpc != nil {
				err := c.grpc(t.Context())
				st := status.Convert(err)
				if row.want.code == codes.OK {
					if err != nil {
						t.Fatalf("gRPC: %v, want it accepted", err)
					}
				} else {
					want.check(t, "gRPC", detailsOf(st), st.Message())
					if t.Failed() {
						t.Logf("gRPC status: %v %q %v", st.Code(), st.Message(), st.Details())
					}
				}
			}
			if c.http != nil {
				code, _, b, err := httpDo(t.Context(), c.http.method, "http://"+f.in.HTTPAddr+c.http.path, c.http.body, c.http.header)
				if err != nil {
					t.Fatal(err)
				}
				if row.want.code == codes.OK {
					if code != hw.httpStatus() {
						t.Errorf("HTTP: status %d, want %d; body %.300s", code, hw.httpStatus(), b)
					}
					got := &chemledgerv1.Receipt{}
					if err := protojson.Unmarshal(b, got); err != nil {
						t.Fatalf("HTTP: receipt %.300s: %v", b, err)
					}
					// The same submission again: the original receipt.
					if c.receipt != nil && got.GetIndex() != c.receipt.GetIndex() {
						t.Errorf("HTTP receipt index %d, gRPC receipt index %d", got.GetIndex(), c.receipt.GetIndex())
					}
					if c.receipt == nil {
						c.receipt = got
					}
				} else {
					hw.checkHTTP(t, code, b, nil)
				}
				if t.Failed() {
					t.Logf("HTTP %s %.120s", c.http.method, c.http.path)
				}
			}

			grew := uint64(0)
			if row.want.code == codes.OK {
				grew = 1
				row.check(t, f, c.receipt)
			}
			if got := f.size(t); got != before+grew {
				t.Errorf("log size %d after the row, want %d", got, before+grew)
			}
			if c.sub != nil && row.want.code != codes.OK {
				refused = append(refused, *c.sub)
				refusedWants = append(refusedWants, want)
			}
		})
	}

	// Every refused CreateEntry row again, through one bulk stream: each
	// item is answered as CreateEntry answered it.
	t.Run("CreateEntry rows through BulkCreateEntries", func(t *testing.T) {
		// Under the same submission ids: a refused submission left
		// nothing behind, so its id is as free as it was.
		before := f.size(t)
		results, err := bulkResults(t.Context(), f.c, refused)
		if err != nil {
			t.Fatalf("bulk stream of %d refused rows: %v", len(refused), err)
		}
		checkBulkRefused(t, refused, results, refusedWants)
		if got := f.size(t); got != before {
			t.Errorf("log size %d after the bulk stream of refused rows, want %d", got, before)
		}
	})

	if got := history(); got != historyBefore {
		t.Errorf("flag %s has %d status changes after the catalogue, want %d (no disposition row may decide it)", f.flag, got, historyBefore)
	}
}

// TestDispositionReplayRefused: a disposition has no id of its own, and a
// signed one replayed under a new submission id was appended again, so
// anyone holding an old envelope could decide a flag again in the signer's
// name — after a later decision by another analyst, turning the flag back.
// It is refused as a duplicate, like a replayed event, and the flag keeps
// the status it was given last.
func TestDispositionReplayRefused(t *testing.T) {
	in, conn := startDerived(t)
	c := chemledgerv1.NewLedgerServiceClient(conn)
	a := chemledgerv1.NewAnalystServiceClient(conn)
	flags, err := a.ListFlags(t.Context(), &chemledgerv1.ListFlagsRequest{Filter: `rule_id = "R1"`})
	if err != nil || len(flags.GetFlags()) == 0 {
		t.Fatalf("no R1 flag: %v", err)
	}
	flag := flags.GetFlags()[0].GetId()
	decide := func(member string, st chemledgerv1.DispositionStatus, note string) []byte {
		p, err := proto.Marshal(&chemledgerv1.Disposition{FlagId: flag, Status: st, Note: note})
		if err != nil {
			t.Fatal(err)
		}
		return signAs(t, in, member, envelope.PayloadTypeDispositionProto, p)
	}
	confirm := decide("MX-ANAM", chemledgerv1.DispositionStatus_DISPOSITION_STATUS_CONFIRMED, "70 kg missing.")
	first, err := a.CreateDisposition(t.Context(), &chemledgerv1.CreateDispositionRequest{Id: flag, SubmissionId: "MX-ANAM:d-1", Envelope: confirm})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateDisposition(t.Context(), &chemledgerv1.CreateDispositionRequest{
		Id: flag, SubmissionId: "CN-GACC:d-2", Envelope: decide("CN-GACC", chemledgerv1.DispositionStatus_DISPOSITION_STATUS_DISMISSED, "Evaporation, documented."),
	}); err != nil {
		t.Fatal(err)
	}
	size := logSize(t, c)

	// MX-ANAM's confirmation again, by either door, under new ids.
	for _, replay := range []struct {
		name string
		call func() error
	}{
		{"CreateDisposition", func() error {
			_, err := a.CreateDisposition(t.Context(), &chemledgerv1.CreateDispositionRequest{Id: flag, SubmissionId: "replay-1", Envelope: confirm})
			return err
		}},
		{"CreateEntry", func() error {
			_, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: "replay-2", Envelope: confirm})
			return err
		}},
	} {
		st := status.Convert(replay.call())
		d := detailsOf(st)
		if st.Code() != codes.AlreadyExists || d.reason != server.ReasonDuplicateEvent || !slices.Equal(d.fields, []string{"envelope.payload"}) ||
			!strings.Contains(st.Message(), fmt.Sprintf("as entry %d", first.GetIndex())) {
			t.Errorf("replayed disposition through %s: %v %q %+v; want ALREADY_EXISTS, DUPLICATE_EVENT on envelope.payload, naming entry %d",
				replay.name, st.Code(), st.Message(), d, first.GetIndex())
		}
	}
	// The original submission, retried under its own id, is still answered
	// with its receipt.
	again, err := a.CreateDisposition(t.Context(), &chemledgerv1.CreateDispositionRequest{Id: flag, SubmissionId: "MX-ANAM:d-1", Envelope: confirm})
	if err != nil || again.GetIndex() != first.GetIndex() {
		t.Errorf("retry of the original disposition: %v, index %d; want index %d", err, again.GetIndex(), first.GetIndex())
	}
	if got := logSize(t, c); got != size {
		t.Errorf("log size %d after the replays, want %d", got, size)
	}
	waitDerived(t, in)
	d, err := a.GetFlag(t.Context(), &chemledgerv1.GetFlagRequest{Id: flag})
	if err != nil {
		t.Fatal(err)
	}
	if h := d.GetFlag().GetStatusHistory(); d.GetFlag().GetStatus() != chemledgerv1.FlagStatus_FLAG_STATUS_DISMISSED || len(h) != 2 {
		t.Errorf("flag %s after the replays: status %v, history %v; want DISMISSED after two decisions", flag, d.GetFlag().GetStatus(), h)
	}
}

// TestRebuildRefusesInvalidAsOf: RebuildDerivedState took any as_of, and an
// invalid timestamp (nanos out of range, or seconds past the year 9999)
// rebuilt the derived state with a sweep at whatever time it converted to.
// It is refused as bad input naming as_of, and the flags stay as they were.
func TestRebuildRefusesInvalidAsOf(t *testing.T) {
	in, conn := startDerived(t)
	admin := chemledgerv1.NewAdminServiceClient(conn)
	before := fmt.Sprint(in.Deriver.Snapshot())
	for _, asOf := range []*timestamppb.Timestamp{
		{Seconds: 1_780_000_000, Nanos: -1},
		{Seconds: 1_780_000_000, Nanos: 1e9},
		{Seconds: 1 << 62},
		{Seconds: -1 << 62},
	} {
		_, err := admin.RebuildDerivedState(t.Context(), &chemledgerv1.RebuildDerivedStateRequest{AsOf: asOf})
		st := status.Convert(err)
		if d := detailsOf(st); st.Code() != codes.InvalidArgument || d.reason != server.ReasonBadInput || !slices.Equal(d.fields, []string{"as_of"}) {
			t.Errorf("RebuildDerivedState(as_of %v): %v %q %+v; want INVALID_ARGUMENT, BAD_INPUT on as_of", asOf, st.Code(), st.Message(), d)
		}
	}
	if after := fmt.Sprint(in.Deriver.Snapshot()); after != before {
		t.Errorf("flags changed after refused rebuilds:\nbefore %s\nafter  %s", before, after)
	}
	// A valid one still rebuilds.
	if _, err := admin.RebuildDerivedState(t.Context(), &chemledgerv1.RebuildDerivedStateRequest{AsOf: timestamppb.New(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC))}); err != nil {
		t.Errorf("RebuildDerivedState(as_of 2026-12-31): %v", err)
	}
}

// TestGetShipmentHTTPRefWithSlash: a shipment reference may contain "/"
// (validate allows it: WCO UCRs are often written with slashes). The
// catalogue found that GET /v1/shipments/{ref} could not reach one (the
// gateway split the path and answered 404); the binding is now a
// multi-segment variable, {ref=**}.
func TestGetShipmentHTTPRefWithSlash(t *testing.T) {
	in := start(t, "")
	c := ledgerClient(t, in)
	const ref = "UCR/6IN/2026/001204"
	env := signMutated(t, in, signedExamples(t, in)[0], func(ev *chemledgerv1.ShipmentEvent) { ev.ShipmentRef = ref })
	if _, err := c.CreateEntry(t.Context(), &chemledgerv1.CreateEntryRequest{SubmissionId: "slash-ref", Envelope: env}); err != nil {
		t.Fatal(err)
	}
	waitDerived(t, in)
	if _, err := chemledgerv1.NewAnalystServiceClient(dial(t, in)).GetShipment(t.Context(), &chemledgerv1.GetShipmentRequest{Ref: ref}); err != nil {
		t.Fatalf("GetShipment(%q) over gRPC: %v", ref, err)
	}
	u := "http://" + in.HTTPAddr + "/v1/shipments/" + url.PathEscape(ref)
	code, _, b := httpCall(t, http.MethodGet, u, nil, nil)
	sh := &chemledgerv1.Shipment{}
	if err := protojson.Unmarshal(b, sh); code != http.StatusOK || err != nil || sh.GetRef() != ref {
		t.Errorf("GET %s: %d %.300s; want 200 with shipment %q", u, code, b, ref)
	}
}
