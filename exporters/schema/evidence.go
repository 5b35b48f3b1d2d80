package schema

import (
	"github.com/fleetscope/fleetscope/history"
	"github.com/fleetscope/fleetscope/model"
)

// Additive evidence: what the analysis is made of, in forms a store can
// add across time, replicas and nodes (see docs/fleet.md). Per container,
// counters; per workload and container name on the node, histograms.
//
// The histograms are per workload rather than per container because of
// their size: 3 classic histograms of 10 or 11 buckets are 38 lines, about
// 5 KB per container at 205 containers, where /metrics may grow by 2.5 KB
// a container in all. Per workload on the node is the granularity the
// fleet answer needs and still adds across nodes; the per-container
// counters carry container identity, which the info series links to the
// workload.
var (
	RecordedTime = Metric{Name: "fleetscope.container.recorded.time", Unit: "s", Instrument: Counter,
		Help: "Minutes with data (the analysis' observed time), as seconds, since the agent started."}
	IdleTime = Metric{Name: "fleetscope.container.idle.time", Unit: "s", Instrument: Counter,
		Help: "Idle minutes (down ones included), as seconds, since the agent started: the idle ratio is their rate over fleetscope.container.recorded.time's."}
	DownTime = Metric{Name: "fleetscope.container.down.time", Unit: "s", Instrument: Counter,
		Help: "Minutes mostly down while the pod lived on, as seconds, since the agent started."}
	ListeningTime = Metric{Name: "fleetscope.container.listening.time", Unit: "s", Instrument: Counter,
		Help: "Minutes with a listening TCP socket in the container's network namespace, as seconds, since the agent started."}
	SampledTime = Metric{Name: "fleetscope.container.sampled.time", Unit: "s", Instrument: Counter,
		Help: "Time covered by the samples of the minutes with data, since the agent started."}
	BusyTime = Metric{Name: "fleetscope.container.busy.time", Unit: "s", Instrument: Counter,
		Help: "Time covered by busy samples (rates not all below the idle floors), since the agent started."}
	BusyCPUTime = Metric{Name: "fleetscope.container.busy.cpu.time", Unit: "s", Instrument: Counter,
		Help: "CPU time of the busy samples, since the agent started."}
	BusyRuns = Metric{Name: "fleetscope.container.busy.runs", Unit: "{run}", Instrument: Counter,
		Help: "Runs of consecutive busy samples begun, since the agent started."}
	Restarts = Metric{Name: "fleetscope.container.restarts", Unit: "{restart}", Instrument: Counter,
		Help: "Restarts of the container in its pod that the agent noted, since the agent started."}
	NetworkAccepts = Metric{Name: "fleetscope.pod.network.accepts", Unit: "{connection}", Instrument: Counter,
		Help: "Inbound TCP connections accepted in the pod's network namespace (Tcp PassiveOpens), a request estimate."}

	WorkloadCPU = Metric{Name: "fleetscope.workload.cpu.usage", Unit: "{cpu}", Instrument: Histogram,
		Help:       "Average CPU cores of each minute with data of the workload's containers of one name on this node, since the agent started.",
		Attributes: distributionAttributes, Bounds: history.CPUBounds}
	WorkloadWorkingSet = Metric{Name: "fleetscope.workload.memory.working_set", Unit: "By", Instrument: Histogram,
		Help:       "Largest working set of each minute with data of the workload's containers of one name on this node, since the agent started.",
		Attributes: distributionAttributes, Bounds: history.WorkingSetBounds}
	WorkloadBursts = Metric{Name: "fleetscope.workload.burst.duration", Unit: "s", Instrument: Histogram,
		Help:       "Length of each burst (run of active minutes, as the analysis finds them) that ended, of the workload's containers of one name on this node, since the agent started.",
		Attributes: distributionAttributes, Bounds: history.BurstBounds}
)

// distributionAttributes identify a workload's containers of one name on
// the node (a pod spec's container, or a container outside Kubernetes).
var distributionAttributes = []string{AttrNamespaceName, AttrWorkloadKind, AttrWorkloadName, AttrPodContainerName}

// evidence emits a container's counters.
func (w *Walker) evidence(m *model.Meta, e *model.Evidence) {
	w.put(&RecordedTime, e.RecordedSeconds, m)
	w.put(&IdleTime, e.IdleSeconds, m)
	w.put(&DownTime, e.DownSeconds, m)
	w.put(&ListeningTime, e.ListeningSeconds, m)
	w.put(&SampledTime, e.SampledSeconds, m)
	w.put(&BusyTime, e.BusySeconds, m)
	w.put(&BusyCPUTime, e.BusyCPUSeconds, m)
	w.put(&BusyRuns, float64(e.BusyRuns), m)
	w.put(&Restarts, float64(e.Restarts), m)
}

// distributions emits one workload's histograms.
func (w *Walker) distributions(d *model.WorkloadDistributions) {
	w.attrs = append(w.attrs[:0], d.Namespace, d.Kind, d.Name, d.Container)
	w.histogram(&WorkloadCPU, &d.CPU, d, w.attrs)
	w.histogram(&WorkloadWorkingSet, &d.WorkingSet, d, w.attrs)
	w.histogram(&WorkloadBursts, &d.Bursts, d, w.attrs)
}

// histogram passes one histogram series to the sink, within the cap.
func (w *Walker) histogram(m *Metric, h *model.Histogram, d *model.WorkloadDistributions, attrs []string) {
	if len(h.Bounds) != len(m.Bounds) || len(h.Counts) != len(m.Bounds)+1 {
		return // not this metric's layout: never sent under its name
	}
	if w.MaxSeries > 0 {
		if !w.allowed(m) {
			w.dropped[m.index]++
			return
		}
		w.series[m.index]++
	}
	w.sink.Histogram(m, h, d.Since, attrs)
}
