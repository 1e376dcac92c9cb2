package detect

import "math"

// What a "large volume" is depends on the chemical: 500 kg of
// pseudoephedrine is a big pharmaceutical lot, 500 kg of toluene a drum or
// two. R21 judges a quantity against the lots of the same chemical the log
// has seen, kept as a histogram per chemical on a logarithmic scale (eight
// buckets per doubling, so a percentile is read to within 9 %), which costs
// the same to update and to read however many lots there are.

const (
	lotBucketsPerDoubling = 8
	lotMinKG              = 1e-3 // a gram; smaller lots share the first bucket
	lotBuckets            = 34 * lotBucketsPerDoubling
)

// lotSizes counts a chemical's lots by size.
type lotSizes struct {
	N      int
	Counts [lotBuckets]uint32
}

func lotBucket(kg float64) int {
	if !(kg > lotMinKG) {
		return 0
	}
	b := int(math.Log2(kg/lotMinKG) * lotBucketsPerDoubling)
	return min(b, lotBuckets-1)
}

// lotBucketTop is the largest quantity of bucket b.
func lotBucketTop(b int) float64 {
	return lotMinKG * math.Exp2(float64(b+1)/lotBucketsPerDoubling)
}

func (h *lotSizes) add(kg float64) {
	h.N++
	h.Counts[lotBucket(kg)]++
}

// percentile returns the top of the bucket holding the p-th percentile lot
// (p in 0..100].
func (h *lotSizes) percentile(p float64) float64 {
	want := int(math.Ceil(p / 100 * float64(h.N)))
	seen := 0
	for b, n := range h.Counts {
		seen += int(n)
		if seen >= want && n > 0 {
			return lotBucketTop(b)
		}
	}
	return lotBucketTop(lotBuckets - 1)
}
