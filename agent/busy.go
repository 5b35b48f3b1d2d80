package agent

import (
	"time"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/history"
	"github.com/fleetscope/fleetscope/model"
)

// busyState measures a container's busy time below the sample: from the
// CFS bandwidth periods of a container with a CPU quota.
type busyState struct {
	periods cgroups.PeriodCounter
	quota   int64         // the quota periods counts under, 0 for none
	d       time.Duration // busy time of the last step
	from    string        // what measured d: model.BusyFrom*, "" for nothing
}

// stepBusy measures the busy time of the step t.use just took.
func (t *tracked) stepBusy() {
	b := &t.busy
	b.d, b.from = 0, ""
	l := &t.limits
	var quota int64
	if t.haveLimits && l.Have.Has(cgroups.HaveCPU) && l.CPUQuotaMicros > 0 && l.CPUPeriodMicros > 0 && t.cur.Have.Has(cgroups.HaveThrottling) {
		quota = l.CPUQuotaMicros
	}
	if quota != b.quota {
		// Periods counted under another quota, or none, say nothing of
		// this step.
		b.periods.Reset()
		b.quota = quota
	}
	if quota == 0 {
		return
	}
	n, ok := b.periods.Step(t.cur.CPUPeriods)
	if !ok || !t.use.ok {
		return
	}
	period := time.Duration(l.CPUPeriodMicros) * time.Microsecond
	cores := float64(quota) / float64(l.CPUPeriodMicros)
	b.d = cgroups.PeriodBusy(n, period, time.Duration(t.use.delta[useCPU]), cores, t.use.span)
	b.from = model.BusyFromPeriods
}

// resolutionOf is history's name for what measured a Delta's busy time.
func resolutionOf(from string) history.Resolution {
	switch from {
	case model.BusyFromPeriods:
		return history.FromPeriods
	case model.BusyFromFine:
		return history.FromFine
	}
	return history.FromSamples
}
