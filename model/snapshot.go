// Package model is the data the agent publishes and everything downstream
// reads: one immutable Snapshot per sampling tick. The exporters, the HTTP
// API and the report depend on this package only, never on the collectors
// that fill it or the agent that assembles it, so its types are its own.
//
// Every string in a Snapshot is valid UTF-8: names chosen by tenants and
// image authors (container, image, pod and interface names, labels) are
// cleaned once, when the agent copies them in (see Clean), so no exporter
// has to check and none can emit a payload its peer rejects.
package model

import (
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/resources"
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
	Interfaces []Interface

	// Runs are the Jobs' and CronJobs' runs seen on this node, per
	// workload (refreshed once a minute).
	Runs []WorkloadRuns
	// Distributions are the mergeable distributions of each workload's
	// containers on this node, per container name (refreshed once a
	// minute), sorted by namespace, kind, name and container.
	Distributions []WorkloadDistributions
	// Workloads are the workloads whose history on this node is more than
	// one container's (a replaced pod, replicas), each container name
	// judged on all of it; the others' answer is their container's.
	Workloads []WorkloadResult

	Host     Host
	HostOK   bool
	NodeName string
	// Currency is the price sheet's, for the money series.
	Currency string
	// Price says how this node is priced; nil when unknown.
	Price *NodePrice
	Self  Self
}

// Meta is a container's identity and descriptive metadata. A Meta is
// immutable and replaced (a new pointer) whenever anything in it changes,
// so consumers may cache per pointer.
type Meta struct {
	// Namespace is the containerd namespace.
	Namespace string
	ID        string
	// IdentityNamespace is Namespace when another namespace holds a
	// container with the same ID, else empty: only then is the namespace
	// needed to tell their series apart, so only then is it exported on
	// them.
	IdentityNamespace string
	// Name is the most human name available: the pod's container name,
	// "POD" for a sandbox, else the id.
	Name    string
	Image   string
	Runtime string
	Pod     Pod
	// Sandbox is true for a pod's sandbox (pause) container.
	Sandbox bool
	// GPU is true when the container is granted a GPU-class device.
	GPU bool
	// Labels are the allow-listed container labels, sorted by key.
	Labels []Label
	// Workload is what the container's figures add up to: its pod's
	// controller (a Deployment, StatefulSet, DaemonSet, Job or CronJob), the
	// pod itself, or outside Kubernetes a container group.
	Workload Workload
	// Spec are the limits and requests of the OCI spec, the fallback
	// when the cgroup cannot be read.
	Spec Limits
}

// Pod is the Kubernetes identity of a container; empty outside Kubernetes.
type Pod struct {
	Name, Namespace, UID string
	// ContainerName is the name in the pod spec; empty for a sandbox.
	ContainerName string
}

// Workload names a workload. ReplicaSet is set for a Deployment's pods,
// Job for a CronJob's.
type Workload struct {
	Kind, Name      string
	ReplicaSet, Job string
}

// NodePrice is how the node is priced (package pricing): where the price
// came from (From: node, table or unit; Source in words), the instance
// type and cloud where known, whether it is spot, the node's price an
// hour and the unit prices it was split into.
type NodePrice struct {
	From, Source           string
	InstanceType, Provider string
	Spot                   bool
	NodeHourly             float64
	VCPUHour, GiBHour      float64
	GPUHour                float64
}

// WorkloadResult is one container name of a workload judged on the
// history of every pod the workload had on the node within the history's
// retention (analysis.AggregateSeries): the Result is per replica.
type WorkloadResult struct {
	Namespace, Kind, Name, Container string
	// Pods is how many instances' history it holds, Live how many run
	// now; AverageReplicas how many ran at once on average while any did,
	// over ObservedSeconds of replica time.
	Pods, Live      int
	AverageReplicas float64
	ObservedSeconds float64
	Result          *analysis.Result
}

// WorkloadRuns are the runs of one Job or CronJob seen on the node: a
// CronJob's pods come and go, so the workload, not a container, carries
// its figures.
type WorkloadRuns struct {
	Namespace, Kind, Name string
	Stats                 analysis.RunStats
	Verdict               analysis.RunVerdict
}

// Label is one container label.
type Label struct{ Key, Value string }

