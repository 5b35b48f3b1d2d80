package analysis

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

func TestIdleRatioWindows(t *testing.T) {
	th := defaultThresholds(t)
	const n = 3 * 24 * 60
	// Active: the last 30 minutes and the first hour of the last day.
	s := build(th, t0, n, 2, func(i int) (load, bool) {
		if i >= n-30 || (i >= n-1440 && i < n-1380) {
			return busyLoad, true
		}
		return idleLoad, true
	})
	now := t0.Add(n * time.Minute)
	r := Analyze(Input{Now: now, Series: s}, defaultAnalysis(), nil)
	if r.IdleRatio1h != 0.5 || r.IdleRatio24h != float64(1440-90)/1440 || r.IdleRatio7d != float64(n-90)/n {
		t.Fatalf("idle ratios %v %v %v", r.IdleRatio1h, r.IdleRatio24h, r.IdleRatio7d)
	}
	// Two hours after the last sample the last hour has no data.
	r = Analyze(Input{Now: now.Add(2 * time.Hour), Series: s}, defaultAnalysis(), nil)
	// The day's window now starts after the early active hour.
	if !math.IsNaN(r.IdleRatio1h) || r.IdleRatio24h != float64(1320-30)/1320 {
		t.Fatalf("after stop: %v %v", r.IdleRatio1h, r.IdleRatio24h)
	}
}

func TestBursts(t *testing.T) {
	th := defaultThresholds(t)
	// Runs of 1..10 minutes separated by 20 idle minutes, then a run of 4
	// split by a minute without data, then a 5 minute run still going.
	type seg struct {
		active bool
		n      int
		gap    bool
	}
	var segs []seg
	segs = append(segs, seg{n: 1440}) // a day of idle first
	for k := 1; k <= 10; k++ {
		segs = append(segs, seg{active: true, n: k}, seg{n: 20})
	}
	segs = append(segs, seg{active: true, n: 4}, seg{gap: true, n: 1}, seg{active: true, n: 4}, seg{n: 20}, seg{active: true, n: 5})
	var minutes []int8 // 1 active, 0 idle, -1 no data
	for _, sg := range segs {
		for range sg.n {
			switch {
			case sg.gap:
				minutes = append(minutes, -1)
			case sg.active:
				minutes = append(minutes, 1)
			default:
				minutes = append(minutes, 0)
			}
		}
	}
	s := build(th, t0, len(minutes), 2, func(i int) (load, bool) {
		switch minutes[i] {
		case 1:
			return busyLoad, true
		case 0:
			return idleLoad, true
		}
		return load{}, false
	})
	r := Analyze(Input{Now: t0.Add(time.Duration(len(minutes)) * time.Minute), Series: s}, defaultAnalysis(), nil)
	// Runs: 1..10, 4+1+4 (the minute without data inside the run counts),
	// 5 → 12 runs; sorted 1 2 3 4 5 5 6 7 8 9 9 10. Nearest rank: p50 is
	// the 6th (5), p95 the 12th (10).
	want := Bursts{Count: 12, P50: 5 * time.Minute, P95: 10 * time.Minute, Max: 10 * time.Minute}
	if r.Bursts != want {
		t.Fatalf("bursts = %+v, want %+v", r.Bursts, want)
	}
	if r.ObservedFor != time.Duration(len(minutes)-1)*time.Minute {
		t.Fatalf("observed %v", r.ObservedFor)
	}
}

