package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/internal/testenv"
	"github.com/fleetscope/fleetscope/report"
)

// podLabels are the CRI labels the kubelet puts on a pod's containers.
func podLabels(pod, kind, container string) map[string]string {
	l := map[string]string{
		"io.kubernetes.pod.name": pod, "io.kubernetes.pod.namespace": "fsct",
		"io.kubernetes.pod.uid": pod + "-uid", "io.cri-containerd.kind": kind,
	}
	if container != "" {
		l["io.kubernetes.container.name"] = container
	}
	return l
}

func hasCode(rs []report.Reason, code string) (report.Reason, bool) {
	i := slices.IndexFunc(rs, func(r report.Reason) bool { return r.Code == code })
	if i < 0 {
		return report.Reason{}, false
	}
	return rs[i], true
}

// A pod whose container crashes and is replaced under a new id, as the
// kubelet does: the new instance carries the history, a restart and the
// minutes it was down while the pod lived (paid, idle). A pod whose
// container listens on TCP is no function.
func TestRestartsAndListenersAgainstContainerd(t *testing.T) {
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const ns = "k8s.io"
	run := func(o testenv.RunOptions) int {
		t.Helper()
		o.Namespace = ns
		pid, err := d.Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}

	crashSB, first, second := testenv.RandomID(), testenv.RandomID(), testenv.RandomID()
	sbPid := run(testenv.RunOptions{ID: crashSB, Labels: podLabels("crashy", "sandbox", ""), Args: []string{"sleep", "3600"}})
	run(testenv.RunOptions{ID: first, Labels: podLabels("crashy", "container", "app"), NetNSFromPID: sbPid,
		Args: []string{"sh", "-c", "sleep 15; exit 1"}, CPUQuota: 100000, MemoryLimit: 256 << 20})

	srvSB, srv := testenv.RandomID(), testenv.RandomID()
	srvPid := run(testenv.RunOptions{ID: srvSB, Labels: podLabels("server", "sandbox", ""), Args: []string{"sleep", "3600"}})
	run(testenv.RunOptions{ID: srv, Labels: podLabels("server", "container", "web"), NetNSFromPID: srvPid,
		Args: []string{"httpd", "-f", "-p", "8080"}, CPUQuota: 100000, MemoryLimit: 256 << 20})

	a := startAgent(t, d.Socket, "analysis:\n  min_observation: 1m\n")
	a.waitReady(t)

	// Down for a while, then the "kubelet" starts a new instance.
	testenv.Eventually(t, time.Minute, "the first instance to exit", func() error {
		tasks, err := d.Tasks(ctx, ns)
		if err != nil {
			return err
		}
		for _, tk := range tasks {
			if tk.ID == first && tk.Status == "RUNNING" {
				return fmt.Errorf("still running")
			}
		}
		return nil
	})
	time.Sleep(90 * time.Second)
	run(testenv.RunOptions{ID: second, Labels: podLabels("crashy", "container", "app"), NetNSFromPID: sbPid,
		Args: []string{"sleep", "3600"}, CPUQuota: 100000, MemoryLimit: 256 << 20})

	var rep report.Report
	testenv.Eventually(t, 3*time.Minute, "verdicts with restarts and listeners", func() error {
		rep = a.report(t)
		c, s := find(rep, second), find(rep, srv)
		if c == nil || c.Analysis == nil || s == nil || s.Analysis == nil || s.Analysis.Verdict == "insufficient-data" {
			return fmt.Errorf("no verdicts yet")
		}
		if _, ok := hasCode(c.Analysis.Reasons, "restarts"); !ok {
			return fmt.Errorf("new instance: reasons %v", c.Analysis.Reasons)
		}
		return nil
	})
	c := find(rep, second).Analysis
	r, _ := hasCode(c.Reasons, "restarts")
	if !strings.Contains(r.Text, "restarted once") || c.IdleCostPerMonth <= 0 {
		t.Errorf("new instance: %q, idle cost %v a month; want one restart and the down time paid", r.Text, c.IdleCostPerMonth)
	}
	if slices.Contains(candidates, c.Verdict) {
		t.Errorf("crash-looping container: verdict %s, blockers %v", c.Verdict, c.Blockers)
	}
	s := find(rep, srv).Analysis
	// The default serverless table's function is Lambda; a listener moves
	// to one of its container platforms, the row that priced it named.
	if b, ok := hasCode(s.Blockers, "listener"); !ok || !strings.Contains(b.Text, "aws-lambda/us-east-1/") || s.Verdict == "function" {
		t.Errorf("listening server: verdict %s, blockers %v; want a listener blocker for the function platform", s.Verdict, s.Blockers)
	}
	if s.Verdict == "serverless-container" && (strings.HasPrefix(s.Platform, "aws-lambda/") || !strings.Contains(s.PlatformSource, "https://")) {
		t.Errorf("listening server on %q (%q), want a container platform and its source", s.Platform, s.PlatformSource)
	}
}
