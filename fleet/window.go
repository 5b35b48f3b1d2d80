package fleet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/report"
)

// ErrNoEvidence says the store holds none of the additive evidence the
// window-based answer is computed from: its agents are of a release
// before they exported it. Their current figures can still be reported.
var ErrNoEvidence = errors.New("no additive evidence series (" + schema.RecordedTime.PromName() +
	"): the window-based answer needs agents that export them")

// A part is one container name of a workload: the containers of every
// pod the workload had, on every node, within the window. The analysis is
// per part (a pod's app and its sidecar are sized apart); a workload's row
// sums its parts.
type partKey struct{ ns, kind, name, container string }

type part struct {
	key   partKey
	rowNS string          // the namespace of the workload's row: the pod's, else containerd's
	pods  map[string]bool // node/pod
	nodes map[string]bool
	ids   []containerRef
	// covered is how long, in hours, the part had data (see fold);
	// byNode its containers' recorded seconds on each node, which weigh
	// the nodes' prices.
	covered  float64
	byNode   map[string]float64
	profile  *report.Profile // when it idled (see fold)
	live     int             // containers running at the window's end
	recorded float64         // seconds, summed over the window
	agg      analysis.Aggregate
	// dist are the workload's histograms summed over nodes, by bucket
	// bound; nil where the workload has none (one instance: its node's
	// figures are its whole history).
	dist [3]map[float64]float64
	gpu  bool
	// image is a live container's image, else the last one read.
	image string
	// throttled and periods are its CFS periods over the window, throttled
	// and all; oomKills its OOM kills, where haveOOM says the store has them.
	throttled, periods, oomKills float64
	haveOOM                      bool
	// accepts are the connections its pods accepted in each hour of the
	// window, for the replay of a sleep schedule.
	accepts []float64
	// res is the newest reservation seen: live containers first.
	res     reservation
	haveRes bool
}

type containerRef struct{ node, id string }

type reservation struct {
	live                 bool
	cpu, mem             float64
	cpuSource, memSource string
}

// windowQuerier gathers one window's evidence.
type windowQuerier struct {
	*querier
	window time.Duration
	rng    string // the window as a PromQL range, "604800s"
	zone   string // analysis.time_zone, for the sleep schedule
	parts  map[partKey]*part
	byID   map[containerRef]*part
	byPod  map[string][]*part // node/namespace/pod → its parts
	// scope narrows every selector to one namespace (see
	// gatherByNamespace): `,k8s_namespace_name="shop"`, or empty.
	scope   string
	hours   int
	hourEnd time.Time // end of the window's last whole hour
	covered []bool    // hours of the window with any data
}

// Workloads answers per workload over the window before o.At (now) from
// the agents' additive evidence in the store, with the analysis' own
// rules (analysis.AnalyzeAggregate) and cfg's prices and platforms. A
// workload of one instance (a bare pod, a container that is its own
// workload) has no distributions in the store, its whole history being on
// its node: its row is its node's answer, as Reports reads it. A Job's or
// CronJob's row is its runs', as on a node. It returns ErrNoEvidence when
// the store has no evidence series.
func Workloads(ctx context.Context, o Options, window time.Duration, cfg config.AnalysisConfig) (report.WorkloadReport, error) {
	if window < time.Hour {
		return report.WorkloadReport{}, fmt.Errorf("the window must be at least an hour, got %v", window)
	}
	q, err := newQuerier(o)
	if err != nil {
		return report.WorkloadReport{}, err
	}
	w := &windowQuerier{querier: q, window: window, rng: strconv.FormatInt(int64(window/time.Second), 10) + "s", zone: cfg.TimeZone}
	w.hourEnd = q.now.Truncate(time.Hour)
	w.hours = int(window / time.Hour)
	w.reset()
	err = w.gather(ctx)
	var series *errTooManySeries
	var points *errTooManyPoints
	if errors.As(err, &series) || errors.As(err, &points) {
		err = w.gatherByNamespace(ctx)
	}
	if err != nil {
		return report.WorkloadReport{}, err
	}
	// The agents' current figures: the rows of single-instance workloads
	// and of Jobs, the currency, the nodes.
	reps, err := Reports(ctx, o)
	if err != nil {
		return report.WorkloadReport{}, err
	}
	// Each node's prices over the window: OpenCost's where the store has
	// them, else the agent's own.
	prices, err := w.nodePrices(ctx, w.rng)
	if err != nil {
		return report.WorkloadReport{}, err
	}
	out := report.WorkloadsOf(reps)
	w.replace(&out, cfg, prices)
	return out, nil
}

