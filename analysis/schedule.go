package analysis

import (
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

// This file holds the weekly side of the schedule rule: which hours of a
// workday and of a weekend day, in the configured time zone, a container
// was never active in, and what a schedule sleeping then would have done
// to the week recorded (the replay).

// HourSet is a set of hours of the day (0..23), bit h for hour h.
type HourSet uint32

// Has reports whether h is in the set.
func (s HourSet) Has(h int) bool { return h >= 0 && h < 24 && s&(1<<h) != 0 }

// Len is the number of hours in the set.
func (s HourSet) Len() int { return bits.OnesCount32(uint32(s)) }

// Hours lists the set's hours, ascending.
func (s HourSet) Hours() []int {
	var out []int
	for h := range 24 {
		if s.Has(h) {
			out = append(out, h)
		}
	}
	return out
}

// SleepSchedule is when a schedule could stop a container: the hours of
// the day, in Zone, idle on at least two observed workdays (Monday to
// Friday) and never active on one, and the same for weekend days.
type SleepSchedule struct {
	Zone              string
	Workdays, Weekend HourSet
}

// HoursPerWeek is how long the schedule sleeps a week.
func (s *SleepSchedule) HoursPerWeek() int { return 5*s.Workdays.Len() + 2*s.Weekend.Len() }

// SavingPerMonth is what sleeping on the schedule saves a month of a
// container that costs costPerHour: the share of the week it sleeps.
func (s *SleepSchedule) SavingPerMonth(costPerHour float64) float64 {
	return costPerHour * float64(s.HoursPerWeek()) * HoursPerMonth / (7 * 24)
}

// HourSetOf is the set of the hours 0..23 in hours; others are ignored.
func HourSetOf(hours []int) HourSet {
	var s HourSet
	for _, h := range hours {
		if h >= 0 && h < 24 {
			s |= 1 << h
		}
	}
	return s
}

// Enough reports whether the schedule is worth a verdict: 6 hours every
// workday, or 42 hours a week. A window without a weekend day says
// nothing of weekends: its workdays alone decide.
func (s *SleepSchedule) Enough() bool {
	return s.Workdays.Len() >= scaleToZeroMinHours || s.HoursPerWeek() >= scheduleMinHoursPerWeek
}

// Asleep reports whether the schedule sleeps in hour h (0..23, in its
// zone) of a weekend day or a workday.
func (s *SleepSchedule) Asleep(weekend bool, h int) bool {
	if weekend {
		return s.Weekend.Has(h)
	}
	return s.Workdays.Has(h)
}

// Replay is what a schedule would have done to the hours recorded; Done
// is false when it was not run (no schedule, or no hours to run it on).
type Replay struct {
	Done bool
	// HoursAsleep is how many recorded hours with data it would have
	// slept through, Starts how often it would have started the
	// container again (once per sleep that ends within the window).
	HoursAsleep, Starts int
	// HoursWithData is how many hours of the window had data; Flaps how
	// many of its sleeps were shorter than flapHours, each a stop and a
	// cold start within them.
	HoursWithData, Flaps int
	// Connections is the TCP connections accepted in the hours it would
	// have slept, above the background every hour had (probes, scrapes:
	// the lowest hourly count of the window); RefusedHours the hours
	// that held such connections, which a schedule would have refused.
	Connections  float64
	RefusedHours int
}

// flapHours is the shortest sleep that is not a flap: a schedule that
// stops a workload for less than this starts it again before the stop
// has paid for the cold start and the lost warm caches.
const flapHours = 2

// StartsPerDay is how often a day the schedule started the workload again.
func (p *Replay) StartsPerDay() float64 {
	if p.HoursWithData == 0 {
		return 0
	}
	return float64(p.Starts) * 24 / float64(p.HoursWithData)
}

// SavingPerMonth is what sleeping as replayed saves a month of a workload
// that costs costPerHour: the share of the hours with data it slept. Over
// whole weeks of data it is the schedule's own SavingPerMonth.
func (p *Replay) SavingPerMonth(costPerHour float64) float64 {
	if p.HoursWithData == 0 {
		return 0
	}
	return costPerHour * float64(p.HoursAsleep) / float64(p.HoursWithData) * HoursPerMonth
}

// Harmful reports whether the replay found connections the schedule would
// have refused: an hour asleep with more than its background (see Replay).
func (p *Replay) Harmful() bool { return p.Done && p.RefusedHours > 0 }

// zoneClock maps Unix hours to their hour of the day and day type in a
// zone, looking the zone's offset up once per period of one offset.
type zoneClock struct {
	loc        *time.Location
	off        int64 // seconds east of UTC
	start, end int64 // Unix seconds the offset holds from and until
}

func newZoneClock(loc *time.Location) zoneClock {
	if loc == nil {
		loc = time.UTC
	}
	return zoneClock{loc: loc, start: 1, end: 0}
}

// cell gives the zone's hour of the day and whether the day is Saturday
// or Sunday, for the hour starting at Unix hour u. A zone off UTC by a
// fraction of an hour takes the hour its UTC hour starts in.
func (z *zoneClock) cell(u int64) (weekend bool, hour int) {
	sec := u * 3600
	if sec < z.start || sec >= z.end {
		if z.loc == nil {
			z.loc = time.UTC
		}
		t := time.Unix(sec, 0).In(z.loc)
		_, off := t.Zone()
		s, e := t.ZoneBounds()
		z.off, z.start, z.end = int64(off), math.MinInt64, math.MaxInt64
		if !s.IsZero() {
			z.start = s.Unix()
		}
		if !e.IsZero() {
			z.end = e.Unix()
		}
	}
	local := floorDiv(sec+z.off, 3600)
	day := floorDiv(local, 24)
	// 1970-01-01 was a Thursday (4, with Sunday 0).
	wd := (day%7 + 7 + 4) % 7
	return wd == 0 || wd == 6, int(local - day*24)
}

// weekCounts count, per day type (workday, weekend) and hour of the day
// in the zone, the hours of the window that confirm it idle and that
// refute it, by the rule of the UTC hour-of-day counts.
type weekCounts struct {
	confirm, refute [2][24]uint8
}

func (w *weekCounts) add(weekend bool, h int, refuted, confirmed bool) {
	d := 0
	if weekend {
		d = 1
	}
	switch {
	case refuted:
		w.refute[d][h] = min(w.refute[d][h]+1, 255)
	case confirmed:
		w.confirm[d][h] = min(w.confirm[d][h]+1, 255)
	}
}

// schedule is the sleep schedule the counts allow: the hours confirmed
// idle on two days of their type or more and never refuted.
func (w *weekCounts) schedule(zone string) SleepSchedule {
	s := SleepSchedule{Zone: zone}
	for h := range 24 {
		if w.confirm[0][h] >= 2 && w.refute[0][h] == 0 {
			s.Workdays |= 1 << h
		}
		if w.confirm[1][h] >= 2 && w.refute[1][h] == 0 {
			s.Weekend |= 1 << h
		}
	}
	return s
}

// replay runs s over n hours from Unix hour u0 on; at gives the i-th
// hour's minutes with data and TCP connections accepted.
func replay(s *SleepSchedule, clock *zoneClock, n int, u0 int64, at func(i int) (minutes int, accepts float64)) Replay {
	p := Replay{Done: true}
	background := math.Inf(1)
	for i := range n {
		if m, a := at(i); m > 0 {
			background = min(background, a)
		}
	}
	asleep, slept := false, 0
	for i := range n {
		we, hod := clock.cell(u0 + int64(i))
		was := asleep
		asleep = s.Asleep(we, hod)
		if asleep {
			slept++
		} else if was {
			p.Starts++
			if slept < flapHours {
				p.Flaps++
			}
			slept = 0
		}
		m, a := at(i)
		if m > 0 {
			p.HoursWithData++
		}
		if !asleep || m == 0 {
			continue
		}
		p.HoursAsleep++
		// A tenth above the background, and one connection, are the
		// background's own jitter.
		if extra := a - background; extra > 0.1*background+1 {
			p.Connections += extra
			p.RefusedHours++
		}
	}
	return p
}

// replayHours runs s over a Series' hours from Unix hour u0 on.
func replayHours(s *SleepSchedule, clock *zoneClock, hours []history.Hour, u0 int64) Replay {
	return replay(s, clock, len(hours), u0, func(i int) (int, float64) {
		return int(hours[i].Minutes), float64(hours[i].TCPAccepts)
	})
}

// zones caches the locations of the zone names configured.
var zones sync.Map

// zoneNamed is the location of an IANA zone name, UTC for an empty or
// unknown one (the configuration refuses unknown names).
func zoneNamed(name string) *time.Location {
	if name == "" || name == "UTC" {
		return time.UTC
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	zones.Store(name, loc)
	return loc
}
