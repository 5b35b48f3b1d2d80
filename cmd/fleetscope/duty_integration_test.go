package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// TestDutyCycleBelowTheSample: at the default 10 s interval, 1 s of work
// every 20 s is a function candidate busy at most 15 % of the time,
// measured by the bandwidth periods of a container with a 0.5-core quota
// and by fine sampling of the same container without a limit; a control
// busy 12 s of every 20 s is not a candidate (issue 26).
func TestDutyCycleBelowTheSample(t *testing.T) {
	t.Parallel()
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 16*time.Minute)
	defer cancel()
	const work = "while :; do timeout %d sh -c 'while :; do :; done'; sleep %d; done"
	quota, unlimited, control := testenv.RandomID(), testenv.RandomID(), testenv.RandomID()
	for _, o := range []testenv.RunOptions{
		{ID: quota, Args: []string{"sh", "-c", fmt.Sprintf(work, 1, 19)}, CPUQuota: 50000, MemoryLimit: 256 << 20},
		{ID: unlimited, Args: []string{"sh", "-c", fmt.Sprintf(work, 1, 19)}, MemoryLimit: 256 << 20},
		{ID: control, Args: []string{"sh", "-c", fmt.Sprintf(work, 12, 8)}, CPUQuota: 50000, MemoryLimit: 256 << 20},
	} {
		o.Namespace = "k8s.io"
		if _, err := d.Run(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// The default interval and fine sampling; a short minimum
	// observation.
	a := startAgent(t, d.Socket, "sampling:\n  interval: 10s\nanalysis:\n  min_observation: 3m\n")
	a.waitReady(t)

	var last string
	testenv.Eventually(t, 13*time.Minute, "duty cycles measured below the sample", func() error {
		rep := a.report(t)
		var errs []string
		for _, c := range []struct {
			id, name, from string
			candidate      bool
		}{
			{quota, "0.5-core quota", "periods", true},
			{unlimited, "no limit", "fine", true},
			{control, "control", "periods", false},
		} {
			ct := find(rep, c.id)
			if ct == nil || ct.Analysis == nil || ct.Analysis.Verdict == "insufficient-data" {
				errs = append(errs, c.name+": no verdict yet")
				continue
			}
			an := ct.Analysis
			busy := -1.0
			if an.BusyRatio != nil {
				busy = *an.BusyRatio
			}
			got := fmt.Sprintf("%s: verdict %s, busy %.3f from %q", c.name, an.Verdict, busy, an.BusyFrom)
			switch {
			case c.candidate && (an.Verdict != "function" || busy < 0 || busy > 0.15 || an.BusyFrom != c.from):
				errs = append(errs, got+"; want function, busy ≤ 0.15 from "+c.from)
			case !c.candidate && (slices.Contains(candidates, an.Verdict) || busy < 0.4):
				errs = append(errs, got+"; want no candidate, busy ≥ 0.4")
			}
			last += got + "\n"
		}
		if len(errs) > 0 {
			last = ""
			return fmt.Errorf("%v", errs)
		}
		return nil
	})
	t.Logf("verdicts:\n%s", last)
}
