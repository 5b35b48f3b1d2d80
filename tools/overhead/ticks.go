package main

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"time"
)

// The agent's own view of its sampling loop, as it exports it.
const (
	tickLagMetric     = "fleetscope_sampler_tick_lag_seconds"
	overrunsMetric    = "fleetscope_sampler_overruns_total"
	collectorDuration = "fleetscope_collector_duration_seconds"
)

// selfReport is what one scrape of the agent says about its latest tick.
type selfReport struct {
	lag      time.Duration
	haveLag  bool
	overruns uint64
	haveOver bool
	// tick tells ticks apart: the collectors' durations of the latest
	// tick, nanosecond figures that two ticks practically never share.
	// Scraping about once per tick sees some ticks twice; those are
	// counted once.
	tick string
}

// parseSelfReport finds the tick lag gauge, the overrun counter and the
// collector durations in a text exposition.
func parseSelfReport(body []byte) selfReport {
	var r selfReport
	var tick []byte
	for line := range bytes.Lines(body) {
		if !bytes.HasPrefix(line, []byte("fleetscope_")) {
			continue
		}
		s, ok := parseSample(line)
		if !ok {
			continue
		}
		switch string(s.name) {
		case tickLagMetric:
			if v, err := strconv.ParseFloat(string(s.value), 64); err == nil && v >= 0 && !math.IsInf(v, 0) {
				r.lag, r.haveLag = time.Duration(v*float64(time.Second)), true
			}
		case overrunsMetric:
			if v, err := strconv.ParseFloat(string(s.value), 64); err == nil && v >= 0 && v < math.MaxInt64 {
				r.overruns, r.haveOver = uint64(v), true
			}
		case collectorDuration:
			tick = append(append(append(tick, s.labels...), '='), s.value...)
			tick = append(tick, ';')
		}
	}
	r.tick = string(tick)
	return r
}

// tickLog collects the tick lags and overruns of one window from successive
// scrapes.
type tickLog struct {
	lags     []time.Duration // one per distinct tick seen
	lastTick string

	firstOver, lastOver uint64
	overSeen            bool
}

func (t *tickLog) add(r selfReport) {
	if r.haveLag && (r.tick == "" || r.tick != t.lastTick) {
		t.lags = append(t.lags, r.lag)
		t.lastTick = r.tick
	}
	if r.haveOver {
		if !t.overSeen {
			t.firstOver, t.overSeen = r.overruns, true
		}
		t.lastOver = r.overruns
	}
}

// overruns is how many ticks overran between the first and the last scrape
// of the window, and whether the agent exported the counter at all.
func (t *tickLog) overruns() (uint64, bool) {
	if !t.overSeen || t.lastOver < t.firstOver {
		return 0, t.overSeen
	}
	return t.lastOver - t.firstOver, true
}

// percentile returns the p-th percentile (0 < p ≤ 100) of d by the
// nearest-rank method: the smallest value that at least p% of the values are
// at or below. It does not change d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}
