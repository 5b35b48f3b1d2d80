package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/internal/testenv"
	"github.com/fleetscope/fleetscope/report"
)

func (a *agentProc) report(t *testing.T) report.Report {
	t.Helper()
	code, body, err := a.get("/api/v1/containers")
	if err != nil || code != 200 {
		t.Fatalf("GET /api/v1/containers: %d %v", code, err)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("decoding /api/v1/containers: %v", err)
	}
	return r
}

func find(r report.Report, id string) *report.Container {
	for i := range r.Containers {
		if r.Containers[i].ID == id {
			return &r.Containers[i]
		}
	}
	return nil
}

var candidates = []string{"function", "serverless-container", "scale-to-zero-schedule"}

// With short windows from config: an idle container becomes a serverless
// candidate, a busy one is kept, a GPU one is never a candidate; history
// survives an agent restart and a damaged state file is survived.
func TestAnalysisAgainstContainerd(t *testing.T) {
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const ns = "k8s.io"
	idle, busy, gpu := testenv.RandomID(), testenv.RandomID(), testenv.RandomID()
	for _, o := range []testenv.RunOptions{
		{ID: idle, Args: []string{"sleep", "3600"}, CPUQuota: 100000, MemoryLimit: 256 << 20},
		// No memory limit: its reservation is what it uses, so nothing
		// is over-reserved and the verdict is keep, not rightsize.
		{ID: busy, Args: []string{"sh", "-c", "while :; do :; done"}, CPUQuota: 20000, CPUShares: 262144,
			CgroupsPath: "/fsct-" + busy[:12]},
		{ID: gpu, Args: []string{"sleep", "3600"}, FakeGPU: true, CPUQuota: 100000, MemoryLimit: 256 << 20},
	} {
		o.Namespace = ns
		if _, err := d.Run(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	// A quick look without a daemon runs alongside and must reach the same
	// conclusion about the idle container.
	type localResult struct {
		out []byte
		err error
	}
	localDone := make(chan localResult, 1)
	go func() {
		cmd := exec.CommandContext(ctx, binary(t), "report", "--local", "--duration", "100s", "--output", "json")
		cmd.Env = append(agentEnv(), "FLEETSCOPE_CONTAINERD_SOCKET="+d.Socket)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, stderr.String())
		}
		localDone <- localResult{out, err}
	}()

	state := filepath.Join(t.TempDir(), "state", "fleetscope.state")
	extra := fmt.Sprintf("history:\n  state_file: %s\n  checkpoint_interval: 5s\nanalysis:\n  min_observation: 1m\n", state)
	a := startAgent(t, d.Socket, extra)
	a.waitReady(t)

	var rep report.Report
	testenv.Eventually(t, 4*time.Minute, "verdicts for every container", func() error {
		rep = a.report(t)
		for _, id := range []string{idle, busy, gpu} {
			c := find(rep, id)
			if c == nil || c.Analysis == nil || c.Analysis.Verdict == "insufficient-data" {
				return fmt.Errorf("container %s has no verdict yet", id[:12])
			}
		}
		return nil
	})
	ic, bc, gc := find(rep, idle).Analysis, find(rep, busy).Analysis, find(rep, gpu).Analysis
	if !slices.Contains(candidates[:2], ic.Verdict) || ic.IdleRatio["1h"] <= 0.9 || ic.SavingsPerMonth <= 0 {
		t.Errorf("idle container: verdict %s, idle ratio %v, saving %v; want a serverless verdict, > 0.9 idle, a saving",
			ic.Verdict, ic.IdleRatio, ic.SavingsPerMonth)
	}
	// 1 vCPU and 256 MiB reserved by its limits at the default prices.
	if want := (1*0.04048 + 0.25*0.004445) * 730; ic.CurrentMonthlyCost < want*0.999 || ic.CurrentMonthlyCost > want*1.001 {
		t.Errorf("idle container costs %v per month, want %v", ic.CurrentMonthlyCost, want)
	}
	if bc.Verdict != "keep" || bc.IdleRatio["1h"] > 0.1 {
		t.Errorf("busy container: verdict %s, idle ratio %v; want keep, ~0 idle", bc.Verdict, bc.IdleRatio)
	}
	if slices.Contains(candidates, gc.Verdict) || !slices.ContainsFunc(gc.Blockers, func(r report.Reason) bool { return r.Code == "gpu" }) {
		t.Errorf("GPU container: verdict %s, blockers %v; want no candidate verdict and a gpu blocker", gc.Verdict, gc.Blockers)
	}
	mfs := a.scrape(t)
	// Every metric the dashboard and the alert rules use must be one this
	// live agent really exports.
	exported := recordedNames(t)
	for name := range mfs {
		exported[name] = true
	}
	checkPackagingQueries(t, exported)
	if v, _, ok := value(mfs, "fleetscope_container_idle_ratio", map[string]string{"container_id": idle, "window": "1h"}); !ok || v <= 0.9 {
		t.Errorf("fleetscope_container_idle_ratio{window=1h} = %v (present %v)", v, ok)
	}
	if _, _, ok := value(mfs, "fleetscope_container_serverless_verdict", map[string]string{"container_id": idle, "verdict": ic.Verdict}); !ok {
		t.Error("no fleetscope_container_serverless_verdict series for the idle container's verdict")
	}
	if _, _, ok := value(mfs, "fleetscope_container_idle_cost_per_hour", map[string]string{"container_id": idle}); !ok {
		t.Error("no fleetscope_container_idle_cost_per_hour for the idle container")
	}

	// The report command against the running agent.
	out, err := exec.Command(binary(t), "report", "--url", "http://"+a.addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), idle) || !strings.Contains(string(out), ic.Verdict) {
		t.Errorf("fleetscope report: %v\n%s", err, out)
	}
	out, err = exec.Command(binary(t), "report", "--url", "http://"+a.addr, "--verdict", "keep", "--output", "markdown").CombinedOutput()
	if err != nil || !strings.Contains(string(out), busy) || strings.Contains(string(out), idle) {
		t.Errorf("fleetscope report --verdict keep: %v\n%s", err, out)
	}

	// Restart: the history continues rather than starting over.
	before := ic.ObservedSeconds
	stopAgent(t, a)
	a = startAgent(t, d.Socket, extra)
	a.waitReady(t)
	testenv.Eventually(t, 30*time.Second, "history restored after a restart", func() error {
		c := find(a.report(t), idle)
		if c == nil || c.Analysis == nil || c.Analysis.ObservedSeconds < before {
			return fmt.Errorf("observed %v after restart, had %v before", c, before)
		}
		return nil
	})
	if v, _, _ := value(a.scrape(t), "fleetscope_history_restore_failures_total", nil); v != 0 {
		t.Errorf("clean restart counted %v restore failures", v)
	}

	// SIGKILL: no shutdown checkpoint, so what survives is the last
	// periodic one (every 5 s here), which already holds what was observed
	// more than one interval before the kill.
	killedAt := find(a.report(t), idle).Analysis.ObservedSeconds
	time.Sleep(7 * time.Second)
	a.cmd.Process.Kill()
	<-a.done
	a = startAgent(t, d.Socket, extra)
	a.waitReady(t)
	testenv.Eventually(t, 30*time.Second, "history kept across SIGKILL", func() error {
		c := find(a.report(t), idle)
		if c == nil || c.Analysis == nil || c.Analysis.ObservedSeconds < killedAt {
			return fmt.Errorf("observed %+v after SIGKILL, had %v seconds before", c, killedAt)
		}
		return nil
	})
	stopAgent(t, a)

	// A truncated state file is moved aside; the agent starts fresh and
	// says so.
	data, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(state, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	a = startAgent(t, d.Socket, extra)
	a.waitReady(t)
	testenv.Eventually(t, 15*time.Second, "restore failure reported", func() error {
		if v, _, _ := value(a.scrape(t), "fleetscope_history_restore_failures_total", nil); v != 1 {
			return fmt.Errorf("fleetscope_history_restore_failures_total = %v", v)
		}
		code, body, err := a.get("/readyz")
		if err != nil || code != 200 || !strings.Contains(body, "restoring history") {
			return fmt.Errorf("readyz = %d %q %v", code, body, err)
		}
		return nil
	})
	if aside, _ := filepath.Glob(state + ".corrupt-*"); len(aside) != 1 {
		t.Errorf("damaged state file not moved aside: %v", aside)
	}
	stopAgent(t, a)

	res := <-localDone
	if res.err != nil {
		t.Fatalf("report --local: %v", res.err)
	}
	var local report.Report
	if err := json.Unmarshal(res.out, &local); err != nil {
		t.Fatalf("report --local output: %v\n%s", err, res.out)
	}
	if c := find(local, idle); c == nil || c.Analysis == nil || !slices.Contains(candidates[:2], c.Analysis.Verdict) {
		t.Errorf("report --local: idle container %+v, want a serverless verdict", c)
	}
}
