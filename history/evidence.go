package history

import "math"

// Evidence is what the analysis of a Series is made of, in forms a store
// can add across time, replicas and nodes: counters that only grow while
// the Series lives in memory. They are kept beside the rings, not in
// them, and are not checkpointed: an agent restart starts them from zero,
// which a store reads as a counter reset. Store.Rename carries them to
// the new instance with the rest of the Series.
//
// Minute counts follow the minutes as they close, as the rings record
// them: ObservedMinutes counts minutes with data (ObservedFor), IdleMinutes
// the idle ones among them (the idle ratio's numerator), DownMinutes and
// ListenMinutes those the Hour fields of the same names count. The
// nanoseconds are those of Hour.SampledSeconds and Hour.BusySeconds before
// rounding, BusyCPUSeconds and BusyRuns those of the hours, Restarts
// those NoteRestart noted.
//
// The counts are 32 bits to keep the Series small: minutes overflow after
// 8,000 years, runs (two samples each) after 270 years of 1 s samples.
type Evidence struct {
	ObservedMinutes, IdleMinutes uint32
	DownMinutes, ListenMinutes   uint32
	BusyRuns, Restarts           uint32
	SampledNanos, BusyNanos      int64
	BusyCPUSeconds               float64
}

// Bucket layouts of the distributions (see Distributions): upper bounds,
// ascending, each bucket holding values v with previous bound < v ≤
// bound, and one more bucket above the last. They are chosen at the
// analysis' decision points, so that what a decision compares with a
// bound comes out exactly from the cumulative counts, and percentiles
// between bounds within the width of their bucket (see docs/fleet.md).
//
// Each bound is a line per workload on /metrics, so the layouts keep only
// the bounds a decision needs: a 1-replica Deployment's histograms are 32
// lines, the most of the evidence's cost (docs/fleet.md, "Budget").
var (
	// CPUBounds, in cores: the idle floor (0.01); half of the requests
	// and limits people set (100m, 250m, 500m, 1, 2, 4 cores: the
	// rightsizing test is a p95 at most half the reservation), and 4
	// cores, above which the analysis takes the containers' own maxima.
	CPUBounds = []float64{0.01, 0.05, 0.125, 0.25, 0.5, 1, 2, 4}
	// WorkingSetBounds, in bytes: powers of two from 64 MiB, half of
	// the power-of-two memory limits people set, and a function's memory
	// limit (10 GiB).
	WorkingSetBounds = []float64{64 << 20, 128 << 20, 256 << 20, 512 << 20, 1 << 30, 2 << 30, 4 << 30, 8 << 30, 10 << 30}
	// BurstBounds, in seconds: bursts are whole minutes; the platforms'
	// duration limits (15 and 60 minutes) are bounds.
	BurstBounds = []float64{60, 300, 900, 1800, 3600, 14400}
)

// MaxBuckets is the most buckets a layout has: its bounds and one bucket
// above them.
const MaxBuckets = 10

// Distribution is one histogram: the count of each bucket of its layout
// (not cumulative; entries past the layout's stay zero) and the sum of
// what it counted.
type Distribution struct {
	Counts [MaxBuckets]uint64
	Sum    float64
}

// Count is the number of values counted.
func (d *Distribution) Count() uint64 {
	var n uint64
	for _, c := range d.Counts {
		n += uint64(c)
	}
	return n
}

// pendingDist is a Distribution not yet drained, in 16-bit counts that
// saturate: the agent drains every tick, so they hold a few minutes.
type pendingDist struct {
	counts [MaxBuckets]uint16
	sum    float64
}

func (d *pendingDist) add(v float64, bounds []float64) {
	if c := &d.counts[bucket(v, bounds)]; *c < math.MaxUint16 {
		*c++
	}
	d.sum += v
}

func (d *Distribution) add(p *pendingDist) {
	for i, c := range p.counts {
		d.Counts[i] += uint64(c)
	}
	d.Sum += p.sum
}

// Distributions are the observations of a Series not yet taken by Drain:
// the CPU cores and the largest working set of each minute with data, as
// the minute closes, and the length of each burst (a run of active
// minutes, as the analysis finds them), as it ends. They are held until
// drained rather than for the life of the Series, because their reader
// sums them per workload: a sum kept by the reader stays monotonic when a
// Series moves to a new instance (Store.Rename) or is pruned.
type Distributions struct {
	CPU, WorkingSet, Bursts Distribution
}

// Add adds o's counts and sums to d.
func (d *Distributions) Add(o *Distributions) {
	for _, p := range [...][2]*Distribution{{&d.CPU, &o.CPU}, {&d.WorkingSet, &o.WorkingSet}, {&d.Bursts, &o.Bursts}} {
		for i, c := range p[1].Counts {
			p[0].Counts[i] += c
		}
		p[0].Sum += p[1].Sum
	}
}

// bucket is the index of v's bucket in bounds: the first bound ≥ v, or
// len(bounds) above them all (also for NaN).
func bucket(v float64, bounds []float64) int {
	for i, b := range bounds {
		if v <= b {
			return i
		}
	}
	return len(bounds)
}

// evidence is a Series' Evidence, its undrained Distributions (CPU,
// working set, bursts) and the burst in progress.
type evidence struct {
	Evidence
	dist    [3]pendingDist
	pending bool
	// The burst in progress: its first active minute, and its length up
	// to its latest active minute (0: none).
	burstFirst int64
	burstLen   uint32
}

// minute counts closed minute m, b its byte and fine its fine code, of
// accumulator a.
func (e *evidence) minute(m int64, a *minuteAcc, b Minute, fine uint8) {
	if !b.Valid() {
		return
	}
	e.ObservedMinutes++
	e.SampledNanos += a.observed
	e.BusyNanos += a.busy
	e.BusyCPUSeconds += a.busyCPU
	e.BusyRuns += a.runs
	if a.listen {
		e.ListenMinutes++
	}
	if a.down > 0 && 2*a.down >= a.observed {
		e.DownMinutes++
	}
	// The value the analysis reads back from the ring, so that a bucket
	// holds exactly the minutes the analysis puts on its side of a bound.
	e.dist[0].add(CoresFine(b.Code(), fine), CPUBounds)
	e.dist[1].add(float64(a.maxWS), WorkingSetBounds)
	e.pending = true
	if b.Active() {
		if e.burstLen == 0 {
			e.burstFirst = m
		}
		e.burstLen = uint32(min(m-e.burstFirst+1, math.MaxUint32))
		return
	}
	e.IdleMinutes++
	if e.burstLen > 0 {
		// Minutes without data inside the burst count in its length, as
		// in the analysis; those after its last active minute do not.
		e.dist[2].add(float64(e.burstLen)*60, BurstBounds)
		e.burstLen = 0
	}
}

// Evidence returns the Series' counters so far.
func (s *Series) Evidence() Evidence { return s.ev.Evidence }

// Drain adds the Distributions observed since the last Drain to d and
// forgets them. It reports whether there were any.
func (s *Series) Drain(d *Distributions) bool {
	if !s.ev.pending {
		return false
	}
	d.CPU.add(&s.ev.dist[0])
	d.WorkingSet.add(&s.ev.dist[1])
	d.Bursts.add(&s.ev.dist[2])
	s.ev.dist = [3]pendingDist{}
	s.ev.pending = false
	return true
}
