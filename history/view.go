package history

import (
	"slices"
	"time"
)

// AppendMinutes appends one entry per minute in [from, to), both truncated
// to whole minutes, oldest first, and returns dst. A window longer than
// MaxWindow is shortened to its last MaxWindow. Only finished minutes
// still in the ring have data; the minute in progress, minutes before the
// first sample and minutes older than a week are Minute(0). It does not
// allocate when dst has room.
func (s *Series) AppendMinutes(dst []Minute, from, to time.Time) []Minute {
	return appendMinuteRing(s, dst, s.mins(), from, to)
}

// AppendCPUFine appends the fine CPU code (see EncodeCPUFine) of every
// minute in [from, to), exactly as AppendMinutes appends the minutes, and
// returns dst: 0 where AppendMinutes gives Minute(0). It does not allocate
// when dst has room.
func (s *Series) AppendCPUFine(dst []uint8, from, to time.Time) []uint8 {
	return appendMinuteRing(s, dst, s.fine(), from, to)
}

// EachMinutes calls fn for each stretch of the window [from, to) (windows
// as in AppendMinutes) that the minute ring holds, oldest first, and
// returns the window's length in minutes. at is where mins[0] lies in the
// window, fine the fine CPU codes of mins, slot for slot; the window's
// other minutes are Minute(0), as AppendMinutes gives them. It reads a
// week of minutes in place, where AppendMinutes and AppendCPUFine copy
// 20 KB: fn must not keep or modify the slices, nor add to s.
func (s *Series) EachMinutes(from, to time.Time, fn func(at int, mins []Minute, fine []uint8)) int {
	f, t := s.window(from, to, 60, MaxWindow/time.Minute)
	if t <= f {
		return 0
	}
	if s.seen {
		n := len(s.ring) / 2
		mins, fine := s.mins(), s.fine()
		lo := max(f, s.cur-int64(n))
		at := int(lo - f)
		for i, j := range segments(lo, min(t, s.cur), n) {
			fn(at, mins[i:j:j], fine[i:j:j])
			at += j - i
		}
	}
	return int(t - f)
}

// appendMinuteRing appends ring's entry for every minute in [from, to), as
// AppendMinutes describes; ring is one of s's per-minute rings, indexed by
// minute modulo its length.
func appendMinuteRing[T any](s *Series, dst, ring []T, from, to time.Time) []T {
	f, t := s.window(from, to, 60, MaxWindow/time.Minute)
	if t <= f {
		return dst
	}
	dst, out := appendZeros(dst, t-f)
	if !s.seen {
		return dst
	}
	lo := max(f, s.cur-int64(len(ring)))
	at := lo - f
	for i, j := range segments(lo, min(t, s.cur), len(ring)) {
		at += int64(copy(out[at:], ring[i:j]))
	}
	return dst
}

// AppendHours appends one entry per hour in [from, to), both truncated to
// whole hours, oldest first, and returns dst. A window longer than
// MaxWindow is shortened to its last MaxWindow. Finished hours come from the
// ring; the hour in progress is included as a partial aggregate of its
// finished minutes (its Minutes field says how many). Hours without data
// are zero. It does not allocate when dst has room.
func (s *Series) AppendHours(dst []Hour, from, to time.Time) []Hour {
	f, t := s.window(from, to, 3600, MaxWindow/time.Hour)
	if t <= f {
		return dst
	}
	dst, out := appendZeros(dst, t-f)
	if !s.seen {
		return dst
	}
	curH := floorDiv(s.cur, 60)
	lo := max(f, curH-int64(len(s.hours)))
	at := lo - f
	for i, j := range segments(lo, min(t, curH), len(s.hours)) {
		for k := i; k < j; k++ {
			out[at] = s.hours[k].hour()
			at++
		}
	}
	if f <= curH && curH < t {
		r := s.hour.rec()
		out[curH-f] = r.hour()
	}
	return dst
}

// Totals sum the hours of a window that have a sampled minute, as
// SumHours gives them.
type Totals struct {
	// Hours is how many hours were summed.
	Hours int
	// The sums of the Hour fields of the same names, each hour's value
	// converted to float64 and added oldest first.
	TCPAccepts, DiskWriteBytes, BusyCPUSeconds, BusySeconds, SampledSeconds float64
	// The sums of the Hour fields of the same names.
	BusyRuns, Restarts, ListenMinutes, DownMinutes int
	// The highest of the Hour fields of the same names.
	LongestBusyRun time.Duration
	PeakCores      float32
}

