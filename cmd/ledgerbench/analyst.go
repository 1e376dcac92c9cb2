package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/detect"
	"github.com/chemledger/chemledger/detect/scenario"
	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/internal/datadir"
	"github.com/chemledger/chemledger/ledger"
	"github.com/chemledger/chemledger/members"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
	"github.com/chemledger/chemledger/server"
	"github.com/chemledger/chemledger/server/servertest"
	"github.com/chemledger/chemledger/storage"
)

// Issue 3's targets for the analyst side.
const (
	freshnessTarget   = time.Second
	listFlagsTarget   = 50 * time.Millisecond
	getShipmentTarget = 20 * time.Millisecond
)

// freshness measures how soon a flag can be queried after its evidence
// entry commits, while a steady background load of clean events runs
// through CreateEntry. Every ~100 ms it submits a pre-export notification
// of APAAN (no known legitimate use: R10 flags it at once) under a fresh
// shipment reference, takes the moment CreateEntry returns as the commit,
// and polls ListFlags for that reference every 5 ms until the flag is there.
func freshness(ctx context.Context, c config) error {
	in, stop, err := target(c)
	if err != nil {
		return err
	}
	defer stop()
	key := in.Keys["CN-GACC"]

	workers := c.clients
	const (
		injectEvery  = 100 * time.Millisecond
		pollEvery    = 5 * time.Millisecond
		flagDeadline = 30 * time.Second
	)
	// Everything is signed before the clock starts: the background with
	// 20 % to spare, the flag-raising events one per injection.
	first := int(time.Now().UnixNano() % 1e12)
	background, err := signAll(key, int(float64(c.rate)*c.duration.Seconds()*1.2)+workers, func(i int) *chemledgerv1.ShipmentEvent {
		return spreadEvent(first + i)
	})
	if err != nil {
		return err
	}
	injections := int(c.duration/injectEvery) + 1
	refs := make([]string, injections)
	for i := range refs {
		refs[i] = fmt.Sprintf("FRESH-%d-%04d", first, i)
	}
	triggers, err := signAll(key, injections, func(i int) *chemledgerv1.ShipmentEvent {
		return apaanNotification(refs[i], i, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute))
	})
	if err != nil {
		return err
	}
	// Four connections for the background, one for the probes.
	conns, err := connect(ctx, 5, func(int) (*grpc.ClientConn, error) {
		return grpc.NewClient(in.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	})
	if err != nil {
		return err
	}
	defer closeAll(conns)
	runtime.GC()
	profileStart()

	var (
		mu      sync.Mutex
		bgLat   []time.Duration
		errs    []error
		backlog uint64
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	runCtx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()

	start := time.Now()
	// The pacer releases events at c.rate on a 10 ms tick; the workers
	// submit them. A pacer that cannot hand over shows up as a lower rate.
	work := make(chan int, c.rate)
	var bg sync.WaitGroup
	bg.Go(func() {
		defer close(work)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		start, sent := time.Now(), 0
		for {
			select {
			case <-runCtx.Done():
				return
			case now := <-t.C:
				for due := min(len(background), int(now.Sub(start).Seconds()*float64(c.rate))); sent < due; sent++ {
					select {
					case work <- sent:
					case <-runCtx.Done():
						return
					}
				}
			}
		}
	})
	var done atomic.Int64
	for w := range workers {
		bg.Go(func() {
			api := chemledgerv1.NewLedgerServiceClient(conns[w%4])
			var mine []time.Duration
			for n := range work {
				if runCtx.Err() != nil {
					break
				}
				t := time.Now()
				if _, err := api.CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: fmt.Sprintf("fresh-bg-%d", first+n), Envelope: background[n]}); err != nil {
					fail(fmt.Errorf("background entry %d: %w", n, err))
					continue
				}
				mine = append(mine, time.Since(t))
				done.Add(1)
			}
			mu.Lock()
			bgLat = append(bgLat, mine...)
			mu.Unlock()
		})
	}
	if in.Deriver != nil {
		bg.Go(func() {
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
					cp, _ := in.Ledger.Checkpoint()
					if a := in.Deriver.Applied(); cp.Size > a {
						mu.Lock()
						backlog = max(backlog, cp.Size-a)
						mu.Unlock()
					}
				}
			}
		})
	}

	// The probes: one every injectEvery, each on its own goroutine so that
	// a slow flag does not delay the next injection.
	ledgerAPI := chemledgerv1.NewLedgerServiceClient(conns[4])
	analystAPI := chemledgerv1.NewAnalystServiceClient(conns[4])
	var (
		probes  sync.WaitGroup
		fresh   []time.Duration
		commit  []time.Duration
		missing int
	)
	tick := time.NewTicker(injectEvery)
