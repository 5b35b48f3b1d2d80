package analysis

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

func TestVerdicts(t *testing.T) {
	th := defaultThresholds(t)
	days := func(d int) int { return d * 24 * 60 }
	dayNight := func(i int) (load, bool) { // busy 08:00-20:00 UTC
		if h := i / 60 % 24; h >= 8 && h < 20 {
			return busyLoad, true
		}
		return idleLoad, true
	}
	tests := []struct {
		name     string
		n        int
		pattern  func(int) (load, bool)
		in       func(Input) Input
		verdict  Verdict
		platform string
		reasons  []string
		blockers []string
	}{
		{
			name: "function", n: days(2), pattern: hourly(3, busyLoad, idleLoad),
			verdict: VerdictFunction, platform: "function",
			reasons: []string{CodeIdleRatioHigh, CodeShortBursts, CodeCheaper},
		},
		{
			name: "serverless container for 30 minute bursts", n: days(2),
			pattern: func(i int) (load, bool) {
				if i%360 < 30 {
					return busyLoad, true
				}
				return idleLoad, true
			},
			verdict: VerdictServerlessContainer, platform: "serverless-container",
			reasons:  []string{CodeIdleRatioHigh, CodeShortBursts, CodeCheaper},
			blockers: []string{CodeBurstTooLong},
		},
		{
			name: "serverless container for too much memory", n: days(2),
			pattern: hourly(3, load{cores: 0.5, ws: 12 << 30}, load{cores: 0.001, ws: 11 << 30}),
			in: func(in Input) Input {
				in.MemoryLimitBytes = 16 << 30
				return in
			},
			verdict: VerdictServerlessContainer, platform: "serverless-container",
			reasons:  []string{CodeIdleRatioHigh, CodeShortBursts, CodeCheaper},
			blockers: []string{CodeMemoryTooLarge},
		},
		{
			name: "scale to zero at night", n: days(3), pattern: dayNight,
			verdict: VerdictScaleToZero, reasons: []string{CodeAlwaysIdleHours, CodeOverReserved},
			blockers: []string{CodeBurstTooLong, CodeNotIdleEnough},
		},
		{
			name: "rightsize a busy container with a big limit", n: days(2),
			pattern: hourly(60, load{cores: 0.1, ws: 100 * mib}, idleLoad),
			in: func(in Input) Input {
				in.CPUQuotaMicros = 200_000
				return in
			},
			verdict: VerdictRightsize, reasons: []string{CodeOverReserved},
			blockers: []string{CodeBurstTooLong, CodeNotIdleEnough},
		},
		{
			name: "keep a busy container that uses its reservation", n: days(2),
			pattern: hourly(60, load{cores: 0.8, ws: 400 * mib}, idleLoad),
			verdict: VerdictKeep, reasons: []string{CodeReservationUsed},
			blockers: []string{CodeBurstTooLong, CodeNotIdleEnough},
		},
		{
			name: "insufficient data", n: 10 * 60, pattern: hourly(3, busyLoad, idleLoad),
			verdict: VerdictInsufficientData, reasons: []string{CodeInsufficientData},
		},
		{
			name: "latency critical", n: days(3), pattern: dayNight,
			in: func(in Input) Input {
				in.Labels = map[string]string{LabelLatencyCritical: "true"}
				return in
			},
			// Idle every night, but no schedule for it: only rightsizing.
			verdict: VerdictRightsize, reasons: []string{CodeOverReserved},
			blockers: []string{CodeLatencyCritical, CodeBurstTooLong, CodeNotIdleEnough},
		},
		{
			name: "latency critical idle function", n: days(2), pattern: hourly(3, busyLoad, idleLoad),
			in: func(in Input) Input {
				in.Labels = map[string]string{LabelLatencyCritical: "1"}
				return in
			},
			verdict: VerdictRightsize, reasons: []string{CodeOverReserved},
			blockers: []string{CodeLatencyCritical},
		},
		{
			name: "bursts too long for any platform", n: days(3),
			pattern: func(i int) (load, bool) {
				if i%720 < 90 {
					return busyLoad, true
				}
				return idleLoad, true
			},
			verdict: VerdictScaleToZero, reasons: []string{CodeAlwaysIdleHours, CodeOverReserved},
			blockers: []string{CodeBurstTooLong},
		},
		{
			name: "local disk writes", n: days(2),
			pattern: hourly(3, load{cores: 0.3, disk: 1 << 20, ws: 200 * mib}, idleLoad),
			verdict: VerdictRightsize, reasons: []string{CodeOverReserved},
			blockers: []string{CodeLocalDiskWrites},
		},
		{
			name: "local disk writes under a label's floor", n: days(2),
			pattern: hourly(3, load{cores: 0.3, disk: 1 << 20, ws: 200 * mib}, idleLoad),
			in: func(in Input) Input {
				in.Labels = map[string]string{LabelIdleDiskWriteBytesPerSecond: "2000000"}
				return in
			},
			verdict: VerdictFunction, platform: "function",
			reasons: []string{CodeIdleRatioHigh, CodeShortBursts, CodeCheaper},
		},
		{
			name: "not cheaper", n: days(2),
			// Active by network only, 12 of 60 minutes, on a tiny reservation.
			pattern: hourly(12, load{cores: 0.005, net: 10_000, ws: 100 * mib}, load{cores: 0.005, ws: 100 * mib}),
			in: func(in Input) Input {
				in.CPUQuotaMicros, in.MemoryLimitBytes = 800, 128*mib
				return in
			},
			verdict: VerdictKeep, reasons: []string{CodeReservationUsed},
			blockers: []string{CodeNotCheaper},
		},
		{
			name: "gpu", n: days(2), pattern: hourly(3, busyLoad, idleLoad),
			in: func(in Input) Input {
				in.GPU = true
				return in
			},
			verdict: VerdictRightsize, reasons: []string{CodeOverReserved, CodeGPUCost},
			blockers: []string{CodeGPU},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := build(th, t0, tc.n, 2, tc.pattern)
			in := withLimits(s, t0.Add(time.Duration(tc.n)*time.Minute), 1, 512*mib)
			if tc.in != nil {
				in = tc.in(in)
			}
			r := Analyze(in, defaultAnalysis(), nil)
			if r.Verdict != tc.verdict || r.Platform != tc.platform ||
				!slices.Equal(codes(r.Reasons), tc.reasons) || !slices.Equal(codes(r.Blockers), tc.blockers) {
				t.Fatalf("verdict %s on %q\nreasons  %q, want %q\nblockers %q, want %q\nresult %+v",
					r.Verdict, r.Platform, r.Reasons, tc.reasons, r.Blockers, tc.blockers, r)
			}
			for _, rs := range [][]Reason{r.Reasons, r.Blockers} {
				for _, x := range rs {
					if x.Text == "" || strings.ContainsAny(x.Text, "\x00") {
						t.Errorf("%s: empty or broken text %q", x.Code, x.Text)
					}
				}
			}
			serverless := r.Verdict == VerdictFunction || r.Verdict == VerdictServerlessContainer
			if serverless != (r.Score > 0) || r.Score > 100 {
				t.Errorf("score %d for verdict %s", r.Score, r.Verdict)
			}
			if serverless && (r.SavingsPerMonth <= 0 || !near(r.SavingsPerMonth, r.CurrentMonthlyCost-r.ServerlessMonthlyCost, 1e-12)) {
				t.Errorf("serverless verdict saving %v (current %v, serverless %v)", r.SavingsPerMonth, r.CurrentMonthlyCost, r.ServerlessMonthlyCost)
			}
		})
	}
}

