package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
		// Names were checked to be Kubernetes names: no separator, no
		// "..", so the directory stays under out.
		dir := filepath.Join(*out, p.Namespace, p.Kind+"-"+p.Name)
		if err := writePlan(dir, p.Files); err != nil {
			reportError(stderr, err)
			return 1
		}
		if len(p.Files) > 0 {
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

// writePlan writes files into dir, and removes the files an earlier plan
// left there that this one does not have: a directory applied as a whole
// must not apply last week's schedule with this week's rightsizing. Each
// file is written beside its name and renamed onto it, so that a reader
// never sees half a file and a symbolic link in its place is replaced,
// not followed.
func writePlan(dir string, files []report.PlanFile) error {
	for _, name := range report.PlanFileNames {
		if !slices.ContainsFunc(files, func(f report.PlanFile) bool { return f.Name == name }) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	if len(files) == 0 {
		os.Remove(dir) // only if empty: the plan had files once, and nothing else is there
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		tmp, err := os.CreateTemp(dir, "."+f.Name+".*")
		if err != nil {
			return err
		}
		_, err = tmp.Write(f.Data)
		err = errors.Join(err, tmp.Chmod(0o644), tmp.Close())
		if err == nil {
			err = os.Rename(tmp.Name(), filepath.Join(dir, f.Name))
		}
		if err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("%s: %w", filepath.Join(dir, f.Name), err)
		}
	}
	return nil
}
