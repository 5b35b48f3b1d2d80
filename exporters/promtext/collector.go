// Package promtext serves the agent's latest snapshot in the Prometheus
// text exposition format. It writes the text directly from the snapshot
// into reused buffers, one per metric family, instead of building a
// client_golang const metric per series: at a few thousand series per
// scrape that path cost tens of milliseconds and ~20 allocations a series.
// The series of a container that vanished simply stop being written.
package promtext

import (
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/model"
)

// Source hands out the latest snapshot; nil before the first tick.
type Source interface {
	Snapshot() *model.Snapshot
}

// Writer renders snapshots. Values are as of the agent's latest sample,
// not read at scrape time: the agent samples on its own loop because it
// keeps history. It is safe for concurrent use: each scrape renders into
// buffers of its own, taken from a free list, so a slow client delays no
// other scrape and steady scraping allocates nothing new.
type Writer struct {
	src       Source
	version   string
	maxSeries int
	families  []*family // sorted by name, as Prometheus clients write them
	byMetric  map[*schema.Metric]int

	mu   sync.Mutex
	free []*render
}

// Options tune a Writer.
type Options struct {
	Version string
	// MaxSeriesPerMetric caps each metric's series in one scrape; further
	// series are left out and counted. Zero means no cap.
	MaxSeriesPerMetric int
}

// family is one metric's fixed text.
type family struct {
	header string   // HELP and TYPE lines
	name   string   // Prometheus name
	labels []string // label names: identity, then the metric's attributes
}

// render is one scrape's text, by family.
type render struct {
	lines [][]byte
	// series and dropped count the series written and left out.
	series, dropped []int
	// labelNames caches the Prometheus names of allow-listed container
	// labels; extra holds the names written in the current info line.
	labelNames map[string]string
	extra      []string
}

