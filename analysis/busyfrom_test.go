package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

// TestBusyFromBelowTheSample: 1 s of work every 20 s in 10 s samples is
// busy in every other sample; measured below the sample (bandwidth
// periods, fine readings) it is busy a twentieth of the time, a function
// candidate whose reasons say what measured it and whose billed time is
// that of the work. By whole samples it is busy half the time.
func TestBusyFromBelowTheSample(t *testing.T) {
	th := defaultThresholds(t)
	const n = 2 * 24 * 60
	now := t0.Add(n * time.Minute)
	for _, c := range []struct {
		from     history.Resolution
		wantBusy float64
		text     string
	}{
		{history.FromPeriods, 0.05, "busy time from the CPU quota's bandwidth periods"},
		{history.FromFine, 0.05, "busy time from fine sampling"},
		{history.FromSamples, 0.5, ""},
	} {
		s := history.NewSeries()
		for i := range n * 6 {
			sm := history.Sample{Time: t0.Add(time.Duration(i) * 10 * time.Second), WorkingSet: 20 * mib, Interval: 10 * time.Second, BusyFrom: c.from}
			if i%2 == 0 {
				sm.CPUSeconds, sm.Busy = 0.5, time.Second
			}
			s.Add(sm, th)
		}
		s.Advance(now, th)
		r := Analyze(withLimits(s, now, 0.5, 256*mib), defaultAnalysis(), nil)
		if !near(r.BusyRatio, c.wantBusy, 1e-9) || r.BusyFrom != c.from.String() {
			t.Errorf("%v: busy %v from %q, want %v from %v", c.from, r.BusyRatio, r.BusyFrom, c.wantBusy, c.from)
			continue
		}
		if c.from == history.FromSamples {
			if r.Verdict == VerdictFunction {
				t.Errorf("busy half the time by whole samples: verdict %s", r.Verdict)
			}
			continue
		}
		i, _ := reason(r.Reasons, CodeIdleRatioHigh)
		if r.Verdict != VerdictFunction || !strings.Contains(i.Text, c.text) {
			t.Errorf("%v: verdict %s, idle reason %q", c.from, r.Verdict, i.Text)
		}
		// The high end of the billed time is the second of work in each
		// 20 s: 5 % of a month.
		if want := 0.05 * 730 * 3600; !near(r.BilledSecondsHigh, want, 1e-6) {
			t.Errorf("%v: billed up to %v s a month, want %v", c.from, r.BilledSecondsHigh, want)
		}
	}
}
