package analysis

import (
	"math/bits"
	"time"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
)

// Aggregate is what the rules need of a history, summed over every
// instance a workload had, wherever they ran: how a workload is judged
// when no one Series holds its history (its pods replaced by rollouts and
// autoscaling, on this node or across a fleet's store). Minutes are
// replica-minutes: two replicas observed for an hour are 120 minutes, so
// the idle ratio is the share of the replicas' time that was idle, and
// every figure per month is per replica, as a container's is; Replicas
// scales the money to the workload.
//
// Whoever fills it decides how exact each figure is (the fleet reads
// histograms, see docs/fleet.md); AnalyzeAggregate applies the same rules
// as Analyze, through conclude, so the two answers differ only in what
// they were fed.
type Aggregate struct {
	// Input carries the reservation inputs of one replica (the newest),
	// its labels, GPUs and Now; its Series is not read.
	Input Input
	// Valid and Idle are the replica-minutes with data and the idle ones
	// of the last hour, day and 7 days before Input.Now.
	Valid, Idle [3]int
	// Span is the time some replica had data (see CoveredHours): the
	// Result's ObservedFor, which the minimum observation and the
	// hour-of-day profile ask of the workload's life, not of its replicas'
	// summed time.
	Span time.Duration
	// Confirm and Refute count, per UTC hour of the day, the hours of the
	// window that confirm it idle (at least 45 replica-minutes of data,
	// none active) and that refute it (an active minute).
	Confirm, Refute [24]uint8
	// Zone is the time zone (analysis.time_zone) ConfirmHour also counts
	// the hours in, by day type and hour of the day, for the sleep
	// schedule; empty is UTC.
	Zone  string
	week  weekCounts
	clock zoneClock
	// The replicas' minutes with data and accepted connections per hour
	// of the window from Unix hour hourFrom, for the replay; a store's
	// window has none.
	hourMinutes []int
	hourAccepts []float64
	hourFrom    int64
	// The percentiles and maxima of the Result fields of the same names:
	// per-minute CPU, per-hour working set and bursts, over the replicas.
	CPUP50, CPUP95, CPUMax       float64
	WorkingSetP95, WorkingSetMax uint64
	Bursts                       Bursts
	// Totals sum the replicas' hours (maxima for LongestBusyRun and
	// PeakCores).
	Totals history.Totals
}

// AnalyzeAggregate analyses a workload from its Aggregate, with the rules
// Analyze applies to one container's Series. The Result is per replica.
func AnalyzeAggregate(a *Aggregate, cfg config.AnalysisConfig) Result {
	in := a.Input
	in.Series = nil
	ms := minuteStats{valid: a.Valid, idle: a.Idle, confirm: a.Confirm, refute: a.Refute, week: a.week}
	r := Result{
		ObservedFor: time.Duration(a.Valid[2]) * time.Minute,
		IdleRatio1h: ratio(a.Idle[0], a.Valid[0]), IdleRatio24h: ratio(a.Idle[1], a.Valid[1]), IdleRatio7d: ratio(a.Idle[2], a.Valid[2]),
		Bursts: a.Bursts,
		CPUP50: a.CPUP50, CPUP95: a.CPUP95, CPUMax: a.CPUMax,
		WorkingSetP95: a.WorkingSetP95, WorkingSetMax: a.WorkingSetMax,
	}
	if a.Span > 0 {
		r.ObservedFor = min(r.ObservedFor, a.Span)
	}
	if r.ObservedFor >= 2*24*time.Hour {
		r.IdleHoursOfDay = idleHours(&ms)
		r.Sleep = ms.week.schedule(cfg.TimeZone)
		if r.Sleep.Enough() && len(a.hourMinutes) > 0 {
			clock := newZoneClock(zoneNamed(cfg.TimeZone))
			r.Replay = replay(&r.Sleep, &clock, len(a.hourMinutes), a.hourFrom, func(i int) (int, float64) {
				return a.hourMinutes[i], a.hourAccepts[i]
			})
		}
	}
	tot := a.Totals
	var sc Scratch
	conclude(&in, &cfg, &r, &ms, &tot, &sc)
	return r
}

// ConfirmHour adds one hour of the window, the one starting at, with
// valid replica-minutes of data of which idle were idle, to a's
// hour-of-day counts (UTC, and by day type in Zone), by the rule
// Analyze's scan applies to a Series.
func (a *Aggregate) ConfirmHour(at time.Time, valid, idle int) {
	u := floorDiv(at.Unix(), 3600)
	h := int(u - floorDiv(u, 24)*24)
	refuted, confirmed := valid > idle, valid <= idle && valid >= idleHourMinMinutes
	switch {
	case refuted:
		a.Refute[h] = min(a.Refute[h]+1, 255)
	case confirmed:
		a.Confirm[h] = min(a.Confirm[h]+1, 255)
	}
	if refuted || confirmed {
		if a.clock.loc == nil {
			a.clock = newZoneClock(zoneNamed(a.Zone))
		}
		we, zh := a.clock.cell(u)
		a.week.add(we, zh, refuted, confirmed)
	}
}

