package otlp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/exporters/otlp/otlptest"
	"github.com/fleetscope/fleetscope/exporters/promtext"
	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/model"
)

type fixed struct{ s *model.Snapshot }

func (f *fixed) Snapshot() *model.Snapshot { return f.s }

// fixture is a snapshot with every kind of series: a pod (sandbox with the
// network namespace, app with limits, layer and analysis), a stopped
// container, host and self figures, OTLP health.
func fixture() *model.Snapshot {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	sb := &model.Meta{Namespace: "k8s.io", ID: "s1", Name: "POD", Image: "pause:3.9", Runtime: "io.containerd.runc.v2",
		Sandbox: true, Pod: model.Pod{Name: "api-0", Namespace: "prod", UID: "u-1"}}
	app := &model.Meta{Namespace: "k8s.io", ID: "c1", Name: "api", Image: "api:2", Runtime: "io.containerd.runc.v2",
		Pod:    model.Pod{Name: "api-0", Namespace: "prod", UID: "u-1", ContainerName: "api"},
		Spec:   model.Limits{CPUQuotaMicros: 200000, CPUPeriodMicros: 100000, CPUShares: 2048, MemoryBytes: 1 << 30},
		Labels: []model.Label{{Key: "app.kubernetes.io/name", Value: "api"}, {Key: "team", Value: "payments"}}}
	gone := &model.Meta{Namespace: "default", ID: "x9", Name: "x9", Image: "busybox"}
	all := model.HaveCPU | model.HaveCPUMode | model.HaveThrottling | model.HaveMemory | model.HaveMemoryStat | model.HaveIO | model.HavePids | model.HaveSwap | model.HaveOOM
	ifs := []model.Interface{
		{Name: "eth0", RxBytes: 5000, TxBytes: 7000, RxPackets: 50, TxPackets: 70, RxErrors: 1, TxDropped: 2},
		{Name: "eth1", RxBytes: 10, TxBytes: 20},
	}
	return &model.Snapshot{
		Time: t0, Interval: 10 * time.Second, NodeName: "n1", Currency: "EUR",
		Price: &model.NodePrice{From: "table", Source: "the built-in price table n2-standard-4", InstanceType: "n2-standard-4", Provider: "gcp",
			NodeHourly: 0.19, VCPUHour: 0.03, GiBHour: 0.004, GPUHour: 0.26},
		Containers: []model.Container{
			{Meta: gone, Network: -1},
			{Meta: sb, Running: true, Sampled: true, Network: 0, StartedAt: t0.Add(-2 * time.Hour),
				Usage: model.Usage{Have: all, CPUUserNanos: 3e7, CPUSystemNanos: 1e7, MemoryUsage: 2 << 20, MemoryWorkingSet: 1 << 20, Pids: 1}},
			{Meta: app, Running: true, Sampled: true, Network: 0, StartedAt: t0.Add(-time.Hour), HaveRates: true, CPUCores: 1.5,
				Limits:    model.Limits{CPUQuotaMicros: 150000, CPUPeriodMicros: 100000, CPUShares: 1024, MemoryBytes: 512 << 20},
				HaveLayer: true, LayerBytes: 4242,
				Analysis: &analysis.Result{ObservedFor: 30 * time.Hour, IdleRatio1h: 0.5, IdleRatio24h: math.NaN(), IdleRatio7d: 0.9,
					Bursts:      analysis.Bursts{Count: 2, P50: time.Minute, P95: 3 * time.Minute, Max: 4 * time.Minute},
					Reserved:    analysis.Reserved{CPUCores: 1.5, MemoryBytes: 512 << 20, CPUSource: "limit", MemorySource: "limit"},
					CostPerHour: 0.063, IdleCostPerHour: 0.057, OverReservationWastePerMonth: 20,
					Verdict: analysis.VerdictServerlessContainer, Score: 72, Platform: "serverless-container",
					Reasons:               []analysis.Reason{{Code: "idle_ratio_high"}, {Code: "bursty"}},
					Blockers:              []analysis.Reason{{Code: "burst_too_long"}},
					ServerlessMonthlyCost: 3, SavingsPerMonth: 43},
				Usage: model.Usage{Have: all, CPUUserNanos: 7e9, CPUSystemNanos: 2e9, CPUPeriods: 10, CPUThrottledPeriods: 3, CPUThrottledNanos: 2e8,
					MemoryUsage: 300 << 20, MemoryWorkingSet: 200 << 20, MemoryRSS: 150 << 20, MemoryCache: 100 << 20, MemorySwap: 1 << 20, OOMKills: 2,
					IOReadBytes: 1 << 20, IOWriteBytes: 2 << 20, IOReadOps: 30, IOWriteOps: 40, Pids: 12},
				HaveEvidence: true, Evidence: model.Evidence{RecordedSeconds: 1800, IdleSeconds: 1200, DownSeconds: 60, ListeningSeconds: 1740,
					SampledSeconds: 1795.5, BusySeconds: 400, BusyCPUSeconds: 350.25, BusyRuns: 12, Restarts: 1}},
		},
		Distributions: []model.WorkloadDistributions{{Namespace: "prod", Kind: "StatefulSet", Name: "api", Container: "api", Since: t0.Add(-time.Hour),
			CPU:        model.Histogram{Bounds: schema.WorkloadCPU.Bounds, Counts: []uint64{10, 2, 0, 0, 3, 0, 0, 0, 1}, Sum: 4.75},
			WorkingSet: model.Histogram{Bounds: schema.WorkloadWorkingSet.Bounds, Counts: []uint64{0, 0, 16, 0, 0, 0, 0, 0, 0, 0}, Sum: 16 * 200 << 20},
			Bursts:     model.Histogram{Bounds: schema.WorkloadBursts.Bounds, Counts: []uint64{1, 1, 0, 0, 0, 0, 0}, Sum: 360}}},
		Networks: []model.Network{{Owner: 1, Interfaces: ifs, HaveTCP: true, TCPPassiveOpens: 77,
			Others: model.Interface{RxBytes: 30, TxBytes: 40, RxPackets: 3, TxPackets: 4}, OtherInterfaces: 2}},
		Interfaces: ifs,
		Runs: []model.WorkloadRuns{{Namespace: "prod", Kind: "CronJob", Name: "report",
			Stats: analysis.RunStats{Count: 24, Window: 24 * time.Hour, DurationP50: time.Minute, DurationP95: 70 * time.Second,
				DurationMax: 80 * time.Second, DurationMean: time.Minute},
			Verdict: analysis.RunVerdict{Verdict: analysis.VerdictFunction, Platform: "function", ContainerMonthlyCost: 9, ServerlessMonthlyCost: 2}}},
		HostOK: true,
		Host: model.Host{CPUs: 4, CPUUserSeconds: 10, CPUSystemSeconds: 5, CPUIdleSeconds: 100, CPUIOWaitSeconds: 1, CPUOtherSeconds: 2,
			MemoryTotal: 16 << 30, MemoryAvailable: 8 << 30, FilesystemPath: "/", FilesystemSize: 50 << 30, FilesystemUsed: 20 << 30},
		Self: model.Self{
			Collectors: []model.CollectorStatus{{Name: "cgroups", Duration: time.Millisecond, Success: true}, {Name: "host", Errors: 3}},
			TickLag:    2 * time.Millisecond, Overruns: 1, DiscoveryErrors: 2, ContainerdUp: true, OpenFiles: 30, Running: 2, Stopped: 1,
			HistoryContainers: 3, CheckpointFailures: 1, LastCheckpoint: t0.Add(-time.Minute), RestoreFailures: 1,
			OTLPEnabled: true, OTLPExportFailures: 4, OTLPExportPoints: 99,
		},
	}
}

