package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

// sameResult reports whether two Results are identical to the bit (NaN
// equal to NaN); %#v prints every float in its shortest exact form.
func sameResult(a, b Result) bool { return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b) }

// checkSame analyses in with Analyze, with a fresh and with a reused
// Scratch, and with the reference, and fails on any difference.
func checkSame(t *testing.T, name string, in Input, sc *Scratch) {
	t.Helper()
	cfg := defaultAnalysis()
	want := referenceAnalyze(in, cfg)
	for _, s := range []*Scratch{nil, sc} {
		if got := Analyze(in, cfg, s); !sameResult(got, want) {
			t.Fatalf("%s: Analyze differs from the reference\n got %#v\nwant %#v", name, got, want)
		}
	}
}

// TestAnalyzeMatchesReferenceOnBenchFleet: every container of the
// benchmark's fleet, through one reused Scratch as the agent does.
func TestAnalyzeMatchesReferenceOnBenchFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1000 week-old series")
	}
	var sc Scratch
	for i, in := range benchFleet(t) {
		checkSame(t, fmt.Sprintf("container %d", i), in, &sc)
	}
}

// noisySeries feeds n minutes from start with a CPU drawn at random over
// every code (below 0.0001 to above 64 cores), so that fine codes vary,
// network activity that makes minutes of any CPU active (both variants of
// a code), minutes without samples, down samples and restarts.
func noisySeries(th history.Thresholds, rng *rand.Rand, start time.Time, n int, gap float64) *history.Series {
	s := history.NewSeries()
	level := rng.Float64()
	for i := range n {
		if rng.Float64() < gap {
			continue
		}
		if rng.IntN(30) == 0 {
			level = rng.Float64()
		}
		k := 1 + rng.IntN(3)
		iv := time.Minute / time.Duration(k)
		for j := range k {
			cores := math.Pow(10, -5+7.5*(level+0.15*rng.NormFloat64()))
			if rng.IntN(50) == 0 {
				cores = 0
			}
			sm := history.Sample{
				Time:       start.Add(time.Duration(i)*time.Minute + time.Duration(j)*iv + time.Second),
				CPUSeconds: cores * iv.Seconds(), WorkingSet: uint64(1+rng.IntN(1<<12)) << 20,
				Interval: iv, Listening: rng.IntN(3) == 0, Down: rng.IntN(40) == 0,
				TCPAccepts: uint64(rng.IntN(3)),
			}
			if rng.IntN(8) == 0 {
				sm.NetRxBytes = uint64(rng.IntN(1 << 20))
			}
			if rng.IntN(200) == 0 {
				sm.DiskWriteBytes = 1 << 22
			}
			s.Add(sm, th)
		}
		if rng.IntN(500) == 0 {
			s.NoteRestart()
		}
	}
	s.Advance(start.Add(time.Duration(n)*time.Minute), th)
	return s
}

