package analysis

import (
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

// weekPatterns are histories a week long whose verdicts differ: bursty
// and idle, busy office hours with idle nights, always busy, with gaps.
func weekPatterns() map[string]func(int) (load, bool) {
	idle := load{cores: 0.001, ws: 40 << 20}
	return map[string]func(int) (load, bool){
		"bursty": hourly(3, load{cores: 0.3, ws: 90 << 20, accepts: 40}, idle),
		"office": func(i int) (load, bool) {
			if h := i / 60 % 24; h >= 8 && h < 18 {
				return load{cores: 0.2 + float64(i%7)/20, ws: 200 << 20}, true
			}
			return idle, true
		},
		"busy": func(i int) (load, bool) { return load{cores: 0.4 + float64(i%11)/30, ws: 300 << 20}, true },
		"gaps": func(i int) (load, bool) {
			if i/60%24 == 5 {
				return load{}, false
			}
			return hourly(10, load{cores: 0.9, ws: 100 << 20}, idle)(i)
		},
	}
}

// One instance's Aggregate is its Series: the workload of one pod is
// judged as its container is, through the same rules.
func TestAggregateOfOneSeriesIsAnalyze(t *testing.T) {
	th := defaultThresholds(t)
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const n = 7 * 24 * 60
	now := start.Add(n * time.Minute)
	for name, p := range weekPatterns() {
		s := build(th, start, n, 6, p)
		in := withLimits(s, now, 1, 512<<20)
		want := Analyze(in, defaultAnalysis(), nil)
		a := AggregateSeries(in, []*history.Series{s}, "UTC", nil)
		got := AnalyzeAggregate(&a, defaultAnalysis())
		if !resultsEqual(got, want) {
			t.Errorf("%s: aggregate of the one series\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// A rollout on the node continues the workload's history: two pods, the
// second started when the first went (at an idle minute), give the
// Result one pod living through both would. A burst is an instance's: one
// running through the rollout (the busy pattern has no idle minute) is
// two, the rest is the same.
func TestRolloutContinuesHistory(t *testing.T) {
	th := defaultThresholds(t)
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const n = 7 * 24 * 60
	now := start.Add(n * time.Minute)
	cut := 3*24*60 + 30 // minute 30 of an hour: idle in every pattern
	for name, p := range weekPatterns() {
		whole := build(th, start, n, 6, p)
		before := build(th, start, cut, 6, p)
		after := build(th, start, n, 6, func(i int) (load, bool) {
			if i < cut {
				return load{}, false
			}
			return p(i)
		})
		want := Analyze(withLimits(whole, now, 1, 512<<20), defaultAnalysis(), nil)
		a := AggregateSeries(withLimits(nil, now, 1, 512<<20), []*history.Series{before, after}, "UTC", nil)
		got := AnalyzeAggregate(&a, defaultAnalysis())
		if name == "busy" {
			got.Bursts, got.BusyRuns, got.Reasons, got.Blockers = want.Bursts, want.BusyRuns, want.Reasons, want.Blockers
		}
		if !resultsEqual(got, want) || got.CPUP95 != want.CPUP95 || got.Bursts != want.Bursts {
			t.Errorf("%s: two pods\n got %v %+v\nwant %v %+v", name, got.Verdict, got, want.Verdict, want)
		}
		// The first pod alone is not a week.
		alone := Analyze(withLimits(after, now, 1, 512<<20), defaultAnalysis(), nil)
		if alone.ObservedFor >= want.ObservedFor {
			t.Errorf("%s: the second pod alone observed %v, the workload %v", name, alone.ObservedFor, want.ObservedFor)
		}
	}
}

// Two replicas side by side count replica-minutes: the idle ratio is the
// share of their time idle, and an hour one of them works refutes the
// hour of the day for the workload.
func TestReplicasSideBySide(t *testing.T) {
	th := defaultThresholds(t)
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const n = 3 * 24 * 60
	now := start.Add(n * time.Minute)
	idle := load{cores: 0.001, ws: 40 << 20}
	nightWorker := func(i int) (load, bool) {
		if i/60%24 == 2 && i%60 < 20 {
			return load{cores: 0.5, ws: 60 << 20}, true
		}
		return idle, true
	}
	quiet := build(th, start, n, 6, func(int) (load, bool) { return idle, true })
	worker := build(th, start, n, 6, nightWorker)
	a := AggregateSeries(withLimits(nil, now, 1, 512<<20), []*history.Series{quiet, worker}, "UTC", nil)
	if a.Valid[2] != 2*n {
		t.Fatalf("%d replica-minutes, want %d", a.Valid[2], 2*n)
	}
	r := AnalyzeAggregate(&a, defaultAnalysis())
	if want := 1 - 3*20.0/(2*n); !near(r.IdleRatio7d, want, 1e-9) {
		t.Errorf("idle ratio %v, want %v", r.IdleRatio7d, want)
	}
	for _, h := range r.IdleHoursOfDay {
		if h == 2 {
			t.Errorf("hour 2 idle for the workload though one replica works in it every night: %v", r.IdleHoursOfDay)
		}
	}
	if len(r.IdleHoursOfDay) != 23 {
		t.Errorf("idle hours %v, want every hour but 2", r.IdleHoursOfDay)
	}
}

// A workload whose pods live 2 hours each has its verdict after a day of
// its life on the node, though none of its pods ever has one.
func TestTwoHourPodsReachAVerdict(t *testing.T) {
	th := defaultThresholds(t)
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const life = 26 * 60
	now := start.Add(life * time.Minute)
	idle := load{cores: 0.001, ws: 40 << 20}
	var pods []*history.Series
	for from := 0; from < life; from += 120 {
		pods = append(pods, build(th, start, life, 6, func(i int) (load, bool) { return idle, i >= from && i < from+120 }))
	}
	a := AggregateSeries(withLimits(nil, now, 0.5, 256<<20), pods, "UTC", nil)
	r := AnalyzeAggregate(&a, defaultAnalysis())
	if r.Verdict == VerdictInsufficientData || r.ObservedFor != life*time.Minute {
		t.Errorf("13 pods of 2 hours: %s after %v observed", r.Verdict, r.ObservedFor)
	}
	if own := Analyze(withLimits(pods[len(pods)-1], now, 0.5, 256<<20), defaultAnalysis(), nil); own.Verdict != VerdictInsufficientData {
		t.Errorf("the last pod alone: %s, want insufficient data", own.Verdict)
	}
}
