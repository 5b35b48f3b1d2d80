package schema

import (
	"math"
	"runtime"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/model"
)

// Sink receives the series of a snapshot from a Walker. It is the only
// thing an exporter writes: what a container's figures are, which series
// exist and how many of them may be sent is decided once, by the walk.
type Sink interface {
	// Point is one series: metric m with value v, about the container
	// meta (nil for node and agent series), whose own attributes
	// (m.Attributes, in order) have the values attrs. attrs is valid only
	// during the call. The identity attributes are IdentityValues(m, meta);
	// a metric with Labels set also carries meta.Labels.
	Point(m *Metric, v float64, meta *model.Meta, attrs []string)
}

// Identity kinds, precomputed per metric.
const (
	identNone = iota
	identContainer
	identPod
)

func init() {
	for i, m := range All {
		m.index = i
		switch id := m.Identity(); {
		case len(id) == 0:
			m.ident = identNone
		case &id[0] == &PodAttributes[0]:
			m.ident = identPod
		default:
			m.ident = identContainer
		}
	}
}

// IdentityValues appends the values of m's identity attributes
// (m.Identity(), in order) for the container meta to dst.
func IdentityValues(dst []string, m *Metric, meta *model.Meta) []string {
	if m.ident == identNone {
		return dst
	}
	ns := meta.IdentityNamespace
	if m.Labels {
		ns = meta.Namespace // descriptive on the info series: always there
	}
	switch m.ident {
	case identContainer:
		return append(dst, meta.ID, k8sContainerName(meta), meta.Pod.Namespace, meta.Pod.Name, ns)
	case identPod:
		return append(dst, meta.ID, meta.Pod.Namespace, meta.Pod.Name, ns)
	}
	return dst
}

// k8sContainerName is the k8s.container.name of a container's series: its
// name in the pod spec, "POD" for the pod's sandbox (as the kubelet's
// cAdvisor calls it), none outside Kubernetes, where container.id alone
// identifies it and the info series carries its container.name.
func k8sContainerName(m *model.Meta) string {
	switch {
	case m.Pod.ContainerName != "":
		return m.Pod.ContainerName
	case m.Sandbox && m.Pod.Name != "":
		return "POD"
	}
	return ""
}

// IdentityKind tells series of one container apart by the identity they
// carry: container identity (1), pod identity (2) or none (0). Two series
// of the same container with the same kind and attribute values carry the
// same attributes, so exporters may share one attribute set between them.
func (m *Metric) IdentityKind() int { return m.ident }

// Index is the metric's position in All, for exporters that keep state
// per metric in a slice.
func (m *Metric) Index() int { return m.index }

// Walker walks snapshots into a sink, enforcing the series cap. It keeps
// its counters between walks so that steady walking allocates nothing; a
// Walker is used by one goroutine at a time.
//
// The cap is shared fairly between the sources of a metric's series: each
// container (for container metrics) and each pod's network namespace (for
// pod metrics) may always emit its share, MaxSeries divided by the number
// of such sources in the snapshot, whatever the others emit. A source may
// emit more only while the cap keeps room for every later source's share
// (for a network namespace, what it will use of its share, known from its
// interfaces). So a pod that floods a metric (thousands of interfaces, say)
// takes what the others leave but can never push another pod's series
// out: it would take more sources than MaxSeries, each using more than its
// share.
type Walker struct {
	// MaxSeries caps each metric's series in one walk; further series are
	// left out and counted in DroppedSeries. Zero means no cap.
	MaxSeries int
	// Version is the agent's version, for the build info series.
	Version string

	series, dropped []int
	// source counts each metric's series from the current source (one
	// container, one network namespace); sources counts the sources of
	// each identity kind in the snapshot, and at is the current source's
	// position among them.
	source  []int
	sources [identPod + 1]int
	at      int
	// netLater[i] is what the network namespaces from the i-th on will
	// use of their shares of each network metric.
	netLater []int
	attrs    []string
	sink     Sink
}