// collectCapped collects one export of src with a series cap per metric.
func collectCapped(t *testing.T, src Source, maxSeries int) metricdata.ResourceMetrics {
	t.Helper()
	hist := &histograms{}
	r := sdkmetric.NewManualReader(sdkmetric.WithProducer(hist))
	p := newProvider(r, nil)
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	if _, err := newObserver(p.Meter(scope), src, "1.0.0", maxSeries, hist); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

var namer = otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes)

func promType(i schema.Instrument) otlptranslator.MetricType {
	switch i {
	case schema.Counter:
		return otlptranslator.MetricTypeMonotonicCounter
	case schema.Histogram:
		return otlptranslator.MetricTypeHistogram
	}
	return otlptranslator.MetricTypeGauge
}

// histogramSeries adds a histogram's series, as Prometheus names them, to
// to: a cumulative count per bucket (le), the sum and the count.
func histogramSeries(to map[series]float64, name string, l map[string]string, bounds []float64, cumulative []uint64, sum float64, count uint64) {
	for i, b := range bounds {
		bl := maps.Clone(l)
		bl["le"] = strconv.FormatFloat(b, 'g', -1, 64)
		to[series{name + "_bucket", labelsKey(bl)}] = float64(cumulative[i])
	}
	bl := maps.Clone(l)
	bl["le"] = "+Inf"
	to[series{name + "_bucket", labelsKey(bl)}] = float64(count)
	to[series{name + "_sum", labelsKey(l)}] = sum
	to[series{name + "_count", labelsKey(l)}] = float64(count)
}

