// Command fleetscope is the Fleetscope node agent and its command-line
// tools. It parses arguments and wires the packages together: the agent
// publishes snapshots; the exporters and the HTTP server, built and run
// here, read them. The logic lives in the packages.
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
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/fleetscope/fleetscope/agent"
	"github.com/fleetscope/fleetscope/collectors/procfs"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/exporters/otlp"
	"github.com/fleetscope/fleetscope/exporters/promtext"
	"github.com/fleetscope/fleetscope/fleet"
	"github.com/fleetscope/fleetscope/report"
	"github.com/fleetscope/fleetscope/server"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

const usage = `Fleetscope finds the containers on this host that pay for capacity they do
not use, and says which of them would be cheaper as serverless.

Usage:
  fleetscope run [--config FILE] [--web.config.file FILE]
                               run the node agent (discovery, sampling, /metrics)
  fleetscope report [--url URL] [--by container|workload] [--output table|json|markdown]
                    [--namespace NS]... [--verdict V]...
                               ask a running agent which containers pay for idle time and
                               which should move to serverless, sorted by money wasted
  fleetscope report --prometheus URL [--by workload|container] [--namespace NS]...
                               the same for the whole fleet, from the store that holds every
                               node's series (Prometheus, Thanos, Mimir, VictoriaMetrics)
  fleetscope report --local [--duration 2m] [--config FILE]
                               sample this host for a while without a daemon, then report
  fleetscope check-config [--print] FILE
                               validate a configuration file; exit 2 if invalid
  fleetscope version           print the version
  fleetscope help              show this help

Every configuration key can also be set from the environment, e.g.
FLEETSCOPE_SAMPLING_INTERVAL=30s; "fleetscope help env" lists them all.
`

// exitInvalid is the exit status for an invalid configuration, distinct from
// runtime failures (1) so that scripts and init systems can tell them apart.
const exitInvalid = 2

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitInvalid
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stderr)
	case "report":
		return cmdReport(args[1:], stdout, stderr)
	case "check-config":
		return cmdCheckConfig(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "fleetscope %s (%s %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "--help", "-help":
		if len(args) > 1 && args[1] == "env" {
			fmt.Fprintln(stdout, strings.Join(config.EnvVars(), "\n"))
			fmt.Fprintln(stdout, "\nOpenTelemetry SDK variables, which win over the otlp section:")
			fmt.Fprintln(stdout, strings.Join(config.OTELEnvNames(), "\n"))
			return 0
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "fleetscope: unknown command %q\n\n%s", args[0], usage)
	return exitInvalid
}

// parseStatus is the exit status of a failed flag parse: 0 when help was
// asked for (-h, --help; the flag package has printed it), else that of an
// invalid invocation.
func parseStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return exitInvalid
}

// loadConfig loads and validates, printing every problem at once.
func loadConfig(path string, stderr io.Writer) (config.Config, bool) {
	cfg, err := config.Load(path, os.Environ())
	if fe := (*config.FieldErrors)(nil); err == nil || errors.As(err, &fe) {
		// Unknown keys do not hide the other problems.
		err = errors.Join(err, cfg.Validate())
	}
	if err != nil {
		name := path
		if name == "" {
			name = "configuration"
		}
		fmt.Fprintf(stderr, "%s is invalid:\n", name)
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "  %s\n", line)
		}
		return cfg, false
	}
	return cfg, true
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	print := fs.Bool("print", false, "print the effective configuration (defaults, file and environment merged)")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: fleetscope check-config [--print] FILE")
		return exitInvalid
	}
	cfg, ok := loadConfig(fs.Arg(0), stderr)
	if !ok {
		return exitInvalid
	}
	if *print {
		out, err := cfg.Redacted().YAML()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		stdout.Write(out)
		return 0
	}
	fmt.Fprintf(stdout, "%s is valid\n", fs.Arg(0))
	return 0
}

