package groupcommit

import (
	"testing"
	"time"
)

func TestFill(t *testing.T) {
	for _, tc := range []struct {
		name   string
		queued []int
		late   []int // sent after Fill has started
		max    int
		linger time.Duration
		keep   func(int) bool
		want   []int
	}{
		{name: "takes what is queued", queued: []int{1, 2, 3}, max: 10, want: []int{1, 2, 3}},
		{name: "stops at max", queued: []int{1, 2, 3}, max: 2, want: []int{1, 2}},
		{name: "without linger, does not wait", queued: []int{1}, late: []int{2}, max: 10, want: []int{1}},
		{name: "lingers for company", queued: []int{1}, late: []int{2}, max: 10, linger: time.Second, want: []int{1, 2}},
		{name: "drops what keep refuses", queued: []int{1, 2, 3, 4}, max: 10, keep: func(r int) bool { return r%2 == 0 }, want: []int{2, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := make(chan int, 10)
			for _, r := range tc.queued {
				q <- r
			}
			if len(tc.late) > 0 {
				go func() {
					time.Sleep(20 * time.Millisecond)
					for _, r := range tc.late {
						q <- r
					}
				}()
			}
			max := tc.max
			if tc.linger > 0 {
				max = len(tc.queued) + len(tc.late) // return once the late ones arrive
			}
			got := Fill(q, nil, max, tc.linger, tc.keep)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}