// Every schema metric's standard OTLP-to-Prometheus translation, as
// Prometheus itself computes it, is the name schema.PromName gives and
// /metrics serves.
func TestPrometheusNamesAreTheStandardTranslation(t *testing.T) {
	translated := map[string]bool{}
	for _, m := range schema.All {
		got, err := namer.Build(otlptranslator.Metric{Name: m.Name, Unit: m.Unit, Type: promType(m.Instrument)})
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if got != m.PromName() {
			t.Errorf("%s (%q, %v): Prometheus translates to %q, schema.PromName says %q", m.Name, m.Unit, m.Instrument, got, m.PromName())
		}
		translated[got] = true
	}
	f, err := os.Open("../promtext/testdata/metrics.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "# TYPE "); ok {
			name, _, _ = strings.Cut(name, " ")
			n++
			if !translated[name] {
				t.Errorf("/metrics exposes %s, which is no schema metric's translation", name)
			}
		}
	}
	if n < 40 {
		t.Fatalf("golden file has only %d families", n)
	}
}

type series struct {
	name   string
	labels string
}

func labelsKey(kv map[string]string) string {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q,", k, kv[k])
	}
	return b.String()
}

// The OTLP export and /metrics carry the same series with the same values
// from the same snapshot, once OTLP names and attributes are translated as
// Prometheus translates them. Both run with the same series cap, low enough
// to drop series of a few metrics, so they also drop the same series.
func TestSameSeriesAsPrometheus(t *testing.T) {
	src := &fixed{fixture()}
	const maxSeries = 3

	mfs, err := promtext.New(src, promtext.Options{Version: "1.0.0", MaxSeriesPerMetric: maxSeries}).Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[series]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			l := map[string]string{}
			for _, lp := range m.Label {
				if lp.GetValue() != "" { // an empty label is no label
					l[lp.GetName()] = lp.GetValue()
				}
			}
			if h := m.GetHistogram(); h != nil {
				var bounds []float64
				var cum []uint64
				for _, b := range h.GetBucket() {
					if !math.IsInf(b.GetUpperBound(), 1) {
						bounds, cum = append(bounds, b.GetUpperBound()), append(cum, b.GetCumulativeCount())
					}
				}
				histogramSeries(want, mf.GetName(), l, bounds, cum, h.GetSampleSum(), h.GetSampleCount())
				continue
			}
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			want[series{mf.GetName(), labelsKey(l)}] = v
		}
	}

	byName := map[string]*schema.Metric{}
	for _, m := range schema.All {
		byName[m.Name] = m
	}
	got := map[series]float64{}
	rm := collectCapped(t, src, maxSeries)
	seenMetrics := map[string]bool{}
	var ln otlptranslator.LabelNamer
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != scope {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			def := byName[m.Name]
			if def == nil {
				t.Errorf("OTLP metric %s is not in the schema", m.Name)
				continue
			}
			seenMetrics[m.Name] = true
			if m.Unit != def.Unit || m.Description != def.Help {
				t.Errorf("%s: unit %q description %q, schema says %q %q", m.Name, m.Unit, m.Description, def.Unit, def.Help)
			}
			var dps []metricdata.DataPoint[float64]
			switch d := m.Data.(type) {
			case metricdata.Sum[float64]:
				if def.Instrument != schema.Counter || !d.IsMonotonic || d.Temporality != metricdata.CumulativeTemporality {
					t.Errorf("%s: monotonic %v temporality %v, schema instrument %v", m.Name, d.IsMonotonic, d.Temporality, def.Instrument)
				}
				dps = d.DataPoints
			case metricdata.Gauge[float64]:
				if def.Instrument != schema.Gauge {
					t.Errorf("%s exported as a gauge, schema says counter", m.Name)
				}
				dps = d.DataPoints
			case metricdata.Histogram[float64]:
				if def.Instrument != schema.Histogram || d.Temporality != metricdata.CumulativeTemporality {
					t.Errorf("%s: a histogram of temporality %v, schema instrument %v", m.Name, d.Temporality, def.Instrument)
				}
				name, _ := namer.Build(otlptranslator.Metric{Name: m.Name, Unit: m.Unit, Type: promType(def.Instrument)})
				for _, dp := range d.DataPoints {
					if len(dp.BucketCounts) != len(dp.Bounds)+1 || dp.StartTime.IsZero() || !dp.StartTime.Before(dp.Time) {
						t.Errorf("%s: %d buckets for %d bounds, start %v, time %v", m.Name, len(dp.BucketCounts), len(dp.Bounds), dp.StartTime, dp.Time)
						continue
					}
					l := map[string]string{}
					for _, kv := range dp.Attributes.ToSlice() {
						k, _ := ln.Build(string(kv.Key))
						l[k] = kv.Value.AsString()
					}
					cum := make([]uint64, len(dp.Bounds))
					var c uint64
					for i := range dp.Bounds {
						c += dp.BucketCounts[i]
						cum[i] = c
					}
					if c+dp.BucketCounts[len(dp.Bounds)] != dp.Count {
						t.Errorf("%s: buckets sum to %d, count %d", m.Name, c+dp.BucketCounts[len(dp.Bounds)], dp.Count)
					}
					histogramSeries(got, name, l, dp.Bounds, cum, dp.Sum, dp.Count)
				}
			default:
				t.Errorf("%s: unexpected data %T", m.Name, m.Data)
			}
			name, _ := namer.Build(otlptranslator.Metric{Name: m.Name, Unit: m.Unit, Type: promType(def.Instrument)})
			for _, dp := range dps {
				l := map[string]string{}
				for _, kv := range dp.Attributes.ToSlice() {
					k, err := ln.Build(string(kv.Key))
					if err != nil {
						t.Fatal(err)
					}
					l[k] = kv.Value.AsString()
				}
				if def == &schema.DroppedSeries {
					// Each exporter names the metric as it exports it.
					dm := byName[l["metric"]]
					l["metric"], _ = namer.Build(otlptranslator.Metric{Name: dm.Name, Unit: dm.Unit, Type: promType(dm.Instrument)})
				}
				got[series{name, labelsKey(l)}] = dp.Value
			}
		}
	}
	for s, v := range want {
		if g, ok := got[s]; !ok {
			t.Errorf("OTLP lacks %s{%s} = %v", s.name, s.labels, v)
		} else if g != v {
			t.Errorf("%s{%s}: OTLP %v, /metrics %v", s.name, s.labels, g, v)
		}
	}
	for s, v := range got {
		if _, ok := want[s]; !ok {
			t.Errorf("OTLP has %s{%s} = %v, /metrics does not", s.name, s.labels, v)
		}
	}
	// The fixture exercises every metric, so the comparison covers them all.
	for _, m := range schema.All {
		if !seenMetrics[m.Name] {
			t.Errorf("fixture produces no %s", m.Name)
		}
	}
}

