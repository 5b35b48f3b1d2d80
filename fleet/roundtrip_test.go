package fleet

import (
	"context"
	"math"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/history"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/report"
)

// roundTripNode is one agent's snapshot whose analyses are the analysis'
// own, fed from synthetic history as the agent feeds it: a Burstable, a
// Guaranteed and a BestEffort container, a pod sandbox, a GPU container,
// one observed too briefly for a verdict, and a CronJob's runs.
func roundTripNode(t *testing.T) *model.Snapshot {
	t.Helper()
	cfg := config.Default().Analysis
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	th, err := analysis.ThresholdsFor(cfg.Idle, nil)
	if err != nil {
		t.Fatal(err)
	}
	// series is busy for the first active minutes of every hour (cores and
	// working set as given) and idle for the rest, over days days.
	series := func(days, active int, cores float64, ws uint64) *history.Series {
		s := history.NewSeries()
		start := now.Add(-time.Duration(days) * 24 * time.Hour)
		for i := range days * 24 * 60 {
			c := 0.001
			if i%60 < active {
				c = cores
			}
			for k := range 4 {
				s.Add(history.Sample{
					Time:       start.Add(time.Duration(i)*time.Minute + time.Duration(k)*15*time.Second + time.Second),
					CPUSeconds: c * 15, WorkingSet: ws, Interval: 15 * time.Second,
				}, th)
			}
		}
		s.Advance(now, th)
		return s
	}
	type spec struct {
		meta   *model.Meta
		limits model.Limits
		series *history.Series
	}
	pod := func(name, ns, container string, w model.Workload) *model.Meta {
		return &model.Meta{Namespace: "k8s.io", ID: "id-" + name + "-" + container, Name: container, Image: "registry.example/" + container + ":1",
			Pod: model.Pod{Name: name, Namespace: ns, UID: "uid-" + name, ContainerName: container}, Workload: w}
	}
	sandbox := pod("web-5d8c-x1", "shop", "", model.Workload{Kind: "Deployment", Name: "web", ReplicaSet: "web-5d8c"})
	sandbox.ID, sandbox.Name, sandbox.Sandbox, sandbox.Image = "id-web-sandbox", "POD", true, "registry.k8s.io/pause:3.10"
	gpu := pod("train-0", "ml", "train", model.Workload{Kind: "StatefulSet", Name: "train"})
	gpu.GPU = true
	specs := []spec{
		// Burstable: 250m, 64 MiB.
		{pod("web-5d8c-x1", "shop", "web", model.Workload{Kind: "Deployment", Name: "web", ReplicaSet: "web-5d8c"}),
			model.Limits{CPUQuotaMicros: -1, CPUPeriodMicros: 100000, CPUShares: 256, MemoryBytes: 64 << 20}, series(3, 3, 0.2, 30<<20)},
		{sandbox, model.Limits{CPUShares: 2}, series(3, 0, 0, 1<<20)},
		// Guaranteed: 0.5 cores, 512 shares, 32 MiB.
		{pod("busy-abcde", "kube-system", "busy", model.Workload{Kind: "DaemonSet", Name: "busy"}),
			model.Limits{CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, CPUShares: 512, MemoryBytes: 32 << 20}, series(3, 60, 0.45, 20<<20)},
		// BestEffort: the kubelet's 2 shares, no limits.
		{pod("idle-node1", "default", "idle", model.Workload{Kind: "Pod", Name: "idle-node1"}),
			model.Limits{CPUQuotaMicros: -1, CPUPeriodMicros: 100000, CPUShares: 2}, series(3, 2, 0.3, 10<<20)},
		{gpu, model.Limits{CPUShares: 4096, MemoryBytes: 16 << 30}, series(3, 10, 2, 4<<30)},
		// Observed for an hour: insufficient data.
		{pod("new-1", "shop", "new", model.Workload{Kind: "Pod", Name: "new-1"}),
			model.Limits{CPUShares: 1024, MemoryBytes: 1 << 30}, series(0, 0, 0, 0)},
	}
	snap := &model.Snapshot{Time: now, NodeName: "node-1", Currency: cfg.Prices.Currency}
	for _, sp := range specs {
		// As the agent's analysis reads a container's limits.
		l := sp.limits
		in := analysis.Input{Now: now, Series: sp.series, GPU: sp.meta.GPU, Sandbox: sp.meta.Sandbox,
			CPUQuotaMicros: l.CPUQuotaMicros, CPUPeriodMicros: l.CPUPeriodMicros, CPUShares: l.CPUShares, MemoryLimitBytes: l.MemoryBytes}
		res := analysis.Analyze(in, cfg, nil)
		snap.Containers = append(snap.Containers, model.Container{Meta: sp.meta, Running: true, Limits: l, Network: -1, Analysis: &res})
	}
	// A CronJob's runs, a BestEffort pod's: reserved as the agent's run
	// log reserves them, from the model's limits.
	be := model.Limits{CPUShares: 2, MemoryBytes: 256 << 20}
	st := analysis.RunStats{Count: 24, Window: 24 * time.Hour, DurationP50: time.Minute, DurationP95: 2 * time.Minute,
		DurationMax: 3 * time.Minute, DurationMean: 80 * time.Second, BusyRatio: 0.02, CPUSecondsMean: 30, PeakCores: 0.5,
		PeakMemoryBytes: 100 << 20, ReservedCores: be.CPURequestCores(), ReservedBytes: be.MemoryBytes}
	snap.Runs = []model.WorkloadRuns{{Namespace: "shop", Kind: "CronJob", Name: "report", Stats: st, Verdict: analysis.AnalyzeRuns(st, cfg)}}
	return snap
}

