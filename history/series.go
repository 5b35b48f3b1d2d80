package history

import (
	"math"
	"time"
	"unsafe"
)

const (
	nsPerMinute = int64(time.Minute)
	nsPerHour   = int64(time.Hour)
)

// Byte costs of a Series, asserted by the tests (see the package doc).
const (
	// SeriesHeaderBytes is what a Series costs before its first sample.
	SeriesHeaderBytes = int(unsafe.Sizeof(Series{}))
	// SeriesBytes is what a Series costs once it is a week old: the
	// header and both rings at full length, the minute ring with its fine
	// CPU codes. A younger Series costs less: its rings grow with its age
	// (see growRings).
	SeriesBytes = SeriesHeaderBytes + MinutesKept*int(unsafe.Sizeof(Minute(0))+1) + HoursKept*int(unsafe.Sizeof(hourRec{}))
)

// Sample is what the agent feeds each tick for one container: deltas since
// its previous sample.
type Sample struct {
	Time time.Time
	// CPUSeconds that are negative, NaN or absurd (≥ 1e12) count as zero.
	CPUSeconds float64
	// WorkingSet is a gauge, in bytes; a minute keeps its maximum.
	WorkingSet             uint64
	NetRxBytes, NetTxBytes uint64
	DiskWriteBytes         uint64
	TCPAccepts             uint64
	// Interval is the span the deltas cover. When zero, it is the time
	// since the previous sample fed to the Series, which is unknown for the
	// first sample ever (its deltas count in the totals, not in the rates).
	Interval time.Duration
	// Down is true for a sample of a container that is not running while
	// its pod lives on (a crash, a restart back-off): the pod keeps its
	// reservation, so the time is observed, idle and counted as down.
	Down bool
	// Listening is true when the container's network namespace has a
	// listening TCP socket.
	Listening bool
	// Mono is a reading of a monotonic clock taken with Time (any origin,
	// the same for every sample of a process); 0 when unknown. It tells a
	// step of the wall clock from time really passing; without it the
	// monotonic reading Time carries, if any (time.Now's), is used.
	Mono time.Duration
	// Busy, when BusyFrom is not FromSamples, is the part of Interval the
	// container ran, measured below the sample. It refines a sample busy
	// by its CPU rate alone; a sample busy by its network or disk rate is
	// busy in full, one idle by its rates is idle.
	Busy     time.Duration
	BusyFrom Resolution
}

// Resolution says what measured a sample's busy time.
type Resolution uint8

const (
	// FromSamples: the sample's own rates, busy or idle in full.
	FromSamples Resolution = iota
	// FromFine: readings at a shorter interval inside the sample.
	FromFine
	// FromPeriods: the CFS bandwidth periods the cgroup ran in.
	FromPeriods
)

var resolutionNames = [...]string{"samples", "fine", "periods"}

func (r Resolution) String() string {
	if int(r) < len(resolutionNames) {
		return resolutionNames[r]
	}
	return "samples"
}

// Thresholds decide whether a finished minute was idle: idle = CPU cores
// (CPU seconds of the minute / observed seconds in it) < CPUCores and
// (rx+tx bytes)/s < NetBytesPerSecond and disk write bytes/s <
// DiskWriteBytesPerSecond. Observed seconds are the sum of the intervals of
// the samples in that minute. With zero thresholds every minute is active.
type Thresholds struct {
	CPUCores, NetBytesPerSecond, DiskWriteBytesPerSecond float64
}

