package analysis

import (
	"math"
	"time"

	"github.com/fleetscope/fleetscope/config"
)

// This file holds the rules: from a container's figures to a decision, a
// value with codes and numbers and no text. text.go states a decision in
// words; cost.go holds the arithmetic of money.

// facts are the figures decide works from, computed by Analyze.
type facts struct {
	in           *Input
	cfg          *config.AnalysisConfig
	r            *Result
	platforms    []config.PlatformConfig // compared, functions first
	idle         float64                 // IdleRatio7d, 0 without data
	requests     float64                 // per month
	requestsFrom countedFrom
	cpuSeconds   float64 // per month
	busySeconds  float64 // per month
	latency      bool
	diskFloor    float64 // bytes per second
	writeRate    float64 // bytes per active second; 0 below statefulMinWriteBytes
}

// countedFrom says what requests were counted from.
type countedFrom uint8

const (
	fromAccepts countedFrom = iota
	fromRuns
	fromBursts
)

// Thresholds of the restarting and listener blockers.
const (
	restartingDownShare = 0.1 // of the time observed
	alwaysListening     = 0.9 // of the minutes with data
)

// platformID indexes the platforms verdicts compare
// (config.PlatformsConfig.Candidates): functions first, since a function
// is the more radical change and a serverless container the fallback.
type platformID uint8

// noPlatform is no platform: the verdict is not a serverless one.
const noPlatform platformID = config.MaxPlatforms

// platformVerdict is the verdict of a move to a platform of kind.
func platformVerdict(kind string) Verdict {
	if kind == config.KindFunction {
		return VerdictFunction
	}
	return VerdictServerlessContainer
}

// fit is how the container fits one platform.
type fit struct {
	// blocked holds the blockers' codes; the costBlockers are added
	// against the current cost, and only to a platform nothing else rules
	// out.
	blocked codeSet
	// cost is the monthly cost at the high end of the billed time, costLow
	// at its low end; vcpus the speed the low end assumes.
	cost, costLow   float64
	secLow, secHigh float64 // billed seconds per month
	vcpus           float64
}

// decision is what the rules conclude about one container.
type decision struct {
	verdict Verdict
	// platform is the verdict's, noPlatform unless the verdict is function
	// or serverless-container; priced is the one ServerlessMonthlyCost is
	// priced on: the verdict's, else the cheapest ruled out by money
	// alone, else noPlatform.
	platform, priced platformID
	// n is the number of platforms compared (facts.platforms), function
	// which of them are functions, fits how the container fits each.
	n        platformID
	function [config.MaxPlatforms]bool
	fits     [config.MaxPlatforms]fit
	// longest and peakCPU are what a platform's duration and vCPU limits
	// must hold (see longestBurst and peakCPU).
	longest time.Duration
	peakCPU float64
	// overCPU and overMemory are the reservations that leave at least
	// rightsize_ratio of themselves unused at the p95.
	overCPU, overMemory bool
	// scheduleHours are the hours a scale-to-zero-schedule stops the
	// container a week, scheduleSaving what that saves a month; 0 for
	// another verdict.
	scheduleHours  int
	scheduleSaving float64
	score          int
	// reasons are the codes of the reasons stated beside the blockers.
	reasons codeSet
}

// explains reports whether p's blockers explain the verdict: those of
// the platforms of a kind tried before the verdict's, so nothing for a
// function, why no function for a serverless container, and every
// platform's otherwise.
func (d *decision) explains(p platformID) bool {
	return d.platform == noPlatform || d.function[p] && !d.function[d.platform]
}

// blockers are the codes of the blockers the decision states.
func (d *decision) blockers() codeSet {
	var s codeSet
	for p := range d.n {
		if d.explains(p) {
			s |= d.fits[p].blocked
		}
	}
	return s
}

// blockedBy gives the platforms whose blocker c the decision states, in
// order: ps[:n].
func (d *decision) blockedBy(c reasonCode) (ps [config.MaxPlatforms]platformID, n int) {
	for p := range d.n {
		if d.explains(p) && d.fits[p].blocked.has(c) {
			ps[n] = p
			n++
		}
	}
	return ps, n
}