// TestBlockerTexts checks that blockers carry their numbers and name the
// platforms they apply to.
func TestBlockerTexts(t *testing.T) {
	th := defaultThresholds(t)
	const n = 3 * 24 * 60
	s := build(th, t0, n, 2, func(i int) (load, bool) {
		if i%720 < 90 {
			return busyLoad, true
		}
		return idleLoad, true
	})
	r := Analyze(withLimits(s, t0.Add(n*time.Minute), 1, 512*mib), defaultAnalysis(), nil)
	b, ok := reason(r.Blockers, CodeBurstTooLong)
	if !ok {
		t.Fatalf("blockers %v", r.Blockers)
	}
	for _, want := range []string{"1h30m", "15m (function)", "1h0m (serverless-container)"} {
		if !strings.Contains(b.Text, want) {
			t.Errorf("%q lacks %q", b.Text, want)
		}
	}
	z, _ := reason(r.Reasons, CodeAlwaysIdleHours)
	if !strings.Contains(z.Text, "on workdays 02-11, 14-23 (UTC)") || !strings.Contains(z.Text, "100 hours a week") {
		t.Errorf("scale-to-zero reason %q", z.Text)
	}
	if r.ServerlessMonthlyCost != 0 || r.SavingsPerMonth != 0 {
		t.Errorf("no feasible platform, yet serverless cost %v saving %v", r.ServerlessMonthlyCost, r.SavingsPerMonth)
	}

	// Not cheaper: both platforms priced, the cheapest reported with a
	// negative saving.
	s = build(th, t0, 2*24*60, 2, hourly(12, load{cores: 0.005, net: 10_000, ws: 100 * mib}, load{cores: 0.005, ws: 100 * mib}))
	in := withLimits(s, t0.Add(2*24*time.Hour), 0.008, 128*mib)
	r = Analyze(in, defaultAnalysis(), nil)
	b, ok = reason(r.Blockers, CodeNotCheaper)
	if !ok || !strings.Contains(b.Text, "as function ") || !strings.Contains(b.Text, " and as serverless-container ") {
		t.Fatalf("not cheaper blocker %+v", b)
	}
	if r.SavingsPerMonth >= 0 || r.ServerlessMonthlyCost <= r.CurrentMonthlyCost {
		t.Fatalf("saving %v, serverless %v, current %v", r.SavingsPerMonth, r.ServerlessMonthlyCost, r.CurrentMonthlyCost)
	}
	// The function platform is the cheaper here: 20% active, 128 MiB,
	// and with no accepted connection one request per burst: 48 in 48 h.
	fn := 0.2*730*3600*0.125*0.0000166667 + 48*730.0/48/1e6*0.20
	if !near(r.ServerlessMonthlyCost, fn, 1e-9) {
		t.Fatalf("serverless %v, want %v", r.ServerlessMonthlyCost, fn)
	}
}