// TestBurstAcrossRingWrap runs a series past a week, so its minute ring
// wraps, with a burst straddling the ring's slot 0 and one at the end.
func TestBurstAcrossRingWrap(t *testing.T) {
	th := defaultThresholds(t)
	// Minute m lives in slot m mod MinutesKept: wrap is the start of a
	// slot-0 minute.
	wrap := time.Unix(0, 0).UTC().Add(2900 * history.MinutesKept * time.Minute)
	start := wrap.Add(-8 * 24 * time.Hour)
	const n = 9 * 24 * 60
	wrapAt := int(wrap.Sub(start) / time.Minute)
	s := build(th, start, n, 1, func(i int) (load, bool) {
		if (i >= wrapAt-12 && i < wrapAt+13) || i >= n-7 {
			return busyLoad, true
		}
		return idleLoad, true
	})
	r := Analyze(Input{Now: start.Add(n * time.Minute), Series: s}, defaultAnalysis(), nil)
	want := Bursts{Count: 2, P50: 7 * time.Minute, P95: 25 * time.Minute, Max: 25 * time.Minute}
	if r.Bursts != want || r.ObservedFor != 7*24*time.Hour {
		t.Fatalf("bursts %+v (want %+v), observed %v", r.Bursts, want, r.ObservedFor)
	}
}

func TestIdleHoursOfDay(t *testing.T) {
	th := defaultThresholds(t)
	pattern := func(i int) (load, bool) {
		h := i / 60 % 24
		if (h >= 8 && h < 20) || i == 24*60+3*60+17 { // and once at 03:17 on day 2
			return busyLoad, true
		}
		return idleLoad, true
	}
	const n = 3 * 24 * 60
	s := build(th, t0, n, 2, pattern)
	r := Analyze(Input{Now: t0.Add(n * time.Minute), Series: s}, defaultAnalysis(), nil)
	want := []int{0, 1, 2, 4, 5, 6, 7, 20, 21, 22, 23}
	if !slices.Equal(r.IdleHoursOfDay, want) {
		t.Fatalf("idle hours %v, want %v", r.IdleHoursOfDay, want)
	}
	// Under two days observed: none.
	s = build(th, t0, 47*60, 2, pattern)
	if r := Analyze(Input{Now: t0.Add(47 * time.Hour), Series: s}, defaultAnalysis(), nil); r.IdleHoursOfDay != nil {
		t.Fatalf("idle hours after 47 h: %v", r.IdleHoursOfDay)
	}
}

// TestGapInsideBurst: a 25-minute job every 6 hours, one of whose minutes
// went unsampled (an agent restart), is still a 25-minute burst: too long
// for a function. A gap followed by idleness does not lengthen a burst.
func TestGapInsideBurst(t *testing.T) {
	th := defaultThresholds(t)
	const n = 3 * 24 * 60
	job := func(gapAt int, after load) func(int) (load, bool) {
		return func(i int) (load, bool) {
			switch k := i % 360; {
			case i == gapAt:
				return load{}, false
			case k < 25:
				return busyLoad, true
			case k < 28:
				return after, true
			}
			return idleLoad, true
		}
	}
	s := build(th, t0, n, 2, job(360+12, idleLoad))
	r := Analyze(withLimits(s, t0.Add(n*time.Minute), 1, 512*mib), defaultAnalysis(), nil)
	if r.Bursts.Max != 25*time.Minute || r.Bursts.Count != 12 {
		t.Fatalf("bursts %+v", r.Bursts)
	}
	if r.Verdict != VerdictServerlessContainer || !slices.Equal(codes(r.Blockers), []string{CodeBurstTooLong}) {
		t.Fatalf("verdict %s, blockers %v", r.Verdict, r.Blockers)
	}

	// Minutes without data right after a burst, then idleness: the burst
	// is as long as its active minutes.
	s = build(th, t0, n, 2, func(i int) (load, bool) {
		switch k := i % 360; {
		case k < 10:
			return busyLoad, true
		case k < 14:
			return load{}, false
		}
		return idleLoad, true
	})
	r = Analyze(Input{Now: t0.Add(n * time.Minute), Series: s}, defaultAnalysis(), nil)
	if r.Bursts.Max != 10*time.Minute || r.Bursts.Count != 12 {
		t.Fatalf("trailing gap: bursts %+v", r.Bursts)
	}
}

