package history

import (
	"bytes"
	"math"
	"testing"
	"time"
)

// t0 is a Monday 00:00 UTC, so minute and hour boundaries are obvious.
var t0 = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

var defaultTh = Thresholds{CPUCores: 0.01, NetBytesPerSecond: 1000, DiskWriteBytesPerSecond: 1000}

// feed adds one sample every step in [from, to), each built by mk.
func feed(s *Series, from, to time.Time, step time.Duration, th Thresholds, mk func(t time.Time) Sample) {
	for at := from; at.Before(to); at = at.Add(step) {
		sm := mk(at)
		sm.Time = at
		s.Add(sm, th)
	}
}

func constant(sm Sample) func(time.Time) Sample {
	return func(time.Time) Sample { return sm }
}

func minutes(s *Series, from, to time.Time) []Minute {
	return s.AppendMinutes(nil, from, to)
}

// oneMinute feeds minute 0 with a 1 s tick, preceded by a sample at -1 s
// that sets the time base, closes it with a sample at 60 s and returns it.
func oneMinute(t *testing.T, th Thresholds, perSecond Sample) Minute {
	t.Helper()
	s := NewSeries()
	s.Add(Sample{Time: t0.Add(-time.Second)}, th)
	feed(s, t0, t0.Add(time.Minute), time.Second, th, constant(perSecond))
	s.Add(Sample{Time: t0.Add(time.Minute)}, th)
	got := minutes(s, t0, t0.Add(time.Minute))
	if len(got) != 1 || !got[0].Valid() {
		t.Fatalf("minute 0 = %v, want one valid minute", got)
	}
	return got[0]
}

func TestIdleDecision(t *testing.T) {
	// Thresholds 0.01 cores, 1000 B/s of network, 1000 B/s of disk writes;
	// each case feeds the same sample every second for 60 s.
	for _, tc := range []struct {
		name   string
		sample Sample
		active bool
		cores  float64
	}{
		{"nothing", Sample{}, false, 0},
		{"cpu just below", Sample{CPUSeconds: 0.0095}, false, 0.0095},
		{"cpu just above", Sample{CPUSeconds: 0.0105}, true, 0.0105},
		{"net 999 B/s", Sample{CPUSeconds: 0.001, NetRxBytes: 500, NetTxBytes: 499}, false, 0.001},
		{"net 1000 B/s is not below", Sample{NetRxBytes: 500, NetTxBytes: 500}, true, 0},
		{"tx alone", Sample{NetTxBytes: 2000}, true, 0},
		{"disk 999 B/s", Sample{DiskWriteBytes: 999}, false, 0},
		{"disk 1000 B/s", Sample{DiskWriteBytes: 1000}, true, 0},
		{"low cpu, busy net", Sample{CPUSeconds: 0.001, NetRxBytes: 5000}, true, 0.001},
		{"accepts and memory do not count", Sample{TCPAccepts: 50, WorkingSet: 1 << 30}, false, 0},
		{"busy", Sample{CPUSeconds: 1.5}, true, 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := oneMinute(t, defaultTh, tc.sample)
			if m.Active() != tc.active {
				t.Errorf("active = %v, want %v", m.Active(), tc.active)
			}
			if tc.cores == 0 {
				if m.Cores() != 0 {
					t.Errorf("cores = %v, want 0", m.Cores())
				}
			} else if rel := math.Abs(m.Cores()-tc.cores) / tc.cores; rel > 0.06 {
				t.Errorf("cores = %v, want %v ± 6%%", m.Cores(), tc.cores)
			}
		})
	}
	t.Run("zero thresholds make every minute active", func(t *testing.T) {
		if m := oneMinute(t, Thresholds{}, Sample{}); !m.Active() {
			t.Error("minute is idle")
		}
	})
}

