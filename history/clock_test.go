package history

import (
	"bytes"
	"io"
	"path/filepath"
	"testing"
	"time"
)

// fakeClock is a wall clock that can step and a monotonic one that cannot.
type fakeClock struct {
	wall time.Time
	mono time.Duration
}

func (c *fakeClock) tick(d time.Duration) { c.wall, c.mono = c.wall.Add(d), c.mono+d }
func (c *fakeClock) step(d time.Duration) { c.wall = c.wall.Add(d) }

// run feeds a busy sample every 10 s for d.
func (c *fakeClock) run(s *Series, d time.Duration) {
	for end := c.mono + d; c.mono < end; c.tick(10 * time.Second) {
		s.Add(Sample{Time: c.wall, Mono: c.mono, CPUSeconds: 1, Interval: 10 * time.Second}, defaultTh)
	}
}

// observedAt is the number of minutes with data in the week before now,
// as the analysis reads it.
func observedAt(s *Series, now time.Time) int {
	n := 0
	for _, m := range s.AppendMinutes(nil, now.Add(-7*24*time.Hour), now) {
		if m.Valid() {
			n++
		}
	}
	return n
}

// TestClockStepForwardAndBack: one sample stamped 30 days ahead, then the
// clock back where it was, loses no history and stops nothing.
func TestClockStepForwardAndBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		jump time.Duration
	}{{"30 days ahead and back", 30 * 24 * time.Hour}, {"3 hours back and forward", -3 * time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{wall: t0, mono: time.Hour}
			s := NewSeries()
			c.run(s, 2*time.Hour)
			c.step(tc.jump)
			c.run(s, 10*time.Second) // one sample at the stepped time
			c.step(-tc.jump)
			c.run(s, time.Hour)
			s.AdvanceMono(c.wall, c.mono, defaultTh)
			// 3 hours and 10 seconds of samples: 181 minutes with data, the
			// last one still in progress.
			if got := observedAt(s, c.wall); got != 180 || s.ObservedMinutes() != 180 {
				t.Fatalf("%d minutes observed (ring %d), want 180", got, s.ObservedMinutes())
			}
			if s.Offset() != 0 || !s.FirstSeen().Equal(t0) {
				t.Fatalf("offset %v, first seen %v", s.Offset(), s.FirstSeen())
			}
		})
	}
}

// TestClockStepStays: the wall clock steps and stays stepped (an NTP
// correction); the history before the step stays readable at the new wall
// time, across a checkpoint too, and only the minutes in between are lost.
func TestClockStepStays(t *testing.T) {
	for _, jump := range []time.Duration{30 * 24 * time.Hour, -30 * 24 * time.Hour, -90 * time.Minute, 10 * time.Minute} {
		t.Run(jump.String(), func(t *testing.T) {
			c := &fakeClock{wall: t0, mono: time.Hour}
			st := NewStore()
			s := st.GetOrCreate(Key{"k8s.io", "c"})
			c.run(s, 2*time.Hour)
			c.step(jump)
			c.run(s, time.Hour)
			s.AdvanceMono(c.wall, c.mono, defaultTh)
			if got := observedAt(s, c.wall); got != 180 {
				t.Fatalf("%d minutes observed at the stepped clock, want 180", got)
			}
			if s.Offset() != -jump {
				t.Fatalf("offset %v, want %v", s.Offset(), -jump)
			}
			if got := s.LastSeen(); got.Sub(c.wall) > 0 || c.wall.Sub(got) > time.Minute {
				t.Fatalf("last seen %v, now %v", got, c.wall)
			}

			// A restart: the checkpoint keeps the offset; the new process's
			// clock readings have another origin.
			var buf bytes.Buffer
			if _, err := st.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			restored, err := ReadStore(&buf)
			if err != nil {
				t.Fatal(err)
			}
			r := restored.Get(Key{"k8s.io", "c"})
			c.tick(5 * time.Minute) // down for 5 minutes
			c.mono = 7 * time.Second
			c.run(r, time.Hour)
			r.AdvanceMono(c.wall, c.mono, defaultTh)
			if got := observedAt(r, c.wall); got != 240 {
				t.Fatalf("after a restart: %d minutes observed, want 240", got)
			}
		})
	}
}

// TestClockBehindAfterRestart: the agent restarts with a wall clock behind
// its checkpoint (nothing to measure the step by): history continues after
// the last sample instead of ignoring samples until the clock catches up.
func TestClockBehindAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.bin")
	c := &fakeClock{wall: t0, mono: time.Hour}
	st := NewStore()
	s := st.GetOrCreate(Key{"k8s.io", "c"})
	c.run(s, 2*time.Hour)
	if err := st.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	restored, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := restored.Get(Key{"k8s.io", "c"})
	c.step(-6 * time.Hour)
	c.mono = time.Second
	c.run(r, time.Hour)
	r.AdvanceMono(c.wall, c.mono, defaultTh)
	// The first sample after the restart joins the minute in progress
	// (119); the hour after it ends in minute 179, still in progress.
	if got := observedAt(r, c.wall); got != 179 {
		t.Fatalf("%d minutes observed, want 179", got)
	}
}

// TestReadVersion1: a checkpoint written before timelines had offsets
// reads as one with no offset.
func TestReadVersion1(t *testing.T) {
	st := sampleStore()
	data := golden(t, version1)
	if got := data[len(magic)]; got != 1 {
		t.Fatalf("version byte %d", got)
	}
	path := filepath.Join(t.TempDir(), "history.bin")
	if err := saveFile(path, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 had no fine CPU codes: minutes read as mid-bucket.
	minutesAsMidBucket(st)
	asVersion3(st)
	sameHistory(t, st, got)
}
