package history

import (
	"math"
	"time"
)

// clock is the last time the series was told about, to measure what really
// elapsed since. It lives only in memory: a restart starts without one.
type clock struct {
	wall time.Time     // as given, with its monotonic reading if any
	mono time.Duration // Sample.Mono, 0 if none
	ts   int64         // timeline nanoseconds assigned to it
	set  bool
}

// stepTolerance is how far the wall clock may drift from elapsed time
// before it counts as a step: a second, plus a thousandth of the time
// elapsed, which covers NTP slewing (at most 500 ppm) over long quiet
// spells. Smaller drifts follow the wall clock.
const stepTolerance = int64(time.Second)

// timeline maps a wall time to the series' timeline, absorbing a step of
// the wall clock into the offset when what elapsed is known: from mono
// readings of both ends, or from the monotonic readings of both times.
// Without either (the first time after a restart) a wall clock that went
// back before the latest sample is clamped to it, so nothing already
// recorded is lost; a jump ahead cannot be told from real downtime there
// and is taken as such.
func (s *Series) timeline(t time.Time, mono time.Duration) (int64, bool) {
	wall, ok := unixNano(t)
	if !ok {
		return 0, false
	}
	ts := satAdd(wall, s.offset)
	if ts <= minTimeline || ts >= maxTimeline {
		return 0, false
	}
	if s.seen && s.clk.set {
		var elapsed time.Duration
		known := false
		switch {
		case mono != 0 && s.clk.mono != 0:
			elapsed, known = mono-s.clk.mono, true
		case hasMono(t) && hasMono(s.clk.wall):
			elapsed, known = t.Sub(s.clk.wall), true
		}
		if known && elapsed >= 0 {
			want := satAdd(s.clk.ts, int64(elapsed))
			if d := ts - want; want < maxTimeline && (d > stepTolerance+int64(elapsed)/1000 || d < -(stepTolerance+int64(elapsed)/1000)) {
				s.offset -= d
				ts = want
			}
		}
	}
	if s.seen && !s.clk.set && ts < s.last {
		// The first time after a restart, behind the latest sample, with
		// nothing to measure the step by: continue from there. (Later, a
		// time behind without a clock to measure it is a late sample, and
		// Add ignores it if its minute is closed.)
		s.offset += s.last - ts
		ts = s.last
	}
	if ts >= s.clk.ts || !s.clk.set {
		s.clk = clock{wall: t, mono: mono, ts: ts, set: true}
	}
	return ts, true
}

// A timeline time that saturated int64 is no time at all.
const (
	minTimeline = math.MinInt64
	maxTimeline = math.MaxInt64
)

// hasMono reports whether t carries a monotonic clock reading.
func hasMono(t time.Time) bool { return t != t.Round(0) }

// satAdd adds without overflowing.
func satAdd(a, b int64) int64 {
	c := a + b
	if (c > a) != (b > 0) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return c
}

// unixNano converts a sample time, rejecting zero and unrepresentable ones.
func unixNano(t time.Time) (int64, bool) {
	if sec := t.Unix(); t.IsZero() || sec <= math.MinInt64/1_000_000_000 || sec >= math.MaxInt64/1_000_000_000 {
		return 0, false
	}
	return t.UnixNano(), true
}

// floorDiv divides rounding towards minus infinity, so that times before
// 1970 still fall in the right minute; b must be positive.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}