// gather reads the window's evidence into w.parts.
func (w *windowQuerier) gather(ctx context.Context) error {
	if err := w.containers(ctx); err != nil {
		return err
	}
	rec, err := w.counter(ctx, &schema.RecordedTime, w.rng)
	if err != nil {
		return err
	}
	if len(rec) == 0 && w.scope == "" {
		return fmt.Errorf("%s: %w", w.shown, ErrNoEvidence)
	}
	w.sumRef(rec, func(p *part, ref containerRef, v float64) {
		p.recorded += v
		p.agg.Valid[2] += minutes(v)
		p.byNode[ref.node] += v
	})
	steps := []struct {
		m   *schema.Metric
		rng string
		add func(p *part, v float64)
	}{
		{&schema.IdleTime, w.rng, func(p *part, v float64) { p.agg.Idle[2] += minutes(v) }},
		{&schema.RecordedTime, "1h", func(p *part, v float64) { p.agg.Valid[0] += minutes(v) }},
		{&schema.IdleTime, "1h", func(p *part, v float64) { p.agg.Idle[0] += minutes(v) }},
		{&schema.RecordedTime, "24h", func(p *part, v float64) { p.agg.Valid[1] += minutes(v) }},
		{&schema.IdleTime, "24h", func(p *part, v float64) { p.agg.Idle[1] += minutes(v) }},
		{&schema.DownTime, w.rng, func(p *part, v float64) { p.agg.Totals.DownMinutes += minutes(v) }},
		{&schema.ListeningTime, w.rng, func(p *part, v float64) { p.agg.Totals.ListenMinutes += minutes(v) }},
		{&schema.SampledTime, w.rng, func(p *part, v float64) { p.agg.Totals.SampledSeconds += v }},
		{&schema.BusyTime, w.rng, func(p *part, v float64) { p.agg.Totals.BusySeconds += v }},
		{&schema.BusyCPUTime, w.rng, func(p *part, v float64) { p.agg.Totals.BusyCPUSeconds += v }},
		{&schema.BusyRuns, w.rng, func(p *part, v float64) { p.agg.Totals.BusyRuns += int(math.Round(v)) }},
		{&schema.Restarts, w.rng, func(p *part, v float64) { p.agg.Totals.Restarts += int(math.Round(v)) }},
		// What a plan's targets must not ignore: throttling and OOM kills.
		{&schema.CPUThrottledPeriods, w.rng, func(p *part, v float64) { p.throttled += v }},
		{&schema.CPUPeriods, w.rng, func(p *part, v float64) { p.periods += v }},
		{&schema.MemoryOOMKills, w.rng, func(p *part, v float64) { p.oomKills += v; p.haveOOM = true }},
	}
	for _, s := range steps {
		vec, err := w.counter(ctx, s.m, s.rng)
		if err != nil {
			return err
		}
		w.sum(vec, s.add)
	}
	if err := w.diskAndAccepts(ctx); err != nil {
		return err
	}
	if err := w.reservations(ctx); err != nil {
		return err
	}
	if err := w.distributions(ctx); err != nil {
		return err
	}
	// After the distributions: only the parts that have them are judged
	// here, and only theirs are folded hour by hour.
	return w.hourly(ctx)
}

// sel is the selector of Fleetscope's container series, with the
// matchers extra (each after a comma) and the namespace's, if any.
func (w *windowQuerier) sel(extra string) string {
	return "{" + labelContainerID + `!=""` + extra + w.scope + "}"
}

// gatherByNamespace gathers the window one namespace at a time, for a
// store whose answers about the whole fleet are beyond the bounds.
func (w *windowQuerier) gatherByNamespace(ctx context.Context) error {
	m := schema.ContainerInfo.PromName()
	vec, err := w.vectorOf(ctx, "count by ("+labelNamespaceName+") (last_over_time("+m+w.sel("")+"["+w.rng+"]))", m)
	if err != nil {
		return err
	}
	w.reset()
	for _, s := range vec {
		w.scope = "," + labelNamespaceName + "=" + strconv.Quote(s.labels[labelNamespaceName])
		if err := w.gather(ctx); err != nil {
			return err
		}
	}
	w.scope = ""
	return nil
}