// Walk emits every series of s (nil: only the build info) to sink.
func (w *Walker) Walk(s *model.Snapshot, sink Sink) {
	if w.series == nil {
		w.series, w.dropped, w.source = make([]int, len(All)), make([]int, len(All)), make([]int, len(All))
	}
	clear(w.series)
	clear(w.dropped)
	w.sources = [identPod + 1]int{}
	w.sink = sink
	defer func() { w.sink = nil }()

	w.put2(&Build, 1, nil, w.Version, runtime.Version())
	if s != nil {
		w.sources[identContainer], w.sources[identPod] = len(s.Containers), len(s.Networks)
		w.planNetworks(s)
		for i := range s.Containers {
			w.startSource(i)
			w.container(s, &s.Containers[i])
		}
		for i := range s.Networks {
			w.startSource(i)
			w.network(s, &s.Networks[i])
		}
		w.sources = [identPod + 1]int{}
		for i := range s.Runs {
			w.runs(&s.Runs[i], s.Currency)
		}
		w.host(s)
		w.self(s)
	}
	for i, n := range w.dropped {
		if n > 0 {
			w.sink.Point(&DroppedSeries, float64(n), nil, append(w.attrs[:0], All[i].Name))
		}
	}
}

// put emits a series without attributes of its own; put1 and put2 with
// one and two. The values go through the Walker's own buffer rather than
// a variadic slice, which would escape to the heap through the Sink call.
func (w *Walker) put(m *Metric, v float64, meta *model.Meta) { w.emit(m, v, meta, nil) }

func (w *Walker) put1(m *Metric, v float64, meta *model.Meta, a string) {
	w.attrs = append(w.attrs[:0], a)
	w.emit(m, v, meta, w.attrs)
}

func (w *Walker) put2(m *Metric, v float64, meta *model.Meta, a, b string) {
	w.attrs = append(w.attrs[:0], a, b)
	w.emit(m, v, meta, w.attrs)
}

// startSource starts the series of the i-th source (container or network
// namespace) of the snapshot.
func (w *Walker) startSource(i int) {
	w.at = i
	clear(w.source)
}

// emit passes one series to the sink, within the cap.
func (w *Walker) emit(m *Metric, v float64, meta *model.Meta, attrs []string) {
	if w.MaxSeries > 0 {
		if !w.allowed(m) {
			w.dropped[m.index]++
			return
		}
		w.series[m.index]++
		w.source[m.index]++
	}
	w.sink.Point(m, v, meta, attrs)
}

// allowed tells whether one more series of m fits: within the metric's
// cap, and for a metric with several sources within the current source's
// share, or beyond it while every later source's share still fits.
func (w *Walker) allowed(m *Metric) bool {
	i := m.index
	if w.series[i] >= w.MaxSeries {
		return false
	}
	n := w.sources[m.ident]
	if n == 0 {
		return true // node and agent series: the metric's cap alone
	}
	share := w.MaxSeries / n
	if w.source[i] < share {
		return true
	}
	reserved := (n - w.at - 1) * share
	if m.ident == identPod {
		reserved = w.netLater[w.at+1]
	}
	return w.series[i]+1+reserved <= w.MaxSeries
}

// planNetworks works out netLater: each namespace's series of a network
// metric are two per interface, two more for the interfaces summed.
func (w *Walker) planNetworks(s *model.Snapshot) {
	n := len(s.Networks)
	if cap(w.netLater) < n+1 {
		w.netLater = make([]int, n+1)
	}
	w.netLater = w.netLater[:n+1]
	clear(w.netLater)
	if n == 0 || w.MaxSeries == 0 {
		return
	}
	share := w.MaxSeries / n
	for i := n - 1; i >= 0; i-- {
		use := len(s.Networks[i].Interfaces)
		if s.Networks[i].OtherInterfaces > 0 {
			use++
		}
		w.netLater[i] = w.netLater[i+1] + min(2*use, share)
	}
}