// New returns a Writer over src.
func New(src Source, o Options) *Writer {
	w := &Writer{src: src, version: o.Version, maxSeries: o.MaxSeriesPerMetric, byMetric: map[*schema.Metric]int{}}
	for _, m := range schema.All {
		f := &family{name: m.PromName()}
		for _, a := range m.Identity() {
			f.labels = append(f.labels, schema.PromLabel(a))
		}
		for _, a := range m.Attributes {
			f.labels = append(f.labels, schema.PromLabel(a))
		}
		typ := "gauge"
		if m.Instrument == schema.Counter {
			typ = "counter"
		}
		f.header = "# HELP " + f.name + " " + escapeHelp(m.Help) + "\n# TYPE " + f.name + " " + typ + "\n"
		w.families = append(w.families, f)
	}
	slices.SortFunc(w.families, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	for i, f := range w.families {
		for _, m := range schema.All {
			if m.PromName() == f.name {
				w.byMetric[m] = i
			}
		}
	}
	return w
}

// Append renders the latest snapshot and appends it to dst.
func (w *Writer) Append(dst []byte) []byte {
	r := w.render()
	defer w.release(r)
	for i, f := range w.families {
		if len(r.lines[i]) > 0 {
			dst = append(dst, f.header...)
			dst = append(dst, r.lines[i]...)
		}
	}
	return dst
}

// WriteTo renders the latest snapshot and writes it to out straight from
// the render's buffers, so a scrape holds no second copy of its text.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	r := w.render()
	defer w.release(r)
	var n int64
	for i, f := range w.families {
		if len(r.lines[i]) == 0 {
			continue
		}
		m, err := io.WriteString(out, f.header)
		n += int64(m)
		if err == nil {
			m, err = out.Write(r.lines[i])
			n += int64(m)
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// render fills a render from the latest snapshot.
func (w *Writer) render() *render {
	w.mu.Lock()
	var r *render
	if n := len(w.free); n > 0 {
		r, w.free = w.free[n-1], w.free[:n-1]
	}
	w.mu.Unlock()
	if r == nil {
		n := len(w.families)
		r = &render{lines: make([][]byte, n), series: make([]int, n), dropped: make([]int, n), labelNames: map[string]string{}}
	}
	for i := range r.lines {
		r.lines[i] = r.lines[i][:0]
		r.series[i], r.dropped[i] = 0, 0
	}
	e := &emitter{w: w, r: r}
	e.emit(&schema.Build, 1, w.version, runtime.Version())
	if s := w.src.Snapshot(); s != nil {
		for i := range s.Containers {
			collectContainer(e, s, &s.Containers[i])
		}
		for i := range s.Networks {
			collectNetwork(e, s, &s.Networks[i])
		}
		collectHost(e, s)
		collectSelf(e, s)
	}
	for i, f := range w.families {
		if r.dropped[i] > 0 {
			e.emit(&schema.DroppedSeries, float64(r.dropped[i]), f.name)
		}
	}
	return r
}

func (w *Writer) release(r *render) {
	w.mu.Lock()
	w.free = append(w.free, r)
	w.mu.Unlock()
}

type emitter struct {
	w *Writer
	r *render
	// labels is scratch space for a series' label values.
	labels []string
}

// with returns id followed by extra in the emitter's scratch space, valid
// until the next call.
func (e *emitter) with(id []string, extra ...string) []string {
	e.labels = append(append(e.labels[:0], id...), extra...)
	return e.labels
}

// emit appends one sample line. Empty label values are left out, which
// the format defines as the same series and which saves bytes for
// containers outside Kubernetes.
func (e *emitter) emit(m *schema.Metric, v float64, labels ...string) {
	e.emitLabelled(m, v, labels, nil)
}

// emitLabelled is emit with container labels appended to the metric's
// own. Two keys that map to one Prometheus name (a.b and a_b) would make
// an invalid line, so the first in key order wins.
func (e *emitter) emitLabelled(m *schema.Metric, v float64, labels []string, extra []containerd.Label) {
	i := e.w.byMetric[m]
	f, r := e.w.families[i], e.r
	if e.w.maxSeries > 0 && r.series[i] >= e.w.maxSeries && m != &schema.DroppedSeries {
		r.dropped[i]++
		return
	}
	r.series[i]++
	b := append(r.lines[i], f.name...)
	sep := byte('{')
	for i, val := range labels {
		if val == "" {
			continue
		}
		b = append(b, sep)
		sep = ','
		b = append(b, f.labels[i]...)
		b = append(b, '=', '"')
		b = appendEscaped(b, val)
		b = append(b, '"')
	}
	r.extra = r.extra[:0]
	for _, l := range extra {
		name := r.labelName(l.Key)
		if l.Value == "" || slices.Contains(r.extra, name) {
			continue
		}
		r.extra = append(r.extra, name)
		b = append(b, sep)
		sep = ','
		b = append(b, name...)
		b = append(b, '=', '"')
		b = appendEscaped(b, l.Value)
		b = append(b, '"')
	}
	if sep == ',' {
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	r.lines[i] = append(b, '\n')
}

// labelName is the Prometheus label of container label key.
func (r *render) labelName(key string) string {
	n, ok := r.labelNames[key]
	if !ok {
		n = schema.PromLabel(schema.ContainerLabelPrefix + key)
		r.labelNames[key] = n
	}
	return n
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendEscaped escapes a label value: backslash, double quote and line
// feed.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}

func escapeHelp(s string) string {
	return strings.NewReplacer("\\", `\\`, "\n", `\n`).Replace(s)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func collectContainer(e *emitter, s *model.Snapshot, sc *model.Container) {
	m := sc.Meta
	id := []string{m.ID, m.Name(), m.Pod.Namespace, m.Pod.Name}
	with := func(extra ...string) []string { return e.with(id, extra...) }

	e.emitLabelled(&schema.ContainerInfo, 1, with(m.Image, m.Runtime, m.Namespace, m.Pod.UID, m.Pod.ContainerName,
		strconv.FormatBool(m.Sandbox), strconv.FormatBool(m.GPU)), m.ExportLabels)

	// Limits: the cgroup's live values, else the spec's.
	quota, period, shares, mem := m.Resources.CPUQuotaMicros, m.Resources.CPUPeriodMicros, m.Resources.CPUShares, m.Resources.MemoryLimit
	if l := &sc.Limits; sc.HaveLimits && l.Have.Has(cgroups.HaveCPU) {
		quota, period, shares = l.CPUQuotaMicros, l.CPUPeriodMicros, l.CPUShares
	}
	if l := &sc.Limits; sc.HaveLimits && l.Have.Has(cgroups.HaveMemory) {
		mem = int64(min(l.MemoryLimit, 1<<62))
	}
	if quota > 0 && period > 0 {
		e.emit(&schema.CPULimit, float64(quota)/float64(period), id...)
	}
	if shares > 0 {
		e.emit(&schema.CPURequest, float64(shares)/1024, id...)
	}
	if mem > 0 {
		e.emit(&schema.MemoryLimit, float64(mem), id...)
	}
	if sc.HaveLayer {
		e.emit(&schema.FilesystemUsage, float64(sc.Layer.Bytes), id...)
	}
	if sc.Analysis != nil {
		collectAnalysis(e, sc, id)
	}
	if !sc.Sampled {
		return
	}
	if !sc.StartedAt.IsZero() {
		e.emit(&schema.Uptime, s.Time.Sub(sc.StartedAt).Seconds(), id...)
	}
	st := &sc.Stats
	if st.Have.Has(cgroups.HaveCPUMode) {
		e.emit(&schema.CPUTime, float64(st.CPUUserNanos)/1e9, with("user")...)
		e.emit(&schema.CPUTime, float64(st.CPUSystemNanos)/1e9, with("system")...)
	}
	if sc.HaveRates {
		e.emit(&schema.CPUUsage, sc.CPUCores, id...)
	}
	if st.Have.Has(cgroups.HaveThrottling) {
		e.emit(&schema.CPUPeriods, float64(st.CPUPeriods), id...)
		e.emit(&schema.CPUThrottledPeriods, float64(st.CPUThrottledPeriods), id...)
		e.emit(&schema.CPUThrottledTime, float64(st.CPUThrottledNanos)/1e9, id...)
	}
	if st.Have.Has(cgroups.HaveMemory) {
		e.emit(&schema.MemoryUsage, float64(st.MemoryUsage), id...)
	}
	if st.Have.Has(cgroups.HaveMemoryStat) {
		e.emit(&schema.MemoryWorkingSet, float64(st.MemoryWorkingSet), id...)
		e.emit(&schema.MemoryRSS, float64(st.MemoryRSS), id...)
		e.emit(&schema.MemoryCache, float64(st.MemoryCache), id...)
	}
	if st.Have.Has(cgroups.HaveSwap) {
		e.emit(&schema.MemorySwap, float64(st.MemorySwap), id...)
	}
	if st.Have.Has(cgroups.HaveIO) {
		e.emit(&schema.DiskIO, float64(st.IOReadBytes), with("read")...)
		e.emit(&schema.DiskIO, float64(st.IOWriteBytes), with("write")...)
		e.emit(&schema.DiskOperations, float64(st.IOReadOps), with("read")...)
		e.emit(&schema.DiskOperations, float64(st.IOWriteOps), with("write")...)
	}
	if st.Have.Has(cgroups.HavePids) {
		e.emit(&schema.Pids, float64(st.Pids), id...)
	}
}

func collectAnalysis(e *emitter, sc *model.Container, id []string) {
	r := sc.Analysis
	e.emit(&schema.ObservedTime, r.ObservedFor.Seconds(), id...)
	for _, w := range []struct {
		name  string
		ratio float64
	}{{"1h", r.IdleRatio1h}, {"24h", r.IdleRatio24h}, {"7d", r.IdleRatio7d}} {
		if !math.IsNaN(w.ratio) {
			e.emit(&schema.IdleRatio, w.ratio, e.with(id, w.name)...)
		}
	}
	e.emit(&schema.ServerlessFit, float64(r.Score), e.with(id, string(r.Verdict), r.Platform)...)
	for _, reason := range r.Reasons {
		e.emit(&schema.ServerlessReason, 1, e.with(id, "reason", reason.Code)...)
	}
	for _, b := range r.Blockers {
		e.emit(&schema.ServerlessReason, 1, e.with(id, "blocker", b.Code)...)
	}
	if r.Verdict == analysis.VerdictInsufficientData {
		return
	}
	e.emit(&schema.ReservedCPU, r.Reserved.CPUCores, e.with(id, r.Reserved.CPUSource)...)
	e.emit(&schema.ReservedMemory, float64(r.Reserved.MemoryBytes), e.with(id, r.Reserved.MemorySource)...)
	e.emit(&schema.Cost, r.CostPerHour, id...)
	e.emit(&schema.IdleCost, r.IdleCostPerHour, id...)
	e.emit(&schema.OverReservationCost, r.OverReservationWastePerMonth, id...)
	if r.Platform != "" {
		e.emit(&schema.ServerlessCost, r.ServerlessMonthlyCost, id...)
		e.emit(&schema.ServerlessSavings, r.SavingsPerMonth, id...)
	}
	if r.Bursts.Count > 0 {
		e.emit(&schema.BurstDuration, r.Bursts.P50.Seconds(), e.with(id, "p50")...)
		e.emit(&schema.BurstDuration, r.Bursts.P95.Seconds(), e.with(id, "p95")...)
		e.emit(&schema.BurstDuration, r.Bursts.Max.Seconds(), e.with(id, "max")...)
	}
}

func collectNetwork(e *emitter, s *model.Snapshot, n *model.Network) {
	m := s.Containers[n.Owner].Meta
	for i := range n.Interfaces {
		it := &n.Interfaces[i]
		l := func(dir string) []string { return []string{m.ID, m.Pod.Namespace, m.Pod.Name, dir, it.Name} }
		rx, tx := l("receive"), l("transmit")
		e.emit(&schema.NetworkIO, float64(it.RxBytes), rx...)
		e.emit(&schema.NetworkIO, float64(it.TxBytes), tx...)
		e.emit(&schema.NetworkPackets, float64(it.RxPackets), rx...)
		e.emit(&schema.NetworkPackets, float64(it.TxPackets), tx...)
		e.emit(&schema.NetworkErrors, float64(it.RxErrors), rx...)
		e.emit(&schema.NetworkErrors, float64(it.TxErrors), tx...)
		e.emit(&schema.NetworkDropped, float64(it.RxDropped), rx...)
		e.emit(&schema.NetworkDropped, float64(it.TxDropped), tx...)
	}
}

func collectHost(e *emitter, s *model.Snapshot) {
	if !s.HostOK {
		return
	}
	h := &s.Host
	e.emit(&schema.HostCPUs, float64(h.CPUs))
	e.emit(&schema.HostCPUTime, h.CPUUserSeconds, "user")
	e.emit(&schema.HostCPUTime, h.CPUSystemSeconds, "system")
	e.emit(&schema.HostCPUTime, h.CPUIdleSeconds, "idle")
	e.emit(&schema.HostCPUTime, h.CPUIOWaitSeconds, "wait")
	e.emit(&schema.HostCPUTime, h.CPUOtherSeconds, "interrupt")
	e.emit(&schema.HostMemoryTotal, float64(h.MemoryTotal))
	e.emit(&schema.HostMemoryAvailable, float64(h.MemoryAvailable))
	if h.FilesystemSize > 0 {
		e.emit(&schema.HostFilesystemSize, float64(h.FilesystemSize), h.FilesystemPath)
		e.emit(&schema.HostFilesystemUsage, float64(h.FilesystemUsed), h.FilesystemPath)
	}
}

func collectSelf(e *emitter, s *model.Snapshot) {
	self := &s.Self
	for _, c := range self.Collectors {
		e.emit(&schema.CollectorDuration, c.Duration.Seconds(), c.Name)
		e.emit(&schema.CollectorSuccess, boolValue(c.Success), c.Name)
		e.emit(&schema.CollectorErrors, float64(c.Errors), c.Name)
	}
	e.emit(&schema.TickLag, self.TickLag.Seconds())
	e.emit(&schema.TickOverruns, float64(self.Overruns))
	e.emit(&schema.ContainersTracked, float64(self.Running), "running")
	e.emit(&schema.ContainersTracked, float64(self.Stopped), "stopped")
	e.emit(&schema.DiscoveryErrors, float64(self.DiscoveryErrors))
	e.emit(&schema.ContainerdUp, boolValue(self.ContainerdUp))
	e.emit(&schema.OpenFiles, float64(self.OpenFiles))
	e.emit(&schema.HistoryContainers, float64(self.HistoryContainers))
	e.emit(&schema.CheckpointFailures, float64(self.CheckpointFailures))
	e.emit(&schema.RestoreFailures, float64(self.RestoreFailures))
	if !self.LastCheckpoint.IsZero() {
		e.emit(&schema.CheckpointAge, s.Time.Sub(self.LastCheckpoint).Seconds())
	}
	if self.OTLPEnabled {
		e.emit(&schema.OTLPExportFailures, float64(self.OTLPExportFailures))
		e.emit(&schema.OTLPExportPoints, float64(self.OTLPExportPoints))
	}
}