// A node's own report (what /api/v1/containers serves) and the fleet
// report read back from a store that scraped the node's /metrics are the
// same report: snapshot → schema walk → exposition text → Prometheus API
// → Reports loses no container, verdict, reason or cost, and every label
// the fleet reads is the one the exporter writes.
func TestRoundTripThroughTheStore(t *testing.T) {
	snap := roundTripNode(t)
	cfg := config.Default().Analysis
	own := report.FromSnapshot(snap, cfg.Prices.Currency, "list prices")
	srv := httptest.NewServer(storeHandler(t, snap))
	defer srv.Close()
	reps, err := Reports(context.Background(), Options{URL: srv.URL, Bearer: "tok", PriceSource: "list prices"})
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 {
		t.Fatalf("%d reports, want one node's", len(reps))
	}
	got := reps[0]
	if got.Node != own.Node || got.Currency != own.Currency || got.PriceSource != own.PriceSource {
		t.Errorf("node %q currency %q prices %q, want %q %q %q", got.Node, got.Currency, got.PriceSource, own.Node, own.Currency, own.PriceSource)
	}
	if len(got.Containers) != len(own.Containers) {
		t.Fatalf("%d containers from the store, %d on the node", len(got.Containers), len(own.Containers))
	}
	verdicts := map[string]bool{}
	for _, want := range own.Containers {
		i := slices.IndexFunc(got.Containers, func(c report.Container) bool { return c.ID == want.ID })
		if i < 0 {
			t.Errorf("container %s missing from the store's report", want.ID)
			continue
		}
		c := got.Containers[i]
		// The store knows no usage: the latest sample's figures are the
		// node's only.
		want.CPUCores, want.WorkingSetBytes = nil, nil
		a, wa := c.Analysis, want.Analysis
		c.Analysis, want.Analysis = nil, nil
		if c != want {
			t.Errorf("container from the store\n%+v\nwant\n%+v", c, want)
		}
		if a == nil || wa == nil {
			t.Errorf("%s: analysis %v from the store, %v on the node", want.ID, a, wa)
			continue
		}
		verdicts[wa.Verdict] = true
		compareAnalysis(t, want.ID, a, wa)
	}
	// The snapshot covers the verdicts the comparison must hold for.
	for _, v := range []analysis.Verdict{analysis.VerdictFunction, analysis.VerdictKeep, analysis.VerdictInsufficientData} {
		if !verdicts[string(v)] {
			t.Errorf("no container with verdict %s: the round trip leaves it untested (verdicts %v)", v, verdicts)
		}
	}

	if len(got.Runs) != len(own.Runs) || len(own.Runs) != 1 {
		t.Fatalf("runs %+v from the store, %+v on the node", got.Runs, own.Runs)
	}
	r, wr := got.Runs[0], own.Runs[0]
	if r.Namespace != wr.Namespace || r.Kind != wr.Kind || r.Name != wr.Name || r.Node != wr.Node || r.Count != wr.Count ||
		r.Verdict != wr.Verdict || r.Platform != wr.Platform {
		t.Errorf("runs from the store %+v, want %+v", r, wr)
	}
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"window", r.WindowSeconds, wr.WindowSeconds},
		{"p50", r.DurationP50Seconds, wr.DurationP50Seconds}, {"p95", r.DurationP95Seconds, wr.DurationP95Seconds},
		{"max", r.DurationMaxSeconds, wr.DurationMaxSeconds}, {"mean", r.DurationMeanSeconds, wr.DurationMeanSeconds},
		{"cost", r.CostPerMonth, wr.CostPerMonth}, {"serverless cost", r.ServerlessPerMonth, wr.ServerlessPerMonth},
	} {
		if !near(f.got, f.want) {
			t.Errorf("runs' %s: %v from the store, %v on the node", f.name, f.got, f.want)
		}
	}
	// The BestEffort runs reserve no CPU: their cost is their memory's.
	if want := wr.Count; want == 0 || wr.CostPerMonth <= 0 {
		t.Errorf("runs on the node: %+v", wr)
	}
}