// reset forgets what gather read.
func (w *windowQuerier) reset() {
	w.parts, w.byID, w.byPod = map[partKey]*part{}, map[containerRef]*part{}, map[string][]*part{}
	w.covered = make([]bool, w.hours)
}

// minutes turns evidence seconds (whole minutes × 60, as the agents
// export them) back into minutes.
func minutes(seconds float64) int { return int(math.Round(seconds / 60)) }

// containers reads every container the window saw into its part.
func (w *windowQuerier) containers(ctx context.Context) error {
	m := schema.ContainerInfo.PromName()
	info, err := w.vectorOf(ctx, "last_over_time("+m+w.sel("")+"["+w.rng+"])", m)
	if err != nil {
		return err
	}
	if len(info) == 0 {
		return fmt.Errorf("%s: %w (%s is empty over the window)", w.shown, ErrNoData, m)
	}
	for _, s := range info {
		l := s.labels
		if l[labelPodSandbox] == "true" {
			continue
		}
		node := nodeOf(l)
		// Keyed as the agents key the histograms: the pod's namespace and
		// container name, empty outside Kubernetes.
		ns := l[labelNamespaceName]
		k := partKey{ns: ns, kind: l[labelWorkloadKind], name: l[labelWorkloadName], container: l[labelPodContainerName]}
		if k.kind == "" {
			k.kind, k.name = "Container", cmp.Or(l[labelContainerName], l[labelContainerID])
		}
		p := w.parts[k]
		if p == nil {
			p = &part{key: k, rowNS: cmp.Or(ns, l[labelContainerdNamespace]), pods: map[string]bool{}, nodes: map[string]bool{}, byNode: map[string]float64{}}
			w.parts[k] = p
		}
		ref := containerRef{node, l[labelContainerID]}
		p.ids = append(p.ids, ref)
		pod := node + "/" + ns + "/" + cmp.Or(l[labelPodName], l[labelContainerID])
		p.pods[pod] = true
		if node != "" {
			p.nodes[node] = true
		}
		p.gpu = p.gpu || l[labelGPU] == "true"
		if img := l[labelContainerImageName]; img != "" {
			p.image = img
		}
		w.byID[ref] = p
		if !slices.Contains(w.byPod[pod], p) {
			w.byPod[pod] = append(w.byPod[pod], p)
		}
	}
	return nil
}

// counter asks for the increase of a per-container counter over rng.
func (w *windowQuerier) counter(ctx context.Context, m *schema.Metric, rng string) ([]sample, error) {
	name := m.PromName()
	return w.vectorOf(ctx, "increase("+name+w.sel("")+"["+rng+"])", name)
}

// sum adds each container's value to its part.
func (w *windowQuerier) sum(vec []sample, add func(p *part, v float64)) {
	w.sumRef(vec, func(p *part, _ containerRef, v float64) { add(p, v) })
}

// sumRef is sum, telling add which container the value is of.
func (w *windowQuerier) sumRef(vec []sample, add func(p *part, ref containerRef, v float64)) {
	for i := range vec {
		s := &vec[i]
		ref := containerRef{nodeOf(s.labels), s.labels[labelContainerID]}
		if p := w.byID[ref]; p != nil && !math.IsNaN(s.value) {
			add(p, ref, s.value)
		}
	}
}

// podSeriesKey is the byPod key of a pod series' labels.
func podSeriesKey(l map[string]string) string {
	return nodeOf(l) + "/" + l[labelNamespaceName] + "/" + l[labelPodName]
}

// diskAndAccepts reads the bytes written and the connections accepted; a
// pod's connections count for each of its parts, as on a node each of its
// containers sees its network namespace's.
func (w *windowQuerier) diskAndAccepts(ctx context.Context) error {
	disk := schema.DiskIO.PromName()
	vec, err := w.vectorOf(ctx, "increase("+disk+w.sel(","+schema.PromLabel("disk.io.direction")+`="write"`)+"["+w.rng+"])", disk)
	if err != nil {
		return err
	}
	w.sum(vec, func(p *part, v float64) { p.agg.Totals.DiskWriteBytes += v })
	acc := schema.NetworkAccepts.PromName()
	vec, err = w.vectorOf(ctx, "increase("+acc+w.sel("")+"["+w.rng+"])", acc)
	if err != nil {
		return err
	}
	for _, s := range vec {
		l := s.labels
		for _, p := range w.byPod[podSeriesKey(l)] {
			p.agg.Totals.TCPAccepts += s.value
		}
	}
	return nil
}

