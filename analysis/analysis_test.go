package analysis

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
)

// t0 is a midnight UTC, so minute i of a test series falls in hour of day
// (i/60)%24.
var t0 = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

const mib = 1 << 20

// load is what a container does during one minute.
type load struct {
	cores   float64
	net     float64 // received bytes per second
	disk    float64 // written bytes per second
	ws      uint64
	accepts uint64 // per minute
}

var (
	idleLoad = load{cores: 0.001, ws: 200 * mib}
	busyLoad = load{cores: 0.3, net: 50_000, ws: 200 * mib, accepts: 10}
)

func defaultAnalysis() config.AnalysisConfig { return config.Default().Analysis }

func defaultThresholds(t testing.TB) history.Thresholds {
	th, err := ThresholdsFor(defaultAnalysis().Idle, nil)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// build feeds n minutes from start into a new series, samplesPerMinute
// samples each carrying the deltas of its share of the minute; pattern
// returns false for a minute without samples. The last minute is closed,
// so Now = start + n minutes sees every minute.
func build(th history.Thresholds, start time.Time, n, samplesPerMinute int, pattern func(i int) (load, bool)) *history.Series {
	s := history.NewSeries()
	iv := time.Minute / time.Duration(samplesPerMinute)
	secs := iv.Seconds()
	for i := range n {
		l, ok := pattern(i)
		if !ok {
			continue
		}
		for k := range samplesPerMinute {
			sm := history.Sample{
				Time:           start.Add(time.Duration(i)*time.Minute + time.Duration(k)*iv + time.Second),
				CPUSeconds:     l.cores * secs,
				WorkingSet:     l.ws,
				NetRxBytes:     uint64(l.net * secs),
				DiskWriteBytes: uint64(l.disk * secs),
				Interval:       iv,
			}
			if k == 0 {
				sm.TCPAccepts = l.accepts
			}
			s.Add(sm, th)
		}
	}
	s.Advance(start.Add(time.Duration(n)*time.Minute), th)
	return s
}

// hourly is active during the first active minutes of every hour.
func hourly(active int, busy, idle load) func(int) (load, bool) {
	return func(i int) (load, bool) {
		if i%60 < active {
			return busy, true
		}
		return idle, true
	}
}

// withLimits is an input with a CPU limit in cores and a memory limit.
func withLimits(s *history.Series, now time.Time, cores float64, memBytes uint64) Input {
	return Input{
		Now: now, Series: s,
		CPUQuotaMicros: int64(cores * 100_000), CPUPeriodMicros: 100_000,
		MemoryLimitBytes: memBytes,
	}
}

func codes(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func reason(rs []Reason, code string) (Reason, bool) {
	for _, r := range rs {
		if r.Code == code {
			return r, true
		}
	}
	return Reason{}, false
}

func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestThresholdsFor(t *testing.T) {
	cfg := defaultAnalysis().Idle
	th, err := ThresholdsFor(cfg, map[string]string{
		LabelIdleCPUCores:                "0.05",
		LabelIdleNetworkBytesPerSecond:   "200",
		LabelIdleDiskWriteBytesPerSecond: "0",
		"unrelated":                      "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := history.Thresholds{CPUCores: 0.05, NetBytesPerSecond: 200, DiskWriteBytesPerSecond: 0}
	if th != want {
		t.Fatalf("thresholds = %+v, want %+v", th, want)
	}

	th, err = ThresholdsFor(cfg, nil)
	if err != nil || th.CPUCores != cfg.CPUCores || th.NetBytesPerSecond != cfg.NetworkBytesPerSecond || th.DiskWriteBytesPerSecond != cfg.DiskWriteBytesPerSecond {
		t.Fatalf("no labels: %+v, %v", th, err)
	}

	for _, bad := range []string{"lots", "-1", "NaN", "+Inf", ""} {
		th, err := ThresholdsFor(cfg, map[string]string{LabelIdleCPUCores: bad, LabelIdleNetworkBytesPerSecond: "500"})
		if err == nil {
			t.Fatalf("%q accepted", bad)
		}
		if !strings.Contains(err.Error(), LabelIdleCPUCores) || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("error %q does not name the label and value %q", err, bad)
		}
		if th.CPUCores != cfg.CPUCores || th.NetBytesPerSecond != 500 {
			t.Errorf("%q: thresholds = %+v, want the config's CPU floor and the valid network override", bad, th)
		}
	}

	_, err = ThresholdsFor(cfg, map[string]string{LabelIdleCPUCores: "x", LabelIdleDiskWriteBytesPerSecond: "-5"})
	if err == nil || !strings.Contains(err.Error(), LabelIdleCPUCores) || !strings.Contains(err.Error(), LabelIdleDiskWriteBytesPerSecond) {
		t.Fatalf("two bad labels: %v", err)
	}
}

// TestScratchReuse checks that results do not share memory with the
// scratch, and that a reused scratch allocates only a result's own slices.
func TestScratchReuse(t *testing.T) {
	th := defaultThresholds(t)
	const n = 3 * 24 * 60
	a := build(th, t0, n, 1, hourly(3, busyLoad, idleLoad))
	b := build(th, t0, n, 1, func(i int) (load, bool) {
		if h := i / 60 % 24; h >= 8 && h < 20 {
			return busyLoad, true
		}
		return idleLoad, true
	})
	now := t0.Add(n * time.Minute)
	cfg := defaultAnalysis()
	var sc Scratch
	ra := Analyze(withLimits(a, now, 1, 512*mib), cfg, &sc)
	saved := slices.Clone(ra.Reasons)
	rb := Analyze(withLimits(b, now, 1, 512*mib), cfg, &sc)
	if !slices.Equal(ra.Reasons, saved) || ra.Verdict == rb.Verdict {
		t.Fatalf("first result changed: %v → %v (verdicts %s, %s)", saved, ra.Reasons, ra.Verdict, rb.Verdict)
	}
	if fresh := Analyze(withLimits(b, now, 1, 512*mib), cfg, nil); !resultsEqual(fresh, rb) {
		t.Fatalf("scratch changes the result:\n%+v\n%+v", fresh, rb)
	}
	allocs := testing.AllocsPerRun(20, func() { Analyze(withLimits(a, now, 1, 512*mib), cfg, &sc) })
	if allocs > 2 {
		t.Errorf("%v allocations per analysis with a reused scratch, want at most 2 (reasons and their text)", allocs)
	}
	allocs = testing.AllocsPerRun(20, func() { Analyze(withLimits(b, now, 1, 512*mib), cfg, &sc) })
	if allocs > 3 {
		t.Errorf("%v allocations per analysis with idle hours, want at most 3", allocs)
	}
}

func resultsEqual(a, b Result) bool {
	eq := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
	return slices.Equal(a.Reasons, b.Reasons) && slices.Equal(a.Blockers, b.Blockers) && slices.Equal(a.IdleHoursOfDay, b.IdleHoursOfDay) &&
		a.Verdict == b.Verdict && a.Score == b.Score && a.Bursts == b.Bursts && a.Reserved == b.Reserved &&
		eq(a.IdleRatio1h, b.IdleRatio1h) && eq(a.IdleRatio24h, b.IdleRatio24h) && eq(a.IdleRatio7d, b.IdleRatio7d) &&
		a.CPUP95 == b.CPUP95 && a.WorkingSetMax == b.WorkingSetMax && a.SavingsPerMonth == b.SavingsPerMonth
}
