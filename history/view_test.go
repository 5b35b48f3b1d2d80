package history

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// viewSeries are series of several ages (rings of several lengths, some
// wrapped), with gaps, restarts and a stepped clock, sampled at random.
func viewSeries(t *testing.T) map[string]*Series {
	rng := rand.New(rand.NewPCG(7, 8))
	mk := func(age time.Duration, step time.Duration) *Series {
		s := NewSeries()
		at, mono := t0.Add(7*time.Minute+13*time.Second), time.Hour
		for end := at.Add(age); at.Before(end); {
			d := time.Duration(1+rng.IntN(90)) * time.Second
			if rng.IntN(200) == 0 {
				d += time.Duration(rng.IntN(300)) * time.Minute // a gap
			}
			at, mono = at.Add(d), mono+d
			if step != 0 && rng.IntN(5000) == 0 {
				at = at.Add(step) // the wall clock steps
			}
			s.Add(Sample{
				Time: at, Mono: mono, CPUSeconds: math.Pow(10, -5+7*rng.Float64()), WorkingSet: uint64(rng.IntN(1 << 34)),
				DiskWriteBytes: uint64(rng.IntN(1 << 12)), TCPAccepts: uint64(rng.IntN(5)), Down: rng.IntN(30) == 0, Listening: rng.IntN(2) == 0,
			}, defaultTh)
			if rng.IntN(1000) == 0 {
				s.NoteRestart()
			}
		}
		return s
	}
	return map[string]*Series{
		"never":   NewSeries(),
		"minutes": mk(20*time.Minute, 0),
		"hours":   mk(5*time.Hour, 0),
		"days":    mk(50*time.Hour, 0),
		"week":    mk(7*24*time.Hour+30*time.Minute, 0),
		"weeks":   mk(12*24*time.Hour, 0),
		"stepped": mk(9*24*time.Hour, -3*time.Hour),
	}
}

// viewWindows are windows around s's data: before, across and after it,
// short and long, aligned and not.
func viewWindows(rng *rand.Rand, s *Series) [][2]time.Time {
	last := s.LastSeen()
	if last.IsZero() {
		last = t0
	}
	var ws [][2]time.Time
	for range 60 {
		to := last.Add(time.Duration(rng.IntN(20*60)-10*60)*time.Minute + time.Duration(rng.IntN(60))*time.Second)
		from := to.Add(-time.Duration(rng.IntN(10*24*60)) * time.Minute).Add(-time.Duration(rng.IntN(60)) * time.Second)
		ws = append(ws, [2]time.Time{from, to})
	}
	return append(ws, [2]time.Time{last.Add(-7 * 24 * time.Hour), last}, [2]time.Time{time.Time{}, last}, [2]time.Time{last, last.Add(-time.Hour)})
}

// TestEachMinutesMatchesAppend: the stretches EachMinutes hands out, laid
// at their offsets in a window of zeros, are what AppendMinutes and
// AppendCPUFine copy.
func TestEachMinutesMatchesAppend(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for name, s := range viewSeries(t) {
		for _, w := range viewWindows(rng, s) {
			wantM, wantF := s.AppendMinutes(nil, w[0], w[1]), s.AppendCPUFine(nil, w[0], w[1])
			gotM, gotF := make([]Minute, len(wantM)), make([]uint8, len(wantF))
			next, calls := 0, 0
			n := s.EachMinutes(w[0], w[1], func(at int, mins []Minute, fine []uint8) {
				if at < next || len(mins) == 0 || len(mins) != len(fine) {
					t.Fatalf("%s %v: stretch at %d of %d minutes (%d fine codes), after %d", name, w, at, len(mins), len(fine), next)
				}
				copy(gotM[at:], mins)
				copy(gotF[at:], fine)
				next, calls = at+len(mins), calls+1
			})
			if n != len(wantM) || calls > 2 || !slices.Equal(gotM, wantM) || !slices.Equal(gotF, wantF) {
				t.Fatalf("%s %v: window of %d minutes in %d stretches, want %d minutes as AppendMinutes gives", name, w, n, calls, len(wantM))
			}
		}
	}
}

// TestSumHoursMatchesAppend: SumHours gives what summing AppendHours'
// hours with a sampled minute, oldest first, gives.
func TestSumHoursMatchesAppend(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var ws []uint64
	for name, s := range viewSeries(t) {
		for _, w := range viewWindows(rng, s) {
			var want Totals
			var wantWS []uint64
			for _, h := range s.AppendHours(nil, w[0], w[1]) {
				if h.Minutes == 0 {
					continue
				}
				want.Hours++
				wantWS = append(wantWS, h.MaxWorkingSet)
				want.TCPAccepts += float64(h.TCPAccepts)
				want.DiskWriteBytes += float64(h.DiskWriteBytes)
				want.BusyCPUSeconds += float64(h.BusyCPUSeconds)
				want.BusySeconds += float64(h.BusySeconds)
				want.SampledSeconds += float64(h.SampledSeconds)
				want.BusyRuns += int(h.BusyRuns)
				want.Restarts += int(h.Restarts)
				want.ListenMinutes += int(h.ListenMinutes)
				want.DownMinutes += int(h.DownMinutes)
				want.LongestBusyRun = max(want.LongestBusyRun, h.LongestBusyRun)
				want.PeakCores = max(want.PeakCores, h.PeakCores)
			}
			var got Totals
			got, ws = s.SumHours(w[0], w[1], append(ws[:0], 42))
			if got != want || ws[0] != 42 || !slices.Equal(ws[1:], wantWS) {
				t.Fatalf("%s %v:\n got %+v %v\nwant %+v %v", name, w, got, ws[1:], want, wantWS)
			}
		}
	}
}

// TestPeakCodesOrderAsCores: SumHours compares peaks coded and decodes
// the highest, which takes the codes to order as the rates they decode
// to, float32 rounding included.
func TestPeakCodesOrderAsCores(t *testing.T) {
	prev := float32(-1)
	for p := range uint16(codeMax<<8 | 0xff + 1) {
		r := hourRec{peak: p}
		c := float32(r.peakCores())
		if c < prev {
			t.Fatalf("peak code %#x decodes to %v, below %v", p, c, prev)
		}
		prev = c
	}
}

// TestReadersDoNotAllocate: EachMinutes and SumHours read in place.
func TestReadersDoNotAllocate(t *testing.T) {
	s := viewSeries(t)["week"]
	to := s.LastSeen()
	from := to.Add(-7 * 24 * time.Hour)
	ws := make([]uint64, 0, HoursKept+1)
	sum := 0
	if n := testing.AllocsPerRun(100, func() {
		s.EachMinutes(from, to, func(_ int, mins []Minute, _ []uint8) { sum += len(mins) })
		_, ws = s.SumHours(from, to.Add(time.Hour), ws[:0])
	}); n != 0 || sum == 0 {
		t.Errorf("%v allocations", n)
	}
}
