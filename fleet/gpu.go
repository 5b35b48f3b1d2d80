package fleet

import (
	"context"
	"fmt"
	"strings"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/report"
)

// NVIDIA's DCGM exporter's GPU activity series, by the pod, namespace and
// container it attributes the GPU to: the graphics engine's active share
// (0 to 1, a profiling metric), else the coarser utilisation (percent).
const (
	dcgmEngineActive = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
	dcgmUtil         = "DCGM_FI_DEV_GPU_UTIL"
)

// dcgmLabels are the labels read of the DCGM exporter's series.
var dcgmLabels = map[string]bool{"namespace": true, "pod": true, "container": true,
	"exported_namespace": true, "exported_pod": true, "exported_container": true}

// gpuKey names a container as the DCGM exporter labels it.
type gpuKey struct{ namespace, pod, container string }

// gpuBusy reads each container's GPU busy share over the last 7 days (the
// window of the agents' idle ratio), the profiling series where a
// container has it, else the utilisation.
func (q *querier) gpuBusy(ctx context.Context) (map[gpuKey]float64, map[gpuKey]string, error) {
	busy, from := map[gpuKey]float64{}, map[gpuKey]string{}
	// The exporter's own labels, read for its series only: a report's
	// other answers never keep these (a scrape adds them to everything).
	dq := *q
	dq.kept = dcgmLabels
	for _, m := range []struct {
		name  string
		scale float64
	}{{dcgmEngineActive, 1}, {dcgmUtil, 0.01}} {
		vec, err := dq.vectorOf(ctx, "avg_over_time("+m.name+"[7d])", m.name)
		if err != nil {
			return nil, nil, err
		}
		// One GPU's series per container: a container granted several has
		// one per GPU, which are averaged.
		sum, n := map[gpuKey]float64{}, map[gpuKey]int{}
		for _, s := range vec {
			k := dcgmKey(s.labels)
			if k.pod == "" || !usable(s.value) {
				continue
			}
			sum[k] += min(s.value*m.scale, 1)
			n[k]++
		}
		for k, v := range sum {
			if _, ok := busy[k]; !ok {
				busy[k], from[k] = v/float64(n[k]), m.name
			}
		}
	}
	return busy, from, nil
}

// listSome lists at most 10 names, and how many more there are: the
// report's header, not an inventory.
func listSome(names []string) string {
	if len(names) <= 10 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:10], ", "), len(names)-10)
}

// dcgmKey is the container a DCGM series is about: the exporter's pod,
// namespace and container labels, or the exported_ ones a scrape renames
// them to when the target has labels of those names.
func dcgmKey(l map[string]string) gpuKey {
	get := func(name string) string {
		if v := l["exported_"+name]; v != "" {
			return v
		}
		return l[name]
	}
	return gpuKey{get("namespace"), get("pod"), get("container")}
}

// gpuIdleFromDCGM takes, for each container granted a GPU that DCGM
// measured, the GPU's part of its idle money from the GPU's measured busy
// share instead of from the container's own idleness (its CPU, network
// and disk), and notes on the reports which containers it did so for
// and which kept the inference.
func gpuIdleFromDCGM(reps []report.Report, busy map[gpuKey]float64, from map[gpuKey]string, prices map[string]*nodePrice) {
	var measured, inferred []string
	for i := range reps {
		r := &reps[i]
		gpuHour := 0.0
		if p := prices[r.Node]; p != nil {
			gpuHour = p.gpu
		}
		for j := range r.Containers {
			c := &r.Containers[j]
			a := c.Analysis
			if !c.GPU || a == nil || c.Sandbox {
				continue
			}
			who := r.Node + ":" + c.PodNamespace + "/" + c.PodName + "/" + c.Name
			b, ok := busy[gpuKey{c.PodNamespace, c.PodName, c.Name}]
			if !ok || gpuHour <= 0 {
				inferred = append(inferred, who)
				continue
			}
			measured = append(measured, who)
			idle := 0.0
			if a.CostPerHour > 0 {
				idle = a.IdleCostPerHour / a.CostPerHour
			}
			// One GPU at the node's GPU price; the rest of the cost keeps
			// the container's idle share.
			gpuPart := min(gpuHour, a.CostPerHour)
			a.IdleCostPerHour = (a.CostPerHour-gpuPart)*idle + gpuPart*(1-b)
			a.IdleCostPerMonth = a.IdleCostPerHour * analysis.HoursPerMonth
			a.GPUBusyRatio, a.GPUBusyFrom = &b, from[gpuKey{c.PodNamespace, c.PodName, c.Name}]
		}
	}
	if len(measured) == 0 {
		return
	}
	note := "; GPU idleness measured by DCGM for " + listSome(measured)
	if len(inferred) > 0 {
		note += "; inferred from CPU, network and disk for " + listSome(inferred)
	}
	for i := range reps {
		reps[i].PriceSource += note
	}
}