func TestObservedSecondsAreTheSamplesIntervals(t *testing.T) {
	// Two samples 10 s apart carry 0.4 CPU seconds over 20 observed seconds:
	// 0.02 cores, active, although 0.4 s over the whole minute would be idle.
	s := NewSeries()
	s.Add(Sample{Time: t0.Add(-10 * time.Second)}, defaultTh)
	s.Add(Sample{Time: t0, CPUSeconds: 0.2}, defaultTh)
	s.Add(Sample{Time: t0.Add(10 * time.Second), CPUSeconds: 0.2}, defaultTh)
	s.Advance(t0.Add(time.Minute), defaultTh)
	m := minutes(s, t0, t0.Add(time.Minute))[0]
	if !m.Active() || m.Code() != EncodeCPU(0.02) {
		t.Errorf("minute = active %v code %d, want active code %d", m.Active(), m.Code(), EncodeCPU(0.02))
	}

	// An explicit Interval wins over the time since the previous sample:
	// 0.3 s over 30 s is 0.01 cores, at the threshold, so active.
	s = NewSeries()
	s.Add(Sample{Time: t0.Add(-time.Hour)}, defaultTh)
	s.Add(Sample{Time: t0.Add(5 * time.Second), CPUSeconds: 0.3, Interval: 30 * time.Second}, defaultTh)
	s.Advance(t0.Add(time.Minute), defaultTh)
	if m := minutes(s, t0, t0.Add(time.Minute))[0]; !m.Active() || m.Code() != EncodeCPU(0.01) {
		t.Errorf("with Interval: active %v code %d, want active code %d", m.Active(), m.Code(), EncodeCPU(0.01))
	}

	// The very first sample has no interval: its deltas are counted in
	// the hour but the minute's rates are zero.
	s = NewSeries()
	s.Add(Sample{Time: t0, CPUSeconds: 5}, defaultTh)
	s.Advance(t0.Add(time.Minute), defaultTh)
	if m := minutes(s, t0, t0.Add(time.Minute))[0]; !m.Valid() || m.Active() || m.Cores() != 0 {
		t.Errorf("first-sample minute = %#x, want valid idle 0 cores", uint8(m))
	}
	if h := s.AppendHours(nil, t0, t0.Add(time.Hour))[0]; h.CPUSeconds != 5 || h.Minutes != 1 {
		t.Errorf("hour = %+v, want 5 CPU seconds in 1 minute", h)
	}
}

