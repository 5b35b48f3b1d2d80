package report

import (
	"math"
	"strings"
	"testing"
	"time"
)

func candidate(node, pod, verdict string, cost, idle, saving float64) Container {
	a := &Analysis{Verdict: verdict, CurrentMonthlyCost: cost, IdleCostPerMonth: cost * idle,
		IdleRatio: map[string]float64{"7d": idle}, Reasons: []Reason{{Code: "x", Text: "idle a lot"}}}
	if saving > 0 {
		a.Platform, a.SavingsPerMonth, a.ServerlessMonthly = "function", saving, cost-saving
	}
	return Container{ID: pod + "-c", Name: "worker", PodName: pod, PodNamespace: "shop", Namespace: "k8s.io",
		WorkloadKind: "Deployment", WorkloadName: "checkout-worker", Node: node, Analysis: a}
}

func TestWorkloadsOf(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var reps []Report
	for i, node := range []string{"n1", "n2", "n3"} {
		r := Report{Node: node, Time: t0, Currency: "USD", Containers: []Container{
			candidate(node, "checkout-worker-abc-"+node, "function", 30, 0.95, 28),
			// The pod's sandbox never counts.
			{ID: "sb-" + node, Sandbox: true, PodName: "checkout-worker-abc-" + node, PodNamespace: "shop",
				WorkloadKind: "Deployment", WorkloadName: "checkout-worker", Analysis: &Analysis{Verdict: "keep", CurrentMonthlyCost: 1}},
		}}
		if i == 2 {
			// One replica of another workload disagrees with its peer.
			a := candidate(node, "db-0", "keep", 50, 0.1, 0)
			b := candidate(node, "db-1", "rightsize", 50, 0.3, 0)
			a.WorkloadKind, a.WorkloadName, b.WorkloadKind, b.WorkloadName = "StatefulSet", "db", "StatefulSet", "db"
			r.Containers = append(r.Containers, a, b)
		}
		reps = append(reps, r)
	}
	got := WorkloadsOf(reps)
	if len(got.Workloads) != 2 || strings.Join(got.Nodes, ",") != "n1,n2,n3" {
		t.Fatalf("workloads %+v, nodes %v", got.Workloads, got.Nodes)
	}
	w := got.Workloads[0] // the most money at stake first
	if w.Kind != "Deployment" || w.Name != "checkout-worker" || w.Replicas != 3 || len(w.Nodes) != 3 || w.Containers != 3 {
		t.Fatalf("deployment row %+v", w)
	}
	if w.Verdict != "function" || w.Platform != "function" || len(w.Differ) != 0 {
		t.Errorf("agreeing replicas: verdict %q platform %q differ %v", w.Verdict, w.Platform, w.Differ)
	}
	if math.Abs(w.CostPerMonth-90) > 1e-9 || math.Abs(w.SavingsPerMonth-84) > 1e-9 || math.Abs(w.IdleCostPerMonth-85.5) > 1e-9 {
		t.Errorf("money: cost %v saving %v idle %v", w.CostPerMonth, w.SavingsPerMonth, w.IdleCostPerMonth)
	}
	if w.IdleRatio == nil || math.Abs(*w.IdleRatio-0.95) > 1e-9 {
		t.Errorf("idle ratio %v", w.IdleRatio)
	}
	db := got.Workloads[1]
	if db.Verdict != VerdictMixed || len(db.Differ) != 2 || !strings.Contains(strings.Join(db.Differ, ";"), "n3:db-") {
		t.Errorf("disagreeing replicas: %q %v", db.Verdict, db.Differ)
	}
	// Cost-weighted idle ratio: (50×0.1 + 50×0.3) / 100.
	if db.IdleRatio == nil || math.Abs(*db.IdleRatio-0.2) > 1e-9 {
		t.Errorf("weighted idle ratio %v", db.IdleRatio)
	}
	var sb strings.Builder
	if err := RenderWorkloads(&sb, got, Options{Format: "table"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sb.String(), "deployment/checkout-worker") || !strings.Contains(sb.String(), "$84.00") {
		t.Errorf("table:\n%s", sb.String())
	}
}

// On a terminal the WHY column is cut to fit; every other column stays.
func TestTableFitsWidth(t *testing.T) {
	rows := [][]string{{"A", "WHY"}, {"short", strings.Repeat("because ", 30)}}
	var sb strings.Builder
	if err := writeTable(&sb, rows, 60); err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(sb.String()) {
		if n := len([]rune(strings.TrimRight(line, "\n"))); n > 60 {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
	if !strings.Contains(sb.String(), "…") || !strings.Contains(sb.String(), "short") {
		t.Errorf("table:\n%s", sb.String())
	}
	sb.Reset()
	rows[1][1] = strings.Repeat("because ", 30)
	writeTable(&sb, rows, 0)
	if strings.Contains(sb.String(), "…") {
		t.Error("width 0 shortened the table")
	}
}