// hourly reads the recorded and idle seconds of every whole hour of the
// window, for the hour-of-day profile and the hours with data, and the
// connections each pod accepted, for the replay of a sleep schedule.
func (w *windowQuerier) hourly(ctx context.Context) error {
	start := w.hourEnd.Add(-time.Duration(w.hours-1) * time.Hour)
	var mats [3][]sample
	for j, m := range []*schema.Metric{&schema.RecordedTime, &schema.IdleTime, &schema.NetworkAccepts} {
		name := m.PromName()
		var err error
		if mats[j], err = w.matrixOf(ctx, "increase("+name+w.sel("")+"[1h])", name, start, w.hourEnd, time.Hour); err != nil {
			return err
		}
	}
	// The series of each part judged here; every recorded point says its
	// hour had data.
	series := map[*part]*[2][]int{}
	for j, mat := range mats[:2] {
		for i := range mat {
			s := &mat[i]
			if j == 0 {
				for _, pt := range s.points {
					if h, ok := w.hourOf(pt); ok && pt.value > 0 {
						w.covered[h] = true
					}
				}
			}
			p := w.byID[containerRef{nodeOf(s.labels), s.labels[labelContainerID]}]
			if p == nil || p.dist[0] == nil {
				continue
			}
			if series[p] == nil {
				series[p] = new([2][]int)
			}
			series[p][j] = append(series[p][j], i)
		}
	}
	// A pod's connections count for each of its parts, as the window's
	// total does (see diskAndAccepts).
	for i := range mats[2] {
		l := mats[2][i].labels
		for _, p := range w.byPod[podSeriesKey(l)] {
			if series[p] == nil {
				continue
			}
			if p.accepts == nil {
				p.accepts = make([]float64, w.hours)
			}
			for _, pt := range mats[2][i].points {
				if h, ok := w.hourOf(pt); ok && pt.value > 0 {
					p.accepts[h] += pt.value
				}
			}
		}
	}
	// Each part's hours are summed in one scratch, then folded into its
	// figures, so that what is held per part does not grow with the
	// window: a part's hour is its containers' recorded and idle seconds,
	// and the most one of them recorded.
	rec, idle, top := make([]float64, w.hours), make([]float64, w.hours), make([]float64, w.hours)
	for p, idx := range series {
		clear(rec)
		clear(idle)
		clear(top)
		for j, dst := range [2][]float64{rec, idle} {
			for _, i := range idx[j] {
				for _, pt := range mats[j][i].points {
					if h, ok := w.hourOf(pt); ok {
						dst[h] += pt.value
						if j == 0 {
							top[h] = max(top[h], pt.value)
						}
					}
				}
			}
		}
		w.fold(p, rec, idle, top)
	}
	return nil
}

// hourOf is the hour of the window a point of an hourly range query
// holds: the point at t holds (t-1h, t].
func (w *windowQuerier) hourOf(pt point) (int, bool) {
	h := w.hours - 1 - int(w.hourEnd.Sub(pt.time)/time.Hour)
	return h, h >= 0 && h < w.hours && !math.IsNaN(pt.value)
}