inject:
	for i := range injections {
		select {
		case <-runCtx.Done():
			break inject
		case <-tick.C:
		}
		probes.Go(func() {
			t0 := time.Now()
			if _, err := ledgerAPI.CreateEntry(ctx, &chemledgerv1.CreateEntryRequest{SubmissionId: "fresh-" + refs[i], Envelope: triggers[i]}); err != nil {
				fail(fmt.Errorf("flag-raising entry %s: %w", refs[i], err))
				return
			}
			committed := time.Now()
			filter := fmt.Sprintf("shipment_ref = %q", refs[i])
			for time.Since(committed) < flagDeadline {
				resp, err := analystAPI.ListFlags(ctx, &chemledgerv1.ListFlagsRequest{Filter: filter, PageSize: 1})
				if err != nil {
					fail(fmt.Errorf("list flags of %s: %w", refs[i], err))
					return
				}
				if len(resp.GetFlags()) > 0 {
					queryable := time.Now()
					mu.Lock()
					fresh = append(fresh, queryable.Sub(committed))
					commit = append(commit, committed.Sub(t0))
					mu.Unlock()
					return
				}
				time.Sleep(pollEvery)
			}
			mu.Lock()
			missing++
			mu.Unlock()
		})
	}
	tick.Stop()
	<-runCtx.Done()
	bg.Wait()
	bgElapsed := time.Since(start)
	probes.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("freshness: %d errors, first: %w", len(errs), errs[0])
	}

	fmt.Fprintf(c.out, "background: %d clean events in %.1fs = %.0f events/s (asked %d/s) over %d unary clients; CreateEntry p50 %.2fms p99 %.2fms\n",
		done.Load(), bgElapsed.Seconds(), float64(done.Load())/bgElapsed.Seconds(), c.rate, workers, ms(percentile(bgLat, 0.5)), ms(percentile(bgLat, 0.99)))
	fmt.Fprintf(c.out, "flag-raising entries (R10, APAAN): %d, CreateEntry p50 %.2fms p99 %.2fms; %d flags not queryable within %v\n",
		len(fresh), ms(percentile(commit, 0.5)), ms(percentile(commit, 0.99)), missing, flagDeadline)
	p99 := percentile(fresh, 0.99)
	fmt.Fprintf(c.out, "freshness (commit → queryable through ListFlags, polled every %v): p50 %.1fms p99 %.1fms max %.1fms  [target p99 ≤ %v: %s]\n",
		pollEvery, ms(percentile(fresh, 0.5)), ms(p99), ms(slices.Max(append(fresh, 0))), freshnessTarget, verdict(missing == 0 && len(fresh) > 0 && p99 <= freshnessTarget))
	if in.Deriver != nil {
		fmt.Fprintf(c.out, "detector backlog, sampled every 50ms: max %d entries; flags in the store: %d (%d from the probes)\n",
			backlog, len(in.Deriver.Snapshot()), len(fresh))
	}
	return nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// spreadEvent is the i-th clean background event: event(i), a
