package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/fleetscope/fleetscope/agent"
	"github.com/fleetscope/fleetscope/collectors/procfs"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/exporters/otlp"
	"github.com/fleetscope/fleetscope/exporters/promtext"
	"github.com/fleetscope/fleetscope/pricing"
	"github.com/fleetscope/fleetscope/server"
)

// agentGCPercent is the agent's GOGC unless the environment sets one. The
// agent allocates little once running (nothing per container per tick),
// so a collection is rare either way, and its heap is mostly long-lived
// history: at 50 the heap grows half as far past it before a collection,
// 1.7 MiB less RSS at 205 containers (29.4 against 31.1 MiB, two runs
// back to back) for no CPU that could be measured.
const agentGCPercent = 50

// tuneGC applies agentGCPercent where GOGC is not set.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(agentGCPercent)
	}
}

// The agent is the snapshot source of every reader wired here, and the
// OTLP exporter reports its health back into the agent's snapshots.
var (
	_ server.Source      = (*agent.Agent)(nil)
	_ promtext.Source    = (*agent.Agent)(nil)
	_ otlp.Source        = (*agent.Agent)(nil)
	_ agent.ExportHealth = (*otlp.Exporter)(nil)
)

// cmdRun runs the node agent with its exporters and HTTP server until a
// signal stops it.
func cmdRun(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML); defaults and FLEETSCOPE_* variables apply without one")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web configuration file for TLS and basic auth (overrides web.config_file)")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	cfg, ok := loadConfig(*path, pricing.NodeArch(), stderr)
	if !ok {
		return exitInvalid
	}
	if *webConfig != "" {
		cfg.Web.ConfigFile = *webConfig
	}
	log := newLogger(cfg.Log, stderr)
	tuneGC()
	// The agent's own cgroup, as it sees it: not the host's tree that
	// cgroups.root may name.
	mem := agent.NewMemoryGuard("/proc/self/cgroup", "/sys/fs/cgroup", log)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	a, err := agent.New(cfg, log, buildVersion())
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	push, err := otlp.New(ctx, cfg.OTLP, a, otlp.Options{
		Version: buildVersion(), NodeName: a.NodeName(), MaxSeriesPerMetric: cfg.Export.MaxSeriesPerMetric,
		Log: log.With("component", "otlp"),
	})
	if err != nil {
		log.Error("cannot start", "err", fmt.Errorf("otlp: %w", err))
		return 1
	}
	if push != nil {
		otlp.SDKErrorsTo(log.With("component", "otlp"))
		a.ReportExportHealth(push)
	}
	srv := server.New(a, metricsHandler(cfg, a, log), server.Options{
		Web: cfg.Web, Version: buildVersion(), Log: log,
		Currency: a.Prices().Currency, PriceSource: a.Prices().Source,
		Shed: mem.Shed,
	})
	if err := srv.Listen(); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	log.Info("fleetscope starting", "version", buildVersion(), "listen", cfg.Web.ListenAddress,
		"containerd", cfg.Containerd.Socket, "interval", cfg.Sampling.Interval.String())
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.Run(gctx) })
	g.Go(func() error { return srv.Run(gctx) })
	g.Go(func() error { return mem.Run(gctx) })
	if push != nil {
		g.Go(func() error { return push.Run(gctx) })
	}
	err = g.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped", "uptime", time.Since(start).Round(time.Second).String())
	return 0
}

// metricsHandler serves /metrics: the snapshot's text, then the Go runtime
// and process metrics of the agent itself.
func metricsHandler(cfg config.Config, src promtext.Source, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	if self, err := procfs.OpenSelf("/proc"); err != nil {
		log.Warn("no process_* series for the agent itself", "err", err)
	} else {
		reg.MustRegister(newSelfCollector(self, log))
	}
	w := promtext.New(src, promtext.Options{Version: buildVersion(), MaxSeriesPerMetric: cfg.Export.MaxSeriesPerMetric})
	return promtext.Handler(w, reg, log)
}
