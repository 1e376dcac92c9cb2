package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/checkpoint"
	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/eventfile"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server/servertest"
)

func TestSubmissionID(t *testing.T) {
	line := []byte(`{"eventId":"x"}`)
	sum := sha256.Sum256(line)
	hashed := "US-CBP:sha256-" + hex.EncodeToString(sum[:])[:32]
	tests := []struct {
		name, eventID, want string
	}{
		{"plain", "EXP-2026-0001", "US-CBP:EXP-2026-0001"},
		{"every allowed character", "a.B_9:z-0", "US-CBP:a.B_9:z-0"},
		{"longest that fits", strings.Repeat("x", 128-len("US-CBP:")), "US-CBP:" + strings.Repeat("x", 128-len("US-CBP:"))},
		{"one too long", strings.Repeat("x", 129-len("US-CBP:")), hashed},
		{"empty", "", hashed},
		{"space", "EXP 1", hashed},
		{"slash", "MX/2026/1", hashed},
		{"not ASCII", "DÉCL-1", hashed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := submissionID("US-CBP", &chemledgerv1.ShipmentEvent{EventId: tt.eventID}, line)
			if got != tt.want {
				t.Errorf("submissionID(US-CBP, %q) = %q, want %q", tt.eventID, got, tt.want)
			}
			if !client.ValidSubmissionID(got) {
				t.Errorf("submissionID(US-CBP, %q) = %q, which the log refuses", tt.eventID, got)
			}
		})
	}
}

// FuzzSubmissionID checks that every line gets an id the log accepts, the
// same one every time.
func FuzzSubmissionID(f *testing.F) {
	f.Add("EXP-1", []byte(`{"eventId":"EXP-1"}`))
	f.Add("", []byte(`{}`))
	f.Add("a b/c", []byte("x"))
	f.Add(strings.Repeat("x", 200), []byte("y"))
	f.Fuzz(func(t *testing.T, eventID string, line []byte) {
		id := submissionID("MX-ANAM", &chemledgerv1.ShipmentEvent{EventId: eventID}, line)
		if !client.ValidSubmissionID(id) || id != submissionID("MX-ANAM", &chemledgerv1.ShipmentEvent{EventId: eventID}, line) {
			t.Errorf("submissionID(%q, %q) = %q: not a stable, valid id", eventID, line, id)
		}
	})
}

