package otlp

import (
	"context"
	"math"
	"runtime"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
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
func attrs(kv ...attribute.KeyValue) opts {
	kept := kv[:0:0]
	for _, a := range kv {
		if a.Value.Type() != attribute.STRING || a.Value.AsString() != "" {
			kept = append(kept, a)
		}
	}
	return opts{metric.WithAttributeSet(attribute.NewSet(kept...))}
}

// observer turns the latest snapshot into observations of the instruments
// generated from schema.All, in one callback.
type observer struct {
	src       Source
	version   string
	inst      map[*schema.Metric]metric.Float64Observable
	maxSeries int // per metric and export; 0 means no cap

	mu         sync.Mutex
	gen        uint64
	containers map[*containerd.Container]*containerAttrs
	byName     map[string]opts // collectors, host CPU modes, states, mountpoints
	build      opts
	// series and dropped count the current export's series per metric.
	series, dropped map[*schema.Metric]int
}

func newObserver(m metric.Meter, src Source, version string, maxSeries int) (*observer, error) {
	o := &observer{
		src: src, version: version, maxSeries: maxSeries,
		series: map[*schema.Metric]int{}, dropped: map[*schema.Metric]int{},
		inst:       make(map[*schema.Metric]metric.Float64Observable, len(schema.All)),
		containers: map[*containerd.Container]*containerAttrs{},
		byName:     map[string]opts{},
		build:      attrs(attribute.String("version", version), attribute.String("goversion", runtime.Version())),
	}
	list := make([]metric.Observable, 0, len(schema.All))
	for _, sm := range schema.All {
		var (
			in  metric.Float64Observable
			err error
		)
		switch sm.Instrument {
		case schema.Counter:
			in, err = m.Float64ObservableCounter(sm.Name, metric.WithUnit(sm.Unit), metric.WithDescription(sm.Help))
		default:
			in, err = m.Float64ObservableGauge(sm.Name, metric.WithUnit(sm.Unit), metric.WithDescription(sm.Help))
		}
		if err != nil {
			return nil, err
		}
		o.inst[sm] = in
		list = append(list, in)
	}
	if _, err := m.RegisterCallback(o.observe, list...); err != nil {
		return nil, err
	}
	return o, nil
}

// containerAttrs are one container's attribute sets. The key is the
// container's metadata pointer, which discovery replaces whenever metadata
// changes, so an entry never goes stale.
type containerAttrs struct {
	seen                          uint64
	id, info                      opts
	cpuUser, cpuSystem            opts
	ioRead, ioWrite               opts
	idle1h, idle24h, idle7d       opts
	burstP50, burstP95, burstMax  opts
	analysis                      *analysis.Result
	fit, reservedCPU, reservedMem opts
	reasons                       []opts
	ifaces                        map[string]*ifaceAttrs
}

type ifaceAttrs struct {
	seen   uint64
	rx, tx opts
}

// identity returns m's container identity attributes and a function that
// builds an option list of them followed by more.
func identity(m *containerd.Container) ([]attribute.KeyValue, func(...attribute.KeyValue) opts) {
	id := []attribute.KeyValue{
		attribute.String("container.id", m.ID),
		attribute.String("container.name", m.Name()),
		attribute.String("k8s.namespace.name", m.Pod.Namespace),
		attribute.String("k8s.pod.name", m.Pod.Name),
	}
	return id, func(kv ...attribute.KeyValue) opts { return attrs(append(id[:len(id):len(id)], kv...)...) }
}

func newContainerAttrs(m *containerd.Container) *containerAttrs {
	info := []attribute.KeyValue{
		attribute.String("container.image.name", m.Image),
		attribute.String("container.runtime.name", m.Runtime),
		attribute.String("containerd.namespace", m.Namespace),
		attribute.String("k8s.pod.uid", m.Pod.UID),
		attribute.String("k8s.container.name", m.Pod.ContainerName),
		attribute.String("fleetscope.pod_sandbox", strconv.FormatBool(m.Sandbox)),
		attribute.String("fleetscope.gpu", strconv.FormatBool(m.GPU)),
	}
	for _, l := range m.ExportLabels {
		info = append(info, attribute.String(schema.ContainerLabelPrefix+l.Key, l.Value))
	}
	id, with := identity(m)
	mode := func(v string) opts { return with(attribute.String("cpu.mode", v)) }
	dir := func(v string) opts { return with(attribute.String("disk.io.direction", v)) }
	win := func(v string) opts { return with(attribute.String("window", v)) }
	stat := func(v string) opts { return with(attribute.String("statistic", v)) }
	return &containerAttrs{
		id:      attrs(id...),
		info:    with(info...),
		cpuUser: mode("user"), cpuSystem: mode("system"),
		ioRead: dir("read"), ioWrite: dir("write"),
		idle1h: win("1h"), idle24h: win("24h"), idle7d: win("7d"),
		burstP50: stat("p50"), burstP95: stat("p95"), burstMax: stat("max"),
	}
}

// setAnalysis rebuilds the attribute sets that depend on the analysis
// result (verdict, reasons, reservation sources); results change once a
// minute at most.
func (ca *containerAttrs) setAnalysis(m *containerd.Container, r *analysis.Result) {
	if ca.analysis == r {
		return
	}
	ca.analysis = r
	_, with := identity(m)
	ca.fit = with(attribute.String("verdict", string(r.Verdict)), attribute.String("platform", r.Platform))
	ca.reservedCPU = with(attribute.String("source", r.Reserved.CPUSource))
	ca.reservedMem = with(attribute.String("source", r.Reserved.MemorySource))
	ca.reasons = ca.reasons[:0]
	for _, x := range r.Reasons {
		ca.reasons = append(ca.reasons, with(attribute.String("kind", "reason"), attribute.String("code", x.Code)))
	}
	for _, x := range r.Blockers {
		ca.reasons = append(ca.reasons, with(attribute.String("kind", "blocker"), attribute.String("code", x.Code)))
	}
}

// iface returns the attribute sets of one interface of the pod network
// namespace owned by m.
func (ca *containerAttrs) iface(m *containerd.Container, name string, gen uint64) *ifaceAttrs {
	if ca.ifaces == nil {
		ca.ifaces = map[string]*ifaceAttrs{}
	}
	ia := ca.ifaces[name]
	if ia == nil {
		l := func(dir string) opts {
			return attrs(
				attribute.String("container.id", m.ID),
				attribute.String("k8s.namespace.name", m.Pod.Namespace),
				attribute.String("k8s.pod.name", m.Pod.Name),
				attribute.String("network.io.direction", dir),
				attribute.String("network.interface.name", name),
			)
		}
		ia = &ifaceAttrs{rx: l("receive"), tx: l("transmit")}
		ca.ifaces[name] = ia
	}
	ia.seen = gen
	return ia
}

func (o *observer) named(key string, kv ...attribute.KeyValue) opts {
	a, ok := o.byName[key]
	if !ok {
		a = attrs(kv...)
		o.byName[key] = a
	}
	return a
}

// obs observes one value of one metric, within the series cap.
type obs struct {
	o   metric.Observer
	obs *observer
}

func (b obs) put(m *schema.Metric, v float64, a opts) {
	if max := b.obs.maxSeries; max > 0 {
		if b.obs.series[m] >= max {
			b.obs.dropped[m]++
			return
		}
		b.obs.series[m]++
	}
	b.o.ObserveFloat64(b.obs.inst[m], v, a...)
}

// observe is the one callback: it reads the latest snapshot and observes
// every value in it, exactly the values /metrics serves.
func (o *observer) observe(_ context.Context, mo metric.Observer) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.series)
	clear(o.dropped)
	b := obs{o: mo, obs: o}
	b.put(&schema.Build, 1, o.build)
	s := o.src.Snapshot()
	if s == nil {
		return nil
	}
	o.gen++
	for i := range s.Containers {
		o.container(b, s, &s.Containers[i])
	}
	for i := range s.Networks {
		o.network(b, s, &s.Networks[i])
	}
	o.host(b, s)
	o.self(b, s)
	for m, n := range o.dropped {
		b.o.ObserveFloat64(o.inst[&schema.DroppedSeries], float64(n), o.named("metric="+m.Name, attribute.String("metric", m.Name))...)
	}
	// Forget containers that are gone, and interfaces that went away.
	for k, ca := range o.containers {
		if ca.seen != o.gen {
			delete(o.containers, k)
			continue
		}
		for name, ia := range ca.ifaces {
			if ia.seen != o.gen {
				delete(ca.ifaces, name)
			}
		}
	}
	return nil
}

