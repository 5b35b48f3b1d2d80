package report

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
)

// recordedWeek is a container's week of one-minute samples from start,
// each minute's CPU and connections from its time in loc, analysed with
// cfg as the agent would, in the report's form.
func recordedWeek(t *testing.T, cfg config.AnalysisConfig, start time.Time, loc *time.Location, at func(l time.Time) (cores float64, accepts uint64)) *Analysis {
	th, err := analysis.ThresholdsFor(cfg.Idle, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := history.NewSeries()
	const minutes = 7 * 24 * 60
	for i := range minutes {
		tm := start.Add(time.Duration(i) * time.Minute)
		cores, accepts := at(tm.In(loc))
		s.Add(history.Sample{Time: tm.Add(time.Second), CPUSeconds: cores * 60, WorkingSet: 200 << 20, NetRxBytes: uint64(cores * 1e7),
			TCPAccepts: accepts, Interval: time.Minute}, th)
	}
	now := start.Add(minutes * time.Minute)
	s.Advance(now, th)
	r := analysis.Analyze(analysis.Input{Now: now, Series: s, CPUQuotaMicros: 100_000, CPUPeriodMicros: 100_000, MemoryLimitBytes: 512 << 20}, cfg, nil)
	return fromResult(&r)
}

// Recorded weeks, analysed and planned end to end: a weekday office
// service in New York gets a SleepInfo for the nights and weekend in New
// York's hours, and its replayed saving is the report's within 1 %; a
// nightly batch's ScaledObject wakes it around its run; a service with
// rare night-time requests is written for review only, with what the
// schedule would have refused.
func TestPlansFromRecordedWeeks(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Analysis
	cfg.TimeZone = "America/New_York"
	monday := time.Date(2026, 11, 2, 5, 0, 0, 0, time.UTC) // 00:00 in New York
	workday := func(l time.Time) bool { return l.Weekday() != time.Saturday && l.Weekday() != time.Sunday }
	office := func(l time.Time) (float64, uint64) {
		if workday(l) && l.Hour() >= 8 && l.Hour() < 18 {
			return 0.3, 10
		}
		return 0.001, 0
	}
	night := func(l time.Time) (float64, uint64) {
		c, a := office(l)
		if l.Weekday() == time.Wednesday && l.Hour() == 3 && l.Minute() < 3 {
			a = 2
		}
		return c, a
	}
	// 90 minutes of work a night: too long for a serverless container.
	batch := func(l time.Time) (float64, uint64) {
		if m := l.Hour()*60 + l.Minute(); m >= 120 && m < 210 {
			return 0.5, 0
		}
		return 0.001, 0
	}
	mk := func(name string, a *Analysis) Container {
		return Container{ID: name, Namespace: "k8s.io", Name: "app", PodName: name + "-1", PodNamespace: "shop", WorkloadKind: "Deployment",
			WorkloadName: name, Image: "registry.example/" + name, Running: true, Analysis: a}
	}
	r := Report{Node: "n1", Time: monday.Add(7 * 24 * time.Hour), Currency: "USD", Containers: []Container{
		mk("office", recordedWeek(t, cfg, monday, ny, office)),
		mk("night", recordedWeek(t, cfg, monday, ny, night)),
		mk("batch", recordedWeek(t, cfg, monday, ny, batch)),
	}}
	ps := Plans(r, cfg)

	o := planByName(t, ps, "office")
	a := r.Containers[0].Analysis
	if a.Verdict != string(analysis.VerdictScaleToZero) || !o.Recommended || o.Replay == nil {
		t.Fatalf("office: verdict %s, plan %+v", a.Verdict, o)
	}
	si := at(fileOf(t, o, "kube-green-sleepinfo.yaml"), "items").([]any)
	if len(si) != 1 || at(si[0], "spec", "timeZone") != "America/New_York" || at(si[0], "spec", "weekdays") != "1-5" ||
		at(si[0], "spec", "sleepAt") != "18:00" || at(si[0], "spec", "wakeUpAt") != "08:00" {
		t.Errorf("office SleepInfo %v", si)
	}
	// 14 hours on each of 5 workdays and the whole weekend: 118 a week.
	want := a.CostPerHour * 118 / 168 * analysis.HoursPerMonth
	if math.Abs(o.SavingPerMonth-want) > 1e-9 || math.Abs(o.Replay.SavingPerMonth-want) > 0.01*want || o.Replay.HoursWithData != 168 ||
		o.Replay.RefusedConnections != 0 || o.Replay.Starts != 5 {
		t.Errorf("office: saving %.4f, replay %+v; want %.4f, 5 starts, nothing refused", o.SavingPerMonth, o.Replay, want)
	}

	// Its objects carry the evidence: the history, the replay, the money.
	ann := at(fileOf(t, o, "keda-scaledobject.yaml"), "metadata", "annotations").(map[string]any)
	if !strings.Contains(ann["fleetscope.io/replay"].(string), "over the 168 hours recorded: 7080 minutes at zero") ||
		ann["fleetscope.io/saving-per-month"] != money("USD", o.SavingPerMonth) || !strings.Contains(ann["fleetscope.io/evidence"].(string), "observed 7.0 days") {
		t.Errorf("office's annotations %v", ann)
	}

	b := planByName(t, ps, "batch")
	trig := at(fileOf(t, b, "keda-scaledobject.yaml"), "spec", "triggers").([]any)
	if len(trig) != 2 || at(trig[0], "metadata", "start") != "0 2 * * 1-5" || at(trig[0], "metadata", "end") != "0 4 * * 1-5" ||
		at(trig[1], "metadata", "start") != "0 2 * * 0,6" || b.Replay == nil || b.Replay.Starts != 7 {
		t.Errorf("batch: triggers %v, replay %+v", trig, b.Replay)
	}

	// The night's requests were refused by the office schedule: the
	// verdict is not a schedule, so nothing is suggested.
	n := planByName(t, ps, "night")
	na := r.Containers[1].Analysis
	if na.Verdict == string(analysis.VerdictScaleToZero) || n.Recommended && n.Verdict == string(analysis.VerdictScaleToZero) {
		t.Errorf("night: verdict %s, plan %+v", na.Verdict, n)
	}
	if na.Replay == nil || na.Replay.RefusedConnections != 6 || !strings.Contains(reasonText(na.Reasons, "refused_connections"), "refused 6 connections") {
		t.Errorf("night: replay %+v, reasons %v", na.Replay, na.Reasons)
	}
}

func reasonText(rs []Reason, code string) string {
	for _, r := range rs {
		if r.Code == code {
			return r.Text
		}
	}
	return ""
}
