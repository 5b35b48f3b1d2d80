// Package agent is the Fleetscope daemon: it wires discovery, the sampling
// loop, the exporters and the HTTP server together and owns their
// lifecycles. One jittered ticker drives sampling; each tick publishes an
// immutable snapshot that everything else reads.
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
	"github.com/fleetscope/fleetscope/exporters/otlp"
	"github.com/fleetscope/fleetscope/model"
)

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
	otlp    *otlp.Exporter // nil when OTLP export is off

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
	api, err := containerd.Dial(cfg.Containerd.Socket, cfg.Containerd.ReconnectMaxBackoff)
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
		ExportLabels:   containerd.NewLabelFilter(cfg.Export.ContainerLabels),
		Logger:         log,
	})
	a := &Agent{
		cfg: cfg, log: log, version: version, node: node,
		api: api, disc: disc,
		storage: containerd.NewStorage(api, disc, cfg.Containerd.StorageInterval, cfg.Containerd.StorageBudget, log),
		sampler: NewSampler(cg, cfg.Host.ProcRoot, cfg.Sampling.KeepFilesOpen, disc, log.With("component", "sampler")),
		host:    host.New(cfg.Host.ProcRoot, cfg.Host.RootFilesystem),
		state:   newState(cfg, log),
	}
	a.otlp, err = otlp.New(context.Background(), cfg.OTLP, a, otlp.Options{Version: version, NodeName: node, MaxSeriesPerMetric: cfg.Export.MaxSeriesPerMetric, Log: log.With("component", "otlp")})
	if err != nil {
		api.Close()
		return nil, fmt.Errorf("otlp: %w", err)
	}
	log.Info("cgroup layout detected", "mode", cg.Mode().String(), "root", cfg.Host.CgroupRoot)
	return a, nil
}

// Snapshot returns the latest published snapshot, nil before the first.
func (a *Agent) Snapshot() *model.Snapshot { return a.snap.Load() }

// Run runs until ctx is done, then stops every part and returns. Only a
// failure to serve HTTP ends it early.
func (a *Agent) Run(ctx context.Context, srv *Server) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.disc.Run(gctx) })
	g.Go(func() error { return a.storage.Run(gctx) })
	g.Go(func() error { a.loop(gctx); return nil })
	if srv != nil {
		g.Go(func() error { return srv.Run(gctx) })
	}
	if a.otlp != nil {
		g.Go(func() error { return a.otlp.Run(gctx) })
	}
	err := g.Wait()
	// The loop has stopped, so history is ours: a clean shutdown always
	// leaves a current checkpoint.
	a.state.checkpoint(time.Now(), a.snap.Load())
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
	waiting:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
				break waiting
			case <-a.disc.Changed():
				// A container that just started shows now, not at the
				// next tick; only new containers are read.
				a.tick(ctx, time.Now(), 0, true)
			}
		}
	}
}

// tick samples and publishes a snapshot. With onlyNew it reads only newly
// discovered containers and carries the rest (and the host) over from the
// previous snapshot.
func (a *Agent) tick(ctx context.Context, now time.Time, lag time.Duration, onlyNew bool) {
	snap := &model.Snapshot{Time: now, Interval: a.cfg.Sampling.Interval, NodeName: a.node}
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
		err = a.host.Read(ctx, &snap.Host)
		snap.HostOK = err == nil || snap.Host.CPUs > 0
		if err != nil {
			a.hostErrs++
			a.log.Debug("host reading incomplete", "err", err)
		}
		hdur = time.Since(hstart)
	}

	running, stopped := 0, 0
	for i := range snap.Containers {
		sc := &snap.Containers[i]
		if u, ok := a.storage.Usage(sc.Meta.Namespace, sc.Meta.ID); ok {
			sc.HaveLayer, sc.Layer = true, u
		}
		if sc.Meta.Running() {
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
		ContainerdReason: h.Reason,
		OpenFiles:        a.sampler.OpenFiles(),
		Running:          running,
		Stopped:          stopped,
	}
	if a.otlp != nil {
		snap.Self.OTLPEnabled, snap.Self.OTLPExportFailures, snap.Self.OTLPExportPoints = true, a.otlp.Failures(), a.otlp.Points()
	}
	a.state.record(snap)
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
	a.state.analyse(&c)
	a.state.attach(&c)
	return &c
}
