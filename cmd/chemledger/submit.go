package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/chemledger/chemledger/client"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/eventfile"
	"github.com/chemledger/chemledger/members"
	"github.com/chemledger/chemledger/pki"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

type submitFlags struct {
	member  string
	keyFile string
	keyring string
	kind    string
	unary   bool
}

func newSubmitCmd(a *app) *cobra.Command {
	var fl submitFlags
	cmd := &cobra.Command{
		Use:   "submit FILE.jsonl",
		Short: "Sign and submit shipment events or registry entries, one proto3 JSON message per line",
		Long: `Submit signs each line of FILE.jsonl ("-" reads standard input), exactly as
written, and submits it. With --type event (the default) a line is a
chemledger.v1.ShipmentEvent in proto3 JSON; with --type registry it is a
chemledger.v1.RegistryEntry (a licence, a watch-list entry or an annual
requirement). The submission id is MEMBER:EVENT_ID or MEMBER:ENTRY_ID (or
MEMBER:sha256-... of the line when the id does not fit), so running the same
file again is safe: the log answers with the original entries.

With --member auto, each line is signed by the demo member of its country:
an event's location_country; a licence's issuing_country, an annual
requirement's country or a watch-listed party's country.

With --keyring DIR, each line is signed by the member the log's registry
names for that country (active, with the submitter role, and with a home in
DIR: DIR/MEMBER/signing-key.json, tls.pem and tls.key, as "member init" and
"chemledgerd ca sign" make them), over that member's own certificate. This
is how a national system's or PEN Online's history is migrated in one
command. A country with two such members in DIR is ambiguous, and its lines
are refused.

It prints one JSON object per line: {"submission_id","index","leaf_hash"} for
an accepted line, {"submission_id","line","error"} for a refused one, and
exits non-zero if any was refused.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.submit(cmd, args[0], fl) },
	}
	f := cmd.Flags()
	f.StringVar(&fl.member, "member", "auto", `member that signs; "auto" picks, in dev mode, the demo member of each line's country`)
	f.StringVar(&fl.kind, "type", "event", `what each line is: "event" (a ShipmentEvent) or "registry" (a RegistryEntry)`)
	f.StringVar(&fl.keyFile, "signing-key", "", "member private key file (default: DATA_DIR/keys/MEMBER.json)")
	f.StringVar(&fl.keyring, "keyring", "", "a directory of member homes (DIR/MEMBER/, as member init makes them): each line is signed by the member the registry names for its country, with that member's key and certificate")
	f.BoolVar(&fl.unary, "unary", false, "submit one line at a time, verifying each full receipt, instead of over one bulk stream")
	return cmd
}

func (a *app) submit(cmd *cobra.Command, path string, fl submitFlags) error {
	kind, ok := lineKinds[fl.kind]
	if !ok {
		return fmt.Errorf("--type %q: want event or registry", fl.kind)
	}
	raw, err := readInput(cmd.InOrStdin(), path)
	if err != nil {
		return err
	}
	keys, err := newKeyring(a.layout(), fl.member, fl.keyFile)
	if err != nil {
		return err
	}
	if fl.keyring != "" {
		if fl.member != "auto" || fl.keyFile != "" {
			return errors.New("--keyring picks each line's member itself; it goes with neither --member nor --signing-key")
		}
		if err := a.useKeyring(cmd, keys, fl.keyring); err != nil {
			return err
		}
	}
	lines := make([]*line, 0, len(raw))
	for _, r := range raw {
		l, err := keys.prepare(r, kind)
		if err != nil {
			return fmt.Errorf("line %d: %w", r.n, err)
		}
		lines = append(lines, l)
	}

	rep := newReporter(cmd.OutOrStdout(), cmd.ErrOrStderr(), lines)
	if len(rep.sent) > 0 {
		err = a.send(cmd, rep, fl.unary)
	}
	rep.finish()
	if err != nil {
		return err
	}
	if rep.refused > 0 {
		return fmt.Errorf("%d of %d %s refused", rep.refused, len(lines), kind.plural)
	}
	return nil
}

func (a *app) send(cmd *cobra.Command, rep *reporter, unary bool) error {
	ctx, cancel := a.context(cmd)
	defer cancel()
	if a.keyringDir != "" && !unary {
		return a.sendPipelined(ctx, cmd, rep)
	}
	// The signer must be the caller: each member's lines go over a
	// connection authenticated as that member, in runs that keep the
	// file's order (a reply must not overtake its notification).
	conns := map[string]*client.Client{}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	connFor := func(member, role string) (*client.Client, error) {
		if c, ok := conns[member+"/"+role]; ok {
			return c, nil
		}
		c, err := a.dial(ctx, cmd.ErrOrStderr(), member, role)
		if err == nil {
			conns[member+"/"+role] = c
		}
		return c, err
	}
	for start := 0; start < len(rep.sent); {
		first := rep.lines[rep.sent[start]]
		end := start + 1
		for end < len(rep.sent) && rep.lines[rep.sent[end]].member == first.member && rep.lines[rep.sent[end]].role == first.role {
			end++
		}
		c, err := connFor(first.member, first.role)
		if err != nil {
			return err
		}
		if err := sendRun(ctx, c, rep, start, end, unary); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// sendRun sends the lines rep.sent[start:end], all signed by one member.
func sendRun(ctx context.Context, c *client.Client, rep *reporter, start, end int, unary bool) error {
	if unary {
		return submitUnary(ctx, c, rep, start, end)
	}
	items := func(yield func(client.Item) bool) {
		for _, i := range rep.sent[start:end] {
			if !yield(client.Item{SubmissionID: rep.lines[i].id, Envelope: rep.lines[i].env}) {
				return
			}
		}
	}
	return c.SubmitStream(ctx, items, func(r client.BulkResult) {
		rep.result(start+int(r.Position), r.Index, r.LeafHash, r.Err)
	})
}

func submitUnary(ctx context.Context, c *client.Client, rep *reporter, start, end int) error {
	for pos := start; pos < end; pos++ {
		l := rep.lines[rep.sent[pos]]
		r, err := c.SubmitEnvelope(ctx, l.id, l.env)
		if err == nil {
			rep.result(pos, r.Index, r.LeafHash, nil)
			continue
		}
		// A refusal is about this event; a lie, a timeout or a lost
		// connection is about the log, and ends the run.
		if ie, ok := client.AsItemError(err); ok && !aboutTheLog(ie.Code) {
			rep.result(pos, 0, nil, ie)
			continue
		}
		return err
	}
	return nil
}

func aboutTheLog(c codes.Code) bool {
	switch c {
	case codes.Canceled, codes.DeadlineExceeded, codes.Unavailable, codes.Unauthenticated, codes.Unimplemented, codes.Internal:
		return true
	}
	return false
}

// rawLine is one non-blank input line, trimmed.
type rawLine struct {
	n    int // from 1, counting blank lines
	text []byte
}

func readInput(stdin io.Reader, path string) ([]rawLine, error) {
	if path == "-" {
		return readLines(stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLines(f)
}

func readLines(r io.Reader) ([]rawLine, error) {
	var out []rawLine
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		b, err := br.ReadBytes('\n')
		if t := bytes.TrimSpace(b); len(t) > 0 {
			out = append(out, rawLine{n: n, text: t})
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read line %d: %w", n, err)
		}
	}
}

// line is an input line made ready to send, or refused locally (err set)
// and never sent.
type line struct {
	n        int
	shipment string // the event's shipment reference; "" for a registry entry
	member   string // who signs
	role     string // what the signer acts as
	id       string
	env      []byte
	err      *client.ItemError
}

// strictJSON is how the log reads a JSON payload: an unknown field is an
// error here too, before anything is sent.
var strictJSON = protojson.UnmarshalOptions{DiscardUnknown: false}

// lineKind is what the lines of a file are, as --type names it.
type lineKind struct {
	plural      string // for the summary: "3 of 6 events refused"
	payloadType string
	// parse reads one line strictly, or refuses it.
	parse func(text []byte) (parsed, *client.ItemError)
}

// parsed is what signing a line needs to know about it.
type parsed struct {
	// country, at field, picks the demo member with --member auto.
	country, field string
	// shipment is the shipment reference of an event ("" for a registry
	// entry): lines of one shipment keep their order across members.
	shipment string
	// role is what the signing member must act as: submitter, or admin
	// for a change of the member registry.
	role string
	// id is the line's submission id when member signs it.
	id func(member string) string
}

var lineKinds = map[string]lineKind{
	"event":    {plural: "events", payloadType: envelope.PayloadTypeEventJSON, parse: parseEvent},
	"registry": {plural: "registry entries", payloadType: envelope.PayloadTypeRegistryJSON, parse: parseRegistry},
}

func parseEvent(text []byte) (parsed, *client.ItemError) {
	ev := &chemledgerv1.ShipmentEvent{}
	if err := strictJSON.Unmarshal(text, ev); err != nil {
		return parsed{}, refusal("", "not a chemledger.v1.ShipmentEvent in proto3 JSON: %v", err)
	}
	return parsed{
		country: ev.GetLocationCountry(), field: "location_country", shipment: ev.GetShipmentRef(),
		id: func(member string) string { return submissionID(member, ev, text) },
	}, nil
}

func parseRegistry(text []byte) (parsed, *client.ItemError) {
	e := &chemledgerv1.RegistryEntry{}
	if err := strictJSON.Unmarshal(text, e); err != nil {
		return parsed{}, refusal("", "not a chemledger.v1.RegistryEntry in proto3 JSON: %v", err)
	}
	country, field := eventfile.RegistryCountry(e)
	role := pki.RoleSubmitter
	switch e.GetChange().(type) {
	case *chemledgerv1.RegistryEntry_MemberKey, *chemledgerv1.RegistryEntry_MemberRole,
		*chemledgerv1.RegistryEntry_CertificateRevocation, *chemledgerv1.RegistryEntry_Membership:
		role = pki.RoleAdmin
	}
	return parsed{
		country: country, field: field, role: role,
		id: func(member string) string {
			return eventfile.RegistrySubmissionID(member, eventfile.RegistryLine{Raw: text, Entry: e})
		},
	}, nil
}

// prepare checks and signs one line. The payload is the line's own bytes,
// not a re-encoding, so the same file gives the same envelopes every time.
// The error is for what stops the whole run (a missing key file); a bad line
// is refused in line.err.
func (k *keyring) prepare(r rawLine, kind lineKind) (*line, error) {
	l := &line{n: r.n}
	p, ie := kind.parse(r.text)
	if ie != nil {
		l.err = ie
		return l, nil
	}
	key, err := k.keyFor(p.field, p.country)
	if errors.As(err, &ie) {
		l.err = ie
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	l.id, l.member, l.role, l.shipment = p.id(key.Member), key.Member, cmp.Or(p.role, pki.RoleSubmitter), p.shipment
	if l.env, err = envelope.Sign(kind.payloadType, r.text, key.Signer()); err != nil {
		return nil, err
	}
	if len(l.env) > envelope.MaxEnvelopeBytes {
		l.err = refusal("", "the signed envelope would be %d bytes, more than the %d the log accepts", len(l.env), envelope.MaxEnvelopeBytes)
	}
	return l, nil
}

// submissionID names a submission after its member and event, the same way
// the service's demo does, so a rerun reuses the id.
func submissionID(member string, ev *chemledgerv1.ShipmentEvent, text []byte) string {
	return eventfile.SubmissionID(member, eventfile.Line{Raw: text, Event: ev})
}

// refusal is a local refusal, in the shape of the log's.
func refusal(field, format string, args ...any) *client.ItemError {
	msg := fmt.Sprintf(format, args...)
	ie := &client.ItemError{Code: codes.InvalidArgument, Message: msg}
	if field != "" {
		ie.FieldViolations = []client.FieldViolation{{Field: field, Description: msg}}
	}
	return ie
}

// keyring finds the key that signs each line.
type keyring struct {
	layout datadir.Layout
	fixed  *members.PrivateKey // from --key or an explicit --member
	loaded map[string]members.PrivateKey
	// dir is --keyring's directory of member homes, and byCountry the
	// members of the registry that may sign each country's lines.
	dir       string
	byCountry map[string][]string
}

func newKeyring(l datadir.Layout, member, keyFile string) (*keyring, error) {
	k := &keyring{layout: l, loaded: map[string]members.PrivateKey{}}
	switch {
	case keyFile != "":
		p, err := members.ReadPrivateKey(keyFile)
		if err != nil {
			return nil, err
		}
		if member != "auto" && member != p.Member {
			return nil, fmt.Errorf("--key %s is a key of member %s, not %s", keyFile, p.Member, member)
		}
		k.fixed = &p
	case member != "auto":
		p, err := k.load(member)
		if err != nil {
			return nil, err
		}
		k.fixed = &p
	}
	return k, nil
}

// keyFor is the fixed key, or the key of the demo member of country (which
// the line has at field).
func (k *keyring) keyFor(field, country string) (members.PrivateKey, error) {
	if k.fixed != nil {
		return *k.fixed, nil
	}
	if k.dir != "" {
		m, err := k.registryMember(field, country)
		if err != nil {
			return members.PrivateKey{}, err
		}
		return k.load(m)
	}
	m, err := demoMember(field, country)
	if err != nil {
		return members.PrivateKey{}, err
	}
	return k.load(m)
}

func (k *keyring) load(member string) (members.PrivateKey, error) {
	if p, ok := k.loaded[member]; ok {
		return p, nil
	}
	path := k.layout.MemberKey(member)
	if k.dir != "" {
		path = keyringHome(k.dir, member).SigningKey()
	}
	p, err := members.ReadPrivateKey(path)
	if err != nil {
		return members.PrivateKey{}, fmt.Errorf("key of member %s: %w (pass --key, or the --data-dir of a dev-mode log)", member, err)
	}
	if p.Member != member {
		return members.PrivateKey{}, fmt.Errorf("key file %s is of member %s, not %s", path, p.Member, member)
	}
	k.loaded[member] = p
	return p, nil
}

// demoMember picks, for --member auto, the dev-mode member that reports
// from country, which a line has at field.
func demoMember(field, country string) (string, error) {
	for _, d := range datadir.DemoMembers {
		if d.Country == country {
			return d.ID, nil
		}
	}
	if country == "" {
		return "", refusal(field, "required to pick the member with --member auto; or pass --member or --signing-key")
	}
	return "", refusal(field, "no demo member reports from %q; pass --member or --signing-key", country)
}

// reporter prints one JSON line per input line, in input order, as answers
// arrive.
type reporter struct {
	enc     *json.Encoder
	bar     *progressBar
	lines   []*line
	sent    []int // the line (index into lines) sent at each stream position
	next    int   // the first line not yet reported
	refused int
}

func newReporter(stdout, stderr io.Writer, lines []*line) *reporter {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	r := &reporter{enc: enc, bar: newProgressBar(stderr, len(lines)), lines: lines}
	for i, l := range lines {
		if l.err == nil {
			r.sent = append(r.sent, i)
		}
	}
	r.bar.draw()
	return r
}

// result reports the answer for stream position pos, after any locally
// refused lines before it.
func (r *reporter) result(pos int, index uint64, leafHash []byte, err error) {
	i := r.sent[pos]
	r.flushUntil(i)
	l := r.lines[i]
	if err != nil {
		ie, ok := client.AsItemError(err)
		if !ok {
			ie = &client.ItemError{Code: codes.Unknown, Message: err.Error()}
		}
		r.print(refusedJSON{SubmissionID: l.id, Line: l.n, Error: errorOutput(ie)})
		r.refused++
	} else {
		r.print(acceptedJSON{SubmissionID: l.id, Index: index, LeafHash: leafHash})
	}
	r.next = i + 1
}

func (r *reporter) flushUntil(i int) {
	for ; r.next < i; r.next++ {
		if l := r.lines[r.next]; l.err != nil {
			r.print(refusedJSON{SubmissionID: l.id, Line: l.n, Error: errorOutput(l.err)})
			r.refused++
		}
	}
}

// finish reports the remaining local refusals.
func (r *reporter) finish() {
	r.flushUntil(len(r.lines))
	r.bar.finish()
}

func (r *reporter) print(v any) {
	r.bar.clear()
	r.enc.Encode(v)
	r.bar.advance()
}

type acceptedJSON struct {
	SubmissionID string `json:"submission_id"`
	Index        uint64 `json:"index"`
	LeafHash     []byte `json:"leaf_hash"`
}

type refusedJSON struct {
	SubmissionID string    `json:"submission_id,omitempty"`
	Line         int       `json:"line"`
	Error        errorJSON `json:"error"`
}

type errorJSON struct {
	Code            string          `json:"code"`
	Message         string          `json:"message"`
	Reason          string          `json:"reason,omitempty"`
	FieldViolations []violationJSON `json:"field_violations,omitempty"`
}

type violationJSON struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

func errorOutput(ie *client.ItemError) errorJSON {
	e := errorJSON{Code: code.Code(ie.Code).String(), Message: ie.Message, Reason: ie.Reason}
	for _, v := range ie.FieldViolations {
		e.FieldViolations = append(e.FieldViolations, violationJSON(v))
	}
	return e
}

// progressBar draws on a terminal only; it is nil otherwise, and a nil bar
// draws nothing, so piped output stays clean.
type progressBar struct {
	w           io.Writer
	done, total int
}

func newProgressBar(stderr io.Writer, total int) *progressBar {
	f, ok := stderr.(*os.File)
	if !ok || total == 0 || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progressBar{w: stderr, total: total}
}

func (p *progressBar) draw() {
	if p == nil {
		return
	}
	const width = 30
	filled := width * p.done / p.total
	fmt.Fprintf(p.w, "\rsubmitting [%s%s] %d/%d", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), p.done, p.total)
}

func (p *progressBar) advance() {
	if p != nil {
		p.done++
		p.draw()
	}
}

func (p *progressBar) clear() {
	if p != nil {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

func (p *progressBar) finish() {
	if p != nil {
		p.clear()
	}
}