// decide applies the rules of the package documentation to fa.
func decide(fa *facts) decision {
	r, cfg := fa.r, fa.cfg
	d := decision{platform: noPlatform, priced: noPlatform, longest: longestBurst(r), peakCPU: peakCPU(r), n: platformID(len(fa.platforms))}
	for p := range fa.platforms {
		d.function[p] = fa.platforms[p].Kind == config.KindFunction
		d.fits[p] = evaluate(fa, &d, &fa.platforms[p])
	}
	insufficient := r.ObservedFor == 0 || r.ObservedFor < cfg.MinObservation
	d.choose(r.CurrentMonthlyCost, cfg.MinSavingPerMonth, !insufficient)
	d.overCPU, d.overMemory = overReservedParts(fa)
	over := d.overCPU || d.overMemory
	switch {
	case insufficient:
		d.verdict = VerdictInsufficientData
		d.reasons.add(codeInsufficientData)
	case d.platform != noPlatform:
		d.verdict = platformVerdict(fa.platforms[d.platform].Kind)
		d.score = score(r, r.CurrentMonthlyCost-d.fits[d.platform].cost, &fa.platforms[d.platform], cfg.MinSavingPerMonth)
		d.reasons.add(codeIdleRatioHigh)
		d.reasons.add(codeShortBursts)
		d.reasons.add(codeCheaper)
		if r.ListeningRatio >= alwaysListening {
			d.reasons.add(codeListener)
		}
	case schedulable(fa) && scheduleSaving(r) >= cfg.MinSavingPerMonth:
		d.verdict = VerdictScaleToZero
		d.scheduleHours = r.Sleep.HoursPerWeek()
		d.scheduleSaving = scheduleSaving(r)
		// Idle in every hour, it needs no schedule: it is unused.
		if d.scheduleHours == 7*24 {
			d.reasons.add(codeUnused)
		} else {
			d.reasons.add(codeAlwaysIdleHours)
		}
		if over && r.OverReservationWastePerMonth >= cfg.MinSavingPerMonth {
			d.reasons.add(codeOverReserved)
		}
	case over && r.OverReservationWastePerMonth >= cfg.MinSavingPerMonth:
		d.verdict = VerdictRightsize
		d.reasons.add(codeOverReserved)
	case over || schedulable(fa):
		// A change would save something, but less than a suggestion must.
		d.verdict = VerdictKeep
		d.reasons.add(codeBelowMinSaving)
	default:
		d.verdict = VerdictKeep
		d.reasons.add(codeReservationUsed)
	}
	if r.Reserved.GPUs > 0 {
		d.reasons.add(codeGPUCost)
	}
	if r.Restarts > 0 || r.DownFor > 0 {
		d.reasons.add(codeRestarts)
	}
	if r.Replay.Harmful() && d.verdict != VerdictInsufficientData {
		d.reasons.add(codeRefusedConnections)
	}
	return d
}

// choose rules out, by money, the platforms nothing else rules out, then
// picks the verdict's platform (when a verdict is allowed: the cheapest of
// the first kind with a platform that fits) and the one the serverless
// cost is priced on.
func (d *decision) choose(current, minSaving float64, allowed bool) {
	for p := range d.n {
		f := &d.fits[p]
		switch {
		case f.blocked != 0:
		case f.cost >= current:
			f.blocked.add(codeNotCheaper)
		case current-f.cost < minSaving:
			f.blocked.add(codeSavingTooSmall)
		}
		if !allowed || f.blocked != 0 {
			continue
		}
		if d.platform == noPlatform || d.function[p] == d.function[d.platform] && f.cost < d.fits[d.platform].cost {
			d.platform = p
		}
	}
	d.priced = d.platform
	if d.priced != noPlatform {
		return
	}
	for p := range d.n {
		f := &d.fits[p]
		if f.blocked&^costBlockers == 0 && (d.priced == noPlatform || f.cost < d.fits[d.priced].cost) {
			d.priced = p
		}
	}
}

// fill writes the decision's verdict, score, platform and serverless cost
// into r.
func (d *decision) fill(r *Result, ps []config.PlatformConfig) {
	r.Verdict, r.Score = d.verdict, d.score
	if d.platform != noPlatform {
		r.Platform, r.PlatformSource = ps[d.platform].Name, ps[d.platform].Source
		r.PlatformVCPUs, r.PlatformMemoryMiB = size(r, &ps[d.platform])
	}
	if d.priced != noPlatform {
		f := &d.fits[d.priced]
		r.ServerlessMonthlyCost, r.ServerlessMonthlyCostLow = f.cost, f.costLow
		r.BilledSecondsLow, r.BilledSecondsHigh = f.secLow, f.secHigh
		r.SavingsPerMonth = r.CurrentMonthlyCost - f.cost
	}
}