// Attribute sets are built once per container and reused while its
// metadata pointer stays; gone containers leave the cache.
func TestAttributeCache(t *testing.T) {
	s := fixture()
	src := &fixed{s}
	r := sdkmetric.NewManualReader()
	p := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	defer p.Shutdown(context.Background())
	o, err := newObserver(p.Meter(scope), src, "1", 0, &histograms{})
	if err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	// ifaces counts the interfaces a container's sets describe; fitSet
	// finds its serverless-fit set.
	ifaces := func(m *model.Meta) int {
		n := 0
		for k := range o.containers[m].sets {
			if k.names == "network.io.direction,network.interface.name" && k.vals[0] == "receive" {
				n++
			}
		}
		return n
	}
	fitSet := func(m *model.Meta) *attrSet {
		for k, v := range o.containers[m].sets {
			if k.names == "verdict,platform" {
				return v
			}
		}
		return nil
	}
	app := s.Containers[2].Meta
	first := o.containers[app]
	if first == nil || len(o.containers) != 3 {
		t.Fatalf("cache has %d containers, app %v", len(o.containers), first)
	}
	if ifaces(s.Containers[1].Meta) != 3 { // eth0, eth1 and the others summed
		t.Fatal("sandbox interfaces not cached")
	}
	fit := fitSet(app)

	// Next tick: same metadata pointers, the stopped container gone, one
	// interface gone, analysis unchanged.
	s2 := *s
	s2.Containers = s.Containers[1:]
	s2.Networks = []model.Network{{Owner: 0, Interfaces: s.Interfaces[:1]}}
	src.s = &s2
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if o.containers[app] != first || fitSet(app) != fit || &fitSet(app).opts[0] != &fit.opts[0] {
		t.Error("attribute sets rebuilt for an unchanged container")
	}
	if _, ok := o.containers[s.Containers[0].Meta]; ok || len(o.containers) != 2 {
		t.Errorf("gone container still cached (%d entries)", len(o.containers))
	}
	if n := ifaces(s.Containers[1].Meta); n != 1 {
		t.Errorf("%d interfaces cached, want 1", n)
	}

	// New metadata (a relabelled container gets a new pointer): new sets.
	meta := *app
	meta.Pod.Name = "api-1"
	s3 := s2
	s3.Containers = append([]model.Container(nil), s2.Containers...)
	s3.Containers[1].Meta = &meta
	src.s = &s3
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if _, ok := o.containers[app]; ok {
		t.Error("old metadata still cached")
	}
	found := false
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != schema.MemoryUsage.Name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Gauge[float64]).DataPoints {
				if v, _ := dp.Attributes.Value(attribute.Key("k8s.pod.name")); v.AsString() == "api-1" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("new pod name not exported")
	}
}

