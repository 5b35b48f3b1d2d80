package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/exporters/promtext"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/report"
)

type fixed struct{ s *model.Snapshot }

func (f fixed) Snapshot() *model.Snapshot { return f.s }

// node is one agent's snapshot: a Deployment's replica, idle and a
// function candidate.
func node(name string, cost float64) *model.Snapshot {
	pod := "checkout-worker-5d8c-" + name
	m := &model.Meta{Namespace: "k8s.io", ID: "c-" + name, Name: "worker",
		Pod:      model.Pod{Name: pod, Namespace: "shop", ContainerName: "worker"},
		Workload: model.Workload{Kind: "Deployment", Name: "checkout-worker", ReplicaSet: "checkout-worker-5d8c"}}
	runs := []model.WorkloadRuns{{Namespace: "shop", Kind: "CronJob", Name: "report",
		Stats:   analysis.RunStats{Count: 12, Window: 12 * time.Hour, DurationP50: time.Minute, DurationP95: 2 * time.Minute, DurationMax: 3 * time.Minute, DurationMean: 90 * time.Second},
		Verdict: analysis.RunVerdict{Verdict: analysis.VerdictFunction, Platform: "function", ContainerMonthlyCost: 4, ServerlessMonthlyCost: 1}}}
	return &model.Snapshot{Time: time.Now(), NodeName: name, Runs: runs, Containers: []model.Container{{Meta: m, Running: true, Network: -1,
		Analysis: &analysis.Result{Verdict: analysis.VerdictFunction, Platform: "function", Score: 90,
			IdleRatio1h: 1, IdleRatio24h: 0.95, IdleRatio7d: 0.9, CostPerHour: cost, IdleCostPerHour: cost * 0.9,
			ServerlessMonthlyCost: 1, SavingsPerMonth: cost*730 - 1, OverReservationWastePerMonth: 2,
			Reasons: []analysis.Reason{{Code: "idle_ratio_high"}}}}}}
}

// storeWith is store with extra series besides the agents', as other
// exporters' (OpenCost's) would be.
func storeWith(t *testing.T, extra prommodel.Vector, nodes ...*model.Snapshot) *httptest.Server {
	return httptest.NewServer(storeHandlerWith(t, extra, nodes...))
}

// store answers instant queries from the /metrics text of several agents,
// each series labelled with its node, as a Prometheus server scraping
// them would; it also holds cAdvisor-shaped series without our identity.
func store(t *testing.T, nodes ...*model.Snapshot) *httptest.Server {
	return httptest.NewServer(storeHandler(t, nodes...))
}

// storeHandler is store's handler.
func storeHandler(t *testing.T, nodes ...*model.Snapshot) http.Handler {
	return storeHandlerWith(t, nil, nodes...)
}

