package history

import (
	"runtime"
	"testing"
	"time"
	"unsafe"
)

func TestGapLongerThanRing(t *testing.T) {
	s := NewSeries()
	busy := constant(Sample{CPUSeconds: 10})
	// Eight days of data fill the ring; then a gap just over a week, so
	// that some slots still hold minutes from before the gap.
	feed(s, t0, t0.Add(8*24*time.Hour), 10*time.Second, defaultTh, busy)
	restart := t0.Add(8*24*time.Hour + 7*24*time.Hour + 2*time.Hour + 3*time.Minute)
	s.Add(Sample{Time: restart, CPUSeconds: 10}, defaultTh)
	if got := s.ObservedMinutes(); got != 0 {
		t.Errorf("ObservedMinutes right after the gap = %d, want 0", got)
	}
	for i, m := range minutes(s, restart.Add(-7*24*time.Hour-time.Hour), restart.Add(time.Hour)) {
		if m != 0 {
			t.Fatalf("minute %d around the gap = %#x, want no data", i, uint8(m))
		}
	}
	for i, h := range s.AppendHours(nil, restart.Add(-8*24*time.Hour), restart) {
		if h != (Hour{}) {
			t.Fatalf("hour %d before the restart = %+v, want zero", i, h)
		}
	}

	feed(s, restart.Add(10*time.Second), restart.Add(2*time.Hour+time.Second), 10*time.Second, defaultTh, busy)
	if got := s.ObservedMinutes(); got != 120 {
		t.Errorf("ObservedMinutes = %d, want 120", got)
	}
	hs := s.AppendHours(nil, restart.Add(-7*24*time.Hour), restart.Add(3*time.Hour))
	for i, h := range hs {
		var want uint8
		switch i {
		case 168: // restart is at :03
			want = 57
		case 169:
			want = 60
		case 170:
			want = 3
		}
		if h.Minutes != want {
			t.Errorf("hour %d: %d minutes, want %d", i, h.Minutes, want)
		}
	}
	if !s.FirstSeen().Equal(t0) {
		t.Errorf("FirstSeen = %v, want %v", s.FirstSeen(), t0)
	}
}

// weekPattern is the CPU of minute k: bucket midpoints, so that encoding
// is exact, cycling with a period that is prime to the ring's length.
func weekPattern(k int) float64 { return codeCores[2+k%121] }

func TestRingWrapAround(t *testing.T) {
	s := NewSeries()
	start := t0
	end := t0.Add(8*24*time.Hour + 30*time.Minute)
	s.Add(Sample{Time: start.Add(-10 * time.Second)}, defaultTh)
	feed(s, start, end.Add(time.Second), 10*time.Second, defaultTh, func(at time.Time) Sample {
		k := int(at.Sub(start) / time.Minute)
		return Sample{CPUSeconds: weekPattern(k) * 10}
	})
	// The minute of end is in progress; the ring holds the week before.
	if got := s.ObservedMinutes(); got != MinutesKept {
		t.Errorf("ObservedMinutes = %d, want %d", got, MinutesKept)
	}
	week := minutes(s, end.Add(-7*24*time.Hour), end)
	if len(week) != MinutesKept {
		t.Fatalf("%d minutes", len(week))
	}
	first := int(end.Add(-7*24*time.Hour).Sub(start) / time.Minute)
	for i, m := range week {
		if want := EncodeCPU(weekPattern(first + i)); m.Code() != want {
			t.Fatalf("minute %d of the week: code %d, want %d", i, m.Code(), want)
		}
	}
	// The first day and a half fell out of the ring.
	for i, m := range minutes(s, start, end.Add(-7*24*time.Hour)) {
		if m != 0 {
			t.Fatalf("minute %d: %#x, want gone", i, uint8(m))
		}
	}
	// A window straddling the ring's oldest edge.
	edge := minutes(s, end.Add(-7*24*time.Hour-2*time.Minute), end.Add(-7*24*time.Hour+2*time.Minute))
	if edge[0] != 0 || edge[1] != 0 || edge[2].Code() != EncodeCPU(weekPattern(first)) || !edge[3].Valid() {
		t.Errorf("ring edge = %v", edge)
	}
	hs := s.AppendHours(nil, end.Add(-8*24*time.Hour), end.Add(time.Hour))
	for i, h := range hs {
		var want uint8
		switch {
		case i < 24: // more than a week old
		case i < len(hs)-1:
			want = 60
		default:
			want = 30 // in progress
		}
		if h.Minutes != want {
			t.Errorf("hour %d: %d minutes, want %d", i, h.Minutes, want)
		}
	}
}

// seriesBudget is what a week-old Series may cost on the heap: 27 KiB of
// rings and header, plus the evidence counters' 192 bytes (see the package
// doc).
const seriesBudget = 27<<10 + 192

func TestSeriesMemory(t *testing.T) {
	if got := unsafe.Sizeof(hourRec{}); got != 40 {
		t.Errorf("hour record: %d bytes, want 40", got)
	}
	if unsafe.Sizeof(uintptr(0)) == 8 && SeriesBytes != 27432 {
		t.Errorf("SeriesBytes = %d, the package doc says 27432", SeriesBytes)
	}
	if SeriesBytes > seriesBudget {
		t.Errorf("SeriesBytes = %d, over %d", SeriesBytes, seriesBudget)
	}
	// What the allocator really hands out, size classes included.
	const n = 1000
	keep := make([]*Series, n)
	allocs := testing.AllocsPerRun(1, func() {
		for i := range keep {
			keep[i] = NewSeries()
			keep[i].Add(Sample{Time: t0}, defaultTh)
		}
	})
	if allocs != 3*n {
		t.Errorf("%v allocations for %d series, want 3 each", allocs, n)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = NewSeries()
		keep[i].Add(Sample{Time: t0}, defaultTh)
	}
	runtime.ReadMemStats(&after)
	per := (after.TotalAlloc - before.TotalAlloc) / n
	t.Logf("heap per series: %d bytes (data %d)", per, SeriesBytes)
	if per > 25<<10 {
		t.Errorf("heap per series = %d bytes, over 25 KiB", per)
	}
}

