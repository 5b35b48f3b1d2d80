package analysis

import (
	"math"
	"strconv"
	"time"
)

// seconds converts a float number of seconds to a Duration, saturating.
func seconds(s float64) time.Duration {
	if !(s < float64(math.MaxInt64)/1e9) {
		return math.MaxInt64
	}
	return time.Duration(s * 1e9)
}

// textBuilder writes all reason texts of one Result into one buffer, so a
// Result costs two allocations (its Reasons and one string backing every
// Text) however many reasons it has.
type textBuilder struct {
	b       []byte
	pending []pendingReason
}

type pendingReason struct {
	code       string
	start, end int
	blocker    bool
}

func (t *textBuilder) reset() {
	t.b = t.b[:0]
	t.pending = t.pending[:0]
}

// begin starts a reason; its text is whatever is appended until the next
// begin or finish.
func (t *textBuilder) begin(code string, blocker bool) *textBuilder {
	t.close()
	t.pending = append(t.pending, pendingReason{code: code, start: len(t.b), end: -1, blocker: blocker})
	return t
}

func (t *textBuilder) close() {
	if n := len(t.pending); n > 0 && t.pending[n-1].end < 0 {
		t.pending[n-1].end = len(t.b)
	}
}

// finish hands the reasons to r: Blockers and Reasons share one backing
// array, each in the order begun.
func (t *textBuilder) finish(r *Result) {
	t.close()
	if len(t.pending) == 0 {
		return
	}
	s := string(t.b)
	out := make([]Reason, 0, len(t.pending))
	for _, blocker := range [...]bool{true, false} {
		for _, p := range t.pending {
			if p.blocker == blocker {
				out = append(out, Reason{Code: p.code, Text: s[p.start:p.end]})
			}
		}
	}
	nb := 0
	for _, p := range t.pending {
		if p.blocker {
			nb++
		}
	}
	if nb > 0 {
		r.Blockers = out[:nb:nb]
	}
	if nb < len(out) {
		r.Reasons = out[nb:]
	}
}

func (t *textBuilder) s(s string) *textBuilder {
	t.b = append(t.b, s...)
	return t
}

func (t *textBuilder) int(n int) *textBuilder {
	t.b = strconv.AppendInt(t.b, int64(n), 10)
	return t
}

// times writes how many times something happened: never, once, n times.
func (t *textBuilder) times(n int) *textBuilder {
	switch n {
	case 0:
		return t.s("never")
	case 1:
		return t.s("once")
	}
	return t.int(n).s(" times")
}

// num writes v with prec decimals, without trailing zeros.
func (t *textBuilder) num(v float64, prec int) *textBuilder {
	start := len(t.b)
	t.b = strconv.AppendFloat(t.b, v, 'f', prec, 64)
	if prec > 0 {
		i := len(t.b)
		for i > start && t.b[i-1] == '0' {
			i--
		}
		if i > start && t.b[i-1] == '.' {
			i--
		}
		t.b = t.b[:i]
	}
	return t
}

// pct writes a ratio as a percentage with one decimal.
func (t *textBuilder) pct(v float64) *textBuilder {
	t.b = strconv.AppendFloat(t.b, v*100, 'f', 1, 64)
	t.b = append(t.b, '%')
	return t
}

// money writes an amount with its currency: cents for amounts of at least
// 1, four decimals below, so small idle costs do not read as zero.
func (t *textBuilder) money(v float64, currency string) *textBuilder {
	prec := 2
	if math.Abs(v) < 1 {
		prec = 4
	}
	t.b = strconv.AppendFloat(t.b, v, 'f', prec, 64)
	if currency != "" {
		t.b = append(t.b, ' ')
		t.b = append(t.b, currency...)
	}
	return t
}

// moneyRange writes "lo to hi", or a single amount when both read the
// same.
func (t *textBuilder) moneyRange(lo, hi float64, currency string) *textBuilder {
	start := len(t.b)
	t.money(lo, currency)
	mid := len(t.b)
	t.money(hi, currency)
	if string(t.b[start:mid]) == string(t.b[mid:]) {
		t.b = t.b[:mid]
		return t
	}
	t.b = t.b[:mid]
	return t.s(" to ").money(hi, currency)
}

// durRange writes "lo to hi", or a single duration when both read the
// same.
func (t *textBuilder) durRange(lo, hi time.Duration) *textBuilder {
	start := len(t.b)
	t.dur(lo)
	mid := len(t.b)
	t.dur(hi)
	if string(t.b[start:mid]) == string(t.b[mid:]) {
		t.b = t.b[:mid]
		return t
	}
	t.b = t.b[:mid]
	return t.s(" to ").dur(hi)
}

func (t *textBuilder) mib(bytes uint64) *textBuilder {
	t.b = strconv.AppendFloat(t.b, float64(bytes)/(1<<20), 'f', 0, 64)
	t.b = append(t.b, " MiB"...)
	return t
}

// dur writes d compactly (3d4h, 2h5m, 15m, 30s) without the allocation
// of Duration.String.
func (t *textBuilder) dur(d time.Duration) *textBuilder {
	switch {
	case d >= 24*time.Hour:
		t.int(int(d / (24 * time.Hour))).s("d").int(int(d % (24 * time.Hour) / time.Hour)).s("h")
	case d >= time.Hour:
		t.int(int(d / time.Hour)).s("h").int(int(d % time.Hour / time.Minute)).s("m")
	case d >= time.Minute:
		t.int(int(d / time.Minute)).s("m")
		if s := d % time.Minute / time.Second; s != 0 {
			t.int(int(s)).s("s")
		}
	default:
		t.int(int(d / time.Second)).s("s")
	}
	return t
}

// hourRanges writes hours of the day as UTC ranges, e.g. "00-06, 22-23".
func (t *textBuilder) hourRanges(hours []int) *textBuilder {
	for i := 0; i < len(hours); {
		j := i
		for j+1 < len(hours) && hours[j+1] == hours[j]+1 {
			j++
		}
		if i > 0 {
			t.s(", ")
		}
		t.hour(hours[i])
		if j > i {
			t.s("-").hour(hours[j])
		}
		i = j + 1
	}
	return t
}

// sleepText writes when s sleeps: "on workdays 00-06, 22-23 and at
// weekends all day (Europe/Berlin)".
func (t *textBuilder) sleepText(s *SleepSchedule) *textBuilder {
	part := func(hs HourSet) {
		if hs.Len() == 24 {
			t.s("all day")
			return
		}
		var hours [24]int
		n := 0
		for h := range 24 {
			if hs.Has(h) {
				hours[n] = h
				n++
			}
		}
		t.hourRanges(hours[:n])
	}
	switch {
	case s.Workdays != 0 && s.Workdays == s.Weekend:
		t.s("every day ")
		part(s.Workdays)
	case s.Workdays != 0 && s.Weekend != 0:
		t.s("on workdays ")
		part(s.Workdays)
		t.s(" and at weekends ")
		part(s.Weekend)
	case s.Workdays != 0:
		t.s("on workdays ")
		part(s.Workdays)
	default:
		t.s("at weekends ")
		part(s.Weekend)
	}
	return t.s(" (").s(s.Zone).s(")")
}

func (t *textBuilder) hour(h int) *textBuilder {
	if h < 10 {
		t.b = append(t.b, '0')
	}
	return t.int(h)
}