func TestMinuteAndHourBoundaries(t *testing.T) {
	s := NewSeries()
	th := defaultTh
	busy := Sample{CPUSeconds: 0.5, NetRxBytes: 100, NetTxBytes: 200, DiskWriteBytes: 7, TCPAccepts: 3}
	// 1 s tick from t0-1s up to 59:59.999 of hour 0; minutes with an odd
	// number are busy, and the working set grows with the minute.
	feed(s, t0.Add(-time.Second), t0.Add(time.Hour-time.Millisecond), time.Second, th, func(at time.Time) Sample {
		m := int(at.Sub(t0) / time.Minute)
		if at.Before(t0) {
			return Sample{}
		}
		sm := Sample{WorkingSet: uint64(m+1) << 20}
		if m%2 == 1 {
			sm.CPUSeconds, sm.NetRxBytes, sm.NetTxBytes, sm.DiskWriteBytes, sm.TCPAccepts =
				busy.CPUSeconds, busy.NetRxBytes, busy.NetTxBytes, busy.DiskWriteBytes, busy.TCPAccepts
		}
		return sm
	})
	s.Add(Sample{Time: t0.Add(time.Hour - time.Millisecond), WorkingSet: 1 << 40}, th)

	// Minute 59 is still in progress; the hour is partial with 59 minutes.
	ms := minutes(s, t0, t0.Add(time.Hour))
	if len(ms) != 60 || ms[59] != 0 || !ms[58].Valid() {
		t.Fatalf("minute 58/59 = %#x/%#x", uint8(ms[58]), uint8(ms[59]))
	}
	// The minute before t0 held only the base sample.
	if pre := minutes(s, t0.Add(-time.Minute), t0); !pre[0].Valid() || pre[0].Active() {
		t.Errorf("minute -1 = %#x, want valid idle", uint8(pre[0]))
	}
	hs := s.AppendHours(nil, t0, t0.Add(time.Hour))
	if hs[0].Minutes != 59 || hs[0].ActiveMinutes != 29 {
		t.Errorf("partial hour: %d minutes, %d active; want 59, 29", hs[0].Minutes, hs[0].ActiveMinutes)
	}

	// A sample exactly on the hour closes minute 59 and hour 0.
	s.Add(Sample{Time: t0.Add(time.Hour)}, th)
	ms = minutes(s, t0, t0.Add(time.Hour))
	for i, m := range ms {
		if !m.Valid() || m.Active() != (i%2 == 1) {
			t.Fatalf("minute %d = %#x, want valid, active %v", i, uint8(m), i%2 == 1)
		}
	}
	if s.ObservedMinutes() != 61 {
		t.Errorf("ObservedMinutes = %d, want 61", s.ObservedMinutes())
	}
	hs = s.AppendHours(nil, t0.Add(-time.Hour), t0.Add(2*time.Hour))
	if len(hs) != 3 {
		t.Fatalf("%d hours, want 3", len(hs))
	}
	if hs[0] != (Hour{Minutes: 1}) {
		t.Errorf("hour -1 = %+v", hs[0])
	}
	want := Hour{
		CPUSeconds:     30 * 60 * 0.5,
		MaxWorkingSet:  1 << 40,
		NetRxBytes:     30 * 60 * 100,
		NetTxBytes:     30 * 60 * 200,
		DiskWriteBytes: 30 * 60 * 7,
		TCPAccepts:     30 * 60 * 3,
		Minutes:        60,
		ActiveMinutes:  30,
		SampledSeconds: 3600,
		// Every other minute is busy, alone: 30 runs of a minute.
		BusySeconds:    30 * 60,
		BusyCPUSeconds: 30 * 60 * 0.5,
		BusyRuns:       30,
		LongestBusyRun: time.Minute,
		PeakCores:      float32(CoresFine(EncodeCPUFine(0.5))),
	}
	if hs[1] != want {
		t.Errorf("hour 0 = %+v\nwant     %+v", hs[1], want)
	}
	// Hour 1 is in progress and has no finished minute yet.
	if hs[2] != (Hour{}) {
		t.Errorf("hour 1 = %+v, want zero", hs[2])
	}
}

func TestWorkingSetRoundsUpToKiB(t *testing.T) {
	s := NewSeries()
	s.Add(Sample{Time: t0, WorkingSet: 1025}, defaultTh)
	s.Add(Sample{Time: t0.Add(time.Hour)}, defaultTh)
	if h := s.AppendHours(nil, t0, t0.Add(time.Hour))[0]; h.MaxWorkingSet != 2048 {
		t.Errorf("MaxWorkingSet = %d, want 2048", h.MaxWorkingSet)
	}
}

func TestGapAndStoppedContainer(t *testing.T) {
	s := NewSeries()
	busy := constant(Sample{CPUSeconds: 1})
	feed(s, t0, t0.Add(10*time.Minute), 10*time.Second, defaultTh, busy)
	// Stopped for 20 minutes, then running again for 10.
	feed(s, t0.Add(30*time.Minute), t0.Add(40*time.Minute), 10*time.Second, defaultTh, busy)
	ms := minutes(s, t0, t0.Add(40*time.Minute))
	for i, m := range ms {
		wantValid := i < 10 || (i >= 30 && i < 39) // 39 is in progress
		if m.Valid() != wantValid {
			t.Errorf("minute %d valid = %v, want %v", i, m.Valid(), wantValid)
		}
	}
	if s.ObservedMinutes() != 19 {
		t.Errorf("ObservedMinutes = %d, want 19", s.ObservedMinutes())
	}
	// The container stops for good: Advance closes its last minute.
	s.Advance(t0.Add(50*time.Minute), defaultTh)
	if m := minutes(s, t0.Add(39*time.Minute), t0.Add(50*time.Minute)); !m[0].Active() || m[1] != 0 {
		t.Errorf("after Advance: minute 39 = %#x, 40 = %#x", uint8(m[0]), uint8(m[1]))
	}
	if s.ObservedMinutes() != 20 {
		t.Errorf("ObservedMinutes = %d, want 20", s.ObservedMinutes())
	}
	if !s.LastSeen().Equal(t0.Add(40*time.Minute - 10*time.Second)) {
		t.Errorf("LastSeen = %v", s.LastSeen())
	}
	// A sample older than the minute in progress is ignored.
	before := minutes(s, t0, t0.Add(50*time.Minute))
	s.Add(Sample{Time: t0.Add(5 * time.Minute), CPUSeconds: 100}, defaultTh)
	s.Add(Sample{Time: time.Time{}, CPUSeconds: 100}, defaultTh)
	s.Add(Sample{Time: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), CPUSeconds: 100}, defaultTh)
	if after := minutes(s, t0, t0.Add(50*time.Minute)); string(minuteBytes(after)) != string(minuteBytes(before)) {
		t.Error("an old sample changed history")
	}
}

