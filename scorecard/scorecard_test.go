package scorecard_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/detect/scenario"
	"github.com/chemledger/chemledger/internal/datadir"
	v1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/scorecard"
)

// year is the scenario year folded through the detector the way derive
// folds it (Apply, then Sweep as the log's clock advances), with
// dispositions appended on a third of the flags at varying delays so the
// disposition figures have something to count.
type year struct {
	in scorecard.Input
}

var (
	yearOnce sync.Once
	theYear  year
)

func scenarioYear(tb testing.TB) scorecard.Input {
	tb.Helper()
	yearOnce.Do(func() {
		sc := scenario.Generate(scenario.DefaultConfig())
		var log []scorecard.LogEntry
		for i, it := range sc.Items {
			log = append(log, scorecard.LogEntry{Entry: scorecard.Entry{Index: uint64(i), Member: it.Member, Time: it.Time, Event: it.Event}, Registry: it.Registry})
		}
		eng, entries, sflags := scorecard.Detect(log, detect.DefaultPolicy())
		// The disposition figures need dispositions: one on every third
		// flag, by a member in turn, 1 to 50 days after raising.
		var flags []detect.Flag
		for _, f := range sflags {
			flags = append(flags, detect.Flag{ID: f.ID, RuleID: f.RuleID, RaisedAt: f.RaisedAt, Evidence: f.Evidence})
		}
		last := sc.Items[len(sc.Items)-1].Time
		var sf []scorecard.Flag
		statuses := []v1.DispositionStatus{v1.DispositionStatus_DISPOSITION_STATUS_CONFIRMED, v1.DispositionStatus_DISPOSITION_STATUS_DISMISSED, v1.DispositionStatus_DISPOSITION_STATUS_ESCALATED}
		type disp struct {
			at   time.Time
			f    detect.Flag
			by   string
			stat v1.DispositionStatus
		}
		var ds []disp
		for i, f := range flags {
			sf = append(sf, scorecard.Flag{ID: f.ID, RuleID: f.RuleID, RaisedAt: f.RaisedAt, Evidence: f.Evidence})
			if i%3 != 0 {
				continue
			}
			at := f.RaisedAt.Add(time.Duration(1+(i*7)%50) * 24 * time.Hour)
			if at.Before(last) {
				// The dispositions come after the year's entries in the log,
				// so their integrated time cannot be earlier.
				at = last.Add(time.Duration(i) * time.Minute)
			}
			ds = append(ds, disp{at, f, datadir.DemoMembers[i%len(datadir.DemoMembers)].ID, statuses[i%3]})
		}
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].at.Before(ds[j].at) })
		for n, d := range ds {
			entries = append(entries, scorecard.Entry{Index: uint64(len(sc.Items) + n), Member: d.by, Time: d.at,
				Disposition: &v1.Disposition{FlagId: d.f.ID, Status: d.stat, Note: "reviewed"}})
		}
		var members []scorecard.Member
		for _, m := range datadir.DemoMembers {
			members = append(members, scorecard.Member{ID: m.ID, Country: m.Country})
		}
		theYear.in = scorecard.Input{
			Checkpoint: scorecard.Checkpoint{Origin: "test", Size: uint64(len(entries))},
			Members:    members, Entries: entries, Flags: sf, KG: scorecard.KG(eng),
		}
	})
	return theYear.in
}

