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

	NodePrice = Metric{Name: "fleetscope.node.price", Unit: "{currency}/h", Instrument: Gauge,
		Help:       "What the node costs an hour as it is priced, and from where: its own price (source node), its instance type's row in the price table (table), or its capacity at the unit prices (unit).",
		Attributes: []string{AttrCurrency, AttrSource, "host.type", "cloud.provider", "fleetscope.capacity_type"}}
	NodeUnitPrice = Metric{Name: "fleetscope.node.unit.price", Unit: "{currency}/h", Instrument: Gauge,
		Help:       "The unit prices the node's containers are costed at, its price split as OpenCost does: per vCPU, per GiB of memory and per GPU, an hour.",
		Attributes: []string{AttrCurrency, "fleetscope.resource"}}
)

// price emits how the node is priced.
func (w *Walker) price(s *model.Snapshot) {
	p := s.Price
	if p == nil {
		return
	}
	capacity := "on-demand"
	if p.Spot {
		capacity = "spot"
	}
	w.attrs = append(w.attrs[:0], s.Currency, p.From, p.InstanceType, p.Provider, capacity)
	w.emit(&NodePrice, p.NodeHourly, nil, w.attrs)
	for _, u := range [...]struct {
		r string
		v float64
	}{{"cpu", p.VCPUHour}, {"memory", p.GiBHour}, {"gpu", p.GPUHour}} {
		w.put2(&NodeUnitPrice, u.v, nil, s.Currency, u.r)
	}
}

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
