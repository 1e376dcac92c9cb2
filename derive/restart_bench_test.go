package derive

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/chemledger/chemledger/envelope"
	"github.com/chemledger/chemledger/ledger"
	chemledgerv1 "github.com/chemledger/chemledger/proto/chemledger/v1"
)

var restartEntries = flag.Int("restart.entries", 200_000, "entries in the log BenchmarkRestart starts over")

// restartEvent is entry i of a synthetic trade: shipments of PEN → export →
// import → receipt between 300 exporters and 5,000 consignees, the legs of
// a shipment 10,000 entries (about three days) apart, every fiftieth
// receipt missing, so that the detector's indexes, first sightings, order
// histories and arrival queue all fill up.
func restartEvent(i int) *chemledgerv1.ShipmentEvent {
	const spread = 2500
	kinds := [4]chemledgerv1.EventKind{
		chemledgerv1.EventKind_EVENT_KIND_PRE_EXPORT_NOTIFICATION, chemledgerv1.EventKind_EVENT_KIND_EXPORT_DECLARATION,
		chemledgerv1.EventKind_EVENT_KIND_IMPORT_DECLARATION, chemledgerv1.EventKind_EVENT_KIND_RECEIPT_CONFIRMATION,
	}
	leg := i % 4
	s := i/4 - leg*spread
	if s < 0 || leg == 3 && s%50 == 0 {
		leg, s = 0, 1_000_000+i // a notification of its own instead
	}
	countries := []string{"MX", "CO", "GT", "PA", "US", "NL", "DE", "IN", "ZA", "BR", "KE", "AR"}
	chems := [][2]string{{"299-42-3", "293941"}, {"90-82-4", "293942"}, {"67-64-1", "291411"}, {"103-79-7", "291431"}, {"39742-60-4", "293337"}, {"62-53-3", "292141"}}
	c := chems[s%len(chems)]
	con := &chemledgerv1.Party{Name: fmt.Sprintf("Consignee %d Pharma S.A.", s%5000), Country: countries[s%5000%len(countries)]}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 25 * time.Second)
	ev := &chemledgerv1.ShipmentEvent{
		EventId: fmt.Sprintf("R-%d", i), Kind: kinds[leg], ShipmentRef: fmt.Sprintf("SHP-%07d", s),
		Chemical: &chemledgerv1.Chemical{Cas: c[0], HsCode: c[1]}, Quantity: &chemledgerv1.Quantity{Value: float64(50 + s%950), Unit: "KGM"},
		Exporter:     &chemledgerv1.Party{Name: fmt.Sprintf("Exporter %d Chemicals Co., Ltd.", s%300), Country: []string{"CN", "IN", "DE"}[s%3]},
		Importer:     con,
		Consignee:    con,
		OccurredTime: timestamppb.New(at), LocationCountry: con.Country,
	}
	if leg == 1 {
		ev.ArrivalTime = timestamppb.New(at.Add(4 * 24 * time.Hour))
	}
	return ev
}

// appendRestartLog signs n synthetic events on every core and appends them.
func appendRestartLog(tb testing.TB, f *fixture, n int) {
	tb.Helper()
	signer := f.keys["CN-GACC"].Signer()
	subs := make([]ledger.Submission, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				ev := restartEvent(i)
				payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
				if err == nil {
					subs[i].Leaf, err = envelope.Sign(envelope.PayloadTypeEventProto, payload, signer)
				}
				if err != nil {
					errs <- err
					return
				}
				subs[i].ID, subs[i].Member = ev.GetEventId(), "CN-GACC"
				subs[i].ShipmentRef, subs[i].CAS, subs[i].Kind = ev.GetShipmentRef(), ev.GetChemical().GetCas(), ev.GetKind().String()
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
	outcomes := make(chan (<-chan ledger.Outcome), 16384)
	go func() {
		defer close(outcomes)
		for _, s := range subs {
			ch, err := f.ledger.Enqueue(context.Background(), s, false)
			if err != nil {
				tb.Error(err)
				return
			}
			outcomes <- ch
		}
	}()
	for ch := range outcomes {
		if o := <-ch; o.Err != nil {
			tb.Fatal(o.Err)
		}
	}
}

// BenchmarkRestart is Open over a log of -restart.entries synthetic events
// whose flags are all stored: "snapshot" restores the state checkpointed at
// the applied mark, "refold" folds the whole log as a start without a
// snapshot does. Building the log and the first fold are not timed.
func BenchmarkRestart(b *testing.B) {
	f := newFixture(b, b.TempDir())
	start := time.Now()
	appendRestartLog(b, f, *restartEntries)
	b.Logf("appended %d entries in %v", *restartEntries, time.Since(start).Round(time.Millisecond))
	d, err := Open(f.store, f.ledger, testConfig())
	if err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	catchUp(b, d)
	b.Logf("first fold of %d entries (storing %d flags, snapshots paced): %v", d.Applied(), len(d.Snapshot()), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := d.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	b.Logf("checkpoint: %v", time.Since(start).Round(time.Millisecond))
	snap := storedSnapshot(b, f.store)
	applied := d.Applied()

	for _, bc := range []struct {
		name     string
		snapshot []byte
		refolded uint64
	}{{"snapshot", snap, 0}, {"refold", []byte{}, applied}} {
		b.Run(bc.name, func(b *testing.B) {
			putSnapshot(b, f.store, bc.snapshot)
			for b.Loop() {
				d, err := Open(f.store, f.ledger, testConfig())
				if err != nil {
					b.Fatal(err)
				}
				if d.refolded != bc.refolded || d.Applied() != applied {
					b.Fatalf("Open folded %d of %d entries again; want %d", d.refolded, d.Applied(), bc.refolded)
				}
			}
			b.ReportMetric(float64(applied), "entries")
			b.ReportMetric(float64(len(snap))/(1<<20), "snapshotMiB")
		})
	}
	putSnapshot(b, f.store, snap)
}
