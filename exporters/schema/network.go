package schema

import (
	"github.com/fleetscope/fleetscope/model"
)

// Network counters of a pod: one network namespace, shared by its
// containers, so its series carry pod identity.
var (
	NetworkIO = Metric{Name: "k8s.pod.network.io", Unit: "By", Instrument: Counter,
		Help: "Bytes received and transmitted in the pod's network namespace, per interface.", Attributes: []string{"network.io.direction", "network.interface.name"}}
	NetworkPackets = Metric{Name: "fleetscope.pod.network.packets", Unit: "{packet}", Instrument: Counter,
		Help: "Packets received and transmitted in the pod's network namespace.", Attributes: []string{"network.io.direction", "network.interface.name"}}
	NetworkErrors = Metric{Name: "k8s.pod.network.errors", Unit: "{error}", Instrument: Counter,
		Help: "Receive and transmit errors in the pod's network namespace.", Attributes: []string{"network.io.direction", "network.interface.name"}}
	NetworkDropped = Metric{Name: "fleetscope.pod.network.dropped", Unit: "{packet}", Instrument: Counter,
		Help: "Packets dropped in the pod's network namespace.", Attributes: []string{"network.io.direction", "network.interface.name"}}
	NetworkInterfacesDropped = Metric{Name: "fleetscope.pod.network.interfaces_dropped", Unit: "{interface}", Instrument: Gauge,
		Help: "Interfaces of the pod's network namespace beyond the 16 whose series it keeps; their counters are summed under network.interface.name=\"" + OtherInterfaces + "\". Absent while every interface has its own series."}
)

// OtherInterfaces is the network.interface.name of the series that sum
// the interfaces of a pod beyond those kept one by one (see
// NetworkInterfacesDropped). It holds a blank, which no interface name
// can, so it never meets a real interface's series. Its counters are a
// sum over a changing set: when interfaces come, go or take a kept place
// the sum may fall, which a rate reads as a counter reset, only ever in
// the pod that made the interfaces.
const OtherInterfaces = "other interfaces"

// network emits a pod network namespace's series, as its owner container.
func (w *Walker) network(s *model.Snapshot, n *model.Network) {
	m := s.Containers[n.Owner].Meta
	for i := range n.Interfaces {
		w.iface(m, &n.Interfaces[i], n.Interfaces[i].Name)
	}
	if n.HaveTCP {
		w.put(&NetworkAccepts, float64(n.TCPPassiveOpens), m)
	}
	if n.OtherInterfaces > 0 {
		// The interfaces beyond the collector's bound, summed: a sum over
		// the pod's interfaces still gives its whole traffic.
		w.iface(m, &n.Others, OtherInterfaces)
		w.put(&NetworkInterfacesDropped, float64(n.OtherInterfaces), m)
	}
}

// iface emits one interface's counters, both directions.
func (w *Walker) iface(m *model.Meta, it *model.Interface, name string) {
	w.put2(&NetworkIO, float64(it.RxBytes), m, "receive", name)
	w.put2(&NetworkIO, float64(it.TxBytes), m, "transmit", name)
	w.put2(&NetworkPackets, float64(it.RxPackets), m, "receive", name)
	w.put2(&NetworkPackets, float64(it.TxPackets), m, "transmit", name)
	w.put2(&NetworkErrors, float64(it.RxErrors), m, "receive", name)
	w.put2(&NetworkErrors, float64(it.TxErrors), m, "transmit", name)
	w.put2(&NetworkDropped, float64(it.RxDropped), m, "receive", name)
	w.put2(&NetworkDropped, float64(it.TxDropped), m, "transmit", name)
}
