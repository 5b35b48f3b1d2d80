package schema

import (
	"github.com/fleetscope/fleetscope/model"
)

// Per-container series that are neither CPU, memory nor disk: the info
// series, limits, uptime and processes.
var (
	Pids = Metric{Name: "fleetscope.container.pids", Unit: "{process}", Instrument: Gauge,
		Help: "Processes and threads in the container's cgroup."}
	Uptime = Metric{Name: "container.uptime", Unit: "s", Instrument: Gauge,
		Help: "Time since the container's task started."}
	CPULimit = Metric{Name: "k8s.container.cpu.limit.current", Unit: "{cpu}", Instrument: Gauge,
		Help: "CPU limit of the container in cores (CFS quota / period); absent when unlimited."}
	CPURequest = Metric{Name: "k8s.container.cpu.request.current", Unit: "{cpu}", Instrument: Gauge,
		Help: "CPU request of the container in cores (shares / 1024): the OCI spec's shares, else the cgroup's (v2 weight read by the current runtimes' formula); absent without a request, as for a BestEffort pod's 2 shares."}
	MemoryLimit = Metric{Name: "k8s.container.memory.limit.current", Unit: "By", Instrument: Gauge,
		Help: "Memory limit of the container; absent when unlimited."}
	ContainerInfo = Metric{Name: "fleetscope.container.info", Unit: "", Instrument: Gauge,
		Help: "Descriptive metadata of a container, with its allow-listed labels (container.label.<key>); the value is always 1.",
		Attributes: []string{"container.image.name", "container.runtime.name", "k8s.pod.uid",
			AttrWorkloadKind, AttrWorkloadName, "k8s.deployment.name", "k8s.replicaset.name", "k8s.statefulset.name",
			"k8s.daemonset.name", "k8s.job.name", "k8s.cronjob.name", AttrContainerName, AttrPodSandbox, AttrGPU}, Labels: true}
)

// workloadKinds are the kinds with a k8s.<kind>.name attribute on the info
// series, in the order of ContainerInfo's attributes.
var workloadKinds = [...]string{"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}

// container emits one container's series: its info and limits always,
// its analysis when there is one, its usage when it was sampled.
func (w *Walker) container(s *model.Snapshot, sc *model.Container) {
	m := sc.Meta
	w.info(m)
	w.limits(m, &sc.Limits)
	if sc.HaveLayer {
		w.put(&FilesystemUsage, float64(sc.LayerBytes), m)
	}
	if sc.Analysis != nil {
		w.analysis(m, sc.Analysis, s.Currency)
	}
	if sc.HaveEvidence && !m.Sandbox {
		// Also while not sampled: a container that is down keeps counting.
		// A pod's sandbox has none: its figures are the pause process's,
		// never a candidate, and half the containers of a node.
		w.evidence(m, &sc.Evidence)
	}
	if !sc.Sampled {
		return
	}
	if !sc.StartedAt.IsZero() {
		w.put(&Uptime, s.Time.Sub(sc.StartedAt).Seconds(), m)
	}
	u := &sc.Usage
	w.cpu(m, sc)
	w.memory(m, u)
	w.disk(m, u)
	if u.Have.Has(model.HavePids) {
		w.put(&Pids, float64(u.Pids), m)
	}
}

// info emits the container's info series, the one that carries its
// descriptive metadata.
func (w *Walker) info(m *model.Meta) {
	wl := &m.Workload
	w.attrs = append(w.attrs[:0], m.Image, m.Runtime, m.Pod.UID, wl.Kind, wl.Name)
	// The semantic conventions' attribute of the workload's own kind.
	for _, k := range workloadKinds {
		v := ""
		switch {
		case k == wl.Kind:
			v = wl.Name
		case k == "ReplicaSet" && wl.Kind == "Deployment":
			v = wl.ReplicaSet
		case k == "Job" && wl.Kind == "CronJob":
			v = wl.Job
		}
		w.attrs = append(w.attrs, v)
	}
	w.attrs = append(w.attrs, m.Name, boolString(m.Sandbox), boolString(m.GPU))
	w.emit(&ContainerInfo, 1, m, w.attrs)
}

// limits emits the limits and request the container has.
func (w *Walker) limits(m *model.Meta, l *model.Limits) {
	if c := l.CPULimitCores(); c > 0 {
		w.put(&CPULimit, c, m)
	}
	if c := l.CPURequestCores(); c > 0 {
		w.put(&CPURequest, c, m)
	}
	if l.MemoryBytes > 0 {
		w.put(&MemoryLimit, float64(l.MemoryBytes), m)
	}
}
