package analysis

import (
	"math"
	"slices"
	"time"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
	"github.com/fleetscope/fleetscope/resources"
)

// Verdict is what Fleetscope advises for a container.
type Verdict string

// Verdicts, from the most to the least radical change.
const (
	VerdictFunction            Verdict = "function"
	VerdictServerlessContainer Verdict = "serverless-container"
	VerdictScaleToZero         Verdict = "scale-to-zero-schedule"
	VerdictRightsize           Verdict = "rightsize"
	VerdictKeep                Verdict = "keep"
	VerdictInsufficientData    Verdict = "insufficient-data"
)

// Sources of a Reserved figure.
const (
	SourceLimit    = "limit"
	SourceRequest  = "request"
	SourceObserved = "observed"
)

// Reason codes. Codes are stable and machine-readable; texts are not.
const (
	CodeInsufficientData = "insufficient_data"
	CodeIdleRatioHigh    = "idle_ratio_high"
	CodeShortBursts      = "short_bursts"
	CodeCheaper          = "cheaper"
	CodeAlwaysIdleHours  = "always_idle_hours"
	CodeOverReserved     = "over_reserved"
	CodeReservationUsed  = "reservation_used"
	CodeGPU              = "gpu"
	CodeLatencyCritical  = "latency_critical"
	CodeBurstTooLong     = "burst_too_long"
	CodeMemoryTooLarge   = "memory_too_large"
	CodeCPUTooLarge      = "cpu_too_large"
	CodeLocalDiskWrites  = "local_disk_writes"
	CodeNotIdleEnough    = "not_idle_enough"
	CodeNotCheaper       = "not_cheaper"
	CodePodSandbox       = "pod_sandbox"
	CodeSavingTooSmall   = "saving_too_small"
	CodeGPUCost          = "gpu_cost"
	CodeRestarting       = "restarting"
	CodeRestarts         = "restarts"
	CodeListener         = "listener"
)

// HoursPerMonth turns money per hour into money per month: 365 × 24 / 12,
// as cloud price lists count. Every monthly figure Fleetscope computes,
// exports or reads back from a store is per hour times this.
const HoursPerMonth = 730

const (
	scaleToZeroMinHours   = 6
	window                = 7 * 24 * time.Hour
	idleHourMinMinutes    = 45      // minutes of data for an hour-of-day occurrence to count
	statefulMinWriteBytes = 1 << 20 // below this, writes are noise (a log flush), not state
)

// Input is one container to analyse.
type Input struct {
	// Now ends every window.
	Now    time.Time
	Series *history.Series
	Labels map[string]string
	// GPU is true when the container is granted a GPU-class device.
	GPU bool
	// GPUs is how many GPUs it is granted, when its spec says; 0 with GPU
	// true counts as one (see the package documentation).
	GPUs int
	// Sandbox is true for a pod's sandbox (pause) container, which is
	// never a candidate of its own: the pod is the unit of a decision.
	Sandbox bool

	// Reservation inputs: the cgroup's live limits when known, else the
	// OCI spec's, read by package resources' rules: a quota <= 0 or zero
	// period is no limit, 2 shares or fewer no request, and a memory limit
	// of 0 or from resources.UnlimitedMemory on no limit.
	CPUQuotaMicros   int64
	CPUPeriodMicros  uint64
	CPUShares        uint64
	MemoryLimitBytes uint64
}

// Reserved is what the container holds, and where each figure comes from
// (SourceLimit, SourceRequest or SourceObserved).
type Reserved struct {
	CPUCores                float64
	MemoryBytes             uint64
	CPUSource, MemorySource string
	// GPUs are the GPUs granted; GPUsAssumed is true when the spec grants
	// GPUs without saying how many and one is assumed.
	GPUs        int
	GPUsAssumed bool
}

// Bursts summarise runs of consecutive active minutes over 7 days.
type Bursts struct {
	Count         int
	P50, P95, Max time.Duration
}

// Reason explains a verdict or a blocker.
type Reason struct {
	// Code is one of the Code constants.
	Code string
	// Text is for humans and carries the numbers behind the reason.
	Text string
}