// TestClockJump: one sample stamped 30 days ahead in the middle of two
// days of an hourly job, then the clock back: the history still reads as
// two days, and the verdict stands.
func TestClockJump(t *testing.T) {
	th := defaultThresholds(t)
	s := history.NewSeries()
	wall, mono := t0, time.Hour
	const n = 2 * 24 * 60
	for i := range n {
		l := idleLoad
		if i%60 < 3 {
			l = busyLoad
		}
		for range 6 {
			at := wall
			if i == n/2 {
				at = at.Add(30 * 24 * time.Hour) // the clock misreads
			}
			s.Add(history.Sample{Time: at, Mono: mono, CPUSeconds: l.cores * 10, WorkingSet: l.ws, NetRxBytes: uint64(l.net * 10), Interval: 10 * time.Second}, th)
			wall, mono = wall.Add(10*time.Second), mono+10*time.Second
		}
	}
	s.AdvanceMono(wall, mono, th)
	r := Analyze(withLimits(s, wall, 1, 512*mib), defaultAnalysis(), nil)
	if r.ObservedFor != n*time.Minute || r.Verdict != VerdictFunction {
		t.Fatalf("observed %v, verdict %s, reasons %v", r.ObservedFor, r.Verdict, r.Reasons)
	}
}

// everySample feeds n minutes of 2 s samples; cores(i) is the CPU rate of
// sample i.
func everySample(th history.Thresholds, n int, cores func(i int) float64) *history.Series {
	s := history.NewSeries()
	for i := range n * 30 {
		s.Add(history.Sample{
			Time: t0.Add(time.Duration(i) * 2 * time.Second), CPUSeconds: cores(i) * 2,
			WorkingSet: 20 * mib, Interval: 2 * time.Second,
		}, th)
	}
	s.Advance(t0.Add(time.Duration(n)*time.Minute), th)
	return s
}

// TestSubMinuteDutyCycle: 1 s of work every 20 s (the demo's cron-like)
// makes every minute active, so by minutes it is never idle; its samples
// say it is busy a tenth of the time, and priced at the billed time that
// work needs, low and high, it is a function candidate with its range in
// the reasons. A container busy all the time is not, whatever it uses.
func TestSubMinuteDutyCycle(t *testing.T) {
	th := defaultThresholds(t)
	const n = 2 * 24 * 60
	now := t0.Add(n * time.Minute)
	cfg := defaultAnalysis()

	// One 2 s sample in ten at 0.25 cores (0.5 CPU-seconds), under a
	// limit of half a core and 256 MiB.
	cron := everySample(th, n, func(i int) float64 {
		if i%10 == 0 {
			return 0.25
		}
		return 0
	})
	r := Analyze(withLimits(cron, now, 0.5, 256*mib), cfg, nil)
	if r.IdleRatio7d != 0 || !near(r.BusyRatio, 0.1, 1e-9) || !r.DutyCycled || r.LongestBusyRun != 2*time.Second || r.BusyRuns != n*3 {
		t.Fatalf("idle %v busy %v duty-cycled %v longest run %v runs %d", r.IdleRatio7d, r.BusyRatio, r.DutyCycled, r.LongestBusyRun, r.BusyRuns)
	}
	if r.Verdict != VerdictFunction || len(r.Blockers) != 0 {
		t.Fatalf("verdict %s, blockers %v, reasons %v", r.Verdict, r.Blockers, r.Reasons)
	}
	// Sized for the 0.25 cores of a sample: 443 MiB, 0.2504 vCPU. Low:
	// 1.5 CPU-seconds a minute flat out; high: the 6 busy seconds a
	// minute. 3 runs a minute are the requests.
	const perMonth = 730 * 60.0
	mib443 := 443.0 / 1024 * 0.0000166667
	fee := 3 * perMonth / 1e6 * 0.20
	low, high := 1.5/(443.0/1769)*perMonth, 6*perMonth
	if !near(r.BilledSecondsLow, low, 1e-6) || !near(r.BilledSecondsHigh, high, 1e-6) {
		t.Fatalf("billed %v to %v s, want %v to %v", r.BilledSecondsLow, r.BilledSecondsHigh, low, high)
	}
	if !near(r.ServerlessMonthlyCostLow, low*mib443+fee, 1e-6) || !near(r.ServerlessMonthlyCost, high*mib443+fee, 1e-6) {
		t.Fatalf("cost %v to %v, want %v to %v", r.ServerlessMonthlyCostLow, r.ServerlessMonthlyCost, low*mib443+fee, high*mib443+fee)
	}
	if want := (0.5*0.04048 + 0.25*0.004445) * 730; !near(r.CurrentMonthlyCost, want, 1e-9) || !near(r.SavingsPerMonth, want-r.ServerlessMonthlyCost, 1e-9) {
		t.Fatalf("current %v saving %v", r.CurrentMonthlyCost, r.SavingsPerMonth)
	}
	c, ok := reason(r.Reasons, CodeCheaper)
	if !ok || !strings.Contains(c.Text, "1.92 USD a month instead of 15.59 USD") || !strings.Contains(c.Text, "busy in 10.0% of the sampled time") ||
		!strings.Contains(c.Text, "from runs of work") {
		t.Fatalf("cheaper reason %q", c.Text)
	}
	if i, _ := reason(r.Reasons, CodeIdleRatioHigh); !strings.Contains(i.Text, "pieces shorter than a minute") {
		t.Fatalf("idle reason %q", i.Text)
	}
	if r.Score < 1 {
		t.Fatalf("score %d", r.Score)
	}

	// Busy all the time: at 0.02 cores under the same limit (as a
	// function it would cost less than now), and at the limit.
	for _, cores := range []float64{0.02, 0.5} {
		busy := everySample(th, n, func(int) float64 { return cores })
		r := Analyze(withLimits(busy, now, 0.5, 256*mib), cfg, nil)
		if r.DutyCycled || r.BusyRatio != 1 || r.Verdict == VerdictFunction || r.Verdict == VerdictServerlessContainer {
			t.Fatalf("%v cores all the time: duty-cycled %v busy %v verdict %s", cores, r.DutyCycled, r.BusyRatio, r.Verdict)
		}
		if _, ok := reason(r.Blockers, CodeNotIdleEnough); !ok {
			t.Fatalf("%v cores all the time: blockers %v", cores, r.Blockers)
		}
	}
}

