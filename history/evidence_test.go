package history

import (
	"math/rand/v2"
	"testing"
	"time"
)

// A stream of 10 s samples whose counters are worked out by hand: idle and
// listening, two busy minutes, a minute without samples, a busier minute,
// idle, down, idle.
func TestEvidenceCounters(t *testing.T) {
	s := NewSeries()
	const mib = 1 << 20
	minute := func(m int, mk func() Sample) {
		for i := range 6 {
			sm := mk()
			sm.Time, sm.Interval = t0.Add(time.Duration(m)*time.Minute+time.Duration(i)*10*time.Second), 10*time.Second
			s.Add(sm, defaultTh)
		}
	}
	idle := func() Sample { return Sample{WorkingSet: 50 * mib} }
	minute(0, func() Sample { return Sample{WorkingSet: 50 * mib, Listening: true} })
	minute(1, func() Sample { return Sample{CPUSeconds: 4, WorkingSet: 100 * mib} }) // 0.4 cores
	minute(2, func() Sample { return Sample{CPUSeconds: 4, WorkingSet: 100 * mib} })
	minute(4, func() Sample { return Sample{CPUSeconds: 30, WorkingSet: 300 * mib} }) // 3 cores
	minute(5, idle)
	minute(6, func() Sample { return Sample{Down: true} })
	s.NoteRestart()
	s.Add(Sample{Time: t0.Add(7 * time.Minute), Interval: 10 * time.Second, WorkingSet: 50 * mib}, defaultTh)
	s.Advance(t0.Add(8*time.Minute), defaultTh)

	want := Evidence{
		ObservedMinutes: 7, // 0, 1, 2, 4, 5, 6, 7
		IdleMinutes:     4, // 0, 5, 6 (down), 7
		DownMinutes:     1,
		ListenMinutes:   1,
		BusyRuns:        1, // minutes 1 to 4: the missing minute does not end it
		Restarts:        1,
		SampledNanos:    int64(6*60+10) * 1e9,
		BusyNanos:       180e9,
		BusyCPUSeconds:  6*4 + 6*4 + 6*30,
	}
	if got := s.Evidence(); got != want {
		t.Errorf("evidence\n got %+v\nwant %+v", got, want)
	}

	var d Distributions
	if !s.Drain(&d) {
		t.Fatal("nothing to drain")
	}
	wantCPU := [MaxBuckets]uint64{0: 4, 4: 2, 7: 1} // 0 cores ×4, 0.4 ×2, 3 ×1
	wantWS := [MaxBuckets]uint64{0: 4, 1: 2, 3: 1}  // ≤64 MiB ×4 (down: 0), 100 MiB ×2, 300 MiB
	wantBursts := [MaxBuckets]uint64{1: 1}          // one burst of 4 minutes: (60, 300] s
	if d.CPU.Counts != wantCPU || d.WorkingSet.Counts != wantWS || d.Bursts.Counts != wantBursts {
		t.Errorf("buckets: cpu %v ws %v bursts %v", d.CPU.Counts, d.WorkingSet.Counts, d.Bursts.Counts)
	}
	if d.Bursts.Sum != 240 || d.WorkingSet.Sum != float64((4*50-50+2*100+300)*mib) {
		t.Errorf("sums: bursts %v, working set %v", d.Bursts.Sum, d.WorkingSet.Sum)
	}
	if got := d.CPU.Sum; got < 0.4*2+3-0.01 || got > 0.4*2+3+0.01 {
		t.Errorf("CPU sum %v, want 3.8 within the fine codes' precision", got)
	}
	if s.Drain(&d) {
		t.Error("a second drain found more")
	}
}

