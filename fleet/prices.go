package fleet

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/report"
)

// OpenCost's node price series: what a node's vCPU, GiB of memory and GPU
// cost an hour, by node, and whether the node is spot. Where the store
// holds them, they price the node's containers; else the agents' own node
// prices (fleetscope_node_unit_price_per_hour) do.
const (
	openCostCPU  = "node_cpu_hourly_cost"
	openCostRAM  = "node_ram_hourly_cost"
	openCostGPU  = "node_gpu_hourly_cost"
	openCostSpot = "kubecost_node_is_spot"
)

// nodePrice is what one node's capacity costs an hour, and from where.
type nodePrice struct {
	cpu, ram, gpu float64
	openCost      bool
	spot          bool
}

// nodePrices reads each node's unit prices, OpenCost's where the store
// holds them, else the agent's, over rng before now ("" for the latest).
func (q *querier) nodePrices(ctx context.Context, rng string) (map[string]*nodePrice, error) {
	at := func(expr string) string {
		if rng == "" {
			return expr
		}
		return "last_over_time(" + expr + "[" + rng + "])"
	}
	prices := map[string]*nodePrice{}
	get := func(node string) *nodePrice {
		p := prices[node]
		if p == nil {
			p = &nodePrice{}
			prices[node] = p
		}
		return p
	}
	own := schema.NodeUnitPrice.PromName()
	vec, err := q.vectorOf(ctx, at(own), own)
	if err != nil {
		return nil, err
	}
	for _, s := range vec {
		if !usable(s.value) {
			continue
		}
		p := get(nodeOf(s.labels))
		switch s.labels[labelResource] {
		case "cpu":
			p.cpu = s.value
		case "memory":
			p.ram = s.value
		case "gpu":
			p.gpu = s.value
		}
	}
	for _, m := range []string{openCostCPU, openCostRAM, openCostGPU, openCostSpot} {
		vec, err := q.vectorOf(ctx, at(m), m)
		if err != nil {
			return nil, err
		}
		for _, s := range vec {
			node := s.labels["node"]
			if node == "" || !usable(s.value) {
				continue
			}
			p := get(node)
			if !p.openCost && m != openCostSpot {
				// OpenCost's prices replace the agent's whole: a mix of
				// the two would be neither.
				*p = nodePrice{openCost: true, spot: p.spot}
			}
			switch m {
			case openCostCPU:
				p.cpu = s.value
			case openCostRAM:
				p.ram = s.value // per GiB an hour, as OpenCost exports it
			case openCostGPU:
				p.gpu = s.value
			case openCostSpot:
				p.spot = s.value > 0
			}
		}
	}
	return prices, nil
}

// usable is a price a store may hold: finite, not negative, not absurd.
func usable(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 && v < 1e6 }

// repriceByOpenCost prices the containers of the nodes OpenCost prices at
// its prices, and says on each report which nodes it priced. The agents'
// verdicts stand (they were decided at their own prices); their money
// follows the new price: a container's cost is its reservation at the
// node's prices, its idle and over-reservation costs scale with it, and
// a serverless candidate's saving is the new cost less the serverless one.
func repriceByOpenCost(reps []report.Report, prices map[string]*nodePrice, reserved map[containerRef][2]float64) {
	var by, fell []string
	for i := range reps {
		r := &reps[i]
		p := prices[r.Node]
		if p == nil || !p.openCost {
			fell = append(fell, r.Node)
			continue
		}
		by = append(by, r.Node)
		for j := range r.Containers {
			c := &r.Containers[j]
			a := c.Analysis
			res, ok := reserved[containerRef{r.Node, c.ID}]
			if a == nil || !ok {
				continue
			}
			gpus := 0.0
			if c.GPU {
				gpus = 1
			}
			hourly := analysis.HourlyCost(res[0], res[1], gpus, &config.PriceConfig{VCPUHour: p.cpu, GiBHour: p.ram, GPUHour: p.gpu})
			scale := 0.0
			if a.CostPerHour > 0 {
				scale = hourly / a.CostPerHour
			}
			a.CostPerHour, a.CurrentMonthlyCost = hourly, hourly*analysis.HoursPerMonth
			a.IdleCostPerHour *= scale
			a.IdleCostPerMonth *= scale
			a.OverReservedPerMon *= scale
			if a.Platform != "" {
				a.SavingsPerMonth = a.CurrentMonthlyCost - a.ServerlessMonthly
			}
		}
	}
	if len(by) == 0 {
		return
	}
	src := fmt.Sprintf("OpenCost's node prices (%s, %s) for %s", openCostCPU, openCostRAM, listSome(by))
	if len(fell) > 0 {
		src += "; the agents' own node prices for " + listSome(fell)
	}
	for i := range reps {
		reps[i].PriceSource = src
	}
}

// reservedByContainer reads each container's latest reserved CPU cores
// and memory bytes.
func (q *querier) reservedByContainer(ctx context.Context) (map[containerRef][2]float64, error) {
	out := map[containerRef][2]float64{}
	for i, m := range []*schema.Metric{&schema.ReservedCPU, &schema.ReservedMemory} {
		vec, err := q.vector(ctx, m.PromName())
		if err != nil {
			return nil, err
		}
		for _, s := range vec {
			ref := containerRef{nodeOf(s.labels), s.labels[labelContainerID]}
			v := out[ref]
			v[i] = s.value
			out[ref] = v
		}
	}
	return out, nil
}

// priceFor is the price configuration a part of a workload is analysed
// at: the unit prices of the nodes its containers ran on, weighted by the
// time each ran there (a workload that moved is priced as its bill was),
// else cfg's. It says whether any node's price was OpenCost's.
func priceFor(cfg config.PriceConfig, byNode map[string]float64, prices map[string]*nodePrice) (config.PriceConfig, bool) {
	var w, cpu, ram, gpu float64
	openCost := false
	for _, node := range slices.Sorted(maps.Keys(byNode)) {
		p := prices[node]
		if p == nil || (p.cpu == 0 && p.ram == 0) {
			continue
		}
		t := byNode[node]
		w += t
		cpu += t * p.cpu
		ram += t * p.ram
		gpu += t * p.gpu
		openCost = openCost || p.openCost
	}
	if w <= 0 {
		return cfg, false
	}
	cfg.VCPUHour, cfg.GiBHour, cfg.GPUHour = cpu/w, ram/w, gpu/w
	return cfg, openCost
}
