package schema

import (
	"github.com/fleetscope/fleetscope/model"
)

// Memory of a container, from its cgroup.
var (
	MemoryUsage = Metric{Name: "container.memory.usage", Unit: "By", Instrument: Gauge,
		Help: "Memory charged to the container's cgroup, including page cache."}
	MemoryWorkingSet = Metric{Name: "container.memory.working_set", Unit: "By", Instrument: Gauge,
		Help: "Memory usage minus inactive file cache: what the kernel would not reclaim first."}
	MemoryRSS = Metric{Name: "container.memory.rss", Unit: "By", Instrument: Gauge,
		Help: "Anonymous memory (resident set) of the container."}
	MemoryCache = Metric{Name: "fleetscope.container.memory.cache", Unit: "By", Instrument: Gauge,
		Help: "Page cache charged to the container."}
	MemorySwap = Metric{Name: "fleetscope.container.memory.swap", Unit: "By", Instrument: Gauge,
		Help: "Swap used by the container, where the kernel accounts it."}
	MemoryOOMKills = Metric{Name: "fleetscope.container.memory.oom_kills", Unit: "{kill}", Instrument: Counter,
		Help: "Processes of the container's cgroup the kernel's OOM killer killed since the cgroup was created (memory.events oom_kill on v2, memory.oom_control on v1)."}
)

// memory emits a sampled container's memory series.
func (w *Walker) memory(m *model.Meta, u *model.Usage) {
	if u.Have.Has(model.HaveMemory) {
		w.put(&MemoryUsage, float64(u.MemoryUsage), m)
	}
	if u.Have.Has(model.HaveMemoryStat) {
		w.put(&MemoryWorkingSet, float64(u.MemoryWorkingSet), m)
		w.put(&MemoryRSS, float64(u.MemoryRSS), m)
		w.put(&MemoryCache, float64(u.MemoryCache), m)
	}
	if u.Have.Has(model.HaveSwap) {
		w.put(&MemorySwap, float64(u.MemorySwap), m)
	}
	if u.Have.Has(model.HaveOOM) {
		w.put(&MemoryOOMKills, float64(u.OOMKills), m)
	}
}