// Series is one container's history. Minutes and hours are numbered from
// the Unix epoch; minute m lives in slot m mod the minute ring's length n,
// so the minute ring always holds minutes [cur-n, cur) and the hour ring
// hours [curHour-len(hours), curHour). The rings start short and grow with
// the container's age up to a week (MinutesKept, HoursKept): their length
// is always at least the number of minutes (hours) since the first sample,
// so nothing since then is ever overwritten before it is a week old, and a
// young Series (or one decoded from a few bytes of checkpoint) costs memory
// in proportion to its age. Not safe for concurrent use.
//
// Each minute keeps a fine CPU code beside its byte (see EncodeCPUFine):
// percentiles near a limit need more than the ±5.5% of the byte. The
// minute ring holds both, in one allocation that grows as one: ring[:n]
// are the minutes, ring[n:] their fine codes, slot for slot (see mins and
// fine).
//
// Minutes are numbered on the series' own timeline: the wall clock plus
// offset. When the wall clock steps (a sample stamped 30 days ahead, an NTP
// correction backwards), the offset absorbs the step, so the timeline only
// moves as far as time really passed (see clock) and history is neither
// wiped by a jump ahead nor frozen by a jump back.
type Series struct {
	ring     []Minute // 2n entries, nil until the first sample
	hours    []hourRec
	first    int64 // timeline nanoseconds of the first sample
	last     int64 // timeline nanoseconds of the latest sample
	cur      int64 // minute in progress
	offset   int64 // timeline − wall clock, nanoseconds
	acc      minuteAcc
	hour     hourAcc // hour of cur
	observed int32   // valid minutes in the ring
	// partial: the run in progress began in a sample busy in part, so
	// only a sample busy in full goes on with it. Not checkpointed.
	partial bool
	from    Resolution // of the latest sample, not checkpointed
	run     int64      // nanoseconds of the busy run in progress, 0 if none
	seen    bool
	clk     clock
	ev      evidence // in memory only: see Evidence
}

// Offset is how far the series' timeline is from the wall clock after the
// clock steps it absorbed: zero until the wall clock steps.
func (s *Series) Offset() time.Duration { return time.Duration(s.offset) }

// NewSeries returns an empty Series. Its rings are allocated by the first
// sample.
func NewSeries() *Series { return &Series{} }

// FirstSeen is the time of the first sample ever, kept across checkpoints;
// zero before any sample.
func (s *Series) FirstSeen() time.Time {
	if !s.seen {
		return time.Time{}
	}
	return time.Unix(0, s.first-s.offset)
}

// LastSeen is the time of the latest sample; zero before any sample.
func (s *Series) LastSeen() time.Time {
	if !s.seen {
		return time.Time{}
	}
	return time.Unix(0, s.last-s.offset)
}

// ObservedMinutes is the number of valid minutes in the ring.
func (s *Series) ObservedMinutes() int { return int(s.observed) }

// Add accumulates sm into the minute in progress. When sm.Time lies in a
// later minute, it first closes that minute (with th deciding idle or
// active), marks the minutes skipped since as without data, and starts the
// new one. Minutes are those of the series' timeline, which absorbs steps
// of the wall clock (see Series). Samples whose Time is zero or outside the
// years 1678 to 2262 are ignored. Add does not allocate, except for the
// rings: on the first sample, and when they grow during the container's
// first week (18 times in all).
func (s *Series) Add(sm Sample, th Thresholds) {
	t, ok := s.timeline(sm.Time, sm.Mono)
	if !ok {
		return
	}
	m := floorDiv(t, nsPerMinute)
	if !s.seen {
		s.start(t, m)
	} else if m < s.cur {
		return
	} else if m > s.cur {
		s.advance(m, &th)
	}
	interval := int64(sm.Interval)
	if interval <= 0 {
		interval = max(t-s.last, 0)
	}
	s.last = max(s.last, t)
	s.acc.add(&sm, interval)
	s.tick(&sm, interval, &th)
}