// TestScorecardEqualsBruteForce recounts every figure of every member and
// month straight from the raw entries, each indicator by a scan of its own
// written from the definition's words, and compares.
func TestScorecardEqualsBruteForce(t *testing.T) {
	in := scenarioYear(t)
	card := scorecard.Compute(in)
	if len(card.Rows) == 0 {
		t.Fatal("no rows")
	}
	nonzero := map[string]int{}
	for _, row := range card.Rows {
		want := bruteForce(in, row.Member, row.Month)
		got := map[string]scorecard.Figure{}
		for _, f := range row.Figures {
			got[f.ID] = f
		}
		for id, w := range want {
			g, ok := got[id]
			if !ok {
				if w.Numerator != 0 {
					t.Errorf("%s %s %s: missing, want %+v", row.Member, row.Month, id, w)
				}
				continue
			}
			if g.Defined != w.Defined || !close(g.Value, w.Value) || !close(g.Numerator, w.Numerator) || !close(g.Denominator, w.Denominator) {
				t.Errorf("%s %s %s:\n got value %v (defined %v) num %v den %v\nwant value %v (defined %v) num %v den %v",
					row.Member, row.Month, id, g.Value, g.Defined, g.Numerator, g.Denominator, w.Value, w.Defined, w.Numerator, w.Denominator)
			}
			if w.Entries != nil && !slices.Equal(g.Entries, w.Entries) {
				t.Errorf("%s %s %s: drill-down entries differ: got %d entries, want %d", row.Member, row.Month, id, len(g.Entries), len(w.Entries))
			}
			if g.Numerator != 0 || g.Denominator != 0 {
				nonzero[id]++
			}
		}
		for id, g := range got {
			if _, ok := want[id]; !ok && g.Numerator != 0 {
				t.Errorf("%s %s %s: computed %v, brute force has no such figure", row.Member, row.Month, id, g.Value)
			}
		}
	}
	// The recount is worthless if the year leaves an indicator at zero.
	for _, d := range scorecard.Definitions() {
		if nonzero[d.ID] == 0 {
			t.Errorf("indicator %s is zero for every member and month; the scenario does not exercise it", d.ID)
		}
	}
	t.Logf("%d rows; months with a non-zero figure per indicator: %v", len(card.Rows), nonzero)
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func occ(e scorecard.Entry) time.Time {
	if e.Event.GetOccurredTime() != nil {
		return e.Event.GetOccurredTime().AsTime()
	}
	return e.Time
}

func inMonth(t time.Time, mon string) bool { return t.UTC().Format("2006-01") == mon }

func is(e scorecard.Entry, k v1.EventKind) bool { return e.Event != nil && e.Event.GetKind() == k }

const (
	kPEN     = v1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION
	kReply   = v1.EventKind_EVENT_KIND_PEN_REPLY
	kExport  = v1.EventKind_EVENT_KIND_EXPORT_DECLARATION
	kImport  = v1.EventKind_EVENT_KIND_IMPORT_DECLARATION
	kReceipt = v1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION
	kInc     = v1.EventKind_EVENT_KIND_INCIDENT
)

func share(num, den float64, entries []uint64) scorecard.Figure {
	f := scorecard.Figure{Numerator: num, Denominator: den, Entries: uniq(entries)}
	if den > 0 {
		f.Value, f.Defined = num/den, true
	}
	return f
}

func count(n float64, entries []uint64) scorecard.Figure {
	return scorecard.Figure{Value: n, Numerator: n, Defined: true, Entries: uniq(entries)}
}

func uniq(xs []uint64) []uint64 {
	if len(xs) == 0 {
		return nil
	}
	return slices.Compact(slices.Sorted(slices.Values(xs)))
}

func rank(obs []float64, p float64) scorecard.Figure {
	f := scorecard.Figure{Denominator: float64(len(obs))}
	if len(obs) == 0 {
		return f
	}
	s := slices.Sorted(slices.Values(obs))
	// nearest rank: the smallest x with at least p % of obs <= x
	for _, x := range s {
		n := 0
		for _, y := range s {
			if y <= x {
				n++
			}
		}
		if float64(n) >= p/100*float64(len(s)) {
			f.Value, f.Defined = x, true
			return f
		}
	}
	return f
}

// bruteForce computes member's figures for mon by scanning every entry for
// every figure, with no shared index.
func bruteForce(in scorecard.Input, member, mon string) map[string]scorecard.Figure {
	E := in.Entries
	out := map[string]scorecard.Figure{}
	var myCountry string
	for _, m := range in.Members {
		if m.ID == member {
			myCountry = m.Country
		}
	}
	// first PEN of a shipment reference (the earliest index)
	firstPEN := func(ref string) (scorecard.Entry, bool) {
		for _, e := range E {
			if is(e, kPEN) && e.Event.GetShipmentRef() == ref {
				return e, true
			}
		}
		return scorecard.Entry{}, false
	}
	firstAfter := func(ref string, k v1.EventKind, after uint64) (scorecard.Entry, bool) {
		for _, e := range E {
			if is(e, k) && e.Event.GetShipmentRef() == ref && e.Index > after {
				return e, true
			}
		}
		return scorecard.Entry{}, false
	}

	var sent, recv, onNum, onDen float64
	var sentE, recvE, onE, replyE []uint64
	var replyH []float64
	for _, e := range E {
		if !is(e, kPEN) || !inMonth(occ(e), mon) {
			continue
		}
		if p, _ := firstPEN(e.Event.GetShipmentRef()); p.Index != e.Index {
			// a second PEN for the same reference still counts as sent
			// and received, but replies are matched from its own index
		}
		if e.Member == member {
			sent++
			sentE = append(sentE, e.Index)
		}
		if e.Event.GetImporter().GetCountry() != myCountry {
			continue
		}
		recv++
		recvE = append(recvE, e.Index)
		r, has := firstAfter(e.Event.GetShipmentRef(), kReply, e.Index)
		if e.Event.GetReplyByTime() != nil {
			onDen++
			onE = append(onE, e.Index)
			if has && !occ(r).After(e.Event.GetReplyByTime().AsTime()) {
				onNum++
				onE = append(onE, r.Index)
			}
		}
		if has {
			replyH = append(replyH, occ(r).Sub(occ(e)).Hours())
			replyE = append(replyE, e.Index, r.Index)
		}
	}
	out[scorecard.PENSent] = count(sent, sentE)
	out[scorecard.PENReceived] = count(recv, recvE)
	out[scorecard.PENAnsweredOnTime] = share(onNum, onDen, onE)
	m50, p90 := rank(replyH, 50), rank(replyH, 90)
	m50.Entries, p90.Entries = uniq(replyE), uniq(replyE)
	out[scorecard.ReplyHoursMedian], out[scorecard.ReplyHoursP90] = m50, p90

	var wNum, wDen, cNum, cDen, kgE, kgR, qNum, qDen float64
	var wE, cE, qE []uint64
	for _, e := range E {
		if !is(e, kExport) || e.Member != member || !inMonth(occ(e), mon) {
			continue
		}
		ref := e.Event.GetShipmentRef()
		if p, ok := firstPEN(ref); ok && p.Index < e.Index {
			wDen++
			wE = append(wE, e.Index)
			for _, r := range E {
				if is(r, kReply) && r.Event.GetShipmentRef() == ref && r.Index > p.Index && r.Index < e.Index && occ(r).Before(occ(e)) {
					wNum++
					wE = append(wE, r.Index)
					break
				}
			}
		}
		if arr := e.Event.GetArrivalTime(); arr != nil {
			due := arr.AsTime().Add(30 * 24 * time.Hour)
			cDen++
			cE = append(cE, e.Index)
			var imp, rc *scorecard.Entry
			for i := range E {
				x := E[i]
				if x.Event.GetShipmentRef() != ref || x.Index <= e.Index || occ(x).After(due) {
					continue
				}
				if is(x, kImport) && imp == nil {
					imp = &E[i]
				}
				if is(x, kReceipt) && rc == nil {
					rc = &E[i]
				}
			}
			if imp != nil && rc != nil {
				cNum++
				cE = append(cE, imp.Index, rc.Index)
			}
		}
		if rc, ok := firstAfter(ref, kReceipt, e.Index); ok {
			a, okA := in.KG(e.Event)
			b, okB := in.KG(rc.Event)
			if okA && okB {
				kgE += a
				kgR += b
				qDen++
				qE = append(qE, e.Index, rc.Index)
				if math.Abs(b-a)/a > 0.005 {
					qNum++
				}
			}
		}
	}
	out[scorecard.ExportsWaited] = share(wNum, wDen, wE)
	out[scorecard.ExportsClosed] = share(cNum, cDen, cE)
	out[scorecard.KGExported] = count(kgE, qE)
	out[scorecard.KGReceived] = count(kgR, qE)
	out[scorecard.QuantityMismatch] = share(qNum, qDen, qE)

	var inc, lNum float64
	var incE []uint64
	for _, e := range E {
		if !is(e, kInc) || e.Member != member || !inMonth(occ(e), mon) {
			continue
		}
		inc++
		incE = append(incE, e.Index)
		linked := len(e.Event.GetReferences()) > 0
		for _, x := range E {
			if x.Event != nil && x.Event.GetShipmentRef() != "" && x.Event.GetShipmentRef() == e.Event.GetShipmentRef() && !is(x, kInc) {
				linked = true
			}
		}
		if linked {
			lNum++
		}
	}
	out[scorecard.IncidentsShared] = count(inc, incE)
	out[scorecard.IncidentsLinked] = share(lNum, inc, incE)

	// shipments: references first seen in mon with an event the member signed
	refs := map[string]bool{}
	var shipE []uint64
	for _, e := range E {
		if e.Event == nil || e.Event.GetShipmentRef() == "" || e.Member != member {
			continue
		}
		ref := e.Event.GetShipmentRef()
		for _, x := range E {
			if x.Event != nil && x.Event.GetShipmentRef() == ref {
				if inMonth(occ(x), mon) {
					refs[ref] = true
					shipE = append(shipE, e.Index)
				}
				break
			}
		}
	}
	nShip := float64(len(refs))
	out[scorecard.Shipments] = scorecard.Figure{Value: nShip, Numerator: nShip, Defined: true, Entries: uniq(shipE)}

	signedBy := func(ix uint64) string {
		for _, e := range E {
			if e.Index == ix {
				return e.Member
			}
		}
		return ""
	}
	var asOf time.Time
	for _, e := range E {
		if e.Time.After(asOf) {
			asOf = e.Time
		}
	}
	perRule := map[string]float64{}
	var total, openNum, openDen float64
	var dispDays []float64
	var flagIDs []string
	for _, f := range in.Flags {
		if !inMonth(f.RaisedAt, mon) {
			continue
		}
		mine := false
		for _, ix := range f.Evidence {
			if signedBy(ix) == member {
				mine = true
			}
		}
		if !mine {
			continue
		}
		total++
		perRule[f.RuleID]++
		flagIDs = append(flagIDs, f.ID)
		openDen++
		var first *time.Time
		for _, e := range E {
			if e.Disposition != nil && e.Disposition.GetFlagId() == f.ID {
				t := e.Time
				first = &t
				break
			}
		}
		if first != nil {
			dispDays = append(dispDays, first.Sub(f.RaisedAt).Hours()/24)
			if first.Sub(f.RaisedAt) > 30*24*time.Hour {
				openNum++
			}
		} else if asOf.Sub(f.RaisedAt) > 30*24*time.Hour {
			openNum++
		}
	}
	rate := func(n float64) scorecard.Figure {
		f := scorecard.Figure{Numerator: n, Denominator: nShip}
		if nShip > 0 {
			f.Value, f.Defined = 1000*n/nShip, true
		}
		return f
	}
	out[scorecard.FlagsPer1000] = rate(total)
	for r, n := range perRule {
		out[scorecard.FlagsPer1000+"."+r] = rate(n)
	}
	out[scorecard.FlagsOpenLong] = share(openNum, openDen, nil)
	out[scorecard.FlagsOpenLong] = scorecard.Figure{Value: out[scorecard.FlagsOpenLong].Value, Defined: openDen > 0, Numerator: openNum, Denominator: openDen}
	out[scorecard.DispositionDays] = rank(dispDays, 50)
	_ = flagIDs

	var nd float64
	var ndE []uint64
	for _, e := range E {
		if e.Disposition != nil && e.Member == member && inMonth(e.Time, mon) {
			nd++
			ndE = append(ndE, e.Index)
		}
	}
	out[scorecard.Dispositions] = count(nd, ndE)
	return out
}

// TestScorecardDeterministic: computing twice, and from a copy of the input
// with its slices rebuilt, gives the same bytes.
func TestScorecardDeterministic(t *testing.T) {
	in := scenarioYear(t)
	a, err := json.Marshal(scorecard.Compute(in))
	if err != nil {
		t.Fatal(err)
	}
	cp := in
	cp.Flags = slices.Clone(in.Flags)
	// The flags' order is not part of the input's meaning.
	slices.Reverse(cp.Flags)
	cp.Entries = slices.Clone(in.Entries)
	b, err := json.Marshal(scorecard.Compute(cp))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("two computations differ (%d and %d bytes)", len(a), len(b))
	}
	if testing.Verbose() {
		fmt.Println(len(a), "bytes")
	}
}