// Result is the analysis of one container. Its slices are its own: a
// Result stays valid after the Scratch that built it is reused.
type Result struct {
	ObservedFor time.Duration
	// Idle ratios over the last hour, day and 7 days; NaN when the window
	// holds no minute with data.
	IdleRatio1h, IdleRatio24h, IdleRatio7d float64
	Bursts                                 Bursts
	CPUP50, CPUP95, CPUMax                 float64 // cores
	WorkingSetP95, WorkingSetMax           uint64  // bytes
	// IdleHoursOfDay are UTC hours (0..23), ascending.
	IdleHoursOfDay []int

	// Activity below the minute, at the resolution of the samples:
	// BusyRatio is the share of sampled time in busy samples (NaN without
	// data), BusyRuns the runs of busy samples, LongestBusyRun the
	// longest, PeakCores the highest CPU rate of one sample. DutyCycled
	// says the container is idle enough in its samples though not in its
	// minutes (see the package documentation).
	BusyRatio      float64
	BusyRuns       int
	LongestBusyRun time.Duration
	PeakCores      float64
	DutyCycled     bool

	// Restarts counts the restarts noted in the window, DownFor the
	// minutes the container was down while its pod lived (they are idle
	// minutes too); ListeningRatio is the share of minutes with data with
	// a listening TCP socket, NaN without data.
	Restarts       int
	DownFor        time.Duration
	ListeningRatio float64

	Reserved                                                                     Reserved
	CostPerHour, IdleCostPerHour, IdleCostPerMonth, OverReservationWastePerMonth float64

	Verdict Verdict
	// Score (0..100) says how good a serverless candidate the container
	// is; 0 unless Verdict is function or serverless-container.
	Score int
	// Platform names the platform of a function or serverless-container
	// verdict.
	Platform string
	Reasons  []Reason
	Blockers []Reason

	CurrentMonthlyCost, ServerlessMonthlyCost, SavingsPerMonth float64
	// ServerlessMonthlyCostLow is the low end of the serverless cost's
	// range (ServerlessMonthlyCost is the high end), and BilledSecondsLow
	// and BilledSecondsHigh the billed time per month behind them.
	ServerlessMonthlyCostLow            float64
	BilledSecondsLow, BilledSecondsHigh float64
}

// Scratch holds buffers reused from one Analyze to the next, so analysing
// a fleet does not allocate a week of minutes per container. A Scratch is
// not safe for concurrent use; its zero value is ready.
type Scratch struct {
	scan   minuteScan
	bursts burstStats
	ws     []uint64
	text   textBuilder
}

// minuteStats are the figures one pass over the minutes yields.
type minuteStats struct {
	valid, idle     [3]int // per window: 1h, 24h, 7d
	cpu             [256]int32
	confirm, refute [24]uint8
}

// cpuOrder lists every Minute value by ascending Cores, so CPU percentiles
// come from a 256-bucket histogram instead of sorting a week of floats.
var cpuOrder = func() (o [256]history.Minute) {
	for i := range o {
		o[i] = history.Minute(i)
	}
	slices.SortStableFunc(o[:], func(a, b history.Minute) int {
		if a.Cores() < b.Cores() {
			return -1
		}
		if a.Cores() > b.Cores() {
			return 1
		}
		return 0
	})
	return o
}()

