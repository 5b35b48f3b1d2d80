package fleet

import (
	"context"
	"math"
	"strings"
	"testing"

	prommodel "github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/report"
)

// OpenCost's node price series for two nodes of different prices: the
// same workload's replicas, one on each, reserving the same, are priced
// differently, each at its node's prices, and the workload's total is the
// hand computation; the report says which nodes OpenCost priced and
// which fell back to the agents' own prices.
func TestOpenCostPricesTheNodes(t *testing.T) {
	snaps := nodesWithReservation("n1", "n2", "n3")
	oc := func(name, node string, v float64) *prommodel.Sample {
		return &prommodel.Sample{Metric: prommodel.Metric{"__name__": prommodel.LabelValue(name), "node": prommodel.LabelValue(node),
			"instance_type": "m5.large"}, Value: prommodel.SampleValue(v)}
	}
	srv := storeWith(t, prommodel.Vector{
		oc(openCostCPU, "n1", 0.031611), oc(openCostRAM, "n1", 0.004237),
		oc(openCostCPU, "n2", 0.012), oc(openCostRAM, "n2", 0.0016), oc(openCostSpot, "n2", 1),
	}, snaps...)
	defer srv.Close()
	reps, err := Reports(context.Background(), Options{URL: srv.URL, Bearer: "tok", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	// 0.5 cores and 1 GiB reserved on each node.
	want := map[string]float64{"n1": 0.5*0.031611 + 0.004237, "n2": 0.5*0.012 + 0.0016, "n3": 0.02}
	var total float64
	for _, r := range reps {
		c := r.Containers[0].Analysis
		if math.Abs(c.CostPerHour-want[r.Node]) > 1e-12 || math.Abs(c.CurrentMonthlyCost-want[r.Node]*analysis.HoursPerMonth) > 1e-9 {
			t.Errorf("%s: %v an hour, want %v", r.Node, c.CostPerHour, want[r.Node])
		}
		// Idle money follows the price: the fixture's idle share is 0.9.
		if math.Abs(c.IdleCostPerMonth-0.9*want[r.Node]*analysis.HoursPerMonth) > 1e-9 {
			t.Errorf("%s: idle cost %v, want 0.9 of %v", r.Node, c.IdleCostPerMonth, want[r.Node]*analysis.HoursPerMonth)
		}
		total += c.CurrentMonthlyCost
		if !strings.Contains(r.PriceSource, "OpenCost") || !strings.Contains(r.PriceSource, "n1, n2") ||
			!strings.Contains(r.PriceSource, "agents' own node prices for n3") {
			t.Errorf("%s: price source %q", r.Node, r.PriceSource)
		}
	}
	w := report.WorkloadsOf(reps).Workloads[0]
	if hand := (want["n1"] + want["n2"] + want["n3"]) * 730; math.Abs(w.CostPerMonth-hand) > 1e-9 || math.Abs(total-hand) > 1e-9 {
		t.Errorf("workload %v a month, containers %v, want %v", w.CostPerMonth, total, hand)
	}
}

// nodesWithReservation are agents' snapshots with the Deployment's
// replica on each, reserving 0.5 cores and 1 GiB, costing 0.02 an hour at
// the agents' own prices.
func nodesWithReservation(names ...string) []*model.Snapshot {
	var out []*model.Snapshot
	for _, n := range names {
		s := node(n, 0.02)
		r := s.Containers[0].Analysis
		r.Reserved = analysis.Reserved{CPUCores: 0.5, MemoryBytes: 1 << 30, CPUSource: analysis.SourceLimit, MemorySource: analysis.SourceLimit}
		r.IdleCostPerHour, r.IdleCostPerMonth = 0.9*0.02, 0.9*0.02*analysis.HoursPerMonth
		r.CurrentMonthlyCost = 0.02 * analysis.HoursPerMonth
		out = append(out, s)
	}
	return out
}

// A part that ran on two nodes is priced at their prices weighted by the
// time it ran on each.
func TestPriceForWeighsNodesByTime(t *testing.T) {
	base := config.Default().Analysis.Prices
	prices := map[string]*nodePrice{"a": {cpu: 0.03, ram: 0.004, openCost: true}, "b": {cpu: 0.01, ram: 0.002}}
	got, oc := priceFor(base, map[string]float64{"a": 3600, "b": 3 * 3600, "gone": 7200}, prices)
	if !oc || math.Abs(got.VCPUHour-(0.03+3*0.01)/4) > 1e-12 || math.Abs(got.GiBHour-(0.004+3*0.002)/4) > 1e-12 {
		t.Errorf("weighted %v %v (%v)", got.VCPUHour, got.GiBHour, oc)
	}
	if got, oc := priceFor(base, map[string]float64{"x": 10}, prices); oc || got.VCPUHour != base.VCPUHour {
		t.Errorf("no node priced: %+v", got)
	}
}

// DCGM-shaped series in the store: a GPU container's GPU idle money comes
// from the GPU's measured busy share, not from the container's own
// idleness; a GPU container DCGM does not measure keeps the inference,
// and the report says which is which.
func TestGPUIdleFromDCGM(t *testing.T) {
	snaps := nodesWithReservation("n1", "n2")
	for _, s := range snaps {
		c := &s.Containers[0]
		m := *c.Meta
		m.GPU = true
		c.Meta = &m
		r := c.Analysis
		r.CostPerHour, r.IdleCostPerHour = 0.5, 0.45 // 0.35 of it the GPU; idle 0.9
		r.CurrentMonthlyCost, r.IdleCostPerMonth = 0.5*analysis.HoursPerMonth, 0.45*analysis.HoursPerMonth
		s.Price = &model.NodePrice{From: "unit", VCPUHour: 0.04, GiBHour: 0.004, GPUHour: 0.35}
	}
	pod := snaps[0].Containers[0].Meta.Pod
	dcgm := func(name string, v float64, gpu string) *prommodel.Sample {
		return &prommodel.Sample{Metric: prommodel.Metric{"__name__": prommodel.LabelValue(name), "gpu": prommodel.LabelValue(gpu),
			"Hostname": "n1", "exported_namespace": prommodel.LabelValue(pod.Namespace), "exported_pod": prommodel.LabelValue(pod.Name),
			"exported_container": prommodel.LabelValue(pod.ContainerName), "namespace": "gpu-operator", "pod": "dcgm-exporter-x2"},
			Value: prommodel.SampleValue(v)}
	}
	srv := storeWith(t, prommodel.Vector{
		dcgm(dcgmEngineActive, 0.6, "0"),
		dcgm(dcgmUtil, 95, "0"), // the coarser series, not taken where the profiling one is
	}, snaps...)
	defer srv.Close()
	reps, err := Reports(context.Background(), Options{URL: srv.URL, Bearer: "tok", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		a := r.Containers[0].Analysis
		switch r.Node {
		case "n1":
			want := (0.5-0.35)*0.9 + 0.35*(1-0.6)
			if a.GPUBusyRatio == nil || *a.GPUBusyRatio != 0.6 || a.GPUBusyFrom != dcgmEngineActive || math.Abs(a.IdleCostPerHour-want) > 1e-12 {
				t.Errorf("n1: busy %v from %q, idle cost %v an hour, want 0.6 from %s and %v", a.GPUBusyRatio, a.GPUBusyFrom, a.IdleCostPerHour, dcgmEngineActive, want)
			}
		case "n2":
			if a.GPUBusyRatio != nil || a.IdleCostPerHour != 0.45 {
				t.Errorf("n2 (no DCGM series): busy %v, idle cost %v, want the inference's 0.45", a.GPUBusyRatio, a.IdleCostPerHour)
			}
		}
		if !strings.Contains(r.PriceSource, "measured by DCGM for n1:") || !strings.Contains(r.PriceSource, "inferred from CPU, network and disk for n2:") {
			t.Errorf("%s: price source %q", r.Node, r.PriceSource)
		}
	}
}
