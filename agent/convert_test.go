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
