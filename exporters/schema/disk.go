package schema

import (
	"github.com/fleetscope/fleetscope/model"
)

// Block I/O and the writable layer of a container.
var (
	DiskIO = Metric{Name: "container.disk.io", Unit: "By", Instrument: Counter,
		Help: "Block device bytes read and written by the container.", Attributes: []string{"disk.io.direction"}}
	DiskOperations = Metric{Name: "fleetscope.container.disk.operations", Unit: "{operation}", Instrument: Counter,
		Help: "Block device operations by the container.", Attributes: []string{"disk.io.direction"}}
	FilesystemUsage = Metric{Name: "container.filesystem.usage", Unit: "By", Instrument: Gauge,
		Help: "Bytes used by the container's writable layer, measured through containerd's snapshotter on a slower cadence."}
)

// disk emits a sampled container's block I/O series.
func (w *Walker) disk(m *model.Meta, u *model.Usage) {
	if u.Have.Has(model.HaveIO) {
		w.put1(&DiskIO, float64(u.IOReadBytes), m, "read")
		w.put1(&DiskIO, float64(u.IOWriteBytes), m, "write")
		w.put1(&DiskOperations, float64(u.IOReadOps), m, "read")
		w.put1(&DiskOperations, float64(u.IOWriteOps), m, "write")
	}
}
