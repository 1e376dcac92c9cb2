package scenario_test

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/chemledger/chemledger/detect/scenario"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/internal/refdata"
	"github.com/chemledger/chemledger/internal/validate"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

// year is the default scenario, generated once for all tests.
var year = sync.OnceValue(func() scenario.Scenario { return scenario.Generate(scenario.DefaultConfig()) })

func TestGenerateIsDeterministic(t *testing.T) {
	cfg := scenario.DefaultConfig()
	cfg.Seed = 42
	a, b := scenario.Generate(cfg), scenario.Generate(cfg)
	if len(a.Items) != len(b.Items) {
		t.Fatalf("same seed: %d items, then %d", len(a.Items), len(b.Items))
	}
	for i := range a.Items {
		x, y := a.Items[i], b.Items[i]
		if x.Member != y.Member || !x.Time.Equal(y.Time) || !proto.Equal(x.Event, y.Event) || !proto.Equal(x.Registry, y.Registry) {
			t.Fatalf("same seed, item %d differs:\n%v %v %v %v\n%v %v %v %v", i, x.Member, x.Time, x.Event, x.Registry, y.Member, y.Time, y.Event, y.Registry)
		}
	}
	if !reflect.DeepEqual(a.Cases, b.Cases) || !reflect.DeepEqual(a.Patterns, b.Patterns) || !slices.Equal(a.CleanShipments, b.CleanShipments) {
		t.Fatal("same seed, different cases or clean shipments")
	}

	cfg.Seed = 43
	c := scenario.Generate(cfg)
	if len(c.Items) == len(a.Items) && proto.Equal(c.Items[len(c.Items)/2].Event, a.Items[len(a.Items)/2].Event) {
		t.Error("seeds 42 and 43 give the same year")
	}
}

func TestEventsPassValidation(t *testing.T) {
	for i, it := range year().Items {
		if (it.Event == nil) == (it.Registry == nil) {
			t.Fatalf("item %d: want exactly one of Event and Registry", i)
		}
		if it.Event != nil {
			if err := validate.Event(it.Event); err != nil {
				t.Errorf("item %d (%s): %v", i, it.Event.GetEventId(), err)
			}
		}
	}
}

func TestItemsAreOrderedAndSignedWhereTheyHappen(t *testing.T) {
	byCountry := make(map[string]string)
	isMember := make(map[string]bool)
	for _, m := range datadir.DemoMembers {
		byCountry[m.Country] = m.ID
		isMember[m.ID] = true
	}
	ids := make(map[string]bool)
	sc := year()
	for i, it := range sc.Items {
		if i > 0 && it.Time.Before(sc.Items[i-1].Time) {
			t.Errorf("item %d at %v is before item %d at %v", i, it.Time, i-1, sc.Items[i-1].Time)
		}
		if !isMember[it.Member] {
			t.Errorf("item %d: member %q is not a demo member", i, it.Member)
		}
		id := it.Registry.GetEntryId()
		if it.Event != nil {
			id = it.Event.GetEventId()
			if want := byCountry[it.Event.GetLocationCountry()]; it.Member != want {
				t.Errorf("item %d (%s): signed by %s, but located in %s (member %q)", i, id, it.Member, it.Event.GetLocationCountry(), want)
			}
			if occurred := it.Event.GetOccurredTime().AsTime(); it.Time.Before(occurred) {
				t.Errorf("item %d (%s): submitted %v before it happened %v", i, id, it.Time, occurred)
			}
		}
		if ids[it.Member+"/"+id] {
			t.Errorf("item %d: id %s used twice by %s", i, id, it.Member)
		}
		ids[it.Member+"/"+id] = true
	}
}

