package history

import (
	"math"
	"slices"
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

// Shortest rings, so that a young Series does not reallocate every minute.
const (
	minMinuteRing = 16
	minHourRing   = 2
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
}

// Thresholds decide whether a finished minute was idle: idle = CPU cores
// (CPU seconds of the minute / observed seconds in it) < CPUCores and
// (rx+tx bytes)/s < NetBytesPerSecond and disk write bytes/s <
// DiskWriteBytesPerSecond. Observed seconds are the sum of the intervals of
// the samples in that minute. With zero thresholds every minute is active.
type Thresholds struct {
	CPUCores, NetBytesPerSecond, DiskWriteBytesPerSecond float64
}

// Hour aggregates one hour. In the ring it takes 40 bytes (float32 sums,
// working set in KiB as a uint32, so at most 4 TiB).
type Hour struct {
	CPUSeconds float32
	// MaxWorkingSet is the largest working set sampled, in bytes, rounded
	// up to a whole KiB.
	MaxWorkingSet          uint64
	NetRxBytes, NetTxBytes float32
	DiskWriteBytes         float32
	// TCPAccepts counts inbound TCP connections accepted (a request
	// estimate), saturating at 2^32-1.
	TCPAccepts uint32
	// Minutes is the number of sampled minutes in the hour, ActiveMinutes
	// how many of them were active.
	Minutes       uint8
	ActiveMinutes uint8

	// Activity below the minute, at the resolution of the samples: a
	// sample is busy when its own rates (its deltas over its interval) are
	// not all below the thresholds that make a minute idle.
	//
	// SampledSeconds is the time covered by the samples of the sampled
	// minutes, whole seconds: less than a minute each for the minutes
	// that sampling began or ended in. BusySeconds is the part of it
	// covered by busy samples, and BusyCPUSeconds the CPU time they hold.
	SampledSeconds uint16
	BusySeconds    uint16
	BusyCPUSeconds float32
	// BusyRuns counts the runs of consecutive busy samples that began in
	// the hour, saturating at 4095.
	BusyRuns uint16
	// LongestBusyRun is the longest run of consecutive busy samples seen
	// in the hour, including its part in earlier hours, to the second and
	// at most 65535 s.
	LongestBusyRun time.Duration
	// PeakCores is the highest CPU rate of a single sample, within 0.022%
	// (see EncodeCPUFine).
	PeakCores float32

	// ListenMinutes counts the sampled minutes with a listening TCP
	// socket, DownMinutes those mostly down (see Sample.Down), Restarts
	// the restarts noted in the hour (see Series.NoteRestart), saturating
	// at 15: the kubelet's back-off reaches 5 minutes within a few
	// restarts, so a crash loop restarts about 12 times an hour.
	ListenMinutes, DownMinutes, Restarts uint8
}

// hourRec is the ring form of an Hour: 40 bytes.
type hourRec struct {
	n            uint64 // the small counts, packed by hourCounts.pack
	cpu          float32
	maxWSKiB     uint32
	rx, tx, disk float32
	accepts      uint32
	busyCPU      float32
	peak         uint16 // CPU code << 8 | fine code, see EncodeCPUFine
	longest      uint16 // seconds
}

// hourCounts are the small counts of an hour, which an hourRec packs into
// 64 bits so that it stays at 40 bytes: busy and sampled seconds (at most
// 3600) and busy runs in 12 bits each, the runs saturating at 4095 (a
// run takes two samples, so only intervals under 1.8 s reach that);
// sampled, active, listening and down minutes in 6 bits each; restarts in
// 4.
type hourCounts struct {
	busy, sampled, runs         uint16
	minutes, actv, listen, down uint8
	restarts                    uint8
}

// maxRestarts is the most restarts an hour record holds.
const maxRestarts = 15

// Bit offsets of the packed counts.
const (
	shiftSampled  = 12
	shiftRuns     = 24
	shiftMinutes  = 36
	shiftActv     = 42
	shiftListen   = 48
	shiftDown     = 54
	shiftRestarts = 60
)

func (c hourCounts) pack() uint64 {
	const w12, w6 = 1<<12 - 1, 1<<6 - 1
	return min(uint64(c.busy), w12) | min(uint64(c.sampled), w12)<<shiftSampled |
		min(uint64(c.runs), w12)<<shiftRuns | min(uint64(c.minutes), w6)<<shiftMinutes |
		min(uint64(c.actv), w6)<<shiftActv | min(uint64(c.listen), w6)<<shiftListen |
		min(uint64(c.down), w6)<<shiftDown | min(uint64(c.restarts), maxRestarts)<<shiftRestarts
}

func (r *hourRec) counts() hourCounts {
	n := r.n
	return hourCounts{
		busy:     uint16(n & (1<<12 - 1)),
		sampled:  uint16(n >> shiftSampled & (1<<12 - 1)),
		runs:     uint16(n >> shiftRuns & (1<<12 - 1)),
		minutes:  uint8(n >> shiftMinutes & 63),
		actv:     uint8(n >> shiftActv & 63),
		listen:   uint8(n >> shiftListen & 63),
		down:     uint8(n >> shiftDown & 63),
		restarts: uint8(n >> shiftRestarts),
	}
}

// peakCode encodes a CPU rate as hourRec.peak.
func peakCode(cores float64) uint16 {
	code, fine := EncodeCPUFine(cores)
	return uint16(code)<<8 | uint16(fine)
}

func (r *hourRec) peakCores() float64 { return CoresFine(uint8(r.peak>>8), uint8(r.peak)) }

func (r *hourRec) hour() Hour {
	c := r.counts()
	return Hour{
		CPUSeconds:     r.cpu,
		MaxWorkingSet:  uint64(r.maxWSKiB) << 10,
		NetRxBytes:     r.rx,
		NetTxBytes:     r.tx,
		DiskWriteBytes: r.disk,
		TCPAccepts:     r.accepts,
		Minutes:        c.minutes,
		ActiveMinutes:  c.actv,
		SampledSeconds: c.sampled,
		BusySeconds:    c.busy,
		BusyCPUSeconds: r.busyCPU,
		BusyRuns:       c.runs,
		LongestBusyRun: time.Duration(r.longest) * time.Second,
		PeakCores:      float32(r.peakCores()),
		ListenMinutes:  c.listen,
		DownMinutes:    c.down,
		Restarts:       c.restarts,
	}
}

// maxCPUDelta bounds a sample's CPU seconds: about 30,000 years of a core.
const maxCPUDelta = 1e12

// minuteAcc accumulates the samples of the minute in progress.
type minuteAcc struct {
	observed     int64 // nanoseconds covered by the samples' intervals
	cpu          float64
	rx, tx, disk uint64
	accepts      uint64
	maxWS        uint64
	samples      uint32
	// Below the minute: nanoseconds covered by busy samples and their CPU
	// seconds, the longest busy run so far (nanoseconds), busy runs begun,
	// the highest CPU rate of a sample.
	busy, longest int64
	runs          uint32
	peak, busyCPU float64
	down          int64 // nanoseconds of down samples
	listen        bool  // a sample saw a listening socket
}

func (a *minuteAcc) add(sm *Sample, interval int64) {
	a.samples++
	a.observed += interval
	a.cpu += cpuDelta(sm)
	if sm.Down {
		a.down += interval
	}
	a.listen = a.listen || sm.Listening
	a.rx += sm.NetRxBytes
	a.tx += sm.NetTxBytes
	a.disk += sm.DiskWriteBytes
	a.accepts += sm.TCPAccepts
	a.maxWS = max(a.maxWS, sm.WorkingSet)
}

// cpuDelta is a sample's CPU seconds: NaN, negative (a counter reset) and
// absurd deltas count as zero, so that sums stay finite and checkpoints
// stay readable.
func cpuDelta(sm *Sample) float64 {
	if sm.CPUSeconds > 0 && sm.CPUSeconds < maxCPUDelta {
		return sm.CPUSeconds
	}
	return 0
}

// busy reports whether a sample's own rates are not all below th, as
// minute decides for a minute; a sample of unknown interval is not.
func busy(sm *Sample, interval int64, th *Thresholds) (bool, float64) {
	if interval <= 0 {
		return false, 0
	}
	secs := float64(interval) / 1e9
	cores := cpuDelta(sm) / secs
	net := (float64(sm.NetRxBytes) + float64(sm.NetTxBytes)) / secs
	disk := float64(sm.DiskWriteBytes) / secs
	return !(cores < th.CPUCores && net < th.NetBytesPerSecond && disk < th.DiskWriteBytesPerSecond), cores
}

// minute closes the accumulator into its byte. Without a known interval the
// rates are taken as zero.
func (a *minuteAcc) minute(th *Thresholds) (Minute, uint8) {
	if a.samples == 0 {
		return 0, 0
	}
	var cores, net, disk float64
	if a.observed > 0 {
		secs := float64(a.observed) / 1e9
		cores = a.cpu / secs
		net = (float64(a.rx) + float64(a.tx)) / secs
		disk = float64(a.disk) / secs
	}
	idle := cores < th.CPUCores && net < th.NetBytesPerSecond && disk < th.DiskWriteBytesPerSecond
	_, fine := EncodeCPUFine(cores)
	return MakeMinute(cores, !idle), fine
}

// hourAcc accumulates the finished minutes of the hour in progress.
type hourAcc struct {
	cpu                    float64
	rx, tx, disk           uint64
	accepts                uint64
	maxWS                  uint64
	minutes, actv          uint8
	observed               int64 // nanoseconds covered by samples
	busy, longest          int64 // nanoseconds
	runs                   uint32
	peak, busyCPU          float64
	listen, down, restarts uint8
}

func (h *hourAcc) addMinute(a *minuteAcc, m Minute) {
	h.cpu += a.cpu
	h.rx += a.rx
	h.tx += a.tx
	h.disk += a.disk
	h.accepts += a.accepts
	h.maxWS = max(h.maxWS, a.maxWS)
	h.observed += a.observed
	h.busy += a.busy
	h.longest = max(h.longest, a.longest)
	h.runs += a.runs
	h.peak = max(h.peak, a.peak)
	h.busyCPU += a.busyCPU
	if a.listen {
		h.listen++
	}
	if a.down > 0 && 2*a.down >= a.observed {
		h.down++
	}
	h.minutes++
	if m.Active() {
		h.actv++
	}
}

func (h *hourAcc) rec() hourRec {
	return hourRec{
		n: hourCounts{
			busy:     uint16(min((h.busy+5e8)/1e9, 3600)),
			sampled:  uint16(min((h.observed+5e8)/1e9, 3600)),
			runs:     uint16(min(h.runs, math.MaxUint16)),
			minutes:  h.minutes,
			actv:     h.actv,
			listen:   h.listen,
			down:     h.down,
			restarts: h.restarts,
		}.pack(),
		cpu:      float32(h.cpu),
		maxWSKiB: uint32(min((h.maxWS+1023)>>10, math.MaxUint32)),
		rx:       float32(h.rx),
		tx:       float32(h.tx),
		disk:     float32(h.disk),
		accepts:  uint32(min(h.accepts, math.MaxUint32)),
		longest:  uint16(min((h.longest+5e8)/1e9, math.MaxUint16)),
		peak:     peakCode(h.peak),
		busyCPU:  float32(h.busyCPU),
	}
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
	run      int64   // nanoseconds of the busy run in progress, 0 if none
	seen     bool
	clk      clock
}

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
	b, cores := busy(sm, interval, th)
	a := &s.acc
	if interval >= int64(time.Second) {
		// Over shorter spans the counters' granularity makes a rate
		// noise.
		a.peak = max(a.peak, cores)
	}
	if !b {
		if interval > 0 {
			s.run = 0
		}
		return
	}
	if s.run == 0 {
		a.runs++
	}
	s.run = satAdd(s.run, interval)
	a.busy += interval
	a.busyCPU += cpuDelta(sm)
	a.longest = max(a.longest, s.run)
}

