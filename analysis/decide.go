package analysis

import (
	"math"
	"time"

	"github.com/fleetscope/fleetscope/config"
)

// facts are the figures decide works from, computed by Analyze.
type facts struct {
	in           *Input
	cfg          *config.AnalysisConfig
	r            *Result
	idle         float64 // IdleRatio7d, 0 without data
	requests     float64 // per month
	requestsFrom string  // what requests were counted from
	cpuSeconds   float64 // per month
	busySeconds  float64 // per month
	latency      bool
	diskFloor    float64 // bytes per second
	writeRate    float64 // bytes per active second; 0 below statefulMinWriteBytes
}

// blockers is a set of reasons that rule a platform out.
type blockers uint16

const (
	blockGPU blockers = 1 << iota
	blockLatency
	blockBurst
	blockMemory
	blockDisk
	blockIdle
	blockCost
	blockSaving
	blockSandbox
	blockCPU
	blockRestarting
	blockListener
)

// Thresholds of the restarting and listener blockers.
const (
	restartingDownShare = 0.1 // of the time observed
	alwaysListening     = 0.9 // of the minutes with data
)

// What requests were counted from.
const (
	fromAccepts = "accepted connections"
	fromRuns    = "runs of work"
	fromBursts  = "bursts"
)

// platform is one serverless platform's fit for the container.
type platform struct {
	cfg *config.PlatformConfig
	// blocked holds the blockers; blockCost and blockSaving are added by
	// decide, against the current cost.
	blocked blockers
	// cost is the monthly cost at the high end of the billed time, costLow
	// at its low end; vcpus the speed the low end assumes.
	cost, costLow   float64
	secLow, secHigh float64 // billed seconds per month
	vcpus           float64
}