func TestTradeIsBroad(t *testing.T) {
	sc := year()
	clean := make(map[string]bool)
	for _, ref := range sc.CleanShipments {
		clean[ref] = true
	}
	countries := make(map[string]bool)
	companies := make(map[string]bool)
	members := make(map[string]bool)
	for _, it := range sc.Items {
		ev := it.Event
		if ev == nil || !clean[ev.GetShipmentRef()] {
			continue
		}
		members[it.Member] = true
		for _, p := range append([]*chemledgerv1.Party{ev.GetExporter(), ev.GetImporter(), ev.GetConsignee()}, ev.GetIntermediaries()...) {
			countries[p.GetCountry()] = true
			companies[p.GetName()] = true
		}
	}
	if len(countries) < 8 {
		t.Errorf("legitimate trade involves %d countries, want at least 8: %v", len(countries), keys(countries))
	}
	if len(companies) < scenario.MinCompanies {
		t.Errorf("legitimate trade involves %d companies, want at least %d", len(companies), scenario.MinCompanies)
	}
	if len(members) != len(datadir.DemoMembers) {
		t.Errorf("legitimate trade is reported by %v, want every demo member", keys(members))
	}
	perMonth := float64(len(sc.CleanShipments)) / (365 / 30.4)
	if want := float64(scenario.DefaultConfig().ShipmentsPerMonth); math.Abs(perMonth-want) > 1 {
		t.Errorf("%.1f clean shipments a month, want %v", perMonth, want)
	}
}

func TestEveryRuleHasTwoCases(t *testing.T) {
	sc := year()
	refs := make(map[string]bool)
	for _, it := range sc.Items {
		refs[it.Event.GetShipmentRef()] = true
	}
	clean := make(map[string]bool)
	for _, ref := range sc.CleanShipments {
		clean[ref] = true
	}
	per := make(map[string]int)
	for _, c := range sc.Cases {
		per[c.RuleID]++
		if !refs[c.ShipmentRef] {
			t.Errorf("%s case %q: no event has that shipment reference", c.RuleID, c.ShipmentRef)
		}
		if clean[c.ShipmentRef] {
			t.Errorf("%s case %q is also listed as clean", c.RuleID, c.ShipmentRef)
		}
		if c.Subject == "" || c.Note == "" {
			t.Errorf("%s case %q: subject and note are required", c.RuleID, c.ShipmentRef)
		}
	}
	for _, id := range scenario.RuleIDs {
		if per[id] < 2 {
			t.Errorf("rule %s has %d cases, want at least 2", id, per[id])
		}
	}
}