// notification of NPP from China to Mexico, between one of 50 exporters and
// one of 2,000 consignees. Real trade is spread over many parties; event(i)
// alone sends everything to one consignee, whose growing order history
// makes some rules slower with every order.
func spreadEvent(i int) *chemledgerv1.ShipmentEvent {
	ev := event(i)
	ev.Exporter.Name = fmt.Sprintf("Hangzhou Example %d Fine Chemical Co.", i%50)
	ev.Importer.Name = fmt.Sprintf("Distribuidora Ejemplo %d S.A. de C.V.", i%2000)
	ev.Consignee = ev.Importer
	return ev
}

// apaanNotification is a valid pre-export notification of APAAN, a
// substance with no known legitimate use, from China to Mexico.
func apaanNotification(ref string, i int, at time.Time) *chemledgerv1.ShipmentEvent {
	buyer := &chemledgerv1.Party{Name: fmt.Sprintf("Comercializadora Ejemplo %d S.A. de C.V.", i), Country: "MX"}
	return &chemledgerv1.ShipmentEvent{
		EventId:         ref,
		Kind:            chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION,
		ShipmentRef:     ref,
		Chemical:        &chemledgerv1.Chemical{Cas: "4468-48-8", HsCode: "292640", Name: "alpha-Phenylacetoacetonitrile"},
		Quantity:        &chemledgerv1.Quantity{Value: 500, Unit: "KGM"},
		Exporter:        &chemledgerv1.Party{Name: "Wuhan Example Trading Co.", Country: "CN"},
		Importer:        buyer,
		Consignee:       buyer,
		OccurredTime:    timestamppb.New(at),
		LocationCountry: "CN",
	}
}

// signAll signs gen(0) to gen(n-1) as key on every core.
func signAll(key members.PrivateKey, n int, gen func(i int) *chemledgerv1.ShipmentEvent) ([][]byte, error) {
	signer := key.Signer()
	return signEach(n, gen, func(int) envelope.Signer { return signer })
}

// benchItem is one entry of the analyst log, before signing.
type benchItem struct {
	member   string
	time     time.Time
	event    *chemledgerv1.ShipmentEvent
	registry *chemledgerv1.RegistryEntry
}

// analystLog is the analyst mode's log: the scenario year, busier than the
// default, for multi-leg shipments, merged in time order with n synthetic
// pre-export notifications that each raise exactly one flag.
type analystLog struct {
	items     []benchItem
	multiLeg  []string // scenario shipments with two legs or more
	synthetic []string // references of the synthetic notifications
	start     time.Time
}

// The synthetic notifications: which rule each kind trips, with the
// chemicals (and declared HS codes) it uses. R10 needs a chemical with no
// known legitimate use; R13 a free-zone stop on the route; R15 an HS code
// the catalogue does not give for the CAS number. Quantities stay under
// every large-volume mark (R21) and over every reporting threshold (R11).
var (
	noLegitimateUse = [][2]string{{"4468-48-8", "292640"}, {"4433-77-6", "292429"}, {"16648-44-5", "291830"}, {"13605-48-6", "293299"}}
	freeZoneRoute   = [][2]string{{"103-82-2", "291634"}, {"120-57-0", "293293"}, {"67-64-1", "291411"}, {"108-88-3", "290230"}}
	wrongHS         = [][2]string{{"90-82-4", "300490"}, {"120-57-0", "291590"}, {"103-82-2", "291639"}, {"108-88-3", "290290"}}
	exportCountries = []string{"CN", "IN", "DE", "NL", "US"}
	importCountries = []string{"MX", "CO", "GT", "PA", "US", "NL", "BE", "IN", "ZA", "BR", "NG", "PE"}
	freeZones       = []string{"PAONX", "AEJEA"}
)

