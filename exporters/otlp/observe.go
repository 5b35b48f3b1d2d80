package otlp

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/model"
)

// opts is a ready-made option list for Observe: attribute sets are built
// once per container (or per interface, per analysis result) and passed as
// is on every export, so an export allocates no attributes.
type opts []metric.ObserveOption

// attrs builds an option list of an attribute set. Empty values are left
// out: an attribute with no value (k8s.pod.name of a container outside
// Kubernetes) is absent, as it is on /metrics, where an empty label is no
// label.
func attrs(kv ...attribute.KeyValue) (opts, attribute.Set) {
	kept := kv[:0:0]
	for _, a := range kv {
		if a.Value.Type() != attribute.STRING || a.Value.AsString() != "" {
			kept = append(kept, a)
		}
	}
	set := attribute.NewSet(kept...)
	return opts{metric.WithAttributeSet(set)}, set
}

// observer turns the latest snapshot into observations of the instruments
// generated from schema.All, in one callback. It is the OTLP schema.Sink:
// the walk decides which series exist; the observer only keeps an
// attribute set per series, built once and reused while the series lives.
type observer struct {
	src  Source
	inst []metric.Float64Observable // by schema index; nil for histograms
	hist *histograms
	// points are the histogram points of the callback in progress, by
	// schema index, and now its time.
	points [][]metricdata.HistogramDataPoint[float64]
	now    time.Time
	// names joins each metric's attribute names, so that two metrics with
	// the same attributes and values share one attribute set.
	names []string

	mu         sync.Mutex
	walker     schema.Walker
	gen        uint64
	mo         metric.Observer // during a callback
	containers map[*model.Meta]*containerSets
	node       map[setKey]*attrSet // series of no container
	kv         []attribute.KeyValue
	values     []string
}

var _ schema.Sink = (*observer)(nil)

// setKey tells a container's (or the node's) attribute sets apart: the
// identity kind, the metric's attribute names and their values. Info
// series take their values from the container's metadata, so the kind
// alone identifies them.
type setKey struct {
	kind  int
	names string
	vals  [maxKeyValues]string
}

// maxKeyValues is the most attributes of its own a metric other than the
// info series has (a Job's runs: namespace, kind, name and two more).
const maxKeyValues = 5

// kindInfo is the setKey kind of info series.
const kindInfo = -1

type attrSet struct {
	seen uint64
	opts opts
	set  attribute.Set
}

// containerSets are one container's attribute sets. The key of the map
// holding them is the container's metadata pointer, which the agent
// replaces whenever metadata changes, so an entry never goes stale.
type containerSets struct {
	seen uint64
	sets map[setKey]*attrSet
}

func newObserver(m metric.Meter, src Source, version string, maxSeries int, hist *histograms) (*observer, error) {
	o := &observer{
		src:        src,
		hist:       hist,
		points:     make([][]metricdata.HistogramDataPoint[float64], len(schema.All)),
		inst:       make([]metric.Float64Observable, len(schema.All)),
		names:      make([]string, len(schema.All)),
		walker:     schema.Walker{MaxSeries: maxSeries, Version: version},
		containers: map[*model.Meta]*containerSets{},
		node:       map[setKey]*attrSet{},
	}
	list := make([]metric.Observable, 0, len(schema.All))
	for _, sm := range schema.All {
		var (
			in  metric.Float64Observable
			err error
		)
		o.names[sm.Index()] = strings.Join(sm.Attributes, ",")
		switch sm.Instrument {
		case schema.Histogram:
			continue // staged for the histograms producer
		case schema.Counter:
			in, err = m.Float64ObservableCounter(sm.Name, metric.WithUnit(sm.Unit), metric.WithDescription(sm.Help))
		default:
			in, err = m.Float64ObservableGauge(sm.Name, metric.WithUnit(sm.Unit), metric.WithDescription(sm.Help))
		}
		if err != nil {
			return nil, err
		}
		o.inst[sm.Index()] = in
		list = append(list, in)
	}
	if _, err := m.RegisterCallback(o.observe, list...); err != nil {
		return nil, err
	}
	return o, nil
}

// observe is the one callback: it walks the latest snapshot, observing
// exactly the values /metrics serves, then forgets the attribute sets of
// series that are gone.
func (o *observer) observe(_ context.Context, mo metric.Observer) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.gen++
	o.mo = mo
	o.now = time.Now()
	for i := range o.points {
		o.points[i] = nil // the last export may still hold them
	}
	o.walker.Walk(o.src.Snapshot(), o)
	o.mo = nil
	o.hist.stage(o.points)
	for k, cs := range o.containers {
		if cs.seen != o.gen {
			delete(o.containers, k)
			continue
		}
		prune(cs.sets, o.gen)
	}
	prune(o.node, o.gen)
	return nil
}

