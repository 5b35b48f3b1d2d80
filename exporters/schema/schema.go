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
// exposes them with a _total suffix. Histograms are cumulative explicit
// bucket histograms (classic ones in Prometheus: _bucket, _sum, _count),
// with the bucket layout of the metric's Bounds.
const (
	Gauge Instrument = iota
	Counter
	Histogram
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
	// Bounds are a histogram's bucket upper bounds, ascending.
	Bounds []float64

	index int // in All
	ident int // identity kind, see IdentityKind
}

// Attribute names that readers of the exported series select, group or
// read by (the fleet report reads every one of them back from a store).
// Each is written once, here; the table below is built from these, and a
// reader takes a series' label name from PromLabel(attribute), never from
// a literal of its own, so that a rename here renames it everywhere.
const (
	AttrContainerID   = "container.id"
	AttrContainerName = "container.name"
	// AttrPodContainerName is the container's name in its pod spec.
	AttrPodContainerName    = "k8s.container.name"
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
var ContainerAttributes = []string{AttrContainerID, AttrPodContainerName, AttrNamespaceName, AttrPodName, AttrContainerdNamespace}

// ContainerLabelPrefix starts the attribute of an allow-listed container
// label on the info series, as in the semantic conventions'
// container.label.<key>.
const ContainerLabelPrefix = "container.label."

// Pod identity attributes, on per-pod series such as network counters,
// which belong to a network namespace shared by the pod's containers.
var PodAttributes = []string{AttrContainerID, AttrNamespaceName, AttrPodName, AttrContainerdNamespace}

// All lists every metric, in the order of the reference table in the
// README. The metrics are defined one file per family (cpu.go, memory.go,
// disk.go, container.go, network.go, analysis.go, evidence.go,
// workload.go, host.go, self.go), each beside the walk that writes its series, as variables
// rather than a map so that exporters reference them by identifier and a
// typo fails to compile.
var All = []*Metric{
	&CPUTime, &CPUUsage, &CPUThrottledPeriods, &CPUPeriods, &CPUThrottledTime,
	&MemoryUsage, &MemoryWorkingSet, &MemoryRSS, &MemoryCache, &MemorySwap, &MemoryOOMKills,
	&DiskIO, &DiskOperations, &Pids, &FilesystemUsage, &Uptime,
	&NetworkIO, &NetworkPackets, &NetworkErrors, &NetworkDropped, &NetworkInterfacesDropped,
	&CPULimit, &CPURequest, &MemoryLimit, &ContainerInfo,
	&IdleRatio, &Cost, &IdleCost, &OverReservationCost, &ServerlessFit, &ServerlessVerdict, &ServerlessCost, &ServerlessSavings,
	&ServerlessReason, &BurstDuration, &ObservedTime, &ReservedCPU, &ReservedMemory,
	&RecordedTime, &IdleTime, &DownTime, &ListeningTime, &SampledTime, &BusyTime, &BusyCPUTime, &BusyRuns, &Restarts, &NetworkAccepts,
	&WorkloadCPU, &WorkloadWorkingSet, &WorkloadBursts,
	&WorkloadRuns, &WorkloadRunsWindow, &WorkloadRunDuration, &WorkloadRunsCost, &WorkloadServerlessCost, &WorkloadVerdict,
	&HistoryContainers, &CheckpointFailures, &CheckpointAge, &RestoreFailures,
	&HostCPUs, &HostCPUTime, &HostMemoryTotal, &HostMemoryAvailable, &HostFilesystemSize, &HostFilesystemUsage,
	&NodePrice, &NodeUnitPrice,
	&CollectorDuration, &CollectorSuccess, &CollectorErrors, &TickLag, &TickOverruns,
	&ContainersTracked, &DiscoveryErrors, &ContainerdUp, &OpenFiles, &OTLPExportFailures, &OTLPExportPoints, &DroppedSeries, &Build,
}

// Identity returns the identity attributes the metric's series carry ahead
// of its own attributes: pod identity for the network metrics (one network
// namespace per pod), container identity for per-container metrics, none
// for node and agent metrics.
func (m *Metric) Identity() []string {
	switch m {
	case &NetworkIO, &NetworkPackets, &NetworkErrors, &NetworkDropped, &NetworkInterfacesDropped, &NetworkAccepts:
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