func TestDemoMember(t *testing.T) {
	tests := []struct {
		country string
		want    string // "" for a refusal
	}{
		{"US", "US-CBP"},
		{"MX", "MX-ANAM"},
		{"NL", "NL-DOUANE"},
		{"DE", "DE-ZOLL"},
		{"FR", ""},
		{"us", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := demoMember("location_country", tt.country)
		if tt.want != "" {
			if got != tt.want || err != nil {
				t.Errorf("demoMember(%q) = %q, %v; want %q", tt.country, got, err, tt.want)
			}
			continue
		}
		var ie *client.ItemError
		if !errors.As(err, &ie) || len(ie.FieldViolations) != 1 || ie.FieldViolations[0].Field != "location_country" {
			t.Errorf("demoMember(%q) = %q, %v; want a refusal of location_country", tt.country, got, err)
		}
	}
}

func TestPrepareLines(t *testing.T) {
	input := "\n" + // line 1, blank
		`{"eventId":"EXP-1","kind":"EVENT_KIND_EXPORT_DECLARATION","locationCountry":"US"}` + "\r\n" + // 2
		`  {"eventId":"IMP-1","locationCountry":"MX"}  ` + "\n" + // 3, padded
		`{"eventId":"X","bogus":1,"locationCountry":"US"}` + "\n" + // 4
		"   \n" + // 5, blank
		`{"eventId":"X","kind":"NOT_A_KIND","locationCountry":"US"}` + "\n" + // 6
		`{"eventId":"X","locationCountry":"FR"}` + "\n" + // 7
		`{"eventId":` + "\n" + // 8
		`{"eventId":"Y","quantity":{"value":"many"},"locationCountry":"US"}` // 9, no final newline
	raw, err := readLines(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	d := newDevLog(t)
	keys, err := newKeyring(datadir.Layout{Dir: d.dir}, "auto", "")
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		N   int
		ID  string
		Err string // a substring of the refusal
	}
	want := []got{
		{N: 2, ID: "US-CBP:EXP-1"},
		{N: 3, ID: "MX-ANAM:IMP-1"},
		{N: 4, Err: `unknown field "bogus"`},
		{N: 6, Err: "invalid value for enum"},
		{N: 7, Err: `no demo member reports from "FR"`},
		{N: 8, Err: "unexpected EOF"},
		{N: 9, Err: "invalid value for double"},
	}
	var gots []got
	for _, r := range raw {
		l, err := keys.prepare(r, lineKinds["event"])
		if err != nil {
			t.Fatalf("prepare line %d: %v", r.n, err)
		}
		g := got{N: l.n, ID: l.id}
		if l.err != nil {
			if l.err.Code != codes.InvalidArgument {
				t.Errorf("line %d refused with %v, want InvalidArgument", l.n, l.err.Code)
			}
			g.Err = l.err.Message
		}
		gots = append(gots, g)
	}
	if len(gots) != len(want) {
		t.Fatalf("got %d lines %+v, want %d", len(gots), gots, len(want))
	}
	for i := range want {
		if gots[i].N != want[i].N || gots[i].ID != want[i].ID || !strings.Contains(gots[i].Err, want[i].Err) || (want[i].Err == "") != (gots[i].Err == "") {
			t.Errorf("line %d: got %+v, want %+v", want[i].N, gots[i], want[i])
		}
	}

	// The payload is the trimmed line itself, so a rerun signs the same bytes.
	l, _ := keys.prepare(raw[1], lineKinds["event"])
	env, err := envelope.Parse(l.env)
	if err != nil {
		t.Fatal(err)
	}
	if wantPayload := `{"eventId":"IMP-1","locationCountry":"MX"}`; string(env.Payload) != wantPayload || env.PayloadType != envelope.PayloadTypeEventJSON {
		t.Errorf("envelope carries %s %q, want %s %q", env.PayloadType, env.Payload, envelope.PayloadTypeEventJSON, wantPayload)
	}
	again, _ := keys.prepare(raw[1], lineKinds["event"])
	if !bytes.Equal(again.env, l.env) {
		t.Error("signing the same line twice gave different envelopes")
	}
}

func TestReporterOutput(t *testing.T) {
	lines := []*line{
		{n: 1, id: "US-CBP:A"},
		{n: 2, err: refusal("", "not JSON")},
		{n: 4, id: "US-CBP:B"},
		{n: 5, id: "US-CBP:C"},
		{n: 7, err: refusal("location_country", `no demo member reports from "FR"`)},
	}
	var out bytes.Buffer
	rep := newReporter(&out, &bytes.Buffer{}, lines)
	rep.result(0, 7, []byte{0, 1, 2}, nil)
	rep.result(1, 0, nil, &client.ItemError{
		Code: codes.InvalidArgument, Message: "invalid input: event.kind: required <sic>", Reason: "INVALID_INPUT",
		FieldViolations: []client.FieldViolation{{Field: "event.kind", Description: "required"}},
	})
	rep.result(2, 8, []byte{3}, nil)
	rep.finish()
	want := `{"submission_id":"US-CBP:A","index":7,"leaf_hash":"AAEC"}
{"line":2,"error":{"code":"INVALID_ARGUMENT","message":"not JSON"}}
{"submission_id":"US-CBP:B","line":4,"error":{"code":"INVALID_ARGUMENT","message":"invalid input: event.kind: required <sic>","reason":"INVALID_INPUT","field_violations":[{"field":"event.kind","description":"required"}]}}
{"submission_id":"US-CBP:C","index":8,"leaf_hash":"Aw=="}
{"line":7,"error":{"code":"INVALID_ARGUMENT","message":"no demo member reports from \"FR\"","field_violations":[{"field":"location_country","description":"no demo member reports from \"FR\""}]}}
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if rep.refused != 3 {
		t.Errorf("refused = %d, want 3", rep.refused)
	}
}

const submitInput = `{"eventId":"EXP-1","kind":"EVENT_KIND_EXPORT_DECLARATION","shipmentRef":"PEN-US-2026-000123","locationCountry":"US"}

{"eventId":"IMP-1","kind":"EVENT_KIND_IMPORT_DECLARATION","shipmentRef":"PEN-US-2026-000123","locationCountry":"MX"}
{"eventId":"X","bogus":1,"locationCountry":"US"}
{"eventId":"EXP-2","locationCountry":"US"}
{"eventId":"EXP 3","kind":"EVENT_KIND_TRANSIT","locationCountry":"NL"}
{"eventId":"EXP-4","kind":"EVENT_KIND_EXPORT_DECLARATION","locationCountry":"FR"}
`

// outLine is one line of submit's output.
type outLine struct {
	SubmissionID string `json:"submission_id"`
	Index        *uint64
	LeafHash     []byte `json:"leaf_hash"`
	Line         int
	Error        *struct {
		Code            string
		Reason          string
		Message         string
		FieldViolations []struct{ Field, Description string } `json:"field_violations"`
	}
}

func parseOutput(t *testing.T, stdout string) []outLine {
	t.Helper()
	var out []outLine
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	for dec.More() {
		var o outLine
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("output %q: %v", stdout, err)
		}
		out = append(out, o)
	}
	return out
}

func TestSubmit(t *testing.T) {
	d := newDevLog(t)
	file := writeFile(t, "events.jsonl", submitInput)
	inputLines := strings.Split(submitInput, "\n")
	leafHash := func(member string, line int) []byte {
		env, err := envelope.Sign(envelope.PayloadTypeEventJSON, []byte(inputLines[line-1]), d.keys[member].Signer())
		if err != nil {
			t.Fatal(err)
		}
		return checkpoint.LeafHash(env)
	}
	nlID := "NL-DOUANE:sha256-" + func() string {
		s := sha256.Sum256([]byte(inputLines[5]))
		return hex.EncodeToString(s[:])[:32]
	}()

	first := run(t, nil, nil, d.flags("submit", file)...)
	if first.err == nil || first.err.Error() != "3 of 6 events refused" {
		t.Errorf("submit error = %v, want 3 of 6 events refused", first.err)
	}
	got := parseOutput(t, first.stdout)
	if len(got) != 6 {
		t.Fatalf("submit printed %d lines, want 6:\n%s", len(got), first.stdout)
	}
	accepted := []struct {
		at     int
		id     string
		index  uint64
		member string
		line   int
	}{
		{0, "US-CBP:EXP-1", 0, "US-CBP", 1},
		{1, "MX-ANAM:IMP-1", 1, "MX-ANAM", 3},
		{4, nlID, 2, "NL-DOUANE", 6},
	}
	for _, a := range accepted {
		o := got[a.at]
		if o.Error != nil || o.SubmissionID != a.id || o.Index == nil || *o.Index != a.index || !bytes.Equal(o.LeafHash, leafHash(a.member, a.line)) {
			t.Errorf("output %d = %+v, want %s accepted at %d with the hash of line %d signed by %s", a.at, o, a.id, a.index, a.line, a.member)
		}
	}
	refused := []struct {
		at, line int
		id       string
		field    string
		msg      string
	}{
		{2, 4, "", "", `unknown field "bogus"`},
		{3, 5, "US-CBP:EXP-2", "event.kind", "required"},
		{5, 7, "", "location_country", "FR"},
	}
	for _, r := range refused {
		o := got[r.at]
		if o.Error == nil || o.Line != r.line || o.SubmissionID != r.id || o.Error.Code != "INVALID_ARGUMENT" || !strings.Contains(o.Error.Message, r.msg) {
			t.Errorf("output %d = %+v, want line %d (%q) refused with INVALID_ARGUMENT %q", r.at, o, r.line, r.id, r.msg)
			continue
		}
		if r.field != "" && (len(o.Error.FieldViolations) != 1 || o.Error.FieldViolations[0].Field != r.field) {
			t.Errorf("output %d violations = %+v, want one of %s", r.at, o.Error.FieldViolations, r.field)
		}
	}
	if first.stderr != "" {
		t.Errorf("stderr = %q, want nothing (not a terminal, and the log key is in the data dir)", first.stderr)
	}

	// Running the same file again, in bulk or one by one, or from stdin,
	// sends the same bytes and gets the same answers.
	for _, args := range [][]string{{"submit", file}, {"submit", "--unary", file}, {"submit", "-"}} {
		again := run(t, nil, strings.NewReader(submitInput), d.flags(args...)...)
		if again.stdout != first.stdout || again.err == nil {
			t.Errorf("%v: stdout\n%s\nerr %v\nwant\n%s", args, again.stdout, again.err, first.stdout)
		}
	}
	if n := d.srv.Size(); n != 3 {
		t.Errorf("log size after reruns = %d, want 3", n)
	}
}

func TestSubmitKeyFlags(t *testing.T) {
	d := newDevLog(t)
	file := writeFile(t, "events.jsonl", `{"eventId":"T-1","kind":"EVENT_KIND_TRANSIT","locationCountry":"FR"}`+"\n")

	r := run(t, nil, nil, d.flags("submit", "--member", "PA-ANA", file)...)
	if r.err != nil || !strings.Contains(r.stdout, `"submission_id":"PA-ANA:T-1"`) {
		t.Errorf("--member PA-ANA: %q, %v; want PA-ANA:T-1 accepted", r.stdout, r.err)
	}
	r = run(t, nil, nil, d.flags("submit", "--signing-key", datadir.Layout{Dir: d.dir}.MemberKey("DE-ZOLL"), file)...)
	if r.err != nil || !strings.Contains(r.stdout, `"submission_id":"DE-ZOLL:T-1"`) {
		t.Errorf("--key DE-ZOLL's file: %q, %v; want DE-ZOLL:T-1 accepted", r.stdout, r.err)
	}
	r = run(t, nil, nil, d.flags("submit", "--member", "US-CBP", "--signing-key", datadir.Layout{Dir: d.dir}.MemberKey("DE-ZOLL"), file)...)
	if r.err == nil || !strings.Contains(r.err.Error(), "is a key of member DE-ZOLL, not US-CBP") {
		t.Errorf("--member and --key of another member: %v, want a refusal", r.err)
	}
	r = run(t, nil, nil, d.flags("submit", "--member", "XX-NONE", file)...)
	if r.err == nil || !strings.Contains(r.err.Error(), "key of member XX-NONE") || r.stdout != "" {
		t.Errorf("--member without a key file: %q, %v; want an error and no output", r.stdout, r.err)
	}
}

func TestSubmitStopsOnALyingLog(t *testing.T) {
	d := newDevLog(t)
	file := writeFile(t, "events.jsonl", strings.SplitN(submitInput, "\n", 2)[0]+"\n")
	d.srv.SetTamper(func(m proto.Message) {
		if r, ok := m.(*chemledgerv1.BulkCreateEntriesResponse); ok {
			r.Results[0].LeafHash = checkpoint.LeafHash([]byte("something else"))
		}
	})
	r := run(t, nil, nil, d.flags("submit", file)...)
	if !errors.Is(r.err, client.ErrVerification) || r.stdout != "" {
		t.Errorf("submit to a lying log: stdout %q, err %v; want no output and ErrVerification", r.stdout, r.err)
	}
}

func TestPrepareRegistryLines(t *testing.T) {
	input := strings.Join([]string{
		`{"entryId":"US-CBP-REG-1","licence":{"number":"RN1","issuingCountry":"US","holder":{"name":"A","country":"US"}}}`, // 1
		`{"entryId":"MX-ANAM-REG-1","annualRequirement":{"country":"MX","cas":"90-82-4","kilograms":10,"year":2026}}`,      // 2
		`{"entryId":"PA-ANA-REG-1","watchListEntry":{"party":{"name":"B","country":"PA"},"list":"L"}}`,                     // 3
		`{"entryId":"W-2","watchListEntry":{"party":{"name":"C"},"list":"L"}}`,                                             // 4
		`{"entryId":"L-2","licence":{"number":"X","issuingCountry":"FR"}}`,                                                 // 5
		`{"eventId":"EXP-1","locationCountry":"US"}`,                                                                       // 6
		`{"entryId":"LIC/3","licence":{"issuingCountry":"DE"}}`,                                                            // 7
	}, "\n")
	raw, err := readLines(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	d := newDevLog(t)
	keys, err := newKeyring(datadir.Layout{Dir: d.dir}, "auto", "")
	if err != nil {
		t.Fatal(err)
	}
	hashed := "DE-ZOLL:sha256-" + func() string {
		s := sha256.Sum256(raw[6].text)
		return hex.EncodeToString(s[:])[:32]
	}()
	tests := []struct {
		n            int
		id           string
		field, inErr string // a refusal's field and part of its message
	}{
		{n: 1, id: "US-CBP:US-CBP-REG-1"},
		{n: 2, id: "MX-ANAM:MX-ANAM-REG-1"},
		{n: 3, id: "PA-ANA:PA-ANA-REG-1"},
		{n: 4, field: "registry.watch_list_entry.party.country", inErr: "required to pick the member"},
		{n: 5, field: "registry.licence.issuing_country", inErr: `no demo member reports from "FR"`},
		{n: 6, inErr: `not a chemledger.v1.RegistryEntry`},
		{n: 7, id: hashed},
	}
	if len(raw) != len(tests) {
		t.Fatalf("read %d lines, want %d", len(raw), len(tests))
	}
	for i, tt := range tests {
		l, err := keys.prepare(raw[i], lineKinds["registry"])
		if err != nil {
			t.Fatalf("prepare line %d: %v", tt.n, err)
		}
		if tt.inErr != "" {
			if l.err == nil || !strings.Contains(l.err.Message, tt.inErr) || (tt.field != "" && (len(l.err.FieldViolations) != 1 || l.err.FieldViolations[0].Field != tt.field)) {
				t.Errorf("line %d: refusal %+v, want %q at field %q", tt.n, l.err, tt.inErr, tt.field)
			}
			continue
		}
		if l.err != nil || l.id != tt.id {
			t.Errorf("line %d: id %q, refusal %+v; want id %q", tt.n, l.id, l.err, tt.id)
			continue
		}
		env, err := envelope.Parse(l.env)
		if err != nil {
			t.Fatal(err)
		}
		if env.PayloadType != envelope.PayloadTypeRegistryJSON || string(env.Payload) != string(raw[i].text) {
			t.Errorf("line %d: envelope carries %s %q, want %s and the line itself", tt.n, env.PayloadType, env.Payload, envelope.PayloadTypeRegistryJSON)
		}
	}
}

func TestSubmitUnknownType(t *testing.T) {
	d := newDevLog(t)
	file := writeFile(t, "x.jsonl", `{"eventId":"T-1","locationCountry":"US"}`+"\n")
	r := run(t, nil, nil, d.flags("submit", "--type", "disposition", file)...)
	if r.err == nil || !strings.Contains(r.err.Error(), `--type "disposition"`) || r.stdout != "" || d.srv.Size() != 0 {
		t.Errorf("--type disposition: %q, %v, log size %d; want an error, no output, nothing sent", r.stdout, r.err, d.srv.Size())
	}
}

// TestSubmitExamples submits examples/registry.jsonl, then
// examples/events.jsonl, to a real service, as the examples README says.
// The fake log reads only shipment events, so this needs the real one.
func TestSubmitExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a service")
	}
	in, err := servertest.Start(t.TempDir(), servertest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.Stop(); err != nil {
			t.Error(err)
		}
	})
	flags := func(args ...string) []string {
		return append([]string{"--server", in.GRPCAddr, "--data-dir", in.Dir, "--timeout", "30s"}, args...)
	}
	registry := filepath.Join("..", "..", "examples", "registry.jsonl")
	events := filepath.Join("..", "..", "examples", "events.jsonl")

	reg := run(t, nil, nil, flags("submit", "--type", "registry", registry)...)
	if reg.err != nil {
		t.Fatalf("submit --type registry: %v\n%s", reg.err, reg.stdout)
	}
	out := parseOutput(t, reg.stdout)
	var want []string
	for l := range eventfile.ReadRegistry(strings.NewReader(readFile(t, registry))) {
		m, err := eventfile.DemoMemberForRegistry(l.Entry)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, eventfile.RegistrySubmissionID(m, l))
	}
	if len(out) != len(want) {
		t.Fatalf("submit --type registry printed %d lines, want %d:\n%s", len(out), len(want), reg.stdout)
	}
	for i, o := range out {
		if o.Error != nil || o.SubmissionID != want[i] || o.Index == nil || *o.Index != uint64(i) {
			t.Errorf("registry output %d = %+v, want %s accepted at %d", i, o, want[i], i)
		}
	}

	ev := run(t, nil, nil, flags("submit", events)...)
	if ev.err != nil {
		t.Fatalf("submit events: %v\n%s", ev.err, ev.stdout)
	}
	if n := len(parseOutput(t, ev.stdout)); n != strings.Count(readFile(t, events), "\n") {
		t.Errorf("submit events printed %d lines, want one per event", n)
	}

	// Registry entries are idempotent too.
	again := run(t, nil, nil, flags("submit", "--type", "registry", "--unary", registry)...)
	if again.err != nil || again.stdout != reg.stdout {
		t.Errorf("resubmitting the registry: %v\n%s\nwant\n%s", again.err, again.stdout, reg.stdout)
	}
}

func readFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