// TestGPUNeverCandidate: a GPU container idle 100% of the time, all day,
// gets neither serverless nor a schedule.
func TestGPUNeverCandidate(t *testing.T) {
	th := defaultThresholds(t)
	const n = 3 * 24 * 60
	s := build(th, t0, n, 2, func(int) (load, bool) { return idleLoad, true })
	in := withLimits(s, t0.Add(n*time.Minute), 4, 16<<30)
	in.GPU = true
	r := Analyze(in, defaultAnalysis(), nil)
	if r.IdleRatio7d != 1 || len(r.IdleHoursOfDay) != 24 {
		t.Fatalf("idle %v, idle hours %v", r.IdleRatio7d, r.IdleHoursOfDay)
	}
	if r.Verdict != VerdictRightsize || r.Score != 0 || r.Platform != "" {
		t.Fatalf("verdict %s score %d platform %q", r.Verdict, r.Score, r.Platform)
	}
	if b, ok := reason(r.Blockers, CodeGPU); !ok || !strings.Contains(b.Text, "function and serverless-container") {
		t.Fatalf("blockers %v", r.Blockers)
	}

	// Without the GPU the same container is a function.
	in.GPU = false
	if r := Analyze(in, defaultAnalysis(), nil); r.Verdict != VerdictFunction {
		t.Fatalf("without GPU: %s %v", r.Verdict, r.Blockers)
	}

	// Only a platform that offers GPUs may take it.
	in.GPU = true
	cfg := defaultAnalysis()
	cfg.Platforms.Container.GPU = true
	r = Analyze(in, cfg, nil)
	if r.Verdict != VerdictServerlessContainer || !slices.Equal(codes(r.Blockers), []string{CodeGPU}) {
		t.Fatalf("GPU platform: %s %v", r.Verdict, r.Blockers)
	}
}