func evaluate(fa *facts, p *config.PlatformConfig) platform {
	r := fa.r
	var b blockers
	if fa.in.GPU && !p.GPU {
		b |= blockGPU
	}
	if fa.latency {
		b |= blockLatency
	}
	if fa.in.Sandbox {
		b |= blockSandbox
	}
	if longestBurst(r) > p.MaxDuration {
		b |= blockBurst
	}
	if r.WorkingSetMax > p.MaxMemoryMiB<<20 {
		b |= blockMemory
	}
	if peakCPU(r) > p.MaxVCPUs {
		b |= blockCPU
	}
	if fa.writeRate > fa.diskFloor {
		b |= blockDisk
	}
	if restarting(r) {
		b |= blockRestarting
	}
	if r.ListeningRatio >= alwaysListening && !p.Listen {
		b |= blockListener
	}
	if r.ObservedFor == 0 || (fa.idle < fa.cfg.CandidateIdleRatio && !r.DutyCycled) {
		b |= blockIdle
	}
	pl := platform{cfg: p, blocked: b}
	serverlessCost(fa, &pl)
	return pl
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

// size is what the container would be sized at on p: vCPUs and MiB.
func size(r *Result, p *config.PlatformConfig) (vcpus float64, mib uint64) {
	vcpus = peakCPU(r)
	if step := p.VCPUStep; step > 0 {
		vcpus = max(math.Ceil(vcpus/step), 1) * step
	}
	mib = (r.WorkingSetMax + 1<<20 - 1) >> 20
	// The memory that comes with the CPU the work needs: a function at
	// 128 MB gets a fourteenth of a core, so 4 cores of work run 14 times
	// as long there, and are billed as such; sizing memory to the CPU
	// prices that work as the platform would.
	if perVCPU := vcpus * p.MemoryMiBPerVCPU; perVCPU > float64(mib) {
		mib = uint64(math.Ceil(perVCPU))
	}
	mib = max(mib, p.MinMemoryMiB)
	if step := p.MemoryStepMiB; step > 0 {
		mib = (mib + step - 1) / step * step
	}
	// A working set above the maximum is a blocker of its own; CPU above
	// what the largest size buys is priced at the largest size.
	if r.WorkingSetMax <= p.MaxMemoryMiB<<20 {
		mib = min(mib, p.MaxMemoryMiB)
	}
	return vcpus, mib
}

// serverlessCost fills pl's billed time and monthly costs, low and high.
func serverlessCost(fa *facts, pl *platform) {
	p := pl.cfg
	vcpus, mib := size(fa.r, p)
	// The speed the work runs at there: what the size buys where CPU
	// follows memory, else the vCPUs chosen.
	pl.vcpus = vcpus
	if p.VCPUStep == 0 && p.MemoryMiBPerVCPU > 0 {
		pl.vcpus = min(float64(mib)/p.MemoryMiBPerVCPU, p.MaxVCPUs)
	}
	pl.secHigh = fa.busySeconds
	if pl.vcpus > 0 {
		pl.secLow = fa.cpuSeconds / pl.vcpus
		pl.secHigh = max(pl.secHigh, pl.secLow)
	} else {
		pl.secLow = pl.secHigh
	}
	perSecond := vcpus*p.PricePerVCPUSecond + float64(mib)/1024*p.PricePerGiBSecond + float64(fa.r.Reserved.GPUs)*p.PricePerGPUSecond
	fee := fa.requests / 1e6 * p.PricePerMillionRequests
	pl.cost = pl.secHigh*perSecond + fee
	pl.costLow = pl.secLow*perSecond + fee
}

// decide fills the verdict, score, platform, serverless costs, reasons and
// blockers of fa.r.
func decide(fa *facts, t *textBuilder) {
	r, cfg := fa.r, fa.cfg
	t.reset()
	fn := evaluate(fa, &cfg.Platforms.Function)
	ct := evaluate(fa, &cfg.Platforms.Container)
	current := r.CurrentMonthlyCost
	for _, p := range [...]*platform{&fn, &ct} {
		switch {
		case p.blocked != 0:
		case p.cost >= current:
			p.blocked |= blockCost
		case current-p.cost < cfg.MinSavingPerMonth:
			p.blocked |= blockSaving
		}
	}
	insufficient := r.ObservedFor == 0 || r.ObservedFor < cfg.MinObservation

	var chosen *platform
	if !insufficient {
		switch {
		case fn.blocked == 0:
			chosen = &fn
		case ct.blocked == 0:
			chosen = &ct
		}
	}
	cheapest := chosen
	if cheapest == nil {
		for _, p := range [...]*platform{&fn, &ct} {
			if p.blocked&^(blockCost|blockSaving) == 0 && (cheapest == nil || p.cost < cheapest.cost) {
				cheapest = p
			}
		}
	}
	if cheapest != nil {
		r.ServerlessMonthlyCost = cheapest.cost
		r.ServerlessMonthlyCostLow = cheapest.costLow
		r.BilledSecondsLow, r.BilledSecondsHigh = cheapest.secLow, cheapest.secHigh
		r.SavingsPerMonth = current - cheapest.cost
	}

	// What rules serverless out: nothing for a function; why not a
	// function for a serverless container; both platforms' otherwise.
	switch chosen {
	case &fn:
	case &ct:
		blockerReasons(fa, t, &fn, nil)
	default:
		blockerReasons(fa, t, &fn, &ct)
	}

	over := overReserved(fa)
	switch {
	case insufficient:
		r.Verdict = VerdictInsufficientData
		t.begin(CodeInsufficientData, false)
		if r.ObservedFor == 0 {
			t.s("no data in the last 7 days")
		} else {
			t.s("observed ").dur(r.ObservedFor).s(" of the ").dur(cfg.MinObservation).s(" needed for a verdict")
		}
	case chosen != nil:
		r.Verdict = VerdictServerlessContainer
		if chosen == &fn {
			r.Verdict = VerdictFunction
		}
		r.Platform = chosen.cfg.Name
		r.Score = score(r, chosen.cfg, cfg.MinSavingPerMonth)
		if r.DutyCycled {
			t.begin(CodeIdleRatioHigh, false).s("busy in ").pct(r.BusyRatio).s(" of the sampled time of the ").dur(r.ObservedFor).
				s(" observed, though active in ").pct(1 - r.IdleRatio7d).s(" of its minutes: work in pieces shorter than a minute (candidates from ").
				pct(cfg.CandidateIdleRatio).s(" idle)")
			t.begin(CodeShortBursts, false).int(r.BusyRuns).s(" runs of work, longest ").dur(r.LongestBusyRun).s(", within the ").s(chosen.cfg.Name).s(" limit of ").dur(chosen.cfg.MaxDuration)
		} else {
			t.begin(CodeIdleRatioHigh, false).s("idle ").pct(r.IdleRatio7d).s(" of the ").dur(r.ObservedFor).s(" observed (candidates from ").pct(cfg.CandidateIdleRatio).s(")")
			t.begin(CodeShortBursts, false).int(r.Bursts.Count).s(" bursts of activity, p95 ").dur(r.Bursts.P95).s(", longest ").dur(r.Bursts.Max).s(", within the ").s(chosen.cfg.Name).s(" limit of ").dur(chosen.cfg.MaxDuration)
		}
		cheaperReason(fa, t, chosen)
		if r.ListeningRatio >= alwaysListening {
			t.begin(CodeListener, false).s("listens on a TCP port in ").pct(r.ListeningRatio).s(" of its minutes: ").s(chosen.cfg.Name).s(" sends requests to that port")
		}
	case len(r.IdleHoursOfDay) >= scaleToZeroMinHours && !fa.in.GPU && !fa.latency && !fa.in.Sandbox && !restarting(r):
		r.Verdict = VerdictScaleToZero
		n := len(r.IdleHoursOfDay)
		t.begin(CodeAlwaysIdleHours, false).s("idle every observed day for ").int(n).s(" hours (UTC ").hourRanges(r.IdleHoursOfDay).
			s("); stopping it then saves about ").money(r.CostPerHour*float64(n)*HoursPerMonth/24, cfg.Prices.Currency).s(" a month")
		if over {
			overReason(fa, t)
		}
	case over:
		r.Verdict = VerdictRightsize
		overReason(fa, t)
	default:
		r.Verdict = VerdictKeep
		t.begin(CodeReservationUsed, false).s("p95 uses ").num(r.CPUP95, 3).s(" of ").num(r.Reserved.CPUCores, 3).s(" cores (").s(r.Reserved.CPUSource).
			s(") and ").mib(r.WorkingSetP95).s(" of ").mib(r.Reserved.MemoryBytes).s(" (").s(r.Reserved.MemorySource).s(")")
	}
	if r.Reserved.GPUs > 0 {
		gpuReason(fa, t)
	}
	if r.Restarts > 0 || r.DownFor > 0 {
		t.begin(CodeRestarts, false).s("restarted ").times(r.Restarts).s(" and down ").dur(r.DownFor).s(" of the ").dur(r.ObservedFor).
			s(" observed while its pod lived: the pod kept its reservation, so that time is paid, idle, and in the idle cost")
	}
	t.finish(r)
}

// gpuReason says what the container's GPUs cost, and that their idleness
// is inferred.
func gpuReason(fa *facts, t *textBuilder) {
	r, p := fa.r, &fa.cfg.Prices
	t.begin(CodeGPUCost, false).int(r.Reserved.GPUs)
	if r.Reserved.GPUs == 1 {
		t.s(" GPU")
	} else {
		t.s(" GPUs")
	}
	if r.Reserved.GPUsAssumed {
		t.s(" (the spec grants GPUs without saying how many: 1 assumed)")
	}
	t.s(" at ").money(p.GPUHour, p.Currency).s(" an hour each, ").money(float64(r.Reserved.GPUs)*p.GPUHour*HoursPerMonth, p.Currency).
		s(" a month, are in the cost; GPU idleness is inferred from CPU, network and disk, as no GPU utilisation is read yet")
}

// cheaperReason states the serverless cost's range on p, and its basis.
func cheaperReason(fa *facts, t *textBuilder, p *platform) {
	r, cur := fa.r, fa.cfg.Prices.Currency
	t.begin(CodeCheaper, false).s("as ").s(p.cfg.Name).s(" it would cost ").moneyRange(p.costLow, p.cost, cur).
		s(" a month instead of ").money(r.CurrentMonthlyCost, cur).s(", saving ").money(r.SavingsPerMonth, cur).s(" at the high end; billed ").
		durRange(seconds(p.secLow), seconds(p.secHigh)).s(" a month: low, ").num(fa.cpuSeconds, 0).s(" CPU-seconds flat out at ").num(p.vcpus, 3).
		s(" vCPU; high, busy in ").pct(r.BusyRatio).s(" of the sampled time; ").num(fa.requests, 0).s(" requests, from ").s(fa.requestsFrom)
}

// seconds converts a float number of seconds to a Duration, saturating.
func seconds(s float64) time.Duration {
	if !(s < float64(math.MaxInt64)/1e9) {
		return math.MaxInt64
	}
	return time.Duration(s * 1e9)
}

// blockerReasons explains every blocker of fn and ct (ct may be nil), once
// per code, naming the platforms a platform-specific blocker applies to.
func blockerReasons(fa *facts, t *textBuilder, fn, ct *platform) {
	r, cfg := fa.r, fa.cfg
	all := fn.blocked
	if ct != nil {
		all |= ct.blocked
	}
	// names writes the platforms blocked by b.
	names := func(b blockers) *textBuilder {
		inFn, inCt := fn.blocked&b != 0, ct != nil && ct.blocked&b != 0
		switch {
		case inFn && inCt:
			return t.s(fn.cfg.Name).s(" and ").s(ct.cfg.Name)
		case inFn:
			return t.s(fn.cfg.Name)
		default:
			return t.s(ct.cfg.Name)
		}
	}
	if all&blockGPU != 0 {
		t.begin(CodeGPU, true).s("a GPU is attached, which ")
		names(blockGPU).s(" cannot provide")
	}
	if all&blockSandbox != 0 {
		t.begin(CodePodSandbox, true).s("a pod sandbox (pause) container: the pod is the unit of a decision, not its sandbox")
	}
	if all&blockRestarting != 0 {
		t.begin(CodeRestarting, true).s("restarted ").times(r.Restarts).s(" and down ").dur(r.DownFor).s(" (").pct(float64(r.DownFor) / float64(r.ObservedFor)).
			s(" of the time observed): its idle time is downtime; fix it before moving it")
	}
	if all&blockListener != 0 {
		t.begin(CodeListener, true).s("listens on a TCP port in ").pct(r.ListeningRatio).s(" of its minutes, an always-on server, which ")
		names(blockListener).s(" cannot run: it invokes handlers, it connects to no port")
	}
	if all&blockLatency != 0 {
		t.begin(CodeLatencyCritical, true).s("labelled ").s(LabelLatencyCritical).s(": cold starts are not acceptable")
	}
	if all&blockBurst != 0 {
		if r.DutyCycled {
			t.begin(CodeBurstTooLong, true).s("longest run of work ").dur(r.LongestBusyRun).s(" exceeds the limit of ")
		} else {
			t.begin(CodeBurstTooLong, true).s("longest burst of activity ").dur(r.Bursts.Max).s(" exceeds the limit of ")
		}
		limits(t, fn, ct, blockBurst)
	}
	if all&blockMemory != 0 {
		t.begin(CodeMemoryTooLarge, true).s("peak working set ").mib(r.WorkingSetMax).s(" exceeds the limit of ")
		limits(t, fn, ct, blockMemory)
	}
	if all&blockCPU != 0 {
		t.begin(CodeCPUTooLarge, true).s("peak CPU ").num(peakCPU(r), 2).s(" cores exceeds the limit of ")
		limits(t, fn, ct, blockCPU)
	}
	if all&blockDisk != 0 {
		t.begin(CodeLocalDiskWrites, true).s("writes ").num(fa.writeRate, 0).s(" B/s to local disk while active (idle floor ").num(fa.diskFloor, 0).s(" B/s): it keeps state")
	}
	if all&blockIdle != 0 {
		t.begin(CodeNotIdleEnough, true)
		if r.ObservedFor == 0 {
			t.s("never observed")
		} else {
			t.s("idle ").pct(r.IdleRatio7d).s(" of the ").dur(r.ObservedFor).s(" observed, below the ").pct(cfg.CandidateIdleRatio).s(" needed")
		}
	}
	if all&blockCost != 0 {
		t.begin(CodeNotCheaper, true)
		for i, p := range [...]*platform{fn, ct} {
			if p == nil || p.blocked&blockCost == 0 {
				continue
			}
			if i > 0 && fn.blocked&blockCost != 0 {
				t.s(" and ")
			}
			t.s("as ").s(p.cfg.Name).s(" ").money(p.cost, cfg.Prices.Currency)
		}
		t.s(" a month is not less than ").money(r.CurrentMonthlyCost, cfg.Prices.Currency).s(" now")
	}
	if all&blockSaving != 0 {
		t.begin(CodeSavingTooSmall, true)
		first := true
		for _, p := range [...]*platform{fn, ct} {
			if p == nil || p.blocked&blockSaving == 0 {
				continue
			}
			if !first {
				t.s(" and ")
			}
			first = false
			t.s("as ").s(p.cfg.Name).s(" it would save ").money(r.CurrentMonthlyCost-p.cost, cfg.Prices.Currency)
		}
		t.s(" a month, less than the ").money(cfg.MinSavingPerMonth, cfg.Prices.Currency).s(" a candidate must save")
	}
}

// limits writes "<limit> (<platform>)" for each platform blocked by b,
// blockBurst, blockMemory or blockCPU.
func limits(t *textBuilder, fn, ct *platform, b blockers) {
	first := true
	for _, p := range [...]*platform{fn, ct} {
		if p == nil || p.blocked&b == 0 {
			continue
		}
		if !first {
			t.s(" and ")
		}
		first = false
		switch b {
		case blockBurst:
			t.dur(p.cfg.MaxDuration)
		case blockCPU:
			t.num(p.cfg.MaxVCPUs, 2).s(" vCPUs")
		default:
			t.mib(p.cfg.MaxMemoryMiB << 20)
		}
		t.s(" (").s(p.cfg.Name).s(")")
	}
}

// overReserved reports whether a reserved CPU or memory figure leaves at
// least rightsize_ratio of itself unused at the p95.
func overReserved(fa *facts) bool {
	cpu, mem := overReservedParts(fa)
	return cpu || mem
}

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

func overReason(fa *facts, t *textBuilder) {
	r := fa.r
	cpu, mem := overReservedParts(fa)
	t.begin(CodeOverReserved, false).s("p95 uses ")
	if cpu {
		t.num(r.CPUP95, 3).s(" of ").num(r.Reserved.CPUCores, 3).s(" reserved cores (").s(r.Reserved.CPUSource).s(")")
	}
	if cpu && mem {
		t.s(" and ")
	}
	if mem {
		t.mib(r.WorkingSetP95).s(" of ").mib(r.Reserved.MemoryBytes).s(" reserved (").s(r.Reserved.MemorySource).s(")")
	}
	t.s("; the unused reservation costs ").money(r.OverReservationWastePerMonth, fa.cfg.Prices.Currency).s(" a month")
}

// score rates a serverless verdict on p; see the package documentation.
// minSaving is min_saving_per_month.
func score(r *Result, p *config.PlatformConfig, minSaving float64) int {
	saved := 0.0
	if r.CurrentMonthlyCost > 0 {
		saved = clamp01(r.SavingsPerMonth / r.CurrentMonthlyCost)
	}
	money := 1.0
	if minSaving > 0 {
		money = clamp01(r.SavingsPerMonth / (r.SavingsPerMonth + 10*minSaving))
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