// SetHours gives the replay of a sleep schedule the window's hours: the
// replicas' minutes with data and the connections they accepted in each
// hour from the one starting at from (truncated to the hour). The slices
// are kept, and must be as long as each other. AggregateSeries sets them
// itself.
func (a *Aggregate) SetHours(from time.Time, minutes []int, accepts []float64) {
	if len(minutes) != len(accepts) {
		return
	}
	a.hourFrom, a.hourMinutes, a.hourAccepts = floorDiv(from.Unix(), 3600), minutes, accepts
}

// AggregateSeries sums the histories of a workload's instances on this
// node, each a Series, over the 7 days before in.Now: the node's own
// answer for a workload whose pods were replaced. in is the newest
// instance's Input (its Series is not read); zone is analysis.time_zone.
// sc may be nil.
//
// Counts add; percentiles are those of the replicas' minutes (hours, for
// the working set; bursts) taken together, exact as Analyze's are; the
// hour-of-day counts sum the instances' minutes per hour of the window
// before the rule is applied, as a store's hourly sums are.
func AggregateSeries(in Input, series []*history.Series, zone string, sc *Scratch) Aggregate {
	if sc == nil {
		sc = new(Scratch)
	}
	a := Aggregate{Input: in, Zone: zone}
	a.Input.Series = nil
	from := in.Now.Add(-window)
	n := in.Now.UnixNano()
	if len(series) == 0 || !time.Unix(0, n).Equal(in.Now) {
		return a
	}
	sc.bursts.reset()
	sc.ws = sc.ws[:0]
	sc.clock = newZoneClock(zoneNamed(zone))
	var cpu [256]int32
	var hourValid, hourActive [window/time.Hour + 1]int
	var accepts [window/time.Hour + 1]float64
	var union []uint64
	for _, s := range series {
		if s == nil {
			continue
		}
		var ms minuteStats
		first := floorDiv(from.Unix()+floorDiv(int64(s.Offset()), int64(time.Second)), 60)
		scanWindow(&ms, sc, s, from, in.Now, first)
		// The minutes any instance had data in: the workload's life.
		if len(union) < len(sc.scan.valid) {
			union = append(union, make([]uint64, len(sc.scan.valid)-len(union))...)
		}
		for i, v := range sc.scan.valid {
			union[i] |= v
		}
		for i := range a.Valid {
			a.Valid[i] += ms.valid[i]
			a.Idle[i] += ms.idle[i]
		}
		for m, c := range ms.cpu {
			cpu[m] += c
		}
		var tot history.Totals
		tot, sc.ws = s.SumHours(from, in.Now.Add(time.Hour), sc.ws)
		a.Totals.Merge(&tot)
		sc.hours = s.AppendHours(sc.hours[:0], from, in.Now.Add(time.Hour))
		for i, h := range sc.hours {
			if i < len(hourValid) {
				hourValid[i] += int(h.Minutes)
				hourActive[i] += int(h.ActiveMinutes)
				accepts[i] += float64(h.TCPAccepts)
			}
		}
	}
	a.Bursts = sc.bursts.bursts()
	a.CPUP50, a.CPUP95, a.CPUMax = cpuPercentiles(&cpu, a.Valid[2], series, from, in.Now)
	if len(sc.ws) > 0 {
		a.WorkingSetP95, a.WorkingSetMax = p95Max(sc.ws)
	}
	h0 := time.Unix(floorDiv(from.Unix(), 3600)*3600, 0)
	for i := range hourValid {
		a.ConfirmHour(h0.Add(time.Duration(i)*time.Hour), hourValid[i], hourValid[i]-hourActive[i])
	}
	a.hourMinutes, a.hourAccepts, a.hourFrom = hourValid[:], accepts[:], floorDiv(from.Unix(), 3600)
	span := 0
	for _, v := range union {
		span += bits.OnesCount64(v)
	}
	a.Span = time.Duration(span) * time.Minute
	return a
}

// CoveredHours estimates how long, in hours, a workload had a replica
// with data where only hourly sums are known (a store's), from each
// hour's replica-minutes with data (sum) and the most one replica had in
// it (top): an hour inside the workload's life counts for
// its replica-minutes up to a whole hour (a rollout's two pods of 30
// minutes each fill it; two replicas side by side do not make it two),
// its first and last hour for the most one replica had (a workload started
// or stopped within them, perhaps with several replicas at once).
func CoveredHours(sum, top []float64) float64 {
	first, last := -1, -1
	for i, v := range sum {
		if v > 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return 0
	}
	c := 0.0
	for i := first; i <= last; i++ {
		if i == first || i == last {
			c += min(top[i], 60) / 60
			continue
		}
		c += min(sum[i], 60) / 60
	}
	return c
}
