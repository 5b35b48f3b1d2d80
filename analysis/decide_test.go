package analysis

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
)

// The tests of this file set a container's figures by hand, as the scan
// of its window would leave them, and check the decision by its codes and
// numbers; the texts are checked by the tests that build series.

// The platforms of the configuration without a table: its function, then
// its container platform.
const (
	fnPlatform platformID = 0
	ctPlatform platformID = 1
)

// everyDay is a sleep schedule of the same hours on every day, in UTC.
func everyDay(hours []int) SleepSchedule {
	return SleepSchedule{Zone: "UTC", Workdays: HourSetOf(hours), Weekend: HourSetOf(hours)}
}

// figures are what the scan of a window yields.
type figures struct {
	valid, idle int // minutes with data over 7 days, and idle ones
	r           Result
	tot         history.Totals
}

// baseFigures: 3 days observed, idle 95% of the minutes in 72 bursts
// (p95 5 minutes, longest 10) at 0.3 cores, 200 MiB at the p95, 250 at
// most, 2160 connections accepted.
func baseFigures() figures {
	return figures{
		valid: 3 * 1440, idle: 3*1440 - 216,
		r: Result{
			Bursts: Bursts{Count: 72, P50: 2 * time.Minute, P95: 5 * time.Minute, Max: 10 * time.Minute},
			CPUP50: 0.001, CPUP95: 0.3, CPUMax: 0.4, WorkingSetP95: 200 * mib, WorkingSetMax: 250 * mib,
		},
		tot: history.Totals{
			SampledSeconds: 3 * 86400, BusySeconds: 216 * 60, BusyCPUSeconds: 216 * 60 * 0.3,
			TCPAccepts: 2160, BusyRuns: 72, PeakCores: 0.5,
		},
	}
}

// decideOn concludes the analysis of in from f.
func decideOn(in Input, cfg config.AnalysisConfig, f figures) (Result, decision) {
	r := f.r
	var ms minuteStats
	ms.valid[2], ms.idle[2] = f.valid, f.idle
	r.ObservedFor = time.Duration(f.valid) * time.Minute
	r.IdleRatio7d = ratio(f.idle, f.valid)
	var sc Scratch
	d := conclude(&in, &cfg, &r, &ms, &f.tot, &sc)
	return r, d
}

func set(cs ...reasonCode) codeSet {
	var s codeSet
	for _, c := range cs {
		s.add(c)
	}
	return s
}

// codesOf is the set of the codes of rs; ok is false if one is unknown
// or repeated.
func codesOf(rs []Reason) (s codeSet, ok bool) {
	for _, r := range rs {
		c := slices.Index(codeNames[:], r.Code)
		if c < 0 || s.has(reasonCode(c)) {
			return s, false
		}
		s.add(reasonCode(c))
	}
	return s, true
}

// checkStated checks that r states exactly the codes of d, in their
// order, and carries its verdict and serverless figures.
func checkStated(t *testing.T, r *Result, d *decision) {
	t.Helper()
	b, okB := codesOf(r.Blockers)
	rs, okR := codesOf(r.Reasons)
	if !okB || !okR || b != d.blockers() || rs != d.reasons {
		t.Errorf("stated blockers %v reasons %v, decided %b and %b", codes(r.Blockers), codes(r.Reasons), d.blockers(), d.reasons)
	}
	for _, l := range [][]Reason{r.Blockers, r.Reasons} {
		if !slices.IsSortedFunc(l, func(a, b Reason) int {
			return slices.Index(codeNames[:], a.Code) - slices.Index(codeNames[:], b.Code)
		}) {
			t.Errorf("reasons out of the codes' order: %v", codes(l))
		}
	}
	if r.Verdict != d.verdict || r.Score != d.score {
		t.Errorf("result %s %d, decision %s %d", r.Verdict, r.Score, d.verdict, d.score)
	}
	if d.priced != noPlatform && r.SavingsPerMonth != r.CurrentMonthlyCost-d.fits[d.priced].cost {
		t.Errorf("saving %v, decision priced at %v", r.SavingsPerMonth, d.fits[d.priced].cost)
	}
}

