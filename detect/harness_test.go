package detect_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/detect"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Chemicals the tests use, by CAS.
const (
	ephedrine       = "299-42-3"
	pseudoephedrine = "90-82-4"
	npp             = "39742-60-4"
	anpp            = "21409-26-7"
	aniline         = "62-53-3"
	propionylCl     = "79-03-8"
	propAnhydride   = "123-62-6"
	apaan           = "4468-48-8"
	acetone         = "67-64-1"
	methylamine     = "74-89-5"
	p2p             = "103-79-7"
	redPhosphorus   = "7723-14-0"
	fourPiperidone  = "41661-47-6"
	fourPipHCl      = "41979-39-9"
)

// t0 is day 0 of every test history.
var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.AddDate(0, 0, n) }

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

func party(name, country string, ids ...string) *v1.Party {
	p := &v1.Party{Name: name, Country: country}
	for i := 0; i+1 < len(ids); i += 2 {
		p.Identifiers = append(p.Identifiers, &v1.Identifier{Scheme: ids[i], Value: ids[i+1]})
	}
	return p
}

// The default parties: an Indian exporter, a Swiss importer-consignee.
// Switzerland is in none of the illustrative tables (no PEN requirement,
// no ALR, no complete licence register), so a rule under test is not
// drowned by the others; cases that need those tables set the country.
func exporterA() *v1.Party  { return party("Sun Pharma Chemicals Pvt. Ltd.", "IN") }
func exporterB() *v1.Party  { return party("Zhejiang Huayi Fine Chemical Co., Ltd.", "CN") }
func consignee() *v1.Party  { return party("Alpenchemie AG", "CH") }
func consignee2() *v1.Party { return party("Rhône Synthèse SA", "FR") }

type opt func(*v1.ShipmentEvent)

