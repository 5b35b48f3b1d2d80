// Command fleetscope is the Fleetscope node agent and its command-line
// tools. It only parses arguments and wires packages together; the logic
// lives in agent, collectors, exporters and config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/fleetscope/fleetscope/agent"
	"github.com/fleetscope/fleetscope/config"
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
	case "check-config":
		return cmdCheckConfig(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "fleetscope %s (%s %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "--help", "-help":
		if len(args) > 1 && args[1] == "env" {
			fmt.Fprintln(stdout, strings.Join(config.EnvVars(), "\n"))
			return 0
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "fleetscope: unknown command %q\n\n%s", args[0], usage)
	return exitInvalid
}

// loadConfig loads and validates, printing every problem at once.
func loadConfig(path string, stderr io.Writer) (config.Config, bool) {
	cfg, err := config.Load(path, os.Environ())
	if err == nil {
		err = cfg.Validate()
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
		return exitInvalid
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
		out, err := cfg.YAML()
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

func cmdRun(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML); defaults and FLEETSCOPE_* variables apply without one")
	webConfig := fs.String("web.config.file", "", "exporter-toolkit web configuration file for TLS and basic auth (overrides web.config_file)")
	if err := fs.Parse(args); err != nil {
		return exitInvalid
	}
	cfg, ok := loadConfig(*path, stderr)
	if !ok {
		return exitInvalid
	}
	if *webConfig != "" {
		cfg.Web.ConfigFile = *webConfig
	}
	log := newLogger(cfg.Log, stderr)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	a, err := agent.New(cfg, log, buildVersion())
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	log.Info("fleetscope starting", "version", buildVersion(), "listen", cfg.Web.ListenAddress,
		"containerd", cfg.Containerd.Socket, "interval", cfg.Sampling.Interval.String())
	start := time.Now()
	err = a.Run(ctx, agent.NewServer(a))
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped", "err", err)
		return 1
	}
	log.Info("stopped", "uptime", time.Since(start).Round(time.Second).String())
	return 0
}
