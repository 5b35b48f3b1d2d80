package analysis

import (
	"math"
	"time"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
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

// HoursPerMonth turns money per hour into money per month: 365 × 24 / 12,
// as cloud price lists count. Every monthly figure Fleetscope computes,
// exports or reads back from a store is per hour times this.
const HoursPerMonth = 730

const (
	scaleToZeroMinHours = 6
	// scheduleMinHoursPerWeek is what a sleep schedule must sleep a week
	// unless it sleeps scaleToZeroMinHours every workday:
	// scaleToZeroMinHours a day.
	scheduleMinHoursPerWeek = 7 * scaleToZeroMinHours
	window                  = 7 * 24 * time.Hour
	idleHourMinMinutes      = 45      // minutes of data for an hour-of-day occurrence to count
	statefulMinWriteBytes   = 1 << 20 // below this, writes are noise (a log flush), not state
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
	// Sleep is when a schedule could stop the container, by day type in
	// the configured time zone (analysis.time_zone); Replay what sleeping
	// then would have done to the window recorded, for a
	// scale-to-zero-schedule verdict.
	Sleep  SleepSchedule
	Replay Replay

	// Activity below the minute, at the resolution of the samples:
	// BusyRatio is the share of sampled time in busy samples (NaN without
	// data), BusyRuns the runs of busy samples, LongestBusyRun the
	// longest, PeakCores the highest CPU rate of one sample. DutyCycled
	// says the container is idle enough in its samples though not in its
	// minutes (see the package documentation). BusyFrom says what
	// measured the busy time of the latest sample: "periods" (CFS
	// bandwidth periods), "fine" (readings at a shorter interval) or
	// "samples" (each sample busy or idle in full); empty without one.
	BusyRatio      float64
	BusyRuns       int
	LongestBusyRun time.Duration
	PeakCores      float64
	DutyCycled     bool
	BusyFrom       string

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
	// verdict, PlatformSource where its prices and limits come from.
	Platform       string
	PlatformSource string
	// PlatformVCPUs and PlatformMemoryMiB are the size the platform was
	// priced at: the peak CPU in its steps, and the working set or the
	// memory that CPU comes with, whichever is more.
	PlatformVCPUs     float64
	PlatformMemoryMiB uint64
	Reasons           []Reason
	Blockers          []Reason

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
	hours  []history.Hour
	scan   minuteScan
	bursts burstStats
	ws     []uint64
	text   textBuilder
	pair   [2]config.PlatformConfig
	clock  zoneClock
}

// platforms are the platforms cfg's verdicts compare: its table's, else
// its function and container platforms, copied into sc so that no
// analysis allocates them.
func (sc *Scratch) platforms(cfg *config.AnalysisConfig) []config.PlatformConfig {
	if len(cfg.Platforms.Table) > 0 {
		return cfg.Platforms.Table
	}
	sc.pair = [2]config.PlatformConfig{cfg.Platforms.Function, cfg.Platforms.Container}
	sc.pair[0].Kind, sc.pair[1].Kind = config.KindFunction, config.KindContainer
	return sc.pair[:]
}

// minuteStats are the figures one pass over the minutes yields.
type minuteStats struct {
	valid, idle     [3]int // per window: 1h, 24h, 7d
	cpu             [256]int32
	confirm, refute [24]uint8
	week            weekCounts // the same per day type and hour, in the zone
}

// Analyze analyses one container; see the package documentation for the
// rules. sc may be nil (buffers are then allocated for this call).
func Analyze(in Input, cfg config.AnalysisConfig, sc *Scratch) Result {
	r, _ := analyze(&in, &cfg, sc)
	return r
}

// analyze is Analyze, with the decision the Result states.
func analyze(in *Input, cfg *config.AnalysisConfig, sc *Scratch) (Result, decision) {
	if sc == nil {
		sc = new(Scratch)
	}
	var r Result
	var ms minuteStats
	sc.clock = newZoneClock(zoneNamed(cfg.TimeZone))
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
	r.CPUP50, r.CPUP95, r.CPUMax = cpuPercentiles(&ms.cpu, ms.valid[2], []*history.Series{in.Series}, from, in.Now)
	if len(sc.ws) > 0 {
		r.WorkingSetP95, r.WorkingSetMax = p95Max(sc.ws)
	}
	if r.ObservedFor >= 2*24*time.Hour {
		r.IdleHoursOfDay = idleHours(&ms)
		r.Sleep = ms.week.schedule(cfg.TimeZone)
		// What sleeping then would have done to the week recorded.
		if r.Sleep.Enough() {
			sc.hours = in.Series.AppendHours(sc.hours[:0], from, in.Now.Add(time.Hour))
			r.Replay = replayHours(&r.Sleep, &sc.clock, sc.hours, floorDiv(from.Unix()+floorDiv(int64(in.Series.Offset()), int64(time.Second)), 3600))
		}
	}
	d := conclude(in, cfg, &r, &ms, &tot, sc)
	return r, d
}

// conclude completes r from the figures of the window's scan in r, ms and
// tot (its hours' totals): the activity below the minute, reservation and
// cost, the decision, and its text. The reference analysis of the tests
// shares it, so that the two differ in their scans alone.
func conclude(in *Input, cfg *config.AnalysisConfig, r *Result, ms *minuteStats, tot *history.Totals, sc *Scratch) decision {
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
		if in.Series != nil {
			r.BusyFrom = in.Series.BusyFrom().String()
		}
	}

	r.Reserved = reservedOf(in, r)
	price(r, &cfg.Prices)
	fa := facts{
		in: in, cfg: cfg, r: r, idle: idleShare(r), platforms: sc.platforms(cfg),
		latency: latencyCritical(in.Labels), diskFloor: diskFloor(cfg.Idle, in.Labels),
	}
	fa.work(tot, ms.valid[2]-ms.idle[2])
	d := decide(&fa)
	d.fill(r, fa.platforms)
	render(&sc.text, &fa, &d)
	return d
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
