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
	// own is true for a container that is its own workload (outside
	// Kubernetes, without a workload label): nothing can continue its
	// figures, and its series name the container, so they go with it.
	own bool
}

// distKeyOf is the key of a container's distributions; ok is false for a
// pod's sandbox, whose figures are the pause process's.
func distKeyOf(m *model.Meta) (distKey, bool) {
	if m.Sandbox {
		return distKey{}, false
	}
	return distKey{m.Pod.Namespace, m.Workload.Kind, m.Workload.Name, m.Pod.ContainerName}, true
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
			wd = &workloadDist{since: now, own: ownWorkload(m)}
			st.dists[k] = wd
			if wd.own {
				st.ownDists++
			}
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
			st.forgetDist(k, wd)
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

// ownWorkload reports whether m's container is its own workload.
func ownWorkload(m *model.Meta) bool {
	return m.Workload.Kind == containerd.KindContainer && m.Workload.Name == m.ID
}

func (st *state) forgetDist(k distKey, wd *workloadDist) {
	delete(st.dists, k)
	if wd.own {
		st.ownDists--
	}
}

// dropGoneOwn forgets, on the tick it is gone, the distributions of a
// container that was its own workload, rather than after distGrace. The
// common tick only counts: it rebuilds nothing unless one went.
func (st *state) dropGoneOwn(snap *model.Snapshot) {
	if st.ownDists == 0 {
		return
	}
	live := 0
	for i := range snap.Containers {
		if ownWorkload(snap.Containers[i].Meta) {
			live++
		}
	}
	if live >= st.ownDists {
		return
	}
	ids := make(map[string]bool, live)
	for i := range snap.Containers {
		if m := snap.Containers[i].Meta; ownWorkload(m) {
			ids[m.ID] = true
		}
	}
	for k, wd := range st.dists {
		if wd.own && !ids[k.name] {
			st.forgetDist(k, wd)
		}
	}
	// A new slice: published snapshots keep the one they have.
	kept := make([]model.WorkloadDistributions, 0, len(st.distSummary))
	for _, d := range st.distSummary {
		if d.Kind != containerd.KindContainer || ids[d.Name] || st.dists[distKey{d.Namespace, d.Kind, d.Name, d.Container}] != nil {
			kept = append(kept, d)
		}
	}
	st.distSummary = kept
}

func histogram(d *history.Distribution, bounds []float64) model.Histogram {
	return model.Histogram{Bounds: bounds, Counts: append([]uint64(nil), d.Counts[:len(bounds)+1]...), Sum: d.Sum}
}