// fold turns a part's hours (seconds per hour of the window) into its
// hour-of-day counts, its hours with data and the time it was covered.
func (w *windowQuerier) fold(p *part, rec, idle, top []float64) {
	a := &p.agg
	a.Zone = w.zone
	sum := make([]float64, len(rec))
	prof := &report.Profile{}
	for i := range rec {
		if rec[i] > 0 {
			a.Totals.Hours++
		}
		start := w.hourEnd.Add(-time.Duration(w.hours-i) * time.Hour).UTC()
		h, d := start.Hour(), int(start.Weekday())
		a.ConfirmHour(start, minutes(rec[i]), minutes(idle[i]))
		sum[i], top[i] = rec[i]/60, top[i]/60
		prof.Hour[0][h] += rec[i]
		prof.Hour[1][h] += idle[i]
		prof.Weekday[0][d] += rec[i]
		prof.Weekday[1][d] += idle[i]
	}
	p.covered = analysis.CoveredHours(sum, top)
	prof.Hours = p.covered
	// The replay needs each hour's connections: a part without the pods'
	// accepts series (agents without TCP counters) is not replayed.
	if p.accepts != nil {
		mins := make([]int, len(rec))
		for i := range rec {
			mins[i] = minutes(rec[i])
		}
		a.SetHours(w.hourEnd.Add(-time.Duration(w.hours)*time.Hour), mins, p.accepts)
		p.accepts = nil
	}
	p.profile = prof
}

// reservations reads what each part's newest container reserves: the
// reserved CPU and memory series with their source, a live container's
// first.
func (w *windowQuerier) reservations(ctx context.Context) error {
	info := schema.ContainerInfo.PromName()
	live, err := w.vectorOf(ctx, info+w.sel(""), info)
	if err != nil {
		return err
	}
	isLive := map[containerRef]bool{}
	for _, s := range live {
		ref := containerRef{nodeOf(s.labels), s.labels[labelContainerID]}
		isLive[ref] = true
		if p := w.byID[ref]; p != nil {
			p.live++
		}
	}
	for _, m := range []*schema.Metric{&schema.ReservedCPU, &schema.ReservedMemory} {
		name := m.PromName()
		vec, err := w.vectorOf(ctx, "last_over_time("+name+w.sel("")+"["+w.rng+"])", name)
		if err != nil {
			return err
		}
		for _, s := range vec {
			ref := containerRef{nodeOf(s.labels), s.labels[labelContainerID]}
			p := w.byID[ref]
			if p == nil || (p.haveRes && p.res.live && !isLive[ref]) {
				continue
			}
			if p.haveRes && p.res.live != isLive[ref] {
				p.res = reservation{}
			}
			p.haveRes, p.res.live = true, isLive[ref]
			if m == &schema.ReservedCPU {
				p.res.cpu, p.res.cpuSource = s.value, s.labels[labelSource]
			} else {
				p.res.mem, p.res.memSource = s.value, s.labels[labelSource]
			}
		}
	}
	return nil
}

// distributions reads the workloads' histograms, summed over nodes.
func (w *windowQuerier) distributions(ctx context.Context) error {
	for i, m := range []*schema.Metric{&schema.WorkloadCPU, &schema.WorkloadWorkingSet, &schema.WorkloadBursts} {
		name := m.PromName() + "_bucket"
		vec, err := w.vectorOf(ctx, "increase("+name+"{"+labelWorkloadName+`!=""`+w.scope+"}["+w.rng+"])", name)
		if err != nil {
			return err
		}
		for _, s := range vec {
			l := s.labels
			p := w.parts[partKey{l[labelNamespaceName], l[labelWorkloadKind], l[labelWorkloadName], l[labelPodContainerName]}]
			le, err := strconv.ParseFloat(l[labelBucket], 64)
			if p == nil || err != nil || math.IsNaN(s.value) {
				continue
			}
			if p.dist[i] == nil {
				p.dist[i] = map[float64]float64{}
			}
			p.dist[i][le] += s.value
		}
	}
	return nil
}

