package agent

import (
	"cmp"
	"slices"
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/history"
	"github.com/fleetscope/fleetscope/model"
)

// nodeWorkload gathers one workload part (a container name of a
// workload that outlives its pods, keyed as its distributions) on the
// node for its analysis.
type nodeWorkload struct {
	keys    []history.Key
	live    int
	newest  *containerd.Container
	newestI int
}

// analyseWorkloads judges every workload part on the node on the history
// of all its pods the store still holds, live and gone (issue: a rollout
// continues a workload's history rather than restarting it). Which part a
// series belongs to is remembered while the store keeps the series, in
// memory only: after an agent restart, the history of pods gone before
// it counts for their containers but not for their workload. A part of
// one series is its container's result, already computed.
func (st *state) analyseWorkloads(snap *model.Snapshot, srcs []*containerd.Container) []model.WorkloadResult {
	parts := map[distKey]*nodeWorkload{}
	for i := range snap.Containers {
		k, ok := distKeyOf(snap.Containers[i].Meta)
		if !ok {
			continue
		}
		c := srcs[i]
		st.members[history.Key{Namespace: c.Namespace, ID: c.ID}] = k
		p := parts[k]
		if p == nil {
			p = &nodeWorkload{}
			parts[k] = p
		}
		if snap.Containers[i].Running {
			p.live++
		}
		if p.newest == nil || c.CreatedAt.After(p.newest.CreatedAt) {
			p.newest, p.newestI = c, i
		}
	}
	for key, k := range st.members {
		s := st.store.Get(key)
		if s == nil {
			delete(st.members, key)
			continue
		}
		if p := parts[k]; p != nil {
			p.keys = append(p.keys, key)
		}
	}
	out := make([]model.WorkloadResult, 0, len(parts))
	for k, p := range parts {
		if len(p.keys) < 2 {
			continue
		}
		// Map order must not change the sums' rounding.
		slices.SortFunc(p.keys, func(a, b history.Key) int {
			return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.ID, b.ID))
		})
		series := make([]*history.Series, len(p.keys))
		for i, key := range p.keys {
			series[i] = st.store.Get(key)
		}
		in := st.inputOf(snap.Time, &snap.Containers[p.newestI], p.newest)
		a := analysis.AggregateSeries(in, series, st.cfg.Analysis.TimeZone, &st.scratch)
		r := analysis.AnalyzeAggregate(&a, st.cfg.Analysis)
		wr := model.WorkloadResult{Namespace: k.namespace, Kind: k.kind, Name: k.name, Container: k.container,
			Pods: len(series), Live: p.live, ObservedSeconds: float64(a.Valid[2]) * 60, Result: &r}
		if a.Span > 0 {
			wr.AverageReplicas = wr.ObservedSeconds / a.Span.Seconds()
		}
		out = append(out, wr)
	}
	slices.SortFunc(out, func(a, b model.WorkloadResult) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.Container, b.Container))
	})
	return out
}

// inputOf is the analysis input of container c, whose tick figures are sc.
func (st *state) inputOf(now time.Time, sc *model.Container, c *containerd.Container) analysis.Input {
	in := analysis.Input{Now: now, Series: st.store.Get(history.Key{Namespace: c.Namespace, ID: c.ID}),
		Labels: c.OverrideLabels, GPU: c.GPU, GPUs: c.GPUs, Sandbox: c.Sandbox}
	l := &sc.Limits
	in.CPUQuotaMicros, in.CPUPeriodMicros, in.CPUShares = l.CPUQuotaMicros, l.CPUPeriodMicros, l.CPUShares
	in.MemoryLimitBytes = l.MemoryBytes
	return in
}