// syntheticLegs are the legs of the analyst log that the scenario does not
// give: n flag-raising notifications spread evenly over the year.
func syntheticLegs(n int, start time.Time, year time.Duration) ([]benchItem, []string) {
	memberOf := map[string]string{}
	for _, m := range datadir.DemoMembers {
		memberOf[m.Country] = m.ID
	}
	r := rand.New(rand.NewPCG(3, 3))
	items := make([]benchItem, n)
	refs := make([]string, n)
	for i := range n {
		ex := exportCountries[r.IntN(len(exportCountries))]
		im := importCountries[r.IntN(len(importCountries))]
		if im == ex {
			im = "CO"
		}
		at := start.Add(time.Duration(i) * (year / time.Duration(n)))
		refs[i] = fmt.Sprintf("PEN-%s-%d-%07d", ex, at.Year(), i)
		var chem [2]string
		var route []*chemledgerv1.RouteLeg
		switch i % 3 {
		case 0:
			chem = noLegitimateUse[r.IntN(len(noLegitimateUse))]
		case 1:
			chem = freeZoneRoute[r.IntN(len(freeZoneRoute))]
			route = []*chemledgerv1.RouteLeg{{Locode: freeZones[r.IntN(len(freeZones))], FreeTradeZone: true, TransportMode: chemledgerv1.TransportMode_TRANSPORT_MODE_SEA}}
		case 2:
			chem = wrongHS[r.IntN(len(wrongHS))]
		}
		// Few parties per chemical and country, all seen in the year's
		// first days: nobody is a new counterparty later (R21), and no
		// consignee gets two steps of one synthesis (R28).
		seller := fmt.Sprintf("Bench Export %s %d Co.", ex, r.IntN(8))
		buyer := fmt.Sprintf("Bench Import %s %s %d S.A.", im, chem[0], r.IntN(8))
		items[i] = benchItem{member: memberOf[ex], time: at, event: &chemledgerv1.ShipmentEvent{
			EventId:         refs[i],
			Kind:            chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION,
			ShipmentRef:     refs[i],
			Chemical:        &chemledgerv1.Chemical{Cas: chem[0], HsCode: chem[1]},
			Quantity:        &chemledgerv1.Quantity{Value: float64(100 + 50*r.IntN(17)), Unit: "KGM"},
			Exporter:        &chemledgerv1.Party{Name: seller, Country: ex},
			Importer:        &chemledgerv1.Party{Name: buyer, Country: im},
			Consignee:       &chemledgerv1.Party{Name: buyer, Country: im},
			Route:           route,
			OccurredTime:    timestamppb.New(at.Add(-time.Hour)),
			LocationCountry: ex,
		}}
	}
	return items, refs
}

func buildAnalystLog(n int) analystLog {
	cfg := scenario.Config{Seed: 1, Days: 365, Companies: 90, ShipmentsPerMonth: 300}
	sc := scenario.Generate(cfg)
	start := scenario.DefaultConfig().Start
	syn, refs := syntheticLegs(n, start, 365*24*time.Hour)
	out := analystLog{synthetic: refs, start: start, items: make([]benchItem, 0, len(sc.Items)+len(syn))}
	legs := map[string]int{}
	j := 0
	for _, it := range sc.Items {
		for ; j < len(syn) && syn[j].time.Before(it.Time); j++ {
			out.items = append(out.items, syn[j])
		}
		out.items = append(out.items, benchItem{member: it.Member, time: it.Time, event: it.Event, registry: it.Registry})
		if it.Event != nil {
			legs[it.Event.GetShipmentRef()]++
		}
	}
	out.items = append(out.items, syn[j:]...)
	for ref, n := range legs {
		if n >= 2 {
			out.multiLeg = append(out.multiLeg, ref)
		}
	}
	slices.Sort(out.multiLeg)
	return out
}