// Limits are a container's CPU and memory limits and requests. Zero means
// unset (or unlimited). What the numbers mean as a request or a limit is
// package resources' rule; read them through the methods below, never by
// hand, so that every reader means the same.
type Limits struct {
	CPUQuotaMicros  int64 // CFS quota per period; <= 0 is unlimited
	CPUPeriodMicros uint64
	// CPUShares is the CPU request in shares (1024 a core), read where
	// CPURequestFrom says; CPULegacyShares is the older runtimes' reading
	// of the same cgroup v2 weight (see resources.CPURequest).
	CPUShares       uint64
	CPURequestFrom  resources.RequestFrom
	CPULegacyShares uint64
	MemoryBytes     uint64 // memory limit
}

// CPURequest is the request with where it was read.
func (l *Limits) CPURequest() resources.CPURequest {
	return resources.CPURequest{Shares: l.CPUShares, From: l.CPURequestFrom, LegacyShares: l.CPULegacyShares}
}

// SetCPURequest stores r.
func (l *Limits) SetCPURequest(r resources.CPURequest) {
	l.CPUShares, l.CPURequestFrom, l.CPULegacyShares = r.Shares, r.From, r.LegacyShares
}

// CPULimitCores is the CPU limit in cores, 0 when unlimited.
func (l *Limits) CPULimitCores() float64 {
	return resources.CPULimitCores(l.CPUQuotaMicros, l.CPUPeriodMicros)
}

// CPURequestCores is the CPU request in cores (shares / 1024), 0 without
// one: a BestEffort container's 2 shares are no request (see
// resources.CPURequestCores).
func (l *Limits) CPURequestCores() float64 { return resources.CPURequestCores(l.CPUShares) }

// Container is one container's figures in a tick.
type Container struct {
	Meta *Meta
	// Running is true when the container has a live task.
	Running bool

	// Sampled is true when Usage holds a complete, consistent reading of
	// this tick. A container whose cgroup could not be read (vanished,
	// permission denied, malformed file) is listed with Sampled false and
	// its usage is not exported: a half-read sample is never reported.
	Sampled bool
	Usage   Usage

	// Limits are the cgroup's live limits where they could be read, else
	// the spec's: resolved once, by the agent.
	Limits Limits

	// HaveRates is true from the second consecutive sample on.
	HaveRates bool
	// CPUCores is the average number of cores used since the previous
	// sample.
	CPUCores float64
	// IOReadBytesPerSec and IOWriteBytesPerSec are block I/O rates.
	IOReadBytesPerSec, IOWriteBytesPerSec float64

	// Network indexes Networks, or is -1 (host network, or unknown).
	Network int
	// HaveLayer is true when the writable layer has been measured.
	HaveLayer   bool
	LayerBytes  uint64
	LayerInodes uint64
	// StartedAt is when the container's task started (zero if unknown).
	StartedAt time.Time

	// Delta is what happened since the previous sample, as fed to
	// history. Network figures are the pod's, shared by its containers:
	// traffic makes every container of the pod active.
	Delta Delta

	// Analysis is the latest idle, cost and serverless analysis (it is
	// refreshed once a minute); nil until the container has history.
	Analysis *analysis.Result

	// Evidence is what the analysis is made of, as counters; valid when
	// HaveEvidence, from the container's first sample on.
	Evidence     Evidence
	HaveEvidence bool
}

// Evidence is a container's additive evidence: counters that only grow
// while the agent runs (an agent restart starts them from zero), so that
// a store can add them over time, replicas and nodes. Times are seconds.
// RecordedSeconds are the minutes with data, IdleSeconds the idle ones,
// DownSeconds those mostly down and ListeningSeconds those with a
// listening socket, each × 60; SampledSeconds is the time the samples
// covered, BusySeconds the part covered by busy samples and
// BusyCPUSeconds their CPU time; BusyRuns counts runs of busy samples and
// Restarts the restarts the agent noted.
type Evidence struct {
	RecordedSeconds, IdleSeconds, DownSeconds, ListeningSeconds float64
	SampledSeconds, BusySeconds, BusyCPUSeconds                 float64
	BusyRuns, Restarts                                          uint64
}

// Histogram is a cumulative distribution: Counts[i] values at most
// Bounds[i] and above Bounds[i-1] (not cumulative), Counts[len(Bounds)]
// those above the last bound, and the Sum of all.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Sum    float64
}

// Count is the number of values counted.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// WorkloadDistributions are a workload's distributions on this node for
// one of its containers' names: what its containers' minutes and bursts
// were, summed over every instance that ran here since Since, so that
// the counts only grow while the agent runs and add across nodes.
type WorkloadDistributions struct {
	Namespace, Kind, Name, Container string
	// Since is when the node started counting them.
	Since time.Time
	// CPU holds each minute's average cores, WorkingSet its largest
	// working set in bytes, Bursts the lengths of runs of active minutes
	// in seconds.
	CPU, WorkingSet, Bursts Histogram
}