func TestInsufficientData(t *testing.T) {
	th := defaultThresholds(t)
	s := build(th, t0, 600, 2, hourly(3, busyLoad, idleLoad))
	now := t0.Add(600 * time.Minute)
	r := Analyze(withLimits(s, now, 1, 512*mib), defaultAnalysis(), nil)
	if r.Verdict != VerdictInsufficientData || r.ObservedFor != 10*time.Hour || r.Score != 0 {
		t.Fatalf("%s after %v, score %d", r.Verdict, r.ObservedFor, r.Score)
	}
	if x, _ := reason(r.Reasons, CodeInsufficientData); !strings.Contains(x.Text, "observed 10h0m of the 1d0h needed") {
		t.Fatalf("reason %q", x.Text)
	}
	// Figures are filled in all the same.
	if r.IdleRatio7d != 0.95 || r.CostPerHour == 0 || r.ServerlessMonthlyCost == 0 {
		t.Fatalf("figures missing: %+v", r)
	}

	for name, in := range map[string]Input{
		"nil series":   {Now: now},
		"empty series": {Now: now, Series: history.NewSeries()},
		"window empty": {Now: now.Add(8 * 24 * time.Hour), Series: s},
		"zero now":     {Series: s},
		"far future":   {Now: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Series: s},
	} {
		r := Analyze(in, defaultAnalysis(), nil)
		if r.Verdict != VerdictInsufficientData || r.ObservedFor != 0 || !math.IsNaN(r.IdleRatio7d) || !math.IsNaN(r.IdleRatio1h) {
			t.Errorf("%s: %s, observed %v, idle %v", name, r.Verdict, r.ObservedFor, r.IdleRatio7d)
		}
		if x, _ := reason(r.Reasons, CodeInsufficientData); x.Text != "no data in the last 7 days" {
			t.Errorf("%s: reason %q", name, x.Text)
		}
		if r.CostPerHour != 0 || r.IdleCostPerHour != 0 || math.IsNaN(r.SavingsPerMonth) || math.IsNaN(r.ServerlessMonthlyCost) {
			t.Errorf("%s: costs %+v", name, r)
		}
	}
}

// TestMoneyDecidesCandidates: a pod sandbox is never a candidate, a
// container whose move would save pennies is not one either, the minimum is
// configurable, and of two equally idle candidates the one saving more
// scores higher.
func TestMoneyDecidesCandidates(t *testing.T) {
	th := defaultThresholds(t)
	const n = 3 * 24 * 60
	now := t0.Add(n * time.Minute)
	idleAllDay := build(th, t0, n, 2, func(int) (load, bool) { return load{cores: 0.0005, ws: 1 * mib}, true })
	cfg := defaultAnalysis()

	// An idle pause container: no limits, 1 MiB.
	pause := Input{Now: now, Series: idleAllDay, CPUShares: 2, Sandbox: true}
	r := Analyze(pause, cfg, nil)
	if r.Verdict == VerdictFunction || r.Verdict == VerdictServerlessContainer || r.Verdict == VerdictScaleToZero || r.Score != 0 {
		t.Fatalf("sandbox: %s score %d", r.Verdict, r.Score)
	}
	if _, ok := reason(r.Blockers, CodePodSandbox); !ok {
		t.Fatalf("sandbox blockers %v", r.Blockers)
	}

	// A BestEffort container, busy 3 minutes an hour serving requests at
	// 0.02 cores: its "reservation" is its p95, cents a month.
	small := build(th, t0, n, 2, hourly(3, load{cores: 0.02, net: 50_000, ws: 64 * mib, accepts: 10}, idleLoad))
	be := Input{Now: now, Series: small, CPUShares: 2}
	r = Analyze(be, cfg, nil)
	if r.Verdict == VerdictFunction || r.Verdict == VerdictServerlessContainer || r.Score != 0 {
		t.Fatalf("best effort saving %v: %s score %d", r.SavingsPerMonth, r.Verdict, r.Score)
	}
	b, ok := reason(r.Blockers, CodeSavingTooSmall)
	if !ok || !strings.Contains(b.Text, "less than the 1.00 USD a candidate must save") {
		t.Fatalf("best effort blockers %v (saving %v)", r.Blockers, r.SavingsPerMonth)
	}
	if r.SavingsPerMonth <= 0 || r.SavingsPerMonth >= 1 || r.ServerlessMonthlyCost == 0 {
		t.Fatalf("best effort saving %v, serverless %v", r.SavingsPerMonth, r.ServerlessMonthlyCost)
	}
	// With no minimum it is a candidate again.
	cfg0 := cfg
	cfg0.MinSavingPerMonth = 0
	if r := Analyze(be, cfg0, nil); r.Verdict != VerdictFunction {
		t.Fatalf("no minimum: %s %v", r.Verdict, r.Blockers)
	}

	// Equally idle, one reserving 4 cores and 8 GiB, the other a tenth
	// core and 256 MiB: the first saves more and scores higher.
	big := Analyze(withLimits(small, now, 4, 8<<30), cfg, nil)
	tiny := Analyze(withLimits(small, now, 0.1, 256*mib), cfg, nil)
	if big.Verdict != VerdictFunction || tiny.Verdict != VerdictFunction {
		t.Fatalf("verdicts %s, %s (%v, %v)", big.Verdict, tiny.Verdict, big.Blockers, tiny.Blockers)
	}
	if !(big.SavingsPerMonth > 10*tiny.SavingsPerMonth) || !(big.Score > tiny.Score+20) {
		t.Fatalf("big saves %v, score %d; tiny saves %v, score %d", big.SavingsPerMonth, big.Score, tiny.SavingsPerMonth, tiny.Score)
	}
}

