// Package schema is the one table of metrics Fleetscope exports. Both the
// Prometheus and the OTLP exporters are generated from it, so a metric's
// name, unit, type and attributes cannot drift between the two: the
// Prometheus name is always the standard OpenTelemetry-to-Prometheus
// translation of the OTLP name.
package schema

import "strings"

// Instrument is the OpenTelemetry instrument kind of a metric.
type Instrument int

// Instrument kinds. Counters are monotonic cumulative sums; Prometheus
// exposes them with a _total suffix.
const (
	Gauge Instrument = iota
	Counter
)

// Metric describes one exported metric.
type Metric struct {
	// Name is the OpenTelemetry name, following the semantic conventions
	// where one exists (container.*, k8s.*) and fleetscope.* otherwise.
	Name string
	// Unit is a UCUM unit as OpenTelemetry uses them: "s", "By", "1",
	// "{cpu}" (annotations in braces carry no dimension).
	Unit       string
	Instrument Instrument
	Help       string
	// Attributes are the metric's own attributes beyond the identity every
	// container series carries (see ContainerAttributes).
	Attributes []string
	// Labels is set on the info series, which also carries the
	// container's allow-listed labels (ContainerLabelPrefix + key).
	Labels bool

	index int // in All
	ident int // identity kind, see IdentityKind
}

// Attribute names that readers of the exported series select, group or
// read by (the fleet report reads every one of them back from a store).
// Each is written once, here; the table below is built from these, and a
// reader takes a series' label name from PromLabel(attribute), never from
// a literal of its own, so that a rename here renames it everywhere.
const (
	AttrContainerID         = "container.id"
	AttrContainerName       = "container.name"
	AttrContainerImageName  = "container.image.name"
	AttrContainerdNamespace = "containerd.namespace"
	AttrPodName             = "k8s.pod.name"
	AttrNamespaceName       = "k8s.namespace.name"
	// AttrNodeName is on no series of the agent's own: the OTLP exporter
	// sets it on the resource, which a Collector may turn into a label.
	AttrNodeName     = "k8s.node.name"
	AttrWorkloadKind = "k8s.workload.kind"
	AttrWorkloadName = "k8s.workload.name"
	AttrPodSandbox   = "fleetscope.pod_sandbox"
	AttrGPU          = "fleetscope.gpu"
	AttrVerdict      = "verdict"
	AttrPlatform     = "platform"
	AttrCurrency     = "currency"
	AttrWindow       = "window"
	// AttrReasonKind tells a reason from a blocker; AttrReasonCode is the
	// analysis' code.
	AttrReasonKind = "kind"
	AttrReasonCode = "code"
	AttrStatistic  = "statistic"
	AttrSource     = "source"
)

// Container identity attributes, on every per-container series. They are
// all identifying (their cardinality is that of container.id); descriptive
// metadata lives on the info series instead.
// containerd.namespace is set only where two containerd namespaces hold
// the same container id (model.Meta.IdentityNamespace), which would
// otherwise make two containers one series; on the info series it is
// always set.
var ContainerAttributes = []string{AttrContainerID, "k8s.container.name", AttrNamespaceName, AttrPodName, AttrContainerdNamespace}

// ContainerLabelPrefix starts the attribute of an allow-listed container
// label on the info series, as in the semantic conventions'
// container.label.<key>.
const ContainerLabelPrefix = "container.label."

// Pod identity attributes, on per-pod series such as network counters,
// which belong to a network namespace shared by the pod's containers.
var PodAttributes = []string{AttrContainerID, AttrNamespaceName, AttrPodName, AttrContainerdNamespace}

// OtherInterfaces is the network.interface.name of the series that sum
// the interfaces of a pod beyond those kept one by one (see
// NetworkInterfacesDropped). It holds a blank, which no interface name
// can, so it never meets a real interface's series. Its counters are a
// sum over a changing set: when interfaces come, go or take a kept place
// the sum may fall, which a rate reads as a counter reset, only ever in
// the pod that made the interfaces.
const OtherInterfaces = "other interfaces"

