package agent

import (
	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/collectors/host"
	"github.com/fleetscope/fleetscope/collectors/netstat"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/resources"
)

// This file is the one place where collector types become model types:
// the exporters, the API and the report read only the model.

// metaOf copies a discovered container's identity into the model, its
// attacker-chosen strings made valid UTF-8 (model.Clean). It runs once
// per container record, when discovery replaces the record.
func metaOf(c *containerd.Container, workloadLabel string) *model.Meta {
	w := containerd.WorkloadOf(c, workloadLabel)
	m := &model.Meta{
		Namespace: model.Clean(c.Namespace),
		ID:        model.Clean(c.ID),
		Name:      model.Clean(c.Name()),
		Image:     model.Clean(c.Image),
		Runtime:   model.Clean(c.Runtime),
		Pod: model.Pod{
			Name:          model.Clean(c.Pod.Name),
			Namespace:     model.Clean(c.Pod.Namespace),
			UID:           model.Clean(c.Pod.UID),
			ContainerName: model.Clean(c.Pod.ContainerName),
		},
		Sandbox: c.Sandbox,
		GPU:     c.GPU,
		Spec:    specLimits(&c.Resources),
		Workload: model.Workload{
			Kind: model.Clean(w.Kind), Name: model.Clean(w.Name),
			ReplicaSet: model.Clean(w.ReplicaSet), Job: model.Clean(w.Job),
		},
	}
	if len(c.ExportLabels) > 0 {
		m.Labels = make([]model.Label, len(c.ExportLabels))
		for i, l := range c.ExportLabels {
			m.Labels[i] = model.Label{Key: model.Clean(l.Key), Value: model.Clean(l.Value)}
		}
	}
	return m
}

func specLimits(r *containerd.Resources) model.Limits {
	l := model.Limits{CPUPeriodMicros: r.CPUPeriodMicros}
	l.SetCPURequest(resources.RequestOf(r.CPUShares, 0, 0))
	if r.CPUQuotaMicros > 0 {
		l.CPUQuotaMicros = r.CPUQuotaMicros
	}
	if r.MemoryLimit > 0 {
		l.MemoryBytes = resources.MemoryLimit(uint64(r.MemoryLimit))
	}
	return l
}

// resolveLimits is the one place that decides what a container is held to.
// Limits are the cgroup's live ones where they were read, else the spec's:
// a limit is enforced as the file says. The request is the spec's where
// it has one, since that is what was asked and a cgroup v2 weight is the
// runtime's arithmetic on it (resources.RequestOf), else the cgroup's.
func resolveLimits(spec model.Limits, l *cgroups.Limits, have bool) model.Limits {
	out := spec
	if have && l.Have.Has(cgroups.HaveCPU) {
		out.CPUQuotaMicros, out.CPUPeriodMicros = max(l.CPUQuotaMicros, 0), l.CPUPeriodMicros
		if spec.CPURequestFrom != resources.RequestSpec {
			out.SetCPURequest(resources.RequestOf(0, l.CPUShares, l.CPUWeight))
		}
	}
	if have && l.Have.Has(cgroups.HaveMemory) {
		out.MemoryBytes = resources.MemoryLimit(l.MemoryLimit)
	}
	return out
}

// haveBits maps the cgroup reader's presence bits onto the model's.
var haveBits = [...]struct {
	from cgroups.Field
	to   model.Have
}{
	{cgroups.HaveCPU, model.HaveCPU},
	{cgroups.HaveCPUMode, model.HaveCPUMode},
	{cgroups.HaveThrottling, model.HaveThrottling},
	{cgroups.HaveMemory, model.HaveMemory},
	{cgroups.HaveMemoryStat, model.HaveMemoryStat},
	{cgroups.HaveSwap, model.HaveSwap},
	{cgroups.HaveIO, model.HaveIO},
	{cgroups.HavePids, model.HavePids},
	{cgroups.HaveOOM, model.HaveOOM},
}

func usageOf(st *cgroups.Stats) model.Usage {
	u := model.Usage{
		CPUNanos: st.CPUUsageNanos, CPUUserNanos: st.CPUUserNanos, CPUSystemNanos: st.CPUSystemNanos,
		CPUPeriods: st.CPUPeriods, CPUThrottledPeriods: st.CPUThrottledPeriods, CPUThrottledNanos: st.CPUThrottledNanos,
		MemoryUsage: st.MemoryUsage, MemoryWorkingSet: st.MemoryWorkingSet, MemoryRSS: st.MemoryRSS,
		MemoryCache: st.MemoryCache, MemorySwap: st.MemorySwap,
		IOReadBytes: st.IOReadBytes, IOWriteBytes: st.IOWriteBytes, IOReadOps: st.IOReadOps, IOWriteOps: st.IOWriteOps,
		Pids: st.Pids, OOMKills: st.OOMKills,
	}
	for _, b := range haveBits {
		if st.Have.Has(b.from) {
			u.Have |= b.to
		}
	}
	return u
}

func interfaceOf(i *netstat.Interface) model.Interface {
	return model.Interface{
		Name:    model.Clean(i.Name),
		RxBytes: i.RxBytes, RxPackets: i.RxPackets, RxErrors: i.RxErrors, RxDropped: i.RxDropped,
		TxBytes: i.TxBytes, TxPackets: i.TxPackets, TxErrors: i.TxErrors, TxDropped: i.TxDropped,
	}
}

func hostOf(h *host.Stats) model.Host { return model.Host(*h) }