// submission signs an item as its member and gives it the index keys
// admission would.
func (it *benchItem) submission(i int, keys map[string]members.PrivateKey) (ledger.Submission, error) {
	var (
		payload []byte
		ptype   string
		err     error
		sub     = ledger.Submission{ID: fmt.Sprintf("analyst-%d", i), Member: it.member}
	)
	key, ok := keys[it.member]
	if !ok {
		return sub, fmt.Errorf("item %d: no key for member %q", i, it.member)
	}
	switch {
	case it.event != nil:
		payload, err = proto.MarshalOptions{Deterministic: true}.Marshal(it.event)
		ptype = envelope.PayloadTypeEventProto
		sub.ShipmentRef, sub.CAS = it.event.GetShipmentRef(), it.event.GetChemical().GetCas()
		sub.Kind = strings.TrimPrefix(it.event.GetKind().String(), "EVENT_KIND_")
		sub.EventKey = it.member + "\x00" + it.event.GetEventId()
	default:
		payload, err = proto.MarshalOptions{Deterministic: true}.Marshal(it.registry)
		ptype = envelope.PayloadTypeRegistryProto
		sub.EventKey = it.member + "\x00" + it.registry.GetEntryId()
		switch ch := it.registry.GetChange().(type) {
		case *chemledgerv1.RegistryEntry_Licence:
			sub.Kind = server.KindLicence
			if len(ch.Licence.GetCas()) == 1 {
				sub.CAS = ch.Licence.GetCas()[0]
			}
		case *chemledgerv1.RegistryEntry_WatchListEntry:
			sub.Kind = server.KindWatchListEntry
		case *chemledgerv1.RegistryEntry_AnnualRequirement:
			sub.Kind, sub.CAS = server.KindAnnualRequirement, ch.AnnualRequirement.GetCas()
		}
	}
	if err != nil {
		return sub, err
	}
	sub.Leaf, err = envelope.Sign(ptype, payload, key.Signer())
	return sub, err
}

// foldDirect folds items through the detection engine alone, as derive
// does (a sweep whenever the log's clock moves on), and returns the
// events/s and the flags raised.
func foldDirect(items []benchItem) (float64, int) {
	e := detect.NewEngine(detect.DefaultPolicy())
	s := detect.NewState()
	var clock time.Time
	flags := 0
	start := time.Now()
	for i, it := range items {
		rec := detect.Record{Index: uint64(i), Member: it.member, Time: it.time, Event: it.event, Registry: it.registry}
		flags += len(e.Apply(s, rec))
		if t := it.event.GetOccurredTime(); t != nil {
			at := t.AsTime()
			if at.After(it.time) {
				at = it.time
			}
			if at.After(clock) {
				clock = at
				flags += len(e.Sweep(s, at))
			}
		}
	}
	return float64(len(items)) / time.Since(start).Seconds(), flags
}