// workloadKinds are the kinds with a k8s.<kind>.name attribute on the info
// series, in the order of ContainerInfo's attributes.
var workloadKinds = [...]string{"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (w *Walker) container(s *model.Snapshot, sc *model.Container) {
	m := sc.Meta
	wl := &m.Workload
	w.attrs = append(w.attrs[:0], m.Image, m.Runtime, m.Pod.UID, wl.Kind, wl.Name)
	// The semantic conventions' attribute of the workload's own kind.
	for _, k := range workloadKinds {
		v := ""
		switch {
		case k == wl.Kind:
			v = wl.Name
		case k == "ReplicaSet" && wl.Kind == "Deployment":
			v = wl.ReplicaSet
		case k == "Job" && wl.Kind == "CronJob":
			v = wl.Job
		}
		w.attrs = append(w.attrs, v)
	}
	w.attrs = append(w.attrs, m.Name, boolString(m.Sandbox), boolString(m.GPU))
	w.emit(&ContainerInfo, 1, m, w.attrs)
	l := &sc.Limits
	if c := l.CPULimitCores(); c > 0 {
		w.put(&CPULimit, c, m)
	}
	if c := l.CPURequestCores(); c > 0 {
		w.put(&CPURequest, c, m)
	}
	if l.MemoryBytes > 0 {
		w.put(&MemoryLimit, float64(l.MemoryBytes), m)
	}
	if sc.HaveLayer {
		w.put(&FilesystemUsage, float64(sc.LayerBytes), m)
	}
	if sc.Analysis != nil {
		w.analysis(m, sc.Analysis, s.Currency)
	}
	if !sc.Sampled {
		return
	}
	if !sc.StartedAt.IsZero() {
		w.put(&Uptime, s.Time.Sub(sc.StartedAt).Seconds(), m)
	}
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
	if u.Have.Has(model.HaveIO) {
		w.put1(&DiskIO, float64(u.IOReadBytes), m, "read")
		w.put1(&DiskIO, float64(u.IOWriteBytes), m, "write")
		w.put1(&DiskOperations, float64(u.IOReadOps), m, "read")
		w.put1(&DiskOperations, float64(u.IOWriteOps), m, "write")
	}
	if u.Have.Has(model.HavePids) {
		w.put(&Pids, float64(u.Pids), m)
	}
}

func (w *Walker) analysis(m *model.Meta, r *analysis.Result, currency string) {
	w.put(&ObservedTime, r.ObservedFor.Seconds(), m)
	if !math.IsNaN(r.IdleRatio1h) {
		w.put1(&IdleRatio, r.IdleRatio1h, m, "1h")
	}
	if !math.IsNaN(r.IdleRatio24h) {
		w.put1(&IdleRatio, r.IdleRatio24h, m, "24h")
	}
	if !math.IsNaN(r.IdleRatio7d) {
		w.put1(&IdleRatio, r.IdleRatio7d, m, "7d")
	}
	w.put(&ServerlessFit, float64(r.Score)/100, m)
	w.put2(&ServerlessVerdict, 1, m, string(r.Verdict), r.Platform)
	for _, x := range r.Reasons {
		w.put2(&ServerlessReason, 1, m, "reason", x.Code)
	}
	for _, x := range r.Blockers {
		w.put2(&ServerlessReason, 1, m, "blocker", x.Code)
	}
	if r.Verdict == analysis.VerdictInsufficientData {
		return
	}
	w.put1(&ReservedCPU, r.Reserved.CPUCores, m, r.Reserved.CPUSource)
	w.put1(&ReservedMemory, float64(r.Reserved.MemoryBytes), m, r.Reserved.MemorySource)
	w.put1(&Cost, r.CostPerHour, m, currency)
	w.put1(&IdleCost, r.IdleCostPerHour, m, currency)
	w.put1(&OverReservationCost, r.OverReservationWastePerMonth/analysis.HoursPerMonth, m, currency)
	if r.Platform != "" {
		w.put1(&ServerlessCost, r.ServerlessMonthlyCost/analysis.HoursPerMonth, m, currency)
		w.put1(&ServerlessSavings, r.SavingsPerMonth/analysis.HoursPerMonth, m, currency)
	}
	if r.Bursts.Count > 0 {
		w.put1(&BurstDuration, r.Bursts.P50.Seconds(), m, "p50")
		w.put1(&BurstDuration, r.Bursts.P95.Seconds(), m, "p95")
		w.put1(&BurstDuration, r.Bursts.Max.Seconds(), m, "max")
	}
}