// NoteRestart counts a restart of the container in the hour in progress:
// the agent saw a new instance replace a dead one. It does nothing before
// the first sample.
func (s *Series) NoteRestart() {
	if s.seen {
		s.hour.restarts = uint8(min(int(s.hour.restarts)+1, math.MaxUint8))
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

// allocRings allocates rings long enough for need minutes and needH
// hours.
func (s *Series) allocRings(need, needH int64) {
	s.ring = make([]Minute, 2*ringLen(need, minMinuteRing, MinutesKept))
	s.hours = make([]hourRec, ringLen(needH, minHourRing, HoursKept))
}

// mins is the minute ring.
func (s *Series) mins() []Minute { return s.ring[:len(s.ring)/2] }

// fine holds the fine CPU code of each minute of the ring, slot for slot.
func (s *Series) fine() []uint8 { return minuteBytes(s.ring[len(s.ring)/2:]) }

// ringLen is the length of a ring that must hold need entries: a power of
// two (so that a growing Series reallocates only a few times in its first
// week) between lo and kept.
func ringLen(need int64, lo, kept int) int {
	n := lo
	for int64(n) < need && n < kept {
		n *= 2
	}
	return min(n, kept)
}

// growRings makes the rings long enough to hold every minute and hour from
// the first sample up to (not including) minute m, before m becomes the
// minute in progress. Entries move to their slots in the longer rings;
// slots before the first sample stay zero.
func (s *Series) growRings(m int64) {
	firstMin := floorDiv(s.first, nsPerMinute)
	if n, on := ringLen(m-firstMin, minMinuteRing, MinutesKept), len(s.ring)/2; n > on {
		// Minutes and their fine codes move together.
		old := s.ring
		s.ring = make([]Minute, 2*n)
		for x := max(s.cur-int64(on), firstMin); x < s.cur; x++ {
			i, j := mod(x, n), mod(x, on)
			s.ring[i], s.ring[n+i] = old[j], old[on+j]
		}
	}
	firstH, curH := floorDiv(s.first, nsPerHour), floorDiv(s.cur, 60)
	if n := ringLen(floorDiv(m, 60)-firstH, minHourRing, HoursKept); n > len(s.hours) {
		old := s.hours
		s.hours = make([]hourRec, n)
		for h := max(curH-int64(len(old)), firstH); h < curH; h++ {
			s.hours[mod(h, n)] = old[mod(h, len(old))]
		}
	}
}

// advance closes minute s.cur and makes m (> s.cur) the minute in progress.
func (s *Series) advance(m int64, th *Thresholds) {
	s.growRings(m)
	b, fine := s.acc.minute(th)
	s.setMinute(s.cur, b, fine)
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

func (s *Series) setMinute(m int64, b Minute, fine uint8) {
	n := len(s.ring) / 2
	i := mod(m, n)
	slot := &s.ring[i]
	if slot.Valid() {
		s.observed--
	}
	if b.Valid() {
		s.observed++
	}
	*slot = b
	s.ring[n+i] = Minute(fine)
}

// clearMinutes marks minutes [from, to) as without data. Only the last
// ring length of them can still be in the ring.
func (s *Series) clearMinutes(from, to int64) {
	n := len(s.ring) / 2
	if to-from > int64(n) {
		from = to - int64(n)
	}
	for from < to {
		i := mod(from, n)
		seg := s.ring[i:min(n, i+int(to-from))]
		for _, b := range seg {
			if b.Valid() {
				s.observed--
			}
		}
		clear(seg)
		clear(s.ring[n+i : n+i+len(seg)])
		from += int64(len(seg))
	}
}

func (s *Series) clearHours(from, to int64) {
	n := len(s.hours)
	if to-from > int64(n) {
		from = to - int64(n)
	}
	for ; from < to; from++ {
		s.hours[mod(from, n)] = hourRec{}
	}
}

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
		for lo, hi := max(f, s.cur-int64(n)), min(t, s.cur); lo < hi; {
			i := mod(lo, n)
			j := i + int(min(int64(n-i), hi-lo))
			fn(int(lo-f), mins[i:j:j], fine[i:j:j])
			lo += int64(j - i)
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
	lo, hi := max(f, s.cur-int64(len(ring))), min(t, s.cur)
	for lo < hi {
		i := mod(lo, len(ring))
		c := copy(out[lo-f:hi-f], ring[i:])
		lo += int64(c)
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
	for h := max(f, curH-int64(len(s.hours))); h < min(t, curH); h++ {
		out[h-f] = s.hours[mod(h, len(s.hours))].hour()
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
	for lo, hi := max(f, curH-int64(n)), min(end, curH); lo < hi; {
		i := mod(lo, n)
		j := i + int(min(int64(n-i), hi-lo))
		ws = t.add(s.hours[i:j], ws, &peak)
		lo += int64(j - i)
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

// mod is the slot of absolute index a in a ring of n.
func mod(a int64, n int) int {
	r := int(a % int64(n))
	if r < 0 {
		r += n
	}
	return r
}

// minuteBytes views a slice of minutes as bytes.
func minuteBytes(m []Minute) []byte {
	if len(m) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&m[0])), len(m))
}