// Analyze analyses one container; see the package documentation for the
// rules. sc may be nil (buffers are then allocated for this call).
func Analyze(in Input, cfg config.AnalysisConfig, sc *Scratch) Result {
	if sc == nil {
		sc = new(Scratch)
	}
	var r Result
	var ms minuteStats
	sc.bursts.reset()
	sc.ws = sc.ws[:0]
	var tot history.Totals
	from := in.Now.Add(-window)
	// A time beyond what Unix nanoseconds hold (the zero Time, say) can
	// name no minute of history.
	if n := in.Now.UnixNano(); in.Series != nil && time.Unix(0, n).Equal(in.Now) {
		// Minutes are numbered on the series' timeline, which is off the
		// wall clock by the clock steps it absorbed.
		first := floorDiv(from.Unix()+floorDiv(int64(in.Series.Offset()), int64(time.Second)), 60)
		// Minutes [now-7d, now) are finished ones; hours run to the end of
		// now's hour so that the one in progress counts too.
		scanWindow(&ms, sc, in.Series, from, in.Now, first)
		tot, sc.ws = in.Series.SumHours(from, in.Now.Add(time.Hour), sc.ws)
	}

	r.ObservedFor = time.Duration(ms.valid[2]) * time.Minute
	r.IdleRatio1h = ratio(ms.idle[0], ms.valid[0])
	r.IdleRatio24h = ratio(ms.idle[1], ms.valid[1])
	r.IdleRatio7d = ratio(ms.idle[2], ms.valid[2])
	r.Bursts = sc.bursts.bursts()
	r.LongestBusyRun, r.PeakCores = tot.LongestBusyRun, float64(tot.PeakCores)
	r.Restarts, r.DownFor = tot.Restarts, time.Duration(tot.DownMinutes)*time.Minute
	r.BusyRuns = tot.BusyRuns
	r.ListeningRatio = ratio(tot.ListenMinutes, ms.valid[2])
	r.BusyRatio = math.NaN()
	// Of the time sampled, not of the minutes: the minute sampling began
	// in holds only the seconds after it, and taking it as a whole made a
	// container busy from its first sample look idle for most of it.
	if ms.valid[2] > 0 && tot.SampledSeconds > 0 {
		r.BusyRatio = min(tot.BusySeconds/tot.SampledSeconds, 1)
		r.DutyCycled = r.IdleRatio7d < cfg.CandidateIdleRatio && 1-r.BusyRatio >= cfg.CandidateIdleRatio
	}
	r.CPUP50, r.CPUP95, r.CPUMax = cpuPercentiles(&ms.cpu, ms.valid[2], in.Series, from, in.Now)
	if len(sc.ws) > 0 {
		r.WorkingSetP95, r.WorkingSetMax = p95Max(sc.ws)
	}
	if r.ObservedFor >= 2*24*time.Hour {
		r.IdleHoursOfDay = idleHours(&ms)
	}

	r.Reserved = reservedOf(&in, &r)
	p := &cfg.Prices
	cores, gib := r.Reserved.CPUCores, float64(r.Reserved.MemoryBytes)/gibibyte
	r.CostPerHour = cores*p.VCPUHour + gib*p.GiBHour + float64(r.Reserved.GPUs)*p.GPUHour
	idle := r.IdleRatio7d
	if math.IsNaN(idle) {
		idle = 0
	}
	r.IdleCostPerHour = r.CostPerHour * idle
	r.IdleCostPerMonth = r.IdleCostPerHour * HoursPerMonth
	r.CurrentMonthlyCost = r.CostPerHour * HoursPerMonth
	var unusedCores, unusedGiB float64
	if r.Reserved.CPUSource != SourceObserved {
		unusedCores = max(cores-r.CPUP95, 0)
	}
	if r.Reserved.MemorySource != SourceObserved && r.Reserved.MemoryBytes > r.WorkingSetP95 {
		unusedGiB = float64(r.Reserved.MemoryBytes-r.WorkingSetP95) / gibibyte
	}
	r.OverReservationWastePerMonth = (unusedCores*p.VCPUHour + unusedGiB*p.GiBHour) * HoursPerMonth

	// Requests per month: accepted connections, else runs of busy
	// samples, else bursts; these and the work are scaled from the time
	// observed to a month.
	fa := facts{
		in: &in, cfg: &cfg, r: &r, idle: idle,
		latency: latencyCritical(in.Labels), diskFloor: diskFloor(cfg.Idle, in.Labels),
	}
	if hours := r.ObservedFor.Hours(); hours > 0 {
		// What samples counted scales from the time they covered, which
		// is short of the minutes where sampling began or ended.
		scale := HoursPerMonth / hours
		if tot.SampledSeconds > 0 {
			scale = HoursPerMonth * 3600 / tot.SampledSeconds
		}
		fa.requests, fa.requestsFrom = tot.TCPAccepts, fromAccepts
		switch {
		case tot.TCPAccepts > 0:
		case tot.BusyRuns > 0:
			fa.requests, fa.requestsFrom = float64(tot.BusyRuns), fromRuns
		default:
			fa.requests, fa.requestsFrom = float64(r.Bursts.Count), fromBursts
		}
		fa.requests *= scale
		fa.cpuSeconds = tot.BusyCPUSeconds * scale
		fa.busySeconds = tot.BusySeconds * scale
	}
	if as := float64(ms.valid[2]-ms.idle[2]) * 60; tot.DiskWriteBytes >= statefulMinWriteBytes && as > 0 {
		fa.writeRate = tot.DiskWriteBytes / as
	}
	decide(&fa, &sc.text)
	return r
}

