package agent

import (
	"math/bits"
	"slices"
	"time"

	"github.com/fleetscope/fleetscope/model"
)

// Fine sampling: a container without a CPU quota has no bandwidth periods
// to say when it ran, so work shorter than a sample makes the whole sample
// busy. A few containers whose samples are neither clearly idle nor
// clearly busy have their CPU time read at a shorter interval between
// ticks, one file each; a sample then counts the fine readings that were
// busy.

const (
	// fineBusyCores is where a sample is clearly busy: from half a core,
	// work on one core fills half the sample or more, far from the fifth a
	// serverless candidate may be busy.
	fineBusyCores = 0.5
	// fineWindow is how many recent samples judge a container; fineJoin
	// of them unclear make it a candidate, fewer than fineLeave send it
	// back to the normal interval. Work of a second every 20 s makes one
	// sample in two unclear: it joins after its second burst (every
	// sample before is counted whole) and stays while a burst shows in a
	// minute.
	fineWindow = 6
	fineJoin   = 2
	fineLeave  = 1
	// fineSteady is the share of a sample's fine readings above which its
	// work is steady, not in pieces: a sample busy in (nearly) all of them
	// is clear, and its container leaves at once and rests fineRest
	// samples before it may join again, so that a container busy at a low
	// rate all the time is not read finely for nothing.
	fineSteady = 0.9
	fineRest   = 60
)

// fineConfig is fine sampling's configuration; off when interval or max
// is 0.
type fineConfig struct {
	interval time.Duration
	max      int
	floor    float64 // idle CPU floor, cores
}

// fineState is one container's part in fine sampling.
type fineState struct {
	unclear uint8 // bit i: the sample i ticks ago was unclear
	member  bool
	covered bool // fine readings cover the step since the last tick
	last    uint64
	lastAt  time.Time
	busy    time.Duration
	steady  bool  // the last sample's fine readings were busy throughout
	rest    uint8 // samples to wait before joining again
}

// SetFine configures fine sampling between ticks every tick: the CPU
// time of at most max containers read every interval, a reading busy from
// floor cores; off unless interval is at most half of tick. Call it
// before sampling.
func (s *Sampler) SetFine(tick, interval time.Duration, max int, floor float64) {
	s.interval, s.fine = tick, fineConfig{interval: interval, max: max, floor: floor}
}

// FineInterval is the interval SampleFine wants to be called at, 0 when no
// container is read finely.
func (s *Sampler) FineInterval() time.Duration {
	if len(s.fineSet) == 0 {
		return 0
	}
	return s.fine.interval
}

// SampleFine reads the CPU time of the containers chosen for fine
// sampling. It publishes nothing: the next tick's sample counts what it
// saw.
func (s *Sampler) SampleFine(now time.Time) {
	for _, t := range s.fineSet {
		f := &t.fineSt
		if !f.covered || t.h == nil {
			continue
		}
		u, err := t.h.ReadCPUUsage()
		if err != nil {
			// The tick that follows reports the error; this step falls
			// back to the sample's own rates.
			f.covered = false
			continue
		}
		s.fineStep(f, now, u)
	}
}

// fineStep counts the span since the last reading as busy when its CPU
// rate reaches the idle floor.
func (s *Sampler) fineStep(f *fineState, now time.Time, u uint64) {
	d := now.Sub(f.lastAt)
	if d <= 0 || u < f.last {
		f.covered = false
		return
	}
	if float64(u-f.last)/d.Seconds()/1e9 >= s.fine.floor {
		f.busy += d
	}
	f.last, f.lastAt = u, now
}

// stepFine ends a container's fine step at a tick's good reading, gives
// the sample its busy time when fine readings covered it, judges the
// sample and starts the next step. A container with a quota takes no
// part.
func (s *Sampler) stepFine(t *tracked, now time.Time) {
	f := &t.fineSt
	if t.busy.quota != 0 || s.fine.interval <= 0 || s.fine.max <= 0 {
		f.unclear, f.member = 0, false
		return
	}
	f.steady = false
	if f.member && f.covered && t.use.ok {
		s.fineStep(f, now, t.cur.CPUUsageNanos)
		if f.covered {
			t.busy.d, t.busy.from = min(f.busy, t.use.span), model.BusyFromFine
			f.steady = t.use.span > 0 && float64(f.busy) >= fineSteady*float64(t.use.span)
		}
	}
	f.unclear <<= 1
	if c := t.cpuCores(); t.use.ok && c >= s.fine.floor && c < fineBusyCores && !f.steady {
		f.unclear |= 1
	}
	if f.rest > 0 {
		f.rest--
	}
	f.last, f.lastAt, f.busy, f.covered = t.cur.CPUUsageNanos, now, 0, f.member
}

// chooseFine keeps the members whose pattern is still unclear and fills
// free places with the most unclear candidates, after a full tick.
func (s *Sampler) chooseFine() {
	if s.fine.interval <= 0 || s.fine.interval > s.interval/2 || s.fine.max <= 0 {
		s.fineSet = s.fineSet[:0]
		return
	}
	unclear := func(t *tracked) int { return bits.OnesCount8(t.fineSt.unclear & (1<<fineWindow - 1)) }
	keep := s.fineSet[:0]
	for _, t := range s.fineSet {
		f := &t.fineSt
		if t.pos >= 0 && t.fresh && f.member && !f.steady && unclear(t) >= fineLeave {
			keep = append(keep, t)
			continue
		}
		if f.member && f.steady {
			f.rest = fineRest
		}
		f.member, f.covered = false, false
	}
	s.fineSet = keep
	if len(s.fineSet) >= s.fine.max {
		return
	}
	s.fineWait = s.fineWait[:0]
	for _, t := range s.order {
		if t.fresh && !t.fineSt.member && t.fineSt.rest == 0 && unclear(t) >= fineJoin {
			s.fineWait = append(s.fineWait, t)
		}
	}
	slices.SortStableFunc(s.fineWait, func(a, b *tracked) int { return unclear(b) - unclear(a) })
	for _, t := range s.fineWait[:min(len(s.fineWait), s.fine.max-len(s.fineSet))] {
		// Its readings start from this tick's.
		t.fineSt.member, t.fineSt.covered = true, true
		s.fineSet = append(s.fineSet, t)
	}
}
