package derive

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/storage"
)

// benchDeriver holds n flags shaped like those of `ledgerbench analyst`:
// three rules, a dozen countries, a dozen chemicals, raised over a year,
// each with an explanation, thresholds and evidence. Only the query side is
// set up; nothing is stored.
func benchDeriver(n int) *Deriver {
	r := rand.New(rand.NewPCG(1, 2))
	rules := []struct {
		id  string
		sev detect.Severity
	}{{"R10", detect.SeverityCritical}, {"R13", detect.SeverityMedium}, {"R15", detect.SeverityHigh}}
	countries := []string{"MX", "CO", "GT", "PA", "US", "NL", "BE", "IN", "ZA", "BR", "NG", "PE"}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &Deriver{flags: newFlagSet()}
	flags := make([]*Flag, 0, n)
	for i := range n {
		rule := rules[i%len(rules)]
		ref := fmt.Sprintf("PEN-CN-2026-%07d", i)
		f := &Flag{Flag: detect.Flag{
			ID: fmt.Sprintf("%s-%012x", rule.id, r.Uint64()>>16), RuleID: rule.id, RuleVersion: 1, PolicyVersion: "bench",
			Severity: rule.sev, ShipmentRef: ref, Subject: ref, CAS: fmt.Sprintf("%d-00-%d", 100+r.IntN(12), i%10),
			Countries:   []string{"CN", countries[r.IntN(len(countries))]},
			RaisedAt:    start.Add(time.Duration(i) * (365 * 24 * time.Hour / time.Duration(n))),
			Thresholds:  []detect.Threshold{{Name: "third_countries", Value: "2 count"}},
			Explanation: strings.Repeat("x", 300),
			Evidence:    []uint64{uint64(i)},
		}}
		flags = append(flags, f)
	}
	d.flags.load(flags)
	return d
}

// BenchmarkListFlags is one ListFlags page of 50 over 100,000 flags, for
// filters from none to a single shipment, in both orders. Issue 3's target
// is p99 ≤ 50 ms through the API; this is the derive part alone.
func BenchmarkListFlags(b *testing.B) {
	d := benchDeriver(100_000)
	filters := []struct{ name, expr string }{
		{"none", ""},
		{"rule", `rule_id = "R10"`},
		{"country+severity", `country = "MX" AND severity = HIGH`},
		{"rule+country+open", `rule_id = "R13" AND country = "CO" AND status = OPEN`},
		{"time", `raised_time >= "2026-06-01T00:00:00Z" AND raised_time < "2026-07-01T00:00:00Z"`},
		{"shipment_ref", `shipment_ref = "PEN-CN-2026-0050000"`},
	}
	for _, f := range filters {
		for _, order := range []string{OrderNewest, OrderMostSevere} {
			b.Run(f.name+"/"+strings.Fields(order)[0], func(b *testing.B) {
				for b.Loop() {
					if _, _, err := d.ListFlags(Query{Filter: f.expr, OrderBy: order, PageSize: 50}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMatchShipmentRef is the flag lookup GetShipment makes for every
// shipment, over 100,000 flags.
func BenchmarkMatchShipmentRef(b *testing.B) {
	d := benchDeriver(100_000)
	for b.Loop() {
		fs, err := d.Match(`shipment_ref = "PEN-CN-2026-0050000"`)
		if err != nil || len(fs) != 1 {
			b.Fatalf("Match: %d flags, %v", len(fs), err)
		}
	}
}

// BenchmarkCatchUp derives a log of clean NPP notifications from scratch
// (read, parse, detect, store), with the orders spread over 2,000
// consignees, and with all of them going to one consignee: the second shows
// what a single busy consignee's order history costs. It reports entries/s.
func BenchmarkCatchUp(b *testing.B) {
	for _, bc := range []struct {
		entries, consignees int
	}{{20_000, 2000}, {500, 1}, {1000, 1}} {
		b.Run(fmt.Sprintf("entries=%d/consignees=%d", bc.entries, bc.consignees), func(b *testing.B) {
			store, l := benchLedger(b, bc.entries, bc.consignees)
			for b.Loop() {
				if err := store.DropDerived(); err != nil {
					b.Fatal(err)
				}
				d, err := Open(store, l, testConfig())
				if err != nil {
					b.Fatal(err)
				}
				if err := d.CatchUp(0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bc.entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// benchLedger is a ledger of n signed notifications of NPP from China to
// Mexico, one a minute, to the given number of consignees in turn.
func benchLedger(b *testing.B, n, consignees int) (*storage.Store, *ledger.Ledger) {
	b.Helper()
	layout := datadir.Layout{Dir: b.TempDir()}
	if err := datadir.EnsureDev(layout); err != nil {
		b.Fatal(err)
	}
	key, err := members.ReadPrivateKey(layout.MemberKey("CN-GACC"))
	if err != nil {
		b.Fatal(err)
	}
	store, l := openLedger(b, layout, nil)
	b.Cleanup(func() { l.Close(); store.Close() })
	signer := key.Signer()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	outcomes := make([]<-chan ledger.Outcome, n)
	for i := range n {
		ref := fmt.Sprintf("PEN-CN-2026-%06d", i)
		buyer := &chemledgerv1.Party{Name: fmt.Sprintf("Laboratorios Ejemplo %d S.A.", i%consignees), Country: "MX"}
		payload, err := proto.Marshal(&chemledgerv1.ShipmentEvent{
			EventId: ref, Kind: chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION, ShipmentRef: ref,
			Chemical: &chemledgerv1.Chemical{Cas: "39742-60-4", HsCode: "293337"},
			Quantity: &chemledgerv1.Quantity{Value: float64(100 + i%400), Unit: "KGM"},
			Exporter: &chemledgerv1.Party{Name: "Hangzhou Example Fine Chemical Co.", Country: "CN"},
			Importer: buyer, Consignee: buyer,
			OccurredTime: timestamppb.New(start.Add(time.Duration(i) * time.Minute)), LocationCountry: "CN",
		})
		if err != nil {
			b.Fatal(err)
		}
		env, err := envelope.Sign(envelope.PayloadTypeEventProto, payload, signer)
		if err != nil {
			b.Fatal(err)
		}
		if outcomes[i], err = l.Enqueue(b.Context(), ledger.Submission{
			ID: ref, Leaf: env, Member: "CN-GACC", ShipmentRef: ref, CAS: "39742-60-4", Kind: "PRE_EXPORT_NOTIFICATION",
		}, false); err != nil {
			b.Fatal(err)
		}
	}
	for _, ch := range outcomes {
		if o := <-ch; o.Err != nil {
			b.Fatal(o.Err)
		}
	}
	return store, l
}