// floorDiv divides rounding towards minus infinity; b must be positive.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// minuteClass caches Valid (bit 0) and Active (bit 1) of every Minute
// value, for the minutes the scan takes one by one.
var minuteClass = func() (c [256]uint8) {
	for i := range c {
		m := history.Minute(i)
		if m.Valid() {
			c[i] = 1
		}
		if m.Active() {
			c[i] |= 2
		}
	}
	return c
}()

func ratio(part, whole int) float64 {
	if whole == 0 {
		return math.NaN()
	}
	return float64(part) / float64(whole)
}

// rank is the nearest-rank index of percentile q among n sorted values.
func rank(q float64, n int) int {
	i := int(math.Ceil(q*float64(n))) - 1
	return min(max(i, 0), n-1)
}

// cpuPercentiles finds the CPU code of each percentile in the histogram h
// of the n minutes with data, then the exact value within that code from
// the fine codes of the window [from, to) of s.
func cpuPercentiles(h *[256]int32, n int, s *history.Series, from, to time.Time) (p50, p95, maxCores float64) {
	if n == 0 {
		return 0, 0, 0
	}
	// Per percentile: its CPU code and its 1-based rank among the
	// minutes of that code.
	ranks := [3]int{rank(0.5, n) + 1, rank(0.95, n) + 1, n}
	var code [3]uint8
	var within [3]int
	cum := 0
	for _, m := range cpuOrder {
		c := int(h[m])
		if c == 0 || minuteClass[m]&1 == 0 { // the scan counts minutes without data too
			continue
		}
		before := cum
		cum += c
		for i, r := range ranks {
			if before < r && cum >= r {
				code[i], within[i] = m.Code(), r-before
			}
		}
	}
	p95, maxCores = refine(code[1], within[1], code[2], s, from, to)
	return history.CoresFine(code[0], history.FineUnknown), p95, maxCores
}

func idleHours(st *minuteStats) []int {
	n := 0
	for h := range 24 {
		if st.confirm[h] >= 2 && st.refute[h] == 0 {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	out := make([]int, 0, n)
	for h := range 24 {
		if st.confirm[h] >= 2 && st.refute[h] == 0 {
			out = append(out, h)
		}
	}
	return out
}

const gibibyte = 1 << 30

func reservedOf(in *Input, r *Result) Reserved {
	var res Reserved
	limit, request := resources.CPULimitCores(in.CPUQuotaMicros, in.CPUPeriodMicros), resources.CPURequestCores(in.CPUShares)
	switch {
	case limit > 0:
		res.CPUCores = limit
		res.CPUSource = SourceLimit
	case request > 0:
		res.CPUCores = request
		res.CPUSource = SourceRequest
	default:
		res.CPUCores = r.CPUP95
		res.CPUSource = SourceObserved
	}
	if in.GPU || in.GPUs > 0 {
		res.GPUs = max(in.GPUs, 0)
		if res.GPUs == 0 {
			res.GPUs, res.GPUsAssumed = 1, true
		}
	}
	if mem := resources.MemoryLimit(in.MemoryLimitBytes); mem > 0 {
		res.MemoryBytes = mem
		res.MemorySource = SourceLimit
	} else {
		res.MemoryBytes = r.WorkingSetMax
		res.MemorySource = SourceObserved
	}
	return res
}

// diskFloor is the container's idle disk write floor, labels included.
func diskFloor(cfg config.IdleConfig, labels map[string]string) float64 {
	if v, ok := labels[LabelIdleDiskWriteBytesPerSecond]; ok {
		if f, ok := parseFloor(v); ok {
			return f
		}
	}
	return cfg.DiskWriteBytesPerSecond
}