func (o *observer) attrsOf(m *containerd.Container) *containerAttrs {
	ca := o.containers[m]
	if ca == nil {
		ca = newContainerAttrs(m)
		o.containers[m] = ca
	}
	ca.seen = o.gen
	return ca
}

func (o *observer) container(b obs, s *model.Snapshot, sc *model.Container) {
	m := sc.Meta
	ca := o.attrsOf(m)
	b.put(&schema.ContainerInfo, 1, ca.info)

	// Limits: the cgroup's live values, else the spec's.
	quota, period, shares, mem := m.Resources.CPUQuotaMicros, m.Resources.CPUPeriodMicros, m.Resources.CPUShares, m.Resources.MemoryLimit
	if l := &sc.Limits; sc.HaveLimits && l.Have.Has(cgroups.HaveCPU) {
		quota, period, shares = l.CPUQuotaMicros, l.CPUPeriodMicros, l.CPUShares
	}
	if l := &sc.Limits; sc.HaveLimits && l.Have.Has(cgroups.HaveMemory) {
		mem = int64(min(l.MemoryLimit, 1<<62))
	}
	if quota > 0 && period > 0 {
		b.put(&schema.CPULimit, float64(quota)/float64(period), ca.id)
	}
	if shares > 0 {
		b.put(&schema.CPURequest, float64(shares)/1024, ca.id)
	}
	if mem > 0 {
		b.put(&schema.MemoryLimit, float64(mem), ca.id)
	}
	if sc.HaveLayer {
		b.put(&schema.FilesystemUsage, float64(sc.Layer.Bytes), ca.id)
	}
	if sc.Analysis != nil {
		ca.setAnalysis(m, sc.Analysis)
		observeAnalysis(b, ca, sc.Analysis)
	}
	if !sc.Sampled {
		return
	}
	if !sc.StartedAt.IsZero() {
		b.put(&schema.Uptime, s.Time.Sub(sc.StartedAt).Seconds(), ca.id)
	}
	st := &sc.Stats
	if st.Have.Has(cgroups.HaveCPUMode) {
		b.put(&schema.CPUTime, float64(st.CPUUserNanos)/1e9, ca.cpuUser)
		b.put(&schema.CPUTime, float64(st.CPUSystemNanos)/1e9, ca.cpuSystem)
	}
	if sc.HaveRates {
		b.put(&schema.CPUUsage, sc.CPUCores, ca.id)
	}
	if st.Have.Has(cgroups.HaveThrottling) {
		b.put(&schema.CPUPeriods, float64(st.CPUPeriods), ca.id)
		b.put(&schema.CPUThrottledPeriods, float64(st.CPUThrottledPeriods), ca.id)
		b.put(&schema.CPUThrottledTime, float64(st.CPUThrottledNanos)/1e9, ca.id)
	}
	if st.Have.Has(cgroups.HaveMemory) {
		b.put(&schema.MemoryUsage, float64(st.MemoryUsage), ca.id)
	}
	if st.Have.Has(cgroups.HaveMemoryStat) {
		b.put(&schema.MemoryWorkingSet, float64(st.MemoryWorkingSet), ca.id)
		b.put(&schema.MemoryRSS, float64(st.MemoryRSS), ca.id)
		b.put(&schema.MemoryCache, float64(st.MemoryCache), ca.id)
	}
	if st.Have.Has(cgroups.HaveSwap) {
		b.put(&schema.MemorySwap, float64(st.MemorySwap), ca.id)
	}
	if st.Have.Has(cgroups.HaveIO) {
		b.put(&schema.DiskIO, float64(st.IOReadBytes), ca.ioRead)
		b.put(&schema.DiskIO, float64(st.IOWriteBytes), ca.ioWrite)
		b.put(&schema.DiskOperations, float64(st.IOReadOps), ca.ioRead)
		b.put(&schema.DiskOperations, float64(st.IOWriteOps), ca.ioWrite)
	}
	if st.Have.Has(cgroups.HavePids) {
		b.put(&schema.Pids, float64(st.Pids), ca.id)
	}
}

