package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/fleetscope/fleetscope/agent"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/report"
)

// localConnectTimeout is how long report --local waits for containerd
// before it gives up.
const localConnectTimeout = 10 * time.Second

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
	p := a.Prices()
	return report.FromSnapshot(a.Analysed(), p.Currency, p.Source), nil
}
