// Package agent is the Fleetscope daemon's core: it runs discovery, the
// storage measurer and the sampling loop, feeds history and analysis, and
// publishes one immutable model.Snapshot per tick. It knows nothing of the
// exporters and the HTTP server that read those snapshots: the command
// wires them (as node_exporter's main does), so dependencies point one way,
// from the daemon's edges to its core.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/collectors/host"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/pricing"
)

// ExportHealth is an exporter's own health, published in each snapshot's
// Self (the OTLP exporter implements it).
type ExportHealth interface {
	Failures() uint64
	Points() uint64
}

// Agent is one running daemon.
type Agent struct {
	cfg     config.Config
	log     *slog.Logger
	version string
	node    string

	api     containerd.API
	disc    *containerd.Discovery
	storage *containerd.Storage
	sampler *Sampler
	host    *host.Collector
	state   *state
	export  ExportHealth // nil when no push exporter runs
	changed <-chan struct{}
	// priced is how the node is priced, price its form for snapshots.
	priced pricing.Priced
	price  *model.NodePrice

	snap     atomic.Pointer[model.Snapshot]
	overruns uint64
	hostErrs uint64
}

// New prepares an agent. It fails only for problems no retry can fix (an
// unusable cgroup root); a missing containerd is retried while running.
func New(cfg config.Config, log *slog.Logger, version string) (*Agent, error) {
	cg, err := cgroups.Detect(cfg.Host.CgroupRoot)
	if err != nil {
		return nil, fmt.Errorf("host.cgroup_root: %w", err)
	}
	// The labels kept per container are chosen as containerd's answers are
	// decoded: the ones the agent reads and the allow-listed ones, bounded;
	// any others a container carries never reach the agent's memory.
	exportLabels := containerd.NewLabelFilter(cfg.Export.ContainerLabels)
	labels := containerd.NewLabelPolicy(exportLabels, cfg.Containerd.WorkloadLabel)
	api, err := containerd.Dial(cfg.Containerd.Socket, cfg.Containerd.ReconnectMaxBackoff, containerd.WithLabelPolicy(labels))
	if err != nil {
		return nil, fmt.Errorf("containerd.socket: %w", err)
	}
	node := cfg.Host.NodeName
	if node == "" {
		node, _ = os.Hostname()
	}
	disc := containerd.New(api, containerd.Options{
		Namespaces:     cfg.Containerd.Namespaces,
		RelistInterval: cfg.Containerd.RelistInterval,
		MaxBackoff:     cfg.Containerd.ReconnectMaxBackoff,
		ExportLabels:   exportLabels,
		Labels:         labels,
		Logger:         log,
	})
	hc := host.New(cfg.Host.ProcRoot, cfg.Host.RootFilesystem)
	priced, err := resolvePrices(cfg, hc, log)
	if err != nil {
		api.Close()
		return nil, err
	}
	// Every cost is priced by the node's prices from here on.
	cfg.Analysis.Prices = priced.Prices
	if cfg.Analysis.Platforms.Table == nil {
		if cfg.Analysis.Platforms.Table, err = pricing.Platforms(cfg.Analysis, pricing.NodeArch()); err != nil {
			api.Close()
			return nil, err
		}
	}
	a := &Agent{
		cfg: cfg, log: log, version: version, node: node,
		api: api, disc: disc,
		storage: containerd.NewStorage(api, disc, cfg.Containerd.StorageInterval, cfg.Containerd.StorageBudget, log),
		sampler: NewSampler(cg, cfg.Host.ProcRoot, cfg.Sampling.KeepFilesOpen, disc, log.With("component", "sampler")),
		host:    hc,
		state:   newState(cfg, log),
		priced:  priced, price: nodePrice(priced),
	}
	a.sampler.WorkloadLabel = cfg.Containerd.WorkloadLabel
	a.sampler.SetFine(cfg.Sampling.Interval, cfg.Sampling.FineInterval, cfg.Sampling.FineMaxContainers, cfg.Analysis.Idle.CPUCores)
	a.changed = disc.Subscribe()
	log.Info("cgroup layout detected", "mode", cg.Mode().String(), "root", cfg.Host.CgroupRoot)
	return a, nil
}

// Prices are the unit prices the agent costs containers at, this node's
// (see package pricing), with their source.
func (a *Agent) Prices() config.PriceConfig { return a.priced.Prices }

// NodeName is the node the agent reports as: host.node_name, else the
// hostname.
func (a *Agent) NodeName() string { return a.node }

// Snapshot returns the latest published snapshot, nil before the first.
func (a *Agent) Snapshot() *model.Snapshot { return a.snap.Load() }

// ReportExportHealth makes each snapshot carry e's health. Call it before
// Run.
func (a *Agent) ReportExportHealth(e ExportHealth) { a.export = e }

// Run runs until ctx is done, then stops every part, writes a last
// checkpoint and returns; every goroutine it starts has ended by then.
func (a *Agent) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.disc.Run(gctx) })
	g.Go(func() error { return a.storage.Run(gctx) })
	g.Go(func() error { a.loop(gctx); return nil })
	err := g.Wait()
	// The loop has stopped, so history is ours: a clean shutdown always
	// leaves a current checkpoint.
	a.state.checkpoint(time.Now(), a.sampler.Sources())
	a.sampler.Close()
	a.api.Close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// loop ticks at the sample interval, each tick moved by a random jitter so
