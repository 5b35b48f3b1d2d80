package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fleetscope/fleetscope/fleet"
	"github.com/fleetscope/fleetscope/report"
)

// listFlag collects a repeatable flag; commas separate values too.
type listFlag []string

var _ flag.Value = (*listFlag)(nil)

// fleetArch is the architecture a report's verdicts assume for the fleet's
// images unless its configuration names them: the machine a report runs
// on says nothing of the fleet's.
const fleetArch = "x86_64"

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// reportFlags are the report command's flags.
type reportFlags struct {
	url, output, by             string
	local                       bool
	duration                    time.Duration
	config                      string
	all, wide                   bool
	prometheus, promUser        string
	promPassFile, promTokenFile string
	currency, at, window        string
	namespaces, verdicts        listFlag
}

func (f *reportFlags) flagSet(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.url, "url", "http://127.0.0.1:10076", "base URL of the agent to ask")
	fs.StringVar(&f.output, "output", "table", "table, json or markdown")
	fs.StringVar(&f.by, "by", "container", "container, or workload: one row per Deployment, StatefulSet, DaemonSet, Job, CronJob or bare pod")
	fs.BoolVar(&f.local, "local", false, "sample this host without a daemon for --duration, then report")
	fs.DurationVar(&f.duration, "duration", 2*time.Minute, "with --local: how long to sample")
	fs.StringVar(&f.config, "config", "", "with --local, or --prometheus --by workload: configuration file (its prices and platforms)")
	fs.BoolVar(&f.all, "all", false, "include pod sandboxes")
	f.storeFlags(fs, " --by workload: judge")
	fs.BoolVar(&f.wide, "wide", false, "do not shorten the WHY column to the terminal's width (JSON is never shortened)")
	fs.Var(&f.namespaces, "namespace", "only this (Kubernetes, else containerd) namespace; repeatable")
	fs.Var(&f.verdicts, "verdict", "only this verdict (function, serverless-container, scale-to-zero-schedule, rightsize, keep, insufficient-data); repeatable")
	return fs
}

// storeFlags registers the flags of a fleet's store; judge says what the
// window is for.
func (f *reportFlags) storeFlags(fs *flag.FlagSet, judge string) {
	fs.StringVar(&f.window, "window", "7d", "with --prometheus"+judge+" each workload on every pod it had over this much of the store's history (e.g. 7d, 36h)")
	fs.StringVar(&f.prometheus, "prometheus", "", "the whole fleet from this Prometheus HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics) instead of one agent")
	fs.StringVar(&f.promUser, "prometheus.username", "", "with --prometheus: basic auth user")
	fs.StringVar(&f.promPassFile, "prometheus.password-file", "", "with --prometheus: file holding the basic auth password")
	fs.StringVar(&f.promTokenFile, "prometheus.bearer-token-file", "", "with --prometheus: file holding a bearer token")
	fs.StringVar(&f.at, "at", "", "with --prometheus: ask the store about this time (RFC 3339, e.g. 2026-12-01T00:00:00Z) instead of now")
	fs.StringVar(&f.currency, "currency", "USD", "with --prometheus: the currency of the agents' price sheet, where their series do not say")
}

// cmdReport asks an agent, the store of a whole fleet, or this host sampled
// for a while, and renders the answer by container or by workload.
func cmdReport(args []string, stdout, stderr io.Writer) int {
	var f reportFlags
	if err := f.flagSet(stderr).Parse(args); err != nil {
		return parseStatus(err)
	}
	if f.output != "table" && f.output != "json" && f.output != "markdown" {
		fmt.Fprintf(stderr, "report: --output must be table, json or markdown, got %q\n", f.output)
		return exitInvalid
	}
	if f.by != "container" && f.by != "workload" {
		fmt.Fprintf(stderr, "report: --by must be container or workload, got %q\n", f.by)
		return exitInvalid
	}
	var reps []report.Report
	var status int
	switch {
	case f.prometheus != "" && f.by == "workload":
		wr, status := f.workloadsFromPrometheus(stderr)
		if status != 0 {
			return status
		}
		if err := report.RenderWorkloads(stdout, wr, f.renderOptions(stdout)); err != nil {
			reportError(stderr, err)
			return 1
		}
		return 0
	case f.prometheus != "":
		reps, status = f.fromPrometheus(stderr)
	case f.local:
		reps, status = f.fromLocal(stderr)
	default:
		reps, status = f.fromAgent(stderr)
	}
	if status != 0 {
		return status
	}
	if err := f.render(stdout, reps); err != nil {
		reportError(stderr, err)
		return 1
	}
	return 0
}