func observeAnalysis(b obs, ca *containerAttrs, r *analysis.Result) {
	b.put(&schema.ObservedTime, r.ObservedFor.Seconds(), ca.id)
	for _, w := range []struct {
		a     opts
		ratio float64
	}{{ca.idle1h, r.IdleRatio1h}, {ca.idle24h, r.IdleRatio24h}, {ca.idle7d, r.IdleRatio7d}} {
		if !math.IsNaN(w.ratio) {
			b.put(&schema.IdleRatio, w.ratio, w.a)
		}
	}
	b.put(&schema.ServerlessFit, float64(r.Score), ca.fit)
	for _, a := range ca.reasons {
		b.put(&schema.ServerlessReason, 1, a)
	}
	if r.Verdict == analysis.VerdictInsufficientData {
		return
	}
	b.put(&schema.ReservedCPU, r.Reserved.CPUCores, ca.reservedCPU)
	b.put(&schema.ReservedMemory, float64(r.Reserved.MemoryBytes), ca.reservedMem)
	b.put(&schema.Cost, r.CostPerHour, ca.id)
	b.put(&schema.IdleCost, r.IdleCostPerHour, ca.id)
	b.put(&schema.OverReservationCost, r.OverReservationWastePerMonth, ca.id)
	if r.Platform != "" {
		b.put(&schema.ServerlessCost, r.ServerlessMonthlyCost, ca.id)
		b.put(&schema.ServerlessSavings, r.SavingsPerMonth, ca.id)
	}
	if r.Bursts.Count > 0 {
		b.put(&schema.BurstDuration, r.Bursts.P50.Seconds(), ca.burstP50)
		b.put(&schema.BurstDuration, r.Bursts.P95.Seconds(), ca.burstP95)
		b.put(&schema.BurstDuration, r.Bursts.Max.Seconds(), ca.burstMax)
	}
}

