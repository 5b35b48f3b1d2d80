package agent

import (
	"log/slog"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/report"
)

// A rollout on the node: the Deployment's pod is replaced by a new one
// (new sandbox, new ids). The workload is judged on both pods' history,
// so it has a verdict though its new pod alone is too young for one.
func TestRolloutKeepsTheWorkloadsHistory(t *testing.T) {
	cfg := config.Default()
	cfg.History.StateFile = ""
	cfg.Analysis.MinObservation = 45 * time.Minute
	st := newState(cfg, slog.New(slog.DiscardHandler))
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	labels := map[string]string{"pod-template-hash": "5d8c"}
	pod := func(name string) (*containerd.Container, *containerd.Container) {
		p := containerd.Pod{Name: "web-5d8c-" + name, Namespace: "shop", UID: "uid-" + name}
		sb := &containerd.Container{Namespace: "k8s.io", ID: "sb-" + name, Sandbox: true, Pid: 10, Status: containerd.StatusRunning, Pod: p, OverrideLabels: labels}
		app := &containerd.Container{Namespace: "k8s.io", ID: "app-" + name, Pid: 11, Status: containerd.StatusRunning, Pod: p, OverrideLabels: labels}
		app.Pod.ContainerName = "app"
		return sb, app
	}
	var last *model.Snapshot
	at := time.Duration(0)
	feed := func(srcs ...*containerd.Container) {
		snap := &model.Snapshot{Time: t0.Add(at), NodeName: "n1"}
		for _, c := range srcs {
			sc := model.Container{Meta: metaOf(c, ""), Running: true, Limits: model.Limits{CPUQuotaMicros: 50_000, CPUPeriodMicros: 100_000, MemoryBytes: 128 << 20}}
			if !c.Sandbox {
				sc.Delta = model.Delta{Valid: true, Interval: 10 * time.Second, CPUSeconds: 0.001}
			}
			snap.Containers = append(snap.Containers, sc)
		}
		st.record(snap, srcs)
		last = snap
		at += 10 * time.Second
	}
	sbA, appA := pod("a1")
	for at < 30*time.Minute {
		feed(sbA, appA)
	}
	sbB, appB := pod("b2")
	appB.CreatedAt = t0.Add(at)
	for at < 61*time.Minute {
		feed(sbB, appB)
	}
	if len(last.Workloads) != 1 {
		t.Fatalf("workload results %+v, want the Deployment's", last.Workloads)
	}
	w := last.Workloads[0]
	if w.Kind != "Deployment" || w.Name != "web" || w.Container != "app" || w.Pods != 2 || w.Live != 1 {
		t.Errorf("workload %+v", w)
	}
	if w.Result.ObservedFor < 55*time.Minute || w.Result.Verdict == analysis.VerdictInsufficientData {
		t.Errorf("workload observed %v, verdict %s: the rollout did not continue its history", w.Result.ObservedFor, w.Result.Verdict)
	}
	if w.AverageReplicas < 0.9 || w.AverageReplicas > 1.1 {
		t.Errorf("average replicas %v, want 1 (one pod at a time)", w.AverageReplicas)
	}
	own := last.Containers[1].Analysis
	if own == nil || own.Verdict != analysis.VerdictInsufficientData {
		t.Fatalf("the new pod's own analysis %+v, want insufficient data", own)
	}
	// The node's report by workload is the history's answer, priced on
	// the one pod running.
	wr := report.WorkloadsOf([]report.Report{report.FromSnapshot(last, "USD", "test")})
	if len(wr.Workloads) != 1 {
		t.Fatalf("rows %+v", wr.Workloads)
	}
	row := wr.Workloads[0]
	if row.Source != report.SourceHistory || row.Verdict != string(w.Result.Verdict) || row.Replicas != 2 ||
		!near(row.CostPerMonth, w.Result.CurrentMonthlyCost) {
		t.Errorf("row %+v, want the history's verdict %s and a month of one replica (%.2f)", row, w.Result.Verdict, w.Result.CurrentMonthlyCost)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