// evaluate gives the container's fit to p, but for the costBlockers.
func evaluate(fa *facts, d *decision, p *config.PlatformConfig) fit {
	r := fa.r
	var b codeSet
	if fa.in.GPU && !p.GPU {
		b.add(codeGPU)
	}
	if fa.latency {
		b.add(codeLatencyCritical)
	}
	if fa.in.Sandbox {
		b.add(codePodSandbox)
	}
	if p.MaxDuration > 0 && d.longest > p.MaxDuration {
		b.add(codeBurstTooLong)
	}
	if r.WorkingSetMax > p.MaxMemoryMiB<<20 {
		b.add(codeMemoryTooLarge)
	}
	if d.peakCPU > p.MaxVCPUs {
		b.add(codeCPUTooLarge)
	}
	if fa.writeRate > fa.diskFloor {
		b.add(codeLocalDiskWrites)
	}
	if restarting(r) {
		b.add(codeRestarting)
	}
	if r.ListeningRatio >= alwaysListening && !p.Listen {
		b.add(codeListener)
	}
	if r.ObservedFor == 0 || (fa.idle < fa.cfg.CandidateIdleRatio && !r.DutyCycled) {
		b.add(codeNotIdleEnough)
	}
	f := fit{blocked: b}
	serverlessCost(fa, p, &f)
	return f
}

// schedulable reports whether a schedule could stop the container: enough
// hours of the week always idle (see SleepSchedule), nothing that rules a
// stop out, and no connection the replay of the week says it would have
// refused.
func schedulable(fa *facts) bool {
	r := fa.r
	return r.Sleep.Enough() && !fa.in.GPU && !fa.latency && !fa.in.Sandbox && !restarting(r) &&
		!r.Replay.Harmful()
}

// scheduleSaving is what stopping the container in its always-idle hours
// of the week saves a month.
func scheduleSaving(r *Result) float64 {
	return r.Sleep.SavingPerMonth(r.CostPerHour)
}

// restarting reports whether the container restarted and was down for a
// good part of the time observed.
func restarting(r *Result) bool {
	return r.Restarts > 0 && r.ObservedFor > 0 && float64(r.DownFor) >= restartingDownShare*float64(r.ObservedFor)
}

// longestBurst is what a platform's duration limit must hold: the longest
// burst, or for a duty-cycled container the longest run of busy samples.
func longestBurst(r *Result) time.Duration {
	if r.DutyCycled {
		return r.LongestBusyRun
	}
	return r.Bursts.Max
}

// peakCPU is the CPU a platform must provide: CPUMax or the peak of a
// sample, capped at a CPU limit since a limited container never used more
// than its limit, whatever the rounding of history's CPU codes says.
func peakCPU(r *Result) float64 {
	peak := max(r.CPUMax, r.PeakCores)
	if r.Reserved.CPUSource == SourceLimit {
		peak = min(peak, r.Reserved.CPUCores)
	}
	return peak
}

// overReservedParts reports which reserved figures, CPU and memory, leave
// at least rightsize_ratio of themselves unused at the p95.
func overReservedParts(fa *facts) (cpu, mem bool) {
	r, ratio := fa.r, fa.cfg.RightsizeRatio
	res := &r.Reserved
	if res.CPUSource != SourceObserved && res.CPUCores > 0 {
		cpu = res.CPUCores-r.CPUP95 >= ratio*res.CPUCores
	}
	if res.MemorySource != SourceObserved && res.MemoryBytes > r.WorkingSetP95 {
		mem = float64(res.MemoryBytes-r.WorkingSetP95) >= ratio*float64(res.MemoryBytes)
	}
	return cpu, mem
}

// score rates a serverless verdict on p that saves saving a month; see
// the package documentation. minSaving is min_saving_per_month.
func score(r *Result, saving float64, p *config.PlatformConfig, minSaving float64) int {
	saved := 0.0
	if r.CurrentMonthlyCost > 0 {
		saved = clamp01(saving / r.CurrentMonthlyCost)
	}
	money := 1.0
	if minSaving > 0 {
		money = clamp01(saving / (saving + 10*minSaving))
	}
	idle, burst := r.IdleRatio7d, r.Bursts.P95
	if r.DutyCycled {
		idle, burst = 1-r.BusyRatio, r.LongestBusyRun
	}
	fit := 1.0
	if p.MaxDuration > 0 {
		fit = 1 - clamp01(float64(burst)/float64(p.MaxDuration))
	}
	s := int(math.Round(100 * idle * money * (0.5 + 0.5*saved) * (0.75 + 0.25*fit)))
	return min(max(s, 1), 100)
}

func clamp01(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return min(max(v, 0), 1)
}
