package analysis

import (
	"math"
	"slices"
	"time"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
)

// This file keeps the straightforward analysis that the word-wise scan of
// scan.go replaced: a copy of the week's minutes, their fine codes and
// hours, a scan minute by minute, a sort of the bursts. The tests compare
// the two, Result for Result.

// referenceScratch holds the reference's copies.
type referenceScratch struct {
	minutes []history.Minute
	fine    []uint8
	hours   []history.Hour
	runs    []int32
	ws      []uint64
	sc      Scratch // the shared conclusion's
}

// referenceAnalyze is Analyze as it was before scan.go: its own scan of
// the minutes and its own sums of the hours, then the same conclusion
// (reservation, cost, decision and text), so that a difference is one of
// the scans.
func referenceAnalyze(in Input, cfg config.AnalysisConfig) Result {
	sc := new(referenceScratch)
	var r Result
	var ms minuteStats
	var tot history.Totals
	sc.runs = sc.runs[:0]
	sc.ws = sc.ws[:0]
	// A time beyond what Unix nanoseconds hold (the zero Time, say) can
	// name no minute of history.
	if n := in.Now.UnixNano(); in.Series != nil && time.Unix(0, n).Equal(in.Now) {
		from := in.Now.Add(-window)
		// Minutes [now-7d, now) are finished ones; hours run to the end of
		// now's hour so that the one in progress counts too.
		sc.minutes = in.Series.AppendMinutes(sc.minutes[:0], from, in.Now)
		sc.fine = in.Series.AppendCPUFine(sc.fine[:0], from, in.Now)
		sc.hours = in.Series.AppendHours(sc.hours[:0], from, in.Now.Add(time.Hour))
		// Minutes are numbered on the series' timeline, which is off the
		// wall clock by the clock steps it absorbed.
		first := floorDiv(from.Unix()+floorDiv(int64(in.Series.Offset()), int64(time.Second)), 60)
		sc.runs = scanMinutes(&ms, sc.runs, sc.minutes, first, zoneNamed(cfg.TimeZone))
		for i := range sc.hours {
			h := &sc.hours[i]
			if h.Minutes == 0 {
				continue
			}
			sc.ws = append(sc.ws, h.MaxWorkingSet)
			referenceAddHour(&tot, h)
		}
	}

	r.ObservedFor = time.Duration(ms.valid[2]) * time.Minute
	r.IdleRatio1h = ratio(ms.idle[0], ms.valid[0])
	r.IdleRatio24h = ratio(ms.idle[1], ms.valid[1])
	r.IdleRatio7d = ratio(ms.idle[2], ms.valid[2])
	r.Bursts = referenceBursts(sc.runs)
	r.CPUP50, r.CPUP95, r.CPUMax = referencePercentiles(&ms.cpu, ms.valid[2], sc.minutes, sc.fine)
	slices.Sort(sc.ws)
	if n := len(sc.ws); n > 0 {
		r.WorkingSetP95, r.WorkingSetMax = sc.ws[rank(0.95, n)], sc.ws[n-1]
	}
	if r.ObservedFor >= 2*24*time.Hour {
		r.IdleHoursOfDay = idleHours(&ms)
		r.Sleep = ms.week.schedule(cfg.TimeZone)
		if r.Sleep.Enough() {
			h0 := floorDiv(in.Now.Add(-window).Unix()+floorDiv(int64(in.Series.Offset()), int64(time.Second)), 3600)
			r.Replay = referenceReplay(&r.Sleep, zoneNamed(cfg.TimeZone), sc.hours, h0)
		}
	}
	conclude(&in, &cfg, &r, &ms, &tot, &sc.sc)
	return r
}

// referenceReplay is replay with the time package's own calendar for
// each hour.
func referenceReplay(s *SleepSchedule, loc *time.Location, hours []history.Hour, h0 int64) Replay {
	p := Replay{Done: true}
	background := uint32(math.MaxUint32)
	for _, h := range hours {
		if h.Minutes > 0 && h.TCPAccepts < background {
			background = h.TCPAccepts
		}
	}
	prev, start := false, 0
	for i, h := range hours {
		t := time.Unix((h0+int64(i))*3600, 0).In(loc)
		asleep := s.Asleep(t.Weekday() == time.Saturday || t.Weekday() == time.Sunday, t.Hour())
		switch {
		case asleep && !prev:
			start = i
		case prev && !asleep:
			p.Starts++
			if i-start < 2 {
				p.Flaps++
			}
		}
		prev = asleep
		if h.Minutes > 0 {
			p.HoursWithData++
		}
		if asleep && h.Minutes > 0 {
			p.HoursAsleep++
			if extra := float64(h.TCPAccepts) - float64(background); extra > 0.1*float64(background)+1 {
				p.Connections += extra
				p.RefusedHours++
			}
		}
	}
	return p
}

// referenceAddHour adds one hour of AppendHours to t, field by field,
// where history.Series.SumHours reads the ring in place.
func referenceAddHour(t *history.Totals, h *history.Hour) {
	t.Hours++
	t.TCPAccepts += float64(h.TCPAccepts)
	t.DiskWriteBytes += float64(h.DiskWriteBytes)
	t.BusyCPUSeconds += float64(h.BusyCPUSeconds)
	t.BusySeconds += float64(h.BusySeconds)
	t.SampledSeconds += float64(h.SampledSeconds)
	t.BusyRuns += int(h.BusyRuns)
	t.Restarts += int(h.Restarts)
	t.ListenMinutes += int(h.ListenMinutes)
	t.DownMinutes += int(h.DownMinutes)
	t.LongestBusyRun = max(t.LongestBusyRun, h.LongestBusyRun)
	t.PeakCores = max(t.PeakCores, h.PeakCores)
}

