// Package model holds the immutable result of one sampling tick: the data
// agent publishes a new Snapshot with an atomic pointer swap; exporters and
// the API only read snapshots, so they never contend with the sampler.
package model

import (
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/collectors/host"
	"github.com/fleetscope/fleetscope/collectors/netstat"
)

// Snapshot is everything known after one tick. Nothing in it is modified
// after publication.
type Snapshot struct {
	// Time is when the tick's sampling started.
	Time time.Time
	// Interval is the configured sample interval.
	Interval time.Duration
	// Containers are every container in the inventory, sorted by
	// namespace and id.
	Containers []Container
	// Networks are per network namespace, shared by a pod's containers.
	Networks []Network
	// Interfaces backs Networks[i].Interfaces (one allocation per tick).
	Interfaces []netstat.Interface

	Host     host.Stats
	HostOK   bool
	NodeName string
	Self     Self
}

// Container is one container's figures in a tick.
type Container struct {
	Meta *containerd.Container

	// Sampled is true when Stats hold a complete, consistent reading of
	// this tick. A container whose cgroup could not be read (vanished,
	// permission denied, malformed file) is listed with Sampled false and
	// its usage is not exported: a half-read sample is never reported.
	Sampled bool
	Stats   cgroups.Stats

	// HaveLimits is true when Limits were read from the cgroup.
	HaveLimits bool
	Limits     cgroups.Limits

	// HaveRates is true from the second consecutive sample on.
	HaveRates bool
	// CPUCores is the average number of cores used since the previous
	// sample.
	CPUCores float64
	// IOReadBytesPerSec and IOWriteBytesPerSec are block I/O rates.
	IOReadBytesPerSec, IOWriteBytesPerSec float64

	// Network indexes Networks, or is -1 (host network, or unknown).
	Network int
	// Layer is the writable layer's size, if measured yet.
	HaveLayer bool
	Layer     containerd.LayerUsage
	// StartedAt is when the container's task started (zero if unknown).
	StartedAt time.Time

	// Delta is what happened since the previous sample, as fed to
	// history. Network figures are the pod's, shared by its containers:
	// traffic makes every container of the pod active.
	Delta Delta

	// Analysis is the latest idle, cost and serverless analysis (it is
	// refreshed once a minute); nil until the container has history.
	Analysis *analysis.Result
}

// Delta is one container's change between two consecutive samples.
type Delta struct {
	Valid bool
	// Interval is the time between the two samples.
	Interval               time.Duration
	CPUSeconds             float64
	DiskWriteBytes         uint64
	NetRxBytes, NetTxBytes uint64
	TCPAccepts             uint64
}

// Network is one network namespace's counters, attributed to the pod (or
// the single container) that owns it, never multiplied by its containers.
type Network struct {
	// Owner is the index in Containers of the owning container: the pod's
	// sandbox when there is one.
	Owner int
	// Interfaces are the namespace's interfaces except lo.
	Interfaces []netstat.Interface
	// TCPPassiveOpens counts inbound TCP connections accepted, a cheap
	// request estimate.
	TCPPassiveOpens uint64
	HaveTCP         bool
	HaveRates       bool
	RxBytesPerSec   float64
	TxBytesPerSec   float64
}

// Self are the agent's own health figures.
type Self struct {
	Collectors       []CollectorStatus
	TickLag          time.Duration
	TickDuration     time.Duration
	Overruns         uint64
	DiscoveryErrors  uint64
	ContainerdUp     bool
	ContainerdReason string
	OpenFiles        int
	Running, Stopped int

	// History and checkpoint health.
	HistoryContainers  int
	CheckpointFailures uint64
	LastCheckpoint     time.Time
	RestoreFailures    uint64
	// StateProblem describes the last checkpoint or restore failure, for
	// /readyz; empty when the last checkpoint succeeded.
	StateProblem string

	// OTLP exporter health; OTLPEnabled is false when no endpoint is set.
	OTLPEnabled        bool
	OTLPExportFailures uint64
	OTLPExportPoints   uint64
}

// CollectorStatus is the outcome of a collector's last round.
type CollectorStatus struct {
	Name     string
	Duration time.Duration
	Success  bool
	Errors   uint64
}

// Find returns the container with namespace and id, or nil.
func (s *Snapshot) Find(namespace, id string) *Container {
	for i := range s.Containers {
		m := s.Containers[i].Meta
		if m.Namespace == namespace && m.ID == id {
			return &s.Containers[i]
		}
	}
	return nil
}