// Observing a snapshot allocates nothing per container once the cache is
// warm beyond what the SDK itself needs.
func BenchmarkCollect(b *testing.B) {
	s := fixture()
	r := sdkmetric.NewManualReader()
	p := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	defer p.Shutdown(context.Background())
	if _, err := newObserver(p.Meter(scope), &fixed{s}, "1", 0, &histograms{}); err != nil {
		b.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Collect(context.Background(), &rm); err != nil {
			b.Fatal(err)
		}
	}
}

type failing struct {
	sdkmetric.Exporter
	fail   bool
	points []int
}

func (f *failing) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	if f.fail {
		return errors.New("collector unavailable")
	}
	f.points = append(f.points, countPoints(rm))
	return nil
}

// Failed exports are counted, and they do not pile up: after a run of
// failures the next export carries one snapshot's points, no backlog.
func TestFailuresCountedNoBacklog(t *testing.T) {
	inner := &failing{fail: true}
	base, _ := newDiscard()
	inner.Exporter = base
	c := &counting{Exporter: inner, log: discardLog()}
	p := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(c, sdkmetric.WithInterval(time.Hour))))
	defer p.Shutdown(context.Background())
	if _, err := newObserver(p.Meter(scope), &fixed{fixture()}, "1", 0, &histograms{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 5 {
		if err := p.ForceFlush(ctx); err == nil {
			t.Fatal("flush succeeded through a failing exporter")
		}
	}
	if c.Failures() != 5 || c.points.Load() != 0 {
		t.Fatalf("failures %d points %d, want 5 and 0", c.Failures(), c.points.Load())
	}
	inner.fail = false
	for range 2 {
		if err := p.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if c.Failures() != 5 || len(inner.points) != 2 || inner.points[0] != inner.points[1] || inner.points[0] < 50 {
		t.Fatalf("failures %d, points per export %v: want two equal exports of one snapshot", c.Failures(), inner.points)
	}
	if c.points.Load() != uint64(2*inner.points[0]) {
		t.Fatalf("points counted %d, want %d", c.points.Load(), 2*inner.points[0])
	}
}

func (c *counting) Failures() uint64 { return c.failures.Load() }

// A node with more containers than the SDK's default cardinality limit
// exports every series, and a container that is gone is no longer
// exported (the SDK keeps no state for it).
func TestLargeNodeAndVanishedSeries(t *testing.T) {
	const n = 1500
	s := &model.Snapshot{Time: time.Now()}
	for i := range n {
		id := fmt.Sprintf("c%04d", i)
		m := &model.Meta{Namespace: "k8s.io", ID: id, Name: id}
		s.Containers = append(s.Containers, model.Container{Meta: m, Running: true, Sampled: true, Network: -1,
			Usage: model.Usage{Have: model.HaveCPUMode, CPUUserNanos: uint64(i) * 1e9}})
	}
	src := &fixed{s}
	r := sdkmetric.NewManualReader()
	p := newProvider(r, nil)
	defer p.Shutdown(context.Background())
	if _, err := newObserver(p.Meter(scope), src, "1", 0, &histograms{}); err != nil {
		t.Fatal(err)
	}
	cpuPoints := func() map[string]bool {
		var rm metricdata.ResourceMetrics
		if err := r.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name == schema.CPUTime.Name {
					for _, dp := range m.Data.(metricdata.Sum[float64]).DataPoints {
						v, ok := dp.Attributes.Value("container.id")
						if !ok {
							t.Fatalf("point without container.id: %v", dp.Attributes.ToSlice())
						}
						ids[v.AsString()+"/"+fmt.Sprint(dp.Attributes.Len())] = true
					}
					if len(m.Data.(metricdata.Sum[float64]).DataPoints) != 2*len(src.s.Containers) {
						t.Fatalf("%d cpu time points for %d containers", len(m.Data.(metricdata.Sum[float64]).DataPoints), len(src.s.Containers))
					}
				}
			}
		}
		return ids
	}
	cpuPoints()
	s2 := *s
	s2.Containers = s.Containers[:10]
	src.s = &s2
	if ids := cpuPoints(); ids["c0010/2"] || !ids["c0009/2"] {
		t.Fatal("series of a vanished container still exported, or a live one missing")
	}
}