func (w *Walker) network(s *model.Snapshot, n *model.Network) {
	m := s.Containers[n.Owner].Meta
	for i := range n.Interfaces {
		w.iface(m, &n.Interfaces[i], n.Interfaces[i].Name)
	}
	if n.OtherInterfaces > 0 {
		// The interfaces beyond the collector's bound, summed: a sum over
		// the pod's interfaces still gives its whole traffic.
		w.iface(m, &n.Others, OtherInterfaces)
		w.put(&NetworkInterfacesDropped, float64(n.OtherInterfaces), m)
	}
}

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

func (w *Walker) runs(r *model.WorkloadRuns, currency string) {
	put := func(m *Metric, v float64, extra ...string) {
		w.attrs = append(append(w.attrs[:0], r.Namespace, r.Kind, r.Name), extra...)
		w.emit(m, v, nil, w.attrs)
	}
	st, v := &r.Stats, &r.Verdict
	put(&WorkloadRuns, float64(st.Count))
	put(&WorkloadRunsWindow, st.Window.Seconds())
	put(&WorkloadRunDuration, st.DurationP50.Seconds(), "p50")
	put(&WorkloadRunDuration, st.DurationP95.Seconds(), "p95")
	put(&WorkloadRunDuration, st.DurationMax.Seconds(), "max")
	put(&WorkloadRunDuration, st.DurationMean.Seconds(), "mean")
	put(&WorkloadVerdict, 1, string(v.Verdict), v.Platform)
	if v.Verdict != analysis.VerdictInsufficientData {
		put(&WorkloadRunsCost, v.ContainerMonthlyCost/analysis.HoursPerMonth, currency)
		if v.Platform != "" {
			put(&WorkloadServerlessCost, v.ServerlessMonthlyCost/analysis.HoursPerMonth, currency)
		}
	}
}

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

func (w *Walker) self(s *model.Snapshot) {
	self := &s.Self
	for _, c := range self.Collectors {
		w.put1(&CollectorDuration, c.Duration.Seconds(), nil, c.Name)
		w.put1(&CollectorSuccess, boolValue(c.Success), nil, c.Name)
		w.put1(&CollectorErrors, float64(c.Errors), nil, c.Name)
	}
	w.put(&TickLag, self.TickLag.Seconds(), nil)
	w.put(&TickOverruns, float64(self.Overruns), nil)
	w.put1(&ContainersTracked, float64(self.Running), nil, "running")
	w.put1(&ContainersTracked, float64(self.Stopped), nil, "stopped")
	w.put(&DiscoveryErrors, float64(self.DiscoveryErrors), nil)
	w.put(&ContainerdUp, boolValue(self.ContainerdUp), nil)
	w.put(&OpenFiles, float64(self.OpenFiles), nil)
	w.put(&HistoryContainers, float64(self.HistoryContainers), nil)
	w.put(&CheckpointFailures, float64(self.CheckpointFailures), nil)
	w.put(&RestoreFailures, float64(self.RestoreFailures), nil)
	if !self.LastCheckpoint.IsZero() {
		w.put(&CheckpointAge, s.Time.Sub(self.LastCheckpoint).Seconds(), nil)
	}
	if self.OTLPEnabled {
		w.put(&OTLPExportFailures, float64(self.OTLPExportFailures), nil)
		w.put(&OTLPExportPoints, float64(self.OTLPExportPoints), nil)
	}
}