func TestAppendMinutesWindows(t *testing.T) {
	s := NewSeries()
	feed(s, t0.Add(-10*time.Second), t0.Add(10*time.Minute+time.Second), 10*time.Second, defaultTh, constant(Sample{CPUSeconds: 1}))
	// Finished minutes are -1 .. 9; minute 10 is in progress.
	for _, tc := range []struct {
		name     string
		from, to time.Time
		valid    string // one letter per entry: v valid, - none
	}{
		{"empty", t0, t0, ""},
		{"reversed", t0.Add(time.Minute), t0, ""},
		{"within one minute", t0.Add(10 * time.Second), t0.Add(50 * time.Second), ""},
		{"one minute", t0, t0.Add(time.Minute), "v"},
		{"unaligned edges truncate", t0.Add(59 * time.Second), t0.Add(2*time.Minute + 59*time.Second), "vv"},
		{"before the first sample", t0.Add(-3 * time.Minute), t0.Add(time.Minute), "--vv"},
		{"up to the minute in progress", t0.Add(8 * time.Minute), t0.Add(12 * time.Minute), "vv--"},
		{"far future", t0.Add(time.Hour), t0.Add(time.Hour + 2*time.Minute), "--"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []Minute{42}
			got := s.AppendMinutes(dst, tc.from, tc.to)
			if got[0] != 42 {
				t.Fatal("prefix of dst overwritten")
			}
			str := ""
			for _, m := range got[1:] {
				if m.Valid() {
					str += "v"
				} else {
					str += "-"
				}
			}
			if str != tc.valid {
				t.Errorf("got %q, want %q", str, tc.valid)
			}
		})
	}
	// A zero from is cut to MaxWindow, aligned on to.
	if got := s.AppendMinutes(nil, time.Time{}, t0.Add(time.Minute)); len(got) != int(MaxWindow/time.Minute) || !got[len(got)-1].Valid() || !got[len(got)-2].Valid() || got[len(got)-3].Valid() {
		t.Errorf("zero from: %d entries, want %d ending with the two first minutes", len(got), MaxWindow/time.Minute)
	}
	if got := s.AppendHours(nil, time.Time{}, t0.Add(time.Hour)); len(got) != int(MaxWindow/time.Hour) || got[len(got)-1].Minutes != 10 || got[len(got)-2].Minutes != 1 {
		t.Errorf("zero from: %d hours, want %d ending with the first two", len(got), MaxWindow/time.Hour)
	}
	var never Series
	if got := never.AppendMinutes(nil, t0, t0.Add(3*time.Minute)); len(got) != 3 || got[0]|got[1]|got[2] != 0 {
		t.Errorf("never-sampled series: %v", got)
	}
	if got := never.AppendHours(nil, t0, t0.Add(3*time.Hour)); len(got) != 3 || got[2] != (Hour{}) {
		t.Errorf("never-sampled series: %v", got)
	}

	buf := make([]Minute, 0, MinutesKept)
	hbuf := make([]Hour, 0, HoursKept+1)
	if n := testing.AllocsPerRun(100, func() {
		buf = s.AppendMinutes(buf[:0], t0.Add(-7*24*time.Hour), t0)
		hbuf = s.AppendHours(hbuf[:0], t0.Add(-7*24*time.Hour), t0.Add(time.Hour))
	}); n != 0 {
		t.Errorf("AppendMinutes/AppendHours: %v allocations with room in dst", n)
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	s := NewSeries()
	at := t0
	s.Add(Sample{Time: at}, defaultTh)
	i := 0
	n := testing.AllocsPerRun(20000, func() {
		i++
		step := time.Second
		if i%5000 == 0 {
			step = 3 * 24 * time.Hour // a gap now and then
		}
		at = at.Add(step)
		s.Add(Sample{Time: at, CPUSeconds: 0.5, NetRxBytes: 10, WorkingSet: 1 << 20}, defaultTh)
	})
	if n != 0 {
		t.Errorf("Add: %v allocations per call", n)
	}
}

