// Command fleetscope is the Fleetscope node agent and its command-line
// tools. It parses arguments and wires the packages together: the agent
// publishes snapshots; the exporters and the HTTP server, built and run
// here, read them. The logic lives in the packages.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	_ "time/tzdata" // analysis.time_zone works in images without a zone database

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/pricing"
)

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
  fleetscope plan [--url URL | --local] [--config FILE] [--out DIR]
                               write the change each verdict asks for, per workload: new
                               requests and limits, a sleep schedule (KEDA, kube-green), a
                               Knative Service or a function's size, each with its evidence
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
	case "plan":
		return cmdPlan(args[1:], stdout, stderr)
	case "check-config":
		return cmdCheckConfig(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return cmdVersion(stdout)
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

// loadConfig loads and validates, printing every problem at once, and
// picks the serverless platforms of its table for workloads built for
// arch (unless the configuration names the architectures).
func loadConfig(path, arch string, stderr io.Writer) (config.Config, bool) {
	cfg, err := config.Load(path, os.Environ())
	if fe := (*config.FieldErrors)(nil); err == nil || errors.As(err, &fe) {
		// Unknown keys do not hide the other problems.
		err = errors.Join(err, cfg.Validate())
	}
	if err == nil {
		cfg.Analysis.Platforms.Table, err = pricing.Platforms(cfg.Analysis, arch)
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

func newLogger(cfg config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
