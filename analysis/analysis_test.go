package analysis

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
)

// t0 is a midnight UTC, so minute i of a test series falls in hour of day
// (i/60)%24.
var t0 = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

const mib = 1 << 20

// load is what a container does during one minute.
type load struct {
	cores   float64
	net     float64 // received bytes per second
	disk    float64 // written bytes per second
	ws      uint64
	accepts uint64 // per minute
}

var (
	idleLoad = load{cores: 0.001, ws: 200 * mib}
	busyLoad = load{cores: 0.3, net: 50_000, ws: 200 * mib, accepts: 10}
)

func defaultAnalysis() config.AnalysisConfig { return config.Default().Analysis }

func defaultThresholds(t testing.TB) history.Thresholds {
	th, err := ThresholdsFor(defaultAnalysis().Idle, nil)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// build feeds n minutes from start into a new series, samplesPerMinute
// samples each carrying the deltas of its share of the minute; pattern
// returns false for a minute without samples. The last minute is closed,
// so Now = start + n minutes sees every minute.
func build(th history.Thresholds, start time.Time, n, samplesPerMinute int, pattern func(i int) (load, bool)) *history.Series {
	s := history.NewSeries()
	iv := time.Minute / time.Duration(samplesPerMinute)
	secs := iv.Seconds()
	for i := range n {
		l, ok := pattern(i)
		if !ok {
			continue
		}
		for k := range samplesPerMinute {
			sm := history.Sample{
				Time:           start.Add(time.Duration(i)*time.Minute + time.Duration(k)*iv + time.Second),
				CPUSeconds:     l.cores * secs,
				WorkingSet:     l.ws,
				NetRxBytes:     uint64(l.net * secs),
				DiskWriteBytes: uint64(l.disk * secs),
				Interval:       iv,
			}
			if k == 0 {
				sm.TCPAccepts = l.accepts
			}
			s.Add(sm, th)
		}
	}
	s.Advance(start.Add(time.Duration(n)*time.Minute), th)
	return s
}

// hourly is active during the first active minutes of every hour.
func hourly(active int, busy, idle load) func(int) (load, bool) {
	return func(i int) (load, bool) {
		if i%60 < active {
			return busy, true
		}
		return idle, true
	}
}

// withLimits is an input with a CPU limit in cores and a memory limit.
func withLimits(s *history.Series, now time.Time, cores float64, memBytes uint64) Input {
	return Input{
		Now: now, Series: s,
		CPUQuotaMicros: int64(cores * 100_000), CPUPeriodMicros: 100_000,
		MemoryLimitBytes: memBytes,
	}
}

func codes(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func reason(rs []Reason, code string) (Reason, bool) {
	for _, r := range rs {
		if r.Code == code {
			return r, true
		}
	}
	return Reason{}, false
}

func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestThresholdsFor(t *testing.T) {
	cfg := defaultAnalysis().Idle
	th, err := ThresholdsFor(cfg, map[string]string{
		LabelIdleCPUCores:                "0.05",
		LabelIdleNetworkBytesPerSecond:   "200",
		LabelIdleDiskWriteBytesPerSecond: "0",
		"unrelated":                      "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := history.Thresholds{CPUCores: 0.05, NetBytesPerSecond: 200, DiskWriteBytesPerSecond: 0}
	if th != want {
		t.Fatalf("thresholds = %+v, want %+v", th, want)
	}

	th, err = ThresholdsFor(cfg, nil)
	if err != nil || th.CPUCores != cfg.CPUCores || th.NetBytesPerSecond != cfg.NetworkBytesPerSecond || th.DiskWriteBytesPerSecond != cfg.DiskWriteBytesPerSecond {
		t.Fatalf("no labels: %+v, %v", th, err)
	}

	for _, bad := range []string{"lots", "-1", "NaN", "+Inf", ""} {
		th, err := ThresholdsFor(cfg, map[string]string{LabelIdleCPUCores: bad, LabelIdleNetworkBytesPerSecond: "500"})
		if err == nil {
			t.Fatalf("%q accepted", bad)
		}
		if !strings.Contains(err.Error(), LabelIdleCPUCores) || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("error %q does not name the label and value %q", err, bad)
		}
		if th.CPUCores != cfg.CPUCores || th.NetBytesPerSecond != 500 {
			t.Errorf("%q: thresholds = %+v, want the config's CPU floor and the valid network override", bad, th)
		}
	}

	_, err = ThresholdsFor(cfg, map[string]string{LabelIdleCPUCores: "x", LabelIdleDiskWriteBytesPerSecond: "-5"})
	if err == nil || !strings.Contains(err.Error(), LabelIdleCPUCores) || !strings.Contains(err.Error(), LabelIdleDiskWriteBytesPerSecond) {
		t.Fatalf("two bad labels: %v", err)
	}
}

// TestCostArithmetic checks every money figure against values worked out
// by hand: 0.5 vCPU and 1 GiB at the default prices, idle 90% of the time.
func TestCostArithmetic(t *testing.T) {
	th := defaultThresholds(t)
	busy := load{cores: 0.3, ws: 256 * mib}
	idle := load{cores: 0.002, ws: 256 * mib}
	const n = 48 * 60
	s := build(th, t0, n, 4, hourly(6, busy, idle)) // 6 of 60 minutes active
	now := t0.Add(n * time.Minute)
	r := Analyze(withLimits(s, now, 0.5, 1<<30), defaultAnalysis(), nil)

	if r.IdleRatio7d != 0.9 || r.IdleRatio24h != 0.9 || r.IdleRatio1h != 0.9 {
		t.Fatalf("idle ratios = %v %v %v, want 0.9", r.IdleRatio1h, r.IdleRatio24h, r.IdleRatio7d)
	}
	if r.ObservedFor != 48*time.Hour {
		t.Fatalf("observed %v", r.ObservedFor)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"cost per hour", r.CostPerHour, 0.5*0.04048 + 1*0.004445},
		{"cost per hour (literal)", r.CostPerHour, 0.024685},
		{"idle cost per hour", r.IdleCostPerHour, 0.0222165},
		{"idle cost per month", r.IdleCostPerMonth, 0.0222165 * 730},
		{"current monthly cost", r.CurrentMonthlyCost, 0.024685 * 730},
	}
	// p95 CPU sits in the busy minutes; the waste is the rest of the
	// reservation, priced per hour, times 730.
	if !near(r.CPUP95, 0.3, 0.06) || r.WorkingSetP95 != 256*mib || r.WorkingSetMax != 256*mib {
		t.Fatalf("p95 cpu %v, working set p95 %d max %d", r.CPUP95, r.WorkingSetP95, r.WorkingSetMax)
	}
	checks = append(checks, struct {
		name      string
		got, want float64
	}{"over-reservation waste", r.OverReservationWastePerMonth, ((0.5-r.CPUP95)*0.04048 + 0.75*0.004445) * 730})

	// As a function: 10% of 730 h active, sized at the memory that buys
	// the peak CPU (1,769 MiB per vCPU, above the 256 MiB working set), one
	// invocation per burst: 48 bursts in 48 h = 730 a month.
	fnGiB := math.Ceil(r.CPUMax*1769) / 1024
	fn := 0.1*730*3600*fnGiB*0.0000166667 + 730.0/1e6*0.20
	checks = append(checks,
		struct {
			name      string
			got, want float64
		}{"serverless monthly cost", r.ServerlessMonthlyCost, fn},
		struct {
			name      string
			got, want float64
		}{"savings", r.SavingsPerMonth, 0.024685*730 - fn})
	for _, c := range checks {
		if !near(c.got, c.want, 1e-9) {
			t.Errorf("%s = %.10g, want %.10g", c.name, c.got, c.want)
		}
	}
	if r.Verdict != VerdictFunction || r.Platform != "function" {
		t.Fatalf("verdict %s on %q, reasons %v, blockers %v", r.Verdict, r.Platform, r.Reasons, r.Blockers)
	}
	saved := (0.024685*730 - fn) / (0.024685 * 730)
	money := (0.024685*730 - fn) / (0.024685*730 - fn + 10*1.0) // min_saving_per_month 1
	wantScore := int(math.Round(100 * 0.9 * money * (0.5 + 0.5*saved) * (0.75 + 0.25*(1-6.0/15))))
	if r.Score != wantScore {
		t.Errorf("score = %d, want %d", r.Score, wantScore)
	}
	if r.Bursts != (Bursts{Count: 48, P50: 6 * time.Minute, P95: 6 * time.Minute, Max: 6 * time.Minute}) {
		t.Errorf("bursts = %+v", r.Bursts)
	}
}

func TestAcceptsAreRequests(t *testing.T) {
	th := defaultThresholds(t)
	const n = 48 * 60
	s := build(th, t0, n, 4, hourly(3, busyLoad, idleLoad)) // 10 accepts per busy minute
	r := Analyze(withLimits(s, t0.Add(n*time.Minute), 1, 512*mib), defaultAnalysis(), nil)
	// 1440 accepts in 48 h → 21,900 a month; 5% active; the memory that
	// buys the peak CPU.
	want := 0.05*730*3600*math.Ceil(r.CPUMax*1769)/1024*0.0000166667 + 1440*730.0/48/1e6*0.20
	if !near(r.ServerlessMonthlyCost, want, 1e-9) {
		t.Fatalf("serverless cost %.10g, want %.10g", r.ServerlessMonthlyCost, want)
	}
}

func TestReserved(t *testing.T) {
	th := defaultThresholds(t)
	const n = 26 * 60
	s := build(th, t0, n, 2, hourly(30, load{cores: 0.2, ws: 300 * mib}, load{cores: 0.1, ws: 100 * mib}))
	now := t0.Add(n * time.Minute)
	cfg := defaultAnalysis()
	tests := []struct {
		name        string
		in          Input
		cores       float64
		cpuSource   string
		mem         uint64
		memSource   string
		wantCostPer float64 // cost per hour by hand, NaN to derive from observed figures
	}{
		{"limits", Input{CPUQuotaMicros: 150_000, CPUPeriodMicros: 100_000, CPUShares: 4096, MemoryLimitBytes: 2 << 30},
			1.5, SourceLimit, 2 << 30, SourceLimit, 1.5*0.04048 + 2*0.004445},
		{"request", Input{CPUQuotaMicros: -1, CPUPeriodMicros: 100_000, CPUShares: 512},
			0.5, SourceRequest, 300 * mib, SourceObserved, 0.5*0.04048 + 300.0/1024*0.004445},
		{"unlimited v1 memory", Input{CPUShares: 256, MemoryLimitBytes: 0x7FFFFFFFFFFFF000},
			0.25, SourceRequest, 300 * mib, SourceObserved, 0.25*0.04048 + 300.0/1024*0.004445},
		{"best effort", Input{CPUShares: 2}, math.NaN(), SourceObserved, 300 * mib, SourceObserved, math.NaN()},
		{"nothing", Input{}, math.NaN(), SourceObserved, 300 * mib, SourceObserved, math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.Now, in.Series = now, s
			r := Analyze(in, cfg, nil)
			want := tc.cores
			if math.IsNaN(want) {
				// Observed: the p95 of minutes split 50/50 between 0.1 and
				// 0.2 cores is the busy level.
				if !near(r.CPUP95, 0.2, 0.06) {
					t.Fatalf("p95 %v", r.CPUP95)
				}
				want = r.CPUP95
			}
			got := r.Reserved
			if got.CPUCores != want || got.CPUSource != tc.cpuSource || got.MemoryBytes != tc.mem || got.MemorySource != tc.memSource {
				t.Fatalf("reserved = %+v, want %v %s %d %s", got, want, tc.cpuSource, tc.mem, tc.memSource)
			}
			wantCost := tc.wantCostPer
			if math.IsNaN(wantCost) {
				wantCost = r.CPUP95*0.04048 + 300.0/1024*0.004445
			}
			if !near(r.CostPerHour, wantCost, 1e-12) {
				t.Fatalf("cost per hour %v, want %v", r.CostPerHour, wantCost)
			}
			if got.MemorySource == SourceObserved && got.CPUSource == SourceObserved && r.OverReservationWastePerMonth != 0 {
				t.Fatalf("observed reservation wastes %v", r.OverReservationWastePerMonth)
			}
		})
	}
}

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
	if !strings.Contains(z.Text, "20 hours (UTC 02-11, 14-23)") {
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

// TestScratchReuse checks that results do not share memory with the
// scratch, and that a reused scratch allocates only a result's own slices.
func TestScratchReuse(t *testing.T) {
	th := defaultThresholds(t)
	const n = 3 * 24 * 60
	a := build(th, t0, n, 1, hourly(3, busyLoad, idleLoad))
	b := build(th, t0, n, 1, func(i int) (load, bool) {
		if h := i / 60 % 24; h >= 8 && h < 20 {
			return busyLoad, true
		}
		return idleLoad, true
	})
	now := t0.Add(n * time.Minute)
	cfg := defaultAnalysis()
	var sc Scratch
	ra := Analyze(withLimits(a, now, 1, 512*mib), cfg, &sc)
	saved := slices.Clone(ra.Reasons)
	rb := Analyze(withLimits(b, now, 1, 512*mib), cfg, &sc)
	if !slices.Equal(ra.Reasons, saved) || ra.Verdict == rb.Verdict {
		t.Fatalf("first result changed: %v → %v (verdicts %s, %s)", saved, ra.Reasons, ra.Verdict, rb.Verdict)
	}
	if fresh := Analyze(withLimits(b, now, 1, 512*mib), cfg, nil); !resultsEqual(fresh, rb) {
		t.Fatalf("scratch changes the result:\n%+v\n%+v", fresh, rb)
	}
	allocs := testing.AllocsPerRun(20, func() { Analyze(withLimits(a, now, 1, 512*mib), cfg, &sc) })
	if allocs > 2 {
		t.Errorf("%v allocations per analysis with a reused scratch, want at most 2 (reasons and their text)", allocs)
	}
	allocs = testing.AllocsPerRun(20, func() { Analyze(withLimits(b, now, 1, 512*mib), cfg, &sc) })
	if allocs > 3 {
		t.Errorf("%v allocations per analysis with idle hours, want at most 3", allocs)
	}
}

func resultsEqual(a, b Result) bool {
	eq := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
	return slices.Equal(a.Reasons, b.Reasons) && slices.Equal(a.Blockers, b.Blockers) && slices.Equal(a.IdleHoursOfDay, b.IdleHoursOfDay) &&
		a.Verdict == b.Verdict && a.Score == b.Score && a.Bursts == b.Bursts && a.Reserved == b.Reserved &&
		eq(a.IdleRatio1h, b.IdleRatio1h) && eq(a.IdleRatio24h, b.IdleRatio24h) && eq(a.IdleRatio7d, b.IdleRatio7d) &&
		a.CPUP95 == b.CPUP95 && a.WorkingSetMax == b.WorkingSetMax && a.SavingsPerMonth == b.SavingsPerMonth
}

func TestTextFormatting(t *testing.T) {
	var tb textBuilder
	tb.begin("x", false).dur(3*24*time.Hour+4*time.Hour).s(" ").dur(2*time.Hour+5*time.Minute).s(" ").dur(15*time.Minute).s(" ").
		dur(90*time.Second).s(" ").dur(30*time.Second).s(" ").num(0.500, 3).s(" ").num(2, 3).s(" ").pct(0.934).s(" ").
		money(18.0205, "USD").s(" ").money(0.0222165, "USD").s(" ").mib(256 * mib).s(" ").hourRanges([]int{0, 1, 2, 5, 7, 8, 23})
	var r Result
	tb.begin("b", true).s("blocked")
	tb.finish(&r)
	want := "3d4h 2h5m 15m 1m30s 30s 0.5 2 93.4% 18.02 USD 0.0222 USD 256 MiB 00-02, 05, 07-08, 23"
	if len(r.Reasons) != 1 || r.Reasons[0].Text != want || len(r.Blockers) != 1 || r.Blockers[0] != (Reason{"b", "blocked"}) {
		t.Fatalf("reasons %q blockers %q\nwant %q", r.Reasons, r.Blockers, want)
	}
	if cap(r.Blockers) != 1 {
		t.Fatal("appending to Blockers would overwrite Reasons")
	}
}

// TestServerlessContainerCost checks the container platform's price by
// hand, and that a container saturating a one-core limit is priced at one
// vCPU although history's CPU code for it may decode above 1.
func TestServerlessContainerCost(t *testing.T) {
	th := defaultThresholds(t)
	// A level just under one core whose CPU code decodes above it.
	saturated := 1.0
	for history.MakeMinute(saturated, true).Cores() <= 1 {
		saturated -= 0.001
	}
	for _, cores := range []float64{0.3, saturated} {
		busy := busyLoad
		busy.cores = cores
		const n = 48 * 60
		s := build(th, t0, n, 2, func(i int) (load, bool) {
			if i%360 < 30 { // 30 minute bursts every 6 hours
				return busy, true
			}
			return idleLoad, true
		})
		r := Analyze(withLimits(s, t0.Add(n*time.Minute), 1, 512*mib), defaultAnalysis(), nil)
		if r.Verdict != VerdictServerlessContainer || (cores == saturated && r.CPUMax <= 1) {
			t.Fatalf("%v cores: verdict %s, cpu max %v", cores, r.Verdict, r.CPUMax)
		}
		// 30 of 360 minutes active; 1 vCPU; 200 MiB, raised to the 512
		// MiB tied to one vCPU; 10 accepts per active minute: 2400 in 48 h.
		want := 30.0/360*730*3600*(1*0.000024+0.5*0.0000025) + 2400*730.0/48/1e6*0.40
		if !near(r.ServerlessMonthlyCost, want, 1e-9) || !near(r.IdleRatio7d, 330.0/360, 1e-12) {
			t.Errorf("%v cores: serverless %.10g, want %.10g (idle %v)", cores, r.ServerlessMonthlyCost, want, r.IdleRatio7d)
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

// TestFunctionCPU: a function platform gives CPU in proportion to memory
// and at most 6 vCPUs, so an 8-core burst cannot be a function and a
// 4-core one is priced at the memory that buys 4 cores.
func TestFunctionCPU(t *testing.T) {
	th := defaultThresholds(t)
	const n = 3 * 24 * 60
	now := t0.Add(n * time.Minute)
	bursty := func(cores float64) *history.Series {
		return build(th, t0, n, 2, hourly(3, load{cores: cores, net: 50_000, ws: 256 * mib, accepts: 10}, idleLoad))
	}

	r := Analyze(withLimits(bursty(8), now, 8, 16<<30), defaultAnalysis(), nil)
	if r.Verdict != VerdictServerlessContainer || !slices.Equal(codes(r.Blockers), []string{CodeCPUTooLarge}) {
		t.Fatalf("8 cores: %s %v", r.Verdict, r.Blockers)
	}
	if b := r.Blockers[0].Text; !strings.Contains(b, " cores exceeds the limit of 6 vCPUs (function)") {
		t.Fatalf("8 cores: blocker %q", b)
	}
	// On the container platform: 8 vCPUs, and 4 GiB tied to them.
	want := 0.05*730*3600*(8*0.000024+4*0.0000025) + 10*3*72*730.0/72/1e6*0.40
	if !near(r.ServerlessMonthlyCost, want, 1e-9) {
		t.Fatalf("8 cores on the container platform: %.10g, want %.10g", r.ServerlessMonthlyCost, want)
	}

	r = Analyze(withLimits(bursty(12), now, 12, 16<<30), defaultAnalysis(), nil)
	if b, ok := reason(r.Blockers, CodeCPUTooLarge); !ok || !strings.Contains(b.Text, "6 vCPUs (function) and 8 vCPUs (serverless-container)") {
		t.Fatalf("12 cores: %s %v", r.Verdict, r.Blockers)
	}

	// 4 cores of work: at least 4 × 1,769 MiB, not the 256 MiB working set.
	r = Analyze(withLimits(bursty(4), now, 4, 8<<30), defaultAnalysis(), nil)
	if r.Verdict != VerdictFunction {
		t.Fatalf("4 cores: %s %v", r.Verdict, r.Blockers)
	}
	mem := math.Ceil(min(r.CPUMax, 4) * 1769)
	if mem < 4*1769 {
		t.Fatalf("peak %v", r.CPUMax)
	}
	want = 0.05*730*3600*mem/1024*0.0000166667 + 10*3*72*730.0/72/1e6*0.20
	if !near(r.ServerlessMonthlyCost, want, 1e-9) {
		t.Fatalf("4 cores as a function: %.10g, want %.10g", r.ServerlessMonthlyCost, want)
	}

	// 6 cores fit a function, priced at most at its largest size
	// (10,240 MiB buys a little under 6 × 1,769), where the work runs
	// 6 / (10,240 / 1,769) times as long.
	r = Analyze(withLimits(bursty(6), now, 6, 8<<30), defaultAnalysis(), nil)
	if r.Verdict != VerdictFunction {
		t.Fatalf("6 cores: %s %v", r.Verdict, r.Blockers)
	}
	mem = min(math.Ceil(min(r.CPUMax, 6)*1769), 10240)
	want = 0.05*730*3600*6/(mem/1769)*mem/1024*0.0000166667 + 10*3*72*730.0/72/1e6*0.20
	if !near(r.ServerlessMonthlyCost, want, 1e-9) {
		t.Fatalf("6 cores as a function: %.10g, want %.10g", r.ServerlessMonthlyCost, want)
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

// TestWasteNearLimit: a container using 85–95% of its one-core limit.
// The over-reservation waste is within 1% of what the exact per-minute
// figures give, although history's CPU byte alone is ±5.5%.
func TestWasteNearLimit(t *testing.T) {
	th := defaultThresholds(t)
	const n = 3 * 24 * 60
	level := func(i int) float64 { return 0.85 + 0.001*float64((i*37)%100) }
	s := build(th, t0, n, 1, func(i int) (load, bool) {
		return load{cores: level(i), net: 50_000, ws: 200 * mib}, true
	})
	r := Analyze(withLimits(s, t0.Add(n*time.Minute), 1, 512*mib), defaultAnalysis(), nil)
	levels := make([]float64, n)
	for i := range levels {
		levels[i] = level(i)
	}
	slices.Sort(levels)
	p95 := levels[int(math.Ceil(0.95*n))-1]
	want := ((1-p95)*0.04048 + (512-200)/1024.0*0.004445) * 730
	if !near(r.OverReservationWastePerMonth, want, 0.01) || math.Abs(r.OverReservationWastePerMonth-want) > 0.01*want {
		t.Fatalf("waste %.6f, want %.6f (p95 %.5f, true %.5f)", r.OverReservationWastePerMonth, want, r.CPUP95, p95)
	}
	if math.Abs(r.CPUP95-p95) > 0.0005*p95 || math.Abs(r.CPUMax-levels[n-1]) > 0.0005*levels[n-1] {
		t.Fatalf("p95 %v (true %v), max %v (true %v)", r.CPUP95, p95, r.CPUMax, levels[n-1])
	}
}

// A GPU-granted container pays for its GPUs, idle or not: they are in its
// cost and idle cost, and the reasons say the idleness is inferred.
func TestGPUCost(t *testing.T) {
	th := defaultThresholds(t)
	const n = 2 * 24 * 60
	s := build(th, t0, n, 2, hourly(6, busyLoad, idleLoad))
	cfg := defaultAnalysis()
	in := withLimits(s, t0.Add(n*time.Minute), 1, 1<<30)
	base := Analyze(in, cfg, nil)
	p := cfg.Prices
	if want := 1*p.VCPUHour + 1*p.GiBHour; !near(base.CostPerHour, want, 1e-12) {
		t.Fatalf("without GPU: cost %v, want %v", base.CostPerHour, want)
	}
	if _, ok := reason(base.Reasons, CodeGPUCost); ok {
		t.Fatalf("gpu_cost reason without a GPU: %v", base.Reasons)
	}

	for _, tc := range []struct {
		name    string
		gpus    int
		want    int
		assumed string
	}{
		{"two GPUs from the spec", 2, 2, ""},
		{"count unknown", 0, 1, "1 assumed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := in
			in.GPU, in.GPUs = true, tc.gpus
			r := Analyze(in, cfg, nil)
			if r.Reserved.GPUs != tc.want || r.Reserved.GPUsAssumed != (tc.assumed != "") {
				t.Fatalf("reserved %+v", r.Reserved)
			}
			want := base.CostPerHour + float64(tc.want)*p.GPUHour
			if !near(r.CostPerHour, want, 1e-12) || !near(r.IdleCostPerHour, want*r.IdleRatio7d, 1e-12) ||
				!near(r.IdleCostPerMonth, want*r.IdleRatio7d*730, 1e-12) || !near(r.CurrentMonthlyCost, want*730, 1e-12) {
				t.Fatalf("cost %v idle %v/h %v/month current %v, want cost %v", r.CostPerHour, r.IdleCostPerHour, r.IdleCostPerMonth, r.CurrentMonthlyCost, want)
			}
			// The GPU's use is not measured, so it is no over-reservation.
			if !near(r.OverReservationWastePerMonth, base.OverReservationWastePerMonth, 1e-12) {
				t.Fatalf("waste %v, want %v", r.OverReservationWastePerMonth, base.OverReservationWastePerMonth)
			}
			g, ok := reason(r.Reasons, CodeGPUCost)
			if !ok || !strings.Contains(g.Text, "inferred") || !strings.Contains(g.Text, "no GPU utilisation") ||
				!strings.Contains(g.Text, "0.3500 USD an hour") || (tc.assumed != "" && !strings.Contains(g.Text, tc.assumed)) {
				t.Fatalf("reasons %v", r.Reasons)
			}
		})
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

func TestRangeTexts(t *testing.T) {
	var tb textBuilder
	tb.moneyRange(0.99114, 1.6812, "USD").s("; ").moneyRange(1.9161, 1.9249, "USD").s("; ").
		durRange(36*time.Hour, 73*time.Hour).s("; ").durRange(0, 0)
	if got, want := string(tb.b), "0.9911 USD to 1.68 USD; 1.92 USD; 1d12h to 3d1h; 0s"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
