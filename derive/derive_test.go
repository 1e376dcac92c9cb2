package derive

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/eventfile"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fixture is a ledger over a dev data dir, with the examples signed and
// ready to submit.
type fixture struct {
	layout datadir.Layout
	store  *storage.Store
	ledger *ledger.Ledger
	subs   []ledger.Submission
	keys   map[string]members.PrivateKey
}

func newFixture(tb testing.TB, dir string) *fixture {
	tb.Helper()
	f := &fixture{layout: datadir.Layout{Dir: dir}, keys: map[string]members.PrivateKey{}}
	if err := datadir.EnsureDev(f.layout); err != nil {
		tb.Fatal(err)
	}
	for _, m := range datadir.DemoMembers {
		k, err := members.ReadPrivateKey(f.layout.MemberKey(m.ID))
		if err != nil {
			tb.Fatal(err)
		}
		f.keys[m.ID] = k
	}
	f.subs = append(f.subs, registrySubmissions(tb, f)...)
	file, err := os.Open(filepath.Join("..", "examples", "events.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer file.Close()
	for line := range eventfile.Read(file) {
		if line.Err != nil {
			tb.Fatal(line.Err)
		}
		member, err := eventfile.DemoMemberFor(line.Event)
		if err != nil {
			tb.Fatal(err)
		}
		env, err := envelope.Sign(envelope.PayloadTypeEventJSON, line.Raw, f.keys[member].Signer())
		if err != nil {
			tb.Fatal(err)
		}
		f.subs = append(f.subs, ledger.Submission{
			ID: eventfile.SubmissionID(member, line), Leaf: env, Member: member,
			ShipmentRef: line.Event.GetShipmentRef(), CAS: line.Event.GetChemical().GetCas(), Kind: line.Event.GetKind().String(),
		})
	}
	f.open(tb)
	return f
}

func (f *fixture) open(tb testing.TB) {
	tb.Helper()
	// One entry a second, so that times differ as they would in life.
	clock := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.store, f.ledger = openLedger(tb, f.layout, func() time.Time { clock = clock.Add(time.Second); return clock })
	tb.Cleanup(f.close)
}

// openLedger opens the ledger of the dev data dir at layout, with now as
// its clock unless now is nil. The caller closes both.
func openLedger(tb testing.TB, layout datadir.Layout, now func() time.Time) (*storage.Store, *ledger.Ledger) {
	tb.Helper()
	signer, err := datadir.ReadLogSigner(layout)
	if err != nil {
		tb.Fatal(err)
	}
	vkey, err := datadir.ReadLogVerifierKey(layout)
	if err != nil {
		tb.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	store, err := storage.Open(layout.DB(), storage.DefaultOptions())
	if err != nil {
		tb.Fatal(err)
	}
	cfg := ledger.DefaultConfig(signer, verifier)
	cfg.Logger = quiet
	cfg.NewLog = true
	if now != nil {
		cfg.Now = now
	}
	l, err := ledger.Open(store, cfg)
	if err != nil {
		store.Close()
		tb.Fatal(err)
	}
	return store, l
}

func (f *fixture) close() {
	f.ledger.Close()
	f.store.Close()
}

func (f *fixture) submit(tb testing.TB, subs ...ledger.Submission) {
	tb.Helper()
	for _, s := range subs {
		if _, err := f.ledger.Submit(tb.Context(), s); err != nil {
			tb.Fatalf("submit %s: %v", s.ID, err)
		}
	}
}

func testConfig() Config {
	c := DefaultConfig()
	c.Logger = quiet
	return c
}

func openDeriver(tb testing.TB, f *fixture) *Deriver {
	tb.Helper()
	d, err := Open(f.store, f.ledger, testConfig())
	if err != nil {
		tb.Fatal(err)
	}
	if err := d.CatchUp(0); err != nil {
		tb.Fatal(err)
	}
	return d
}

// storedFlags is the derived bucket's content, byte for byte.
func storedFlags(tb testing.TB, s *storage.Store) map[string]string {
	tb.Helper()
	out := map[string]string{}
	if err := s.View(func(tx *storage.ReadTx) error {
		return tx.ForEachFlag(func(id string, b []byte) error {
			out[id] = string(b)
			return nil
		})
	}); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestExamplesRaiseTheirFlags(t *testing.T) {
	f := newFixture(t, t.TempDir())
	f.submit(t, f.subs...)
	d := openDeriver(t, f)
	if got := d.Applied(); got != uint64(len(f.subs)) {
		t.Fatalf("applied %d entries, want %d", got, len(f.subs))
	}
	want := []struct{ rule, ref string }{
		{"R1", "PEN-CN-2026-000871"}, // 500 kg exported, 430 kg received
		{"R3", "PEN-DE-2026-000317"}, // exported after Mexico objected
		{"R7", "PEN-CN-2026-000871"}, // consignee changed after the PEN
	}
	for _, w := range want {
		flags, _, err := d.ListFlags(Query{Filter: `rule_id = "` + w.rule + `" AND shipment_ref = "` + w.ref + `"`})
		if err != nil {
			t.Fatal(err)
		}
		if len(flags) == 0 {
			t.Errorf("no %s flag on %s; flags raised: %v", w.rule, w.ref, ruleRefs(d.Snapshot()))
			continue
		}
		fl := flags[0]
		if fl.Explanation == "" || len(fl.Evidence) == 0 || fl.PolicyVersion == "" || fl.RuleVersion == 0 {
			t.Errorf("%s flag is not explainable: %+v", w.rule, fl)
		}
	}
	for _, fl := range d.Snapshot() {
		if fl.ShipmentRef == "PEN-IN-2026-001204" {
			t.Errorf("the clean pseudoephedrine shipment is flagged: %s %s", fl.RuleID, fl.Explanation)
		}
	}
}

func ruleRefs(flags []Flag) []string {
	var out []string
	for _, f := range flags {
		out = append(out, f.RuleID+"@"+f.ShipmentRef+f.Subject)
	}
	return out
}

// Dropping the derived state and deriving it again gives the same flags,
// byte for byte; so does stopping half way and going on after a restart.
func TestRebuildIsByteIdentical(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, dir)
	half := len(f.subs) / 2
	f.submit(t, f.subs[:half]...)
	openDeriver(t, f)
	f.close()

	// Restart mid-stream: the detector resumes from what it had applied.
	f.open(t)
	f.submit(t, f.subs[half:]...)
	sweepAndRebuild(t, f, openDeriver(t, f))
}

// sweepAndRebuild sweeps d as of 2027 and checks that the stored and
// in-memory flags are those a rebuild gives, byte for byte.
func sweepAndRebuild(tb testing.TB, f *fixture, d *Deriver) {
	tb.Helper()
	asOf := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := d.Sweep(asOf); err != nil {
		tb.Fatal(err)
	}
	live := storedFlags(tb, f.store)
	liveSnap, _ := json.Marshal(d.Snapshot())
	if len(live) == 0 {
		tb.Fatal("no flags derived from the examples")
	}
	if err := d.Rebuild(asOf); err != nil {
		tb.Fatal(err)
	}
	rebuilt := storedFlags(tb, f.store)
	if len(rebuilt) != len(live) {
		tb.Fatalf("rebuild stored %d flags, the live detector %d", len(rebuilt), len(live))
	}
	for id, b := range live {
		if rebuilt[id] != b {
			tb.Errorf("flag %s differs after rebuild:\nlive    %s\nrebuilt %s", id, b, rebuilt[id])
		}
	}
	if snap, _ := json.Marshal(d.Snapshot()); !bytes.Equal(snap, liveSnap) {
		tb.Error("in-memory flags differ after rebuild")
	}
}

func TestDispositionIsRecorded(t *testing.T) {
	f := newFixture(t, t.TempDir())
	f.submit(t, f.subs...)
	d := openDeriver(t, f)
	flags, _, err := d.ListFlags(Query{Filter: `rule_id = "R1"`})
	if err != nil || len(flags) == 0 {
		t.Fatalf("no R1 flag to dispose of: %v", err)
	}
	id := flags[0].ID
	payload, _ := proto.Marshal(&chemledgerv1.Disposition{FlagId: id, Status: chemledgerv1.DispositionStatus_DISPOSITION_STATUS_ESCALATED, Note: "70 kg unaccounted for; referred to PGR."})
	env, err := envelope.Sign(envelope.PayloadTypeDispositionProto, payload, f.keys["MX-ANAM"].Signer())
	if err != nil {
		t.Fatal(err)
	}
	f.submit(t, ledger.Submission{ID: "MX-ANAM:disp-1", Leaf: env, Member: "MX-ANAM", Kind: "DISPOSITION"})
	if err := d.CatchUp(0); err != nil {
		t.Fatal(err)
	}
	got, err := d.Flag(id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != StatusEscalated || len(got.History) != 1 || got.History[0].Member != "MX-ANAM" || got.History[0].Index != uint64(len(f.subs)) {
		t.Fatalf("flag after disposition: status %s, history %+v", got.Status(), got.History)
	}
	open, _, _ := d.ListFlags(Query{Filter: `status = OPEN AND rule_id = "R1"`})
	for _, fl := range open {
		if fl.ID == id {
			t.Error("an escalated flag is still listed as OPEN")
		}
	}
}

// registrySubmissions signs the example registry entries (licences of the
// legitimate consignees, an annual requirement, a watch list), each as the
// demo member of the country that issues it; they go into the log first.
func registrySubmissions(tb testing.TB, f *fixture) []ledger.Submission {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "registry.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []ledger.Submission
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		r := &chemledgerv1.RegistryEntry{}
		if err := protojson.Unmarshal(line, r); err != nil {
			tb.Fatalf("registry line %d: %v", i+1, err)
		}
		country := r.GetLicence().GetIssuingCountry() + r.GetAnnualRequirement().GetCountry() + r.GetWatchListEntry().GetParty().GetCountry()
		member, err := eventfile.DemoMemberFor(&chemledgerv1.ShipmentEvent{LocationCountry: country})
		if err != nil {
			tb.Fatalf("registry line %d: %v", i+1, err)
		}
		env, err := envelope.Sign(envelope.PayloadTypeRegistryJSON, line, f.keys[member].Signer())
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, ledger.Submission{ID: member + ":" + r.GetEntryId(), Leaf: env, Member: member, Kind: "REGISTRY"})
	}
	return out
}

// TestRulesChangeDerivesAgain: flags stored under other rule versions (a
// rule changed in the code, the policy file unchanged) are derived again at
// the next start, not served stale.
func TestRulesChangeDerivesAgain(t *testing.T) {
	f := newFixture(t, t.TempDir())
	f.submit(t, f.subs...)
	d := openDeriver(t, f)
	n := d.Applied()
	if n == 0 {
		t.Fatal("nothing applied")
	}
	f.close()

	f.open(t)
	if d, err := Open(f.store, f.ledger, testConfig()); err != nil || d.Applied() != n {
		t.Fatalf("unchanged rules: restart at %d (%v), want %d", d.Applied(), err, n)
	}
	// What a store derived by an older build holds: the policy version
	// without the rules'.
	if err := f.store.Update(func(tx *storage.WriteTx) error {
		return tx.PutDetectorValue(keyPolicy, []byte(detect.NewEngine(testConfig().Policy).PolicyVersion()))
	}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(f.store, f.ledger, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if d.Applied() != 0 || len(d.Snapshot()) != 0 {
		t.Fatalf("after a rules change: %d applied, %d flags kept; want the derived state dropped", d.Applied(), len(d.Snapshot()))
	}
	if err := d.CatchUp(0); err != nil {
		t.Fatal(err)
	}
	if d.Applied() != n {
		t.Errorf("derived again up to %d, want %d", d.Applied(), n)
	}
}
