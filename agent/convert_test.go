package agent

import (
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/resources"
)

// A memory limit from resources.UnlimitedMemory on is no limit, whether it
// comes from the OCI spec or from the cgroup, as the analysis reads it.
func TestUnlimitedMemoryIsOneRule(t *testing.T) {
	for _, c := range []struct {
		bytes uint64
		want  uint64
	}{
		{64 << 20, 64 << 20},
		{resources.UnlimitedMemory - 1, resources.UnlimitedMemory - 1},
		{resources.UnlimitedMemory, 0},
		{9223372036854771712, 0},
	} {
		spec := specLimits(&containerd.Resources{MemoryLimit: int64(c.bytes)})
		live := resolveLimits(model.Limits{}, &cgroups.Limits{Have: cgroups.HaveMemory, MemoryLimit: c.bytes}, true)
		if spec.MemoryBytes != c.want || live.MemoryBytes != c.want {
			t.Errorf("limit %d: spec %d, cgroup %d, want %d", c.bytes, spec.MemoryBytes, live.MemoryBytes, c.want)
		}
	}
}

// The request is the spec's whenever the spec has one, whatever the
// cgroup's weight says (a runtime of either formula wrote it); without
// one it is the cgroup's, a v2 weight read both ways. Limits stay the
// cgroup's.
func TestRequestFromTheSpecFirst(t *testing.T) {
	for _, c := range []struct {
		name       string
		specShares uint64
		cg         cgroups.Limits
		want       resources.CPURequest
		cores      float64
	}{
		{"spec over an old runc's weight", 1024, cgroups.Limits{CPUWeight: 39}, resources.CPURequest{Shares: 1024, From: resources.RequestSpec}, 1},
		{"spec over a new runc's weight", 512, cgroups.Limits{CPUWeight: 59}, resources.CPURequest{Shares: 512, From: resources.RequestSpec}, 0.5},
		{"best effort spec", 2, cgroups.Limits{CPUWeight: 1}, resources.CPURequest{Shares: 2, From: resources.RequestSpec}, 0},
		{"v1 shares without a spec", 0, cgroups.Limits{CPUShares: 512}, resources.CPURequest{Shares: 512, From: resources.RequestShares}, 0.5},
		{"v2 weight without a spec", 0, cgroups.Limits{CPUWeight: 100}, resources.CPURequest{Shares: 1024, From: resources.RequestWeight, LegacyShares: 2623}, 1},
	} {
		spec := specLimits(&containerd.Resources{CPUShares: c.specShares, CPUQuotaMicros: 50000, CPUPeriodMicros: 100000})
		c.cg.Have, c.cg.CPUQuotaMicros, c.cg.CPUPeriodMicros = cgroups.HaveCPU, 20000, 100000
		got := resolveLimits(spec, &c.cg, true)
		if got.CPURequest() != c.want || got.CPURequestCores() != c.cores {
			t.Errorf("%s: request %+v (%v cores), want %+v (%v)", c.name, got.CPURequest(), got.CPURequestCores(), c.want, c.cores)
		}
		if got.CPULimitCores() != 0.2 {
			t.Errorf("%s: limit %v cores, want the cgroup's 0.2", c.name, got.CPULimitCores())
		}
		if unread := resolveLimits(spec, &c.cg, false); unread.CPULimitCores() != 0.5 || (c.specShares > 0) != (unread.CPURequestCores() == c.cores) {
			t.Errorf("%s: with the cgroup unread, limit %v and request %v", c.name, unread.CPULimitCores(), unread.CPURequestCores())
		}
	}
}

// A Job's BestEffort pod (the kubelet's 2 shares) reserves no CPU for its
// runs' cost, as its analysis and /metrics have no request for it; a
// Burstable one reserves its request.
func TestRunsReserveTheModelsRequest(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		limits model.Limits
		want   float64
	}{
		{"best effort", model.Limits{CPUQuotaMicros: -1, CPUPeriodMicros: 100000, CPUShares: 2}, 0},
		{"burstable", model.Limits{CPUQuotaMicros: -1, CPUPeriodMicros: 100000, CPUShares: 256}, 0.25},
		{"guaranteed", model.Limits{CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, CPUShares: 512}, 0.5},
	} {
		l := newRunLog(config.Default().Analysis)
		m := &model.Meta{ID: "c", Pod: model.Pod{Name: "report-1-abcde", Namespace: "shop"},
			Workload: model.Workload{Kind: "CronJob", Name: "report", Job: "report-1"}}
		l.observe(&model.Snapshot{Time: t0, Containers: []model.Container{{Meta: m, Running: true, Sampled: true, StartedAt: t0, Limits: c.limits}}})
		got := l.summary(t0.Add(time.Minute))
		if len(got) != 1 || got[0].Stats.ReservedCores != c.want {
			t.Errorf("%s: runs %+v, want %v cores reserved", c.name, got, c.want)
		}
	}
}
