package detect_test

import (
	"runtime"
	"testing"

	"github.com/chemledger/chemledger/detect"
)

// BenchmarkApply folds 1,000,000 synthetic events (about 200,000 shipments
// over two years between 300 exporters and 5,000 consignees), sweeping as
// of the log time every 1,000 records. Generating the stream is excluded
// from the timing. It reports events/s and the heap in use after the fold,
// with the state still live.
func BenchmarkApply(b *testing.B) {
	const n = 1_000_000
	const chunk = 10_000
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		g := newSynth(1, 5000, 275)
		e := detect.NewEngine(detect.DefaultPolicy())
		s := detect.NewState()
		buf := make([]detect.Record, chunk)
		flags := 0
		for done := 0; done < n; done += chunk {
			b.StopTimer()
			for i := range buf {
				buf[i] = g.next()
			}
			b.StartTimer()
			for i, r := range buf {
				flags += len(e.Apply(s, r))
				if (i+1)%1000 == 0 {
					flags += len(e.Sweep(s, r.Time))
				}
			}
		}
		b.StopTimer()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heapMiB")
		b.ReportMetric(float64(flags), "flags")
		runtime.KeepAlive(s)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkApplyConcentrated folds 1,000,000 events twice: with orders
// spread uniformly over 5,000 consignees, and with 10 of those consignees
// holding half of all orders (about 50,000 events each, thousands of orders
// inside any rule's window). Each rule's cost per event must not grow with
// one party's history, so the concentrated rate must stay within 2× of the
// uniform one; compare the two events/s figures of one run.
func BenchmarkApplyConcentrated(b *testing.B) {
	const n = 1_000_000
	for _, tc := range []struct {
		name string
		hot  int
	}{{"uniform", 0}, {"hot=10", 10}} {
		b.Run(tc.name, func(b *testing.B) {
			g := newSynth(2, 5000, 275)
			g.hot = g.consignees[:tc.hot]
			recs := make([]detect.Record, n)
			for i := range recs {
				recs[i] = g.next()
			}
			b.ResetTimer()
			for range b.N {
				e := detect.NewEngine(detect.DefaultPolicy())
				s := detect.NewState()
				for i, r := range recs {
					e.Apply(s, r)
					if (i+1)%1000 == 0 {
						e.Sweep(s, r.Time)
					}
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