// Merge adds o, another Series' totals, to t: sums, and the higher of
// the maxima.
func (t *Totals) Merge(o *Totals) {
	t.Hours += o.Hours
	t.TCPAccepts += o.TCPAccepts
	t.DiskWriteBytes += o.DiskWriteBytes
	t.BusyCPUSeconds += o.BusyCPUSeconds
	t.BusySeconds += o.BusySeconds
	t.SampledSeconds += o.SampledSeconds
	t.BusyRuns += o.BusyRuns
	t.Restarts += o.Restarts
	t.ListenMinutes += o.ListenMinutes
	t.DownMinutes += o.DownMinutes
	t.LongestBusyRun = max(t.LongestBusyRun, o.LongestBusyRun)
	t.PeakCores = max(t.PeakCores, o.PeakCores)
}

// SumHours sums the hours of [from, to) that have a sampled minute, the
// hours AppendHours gives (the one in progress included), and appends the
// MaxWorkingSet of each to ws, oldest first. It reads the hour ring in
// place and decodes one peak, the highest, where AppendHours decodes
// every field of every hour (a peak takes an exponential). It does not
// allocate when ws has room.
func (s *Series) SumHours(from, to time.Time, ws []uint64) (Totals, []uint64) {
	var t Totals
	f, end := s.window(from, to, 3600, MaxWindow/time.Hour)
	if end <= f || !s.seen {
		return t, ws
	}
	// Peak codes order as the rates they decode to (a checkpoint's are
	// checked to be at most codeMax), so only the highest is decoded.
	var peak uint16
	curH := floorDiv(s.cur, 60)
	n := len(s.hours)
	for i, j := range segments(max(f, curH-int64(n)), min(end, curH), n) {
		ws = t.add(s.hours[i:j], ws, &peak)
	}
	if f <= curH && curH < end {
		r := [1]hourRec{s.hour.rec()}
		ws = t.add(r[:], ws, &peak)
	}
	if t.Hours > 0 {
		t.PeakCores = float32(CoresFine(uint8(peak>>8), uint8(peak)))
	}
	return t, ws
}

// add sums recs into t, appending their working sets to ws, and raises
// peak to their highest peak code. The sums are locals and the counts
// are read straight from their bits, so that the loop runs in registers:
// the compiler keeps a struct of more than four fields in memory.
func (t *Totals) add(recs []hourRec, ws []uint64, peak *uint16) []uint64 {
	accepts, disk, busyCPU, busy, sampled := t.TCPAccepts, t.DiskWriteBytes, t.BusyCPUSeconds, t.BusySeconds, t.SampledSeconds
	hours, runs, restarts, listen, down := t.Hours, t.BusyRuns, t.Restarts, t.ListenMinutes, t.DownMinutes
	longest, p := t.LongestBusyRun, *peak
	k := len(ws)
	ws = slices.Grow(ws, len(recs))[:k+len(recs)]
	const w12, w6 = 1<<12 - 1, 1<<6 - 1
	for i := range recs {
		r := &recs[i]
		n := r.n
		if n>>shiftMinutes&w6 == 0 {
			continue
		}
		hours++
		ws[k] = uint64(r.maxWSKiB) << 10
		k++
		accepts += float64(r.accepts)
		disk += float64(r.disk)
		busyCPU += float64(r.busyCPU)
		busy += float64(n & w12)
		sampled += float64(n >> shiftSampled & w12)
		runs += int(n >> shiftRuns & w12)
		listen += int(n >> shiftListen & w6)
		down += int(n >> shiftDown & w6)
		restarts += int(n >> shiftRestarts)
		longest = max(longest, time.Duration(r.longest)*time.Second)
		p = max(p, r.peak)
	}
	t.TCPAccepts, t.DiskWriteBytes, t.BusyCPUSeconds, t.BusySeconds, t.SampledSeconds = accepts, disk, busyCPU, busy, sampled
	t.Hours, t.BusyRuns, t.Restarts, t.ListenMinutes, t.DownMinutes = hours, runs, restarts, listen, down
	t.LongestBusyRun, *peak = longest, p
	return ws[:k]
}

// appendZeros extends dst by n zero entries, growing it only when it has
// no room, and returns it and the entries added.
func appendZeros[T any](dst []T, n int64) (all, added []T) {
	l := len(dst)
	dst = slices.Grow(dst, int(n))[:l+int(n)]
	clear(dst[l:])
	return dst, dst[l:]
}

// MaxWindow bounds the windows of AppendMinutes and AppendHours, so that a
// careless from (a zero time, say) cannot ask for millions of entries.
// Nothing older than a week is kept, so it never cuts off data.
const MaxWindow = 31 * 24 * time.Hour

// window numbers the minutes or hours (units of unit seconds) of [from, to)
// on the series' timeline, at most maxLen of them. Unix seconds cover every
// time.Time without overflow; the offset, which a step of the wall clock
// set, is within the range of Unix nanoseconds.
func (s *Series) window(from, to time.Time, unit int64, maxLen time.Duration) (f, t int64) {
	off := floorDiv(s.offset, int64(time.Second))
	f, t = floorDiv(satAdd(from.Unix(), off), unit), floorDiv(satAdd(to.Unix(), off), unit)
	return max(f, t-int64(maxLen)), t
}