// Have tells which groups of values in Usage were read: a controller or
// file that does not exist leaves its bit unset.
type Have uint32

// Groups of Usage values.
const (
	HaveCPU        Have = 1 << iota // CPUNanos
	HaveCPUMode                     // CPUUserNanos, CPUSystemNanos
	HaveThrottling                  // CPUPeriods, CPUThrottledPeriods, CPUThrottledNanos
	HaveMemory                      // MemoryUsage
	HaveMemoryStat                  // MemoryWorkingSet, MemoryRSS, MemoryCache
	HaveSwap                        // MemorySwap
	HaveIO                          // IO*
	HavePids                        // Pids
	HaveOOM                         // OOMKills
)

// Has reports whether every bit of x is set in h.
func (h Have) Has(x Have) bool { return h&x == x }

// Usage is one reading of a container's cumulative resource usage.
type Usage struct {
	Have Have

	CPUNanos uint64 // exact total CPU time
	// CPUUserNanos and CPUSystemNanos split CPUNanos by mode; they sum to
	// it.
	CPUUserNanos, CPUSystemNanos uint64

	CPUPeriods, CPUThrottledPeriods, CPUThrottledNanos uint64
	// OOMKills counts the processes the kernel's OOM killer killed in the
	// cgroup since it was created; the collector reads it once a minute,
	// so it may be that old.
	OOMKills uint64

	MemoryUsage      uint64
	MemoryWorkingSet uint64 // usage minus inactive file pages
	MemoryRSS        uint64
	MemoryCache      uint64
	MemorySwap       uint64

	IOReadBytes, IOWriteBytes uint64
	IOReadOps, IOWriteOps     uint64

	Pids uint64
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
	// Listening is true when the container's network namespace had a
	// listening TCP socket at its last reading (once a minute).
	Listening bool
	// Busy is the part of Interval the container ran, measured below the
	// sample when BusyFrom says how: BusyFromPeriods or BusyFromFine; ""
	// when nothing did.
	Busy     time.Duration
	BusyFrom string
}

// What measured a Delta's Busy time.
const (
	// BusyFromPeriods: the CFS bandwidth periods the cgroup ran in
	// (containers with a CPU quota).
	BusyFromPeriods = "periods"
	// BusyFromFine: readings of the CPU time at a shorter interval than
	// the sample's.
	BusyFromFine = "fine"
)

// Network is one network namespace's counters, attributed to the pod (or
// the single container) that owns it, never multiplied by its containers.
type Network struct {
	// Owner is the index in Containers of the owning container: the pod's
	// sandbox when there is one.
	Owner int
	// Interfaces are the namespace's interfaces except lo, at most a
	// bound per namespace (the collector's).
	Interfaces []Interface
	// Others sums the counters of the interfaces beyond the bound (its
	// Name is empty), and OtherInterfaces counts them.
	Others          Interface
	OtherInterfaces int
	// TCPPassiveOpens counts inbound TCP connections accepted, a cheap
	// request estimate.
	TCPPassiveOpens uint64
	HaveTCP         bool
	HaveRates       bool
	RxBytesPerSec   float64
	TxBytesPerSec   float64
	// ListenPort is the lowest TCP port the namespace listens on at an
	// address other than loopback, 0 when none or not known, as of the
	// last look for listening sockets (every few minutes).
	ListenPort uint16
}

// Interface is one network interface's cumulative counters.
type Interface struct {
	Name                                    string
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}

// Host is the node's capacity and usage.
type Host struct {
	CPUs int
	// Cumulative CPU times over all CPUs, by mode.
	CPUUserSeconds, CPUSystemSeconds, CPUIdleSeconds, CPUIOWaitSeconds, CPUOtherSeconds float64
	MemoryTotal, MemoryAvailable                                                        uint64
	FilesystemPath                                                                      string
	FilesystemSize, FilesystemUsed, FilesystemFree                                      uint64
}

// Self are the agent's own health figures.
type Self struct {
	Collectors       []CollectorStatus
	TickLag          time.Duration
	TickDuration     time.Duration
	Overruns         uint64
	DiscoveryErrors  uint64
	ContainerdUp     bool
	ContainerdSince  time.Time // when ContainerdUp last changed
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