// TestRingsGrowWithAge feeds a container for eight days and checks, every
// few hours, that growing rings lost nothing since the first sample and
// that they stop growing at a week.
func TestRingsGrowWithAge(t *testing.T) {
	s := NewSeries()
	start := t0.Add(17 * time.Minute) // not on an hour boundary
	end := start.Add(8 * 24 * time.Hour)
	allocs := 0
	// Each minute's fine CPU code as it was when the minute closed: the
	// codes must move with their minutes when the ring grows.
	fineAt := map[time.Time]uint8{}
	for at, i := start, 0; at.Before(end); at, i = at.Add(30*time.Second), i+1 {
		before := cap(s.ring) + cap(s.hours)
		s.Add(Sample{Time: at, CPUSeconds: float64(i%7) * 3, WorkingSet: 1 << 20}, defaultTh)
		if cap(s.ring)+cap(s.hours) != before {
			allocs++
		}
		if closed := at.Truncate(time.Minute).Add(-time.Minute); at.Sub(at.Truncate(time.Minute)) < 30*time.Second && !closed.Before(start.Truncate(time.Minute)) {
			fineAt[closed] = s.AppendCPUFine(nil, closed, closed.Add(time.Minute))[0]
		}
		if i%(6*120) != 0 {
			continue
		}
		cur := at.Truncate(time.Minute)
		from := start.Truncate(time.Minute)
		if weekAgo := cur.Add(-MinutesKept * time.Minute); weekAgo.After(from) {
			from = weekAgo
		}
		mins := s.AppendMinutes(nil, start.Add(-24*time.Hour), cur)
		valid := 0
		for j, m := range mins {
			at := start.Add(-24 * time.Hour).Truncate(time.Minute).Add(time.Duration(j) * time.Minute)
			if want := !at.Before(from); m.Valid() != want {
				t.Fatalf("at %v: minute %v valid = %v, want %v", cur, at, m.Valid(), want)
			}
			if m.Valid() {
				valid++
			}
		}
		if valid != s.ObservedMinutes() {
			t.Fatalf("at %v: %d valid minutes, ObservedMinutes %d", cur, valid, s.ObservedMinutes())
		}
		fine := s.AppendCPUFine(nil, start.Add(-24*time.Hour), cur)
		nonzero := 0
		for j, f := range fine {
			at := start.Add(-24 * time.Hour).Truncate(time.Minute).Add(time.Duration(j) * time.Minute)
			if at.Before(from) {
				if f != 0 {
					t.Fatalf("at %v: minute %v outside the ring has fine code %d", cur, at, f)
				}
				continue
			}
			if want, ok := fineAt[at]; !ok || f != want {
				t.Fatalf("at %v: minute %v has fine code %d, want %d (recorded %v)", cur, at, f, want, ok)
			}
			if f != 0 {
				nonzero++
			}
		}
		if valid > 60 && nonzero == 0 {
			t.Fatalf("at %v: no fine CPU codes", cur)
		}
		hours := s.AppendHours(nil, start.Add(-24*time.Hour), cur.Truncate(time.Hour))
		for j, h := range hours {
			hr := start.Add(-24 * time.Hour).Truncate(time.Hour).Add(time.Duration(j) * time.Hour)
			full := !hr.Before(start.Truncate(time.Hour).Add(time.Hour)) && !hr.Before(cur.Truncate(time.Hour).Add(-HoursKept*time.Hour))
			if full && h.Minutes != 60 {
				t.Fatalf("at %v: hour %v has %d minutes, want 60", cur, hr, h.Minutes)
			}
			if hr.Before(start.Truncate(time.Hour)) && h.Minutes != 0 {
				t.Fatalf("at %v: hour %v before the first sample has %d minutes", cur, hr, h.Minutes)
			}
		}
	}
	if len(s.mins()) != MinutesKept || len(s.fine()) != MinutesKept || len(s.hours) != HoursKept {
		t.Errorf("after 8 days: rings of %d minutes (%d fine codes) and %d hours, want a week", len(s.mins()), len(s.fine()), len(s.hours))
	}
	// Power-of-two growth: a handful of reallocations in a week.
	if allocs > 20 {
		t.Errorf("rings grew %d times in a week", allocs)
	}
	t.Logf("rings grew %d times", allocs)
}

// TestWeekOldSeriesMemory checks what a Series keeps on the heap at full
// length, size classes included (the short rings it outgrew are garbage);
// younger ones cost less.
func TestWeekOldSeriesMemory(t *testing.T) {
	const n = 1000
	keep := make([]*Series, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range keep {
		keep[i] = NewSeries()
		keep[i].Add(Sample{Time: t0}, defaultTh)
		keep[i].Add(Sample{Time: t0.Add(8 * 24 * time.Hour)}, defaultTh)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("heap per week-old series: %d bytes (data %d)", per, SeriesBytes)
	if per > seriesBudget {
		t.Errorf("heap per week-old series = %d bytes, over %d", per, seriesBudget)
	}
	if len(keep[0].mins()) != MinutesKept || len(keep[0].fine()) != MinutesKept || len(keep[0].hours) != HoursKept {
		t.Error("rings not at full length after a week")
	}
	runtime.KeepAlive(keep)
}
