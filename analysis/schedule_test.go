package analysis

import (
	"math"
	"strings"
	"testing"
	"time"
)

// week builds 7 days of minutes from t0 (a Monday, 00:00 UTC), one
// sample a minute, each minute's load from its time in loc.
func week(t *testing.T, loc *time.Location, at func(l time.Time) load) Input {
	th := defaultThresholds(t)
	const n = 7 * 24 * 60
	s := build(th, t0, n, 1, func(i int) (load, bool) {
		return at(t0.Add(time.Duration(i) * time.Minute).In(loc)), true
	})
	return withLimits(s, t0.Add(n*time.Minute), 1, 512*mib)
}

func workday(l time.Time) bool { return l.Weekday() != time.Saturday && l.Weekday() != time.Sunday }

// expectedReplay is the replay computed here, hour by hour of the window
// with the calendar of the time package: the hours asleep, the starts,
// the sleeps shorter than two hours, and the hours whose connections
// exceed the background.
func expectedReplay(s *SleepSchedule, loc *time.Location, accepts func(l time.Time) uint64) (asleep, starts, refused, flaps int) {
	prev, run := false, 0
	for h := range 7 * 24 {
		l := t0.Add(time.Duration(h) * time.Hour).In(loc)
		sleep := s.Asleep(!workday(l), l.Hour())
		if prev && !sleep {
			starts++
			if run < 2 {
				flaps++
			}
			run = 0
		}
		prev = sleep
		if !sleep {
			continue
		}
		asleep++
		run++
		var n uint64
		for m := range 60 {
			n += accepts(l.Add(time.Duration(m) * time.Minute))
		}
		if n > 1 {
			refused++
		}
	}
	return asleep, starts, refused, flaps
}

// An office service, busy Monday to Friday 08:00-18:00 in Berlin, sleeps
// on workdays before 08:00 and from 18:00 and all weekend, in Berlin's
// hours, and the saving is that share of the week.
func TestWeekdayServiceSleepsInItsZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	office := func(l time.Time) load {
		if workday(l) && l.Hour() >= 8 && l.Hour() < 18 {
			return busyLoad
		}
		return idleLoad
	}
	cfg := defaultAnalysis()
	cfg.TimeZone = "Europe/Berlin"
	r := Analyze(week(t, berlin, office), cfg, nil)
	wantWork := HourSet(1<<24-1) &^ HourSet((1<<18-1)&^(1<<8-1))
	if r.Sleep.Zone != "Europe/Berlin" || r.Sleep.Workdays != wantWork || r.Sleep.Weekend != 1<<24-1 {
		t.Fatalf("sleep %+v: workdays %v, weekend %v; want workdays %v and every weekend hour", r.Sleep, r.Sleep.Workdays.Hours(), r.Sleep.Weekend.Hours(), wantWork.Hours())
	}
	if r.Verdict != VerdictScaleToZero {
		t.Fatalf("verdict %s (%v)", r.Verdict, r.Reasons)
	}
	want := r.CostPerHour * (5*14 + 2*24) / 168 * HoursPerMonth
	z, _ := reason(r.Reasons, CodeAlwaysIdleHours)
	if !strings.Contains(z.Text, "on workdays 00-07, 18-23 and at weekends all day (Europe/Berlin)") ||
		!strings.Contains(z.Text, "118 hours a week") || !strings.Contains(z.Text, moneyText(want)[:len(moneyText(want))-4]) {
		t.Errorf("reason %q; want the Berlin schedule and %.2f", z.Text, want)
	}
	asleep, starts, refused, flaps := expectedReplay(&r.Sleep, berlin, func(l time.Time) uint64 { return office(l).accepts })
	if p := r.Replay; !p.Done || p.HoursAsleep != asleep || p.Starts != starts || p.RefusedHours != refused || refused != 0 || starts != 5 ||
		p.Flaps != flaps || flaps != 0 || p.HoursWithData != 168 || p.StartsPerDay() != 5.0/7 {
		t.Errorf("replay %+v, want %d hours asleep, %d starts, %d refused, %d flaps", p, asleep, starts, refused, flaps)
	}
	// Replayed over a whole week, the schedule saves what it says it does.
	if got := r.Replay.SavingPerMonth(r.CostPerHour); math.Abs(got-want) > 0.01*want {
		t.Errorf("replayed saving %.4f, the schedule's %.4f", got, want)
	}

	// The same week judged in UTC sleeps an hour earlier.
	r = Analyze(week(t, berlin, office), defaultAnalysis(), nil)
	if !r.Sleep.Workdays.Has(17) || r.Sleep.Workdays.Has(7) {
		t.Errorf("in UTC: workdays %v", r.Sleep.Workdays.Hours())
	}
}

