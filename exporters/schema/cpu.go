package schema

import (
	"github.com/fleetscope/fleetscope/model"
)

// CPU time, use and throttling of a container.
var (
	CPUTime = Metric{Name: "container.cpu.time", Unit: "s", Instrument: Counter,
		Help: "Total CPU time consumed by the container, by mode; the modes sum to the cgroup's exact CPU time counter.", Attributes: []string{"cpu.mode"}}
	CPUUsage = Metric{Name: "container.cpu.usage", Unit: "{cpu}", Instrument: Gauge,
		Help: "CPU cores used by the container, averaged over the last sample interval."}
	CPUThrottledPeriods = Metric{Name: "fleetscope.container.cpu.throttled_periods", Unit: "{period}", Instrument: Counter,
		Help: "CFS periods in which the container was throttled."}
	CPUPeriods = Metric{Name: "fleetscope.container.cpu.periods", Unit: "{period}", Instrument: Counter,
		Help: "CFS enforcement periods that elapsed while the container was runnable."}
	CPUThrottledTime = Metric{Name: "fleetscope.container.cpu.throttled_time", Unit: "s", Instrument: Counter,
		Help: "Total time the container was throttled by its CPU limit."}
)

// cpu emits a sampled container's CPU series.
func (w *Walker) cpu(m *model.Meta, sc *model.Container) {
	u := &sc.Usage
	if u.Have.Has(model.HaveCPUMode) {
		w.put1(&CPUTime, float64(u.CPUUserNanos)/1e9, m, "user")
		w.put1(&CPUTime, float64(u.CPUSystemNanos)/1e9, m, "system")
	}
	if sc.HaveRates {
		w.put(&CPUUsage, sc.CPUCores, m)
	}
	if u.Have.Has(model.HaveThrottling) {
		w.put(&CPUPeriods, float64(u.CPUPeriods), m)
		w.put(&CPUThrottledPeriods, float64(u.CPUThrottledPeriods), m)
		w.put(&CPUThrottledTime, float64(u.CPUThrottledNanos)/1e9, m)
	}
}