func prune(sets map[setKey]*attrSet, gen uint64) {
	for k, s := range sets {
		if s.seen != gen {
			delete(sets, k)
		}
	}
}

// Point implements schema.Sink.
func (o *observer) Point(m *schema.Metric, v float64, meta *model.Meta, attrs []string) {
	o.mo.ObserveFloat64(o.inst[m.Index()], v, o.set(m, meta, attrs).opts...)
}

// Histogram implements schema.Sink: the point is staged for the
// histograms producer, its counts shared with the snapshot, which is
// immutable.
func (o *observer) Histogram(m *schema.Metric, h *model.Histogram, start time.Time, attrs []string) {
	i := m.Index()
	o.points[i] = append(o.points[i], metricdata.HistogramDataPoint[float64]{
		Attributes: o.set(m, nil, attrs).set, StartTime: start, Time: o.now,
		Count: h.Count(), Bounds: h.Bounds, BucketCounts: h.Counts, Sum: h.Sum,
	})
}

// set returns the attribute set of one series, building it on first use.
func (o *observer) set(m *schema.Metric, meta *model.Meta, attrs []string) *attrSet {
	k := setKey{kind: m.IdentityKind(), names: o.names[m.Index()]}
	switch {
	case m.Labels:
		k.kind = kindInfo
	case len(attrs) > maxKeyValues:
		panic("schema: a metric with more than maxKeyValues attributes needs a larger set key: " + m.Name)
	default:
		copy(k.vals[:], attrs)
	}
	sets := o.node
	if meta != nil {
		cs := o.containers[meta]
		if cs == nil {
			cs = &containerSets{sets: map[setKey]*attrSet{}}
			o.containers[meta] = cs
		}
		cs.seen = o.gen
		sets = cs.sets
	}
	s := sets[k]
	if s == nil {
		s = &attrSet{}
		s.opts, s.set = o.build(m, meta, attrs)
		sets[k] = s
	}
	s.seen = o.gen
	return s
}

// build makes the attribute set of one series: identity, the metric's own
// attributes and, on the info series, the allow-listed container labels.
func (o *observer) build(m *schema.Metric, meta *model.Meta, vals []string) (opts, attribute.Set) {
	o.kv = o.kv[:0]
	if meta != nil {
		o.values = schema.IdentityValues(o.values[:0], m, meta)
		for i, name := range m.Identity() {
			o.kv = append(o.kv, attribute.String(name, o.values[i]))
		}
	}
	for i, name := range m.Attributes {
		o.kv = append(o.kv, attribute.String(name, vals[i]))
	}
	if m.Labels && meta != nil {
		for _, l := range meta.Labels {
			o.kv = append(o.kv, attribute.String(schema.ContainerLabelPrefix+l.Key, l.Value))
		}
	}
	return attrs(o.kv...)
}

// histograms hands the histogram series of the latest callback to the
// reader as an external producer. The SDK's asynchronous instruments are
// counters, up-down counters and gauges only, while the agent's
// histograms are built from its history already; the reader collects its
// producers right after the callback that staged them, so both come from
// the same walk of the same snapshot. Their temporality is cumulative,
// from the start the snapshot gives, whatever the SDK's preference.
type histograms struct {
	mu     sync.Mutex
	staged []metricdata.Metrics
}

var _ sdkmetric.Producer = (*histograms)(nil)

// stage replaces the staged metrics with points, by schema index.
func (h *histograms) stage(points [][]metricdata.HistogramDataPoint[float64]) {
	var ms []metricdata.Metrics
	for i, dps := range points {
		if len(dps) == 0 {
			continue
		}
		sm := schema.All[i]
		ms = append(ms, metricdata.Metrics{Name: sm.Name, Description: sm.Help, Unit: sm.Unit,
			Data: metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality, DataPoints: dps}})
	}
	h.mu.Lock()
	h.staged = ms
	h.mu.Unlock()
}

// Produce implements sdkmetric.Producer.
func (h *histograms) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.staged) == 0 {
		return nil, nil
	}
	return []metricdata.ScopeMetrics{{Scope: instrumentation.Scope{Name: scope}, Metrics: h.staged}}, nil
}
