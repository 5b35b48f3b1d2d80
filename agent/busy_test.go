package agent

import (
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/model"
)

// A container with a quota gets its busy time from its bandwidth periods;
// one without, or whose quota changed, gets none from them.
func TestStepBusyFromPeriods(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	tr := &tracked{haveLimits: true, limits: cgroups.Limits{Have: cgroups.HaveCPU, CPUQuotaMicros: 50000, CPUPeriodMicros: 100000}}
	read := func(at time.Duration, cpu, periods uint64) {
		tr.cur = cgroups.Stats{Have: cgroups.HaveCPU | cgroups.HaveThrottling, CPUUsageNanos: cpu, CPUPeriods: periods}
		tr.use.step(t0.Add(at), cpu, 0, 0)
		tr.stepBusy()
	}
	read(0, 0, 0)
	read(10*time.Second, 5e8, 12)
	if tr.busy.d != time.Second || tr.busy.from != model.BusyFromPeriods {
		t.Errorf("busy %v from %q, want 1s from periods", tr.busy.d, tr.busy.from)
	}
	tr.limits.CPUQuotaMicros = 100000
	read(20*time.Second, 10e8, 24)
	if tr.busy.from != "" {
		t.Errorf("busy from %q across a quota change, want nothing", tr.busy.from)
	}
	tr.limits.CPUQuotaMicros = -1
	read(30*time.Second, 15e8, 24)
	read(40*time.Second, 20e8, 24)
	if tr.busy.from != "" {
		t.Errorf("busy from %q without a quota, want nothing", tr.busy.from)
	}
}