// tick follows activity below the minute: busy time, runs of busy samples
// and the CPU peak of a sample. A run goes on across samples that are
// missing (nothing says the work paused) and ends at a sample that is not
// busy.
func (s *Series) tick(sm *Sample, interval int64, th *Thresholds) {
	b, byCPU, cores := busy(sm, interval, th)
	a := &s.acc
	s.from = sm.BusyFrom
	if interval >= int64(time.Second) {
		// Over shorter spans the counters' granularity makes a rate
		// noise.
		a.peak = max(a.peak, cores)
	}
	if !b {
		if interval > 0 {
			s.run, s.partial = 0, false
		}
		return
	}
	a.busyCPU += cpuDelta(sm)
	if sm.BusyFrom == FromSamples || !byCPU {
		if s.run == 0 {
			a.runs++
		}
		s.run, s.partial = satAdd(s.run, interval), false
		a.busy += interval
		a.longest = max(a.longest, s.run)
		return
	}
	d := min(max(int64(sm.Busy), 0), interval)
	if d >= int64(100*time.Millisecond) {
		// The rate while it ran: what a platform must size it for.
		a.peak = max(a.peak, cpuDelta(sm)*1e9/float64(d))
	}
	s.measured(d, interval)
}

// measured follows a sample whose busy time d was measured below it.
// Where in the sample the work lay is unknown, so a sample busy in part
// is taken to end the run that samples busy in full carried into it, or
// else to hold a run of its own, which a sample busy in full may carry
// on. A run is then never longer than it was, and short of it by at most
// one sample's busy time.
func (s *Series) measured(d, interval int64) {
	a := &s.acc
	a.busy += d
	switch full := d >= interval-interval/20; {
	case d == 0:
		s.run, s.partial = 0, false
		return
	case full:
		if s.run == 0 {
			a.runs++
		}
		s.run, s.partial = satAdd(s.run, d), false
	case s.run > 0 && !s.partial:
		s.run = satAdd(s.run, d)
		a.longest = max(a.longest, s.run)
		s.run = 0
		return
	default:
		a.runs++
		s.run, s.partial = d, true
	}
	a.longest = max(a.longest, s.run)
}

// BusyFrom is what measured the busy time of the latest sample: the
// resolution of the container's busy share as its samples now come.
func (s *Series) BusyFrom() Resolution { return s.from }

// NoteRestart counts a restart of the container in the hour in progress:
// the agent saw a new instance replace a dead one. It does nothing before
// the first sample.
func (s *Series) NoteRestart() {
	if s.seen {
		s.hour.restarts = uint8(min(int(s.hour.restarts)+1, math.MaxUint8))
		s.ev.Restarts++
	}
}

// Advance closes the minute in progress if now lies in a later minute,
// without adding a sample, so that the last minute of a container that
// stopped being sampled becomes visible. It does nothing before the first
// sample.
func (s *Series) Advance(now time.Time, th Thresholds) { s.AdvanceMono(now, 0, th) }

// AdvanceMono is Advance with a monotonic clock reading taken with now, as
// in Sample.Mono.
func (s *Series) AdvanceMono(now time.Time, mono time.Duration, th Thresholds) {
	if !s.seen {
		return
	}
	t, ok := s.timeline(now, mono)
	if m := floorDiv(t, nsPerMinute); ok && m > s.cur {
		s.advance(m, &th)
	}
}

func (s *Series) start(t, m int64) {
	s.seen = true
	s.first, s.last, s.cur = t, t, m
	if s.ring == nil {
		s.allocRings(0, 0)
	}
}

// advance closes minute s.cur and makes m (> s.cur) the minute in progress.
func (s *Series) advance(m int64, th *Thresholds) {
	s.growRings(m)
	b, fine := s.acc.minute(th)
	s.setMinute(s.cur, b, fine)
	s.ev.minute(s.cur, &s.acc, b, fine)
	if b.Valid() {
		s.hour.addMinute(&s.acc, b)
	}
	s.acc = minuteAcc{}
	s.clearMinutes(s.cur+1, m)

	if h, nh := floorDiv(s.cur, 60), floorDiv(m, 60); nh > h {
		s.hours[mod(h, len(s.hours))] = s.hour.rec()
		s.hour = hourAcc{}
		s.clearHours(h+1, nh)
	}
	s.cur = m
}