func newLogger(cfg config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

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

func cmdRun(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML); defaults and FLEETSCOPE_* variables apply without one")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web configuration file for TLS and basic auth (overrides web.config_file)")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	cfg, ok := loadConfig(*path, stderr)
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
		Currency: cfg.Analysis.Prices.Currency, PriceSource: cfg.Analysis.Prices.Source,
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

// listFlag collects a repeatable flag; commas separate values too.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

func cmdReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:10076", "base URL of the agent to ask")
	output := fs.String("output", "table", "table, json or markdown")
	by := fs.String("by", "container", "container, or workload: one row per Deployment, StatefulSet, DaemonSet, Job, CronJob or bare pod")
	local := fs.Bool("local", false, "sample this host without a daemon for --duration, then report")
	duration := fs.Duration("duration", 2*time.Minute, "with --local: how long to sample")
	path := fs.String("config", "", "with --local: configuration file")
	all := fs.Bool("all", false, "include pod sandboxes")
	promURL := fs.String("prometheus", "", "report on the whole fleet from this Prometheus HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics) instead of one agent")
	promUser := fs.String("prometheus.username", "", "with --prometheus: basic auth user")
	promPassFile := fs.String("prometheus.password-file", "", "with --prometheus: file holding the basic auth password")
	promTokenFile := fs.String("prometheus.bearer-token-file", "", "with --prometheus: file holding a bearer token")
	currency := fs.String("currency", "USD", "with --prometheus: the currency of the agents' price sheet, where their series do not say")
	wide := fs.Bool("wide", false, "do not shorten the WHY column to the terminal's width (JSON is never shortened)")
	var namespaces, verdicts listFlag
	fs.Var(&namespaces, "namespace", "only this (Kubernetes, else containerd) namespace; repeatable")
	fs.Var(&verdicts, "verdict", "only this verdict (function, serverless-container, scale-to-zero-schedule, rightsize, keep, insufficient-data); repeatable")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if *output != "table" && *output != "json" && *output != "markdown" {
		fmt.Fprintf(stderr, "report: --output must be table, json or markdown, got %q\n", *output)
		return exitInvalid
	}
	if *by != "container" && *by != "workload" {
		fmt.Fprintf(stderr, "report: --by must be container or workload, got %q\n", *by)
		return exitInvalid
	}
	var reps []report.Report
	switch {
	case *promURL != "":
		o := fleet.Options{URL: *promURL, Username: *promUser, Currency: *currency, PriceSource: "the agents' price sheets"}
		var err error
		if o.Password, err = secretFile("--prometheus.password-file", *promPassFile); err == nil {
			o.Bearer, err = secretFile("--prometheus.bearer-token-file", *promTokenFile)
		}
		if err != nil {
			reportError(stderr, err)
			return exitInvalid
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if reps, err = fleet.Reports(ctx, o); err != nil {
			// The store is unreachable, refuses us, or holds no data: a
			// problem with what was asked for, not a crash of ours.
			reportError(stderr, err)
			return exitInvalid
		}
	case *local:
		cfg, ok := loadConfig(*path, stderr)
		if !ok {
			return exitInvalid
		}
		rep, err := localReport(cfg, *duration, stderr)
		if err != nil {
			reportError(stderr, err)
			return 1
		}
		reps = []report.Report{rep}
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rep, err := report.Fetch(ctx, nil, *url)
		if err != nil {
			reportError(stderr, err)
			return 1
		}
		reps = []report.Report{rep}
	}
	var err error
	ro := report.Options{Format: *output}
	if !*wide {
		ro.Width = terminalWidth(stdout)
	}
	if *by == "workload" {
		wr := report.WorkloadsOf(reps)
		report.FilterWorkloads(&wr, namespaces)
		err = report.RenderWorkloads(stdout, wr, ro)
	} else {
		rep := merge(reps)
		report.Filter{Namespaces: namespaces, Verdicts: verdicts, WithSandboxes: *all}.Apply(&rep)
		err = report.Render(stdout, rep, ro)
	}
	if err != nil {
		reportError(stderr, err)
		return 1
	}
	return 0
}