// TestDecisionCodesAndNumbers checks the rules' verdicts, platforms,
// blockers per platform, costs, over-reserved parts and schedules.
func TestDecisionCodesAndNumbers(t *testing.T) {
	cfg := defaultAnalysis()
	in := withLimits(nil, t0, 1, 512*mib)
	// The month scaled from 3 days sampled: 21,900 requests, 39,420 CPU
	// seconds and 131,400 busy seconds.
	const scale = 730.0 / 72
	current := (1*0.04048 + 0.5*0.004445) * 730
	// The function platform sizes 0.5 cores at 885 MiB (1,769 MiB a
	// vCPU), billed for the busy seconds; the container platform one vCPU
	// at 512 MiB.
	fnCost := 216*60*scale*(885.0/1024*0.0000166667) + 2160*scale/1e6*0.20
	ctCost := 216*60*scale*(0.000024+0.5*0.0000025) + 2160*scale/1e6*0.40

	r, d := decideOn(in, cfg, baseFigures())
	checkStated(t, &r, &d)
	if d.verdict != VerdictFunction || d.platform != fnPlatform || d.priced != fnPlatform || d.blockers() != 0 ||
		d.fits[fnPlatform].blocked != 0 || d.fits[ctPlatform].blocked != 0 ||
		d.reasons != set(codeIdleRatioHigh, codeShortBursts, codeCheaper) {
		t.Fatalf("function: %+v", d)
	}
	if !near(r.CurrentMonthlyCost, current, 1e-12) || !near(d.fits[fnPlatform].cost, fnCost, 1e-9) || !near(d.fits[ctPlatform].cost, ctCost, 1e-9) {
		t.Errorf("costs now %v, function %v, container %v; want %v, %v, %v", r.CurrentMonthlyCost, d.fits[fnPlatform].cost, d.fits[ctPlatform].cost, current, fnCost, ctCost)
	}
	if f := d.fits[fnPlatform]; !near(f.secHigh, 131400, 1e-12) || !near(f.vcpus, 885.0/1769, 1e-12) || !near(f.secLow, 39420/(885.0/1769), 1e-12) {
		t.Errorf("function billed %v to %v s at %v vCPUs", f.secLow, f.secHigh, f.vcpus)
	}
	saved := (current - fnCost) / current
	money := (current - fnCost) / (current - fnCost + 10)
	if want := int(0.5 + 100*0.95*money*(0.5+0.5*saved)*(0.75+0.25*(1-5.0/15))); d.score != want {
		t.Errorf("score %d, want %d", d.score, want)
	}
	if d.longest != 10*time.Minute || d.peakCPU != 0.5 || !d.overCPU || !d.overMemory || d.scheduleHours != 0 {
		t.Errorf("operands: longest %v, peak %v, over %v %v, schedule %d", d.longest, d.peakCPU, d.overCPU, d.overMemory, d.scheduleHours)
	}

	for _, tc := range []struct {
		name     string
		change   func(*Input, *figures)
		cfg      func(*config.AnalysisConfig)
		verdict  Verdict
		platform platformID
		fn, ct   codeSet // the platforms' blockers
		reasons  codeSet
		check    func(*Result, *decision) bool
	}{
		{
			name:    "a burst too long for a function",
			change:  func(_ *Input, f *figures) { f.r.Bursts.Max = 30 * time.Minute },
			verdict: VerdictServerlessContainer, platform: ctPlatform,
			fn: set(codeBurstTooLong), reasons: set(codeIdleRatioHigh, codeShortBursts, codeCheaper),
			check: func(r *Result, d *decision) bool {
				return d.longest == 30*time.Minute && d.blockers() == set(codeBurstTooLong) && near(r.SavingsPerMonth, current-ctCost, 1e-9)
			},
		},
		{
			// Active in half its minutes, busy in 5% of its samples: the
			// longest run of busy samples is what must fit.
			name: "duty-cycled, runs too long for a function",
			change: func(_ *Input, f *figures) {
				f.idle = f.valid / 2
				f.tot.LongestBusyRun = 20 * time.Minute
			},
			verdict: VerdictServerlessContainer, platform: ctPlatform,
			fn: set(codeBurstTooLong), reasons: set(codeIdleRatioHigh, codeShortBursts, codeCheaper),
			check: func(r *Result, d *decision) bool { return r.DutyCycled && d.longest == 20*time.Minute },
		},
		{
			name:    "an always-on listener",
			change:  func(_ *Input, f *figures) { f.tot.ListenMinutes = f.valid },
			verdict: VerdictServerlessContainer, platform: ctPlatform,
			fn: set(codeListener), reasons: set(codeIdleRatioHigh, codeShortBursts, codeCheaper, codeListener),
		},
		{
			name: "too large for a function",
			change: func(in *Input, f *figures) {
				*in = withLimits(nil, t0, 8, 16<<30)
				f.r.CPUMax, f.r.WorkingSetMax = 7, 11<<30
			},
			verdict: VerdictServerlessContainer, platform: ctPlatform,
			fn: set(codeMemoryTooLarge, codeCPUTooLarge), reasons: set(codeIdleRatioHigh, codeShortBursts, codeCheaper),
			check: func(_ *Result, d *decision) bool { return d.peakCPU == 7 },
		},
		{
			name:    "a GPU",
			change:  func(in *Input, _ *figures) { in.GPU = true },
			verdict: VerdictRightsize, platform: noPlatform,
			fn: set(codeGPU), ct: set(codeGPU), reasons: set(codeOverReserved, codeGPUCost),
			check: func(r *Result, d *decision) bool {
				return r.Reserved.GPUs == 1 && r.Reserved.GPUsAssumed && near(r.CurrentMonthlyCost, current+0.35*730, 1e-12) && d.priced == noPlatform
			},
		},
		{
			name: "a latency-critical pod sandbox",
			change: func(in *Input, _ *figures) {
				in.Sandbox, in.Labels = true, map[string]string{LabelLatencyCritical: "1"}
			},
			verdict: VerdictRightsize, platform: noPlatform,
			fn: set(codePodSandbox, codeLatencyCritical), ct: set(codePodSandbox, codeLatencyCritical), reasons: set(codeOverReserved),
		},
		{
			name: "idle at night",
			change: func(_ *Input, f *figures) {
				f.idle, f.tot.BusySeconds = f.valid/2, f.tot.SampledSeconds/2
				f.r.IdleHoursOfDay = []int{0, 1, 2, 3, 4, 5, 22, 23}
				f.r.Sleep = everyDay(f.r.IdleHoursOfDay)
			},
			verdict: VerdictScaleToZero, platform: noPlatform,
			fn: set(codeNotIdleEnough), ct: set(codeNotIdleEnough), reasons: set(codeAlwaysIdleHours, codeOverReserved),
			check: func(r *Result, d *decision) bool {
				return d.scheduleHours == 56 && near(d.scheduleSaving, current*8/24, 1e-12) && d.overCPU && d.overMemory &&
					near(r.OverReservationWastePerMonth, (0.7*0.04048+312.0/1024*0.004445)*730, 1e-12)
			},
		},
		{
			// Stopping it 8 hours a day saves 10.39 a month, rightsizing
			// 21.67: only the second is worth 20.
			name: "idle at night, a schedule worth too little",
			change: func(_ *Input, f *figures) {
				f.idle, f.tot.BusySeconds = f.valid/2, f.tot.SampledSeconds/2
				f.r.IdleHoursOfDay = []int{0, 1, 2, 3, 4, 5, 22, 23}
				f.r.Sleep = everyDay(f.r.IdleHoursOfDay)
			},
			cfg:     func(c *config.AnalysisConfig) { c.MinSavingPerMonth = 20 },
			verdict: VerdictRightsize, platform: noPlatform,
			fn: set(codeNotIdleEnough), ct: set(codeNotIdleEnough), reasons: set(codeOverReserved),
		},
		{
			name: "idle at night, nothing worth doing",
			change: func(_ *Input, f *figures) {
				f.idle, f.tot.BusySeconds = f.valid/2, f.tot.SampledSeconds/2
				f.r.IdleHoursOfDay = []int{0, 1, 2, 3, 4, 5, 22, 23}
				f.r.Sleep = everyDay(f.r.IdleHoursOfDay)
			},
			cfg:     func(c *config.AnalysisConfig) { c.MinSavingPerMonth = 50 },
			verdict: VerdictKeep, platform: noPlatform,
			fn: set(codeNotIdleEnough), ct: set(codeNotIdleEnough), reasons: set(codeBelowMinSaving),
			check: func(r *Result, _ *decision) bool {
				txt := reasonTextOf(r.Reasons, codeBelowMinSaving)
				return strings.Contains(txt, "56 always-idle hours a week would save "+moneyText(current*8/24)) &&
					strings.Contains(txt, "rightsizing it would save "+moneyText(r.OverReservationWastePerMonth)) && strings.Contains(txt, "less than the "+moneyText(50))
			},
		},
		{
			// Idle in every hour and keeping state: no platform, and no
			// schedule either: it is unused.
			name: "idle all day, writing to disk",
			change: func(_ *Input, f *figures) {
				f.tot.DiskWriteBytes = 1 << 30
				f.r.IdleHoursOfDay = make([]int, 24)
				for h := range f.r.IdleHoursOfDay {
					f.r.IdleHoursOfDay[h] = h
				}
				f.r.Sleep = everyDay(f.r.IdleHoursOfDay)
			},
			verdict: VerdictScaleToZero, platform: noPlatform,
			fn: set(codeLocalDiskWrites), ct: set(codeLocalDiskWrites), reasons: set(codeUnused, codeOverReserved),
			check: func(r *Result, d *decision) bool {
				return d.scheduleHours == 7*24 && near(d.scheduleSaving, current, 1e-12) && strings.Contains(reasonTextOf(r.Reasons, codeUnused), "remove it")
			},
		},
		{
			name: "restarting, idle at night",
			change: func(_ *Input, f *figures) {
				f.tot.Restarts, f.tot.DownMinutes = 3, f.valid/5
				f.r.IdleHoursOfDay = []int{0, 1, 2, 3, 4, 5, 22, 23}
				f.r.Sleep = everyDay(f.r.IdleHoursOfDay)
			},
			verdict: VerdictRightsize, platform: noPlatform,
			fn: set(codeRestarting), ct: set(codeRestarting), reasons: set(codeOverReserved, codeRestarts),
		},
		{
			name: "busy, memory over-reserved",
			change: func(_ *Input, f *figures) {
				f.idle, f.tot.BusySeconds = f.valid/2, f.tot.SampledSeconds/2
				f.r.CPUP95 = 0.8
			},
			verdict: VerdictRightsize, platform: noPlatform,
			fn: set(codeNotIdleEnough), ct: set(codeNotIdleEnough), reasons: set(codeOverReserved),
			check: func(_ *Result, d *decision) bool { return !d.overCPU && d.overMemory },
		},
		{
			name: "busy, reservation used",
			change: func(_ *Input, f *figures) {
				f.idle, f.tot.BusySeconds = f.valid/2, f.tot.SampledSeconds/2
				f.r.CPUP95, f.r.WorkingSetP95 = 0.8, 400*mib
			},
			verdict: VerdictKeep, platform: noPlatform,
			fn: set(codeNotIdleEnough), ct: set(codeNotIdleEnough), reasons: set(codeReservationUsed),
			check: func(_ *Result, d *decision) bool { return !d.overCPU && !d.overMemory },
		},
		{
			// Two hours observed: no verdict, though the function is
			// priced, as the cheapest platform nothing rules out.
			name:    "insufficient data",
			change:  func(_ *Input, f *figures) { f.valid, f.idle = 120, 114 },
			verdict: VerdictInsufficientData, platform: noPlatform, reasons: set(codeInsufficientData),
			check: func(r *Result, d *decision) bool { return d.priced == fnPlatform && r.Platform == "" },
		},
		{
			// A reservation of 0.008 cores and 128 MiB costs 0.64 a
			// month; the function, sized at the limit's 0.008 cores,
			// would cost more, billed for the work flat out at the
			// 0.14 vCPUs of 250 MiB.
			name:    "not cheaper",
			change:  func(in *Input, _ *figures) { *in = withLimits(nil, t0, 0.008, 128*mib) },
			verdict: VerdictKeep, platform: noPlatform,
			fn: set(codeNotCheaper), ct: set(codeNotCheaper), reasons: set(codeReservationUsed),
			check: func(r *Result, d *decision) bool {
				f := d.fits[fnPlatform]
				return d.priced == fnPlatform && r.SavingsPerMonth < 0 && d.peakCPU == 0.008 &&
					near(f.vcpus, 250.0/1769, 1e-12) && near(f.secHigh, 39420/(250.0/1769), 1e-12)
			},
		},
		{
			name:   "saving too small",
			change: func(*Input, *figures) {},
			cfg:    func(c *config.AnalysisConfig) { c.MinSavingPerMonth = 50 },
			// Rightsizing would save 21.67 a month, below the 50 too.
			verdict: VerdictKeep, platform: noPlatform,
			fn: set(codeSavingTooSmall), ct: set(codeSavingTooSmall), reasons: set(codeBelowMinSaving),
			check: func(r *Result, d *decision) bool {
				return d.priced == fnPlatform && near(r.SavingsPerMonth, current-fnCost, 1e-9)
			},
		},
		{
			name:    "writes to local disk while active",
			change:  func(_ *Input, f *figures) { f.tot.DiskWriteBytes = 1 << 30 },
			verdict: VerdictRightsize, platform: noPlatform,
			fn: set(codeLocalDiskWrites), ct: set(codeLocalDiskWrites), reasons: set(codeOverReserved),
		},
		{
			name:    "restarted briefly",
			change:  func(_ *Input, f *figures) { f.tot.Restarts, f.tot.DownMinutes = 1, 5 },
			verdict: VerdictFunction, platform: fnPlatform,
			reasons: set(codeIdleRatioHigh, codeShortBursts, codeCheaper, codeRestarts),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, f, cfg := in, baseFigures(), cfg
			tc.change(&in, &f)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			r, d := decideOn(in, cfg, f)
			checkStated(t, &r, &d)
			if d.verdict != tc.verdict || d.platform != tc.platform || d.fits[fnPlatform].blocked != tc.fn ||
				d.fits[ctPlatform].blocked != tc.ct || d.reasons != tc.reasons {
				t.Fatalf("verdict %s on %d, blockers %b and %b, reasons %b; want %s on %d, %b and %b, %b",
					d.verdict, d.platform, d.fits[fnPlatform].blocked, d.fits[ctPlatform].blocked, d.reasons,
					tc.verdict, tc.platform, tc.fn, tc.ct, tc.reasons)
			}
			if tc.check != nil && !tc.check(&r, &d) {
				t.Errorf("numbers: %+v\n%+v", d, r)
			}
		})
	}
}

// TestStatedAsDecided: over the benchmark's fleet, and with the GPU and
// sandbox inputs flipped, every Result states exactly its decision's
// codes in their order.
func TestStatedAsDecided(t *testing.T) {
	cfg := defaultAnalysis()
	var sc Scratch
	for i, in := range benchFleet(t)[:300] {
		in.Sandbox = i%11 == 0
		r, d := analyze(&in, &cfg, &sc)
		checkStated(t, &r, &d)
	}
}

// TestCodeNames: every code has its exported name, once.
func TestCodeNames(t *testing.T) {
	seen := map[string]bool{}
	for c := range numCodes {
		if n := c.String(); n == "" || seen[n] {
			t.Errorf("code %d: name %q", c, n)
		}
		seen[c.String()] = true
	}
}