// TestBusyFromAPartialMinute: sampling that begins 6 s before the end of a
// minute (the agent or the container started then) leaves a valid minute
// with 5 s of samples. A container busy in every one of them is busy all
// the time sampled, not a twelfth of the minute, and no candidate.
func TestBusyFromAPartialMinute(t *testing.T) {
	th := defaultThresholds(t)
	cfg := defaultAnalysis()
	cfg.MinObservation = time.Minute
	start := t0.Add(54 * time.Second)
	for _, minutes := range []int{1, 3} {
		s := history.NewSeries()
		n := 6 + 60*(minutes-1)
		for i := range n {
			sm := history.Sample{Time: start.Add(time.Duration(i) * time.Second), WorkingSet: 20 * mib}
			if i > 0 {
				// The first sample has no counter to take a delta from.
				sm.CPUSeconds, sm.Interval = 0.2, time.Second
			}
			s.Add(sm, th)
		}
		now := start.Add(time.Duration(n) * time.Second)
		s.Advance(now, th)
		r := Analyze(withLimits(s, now, 0.2, 0), cfg, nil)
		if r.ObservedFor != time.Duration(minutes)*time.Minute || r.IdleRatio7d != 0 {
			t.Fatalf("%d minutes: observed %v, idle %v", minutes, r.ObservedFor, r.IdleRatio7d)
		}
		if r.BusyRatio != 1 || r.DutyCycled || r.Verdict == VerdictFunction || r.Verdict == VerdictServerlessContainer {
			t.Errorf("%d minutes: busy %v, duty-cycled %v, verdict %s; want busy 1, kept", minutes, r.BusyRatio, r.DutyCycled, r.Verdict)
		}
	}
}