// A nightly batch, busy 02:00-03:30 every day, sleeps every other hour;
// the replay starts it once a day.
func TestNightlyBatchSleepsAroundItsRun(t *testing.T) {
	batch := func(l time.Time) load {
		if m := l.Hour()*60 + l.Minute(); m >= 120 && m < 210 {
			return busyLoad
		}
		return idleLoad
	}
	r := Analyze(week(t, time.UTC, batch), defaultAnalysis(), nil)
	want := HourSet(1<<24-1) &^ (1<<2 | 1<<3)
	if r.Verdict != VerdictScaleToZero || r.Sleep.Workdays != want || r.Sleep.Weekend != want {
		t.Fatalf("verdict %s, sleep %v / %v (%v %v)", r.Verdict, r.Sleep.Workdays.Hours(), r.Sleep.Weekend.Hours(), r.Reasons, r.Blockers)
	}
	asleep, starts, _, _ := expectedReplay(&r.Sleep, time.UTC, func(time.Time) uint64 { return 0 })
	if r.Replay.HoursAsleep != asleep || r.Replay.Starts != starts || starts != 7 || !near(scheduleSaving(&r), r.CostPerHour*154/168*HoursPerMonth, 1e-12) {
		t.Errorf("replay %+v, want %d asleep and %d starts", r.Replay, asleep, starts)
	}
}

// Rare requests at night, too small to make a minute active, would have
// been refused by the schedule: the replay finds them and no schedule is
// suggested. Connections every hour alike (probes) are the background and
// refuse nothing.
func TestRareNightRequestsRuleTheScheduleOut(t *testing.T) {
	office := func(l time.Time) load {
		if workday(l) && l.Hour() >= 8 && l.Hour() < 18 {
			return busyLoad
		}
		return idleLoad
	}
	night := func(l time.Time) load {
		ld := office(l)
		if l.Weekday() == time.Wednesday && l.Hour() == 3 && l.Minute() < 3 {
			ld.accepts = 2 // a few requests of a few bytes: idle minutes
		}
		return ld
	}
	r := Analyze(week(t, time.UTC, night), defaultAnalysis(), nil)
	_, _, refused, _ := expectedReplay(&r.Sleep, time.UTC, func(l time.Time) uint64 { return night(l).accepts })
	if r.Verdict == VerdictScaleToZero || !r.Replay.Harmful() || r.Replay.RefusedHours != refused || refused != 1 || r.Replay.Connections != 6 {
		t.Fatalf("verdict %s, replay %+v; want no schedule and 6 connections refused in 1 hour", r.Verdict, r.Replay)
	}
	c, ok := reason(r.Reasons, CodeRefusedConnections)
	if !ok || !strings.Contains(c.Text, "would have refused 6 connections in 1 of the hours recorded") {
		t.Errorf("reasons %v", r.Reasons)
	}

	probed := func(l time.Time) load {
		ld := office(l)
		ld.accepts += 6 // a probe every 10 s
		return ld
	}
	r = Analyze(week(t, time.UTC, probed), defaultAnalysis(), nil)
	if r.Verdict != VerdictScaleToZero || r.Replay.Harmful() {
		t.Errorf("probed office: verdict %s, replay %+v", r.Verdict, r.Replay)
	}
}

// An office service that also idles over lunch sleeps then too, but each
// of those sleeps lasts an hour: the replay counts them as flaps, a stop
// and a cold start within two hours.
func TestLunchSleepsAreFlaps(t *testing.T) {
	office := func(l time.Time) load {
		if workday(l) && l.Hour() >= 8 && l.Hour() < 18 && l.Hour() != 12 {
			return busyLoad
		}
		return idleLoad
	}
	r := Analyze(week(t, time.UTC, office), defaultAnalysis(), nil)
	if !r.Sleep.Workdays.Has(12) || r.Sleep.Workdays.Has(11) {
		t.Fatalf("workdays %v; want the lunch hour asleep", r.Sleep.Workdays.Hours())
	}
	asleep, starts, _, flaps := expectedReplay(&r.Sleep, time.UTC, func(time.Time) uint64 { return 0 })
	if p := r.Replay; p.HoursAsleep != asleep || p.Starts != starts || p.Flaps != flaps || flaps != 5 || starts != 10 {
		t.Errorf("replay %+v; want %d asleep, %d starts, %d flaps (one a workday)", p, asleep, starts, flaps)
	}
}
