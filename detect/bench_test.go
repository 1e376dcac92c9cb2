package detect_test

import (
	"fmt"
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

// BenchmarkApplyConcentrated folds 200,000 events whose orders go to few
// consignees, so each consignee's order history runs to thousands of
// entries: R11 and R28 look only at the orders within their window of the
// new one, so the rate must not fall with the size of that history.
func BenchmarkApplyConcentrated(b *testing.B) {
	const n = 200_000
	for _, consignees := range []int{5000, 200, 20} {
		b.Run(fmt.Sprintf("consignees=%d", consignees), func(b *testing.B) {
			g := newSynth(2, consignees, 275)
			recs := make([]detect.Record, n)
			for i := range recs {
				recs[i] = g.next()
			}
			b.ResetTimer()
			for range b.N {
				e := detect.NewEngine(detect.DefaultPolicy())
				s := detect.NewState()
				for _, r := range recs {
					e.Apply(s, r)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