func TestEnabled(t *testing.T) {
	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	off := config.Default().OTLP
	on := off
	on.Endpoint = "http://c:4317"
	for _, tc := range []struct {
		name string
		cfg  config.OTLPConfig
		env  func(string) (string, bool)
		want bool
	}{
		{"default", off, env(), false},
		{"file endpoint", on, env(), true},
		{"env endpoint", off, env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"), true},
		{"env metrics endpoint", off, env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://c:4318/v1/metrics"), true},
		{"sdk disabled", on, env("OTEL_SDK_DISABLED", "true"), false},
		{"exporter none", on, env("OTEL_METRICS_EXPORTER", "none"), false},
	} {
		if got := Enabled(tc.cfg, tc.env); got != tc.want {
			t.Errorf("%s: Enabled = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The environment wins over the file: a key is passed to the SDK only
// when its OTEL_EXPORTER_OTLP_* variable is not set.
func TestEnvironmentWins(t *testing.T) {
	cfg := config.Default().OTLP
	cfg.Endpoint, cfg.Headers, cfg.Insecure = "https://file:4317", "a=1", true
	fs, err := settingsFor(cfg, func(string) (string, bool) { return "", false })
	if err != nil || fs.endpoint == nil || fs.endpoint.Host != "file:4317" || fs.headers["a"] != "1" || !fs.insecure || fs.timeout != 10*time.Second {
		t.Fatalf("file only: %+v %v", fs, err)
	}
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4317", "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "b=2",
		"OTEL_EXPORTER_OTLP_INSECURE": "false", "OTEL_EXPORTER_OTLP_TIMEOUT": "500"}
	fs, err = settingsFor(cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	// Headers are the exception: the environment's are parsed here and
	// passed as an option (see hideHeaderEnv), still replacing the file's.
	if err != nil || fs.endpoint != nil || len(fs.headers) != 1 || fs.headers["b"] != "2" || fs.insecure || fs.timeout != 0 {
		t.Fatalf("environment set: %+v %v", fs, err)
	}
}

// A collector that is down at start makes exports fail and be counted;
// once it listens, exports resume without anything being restarted. Run
// over both protocols against the in-process receivers.
func TestCollectorDownThenUp(t *testing.T) {
	for _, proto := range []string{config.OTLPProtocolGRPC, config.OTLPProtocolHTTP} {
		t.Run(strings.ReplaceAll(proto, "/", "_"), func(t *testing.T) {
			start := otlptest.StartGRPC
			if proto == config.OTLPProtocolHTTP {
				start = otlptest.StartHTTP
			}
			// Reserve a port, then free it: the collector is down.
			probe := start(t, "")
			addr := probe.Addr
			probe.Stop()

			cfg := config.Default().OTLP
			cfg.Endpoint, cfg.Protocol, cfg.Timeout = "http://"+addr, proto, time.Second
			cfg.Headers = "x-tenant=blue%20team"
			noEnv := func(string) (string, bool) { return "", false }
			e, err := New(context.Background(), cfg, &fixed{fixture()}, Options{Version: "9.9.9", NodeName: "n1", HostName: "h1", LookupEnv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- e.Run(ctx) }()
			defer func() {
				cancel()
				select {
				case <-done:
				case <-time.After(shutdownTimeout + time.Second):
					t.Error("Run did not return after cancel")
				}
			}()

			for range 2 {
				fctx, fcancel := context.WithTimeout(context.Background(), 3*time.Second)
				if err := e.ForceFlush(fctx); err == nil {
					t.Fatal("export to a closed port succeeded")
				}
				fcancel()
			}
			if e.Failures() != 2 {
				t.Fatalf("failures = %d, want 2", e.Failures())
			}

			rcv := start(t, addr)
			deadline := time.Now().Add(15 * time.Second)
			// The receiver sees a request before the exporter has its
			// answer and counts the points: wait for both.
			for rcv.Requests() == 0 || e.Points() == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("no export after the collector came up (%d failures, %d requests, %d points)", e.Failures(), rcv.Requests(), e.Points())
				}
				fctx, fcancel := context.WithTimeout(context.Background(), 3*time.Second)
				e.ForceFlush(fctx)
				fcancel()
			}
			if e.Points() == 0 {
				t.Error("exported points not counted")
			}
			if h := rcv.Header("x-tenant"); h != "blue team" {
				t.Errorf("header x-tenant = %q", h)
			}
			pts := rcv.Latest()
			var mem bool
			for _, p := range pts {
				if p.Resource["service.name"] != "fleetscope" || p.Resource["service.version"] != "9.9.9" ||
					p.Resource["host.name"] != "n1" || p.Resource["k8s.node.name"] != "n1" || p.Resource["service.instance.id"] != "n1" {
					t.Fatalf("resource %v", p.Resource)
				}
				if p.Name == "container.memory.usage" && p.Attributes["container.id"] == "c1" {
					mem = p.Value == 300<<20 && p.Unit == "By" && p.Kind == "gauge"
				}
			}
			if !mem {
				t.Error("container.memory.usage of c1 missing or wrong")
			}
		})
	}
}