// ev builds a shipment event of kind for ref on day d: 100 kg of
// ephedrine from exporterA to consignee, unless options say otherwise.
func ev(kind v1.EventKind, ref string, d int, opts ...opt) *v1.ShipmentEvent {
	e := &v1.ShipmentEvent{
		EventId: ref + "-" + kind.String(), Kind: kind, ShipmentRef: ref,
		Chemical:     &v1.Chemical{Cas: ephedrine, HsCode: "29394100", Name: "Ephedrine"},
		Quantity:     &v1.Quantity{Value: 100, Unit: "KGM"},
		Exporter:     exporterA(),
		Importer:     consignee(),
		Consignee:    consignee(),
		OccurredTime: ts(day(d)),
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

func pen(ref string, d int, opts ...opt) *v1.ShipmentEvent {
	return ev(v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION, ref, d, opts...)
}
func reply(ref string, d int, r v1.PenReply, opts ...opt) *v1.ShipmentEvent {
	return ev(v1.EventKind_EVENT_KIND_PEN_REPLY, ref, d, append([]opt{func(e *v1.ShipmentEvent) { e.PenReply = r; e.Quantity = nil }}, opts...)...)
}
func export(ref string, d int, opts ...opt) *v1.ShipmentEvent {
	return ev(v1.EventKind_EVENT_KIND_EXPORT_DECLARATION, ref, d, opts...)
}
func transit(ref string, d int, opts ...opt) *v1.ShipmentEvent {
	return ev(v1.EventKind_EVENT_KIND_TRANSIT, ref, d, opts...)
}
func imp(ref string, d int, opts ...opt) *v1.ShipmentEvent {
	return ev(v1.EventKind_EVENT_KIND_IMPORT_DECLARATION, ref, d, opts...)
}
func receipt(ref string, d int, opts ...opt) *v1.ShipmentEvent {
	return ev(v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION, ref, d, opts...)
}
func incident(ref string, d int, k v1.IncidentKind, opts ...opt) *v1.ShipmentEvent {
	return ev(v1.EventKind_EVENT_KIND_INCIDENT, ref, d, append([]opt{func(e *v1.ShipmentEvent) { e.IncidentKind = k }}, opts...)...)
}

func qty(v float64, unit string) opt {
	return func(e *v1.ShipmentEvent) { e.Quantity = &v1.Quantity{Value: v, Unit: unit} }
}
func chem(cas, hs string) opt {
	return func(e *v1.ShipmentEvent) { e.Chemical = &v1.Chemical{Cas: cas, HsCode: hs} }
}
func conc(p float64) opt   { return func(e *v1.ShipmentEvent) { e.Chemical.ConcentrationPercent = p } }
func from(p *v1.Party) opt { return func(e *v1.ShipmentEvent) { e.Exporter = p } }

// to sets importer and consignee to p.
func to(p *v1.Party) opt {
	return func(e *v1.ShipmentEvent) { e.Importer, e.Consignee = p, p }
}
func consignedTo(p *v1.Party) opt { return func(e *v1.ShipmentEvent) { e.Consignee = p } }
func noConsignee() opt            { return func(e *v1.ShipmentEvent) { e.Consignee = nil } }
func arrival(d int) opt           { return func(e *v1.ShipmentEvent) { e.ArrivalTime = ts(day(d)) } }
func dispatch(d int) opt          { return func(e *v1.ShipmentEvent) { e.DispatchTime = ts(day(d)) } }
func replyBy(d int) opt           { return func(e *v1.ShipmentEvent) { e.ReplyByTime = ts(day(d)) } }
func route(legs ...*v1.RouteLeg) opt {
	return func(e *v1.ShipmentEvent) { e.Route = legs }
}
func via(locode string, ftz bool) *v1.RouteLeg {
	return &v1.RouteLeg{Locode: locode, FreeTradeZone: ftz}
}
func intermediary(p *v1.Party) opt {
	return func(e *v1.ShipmentEvent) { e.Intermediaries = append(e.Intermediaries, p) }
}

// entry is one step of a test history: an event or a registry change.
type entry struct {
	event *v1.ShipmentEvent
	reg   *v1.RegistryEntry
	ref   *detect.ReferenceUpdate
	refAt int // the day a reference update is logged
}

func E(e *v1.ShipmentEvent) entry { return entry{event: e} }
func R(r *v1.RegistryEntry) entry { return entry{reg: r} }

func licence(number, country string, holder *v1.Party, cas []string, fromDay, untilDay int) *v1.RegistryEntry {
	return &v1.RegistryEntry{
		EntryId: "lic-" + number, EffectiveTime: ts(day(fromDay)),
		Change: &v1.RegistryEntry_Licence{Licence: &v1.Licence{
			Number: number, IssuingCountry: country, Holder: holder, Cas: cas,
			ValidFrom: ts(day(fromDay)), ValidUntil: ts(day(untilDay)),
		}},
	}
}

func revoke(number, country string, holder *v1.Party, d int) *v1.RegistryEntry {
	return &v1.RegistryEntry{
		EntryId: "rev-" + number, EffectiveTime: ts(day(d)),
		Change: &v1.RegistryEntry_Licence{Licence: &v1.Licence{Number: number, IssuingCountry: country, Holder: holder, Revoked: true}},
	}
}

func watch(list string, p *v1.Party, d int, aliases ...string) *v1.RegistryEntry {
	return &v1.RegistryEntry{
		EntryId: "watch-" + p.GetName(), EffectiveTime: ts(day(d)),
		Change: &v1.RegistryEntry_WatchListEntry{WatchListEntry: &v1.WatchListEntry{
			Party: p, Aliases: aliases, List: list, Reason: "designated for supplying fentanyl precursors",
		}},
	}
}

func unwatch(list string, p *v1.Party, d int) *v1.RegistryEntry {
	r := watch(list, p, d)
	r.GetWatchListEntry().Removed = true
	return r
}

func alr(country, cas string, kg float64, year int32, d int) *v1.RegistryEntry {
	return &v1.RegistryEntry{
		EntryId: "alr-" + country + cas, EffectiveTime: ts(day(d)),
		Change: &v1.RegistryEntry_AnnualRequirement{AnnualRequirement: &v1.AnnualRequirement{Country: country, Cas: cas, Kilograms: kg, Year: year}},
	}
}

// records numbers the entries from 1 and dates each an hour after it
// happened (an event) or took effect (a registry change), the way the log
// would integrate them.
func records(entries []entry) []detect.Record {
	out := make([]detect.Record, len(entries))
	for i, e := range entries {
		r := detect.Record{Index: uint64(i + 1), Member: "XX"}
		if e.event != nil {
			r.Event = e.event
			r.Time = e.event.GetOccurredTime().AsTime().Add(time.Hour)
			r.Member = e.event.GetLocationCountry()
		} else if e.ref != nil {
			r.Reference, r.Member = e.ref, "CH"
			r.Time = day(e.refAt).Add(time.Hour)
		} else {
			r.Registry = e.reg
			r.Time = e.reg.GetEffectiveTime().AsTime().Add(time.Hour)
		}
		out[i] = r
	}
	return out
}

// run folds entries into a fresh state and, when sweep is set, sweeps as of
// it; it returns every flag raised.
func run(tb testing.TB, p detect.Policy, entries []entry, sweep time.Time) []detect.Flag {
	tb.Helper()
	e := detect.NewEngine(p)
	s := detect.NewState()
	var flags []detect.Flag
	for _, r := range records(entries) {
		flags = append(flags, e.Apply(s, r)...)
	}
	if !sweep.IsZero() {
		flags = append(flags, e.Sweep(s, sweep)...)
	}
	return flags
}

func ofRule(flags []detect.Flag, id string) []detect.Flag {
	var out []detect.Flag
	for _, f := range flags {
		if f.RuleID == id {
			out = append(out, f)
		}
	}
	return out
}

// heads drops linked flags: those of shipments joining a pattern a group
// rule flagged before (pattern_test.go checks them).
func heads(flags []detect.Flag) []detect.Flag {
	var out []detect.Flag
	for _, f := range flags {
		if f.Joins == "" {
			out = append(out, f)
		}
	}
	return out
}

// ruleCase is one history for one rule: it must raise exactly one flag of
// the rule with severity wantSev, or none when wantSev is 0 (a near miss);
// flags linked to that one by a group pattern are not counted.
type ruleCase struct {
	name    string
	entries []entry
	sweep   time.Time
	policy  *detect.Policy
	wantSev detect.Severity
}

// runRuleCases runs the cases and compares the fired flags with the
// rule's golden file, testdata/rules/<rule>.golden.json.
func runRuleCases(t *testing.T, rule string, cases []ruleCase) {
	t.Helper()
	golden := make(map[string]detect.Flag)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := detect.DefaultPolicy()
			if tc.policy != nil {
				p = *tc.policy
			}
			got := heads(ofRule(run(t, p, tc.entries, tc.sweep), rule))
			if tc.wantSev == 0 {
				if len(got) != 0 {
					t.Fatalf("%s raised %d flag(s) on a near miss, want none; first:\n%s", rule, len(got), mustJSON(t, got[0]))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%s raised %d flags, want 1:\n%s", rule, len(got), mustJSON(t, got))
			}
			if got[0].Severity != tc.wantSev {
				t.Errorf("severity = %v, want %v", got[0].Severity, tc.wantSev)
			}
			if strings.ContainsAny(got[0].Explanation, "{}") {
				t.Errorf("explanation has an unfilled placeholder: %s", got[0].Explanation)
			}
			golden[tc.name] = got[0]
		})
	}
	checkGolden(t, filepath.Join("testdata", "rules", rule+".golden.json"), mustJSON(t, golden))
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		tb.Fatalf("encode: %v", err)
	}
	return append(b, '\n')
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update after checking):\n got: %s\nwant: %s", path, got, want)
	}
}

// policyWith returns the default policy changed by edit.
func policyWith(tb testing.TB, edit func(*detect.Policy)) *detect.Policy {
	p := detect.DefaultPolicy()
	edit(&p)
	return &p
}