// TestCleanShipmentsHaveCompleteLifecycles checks the legitimate shipments
// leg by leg: PEN, no objection before the reply-by date, export, transits,
// import, receipt, in that order; the same chemical, HS code family and
// consignee throughout; the quantity received within 0.1 % of the exported
// one; no free zone; a consignee licence valid at import.
func TestCleanShipmentsHaveCompleteLifecycles(t *testing.T) {
	sc := year()
	type licence struct {
		cas          []string
		from, until  time.Time
		revoked      bool
		holderNumber string
	}
	licences := make(map[string][]licence) // holder name|country
	legs := make(map[string][]*chemledgerv1.ShipmentEvent)
	for _, it := range sc.Items {
		if l := it.Registry.GetLicence(); l != nil {
			k := l.GetHolder().GetName() + "|" + l.GetHolder().GetCountry()
			licences[k] = append(licences[k], licence{l.GetCas(), l.GetValidFrom().AsTime(), l.GetValidUntil().AsTime(), l.GetRevoked(), l.GetNumber()})
		}
		if it.Event != nil {
			legs[it.Event.GetShipmentRef()] = append(legs[it.Event.GetShipmentRef()], it.Event)
		}
	}
	for _, ref := range sc.CleanShipments {
		evs := legs[ref]
		var kinds []string
		for _, ev := range evs {
			kinds = append(kinds, strings.TrimPrefix(ev.GetKind().String(), "EVENT_KIND_"))
		}
		got := strings.Join(slices.Compact(kinds), " ")
		if got != "PRE_EXPORT_NOTIFICATION PEN_REPLY EXPORT_DECLARATION IMPORT_DECLARATION RECEIPT_CONFIRMATION" &&
			got != "PRE_EXPORT_NOTIFICATION PEN_REPLY EXPORT_DECLARATION TRANSIT IMPORT_DECLARATION RECEIPT_CONFIRMATION" {
			t.Errorf("%s: legs %s, want PEN, reply, export, [transit], import, receipt", ref, got)
			continue
		}
		pen, reply, export, receipt := evs[0], evs[1], evs[2], evs[len(evs)-1]
		imp := evs[len(evs)-2]
		for i := 1; i < len(evs); i++ {
			if !evs[i].GetOccurredTime().AsTime().After(evs[i-1].GetOccurredTime().AsTime()) {
				t.Errorf("%s: %s happened before %s", ref, kinds[i], kinds[i-1])
			}
		}
		if reply.GetPenReply() != chemledgerv1.PenReply_PEN_REPLY_NO_OBJECTION || !reply.GetOccurredTime().AsTime().Before(pen.GetReplyByTime().AsTime()) {
			t.Errorf("%s: reply %v at %v, want no objection before %v", ref, reply.GetPenReply(), reply.GetOccurredTime().AsTime(), pen.GetReplyByTime().AsTime())
		}
		exported, received := export.GetQuantity().GetValue(), receipt.GetQuantity().GetValue()
		if math.Abs(exported-received) > 0.001*exported || receipt.GetQuantity().GetUnit() != export.GetQuantity().GetUnit() {
			t.Errorf("%s: exported %v, received %v %s", ref, exported, received, receipt.GetQuantity().GetUnit())
		}
		cas := pen.GetChemical().GetCas()
		chem, ok := refdata.ChemicalByCAS(cas)
		if !ok {
			t.Errorf("%s: CAS %s is not in the catalogue", ref, cas)
		}
		consignee := pen.GetConsignee()
		for i, ev := range evs {
			if ev.GetChemical().GetCas() != cas {
				t.Errorf("%s %s: CAS %s, want %s", ref, kinds[i], ev.GetChemical().GetCas(), cas)
			}
			if hs := ev.GetChemical().GetHsCode(); len(chem.HS) > 0 && !slices.Contains(chem.HS, hs[:6]) {
				t.Errorf("%s %s: HS %s, catalogue has %v for %s", ref, kinds[i], hs, chem.HS, cas)
			}
			if !proto.Equal(ev.GetConsignee(), consignee) {
				t.Errorf("%s %s: consignee %v, PEN named %v", ref, kinds[i], ev.GetConsignee().GetName(), consignee.GetName())
			}
			if !proto.Equal(ev.GetImporter(), consignee) {
				t.Errorf("%s %s: importer %v differs from the consignee %v", ref, kinds[i], ev.GetImporter().GetName(), consignee.GetName())
			}
			if len(ev.GetRoute()) > 3 {
				t.Errorf("%s %s: %d route places, want a direct route", ref, kinds[i], len(ev.GetRoute()))
			}
			for _, leg := range ev.GetRoute() {
				if leg.GetFreeTradeZone() {
					t.Errorf("%s %s: route through the free zone %s", ref, kinds[i], leg.GetLocode())
				}
			}
		}
		at := imp.GetOccurredTime().AsTime()
		valid := slices.ContainsFunc(licences[consignee.GetName()+"|"+consignee.GetCountry()], func(l licence) bool {
			return !l.revoked && slices.Contains(l.cas, cas) && !at.Before(l.from) && !at.After(l.until)
		})
		if !valid {
			t.Errorf("%s: consignee %s (%s) holds no licence for %s valid on %v", ref, consignee.GetName(), consignee.GetCountry(), cas, at)
		}
	}
}

func TestSmallConfigsAreRaised(t *testing.T) {
	sc := scenario.Generate(scenario.Config{Seed: 7, Days: 30, Companies: 3, ShipmentsPerMonth: 10})
	first := sc.Items[0].Time
	if want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); first.Before(want) || first.After(want.Add(24*time.Hour)) {
		t.Errorf("zero Start: first item at %v, want on %v", first, want)
	}
	last := sc.Items[len(sc.Items)-1].Time
	if span := last.Sub(first); span < time.Duration(scenario.MinDays-30)*24*time.Hour {
		t.Errorf("Days 30: items span %v, want at least about %d days", span, scenario.MinDays)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