// compareAnalysis compares what the store's series carry of an analysis
// with the node's: every figure but the usage percentiles and
// reservations, which are not read back, and the reasons' texts, which
// are not exported (the codes are).
func compareAnalysis(t *testing.T, id string, a, want *report.Analysis) {
	t.Helper()
	if a.Verdict != want.Verdict || a.Platform != want.Platform || a.Score != want.Score {
		t.Errorf("%s: verdict %s on %q (score %d) from the store, %s on %q (score %d) on the node", id, a.Verdict, a.Platform, a.Score, want.Verdict, want.Platform, want.Score)
	}
	if !near(a.ObservedSeconds, want.ObservedSeconds) {
		t.Errorf("%s: observed %v s from the store, %v s on the node", id, a.ObservedSeconds, want.ObservedSeconds)
	}
	if len(a.IdleRatio) != len(want.IdleRatio) {
		t.Errorf("%s: idle ratios %v from the store, %v on the node", id, a.IdleRatio, want.IdleRatio)
	}
	for w, v := range want.IdleRatio {
		if g, ok := a.IdleRatio[w]; !ok || !near(g, v) {
			t.Errorf("%s: idle ratio %s %v from the store, %v on the node", id, w, g, v)
		}
	}
	codes := func(rs []report.Reason) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.Code)
		}
		slices.Sort(out)
		return out
	}
	if g, w := codes(a.Reasons), codes(want.Reasons); !slices.Equal(g, w) {
		t.Errorf("%s: reasons %v from the store, %v on the node", id, g, w)
	}
	if g, w := codes(a.Blockers), codes(want.Blockers); !slices.Equal(g, w) {
		t.Errorf("%s: blockers %v from the store, %v on the node", id, g, w)
	}
	if want.Verdict == string(analysis.VerdictInsufficientData) {
		// Without a verdict no money is exported: there is none to read.
		return
	}
	money := []struct {
		name      string
		got, want float64
	}{
		{"cost per hour", a.CostPerHour, want.CostPerHour},
		{"monthly cost", a.CurrentMonthlyCost, want.CurrentMonthlyCost},
		{"idle cost per hour", a.IdleCostPerHour, want.IdleCostPerHour},
		{"idle cost per month", a.IdleCostPerMonth, want.IdleCostPerMonth},
		{"over-reservation per month", a.OverReservedPerMon, want.OverReservedPerMon},
	}
	if want.Platform != "" {
		// The serverless figures are exported for a platform only.
		money = append(money, []struct {
			name      string
			got, want float64
		}{
			{"serverless per month", a.ServerlessMonthly, want.ServerlessMonthly},
			{"savings per month", a.SavingsPerMonth, want.SavingsPerMonth},
		}...)
	}
	for _, m := range money {
		if !near(m.got, m.want) {
			t.Errorf("%s: %s %v from the store, %v on the node", id, m.name, m.got, m.want)
		}
	}
}

// near compares figures that went through a decimal text and a division
// and multiplication by the hours of a month.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// The CPU request has one meaning on every path out of the node: the
// exported k8s.container.cpu.request is the request the container's own
// analysis prices, and a BestEffort container (2 shares) has none on
// either.
func TestCPURequestAgreesWithTheAnalysis(t *testing.T) {
	snap := roundTripNode(t)
	own := report.FromSnapshot(snap, "USD", "")
	srv := httptest.NewServer(storeHandler(t, snap))
	defer srv.Close()
	q := &querier{o: Options{URL: srv.URL, Bearer: "tok"}.withDefaults(), now: time.Now()}
	var err error
	if q.base, err = q.base.Parse(srv.URL); err != nil {
		t.Fatal(err)
	}
	exported := func(m *schema.Metric) map[string]float64 {
		vec, err := q.vector(context.Background(), m.PromName())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, s := range vec {
			out[s.labels[labelContainerID]] = s.value
		}
		return out
	}
	requests, limits := exported(&schema.CPURequest), exported(&schema.CPULimit)
	bestEffort := 0
	for _, c := range own.Containers {
		a := c.Analysis
		if a == nil || a.Verdict == string(analysis.VerdictInsufficientData) {
			continue
		}
		req, hasReq := requests[c.ID]
		switch a.ReservedCPUSource {
		case analysis.SourceRequest:
			if !hasReq || req != a.ReservedCPUCores {
				t.Errorf("%s: the analysis prices a request of %v cores, /metrics exports %v (%v)", c.ID, a.ReservedCPUCores, req, hasReq)
			}
		case analysis.SourceLimit:
			if limits[c.ID] != a.ReservedCPUCores {
				t.Errorf("%s: the analysis prices a limit of %v cores, /metrics exports %v", c.ID, a.ReservedCPUCores, limits[c.ID])
			}
		case analysis.SourceObserved:
			if hasReq {
				t.Errorf("%s: the analysis finds no request, /metrics exports one of %v cores", c.ID, req)
			}
			if strings.HasPrefix(c.Name, "idle") {
				bestEffort++
			}
		}
	}
	if bestEffort != 1 {
		t.Errorf("the BestEffort container was not compared (%d)", bestEffort)
	}
}
