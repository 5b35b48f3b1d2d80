package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/config"
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

	// The server is a Deployment's pod, as its sandbox's labels say.
	srvSB, srv, srvPod := testenv.RandomID(), testenv.RandomID(), "server-5d8f9c7b6-x2k4q"
	sbLabels := podLabels(srvPod, "sandbox", "")
	sbLabels["pod-template-hash"] = "5d8f9c7b6"
	srvPid := run(testenv.RunOptions{ID: srvSB, Labels: sbLabels, Args: []string{"sleep", "3600"}})
	run(testenv.RunOptions{ID: srv, Labels: podLabels(srvPod, "container", "web"), NetNSFromPID: srvPid,
		Annotations: map[string]string{"io.kubernetes.cri.sandbox-id": srvSB},
		Args:        []string{"httpd", "-f", "-p", "8080"}, CPUQuota: 100000, MemoryLimit: 256 << 20})

	// A shell whose subshells grow a string until the OOM killer kills
	// them, under a tenth of a core: killed for memory and throttled.
	oomy := testenv.RandomID()
	run(testenv.RunOptions{ID: oomy, Labels: podLabels("oomy", "container", "app"), CPUQuota: 10000, MemoryLimit: 24 << 20,
		Args: []string{"sh", "-c", "while :; do (a=0123456789abcdef; while :; do a=$a$a; done); sleep 1; done"}})

	// Three subshells killed for memory, then quiet: the kernel's count
	// stops at 3, for the agent's to be held against.
	oom3 := testenv.RandomID()
	run(testenv.RunOptions{ID: oom3, Labels: podLabels("oom3", "container", "app"), MemoryLimit: 24 << 20,
		Args: []string{"sh", "-c", "for i in 1 2 3; do (a=0123456789abcdef; while :; do a=$a$a; done); done; exec sleep 3600"}})

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
		if o := find(rep, oomy); o == nil || o.OOMKills == nil || *o.OOMKills == 0 {
			return fmt.Errorf("no OOM kill counted yet")
		}
		return nil
	})
	// The count equals the kernel's, from memory.oom_control on cgroup v1
	// (memory.events on v2), once the agent has read it again (once a
	// minute).
	oomFile := filepath.Join("/sys/fs/cgroup/memory", ns, oom3, "memory.oom_control")
	if _, err := os.Stat(oomFile); err != nil {
		oomFile = filepath.Join("/sys/fs/cgroup", ns, oom3, "memory.events")
	}
	testenv.Eventually(t, 3*time.Minute, "the OOM kills the kernel counts", func() error {
		b, err := os.ReadFile(oomFile)
		if err != nil {
			return err
		}
		var kernel uint64
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				kernel, err = strconv.ParseUint(v, 10, 64)
			}
		}
		if err != nil || kernel != 3 {
			return fmt.Errorf("%s: oom_kill %d (%v), the shell makes 3", oomFile, kernel, err)
		}
		c := find(a.report(t), oom3)
		if c == nil || c.OOMKills == nil {
			return fmt.Errorf("oom3: no OOM kills reported yet")
		}
		if *c.OOMKills != kernel {
			return fmt.Errorf("oom3: the agent says %d OOM kills, %s %d", *c.OOMKills, oomFile, kernel)
		}
		return nil
	})
	o := find(rep, oomy)
	if o.CPUThrottledRatio == nil || *o.CPUThrottledRatio <= 0 || *o.CPUThrottledRatio > 1 {
		t.Errorf("OOM-killed shell under a tenth of a core: throttled ratio %v, want in (0, 1]", o.CPUThrottledRatio)
	} else {
		t.Logf("OOM-killed shell: %d kills, throttled in %.0f%% of its periods", *o.OOMKills, *o.CPUThrottledRatio*100)
	}
	// The server's port, seen in its network namespace, is the one its
	// plan routes to.
	sc := find(rep, srv)
	if sc.ListenPort == nil || *sc.ListenPort != 8080 || sc.WorkloadKind != "Deployment" || sc.WorkloadName != "server" {
		t.Errorf("server: listen port %v, workload %s/%s; want 8080 of Deployment server", sc.ListenPort, sc.WorkloadKind, sc.WorkloadName)
	}
	for _, p := range report.Plans(rep, config.Default().Analysis) {
		if p.Name != "server" || p.Verdict != "serverless-container" {
			continue
		}
		t.Logf("server's plan: %s", p.Summary)
		i := slices.IndexFunc(p.Files, func(f report.PlanFile) bool { return f.Name == "knative-service.yaml" })
		if i < 0 || !strings.Contains(string(p.Files[i].Data), "containerPort: 8080") {
			t.Errorf("server's plan: %s, files %v", p.Summary, p.Files)
		}
	}
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
