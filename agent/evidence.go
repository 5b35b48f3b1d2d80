package agent

import (
	"cmp"
	"slices"
	"time"

	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/history"
	"github.com/fleetscope/fleetscope/model"
)

// distGrace is how long a workload's distributions outlive its last
// container on the node: long enough to bridge a rollout that deletes a
// pod before its replacement starts, short enough that the series of a
// workload gone from the node vanish. A workload back after that starts
// over from zero, which a store reads as a counter reset.
const distGrace = 10 * time.Minute

// distKey names the containers of one name of a workload on the node.
type distKey struct{ namespace, kind, name, container string }

// workloadDist sums the distributions of a workload's containers of one
// name: every instance drains into it as its minutes close, so the sums
// only grow, whichever instances come, go or inherit another's history.
type workloadDist struct {
	since, live time.Time
	d           history.Distributions
}

// distKeyOf is the key of a container's distributions; ok is false for a
// pod's sandbox, whose figures are the pause process's, and for a
// workload of one instance (see singleInstance).
func distKeyOf(m *model.Meta) (distKey, bool) {
	if m.Sandbox || singleInstance(m) {
		return distKey{}, false
	}
	return distKey{m.Pod.Namespace, m.Workload.Kind, m.Workload.Name, m.Pod.ContainerName}, true
}

// singleInstance reports whether m's container is a workload that no
// other instance can continue: a bare pod (a pod has one node for its
// whole life, and a new pod of the same name is a new workload to
// Kubernetes too), or a container outside Kubernetes that is its own
// workload. Its whole history is the one Series on this node, so its own
// gauges already say what distributions would; exporting them too cost
// /metrics a histogram set per such pod (docs/fleet.md, "Budget").
func singleInstance(m *model.Meta) bool {
	switch m.Workload.Kind {
	case containerd.KindPod:
		return true
	case containerd.KindContainer:
		return m.Workload.Name == m.ID
	}
	return false
}

// drain moves what series observed since the last drain into its
// workload's distributions.
func (st *state) drain(now time.Time, series *history.Series, m *model.Meta) {
	if !series.Drain(&st.drained) {
		return
	}
	if k, ok := distKeyOf(m); ok {
		wd := st.dists[k]
		if wd == nil {
			wd = &workloadDist{since: now}
			st.dists[k] = wd
		}
		wd.d.Add(&st.drained)
		wd.live = now
	}
	st.drained = history.Distributions{}
}

// evidenceOf converts a series' counters for the model.
func evidenceOf(e history.Evidence) model.Evidence {
	return model.Evidence{
		RecordedSeconds:  float64(e.ObservedMinutes) * 60,
		IdleSeconds:      float64(e.IdleMinutes) * 60,
		DownSeconds:      float64(e.DownMinutes) * 60,
		ListeningSeconds: float64(e.ListenMinutes) * 60,
		SampledSeconds:   float64(e.SampledNanos) / 1e9,
		BusySeconds:      float64(e.BusyNanos) / 1e9,
		BusyCPUSeconds:   e.BusyCPUSeconds,
		BusyRuns:         uint64(e.BusyRuns),
		Restarts:         uint64(e.Restarts),
	}
}

// publishDists forgets the distributions of workloads gone from the node
// for longer than distGrace and returns the others for snapshots: new
// values each time (once a minute), so published snapshots keep theirs.
func (st *state) publishDists(snap *model.Snapshot) []model.WorkloadDistributions {
	for i := range snap.Containers {
		if k, ok := distKeyOf(snap.Containers[i].Meta); ok {
			if wd := st.dists[k]; wd != nil {
				wd.live = snap.Time
			}
		}
	}
	out := make([]model.WorkloadDistributions, 0, len(st.dists))
	for k, wd := range st.dists {
		if snap.Time.Sub(wd.live) > distGrace {
			delete(st.dists, k)
			continue
		}
		out = append(out, model.WorkloadDistributions{
			Namespace: k.namespace, Kind: k.kind, Name: k.name, Container: k.container, Since: wd.since,
			CPU:        histogram(&wd.d.CPU, history.CPUBounds),
			WorkingSet: histogram(&wd.d.WorkingSet, history.WorkingSetBounds),
			Bursts:     histogram(&wd.d.Bursts, history.BurstBounds),
		})
	}
	slices.SortFunc(out, func(a, b model.WorkloadDistributions) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Container, b.Container))
	})
	return out
}

func histogram(d *history.Distribution, bounds []float64) model.Histogram {
	return model.Histogram{Bounds: bounds, Counts: append([]uint64(nil), d.Counts[:len(bounds)+1]...), Sum: d.Sum}
}