// that agents across a fleet do not read (and push) in lock step.
func (a *Agent) loop(ctx context.Context) {
	interval := a.cfg.Sampling.Interval
	next := time.Now()
	due := next // next plus this tick's jitter: what lag is measured from
	for {
		lag := time.Since(due)
		if lag < 0 {
			lag = 0
		}
		start := time.Now()
		a.tick(ctx, start, lag, false)
		took := time.Since(start)
		if took > interval {
			a.overruns++
		}
		// Schedule from the previous target, not from now, so the
		// average period stays exact; skip ticks we are too late for.
		next = next.Add(interval)
		for time.Until(next) < 0 {
			next = next.Add(interval)
		}
		j := a.cfg.Sampling.Jitter * float64(interval)
		wait := time.Until(next)
		if j > 0 {
			wait += time.Duration((rand.Float64()*2 - 1) * j / 2)
		}
		if wait < 0 {
			wait = 0
		}
		due = time.Now().Add(wait)
		timer := time.NewTimer(wait)
		// Fine readings run only while some container needs them.
		var fine <-chan time.Time
		var fineTicker *time.Ticker
		if fi := a.sampler.FineInterval(); fi > 0 {
			fineTicker = time.NewTicker(fi)
			fine = fineTicker.C
		}
	waiting:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				if fineTicker != nil {
					fineTicker.Stop()
				}
				return
			case <-timer.C:
				break waiting
			case now := <-fine:
				a.sampler.SampleFine(now)
			case <-a.changed:
				// A container that just started shows now, not at the
				// next tick; only new containers are read.
				a.tick(ctx, time.Now(), 0, true)
			}
		}
		if fineTicker != nil {
			fineTicker.Stop()
		}
	}
}

// tick samples and publishes a snapshot. With onlyNew it reads only newly
// discovered containers and carries the rest (and the host) over from the
// previous snapshot.
func (a *Agent) tick(ctx context.Context, now time.Time, lag time.Duration, onlyNew bool) {
	snap := &model.Snapshot{Time: now, Interval: a.cfg.Sampling.Interval, NodeName: a.node, Currency: model.Clean(a.cfg.Analysis.Prices.Currency), Price: a.price}
	var res tickResult
	var err error
	var hdur time.Duration
	if onlyNew {
		res = a.sampler.SampleNew(now, snap)
		if prev := a.snap.Load(); prev != nil {
			snap.Host, snap.HostOK = prev.Host, prev.HostOK
		}
	} else {
		res = a.sampler.Sample(now, snap)
		hstart := time.Now()
		var hs host.Stats
		err = a.host.Read(ctx, &hs)
		snap.Host, snap.HostOK = hostOf(&hs), err == nil || hs.CPUs > 0
		if err != nil {
			a.hostErrs++
			a.log.Debug("host reading incomplete", "err", err)
		}
		hdur = time.Since(hstart)
	}

	running, stopped := 0, 0
	srcs := a.sampler.Sources()
	for i := range snap.Containers {
		sc := &snap.Containers[i]
		if u, ok := a.storage.Usage(srcs[i].Namespace, srcs[i].ID); ok {
			sc.HaveLayer, sc.LayerBytes, sc.LayerInodes = true, uint64(max(u.Bytes, 0)), uint64(max(u.Inodes, 0))
		}
		if sc.Running {
			running++
		} else {
			stopped++
		}
	}
	h := a.disc.Health()
	snap.Self = model.Self{
		Collectors: []model.CollectorStatus{
			{Name: "cgroups", Duration: res.cgroupDur, Success: res.cgroupOK, Errors: a.sampler.cgroupErrs},
			{Name: "netstat", Duration: res.netDur, Success: res.netOK, Errors: a.sampler.netErrs},
			{Name: "host", Duration: hdur, Success: err == nil, Errors: a.hostErrs},
			{Name: "storage", Success: a.storage.Errors() == 0, Errors: a.storage.Errors()},
			{Name: "containerd", Success: h.Connected, Errors: a.disc.Errors()},
		},
		TickLag:          lag,
		TickDuration:     time.Since(now),
		Overruns:         a.overruns,
		DiscoveryErrors:  a.disc.Errors(),
		ContainerdUp:     h.Connected,
		ContainerdSince:  h.Since,
		ContainerdReason: model.Clean(h.Reason),
		OpenFiles:        a.sampler.OpenFiles(),
		Running:          running,
		Stopped:          stopped,
	}
	if a.export != nil {
		snap.Self.OTLPEnabled, snap.Self.OTLPExportFailures, snap.Self.OTLPExportPoints = true, a.export.Failures(), a.export.Points()
	}
	a.state.record(snap, srcs)
	a.state.fillSelf(snap)
	a.snap.Store(snap)
}

// Analysed returns the latest snapshot with the analysis recomputed from
// all history up to now. It uses the loop's state, so call it only after
// Run has returned; `fleetscope report --local` does.
func (a *Agent) Analysed() *model.Snapshot {
	s := a.snap.Load()
	if s == nil {
		return nil
	}
	c := *s
	c.Containers = slices.Clone(s.Containers)
	srcs := a.sampler.Sources()
	a.state.analyse(&c, srcs)
	a.state.attach(&c, srcs)
	return &c
}