// TestRestartsAndListeners: a crash-looping container of a live pod is
// paid, idle, while it is down: its idle cost counts that time, and it is
// no candidate of any kind. An always-on TCP server is no function, but
// may be a serverless container.
func TestRestartsAndListeners(t *testing.T) {
	th := defaultThresholds(t)
	const n = 2 * 24 * 60
	now := t0.Add(n * time.Minute)
	cfg := defaultAnalysis()

	// Each hour: 5 minutes of work, a crash, 55 minutes down (restarts
	// while backing off), then a restart.
	s := history.NewSeries()
	for i := range n * 2 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		sm := history.Sample{Time: at, Interval: 30 * time.Second, WorkingSet: 100 * mib}
		if m := i / 2 % 60; m < 5 {
			sm.CPUSeconds = 0.3 * 30
		} else {
			sm.Down = true
		}
		if i > 0 && i%120 == 0 {
			s.NoteRestart()
		}
		s.Add(sm, th)
	}
	s.Advance(now, th)
	r := Analyze(withLimits(s, now, 1, 512*mib), cfg, nil)
	wantIdle := 55.0 / 60
	if r.Restarts != 47 || r.DownFor != 48*55*time.Minute || !near(r.IdleRatio7d, wantIdle, 1e-9) {
		t.Fatalf("restarts %d, down %v, idle %v; want 47, %v, %v", r.Restarts, r.DownFor, r.IdleRatio7d, 48*55*time.Minute, wantIdle)
	}
	if !near(r.IdleCostPerHour, r.CostPerHour*wantIdle, 1e-12) || r.IdleCostPerMonth <= 0 {
		t.Fatalf("idle cost %v of %v per hour", r.IdleCostPerHour, r.CostPerHour)
	}
	if r.Verdict == VerdictFunction || r.Verdict == VerdictServerlessContainer || r.Verdict == VerdictScaleToZero {
		t.Fatalf("crash-looping: verdict %s", r.Verdict)
	}
	if b, ok := reason(r.Blockers, CodeRestarting); !ok || !strings.Contains(b.Text, "restarted 47 times") {
		t.Fatalf("blockers %v", r.Blockers)
	}
	if re, ok := reason(r.Reasons, CodeRestarts); !ok || !strings.Contains(re.Text, "idle cost") {
		t.Fatalf("reasons %v", r.Reasons)
	}

	// A mostly idle server, listening all the time.
	srv := history.NewSeries()
	for i := range n * 2 {
		l := idleLoad
		if i/2%60 < 3 {
			l = busyLoad
		}
		srv.Add(history.Sample{
			Time: t0.Add(time.Duration(i) * 30 * time.Second), Interval: 30 * time.Second,
			CPUSeconds: l.cores * 30, NetRxBytes: uint64(l.net * 30), WorkingSet: l.ws, Listening: true,
		}, th)
	}
	srv.Advance(now, th)
	r = Analyze(withLimits(srv, now, 1, 512*mib), cfg, nil)
	if r.ListeningRatio != 1 || r.Verdict != VerdictServerlessContainer {
		t.Fatalf("listener: ratio %v verdict %s blockers %v", r.ListeningRatio, r.Verdict, r.Blockers)
	}
	if b, ok := reason(r.Blockers, CodeListener); !ok || !strings.Contains(b.Text, "function cannot run") {
		t.Fatalf("listener blockers %v", r.Blockers)
	}
	if _, ok := reason(r.Reasons, CodeListener); !ok {
		t.Fatalf("listener reasons %v", r.Reasons)
	}
}
