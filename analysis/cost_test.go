package analysis

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

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