// TestActivityBelowTheMinute: 1 s of work every 20 s, sampled every 2 s,
// makes every minute active, yet the hour records the busy samples, their
// runs and the CPU peak of a sample; a run goes on across minutes and a
// checkpoint, and ends at a sample that is not busy.
func TestActivityBelowTheMinute(t *testing.T) {
	th := Thresholds{CPUCores: 0.01, NetBytesPerSecond: 1000, DiskWriteBytesPerSecond: 4096}
	s := NewSeries()
	for i := range 1800 { // an hour of 2 s samples
		at := t0.Add(time.Duration(i) * 2 * time.Second)
		cpu := 0.0
		if i%10 == 0 {
			cpu = 0.5 // 0.25 cores over the sample
		}
		s.Add(Sample{Time: at, CPUSeconds: cpu, Interval: 2 * time.Second}, th)
	}
	s.Add(Sample{Time: t0.Add(time.Hour), Interval: 2 * time.Second}, th)
	h := s.AppendHours(nil, t0, t0.Add(time.Hour))[0]
	if h.ActiveMinutes != 60 || h.BusySeconds != 360 || h.BusyRuns != 180 || h.LongestBusyRun != 2*time.Second || math.Abs(float64(h.PeakCores)/0.25-1) > 0.00023 {
		t.Fatalf("hour %+v: want 60 active minutes, 360 busy seconds in 180 runs of 2s, peak 0.25", h)
	}

	// A run of 90 s crosses a minute and a checkpoint.
	st := NewStore()
	r := st.GetOrCreate(Key{"k8s.io", "run"})
	for i := range 45 {
		r.Add(Sample{Time: t0.Add(time.Duration(i) * 2 * time.Second), CPUSeconds: 1, Interval: 2 * time.Second}, th)
	}
	var buf bytes.Buffer
	if _, err := st.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadStore(&buf)
	if err != nil {
		t.Fatal(err)
	}
	r = back.Get(Key{"k8s.io", "run"})
	for i := 45; i < 60; i++ {
		cpu := 1.0
		if i >= 50 {
			cpu = 0
		}
		r.Add(Sample{Time: t0.Add(time.Duration(i) * 2 * time.Second), CPUSeconds: cpu, Interval: 2 * time.Second}, th)
	}
	r.Add(Sample{Time: t0.Add(time.Hour), Interval: 2 * time.Second}, th)
	h = r.AppendHours(nil, t0, t0.Add(time.Hour))[0]
	if h.BusyRuns != 1 || h.LongestBusyRun != 100*time.Second || h.BusySeconds != 100 {
		t.Fatalf("hour %+v: want one run of 100 s", h)
	}
}