func storeHandlerWith(t *testing.T, extra prommodel.Vector, nodes ...*model.Snapshot) http.Handler {
	series := append(prommodel.Vector(nil), extra...)
	for _, s := range nodes {
		text := promtext.New(fixed{s}, promtext.Options{}).Append(nil)
		p := expfmt.NewTextParser(prommodel.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range fams {
			for _, m := range f.Metric {
				l := prommodel.Metric{"__name__": prommodel.LabelValue(name), "node": prommodel.LabelValue(s.NodeName)}
				for _, p := range m.Label {
					l[prommodel.LabelName(p.GetName())] = prommodel.LabelValue(p.GetValue())
				}
				v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
				series = append(series, &prommodel.Sample{Metric: l, Value: prommodel.SampleValue(v)})
			}
		}
	}
	series = append(series, &prommodel.Sample{Metric: prommodel.Metric{"__name__": "fleetscope_container_cost_per_hour", "id": "/kubepods"}, Value: 99})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		r.ParseForm()
		name, rest, _ := strings.Cut(r.Form.Get("query"), "{")
		// A function over a range (the window's queries) reads as its
		// series' latest values: enough to tell which series exist.
		if i := strings.LastIndex(name, "("); i >= 0 {
			name = name[i+1:]
		}
		name, _, _ = strings.Cut(name, "[")
		var out prommodel.Vector
		for _, s := range series {
			if string(s.Metric["__name__"]) == name && (!strings.Contains(rest, `container_id!=""`) || s.Metric["container_id"] != "") &&
				(!strings.Contains(rest, `k8s_workload_name!=""`) || s.Metric["k8s_workload_name"] != "") {
				out = append(out, s)
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": out}})
	})
}

// Agents of a release before the additive evidence: the window's answer
// says what it needs, and their current figures still make a report.
func TestWindowNeedsEvidence(t *testing.T) {
	srv := store(t, node("n1", 0.02), node("n2", 0.02))
	defer srv.Close()
	o := Options{URL: srv.URL, Bearer: "tok", Currency: "USD"}
	_, err := Workloads(context.Background(), o, 7*24*time.Hour, config.Default().Analysis)
	if !errors.Is(err, ErrNoEvidence) || !strings.Contains(err.Error(), "window-based answer needs") {
		t.Fatalf("error %v, want ErrNoEvidence", err)
	}
	if reps, err := Reports(context.Background(), o); err != nil || len(reps) != 2 {
		t.Errorf("current figures: %d reports, %v", len(reps), err)
	}
}

func TestReportsFromTheStore(t *testing.T) {
	// n1's replica was killed by the OOM killer twice and throttled in a
	// fifth of its periods; n2's never was; n3's agent did not say.
	n1, n2 := node("n1", 0.02), node("n2", 0.02)
	u := &n1.Containers[0].Usage
	u.Have |= model.HaveOOM | model.HaveThrottling
	u.OOMKills, u.CPUThrottledPeriods, u.CPUPeriods = 2, 200, 1000
	n1.Containers[0].Limits.CPUQuotaMicros, n1.Containers[0].Limits.CPUPeriodMicros = 50000, 100000
	n2.Containers[0].Usage.Have |= model.HaveOOM
	n1.Containers[0].Sampled, n2.Containers[0].Sampled = true, true
	srv := store(t, n1, n2, node("n3", 0.04))
	defer srv.Close()
	reps, err := Reports(context.Background(), Options{URL: srv.URL, Bearer: "tok", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		c := r.Containers[0]
		kills, throttled := "-", "-"
		if c.OOMKills != nil {
			kills = fmt.Sprint(*c.OOMKills)
		}
		if c.CPUThrottledRatio != nil {
			throttled = fmt.Sprint(*c.CPUThrottledRatio)
		}
		want := map[string]string{"n1": "2 0.2", "n2": "0 -", "n3": "- -"}[r.Node]
		if got := kills + " " + throttled; got != want {
			t.Errorf("%s: OOM kills and throttled ratio %s, want %s", r.Node, got, want)
		}
	}
	wr := report.WorkloadsOf(reps)
	if len(wr.Workloads) != 2 || len(wr.Nodes) != 3 {
		t.Fatalf("workloads %+v on nodes %v", wr.Workloads, wr.Nodes)
	}
	cj := wr.Workloads[1]
	if cj.Kind != "CronJob" || cj.Name != "report" || cj.Runs == nil || cj.Runs.Count != 36 || cj.Runs.DurationMaxSeconds != 180 ||
		math.Abs(cj.CostPerMonth-12) > 1e-9 || math.Abs(cj.SavingsPerMonth-9) > 1e-9 || cj.Verdict != "function" {
		t.Errorf("cronjob row %+v, runs %+v", cj, cj.Runs)
	}
	w := wr.Workloads[0]
	if w.Kind != "Deployment" || w.Name != "checkout-worker" || w.Replicas != 3 || w.Verdict != "function" {
		t.Fatalf("row %+v", w)
	}
	// The money is the sum of the three agents' own figures.
	if want := (0.02 + 0.02 + 0.04) * 730; math.Abs(w.CostPerMonth-want) > 1e-6 {
		t.Errorf("cost %v, want %v", w.CostPerMonth, want)
	}
	if want := (0.02+0.02+0.04)*730 - 3; math.Abs(w.SavingsPerMonth-want) > 1e-6 {
		t.Errorf("saving %v, want %v", w.SavingsPerMonth, want)
	}
	if math.Abs(w.OverReservedPerMonth-6) > 1e-9 {
		t.Errorf("over-reservation %v, want 6", w.OverReservedPerMonth)
	}
}

func TestStoreErrorsNameTheURL(t *testing.T) {
	// Unreachable.
	_, err := Reports(context.Background(), Options{URL: "http://127.0.0.1:1", Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:1") {
		t.Errorf("unreachable store: %v", err)
	}
	// Reachable, without Fleetscope data.
	srv := store(t)
	defer srv.Close()
	_, err = Reports(context.Background(), Options{URL: srv.URL, Bearer: "tok"})
	if !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("empty store: %v", err)
	}
	// Wrong credentials: the error says so, without the secret.
	_, err = Reports(context.Background(), Options{URL: srv.URL, Bearer: "wrong-secret"})
	if err == nil || strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("refused: %v", err)
	}
}
