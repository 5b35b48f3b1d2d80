package fleet

import (
	"math"
	"testing"
)

// The percentiles of summed buckets are interpolated within their
// bucket as histogram_quantile does; the maximum is its bucket's bound.
func TestQuantiles(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		d             map[float64]float64
		p50, p95, top float64
	}{
		{nil, 0, 0, 0},
		{map[float64]float64{0.5: 0, 1: 0, inf: 0}, 0, 0, 0},
		// 100 values: 60 in (0, 0.5], 40 in (0.5, 1].
		{map[float64]float64{0.5: 60, 1: 100, inf: 100}, 0.5 * 50 / 60, 0.5 + 0.5*35/40, 1},
		// Above the last bound: the estimate stops at it.
		{map[float64]float64{0.5: 10, 1: 10, inf: 100}, 1, 1, 1},
		// All in the first bucket.
		{map[float64]float64{60: 7, 300: 7, inf: 7}, 60 * 3.5 / 7, 60 * 6.65 / 7, 60},
	} {
		p50, p95, top := quantiles(tc.d)
		if math.Abs(p50-tc.p50) > 1e-9 || math.Abs(p95-tc.p95) > 1e-9 || top != tc.top {
			t.Errorf("%v: %v %v %v, want %v %v %v", tc.d, p50, p95, top, tc.p50, tc.p95, tc.top)
		}
	}
}
