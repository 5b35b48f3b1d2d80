package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetscope/fleetscope/report"
)

// cmdPlan writes, per workload of an agent's (or this host's, or a fleet
// store's) report, the change its verdict asks for, and prints a summary
// line per workload.
func cmdPlan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:10076", "base URL of the agent to ask")
	local := fs.Bool("local", false, "sample this host without a daemon for --duration, then plan")
	duration := fs.Duration("duration", 2*time.Minute, "with --local: how long to sample")
	cfgPath := fs.String("config", "", "configuration file: the prices and the least saving a plan must make")
	out := fs.String("out", "fleetscope-plan", "directory the plans are written into, one directory per workload (namespace/kind-name)")
	var store reportFlags
	store.storeFlags(fs, ": plan")
	fs.Var(&store.namespaces, "namespace", "with --prometheus: only this namespace; repeatable")
	by := fs.String("by", "workload", "workload (the only choice: a plan changes a Deployment's, StatefulSet's, DaemonSet's or CronJob's spec, not one container's)")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if *by != "workload" {
		fmt.Fprintf(stderr, "plan: --by must be workload (a plan changes a workload's spec), got %q\n", *by)
		return exitInvalid
	}
	if store.prometheus != "" && *local {
		fmt.Fprintln(stderr, "plan: --prometheus and --local exclude each other")
		return exitInvalid
	}
	cfg, ok := loadConfig(*cfgPath, fleetArch, stderr)
	if !ok {
		return exitInvalid
	}
	var plans []report.Plan
	switch {
	case store.prometheus != "":
		// The fleet: every workload over the window, from every pod it had.
		store.config = *cfgPath
		wr, status := store.workloadsFromPrometheus(stderr)
		if status != 0 {
			return status
		}
		plans = report.FleetPlans(wr, cfg.Analysis)
	default:
		var rep report.Report
		var err error
		if *local {
			rep, err = localReport(cfg, *duration, stderr)
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			rep, err = report.Fetch(ctx, nil, *url)
			cancel()
		}
		if err != nil {
			reportError(stderr, err)
			return 1
		}
		plans = report.Plans(rep, cfg.Analysis)
	}
	written := 0
	for _, p := range plans {
		if len(p.Files) > 0 {
			// Names were checked to be Kubernetes names: no separator, no
			// "..", so the directory stays under out.
			dir := filepath.Join(*out, p.Namespace, p.Kind+"-"+p.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				reportError(stderr, err)
				return 1
			}
			for _, f := range p.Files {
				if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
					reportError(stderr, err)
					return 1
				}
			}
			written++
		}
		mark := " "
		if len(p.Files) > 0 && p.Recommended {
			mark = "✓"
		} else if len(p.Files) > 0 {
			mark = "!"
		}
		fmt.Fprintf(stdout, "%s %s/%s %s: %s\n", mark, report.Escape(p.Namespace), report.Escape(p.Kind), report.Escape(p.Name), report.Escape(p.Summary))
	}
	fmt.Fprintf(stdout, "\n%d of %d workloads have a plan, in %s (✓ recommended, ! for review only).\n", written, len(plans), report.Escape(*out))
	return 0
}