// fromPrometheus reads every node's reports from a Prometheus-API store.
// A failure there is a problem with what was asked for (the store is
// unreachable, refuses us, or holds no data), not a crash of ours.
func (f *reportFlags) fromPrometheus(stderr io.Writer) ([]report.Report, int) {
	o, status := f.storeOptions(stderr)
	if status != 0 {
		return nil, status
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reps, err := fleet.Reports(ctx, o)
	if err != nil {
		reportError(stderr, err)
		return nil, exitInvalid
	}
	return reps, 0
}

// workloadsFromPrometheus judges every workload over the window from the
// store's evidence; where the agents predate it, it reports their current
// figures and says so.
func (f *reportFlags) workloadsFromPrometheus(stderr io.Writer) (report.WorkloadReport, int) {
	window, err := parseWindow(f.window)
	if err != nil {
		fmt.Fprintf(stderr, "report: --window: %s\n", report.Escape(err.Error()))
		return report.WorkloadReport{}, exitInvalid
	}
	cfg, ok := loadConfig(f.config, fleetArch, stderr)
	if !ok {
		return report.WorkloadReport{}, exitInvalid
	}
	o, status := f.storeOptions(stderr)
	if status != 0 {
		return report.WorkloadReport{}, status
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wr, err := fleet.Workloads(ctx, o, window, cfg.Analysis)
	if errors.Is(err, fleet.ErrNoEvidence) {
		fmt.Fprintf(stderr, "report: %s; showing the agents' current figures instead\n", report.Escape(err.Error()))
		reps, err := fleet.Reports(ctx, o)
		if err != nil {
			reportError(stderr, err)
			return report.WorkloadReport{}, exitInvalid
		}
		wr = report.WorkloadsOf(reps)
	} else if err != nil {
		reportError(stderr, err)
		return report.WorkloadReport{}, exitInvalid
	}
	report.FilterWorkloads(&wr, f.namespaces)
	return wr, 0
}

// parseWindow reads a window such as 7d, 36h or 90m.
func parseWindow(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 90 {
			return 0, fmt.Errorf("%q is not a number of days from 1 to 90", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Hour || d > 90*24*time.Hour {
		return 0, fmt.Errorf("%q is not a duration from 1h to 90d (e.g. 7d, 36h)", s)
	}
	return d, nil
}

// storeOptions are the options of the store --prometheus names.
func (f *reportFlags) storeOptions(stderr io.Writer) (fleet.Options, int) {
	o := fleet.Options{URL: f.prometheus, Username: f.promUser, Currency: f.currency, PriceSource: "the agents' price sheets"}
	var err error
	if f.at != "" {
		if o.At, err = time.Parse(time.RFC3339Nano, f.at); err != nil {
			fmt.Fprintf(stderr, "report: --at must be an RFC 3339 time such as 2026-12-01T00:00:00Z, got %q\n", report.Escape(f.at))
			return o, exitInvalid
		}
	}
	if o.Password, err = secretFile("--prometheus.password-file", f.promPassFile); err == nil {
		o.Bearer, err = secretFile("--prometheus.bearer-token-file", f.promTokenFile)
	}
	if err != nil {
		reportError(stderr, err)
		return o, exitInvalid
	}
	return o, 0
}

// fromLocal samples this host without a daemon.
func (f *reportFlags) fromLocal(stderr io.Writer) ([]report.Report, int) {
	cfg, ok := loadConfig(f.config, fleetArch, stderr)
	if !ok {
		return nil, exitInvalid
	}
	rep, err := localReport(cfg, f.duration, stderr)
	if err != nil {
		reportError(stderr, err)
		return nil, 1
	}
	return []report.Report{rep}, 0
}

// fromAgent asks a running agent.
func (f *reportFlags) fromAgent(stderr io.Writer) ([]report.Report, int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := report.Fetch(ctx, nil, f.url)
	if err != nil {
		reportError(stderr, err)
		return nil, 1
	}
	return []report.Report{rep}, 0
}

// render writes the reports, filtered, by container or by workload.
// renderOptions are the report's rendering options for stdout.
func (f *reportFlags) renderOptions(stdout io.Writer) report.Options {
	ro := report.Options{Format: f.output}
	if !f.wide {
		ro.Width = terminalWidth(stdout)
	}
	return ro
}

func (f *reportFlags) render(stdout io.Writer, reps []report.Report) error {
	ro := f.renderOptions(stdout)
	if f.by == "workload" {
		wr := report.WorkloadsOf(reps)
		report.FilterWorkloads(&wr, f.namespaces)
		return report.RenderWorkloads(stdout, wr, ro)
	}
	rep := merge(reps)
	report.Filter{Namespaces: f.namespaces, Verdicts: f.verdicts, WithSandboxes: f.all}.Apply(&rep)
	return report.Render(stdout, rep, ro)
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