// TestAnalyzeMatchesReferenceOnEdgeShapes: no series, an empty one, young
// ones whose rings are shorter than the window and wrap, windows that end
// before, inside and long after the data, at every alignment of the
// window to the minutes' words, noisy CPU, bursts longer and shorter than
// the counted lengths, and a stepped clock.
func TestAnalyzeMatchesReferenceOnEdgeShapes(t *testing.T) {
	th := defaultThresholds(t)
	var sc Scratch
	check := func(name string, s *history.Series, now time.Time) {
		t.Helper()
		checkSame(t, name, withLimits(s, now, 1.5, 2<<30), &sc)
		in := withLimits(s, now, 0, 0)
		in.GPU = true
		checkSame(t, name+", observed reservation", in, &sc)
	}
	check("no series", nil, t0)
	check("zero now", history.NewSeries(), time.Time{})
	check("no sample", history.NewSeries(), t0)

	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 9, 63, 65, 100, 1439, 1441, 2*1440 + 17, 5000, history.MinutesKept - 1, history.MinutesKept + 3, 9 * 1440} {
		start := t0.Add(time.Duration(rng.IntN(1440)) * time.Minute)
		s := noisySeries(th, rng, start, n, 0.05)
		end := start.Add(time.Duration(n) * time.Minute)
		for _, now := range []time.Time{start.Add(-time.Hour), start, end.Add(-time.Duration(n/2) * time.Minute), end, end.Add(37 * time.Second), end.Add(3 * time.Hour), end.Add(6 * 24 * time.Hour), end.Add(8 * 24 * time.Hour)} {
			check(fmt.Sprintf("noisy, %d minutes, now %v", n, now.Sub(end)), s, now)
		}
	}

	// Every offset of the window against the words of minutes and of the
	// bitmaps, over a wrapped ring.
	s := noisySeries(th, rng, t0, history.MinutesKept+200, 0.2)
	end := t0.Add((history.MinutesKept + 200) * time.Minute)
	for i := range 130 {
		check(fmt.Sprintf("alignment %d", i), s, end.Add(-time.Duration(i)*time.Minute))
	}

	// Bursts of every length around the counted ones, with gaps inside
	// them and idle minutes between.
	burst := func(lengths []int) func(int) (load, bool) {
		var ends []int
		at := 0
		for _, l := range lengths {
			at += l
			ends = append(ends, at)
			at += 1 + l%3
			ends = append(ends, at)
		}
		return func(i int) (load, bool) {
			j, _ := slices.BinarySearch(ends, i+1)
			if j%2 == 0 {
				return busyLoad, i%17 != 5
			}
			return idleLoad, true
		}
	}
	for _, lengths := range [][]int{{254, 255, 256, 257, 3, 600, 1, 1, 2}, {1}, {10000}, {2, 300, 300, 300, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}} {
		s := build(th, t0, history.MinutesKept, 1, burst(lengths))
		check(fmt.Sprintf("bursts %v", lengths), s, t0.Add(history.MinutesKept*time.Minute))
	}
	// Only idle, only active, only code 127, and alternating; idle hours
	// with about the minutes of data an idle hour of the day needs.
	for name, p := range map[string]func(int) (load, bool){
		"idle":        func(int) (load, bool) { return idleLoad, true },
		"idle, gaps":  gappyIdle,
		"busy":        func(int) (load, bool) { return busyLoad, true },
		"saturated":   func(int) (load, bool) { return load{cores: 100, ws: mib}, true },
		"alternating": func(i int) (load, bool) { return [2]load{idleLoad, busyLoad}[i%2], i%7 != 0 },
	} {
		s := build(th, t0, 3*1440, 1, p)
		check(name, s, t0.Add(3*1440*time.Minute))
	}

	// A clock stepped ahead and back: the series' timeline is off the
	// wall clock.
	st := history.NewSeries()
	wall, mono := t0.Add(13*time.Minute), time.Hour
	for i := range 3 * 1440 {
		if i == 1000 {
			wall = wall.Add(-2*time.Hour - 17*time.Minute - 23*time.Second)
		}
		st.Add(history.Sample{Time: wall, Mono: mono, CPUSeconds: float64(i%90) / 10, WorkingSet: mib, Interval: time.Minute}, th)
		wall, mono = wall.Add(time.Minute), mono+time.Minute
	}
	if st.Offset() == 0 {
		t.Fatal("the clock step left no offset")
	}
	check("stepped clock", st, wall)
}

// gappyIdle is idle, with 40 to 49 minutes of data an hour.
func gappyIdle(i int) (load, bool) { return idleLoad, i%60 < 40+i/60%10 }

// TestScanWindowMatchesScanMinutes compares the word-wise pass with the
// minute-by-minute one over windows of every length and offset, not only
// Analyze's week.
func TestScanWindowMatchesScanMinutes(t *testing.T) {
	th := defaultThresholds(t)
	rng := rand.New(rand.NewPCG(3, 4))
	const n = history.MinutesKept + 500
	end := t0.Add(n * time.Minute)
	for _, s := range []*history.Series{noisySeries(th, rng, t0, n, 0.1), build(th, t0, n, 1, gappyIdle)} {
		checkScanWindow(t, rng, s, end)
	}
}