// A value equal to a bound falls in that bound's bucket, as Prometheus'
// le ("less or equal") says.
func TestBucketPlacement(t *testing.T) {
	for _, tc := range []struct {
		v      float64
		bounds []float64
		want   int
	}{
		{0, CPUBounds, 0},
		{0.01, CPUBounds, 0},
		{0.0100001, CPUBounds, 1},
		{0.5, CPUBounds, 4},
		{4, CPUBounds, 7},
		{4.01, CPUBounds, 8},
		{64 << 20, WorkingSetBounds, 0},
		{10 << 30, WorkingSetBounds, 8},
		{10<<30 + 1, WorkingSetBounds, 9},
		{1 << 40, WorkingSetBounds, 9},
		{900, BurstBounds, 2},
		{960, BurstBounds, 3},
		{3600, BurstBounds, 4},
		{1e9, BurstBounds, 6},
	} {
		if got := bucket(tc.v, tc.bounds); got != tc.want {
			t.Errorf("bucket(%v) = %d, want %d", tc.v, got, tc.want)
		}
	}
	for _, b := range [][]float64{CPUBounds, WorkingSetBounds, BurstBounds} {
		if len(b)+1 > MaxBuckets {
			t.Errorf("%d bounds do not fit MaxBuckets", len(b))
		}
		for i := 1; i < len(b); i++ {
			if b[i] <= b[i-1] {
				t.Errorf("bounds %v not ascending", b)
			}
		}
	}
}

// Counters and drained distributions never go down: across minutes, hours,
// gaps, a clock step back, and a rename to a new instance.
func TestEvidenceMonotonic(t *testing.T) {
	st := NewStore()
	from, to := Key{"k8s.io", "old"}, Key{"k8s.io", "new"}
	key := from
	rng := rand.New(rand.NewPCG(1, 2))
	var prev Evidence
	var total Distributions
	var prevCount [3]uint64
	at := t0
	for i := range 3 * 360 {
		switch {
		case i == 500:
			if !st.Rename(from, to) {
				t.Fatal("rename failed")
			}
			key = to
			st.Get(key).NoteRestart()
		case rng.IntN(50) == 0:
			at = at.Add(time.Duration(rng.IntN(90)) * time.Minute) // a gap
		case i == 700:
			at = at.Add(-30 * time.Second) // the wall clock steps back
		}
		at = at.Add(10 * time.Second)
		s := st.GetOrCreate(key)
		s.Add(Sample{Time: at, CPUSeconds: rng.Float64() * 3, WorkingSet: uint64(rng.IntN(1 << 31)),
			Down: rng.IntN(20) == 0, Listening: rng.IntN(2) == 0}, defaultTh)
		s.Drain(&total)
		e := s.Evidence()
		if e.ObservedMinutes < prev.ObservedMinutes || e.IdleMinutes < prev.IdleMinutes || e.DownMinutes < prev.DownMinutes ||
			e.ListenMinutes < prev.ListenMinutes || e.BusyRuns < prev.BusyRuns || e.Restarts < prev.Restarts ||
			e.SampledNanos < prev.SampledNanos || e.BusyNanos < prev.BusyNanos || e.BusyCPUSeconds < prev.BusyCPUSeconds {
			t.Fatalf("sample %d: evidence went down\nfrom %+v\n  to %+v", i, prev, e)
		}
		if e.IdleMinutes > e.ObservedMinutes || e.BusyNanos > e.SampledNanos {
			t.Fatalf("sample %d: a part exceeds its whole: %+v", i, e)
		}
		for j, d := range [...]*Distribution{&total.CPU, &total.WorkingSet, &total.Bursts} {
			if c := d.Count(); c < prevCount[j] {
				t.Fatalf("sample %d: distribution %d count went down", i, j)
			} else {
				prevCount[j] = c
			}
		}
		prev = e
	}
	if prev.Restarts != 1 || prevCount[0] != uint64(prev.ObservedMinutes) || prevCount[1] != uint64(prev.ObservedMinutes) {
		t.Errorf("after the run: %+v, %d CPU and %d working set minutes drained", prev, prevCount[0], prevCount[1])
	}
	if prevCount[2] == 0 {
		t.Error("no burst ended")
	}
}

// Draining allocates nothing, and adding still does not.
func TestDrainDoesNotAllocate(t *testing.T) {
	s := NewSeries()
	at := t0
	var d Distributions
	if n := testing.AllocsPerRun(1000, func() {
		at = at.Add(10 * time.Second)
		s.Add(Sample{Time: at, CPUSeconds: 1, WorkingSet: 1 << 20}, defaultTh)
		s.Drain(&d)
		_ = s.Evidence()
	}); n != 0 {
		t.Errorf("%v allocations per sample", n)
	}
}
