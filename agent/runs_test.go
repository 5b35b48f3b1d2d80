package agent

import (
	"strconv"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
)

// A CronJob's runs are separate pods that come and go; the run log makes
// one workload of them, with its runs' count and durations.
func TestRunLog(t *testing.T) {
	l := newRunLog(config.Default().Analysis)
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	// Six runs, one an hour, each 60 s (sampled every 10 s), and a
	// Deployment's container that must be ignored.
	deploy := &model.Meta{ID: "web", Pod: model.Pod{Name: "web-1", Namespace: "shop"}, Workload: model.Workload{Kind: "Deployment", Name: "web"}}
	for run := range 6 {
		job := "report-" + strconv.Itoa(29400000+run*60)
		m := &model.Meta{ID: "c" + strconv.Itoa(run), Pod: model.Pod{Name: job + "-abcde", Namespace: "shop"},
			Workload: model.Workload{Kind: "CronJob", Name: "report", Job: job}}
		start := t0.Add(time.Duration(run) * time.Hour)
		for s := 0; s <= 60; s += 10 {
			now := start.Add(time.Duration(s) * time.Second)
			l.observe(&model.Snapshot{Time: now, Containers: []model.Container{
				{Meta: m, Running: true, Sampled: true, StartedAt: start,
					Usage:  model.Usage{CPUNanos: uint64(s) * 1e8, MemoryWorkingSet: 50 << 20},
					Limits: model.Limits{CPUQuotaMicros: 200000, CPUPeriodMicros: 100000, MemoryBytes: 1 << 30}},
				{Meta: deploy, Running: true, Sampled: true},
			}})
		}
	}
	got := l.summary(t0.Add(6 * time.Hour))
	if len(got) != 1 {
		t.Fatalf("workloads %+v", got)
	}
	w := got[0]
	if w.Namespace != "shop" || w.Kind != "CronJob" || w.Name != "report" {
		t.Fatalf("workload %+v", w)
	}
	st := w.Stats
	if st.Count != 6 || st.DurationMax != time.Minute || st.DurationP50 != time.Minute || st.Window != 6*time.Hour {
		t.Errorf("stats %+v", st)
	}
	if st.CPUSecondsMean != 6 || st.PeakCores != 0.1 || st.PeakMemoryBytes != 50<<20 || st.ReservedCores != 2 || st.ReservedBytes != 1<<30 {
		t.Errorf("per-run figures %+v", st)
	}
	if w.Verdict.Verdict != analysis.VerdictFunction {
		t.Errorf("verdict %s (%v)", w.Verdict.Verdict, w.Verdict.Reasons)
	}
	// A week later the runs are forgotten.
	if got := l.summary(t0.Add(8 * 24 * time.Hour)); len(got) != 0 || len(l.runs) != 0 {
		t.Errorf("runs kept past the retention: %+v", got)
	}
}