func checkScanWindow(t *testing.T, rng *rand.Rand, s *history.Series, end time.Time) {
	t.Helper()
	var sc Scratch
	for range 400 {
		to := end.Add(time.Duration(rng.IntN(3000)-2500) * time.Minute).Add(time.Duration(rng.IntN(60)) * time.Second)
		from := to.Add(-time.Duration(rng.IntN(history.MinutesKept+300)) * time.Minute)
		first := floorDiv(from.Unix(), 60)
		var want minuteStats
		runs := scanMinutes(&want, nil, s.AppendMinutes(nil, from, to), first, time.UTC)
		var got minuteStats
		sc.bursts.reset()
		scanWindow(&got, &sc, s, from, to, first)
		if got != want {
			t.Fatalf("window %v to %v: stats\n got %+v\nwant %+v", from, to, got, want)
		}
		if b, w := sc.bursts.bursts(), referenceBursts(runs); b != w {
			t.Fatalf("window %v to %v: bursts %+v, want %+v", from, to, b, w)
		}
		p50, p95, mx := cpuPercentiles(&got.cpu, got.valid[2], []*history.Series{s}, from, to)
		w50, w95, wmx := referencePercentiles(&want.cpu, want.valid[2], s.AppendMinutes(nil, from, to), s.AppendCPUFine(nil, from, to))
		if p50 != w50 || p95 != w95 || mx != wmx {
			t.Fatalf("window %v to %v: percentiles %v %v %v, want %v %v %v", from, to, p50, p95, mx, w50, w95, wmx)
		}
	}
}

// TestLaneHelpers checks the word-wise helpers against their definitions
// on random words and on every byte in every lane.
func TestLaneHelpers(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(x uint64) {
		v, a := classify8(x)
		z := zeroLanes(x)
		for j := range 8 {
			m := history.Minute(x >> (8 * j))
			if got := v>>j&1 == 1; got != m.Valid() {
				t.Fatalf("%#x lane %d: valid %v", x, j, got)
			}
			if got := a>>j&1 == 1; got != m.Active() {
				t.Fatalf("%#x lane %d: active %v", x, j, got)
			}
			if got := z >> (8 * j) & 0xff; (got == 0x80) != (m == 0) || (got != 0 && got != 0x80) {
				t.Fatalf("%#x lane %d: zero lanes %#x", x, j, z)
			}
		}
	}
	for range 100000 {
		check(rng.Uint64())
	}
	for b := range 256 {
		for j := range 8 {
			check(uint64(b) << (8 * j))
			check(^(uint64(0xff) << (8 * j)) | uint64(b)<<(8*j))
		}
	}
}

// TestAnalyzeAllocations: the scan reads the minutes in place; with a
// reused Scratch an analysis allocates only its Result's slices.
func TestAnalyzeAllocations(t *testing.T) {
	inputs := benchFleet(t)
	var sc Scratch
	cfg := defaultAnalysis()
	for _, in := range inputs[:20] {
		Analyze(in, cfg, &sc)
	}
	for _, in := range inputs[:20] {
		want := 0
		r := Analyze(in, cfg, &sc)
		if len(r.Reasons)+len(r.Blockers) > 0 {
			want += 2 // the reasons and their text
		}
		if r.IdleHoursOfDay != nil {
			want++
		}
		if a := testing.AllocsPerRun(5, func() { Analyze(in, cfg, &sc) }); int(a) != want {
			t.Fatalf("%v allocations, want %d", a, want)
		}
	}
}

// TestP95Max compares p95Max with sorting, for every length up to past
// where it sorts itself, with ties and in every order.
func TestP95Max(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for n := 1; n < 800; n += 1 + n/50 {
		for _, spread := range []int{1, 3, n, 1 << 40} {
			vs := make([]uint64, n)
			for i := range vs {
				vs[i] = uint64(rng.IntN(spread)) << 10
			}
			if n%3 == 0 {
				slices.Sort(vs)
			}
			sorted := slices.Sorted(slices.Values(vs))
			p95, mx := p95Max(slices.Clone(vs))
			if w95, wmx := sorted[rank(0.95, n)], sorted[n-1]; p95 != w95 || mx != wmx {
				t.Fatalf("n %d spread %d: %d %d, want %d %d", n, spread, p95, mx, w95, wmx)
			}
		}
	}
}
