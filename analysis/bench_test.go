package analysis

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

const fleetSize = 1000

var fleet struct {
	once   sync.Once
	inputs []Input
}

// benchFleet builds, once, 1000 containers with a full week of history
// each, one sample a minute, in a mix of shapes: hourly bursts, day/night,
// always busy, always idle and random bursts.
func benchFleet(b testing.TB) []Input {
	fleet.once.Do(func() {
		th := defaultThresholds(b)
		const n = history.MinutesKept + 60
		now := t0.Add(n * time.Minute)
		for c := range fleetSize {
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			var pattern func(int) (load, bool)
			switch c % 5 {
			case 0:
				pattern = hourly(1+c%10, busyLoad, idleLoad)
			case 1:
				pattern = func(i int) (load, bool) {
					if h := i / 60 % 24; h >= 8 && h < 20 {
						return busyLoad, true
					}
					return idleLoad, true
				}
			case 2:
				pattern = hourly(60, load{cores: 0.2 + float64(c%7)/10, ws: 300 * mib}, idleLoad)
			case 3:
				pattern = func(int) (load, bool) { return idleLoad, true }
			default:
				active := false
				pattern = func(int) (load, bool) {
					if rng.IntN(10) == 0 {
						active = !active
					}
					if active {
						return busyLoad, true
					}
					return idleLoad, true
				}
			}
			s := build(th, t0, n, 1, pattern)
			in := withLimits(s, now, 0.5+float64(c%4)/2, uint64(256+c%8*128)*mib)
			in.GPU = c%97 == 0
			fleet.inputs = append(fleet.inputs, in)
		}
	})
	return fleet.inputs
}

// BenchmarkAnalyze1000 analyses a fleet of 1000 containers with a week of
// history each, reusing one Scratch as the agent does.
func BenchmarkAnalyze1000(b *testing.B) {
	inputs := benchFleet(b)
	cfg := defaultAnalysis()
	var sc Scratch
	verdicts := map[Verdict]int{}
	for _, in := range inputs { // warm the scratch; count verdicts once
		verdicts[Analyze(in, cfg, &sc).Verdict]++
	}
	b.Logf("verdicts: %v", verdicts)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, in := range inputs {
			r := Analyze(in, cfg, &sc)
			if r.Verdict == "" {
				b.Fatal("no verdict")
			}
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	per := float64(b.N) * fleetSize
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/container")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/per, "B/container")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/per, "allocs/container")
}

// BenchmarkScanMinutes measures the passes over a week of minutes that
// dominate Analyze: the scan, and the fine CPU codes of the percentiles.
func BenchmarkScanMinutes(b *testing.B) {
	in := benchFleet(b)[4] // random bursts
	from := in.Now.Add(-window)
	first := floorDiv(from.Unix(), 60)
	var sc Scratch
	for b.Loop() {
		var st minuteStats
		sc.bursts.reset()
		scanWindow(&st, &sc, in.Series, from, in.Now, first)
		cpuPercentiles(&st.cpu, st.valid[2], []*history.Series{in.Series}, from, in.Now)
	}
}
