package schema

import (
	"github.com/fleetscope/fleetscope/model"
)

// The node as a whole.
var (
	HostCPUs = Metric{Name: "fleetscope.host.cpus", Unit: "{cpu}", Instrument: Gauge,
		Help: "Logical CPUs of the node."}
	HostCPUTime = Metric{Name: "fleetscope.host.cpu.time", Unit: "s", Instrument: Counter,
		Help: "CPU time of the whole node, by mode.", Attributes: []string{"cpu.mode"}}
	HostMemoryTotal = Metric{Name: "fleetscope.host.memory.total", Unit: "By", Instrument: Gauge,
		Help: "Physical memory of the node."}
	HostMemoryAvailable = Metric{Name: "fleetscope.host.memory.available", Unit: "By", Instrument: Gauge,
		Help: "Memory available for new work without swapping."}
	HostFilesystemSize = Metric{Name: "fleetscope.host.filesystem.size", Unit: "By", Instrument: Gauge,
		Help: "Size of the node's root filesystem.", Attributes: []string{"mountpoint"}}
	HostFilesystemUsage = Metric{Name: "fleetscope.host.filesystem.usage", Unit: "By", Instrument: Gauge,
		Help: "Used bytes of the node's root filesystem.", Attributes: []string{"mountpoint"}}
)

// host emits the node's series, when it could be read.
func (w *Walker) host(s *model.Snapshot) {
	if !s.HostOK {
		return
	}
	h := &s.Host
	w.put(&HostCPUs, float64(h.CPUs), nil)
	w.put1(&HostCPUTime, h.CPUUserSeconds, nil, "user")
	w.put1(&HostCPUTime, h.CPUSystemSeconds, nil, "system")
	w.put1(&HostCPUTime, h.CPUIdleSeconds, nil, "idle")
	w.put1(&HostCPUTime, h.CPUIOWaitSeconds, nil, "wait")
	w.put1(&HostCPUTime, h.CPUOtherSeconds, nil, "interrupt")
	w.put(&HostMemoryTotal, float64(h.MemoryTotal), nil)
	w.put(&HostMemoryAvailable, float64(h.MemoryAvailable), nil)
	if h.FilesystemSize > 0 {
		w.put1(&HostFilesystemSize, float64(h.FilesystemSize), nil, h.FilesystemPath)
		w.put1(&HostFilesystemUsage, float64(h.FilesystemUsed), nil, h.FilesystemPath)
	}
}