func (o *observer) network(b obs, s *model.Snapshot, n *model.Network) {
	m := s.Containers[n.Owner].Meta
	ca := o.attrsOf(m)
	for i := range n.Interfaces {
		it := &n.Interfaces[i]
		ia := ca.iface(m, it.Name, o.gen)
		b.put(&schema.NetworkIO, float64(it.RxBytes), ia.rx)
		b.put(&schema.NetworkIO, float64(it.TxBytes), ia.tx)
		b.put(&schema.NetworkPackets, float64(it.RxPackets), ia.rx)
		b.put(&schema.NetworkPackets, float64(it.TxPackets), ia.tx)
		b.put(&schema.NetworkErrors, float64(it.RxErrors), ia.rx)
		b.put(&schema.NetworkErrors, float64(it.TxErrors), ia.tx)
		b.put(&schema.NetworkDropped, float64(it.RxDropped), ia.rx)
		b.put(&schema.NetworkDropped, float64(it.TxDropped), ia.tx)
	}
}

func (o *observer) host(b obs, s *model.Snapshot) {
	if !s.HostOK {
		return
	}
	h := &s.Host
	mode := func(v string) opts { return o.named("cpu.mode="+v, attribute.String("cpu.mode", v)) }
	b.put(&schema.HostCPUs, float64(h.CPUs), nil)
	b.put(&schema.HostCPUTime, h.CPUUserSeconds, mode("user"))
	b.put(&schema.HostCPUTime, h.CPUSystemSeconds, mode("system"))
	b.put(&schema.HostCPUTime, h.CPUIdleSeconds, mode("idle"))
	b.put(&schema.HostCPUTime, h.CPUIOWaitSeconds, mode("wait"))
	b.put(&schema.HostCPUTime, h.CPUOtherSeconds, mode("interrupt"))
	b.put(&schema.HostMemoryTotal, float64(h.MemoryTotal), nil)
	b.put(&schema.HostMemoryAvailable, float64(h.MemoryAvailable), nil)
	if h.FilesystemSize > 0 {
		mp := o.named("mountpoint="+h.FilesystemPath, attribute.String("mountpoint", h.FilesystemPath))
		b.put(&schema.HostFilesystemSize, float64(h.FilesystemSize), mp)
		b.put(&schema.HostFilesystemUsage, float64(h.FilesystemUsed), mp)
	}
}

func (o *observer) self(b obs, s *model.Snapshot) {
	self := &s.Self
	for _, c := range self.Collectors {
		a := o.named("collector="+c.Name, attribute.String("collector", c.Name))
		b.put(&schema.CollectorDuration, c.Duration.Seconds(), a)
		b.put(&schema.CollectorSuccess, boolValue(c.Success), a)
		b.put(&schema.CollectorErrors, float64(c.Errors), a)
	}
	state := func(v string) opts { return o.named("state="+v, attribute.String("state", v)) }
	b.put(&schema.TickLag, self.TickLag.Seconds(), nil)
	b.put(&schema.TickOverruns, float64(self.Overruns), nil)
	b.put(&schema.ContainersTracked, float64(self.Running), state("running"))
	b.put(&schema.ContainersTracked, float64(self.Stopped), state("stopped"))
	b.put(&schema.DiscoveryErrors, float64(self.DiscoveryErrors), nil)
	b.put(&schema.ContainerdUp, boolValue(self.ContainerdUp), nil)
	b.put(&schema.OpenFiles, float64(self.OpenFiles), nil)
	b.put(&schema.HistoryContainers, float64(self.HistoryContainers), nil)
	b.put(&schema.CheckpointFailures, float64(self.CheckpointFailures), nil)
	b.put(&schema.RestoreFailures, float64(self.RestoreFailures), nil)
	if !self.LastCheckpoint.IsZero() {
		b.put(&schema.CheckpointAge, s.Time.Sub(self.LastCheckpoint).Seconds(), nil)
	}
	if self.OTLPEnabled {
		b.put(&schema.OTLPExportFailures, float64(self.OTLPExportFailures), nil)
		b.put(&schema.OTLPExportPoints, float64(self.OTLPExportPoints), nil)
	}
}

func boolValue(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