// scanMinutes makes one pass over a week of minutes: idle ratios per
// window, the CPU histogram, burst runs (appended to runs and returned) and
// hour-of-day idleness. first is the Unix minute of ms[0].
func scanMinutes(st *minuteStats, runs []int32, ms []history.Minute, first int64, loc *time.Location) []int32 {
	n := len(ms)
	// Running counts of valid and idle minutes, read at the start of the
	// day and hour windows.
	var valid, active int
	mark24h, mark1h := max(n-24*60, 0), max(n-60, 0)
	var valid24h, active24h, valid1h, active1h int
	// run is the burst in progress, gap the minutes without data since its
	// last active minute: they join the run if activity resumes.
	var run, gap int32
	// Walk hour by hour (UTC) so that hour-of-day idleness needs no
	// division per minute.
	hourOfDay := int(((first/60)%24 + 24) % 24)
	for lo := 0; lo < n; {
		hi := min(lo+60-int(((first+int64(lo))%60+60)%60), n)
		var bValid, bActive int
		// Split the hour where a window starts, to read the counts there.
		for seg := lo; seg < hi; {
			end := hi
			for _, mark := range [...]int{mark24h, mark1h} {
				if seg < mark && mark < end {
					end = mark
				}
			}
			if seg == mark24h {
				valid24h, active24h = valid+bValid, active+bActive
			}
			if seg == mark1h {
				valid1h, active1h = valid+bValid, active+bActive
			}
			for _, m := range ms[seg:end] {
				st.cpu[m]++
				c := int(minuteClass[m])
				bValid += c & 1
				bActive += c >> 1
				switch {
				case c > 1:
					run += gap + 1
					gap = 0
				case run == 0:
				case c == 0:
					gap++
				default:
					// An idle minute ends a burst; a gap before it does
					// not count.
					runs = append(runs, run)
					run, gap = 0, 0
				}
			}
			seg = end
		}
		valid += bValid
		active += bActive
		switch {
		case bActive > 0:
			st.refute[hourOfDay] = min(st.refute[hourOfDay]+1, 255)
		case bValid >= idleHourMinMinutes:
			st.confirm[hourOfDay] = min(st.confirm[hourOfDay]+1, 255)
		}
		t := time.Unix(floorDiv(first+int64(lo), 60)*3600, 0).In(loc)
		st.week.add(t.Weekday() == time.Saturday || t.Weekday() == time.Sunday, t.Hour(), bActive > 0, bActive == 0 && bValid >= idleHourMinMinutes)
		hourOfDay = (hourOfDay + 1) % 24
		lo = hi
	}
	if run > 0 {
		runs = append(runs, run) // still going at the end of the window
	}
	// Active minutes are valid ones, so the rest of the valid are idle.
	idle, idle24h, idle1h := valid-active, valid24h-active24h, valid1h-active1h
	st.valid = [3]int{valid - valid1h, valid - valid24h, valid}
	st.idle = [3]int{idle - idle1h, idle - idle24h, idle}
	return runs
}

func referenceBursts(runs []int32) Bursts {
	if len(runs) == 0 {
		return Bursts{}
	}
	slices.Sort(runs)
	n := len(runs)
	d := func(m int32) time.Duration { return time.Duration(m) * time.Minute }
	return Bursts{Count: n, P50: d(runs[rank(0.5, n)]), P95: d(runs[rank(0.95, n)]), Max: d(runs[n-1])}
}

// referencePercentiles finds the CPU code of each percentile in the histogram h
// of the n minutes with data, then the exact value within that code from
// the minutes' fine codes (fine parallels minutes).
func referencePercentiles(h *[256]int32, n int, minutes []history.Minute, fine []uint8) (p50, p95, maxCores float64) {
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
	p95, maxCores = referenceRefine(code[1], within[1], code[2], minutes, fine)
	return history.CoresFine(code[0], history.FineUnknown), p95, maxCores
}

// referenceRefine gives the exact CPU of the k-th smallest (1-based) minute among
// those of CPU code c95, and of the largest minute of code cmax, from the
// minutes' fine codes in one pass: the histogram's code says which bucket
// a percentile falls in, the pass says where in it. (The median is left at
// its bucket's middle: nothing is computed from it.)
func referenceRefine(c95 uint8, k int, cmax uint8, minutes []history.Minute, fine []uint8) (p95, maxCores float64) {
	p95, maxCores = history.CoresFine(c95, history.FineUnknown), history.CoresFine(cmax, history.FineUnknown)
	if len(fine) != len(minutes) || (c95 < 2 && cmax < 2) {
		return p95, maxCores
	}
	// Four histograms, one per minute mod 4: a constant load puts every
	// minute in the same counter, and one chain of increments to it would
	// serialise the loop on store-to-load latency.
	var hist [4][256]int32
	var top uint8
	for i, m := range minutes {
		c := m.Code()
		if c == c95 {
			hist[i&3][fine[i]]++
		}
		if c == cmax {
			top = max(top, fine[i])
		}
	}
	if c95 >= 2 {
		cum := 0
		for f := range 256 {
			cum += int(hist[0][f] + hist[1][f] + hist[2][f] + hist[3][f])
			if cum >= k {
				p95 = history.CoresFine(c95, uint8(f))
				break
			}
		}
	}
	if cmax >= 2 {
		maxCores = history.CoresFine(cmax, top)
	}
	return p95, maxCores
}