// reportError prints an error of the report command. Its text may quote
// what an agent, a store or a container named: it is escaped, as the
// report's tables are, so that it cannot drive the terminal.
func reportError(stderr io.Writer, err error) {
	fmt.Fprintln(stderr, "report:", report.Escape(err.Error()))
}

// merge makes one container report of several nodes' reports.
func merge(reps []report.Report) report.Report {
	if len(reps) == 1 {
		return reps[0]
	}
	out := report.Report{Containers: []report.Container{}}
	var nodes []string
	for _, r := range reps {
		out.Currency, out.PriceSource = r.Currency, r.PriceSource
		if r.Time.After(out.Time) {
			out.Time = r.Time
		}
		nodes = append(nodes, r.Node)
		out.Containers = append(out.Containers, r.Containers...)
	}
	out.Node = fmt.Sprintf("%d nodes", len(nodes))
	return out
}

// secretFile reads a credential from a file, so that it never sits in the
// process list or the shell's history.
func secretFile(flagName, path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// localConnectTimeout is how long report --local waits for containerd
// before it gives up.
const localConnectTimeout = 10 * time.Second

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// terminalWidth is w's width in columns, 0 when it is not a terminal.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Col == 0 {
		return 0
	}
	return int(ws.Col)
}

// localReport runs the agent's collection and analysis in this process,
// without HTTP and without touching a daemon's state file. A quick look
// cannot wait for the daemon's minimum observation, so it is shortened to
// half the duration (history has minute resolution: at least a minute).
func localReport(cfg config.Config, d time.Duration, stderr io.Writer) (report.Report, error) {
	if d < 90*time.Second {
		return report.Report{}, fmt.Errorf("--duration must be at least 90s (history counts whole minutes), got %s", d)
	}
	// A quick look builds no exporter, so nothing half-observed reaches
	// the fleet's collector, whatever OTEL_* variables the shell carries.
	cfg.History.StateFile = ""
	cfg.Sampling.Jitter = 0
	if cfg.Sampling.Interval > 2*time.Second {
		cfg.Sampling.Interval = 2 * time.Second
	}
	cfg.Analysis.MinObservation = max(time.Minute, d/2)
	log := newLogger(config.LogConfig{Level: "warn", Format: "text"}, stderr)
	a, err := agent.New(cfg, log, buildVersion())
	if err != nil {
		return report.Report{}, err
	}
	fmt.Fprintf(stderr, "sampling every %s for %s...\n", cfg.Sampling.Interval, d)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	start, term := time.Now(), isTerminal(stderr)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var unreachable error
wait:
	for {
		select {
		case err := <-done:
			if err != nil {
				return report.Report{}, err
			}
			break wait
		case <-tick.C:
			s := a.Snapshot()
			// Without containerd there is nothing to report: say so
			// now rather than print an empty table at the end.
			if time.Since(start) >= localConnectTimeout && (s == nil || !s.Self.ContainerdUp) && unreachable == nil {
				reason := "no answer yet"
				if s != nil && s.Self.ContainerdReason != "" {
					reason = s.Self.ContainerdReason
				}
				unreachable = fmt.Errorf("containerd at %s could not be reached in %s: %s", cfg.Containerd.Socket, localConnectTimeout, reason)
				cancel()
			}
			if term && s != nil {
				el := time.Since(start).Truncate(time.Second)
				fmt.Fprintf(stderr, "\r%s of %s: %d containers (%d running)   ", el, d, len(s.Containers), s.Self.Running)
			}
		}
	}
	if term {
		fmt.Fprintln(stderr)
	}
	if unreachable != nil {
		return report.Report{}, unreachable
	}
	p := cfg.Analysis.Prices
	return report.FromSnapshot(a.Analysed(), p.Currency, p.Source), nil
}