// TestDownRestartsListening: down samples make observed, idle, down
// minutes; restarts are counted in their hour; a minute with a listening
// socket in one sample is a listening minute.
func TestDownRestartsListening(t *testing.T) {
	s := NewSeries()
	s.NoteRestart() // before any sample: nothing to count it in
	for i := range 60 * 6 {
		sm := Sample{Time: t0.Add(time.Duration(i) * 10 * time.Second), Interval: 10 * time.Second}
		switch m := i / 6; {
		case m < 20:
			sm.CPUSeconds, sm.Listening = 1, i%6 == 0
		case m < 50:
			sm.Down = true
		}
		if i == 20*6 {
			s.NoteRestart()
			s.NoteRestart()
		}
		s.Add(sm, defaultTh)
	}
	s.Add(Sample{Time: t0.Add(time.Hour), Interval: 10 * time.Second}, defaultTh)
	h := s.AppendHours(nil, t0, t0.Add(time.Hour))[0]
	if h.Minutes != 60 || h.ActiveMinutes != 20 || h.DownMinutes != 30 || h.ListenMinutes != 20 || h.Restarts != 2 {
		t.Fatalf("hour %+v: want 60 minutes, 20 active and listening, 30 down, 2 restarts", h)
	}
}

// TestBusyMeasuredBelowTheSample: a sample busy by its CPU rate counts the
// busy time measured below it; samples busy in part make runs of their
// own, carried on only by samples busy in full; a sample busy by its
// network rate stays busy in full.
func TestBusyMeasuredBelowTheSample(t *testing.T) {
	const iv = 10 * time.Second
	cases := []struct {
		name              string
		busy              []time.Duration // per 10 s sample; -1: idle by its rates
		wantBusy          uint16
		wantRuns          uint16
		wantLongest       time.Duration
		netBusy, fromFine bool
	}{
		// 1 s of work every 20 s, the poller.
		{name: "poller", busy: []time.Duration{time.Second, 0}, wantBusy: 180, wantRuns: 180, wantLongest: time.Second},
		// A run across two samples busy in part reads as two: nothing
		// tells it from two runs. The longest, 600 ms, rounds to 1 s.
		{name: "straddle", busy: []time.Duration{400 * time.Millisecond, 600 * time.Millisecond, 0, 0}, wantBusy: 90, wantRuns: 180, wantLongest: time.Second},
		// 25 s of work: begun in part, two samples in full, ended in part.
		{name: "long", busy: []time.Duration{3 * time.Second, iv, iv, 2 * time.Second, 0, 0}, wantBusy: 1500, wantRuns: 60, wantLongest: 25 * time.Second},
		// Partial samples in a row: runs of their own.
		{name: "every sample", busy: []time.Duration{time.Second}, wantBusy: 360, wantRuns: 360, wantLongest: time.Second, fromFine: true},
		{name: "idle by rates", busy: []time.Duration{-1}, wantBusy: 0, wantRuns: 0},
		{name: "network", busy: []time.Duration{time.Second, 0}, netBusy: true, wantBusy: 3600, wantRuns: 1, wantLongest: time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewSeries()
			from := FromPeriods
			if c.fromFine {
				from = FromFine
			}
			for i := range 360 {
				b := c.busy[i%len(c.busy)]
				sm := Sample{Time: t0.Add(time.Duration(i) * iv), Interval: iv, Busy: b, BusyFrom: from, CPUSeconds: 0.5}
				if b < 0 {
					sm.CPUSeconds, sm.Busy = 0.01, time.Second
				}
				if c.netBusy {
					sm.NetRxBytes = 100_000
				}
				s.Add(sm, defaultTh)
			}
			s.Add(Sample{Time: t0.Add(time.Hour), Interval: iv}, defaultTh)
			h := s.AppendHours(nil, t0, t0.Add(time.Hour))[0]
			if h.BusySeconds != c.wantBusy || h.BusyRuns != c.wantRuns || h.LongestBusyRun != c.wantLongest {
				t.Errorf("busy %d s in %d runs, longest %v; want %d s in %d runs, longest %v",
					h.BusySeconds, h.BusyRuns, h.LongestBusyRun, c.wantBusy, c.wantRuns, c.wantLongest)
			}
			if h.SampledSeconds != 3600 {
				t.Errorf("sampled %d s, want 3600", h.SampledSeconds)
			}
			if got := s.BusyFrom(); got != FromSamples {
				t.Errorf("BusyFrom after a plain sample = %v, want samples", got)
			}
		})
	}
}