// The metrics. Variables rather than a map so that exporters reference them
// by identifier and a typo fails to compile.
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

	DiskIO = Metric{Name: "container.disk.io", Unit: "By", Instrument: Counter,
		Help: "Block device bytes read and written by the container.", Attributes: []string{"disk.io.direction"}}
	DiskOperations = Metric{Name: "fleetscope.container.disk.operations", Unit: "{operation}", Instrument: Counter,
		Help: "Block device operations by the container.", Attributes: []string{"disk.io.direction"}}
	Pids = Metric{Name: "fleetscope.container.pids", Unit: "{process}", Instrument: Gauge,
		Help: "Processes and threads in the container's cgroup."}
	FilesystemUsage = Metric{Name: "container.filesystem.usage", Unit: "By", Instrument: Gauge,
		Help: "Bytes used by the container's writable layer, measured through containerd's snapshotter on a slower cadence."}
	Uptime = Metric{Name: "container.uptime", Unit: "s", Instrument: Gauge,
		Help: "Time since the container's task started."}

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

	CPULimit = Metric{Name: "k8s.container.cpu.limit.current", Unit: "{cpu}", Instrument: Gauge,
		Help: "CPU limit of the container in cores (CFS quota / period); absent when unlimited."}
	CPURequest = Metric{Name: "k8s.container.cpu.request.current", Unit: "{cpu}", Instrument: Gauge,
		Help: "CPU request of the container in cores, derived from cgroup CPU shares (shares / 1024); absent without a request, as for a BestEffort pod's 2 shares."}
	MemoryLimit = Metric{Name: "k8s.container.memory.limit.current", Unit: "By", Instrument: Gauge,
		Help: "Memory limit of the container; absent when unlimited."}

	ContainerInfo = Metric{Name: "fleetscope.container.info", Unit: "", Instrument: Gauge,
		Help: "Descriptive metadata of a container, with its allow-listed labels (container.label.<key>); the value is always 1.",
		Attributes: []string{"container.image.name", "container.runtime.name", "k8s.pod.uid",
			AttrWorkloadKind, AttrWorkloadName, "k8s.deployment.name", "k8s.replicaset.name", "k8s.statefulset.name",
			"k8s.daemonset.name", "k8s.job.name", "k8s.cronjob.name", AttrContainerName, AttrPodSandbox, AttrGPU}, Labels: true}

	IdleRatio = Metric{Name: "fleetscope.container.idle.ratio", Unit: "1", Instrument: Gauge,
		Help: "Share of observed minutes in which the container was idle, over a window (1h, 24h, 7d).", Attributes: []string{AttrWindow}}
	// Money is per hour on every series, in the price sheet's currency
	// (the currency label); a month is ×730 (analysis.HoursPerMonth) in
	// queries.
	Cost = Metric{Name: "fleetscope.container.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "What the container's reserved CPU, memory and GPUs cost per hour at the configured prices.", Attributes: []string{AttrCurrency}}
	IdleCost = Metric{Name: "fleetscope.container.idle.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "The part of the container's cost per hour paid for idle time (cost × 7-day idle ratio).", Attributes: []string{AttrCurrency}}
	OverReservationCost = Metric{Name: "fleetscope.container.overreservation.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "Cost per hour of reserved capacity above the p95 of use.", Attributes: []string{AttrCurrency}}
	ServerlessFit = Metric{Name: "fleetscope.container.serverless.fit", Unit: "1", Instrument: Gauge,
		Help: "How good a serverless candidate the container is, from 0 to 1 (its verdict is on fleetscope.container.serverless.verdict)."}
	ServerlessVerdict = Metric{Name: "fleetscope.container.serverless.verdict", Unit: "", Instrument: Gauge,
		Help: "The container's verdict and the platform it names; the value is always 1.", Attributes: []string{AttrVerdict, AttrPlatform}}
	ServerlessCost = Metric{Name: "fleetscope.container.serverless.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "Estimated cost per hour of the same work on the verdict's serverless platform.", Attributes: []string{AttrCurrency}}
	ServerlessSavings = Metric{Name: "fleetscope.container.serverless.savings", Unit: "{currency}/h", Instrument: Gauge,
		Help: "Estimated saving per hour of moving the container to serverless (current minus serverless cost).", Attributes: []string{AttrCurrency}}
	ServerlessReason = Metric{Name: "fleetscope.container.serverless.reason", Unit: "", Instrument: Gauge,
		Help: "A reason behind the container's verdict (kind=reason) or a blocker that rules serverless out (kind=blocker); always 1.", Attributes: []string{AttrReasonKind, AttrReasonCode}}
	BurstDuration = Metric{Name: "fleetscope.container.burst.duration", Unit: "s", Instrument: Gauge,
		Help: "Length of the container's active bursts over 7 days (statistic p50, p95, max).", Attributes: []string{AttrStatistic}}
	ObservedTime = Metric{Name: "fleetscope.container.observed.time", Unit: "s", Instrument: Gauge,
		Help: "How long the container has been observed (valid minutes of history)."}
	ReservedCPU = Metric{Name: "fleetscope.container.reserved.cpu", Unit: "{cpu}", Instrument: Gauge,
		Help: "CPU cores the cost is computed for: the limit, else the request, else observed use.", Attributes: []string{AttrSource}}
	ReservedMemory = Metric{Name: "fleetscope.container.reserved.memory", Unit: "By", Instrument: Gauge,
		Help: "Memory the cost is computed for: the limit, else observed use.", Attributes: []string{AttrSource}}
	HistoryContainers = Metric{Name: "fleetscope.history.containers", Unit: "{container}", Instrument: Gauge,
		Help: "Containers with history in memory, including recently gone ones."}
	CheckpointFailures = Metric{Name: "fleetscope.history.checkpoint.failures", Unit: "{failure}", Instrument: Counter,
		Help: "Failed attempts to write the history checkpoint."}
	CheckpointAge = Metric{Name: "fleetscope.history.checkpoint.age", Unit: "s", Instrument: Gauge,
		Help: "Time since the last successful checkpoint (what a crash now would lose)."}
	RestoreFailures = Metric{Name: "fleetscope.history.restore.failures", Unit: "{failure}", Instrument: Counter,
		Help: "State files that could not be restored at start (corrupt, foreign or another version) and were moved aside."}

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

	CollectorDuration = Metric{Name: "fleetscope.collector.duration", Unit: "s", Instrument: Gauge,
		Help: "Duration of the collector's last round.", Attributes: []string{"collector"}}
	CollectorSuccess = Metric{Name: "fleetscope.collector.success", Unit: "", Instrument: Gauge,
		Help: "Whether the collector's last round succeeded for every container (1) or not (0).", Attributes: []string{"collector"}}
	CollectorErrors = Metric{Name: "fleetscope.collector.errors", Unit: "{error}", Instrument: Counter,
		Help: "Errors by collector; a vanished container is not an error.", Attributes: []string{"collector"}}
	TickLag = Metric{Name: "fleetscope.sampler.tick_lag", Unit: "s", Instrument: Gauge,
		Help: "How late the last sampling tick started compared with its schedule."}
	TickOverruns = Metric{Name: "fleetscope.sampler.overruns", Unit: "{tick}", Instrument: Counter,
		Help: "Ticks that took longer than the sample interval."}
	ContainersTracked = Metric{Name: "fleetscope.containers.tracked", Unit: "{container}", Instrument: Gauge,
		Help: "Containers in the inventory, by whether their task is running.", Attributes: []string{"state"}}
	DiscoveryErrors = Metric{Name: "fleetscope.discovery.errors", Unit: "{error}", Instrument: Counter,
		Help: "Discovery errors: lost connections, failed lists, unreadable specs."}
	ContainerdUp = Metric{Name: "fleetscope.containerd.up", Unit: "", Instrument: Gauge,
		Help: "Whether the agent is connected to containerd."}
	OpenFiles = Metric{Name: "fleetscope.sampler.open_files", Unit: "{file}", Instrument: Gauge,
		Help: "cgroup and procfs files the sampler keeps open."}
	OTLPExportFailures = Metric{Name: "fleetscope.otlp.export.failures", Unit: "{export}", Instrument: Counter,
		Help: "OTLP exports that failed after the exporter's retries; present while the OTLP exporter is enabled."}
	OTLPExportPoints = Metric{Name: "fleetscope.otlp.export.points", Unit: "{point}", Instrument: Counter,
		Help: "Metric data points exported over OTLP successfully; present while the OTLP exporter is enabled."}
	WorkloadRuns = Metric{Name: "fleetscope.workload.runs", Unit: "{run}", Instrument: Gauge,
		Help: "Runs (pods) of a Job or CronJob seen on this node in the last 7 days.", Attributes: workloadAttributes}
	WorkloadRunsWindow = Metric{Name: "fleetscope.workload.runs.window", Unit: "s", Instrument: Gauge,
		Help: "Time from the first of a Job's or CronJob's runs seen on this node to now.", Attributes: workloadAttributes}
	WorkloadRunDuration = Metric{Name: "fleetscope.workload.run.duration", Unit: "s", Instrument: Gauge,
		Help: "Duration of a Job's or CronJob's runs on this node (statistic p50, p95, max, mean).", Attributes: append(workloadAttributes[:3:3], AttrStatistic)}
	WorkloadRunsCost = Metric{Name: "fleetscope.workload.runs.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "What the pods of a Job's or CronJob's runs reserve, per hour at the rate they run.", Attributes: append(workloadAttributes[:3:3], AttrCurrency)}
	WorkloadServerlessCost = Metric{Name: "fleetscope.workload.serverless.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "What the same runs would cost per hour on the verdict's platform.", Attributes: append(workloadAttributes[:3:3], AttrCurrency)}
	WorkloadVerdict = Metric{Name: "fleetscope.workload.verdict", Unit: "", Instrument: Gauge,
		Help: "Verdict on a Job's or CronJob's runs on this node; the value is always 1.", Attributes: append(workloadAttributes[:3:3], AttrVerdict, AttrPlatform)}
	DroppedSeries = Metric{Name: "fleetscope.exporter.dropped_series", Unit: "{series}", Instrument: Gauge,
		Help: "Series of a metric left out of the latest scrape or export because the metric reached export.max_series_per_metric, or a pod or container its share of it; absent while nothing is dropped.", Attributes: []string{"metric"}}
	Build = Metric{Name: "fleetscope.build.info", Unit: "", Instrument: Gauge,
		Help: "Build information; the value is always 1.", Attributes: []string{"version", "goversion"}}
)

// workloadAttributes identify a Job or CronJob, whose runs the node's
// series describe rather than any one container.
var workloadAttributes = []string{AttrNamespaceName, AttrWorkloadKind, AttrWorkloadName}

// All lists every metric, in the order of the reference table in the README.
var All = []*Metric{
	&CPUTime, &CPUUsage, &CPUThrottledPeriods, &CPUPeriods, &CPUThrottledTime,
	&MemoryUsage, &MemoryWorkingSet, &MemoryRSS, &MemoryCache, &MemorySwap,
	&DiskIO, &DiskOperations, &Pids, &FilesystemUsage, &Uptime,
	&NetworkIO, &NetworkPackets, &NetworkErrors, &NetworkDropped, &NetworkInterfacesDropped,
	&CPULimit, &CPURequest, &MemoryLimit, &ContainerInfo,
	&IdleRatio, &Cost, &IdleCost, &OverReservationCost, &ServerlessFit, &ServerlessVerdict, &ServerlessCost, &ServerlessSavings,
	&ServerlessReason, &BurstDuration, &ObservedTime, &ReservedCPU, &ReservedMemory,
	&WorkloadRuns, &WorkloadRunsWindow, &WorkloadRunDuration, &WorkloadRunsCost, &WorkloadServerlessCost, &WorkloadVerdict,
	&HistoryContainers, &CheckpointFailures, &CheckpointAge, &RestoreFailures,
	&HostCPUs, &HostCPUTime, &HostMemoryTotal, &HostMemoryAvailable, &HostFilesystemSize, &HostFilesystemUsage,
	&CollectorDuration, &CollectorSuccess, &CollectorErrors, &TickLag, &TickOverruns,
	&ContainersTracked, &DiscoveryErrors, &ContainerdUp, &OpenFiles, &OTLPExportFailures, &OTLPExportPoints, &DroppedSeries, &Build,
}

// Identity returns the identity attributes the metric's series carry ahead
// of its own attributes: pod identity for the network metrics (one network
// namespace per pod), container identity for per-container metrics, none
// for node and agent metrics.
func (m *Metric) Identity() []string {
	switch m {
	case &NetworkIO, &NetworkPackets, &NetworkErrors, &NetworkDropped, &NetworkInterfacesDropped:
		return PodAttributes
	}
	for _, p := range []string{"container.", "k8s.container.", "fleetscope.container."} {
		if strings.HasPrefix(m.Name, p) {
			return ContainerAttributes
		}
	}
	return nil
}

// unitWords maps UCUM units to the words the Prometheus translation
// appends to a name.
var unitWords = map[string]string{
	"s": "seconds", "ms": "milliseconds", "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes",
	"%": "percent", "Hz": "hertz",
}

// perUnitWords are the singular words used after "per" ("{USD}/h" gives
// "_per_hour").
var perUnitWords = map[string]string{
	"s": "second", "min": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year",
}

// PromName is the Prometheus name of the metric under the standard
// OpenTelemetry translation: dots become underscores; the unit's word is
// appended unless the name already ends with it, where annotation units in
// braces add nothing and "1" becomes "ratio" for gauges only; a "/x" part
// of the unit appends "_per_<x>"; counters end in _total.
func (m *Metric) PromName() string {
	name := sanitize(m.Name)
	main, per, _ := strings.Cut(m.Unit, "/")
	word := ""
	switch {
	case main == "1" && per == "":
		if m.Instrument == Gauge {
			word = "ratio"
		}
	case main == "" || strings.HasPrefix(main, "{"):
	default:
		word = unitWords[main]
		if word == "" {
			word = sanitize(main)
		}
	}
	if word != "" && !strings.HasSuffix(name, "_"+word) {
		name += "_" + word
	}
	if per != "" && !strings.HasPrefix(per, "{") {
		pw := perUnitWords[per]
		if pw == "" {
			pw = sanitize(per)
		}
		if !strings.HasSuffix(name, "_per_"+pw) {
			name += "_per_" + pw
		}
	}
	if m.Instrument == Counter && !strings.HasSuffix(name, "_total") {
		name += "_total"
	}
	return name
}

// PromLabel is the Prometheus label name of an attribute: every byte
// outside [a-zA-Z0-9_] becomes '_' (a ':' is legal in metric names but not
// in label names, and one bad name fails the whole scrape), and a leading
// digit gets a '_' in front, so the result always matches
// [a-zA-Z_][a-zA-Z0-9_]*.
func PromLabel(attr string) string {
	b := []byte(attr)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] >= '0' && b[0] <= '9' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':') {
			b[i] = '_'
		}
	}
	return string(b)
}