// analyst builds a log that yields at least c.flags flags, lets the
// detector derive them from scratch, and measures the analyst API over
// gRPC: ListFlags with filters and both orders, GetShipment, GetStats.
func analyst(ctx context.Context, c config) error {
	dir, cleanup, err := tempDir(c)
	if err != nil {
		return err
	}
	defer cleanup()

	t := time.Now()
	lg := buildAnalystLog(c.flags)
	fmt.Fprintf(c.out, "generated %d entries (%d flag-raising notifications, %d multi-leg scenario shipments) in %.1fs\n",
		len(lg.items), len(lg.synthetic), len(lg.multiLeg), time.Since(t).Seconds())
	year := scenario.Generate(scenario.DefaultConfig())
	yearItems := make([]benchItem, len(year.Items))
	for i, it := range year.Items {
		yearItems[i] = benchItem{member: it.Member, time: it.Time, event: it.Event, registry: it.Registry}
	}
	// The default year is small: fold it five times, each into a new
	// state, and report the median.
	var (
		rates []float64
		flags int
	)
	for range 5 {
		r, n := foldDirect(yearItems)
		rates, flags = append(rates, r), n
	}
	slices.Sort(rates)
	fmt.Fprintf(c.out, "detect alone, default scenario year: %d entries, %d flags, %.0f entries/s (median of 5)\n", len(yearItems), flags, rates[2])
	rate, flags := foldDirect(lg.items)
	fmt.Fprintf(c.out, "detect alone, this log:              %d entries, %d flags, %.0f entries/s\n", len(lg.items), flags, rate)

	if err := appendAnalystLog(ctx, c, dir, lg.items); err != nil {
		return err
	}
	// Only these outlive the log in memory, so that the heap figure is
	// the service's.
	multiLeg, synthetic, entries, yearStart := lg.multiLeg, lg.synthetic, len(lg.items), lg.start

	in, err := servertest.Start(dir, servertest.Options{})
	if err != nil {
		return err
	}
	defer in.Stop()
	profileStart()
	t = time.Now()
	cp, _ := in.Ledger.Checkpoint()
	for in.Deriver.Applied() < cp.Size {
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(t)
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	derived := len(in.Deriver.Snapshot())
	fmt.Fprintf(c.out, "deriver caught up with %d entries from scratch in %.1fs = %.0f entries/s; %d flags; heap after GC: HeapInuse %.1f MiB (HeapAlloc %.1f MiB, Sys %.1f MiB)\n",
		cp.Size, took.Seconds(), float64(cp.Size)/took.Seconds(), derived, mib(mem.HeapInuse), mib(mem.HeapAlloc), mib(mem.Sys))
	if derived < c.flags {
		fmt.Fprintf(c.out, "warning: %d flags, fewer than the %d asked for\n", derived, c.flags)
	}
	if entries != int(cp.Size) {
		return fmt.Errorf("log has %d entries, want %d", cp.Size, entries)
	}

	conn, err := grpc.NewClient(in.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	api := chemledgerv1.NewAnalystServiceClient(conn)

	t = time.Now()
	stats, err := api.GetStats(ctx, &chemledgerv1.GetStatsRequest{})
	if err != nil {
		return err
	}
	var byRule []string
	for _, n := range stats.GetByRule() {
		byRule = append(byRule, fmt.Sprintf("%s %d", n.GetKey(), n.GetCount()))
	}
	fmt.Fprintf(c.out, "GetStats (all %d flags): %.1fms; by rule: %s\n", stats.GetTotal(), ms(time.Since(t)), strings.Join(byRule, ", "))

	r := rand.New(rand.NewPCG(5, 8))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	month := func() (string, string) {
		m := yearStart.AddDate(0, r.IntN(12), 0)
		return m.Format(time.RFC3339), m.AddDate(0, 1, 0).Format(time.RFC3339)
	}
	var chems []string
	for _, l := range [][][2]string{noLegitimateUse, freeZoneRoute, wrongHS} {
		for _, ch := range l {
			chems = append(chems, ch[0])
		}
	}
	rules := []string{"R10", "R13", "R15"}
	severities := []string{"CRITICAL", "HIGH", "MEDIUM"}
	queries := []struct {
		name   string
		filter func() string
	}{
		{"no filter", func() string { return "" }},
		{"rule", func() string { return fmt.Sprintf("rule_id = %q", pick(rules)) }},
		{"country+severity", func() string {
			return fmt.Sprintf("country = %q AND severity = %s", pick(importCountries), pick(severities))
		}},
		{"cas+month", func() string {
			since, until := month()
			return fmt.Sprintf("cas = %q AND raised_time >= %q AND raised_time < %q", pick(chems), since, until)
		}},
		{"rule+country+open", func() string {
			return fmt.Sprintf("rule_id = %q AND country = %q AND status = OPEN", pick(rules), pick(importCountries))
		}},
		{"shipment_ref", func() string { return fmt.Sprintf("shipment_ref = %q", pick(synthetic)) }},
	}
	const listCalls, shipmentCalls = 500, 1000
	worst := time.Duration(0)
	for _, q := range queries {
		for _, order := range []string{"raised_time desc", "severity desc"} {
			lat := make([]time.Duration, 0, listCalls)
			rows := 0
			for range listCalls {
				req := &chemledgerv1.ListFlagsRequest{Filter: q.filter(), OrderBy: order, PageSize: 50}
				t := time.Now()
				resp, err := api.ListFlags(ctx, req)
				if err != nil {
					return fmt.Errorf("ListFlags %q: %w", req.GetFilter(), err)
				}
				lat = append(lat, time.Since(t))
				rows += len(resp.GetFlags())
			}
			p99 := percentile(lat, 0.99)
			worst = max(worst, p99)
			fmt.Fprintf(c.out, "ListFlags %-18s %-16s %d calls, %4.1f rows/page: p50 %6.2fms p99 %6.2fms max %6.2fms\n",
				q.name, order, listCalls, float64(rows)/listCalls, ms(percentile(lat, 0.5)), ms(p99), ms(lat[len(lat)-1]))
		}
	}
	fmt.Fprintf(c.out, "ListFlags worst p99 %.2fms  [target ≤ %v: %s]\n", ms(worst), listFlagsTarget, verdict(worst <= listFlagsTarget))

	for _, set := range []struct {
		name string
		refs []string
	}{{"multi-leg scenario shipments", multiLeg}, {"single-notification shipments", synthetic}} {
		lat := make([]time.Duration, 0, shipmentCalls)
		legs := 0
		for range shipmentCalls {
			ref := pick(set.refs)
			t := time.Now()
			sh, err := api.GetShipment(ctx, &chemledgerv1.GetShipmentRequest{Ref: ref})
			if err != nil {
				return fmt.Errorf("GetShipment %q: %w", ref, err)
			}
			lat = append(lat, time.Since(t))
			legs += len(sh.GetLegs())
		}
		p99 := percentile(lat, 0.99)
		fmt.Fprintf(c.out, "GetShipment %-30s %d calls, %.1f legs each: p50 %6.2fms p99 %6.2fms max %6.2fms  [target p99 ≤ %v: %s]\n",
			set.name, shipmentCalls, float64(legs)/shipmentCalls, ms(percentile(lat, 0.5)), ms(p99), ms(lat[len(lat)-1]), getShipmentTarget, verdict(p99 <= getShipmentTarget))
	}
	return nil
}

// appendAnalystLog signs items on every core and appends them straight to
// a ledger over dir (signatures are not checked on that path, but the
// detector parses what it reads), with the ledger's clock at each item's
// time so that integrated and raised times spread over the year.
func appendAnalystLog(ctx context.Context, c config, dir string, items []benchItem) error {
	layout := datadir.Layout{Dir: dir}
	if err := datadir.EnsureDev(layout); err != nil {
		return err
	}
	keys := map[string]members.PrivateKey{}
	for _, m := range datadir.DemoMembers {
		k, err := members.ReadPrivateKey(layout.MemberKey(m.ID))
		if err != nil {
			return err
		}
		keys[m.ID] = k
	}
	subs := make([]ledger.Submission, len(items))
	if err := onEveryCore(len(items), func(i int) (err error) {
		subs[i], err = items[i].submission(i, keys)
		return err
	}); err != nil {
		return err
	}

	logKeys, err := datadir.ReadLogKeys(layout)
	if err != nil {
		return err
	}
	signer, verifier := logKeys.Signer, logKeys.Verifier
	st, err := storage.Open(filepath.Join(dir, "ledger.db"), storage.DefaultOptions())
	if err != nil {
		return err
	}
	defer st.Close()
	var now atomic.Int64
	cfg := ledger.DefaultConfig(signer, verifier)
	cfg.Now = func() time.Time { return time.Unix(0, now.Load()) }
	cfg.NewLog = true // a fresh directory of the benchmark's own
	l, err := ledger.Open(st, cfg)
	if err != nil {
		return err
	}
	defer l.Close()

	start := time.Now()
	outcomes := make(chan (<-chan ledger.Outcome), 16384)
	var appendErr error
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for ch := range outcomes {
			if o := <-ch; o.Err != nil && appendErr == nil {
				appendErr = o.Err
			}
		}
	}()
	for i := range subs {
		now.Store(items[i].time.UnixNano())
		ch, err := l.Enqueue(ctx, subs[i], false)
		if err != nil {
			close(outcomes)
			<-drained
			return errors.Join(err, appendErr)
		}
		outcomes <- ch
	}
	close(outcomes)
	<-drained
	if appendErr != nil {
		return appendErr
	}
	fmt.Fprintf(c.out, "appended %d entries straight to the ledger in %.1fs\n", len(subs), time.Since(start).Seconds())
	return nil
}
