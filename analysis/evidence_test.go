package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

// bucketQuantile is Prometheus' histogram_quantile over one classic
// histogram: the rank q × count is found in the cumulative buckets and
// interpolated linearly within its bucket (from 0 in the first); a rank
// in the bucket above the last bound gives that bound.
func bucketQuantile(q float64, bounds []float64, counts []uint64) float64 {
	var n uint64
	for _, c := range counts {
		n += c
	}
	rank := q * float64(n)
	var cum uint64
	for i, c := range counts {
		if float64(cum+c) >= rank && c > 0 {
			if i == len(bounds) {
				return bounds[i-1]
			}
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			return lo + (bounds[i]-lo)*(rank-float64(cum))/float64(c)
		}
		cum += c
	}
	return math.NaN()
}

// checkBucketP95 checks the bound docs/fleet.md states for a p95 from the
// buckets: the estimate lies in the bucket of the exact p95, so it is off
// by at most that bucket's width (above the last bound it is the last
// bound); and whether the p95 is at most a bound, which decisions ask,
// is exact.
func checkBucketP95(t *testing.T, what string, exact float64, bounds []float64, counts []uint64) {
	t.Helper()
	est := bucketQuantile(0.95, bounds, counts)
	i := 0
	for i < len(bounds) && exact > bounds[i] {
		i++
	}
	switch {
	case i == len(bounds):
		if est != bounds[len(bounds)-1] {
			t.Errorf("%s: p95 %v above the last bound, estimate %v", what, exact, est)
		}
	default:
		lo := 0.0
		if i > 0 {
			lo = bounds[i-1]
		}
		if math.Abs(est-exact) > bounds[i]-lo || est < lo || est > bounds[i] {
			t.Errorf("%s: estimate %v, exact %v: off by more than the bucket (%v, %v]", what, est, exact, lo, bounds[i])
		}
	}
	var n, cum uint64
	for _, c := range counts {
		n += c
	}
	need := uint64(math.Ceil(0.95 * float64(n)))
	for j, b := range bounds {
		cum += counts[j]
		if (exact <= b) != (cum >= need) {
			t.Errorf("%s: p95 %v ≤ %v is %v, the buckets say %v", what, exact, b, exact <= b, cum >= need)
		}
	}
}

// The p95 of CPU from the buckets agrees with the analysis' own CPUP95
// within the stated bound, and the bursts' with Bursts, on synthetic
// weeks of several shapes.
func TestBucketPercentilesAgainstAnalysis(t *testing.T) {
	th := defaultThresholds(t)
	rng := rand.New(rand.NewPCG(24, 1))
	shapes := map[string]func(i int) (load, bool){
		"log-uniform": func(int) (load, bool) {
			return load{cores: math.Exp(rng.Float64()*math.Log(2e4)) / 1e3, ws: 300 * mib}, true
		},
		"mostly idle, bursts of up to 40 minutes": func(i int) (load, bool) {
			if i%97 < 1+i%41 {
				return load{cores: 0.2 + rng.Float64(), ws: 500 * mib}, true
			}
			return idleLoad, i%13 != 0 // some minutes without data
		},
		"steady near a bound": func(int) (load, bool) {
			return load{cores: 0.45 + 0.1*rng.Float64(), ws: 200 * mib}, true
		},
		"above the last bound": func(int) (load, bool) { return load{cores: 9 + rng.Float64(), ws: 200 * mib}, true },
	}
	for name, shape := range shapes {
		n := 3 * 24 * 60
		s := build(th, t0, n, 6, func(i int) (load, bool) {
			if i >= n-2 {
				return idleLoad, true // end idle: the analysis counts a burst still going, the buckets an ended one
			}
			return shape(i)
		})
		now := t0.Add(time.Duration(n) * time.Minute)
		var sc Scratch
		r := Analyze(Input{Now: now, Series: s}, defaultAnalysis(), &sc)
		var d history.Distributions
		s.Drain(&d)
		cpu := d.CPU.Counts[:len(history.CPUBounds)+1]
		if got := d.CPU.Count(); got != uint64(r.ObservedFor/time.Minute) {
			t.Errorf("%s: %d minutes in the buckets, %v observed", name, got, r.ObservedFor)
		}
		checkBucketP95(t, name+" CPU", r.CPUP95, history.CPUBounds, cpu)
		bursts := d.Bursts.Counts[:len(history.BurstBounds)+1]
		if got := d.Bursts.Count(); got != uint64(r.Bursts.Count) {
			t.Errorf("%s: %d bursts in the buckets, the analysis found %d", name, got, r.Bursts.Count)
		}
		if r.Bursts.Count > 0 {
			checkBucketP95(t, name+" bursts", r.Bursts.P95.Seconds(), history.BurstBounds, bursts)
			// The duration limits are bounds: whether the longest burst
			// exceeds one is exact.
			for _, limit := range []time.Duration{15 * time.Minute, time.Hour} {
				var above uint64
				for j, b := range history.BurstBounds {
					if b >= limit.Seconds() {
						for _, c := range bursts[j+1:] {
							above += c
						}
						break
					}
				}
				if (r.Bursts.Max > limit) != (above > 0) {
					t.Errorf("%s: longest burst %v > %v is %v, the buckets say %d above", name, r.Bursts.Max, limit, r.Bursts.Max > limit, above)
				}
			}
		}
		t.Logf("%s: CPU p95 %.4f, from buckets %.4f; burst p95 %v, from buckets %.0fs",
			name, r.CPUP95, bucketQuantile(0.95, history.CPUBounds, cpu), r.Bursts.P95, bucketQuantile(0.95, history.BurstBounds, bursts))
	}
}
