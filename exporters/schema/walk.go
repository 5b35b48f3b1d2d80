package schema

import (
	"runtime"
	"time"

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
	// Histogram is one histogram series of m, which has no identity
	// attributes: its own attributes have the values attrs (valid only
	// during the call), and its counts accumulate from start on. h is
	// in m's layout (len(h.Bounds) == len(m.Bounds)).
	Histogram(m *Metric, h *model.Histogram, start time.Time, attrs []string)
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
		for i := range s.Distributions {
			w.distributions(&s.Distributions[i])
		}
		w.host(s)
		w.price(s)
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