// replace puts the window's answer in the rows of the workloads it has
// distributions for, and notes the window on the report.
func (w *windowQuerier) replace(out *report.WorkloadReport, cfg config.AnalysisConfig, prices map[string]*nodePrice) {
	covered := 0
	for _, c := range w.covered {
		if c {
			covered++
		}
	}
	out.Window = &report.Window{Seconds: w.window.Seconds(), End: w.now.UTC(), Hours: w.hours, HoursWithData: covered}
	var list []*part
	for _, p := range w.parts {
		if p.dist[0] != nil && p.recorded > 0 && p.key.kind != "Job" && p.key.kind != "CronJob" {
			list = append(list, p)
		}
	}
	slices.SortFunc(list, func(a, b *part) int {
		return cmp.Or(cmp.Compare(a.rowNS, b.rowNS), cmp.Compare(a.key.kind, b.key.kind),
			cmp.Compare(a.key.name, b.key.name), cmp.Compare(a.key.container, b.key.container))
	})
	parts := make([]report.WorkloadPart, 0, len(list))
	for _, p := range list {
		// Priced as the bill was: by the nodes it ran on, for how long.
		pc := cfg
		pc.Prices, _ = priceFor(cfg.Prices, p.byNode, prices)
		r, avg := w.analyse(p, pc)
		wp := report.WorkloadPart{Namespace: p.rowNS, Kind: p.key.kind, Name: p.key.name, Container: p.key.container,
			Image: p.image, Pods: len(p.pods), Containers: len(p.ids), Nodes: slices.Sorted(maps.Keys(p.nodes)),
			Live: p.live, AverageReplicas: avg, ObservedSeconds: p.recorded, Profile: p.profile}
		wp.CPUThrottledRatio = report.ThrottledRatio(p.throttled, p.periods)
		if p.haveOOM {
			wp.OOMKills = report.OOMKillCount(p.oomKills)
		}
		parts = append(parts, report.PartFromResult(wp, &r))
	}
	report.ReplaceWithParts(out, parts, report.SourceWindow)
}

// analyse completes p's Aggregate and analyses it; avg is how many of its
// containers ran at once on average while it had any (see
// analysis.CoveredHours).
func (w *windowQuerier) analyse(p *part, cfg config.AnalysisConfig) (r analysis.Result, avg float64) {
	a := &p.agg
	a.Input = analysis.Input{Now: w.now, GPU: p.gpu}
	if p.haveRes {
		switch p.res.cpuSource {
		case analysis.SourceLimit:
			a.Input.CPUQuotaMicros, a.Input.CPUPeriodMicros = int64(math.Round(p.res.cpu*100_000)), 100_000
		case analysis.SourceRequest:
			a.Input.CPUShares = uint64(math.Round(p.res.cpu * 1024))
		}
		if p.res.memSource == analysis.SourceLimit {
			a.Input.MemoryLimitBytes = uint64(p.res.mem)
		}
	}
	a.CPUP50, a.CPUP95, a.CPUMax = quantiles(p.dist[0])
	_, ws95, wsMax := quantiles(p.dist[1])
	a.WorkingSetP95, a.WorkingSetMax = uint64(ws95), uint64(wsMax)
	n := total(p.dist[2])
	b50, b95, bMax := quantiles(p.dist[2])
	a.Bursts = analysis.Bursts{Count: int(math.Round(n)), P50: seconds(b50), P95: seconds(b95), Max: seconds(bMax)}
	// No series holds a sample's peak or the longest run of busy
	// samples: the top bucket bounds them from above.
	a.Totals.PeakCores = float32(a.CPUMax)
	a.Totals.LongestBusyRun = max(a.Bursts.Max, time.Minute)
	a.Span = time.Duration(p.covered * float64(time.Hour))
	r = analysis.AnalyzeAggregate(a, cfg)
	if p.covered > 0 {
		avg = p.recorded / (p.covered * 3600)
	}
	return r, avg
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// total is a histogram's count: its +Inf bucket.
func total(d map[float64]float64) float64 { return d[math.Inf(1)] }

// quantiles are the p50, p95 and maximum of a cumulative histogram, by
// bucket bound: the percentiles interpolated within their bucket as
// histogram_quantile does, the maximum the bound of the highest bucket
// holding a value (the last finite bound for the +Inf bucket).
func quantiles(d map[float64]float64) (p50, p95, top float64) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	bounds := slices.Sorted(maps.Keys(d))
	n := d[math.Inf(1)]
	if n <= 0 {
		return 0, 0, 0
	}
	q := func(f float64) float64 {
		rank := f * n
		lo, below := 0.0, 0.0
		for _, b := range bounds {
			c := d[b]
			if c >= rank {
				if math.IsInf(b, 1) {
					return lo
				}
				if c == below {
					return b
				}
				return lo + (b-lo)*(rank-below)/(c-below)
			}
			lo, below = b, c
		}
		return lo
	}
	prev := 0.0
	for _, b := range bounds {
		if d[b] > prev {
			top = b
		}
		prev = max(prev, d[b])
	}
	if math.IsInf(top, 1) {
		top = bounds[max(len(bounds)-2, 0)]
	}
	return q(0.5), q(0.95), top
}
