package cgroups

import "time"

// Busy time from CFS bandwidth periods.
//
// With a CPU quota (v1 cpu.cfs_quota_us, v2 cpu.max), the kernel's period
// timer runs only while the cgroup has work: nr_periods in cpu.stat
// counts the periods it fired in, and the timer stops at the first period
// in which the cgroup pulled no runtime. A run of W seconds, throttled or
// not, therefore counts W/P + 2 periods on average (P the period): the
// periods it touches, W/P + 1 on average because it starts at a random
// phase of the timer, and the idle period that stops the timer. Measured
// on a 6.x kernel (cgroup v1) with a 0.5-core and a 2-core quota at the
// default 100 ms period: runs of 1 ms to 30 ms counted 2 or 3 periods,
// 150 ms 3 or 4, 1 s 11 or 12, 2 s 22, 5 s 52 or 53.
//
// So a run's busy time is (periods − TrailingPeriods) × P, within ±1
// period (the phase). Periods only say when runs end by a sample that
// counts none; PeriodCounter subtracts the correction once per chain of
// samples that count periods, at its first sample, so a run that spans
// samples is corrected once. It cannot see several runs inside one
// sample: each run beyond the first adds up to TrailingPeriods periods.

// TrailingPeriods is the measured excess of nr_periods over a run's
// length in periods (see above).
const TrailingPeriods = 2

// PeriodCounter turns successive nr_periods readings of one cgroup into
// busy periods. Its zero value is ready; it is not safe for concurrent
// use.
type PeriodCounter struct {
	last  uint64
	have  bool
	chain bool   // the previous step counted periods
	owed  uint64 // correction of the chain not yet subtracted
}

// Step takes the next nr_periods reading and returns the busy periods
// since the previous one. ok is false for the first reading and after the
// counter went backwards (a new cgroup), when nothing is known.
func (c *PeriodCounter) Step(nrPeriods uint64) (busy uint64, ok bool) {
	prev, had := c.last, c.have
	c.last, c.have = nrPeriods, true
	if !had || nrPeriods < prev {
		c.chain, c.owed = false, 0
		return 0, false
	}
	d := nrPeriods - prev
	switch {
	case d == 0:
		c.chain, c.owed = false, 0
		return 0, true
	case !c.chain:
		c.chain, c.owed = true, TrailingPeriods
	case c.owed == 0 && d <= TrailingPeriods:
		// A run ended just before the previous reading: these are its
		// trailing periods, not work.
		return 0, true
	}
	sub := min(c.owed, d)
	c.owed -= sub
	return d - sub, true
}

// Reset forgets the readings, for a cgroup whose quota was set or
// removed: the counter means nothing across such a change.
func (c *PeriodCounter) Reset() { *c = PeriodCounter{} }

// PeriodBusy is the busy time that busy periods of a cgroup stand for
// over interval: busy × period, at least the time the CPU time used needs
// at the quota (no period grants more than the quota), at most interval.
// cores is the quota in cores, 0 if unknown.
func PeriodBusy(busy uint64, period time.Duration, cpu time.Duration, cores float64, interval time.Duration) time.Duration {
	d := time.Duration(min(busy, uint64(interval/max(period, 1))+1)) * period
	if cores > 0 {
		d = max(d, time.Duration(float64(cpu)/cores))
	}
	return min(max(d, 0), interval)
}
