//go:build guest

package guest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/internal/testenv"
	"github.com/fleetscope/fleetscope/report"
)

const (
	// currentRunc writes cgroup v2 weight by the current formula (one CPU
	// is 100), Debian's runc on PATH by the old one (one CPU is 39).
	currentRunc = "/usr/local/sbin/runc-current"
	agentAddr   = "127.0.0.1:10076"
	cgroupRoot  = "/sys/fs/cgroup"
	// Prices of the agent's config, so that the expected cost is
	// computed here from the same numbers.
	vcpuHour, gibHour = 0.04, 0.005
)

// box is one container of the node: its id is also its cgroup's name
// under /fsg.
type box struct {
	id   string
	opts testenv.RunOptions
	late bool // started after the agent
}

func (b box) cgroup() string { return filepath.Join(cgroupRoot, "fsg", b.id) }

// TestCgroupV2Node runs the agent against a real containerd on a cgroup v2
// kernel and holds what it reports against the kernel's own files.
func TestCgroupV2Node(t *testing.T) {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err != nil {
		t.Fatalf("not a cgroup v2 node: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Minute)
	defer cancel()
	d, err := testenv.StartContainerd(ctx, "/var/lib/fleetscope-guest")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Cleanup(context.Background())
	for _, r := range []string{"runc", currentRunc} {
		out, _ := exec.Command(r, "--version").Output()
		t.Logf("%s: %s", r, strings.SplitN(string(out), "\n", 2)[0])
	}

	idle := []string{"sleep", "1000000"}
	boxes := []box{
		{id: "req1-debian", opts: testenv.RunOptions{Args: idle, CPUShares: 1024, MemoryLimit: 128 << 20}},
		{id: "req05-debian", opts: testenv.RunOptions{Args: idle, CPUShares: 512}},
		{id: "req1-current", opts: testenv.RunOptions{Args: idle, CPUShares: 1024, MemoryLimit: 128 << 20, RuncBinary: currentRunc}},
		{id: "req05-current", opts: testenv.RunOptions{Args: idle, CPUShares: 512, RuncBinary: currentRunc}},
		{id: "besteffort-debian", opts: testenv.RunOptions{Args: idle, CPUShares: 2}},
		{id: "besteffort-current", opts: testenv.RunOptions{Args: idle, CPUShares: 2, RuncBinary: currentRunc}},
		{id: "busy", opts: testenv.RunOptions{Args: []string{"sh", "-c", "while :; do :; done"}, CPUQuota: 50000, CPUShares: 1024, RuncBinary: currentRunc}},
		{id: "mem", opts: testenv.RunOptions{Args: []string{"sh", "-c", "dd if=/dev/zero of=/cache bs=1M count=8 2>/dev/null; exec sleep 1000000"}, MemoryLimit: 64 << 20}},
		{id: "io", opts: testenv.RunOptions{Args: []string{"sh", "-c", "dd if=/dev/zero of=/data bs=1M count=32 conv=fsync 2>/dev/null; exec sleep 1000000"}}},
		// Three subshells, each growing a string until the OOM killer
		// kills it, then quiet: the kernel's count stops at 3.
		{id: "oom", opts: testenv.RunOptions{Args: []string{"sh", "-c", "for i in 1 2 3; do (a=0123456789abcdef; while :; do a=$a$a; done); done; exec sleep 1000000"},
			MemoryLimit: 24 << 20, RuncBinary: currentRunc}},
		{id: "pids", opts: testenv.RunOptions{Args: []string{"sh", "-c", "sleep 1000000 & sleep 1000000 & sleep 1000000 & wait"}, RuncBinary: currentRunc}},
		{id: "late-debian", late: true, opts: testenv.RunOptions{Args: idle, CPUShares: 1024}},
		{id: "late-current", late: true, opts: testenv.RunOptions{Args: idle, CPUShares: 1024, RuncBinary: currentRunc}},
	}
	start := func(b box) {
		t.Helper()
		b.opts.ID, b.opts.CgroupsPath = b.id, "/fsg/"+b.id
		if _, err := d.Run(ctx, b.opts); err != nil {
			t.Fatalf("%s: %v\n%s", b.id, err, d.LogTail(20))
		}
	}
	for _, b := range boxes {
		if !b.late {
			start(b)
		}
	}
	sandbox, app := startPod(t, ctx, d)

	a := startAgent(t)
	for _, b := range boxes {
		if b.late {
			start(b)
		}
	}
	ids := []string{sandbox, app}
	for _, b := range boxes {
		ids = append(ids, b.id)
	}
	// Every container found, those started before the agent and after,
	// each with its first analysis (a minute after it is first seen).
	var rep report.Report
	testenv.Eventually(t, 3*time.Minute, "every container analysed", func() error {
		if rep, err = api(); err != nil {
			return err
		}
		have := map[string]bool{}
		for _, c := range rep.Containers {
			have[c.ID] = c.Analysis != nil
		}
		for _, id := range ids {
			if !have[id] {
				return fmt.Errorf("%s not found or not analysed yet", id)
			}
		}
		return nil
	})
	if code := httpStatus("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz: %d", code)
	}

	t.Run("requests", func(t *testing.T) { checkRequests(t, boxes) })
	t.Run("best effort", func(t *testing.T) { checkBestEffort(t) })
	t.Run("limits", func(t *testing.T) { checkLimits(t) })
	t.Run("oom kills and throttling", func(t *testing.T) { checkKillsAndThrottling(t) })
	t.Run("cpu time live", func(t *testing.T) { checkCPULive(t) })
	t.Run("cpu time frozen", func(t *testing.T) { checkCPUFrozen(t, ctx, d) })
	t.Run("memory", func(t *testing.T) { checkMemory(t) })
	t.Run("io and layer", func(t *testing.T) { checkIO(t) })
	t.Run("pids", func(t *testing.T) { checkPids(t) })
	t.Run("pod network", func(t *testing.T) { checkNetwork(t, sandbox) })
	a.stop(t)
}

// startPod starts a pod: a sandbox and an app container in its network
// namespace, which gets eth0, one end of a veth pair, and some traffic.
func startPod(t *testing.T, ctx context.Context, d *testenv.Daemon) (sandbox, app string) {
	t.Helper()
	sandbox, app = testenv.RandomID(), testenv.RandomID()
	labels := func(kind, name string) map[string]string {
		l := map[string]string{"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop",
			"io.kubernetes.pod.uid": "web-0-uid", "io.cri-containerd.kind": kind}
		if name != "" {
			l["io.kubernetes.container.name"] = name
		}
		return l
	}
	pid, err := d.Run(ctx, testenv.RunOptions{ID: sandbox, Args: []string{"sleep", "1000000"}, Labels: labels("sandbox", ""),
		CgroupsPath: "/fsg/pod-" + sandbox[:12]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run(ctx, testenv.RunOptions{ID: app, Args: []string{"sleep", "1000000"}, Labels: labels("container", "web"),
		Annotations: map[string]string{"io.kubernetes.cri.sandbox-id": sandbox}, NetNSFromPID: pid,
		CgroupsPath: "/fsg/app-" + app[:12], RuncBinary: currentRunc}); err != nil {
		t.Fatal(err)
	}
	p := strconv.Itoa(pid)
	for _, args := range [][]string{
		{"ip", "link", "add", "fsg0", "type", "veth", "peer", "name", "eth0", "netns", p},
		{"ip", "addr", "add", "10.99.0.1/30", "dev", "fsg0"},
		{"ip", "link", "set", "fsg0", "up"},
		{"nsenter", "-t", p, "-n", "ip", "addr", "add", "10.99.0.2/30", "dev", "eth0"},
		{"nsenter", "-t", p, "-n", "ip", "link", "set", "eth0", "up"},
		{"ping", "-c", "20", "-i", "0.1", "-s", "1000", "10.99.0.2"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	return sandbox, app
}

type agentProc struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

func startAgent(t *testing.T) *agentProc {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`containerd:
  socket: %s
  storage_interval: 2s
  storage_budget: 1s
sampling:
  interval: 1s
  jitter: 0
web:
  listen_address: %s
history:
  state_file: %s
analysis:
  prices:
    vcpu_hour: %v
    gib_hour: %v
`, socketOf(t), agentAddr, filepath.Join(dir, "state.bin"), vcpuHour, gibHour)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{log: filepath.Join(dir, "agent.log"), done: make(chan error, 1)}
	logf, err := os.Create(a.log)
	if err != nil {
		t.Fatal(err)
	}
	a.cmd = exec.Command("/usr/bin/fleetscope", "run", "--config", path)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	// The agent refuses FLEETSCOPE_* variables it does not know, and the
	// test run has one.
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "FLEETSCOPE_") {
			a.cmd.Env = append(a.cmd.Env, e)
		}
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.done <- a.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if a.cmd.ProcessState == nil {
			a.cmd.Process.Kill()
			<-a.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(a.log)
			t.Logf("agent log:\n%s", tail(string(b), 40))
		}
	})
	return a
}

// stop ends the agent with SIGTERM, as the kubelet and systemd do: it
// must exit cleanly and soon, with no error in its log.
func (a *agentProc) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.done:
		if err != nil {
			t.Errorf("agent on SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("agent still running 15 s after SIGTERM")
	}
	b, _ := os.ReadFile(a.log)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("error in the agent's log: %s", line)
		}
	}
}

var socketOnce struct {
	sync.Once
	path string
}

// socketOf finds the containerd socket testenv made (one daemon a guest).
func socketOf(t *testing.T) string {
	socketOnce.Do(func() {
		m, _ := filepath.Glob("/run/fsct-*/containerd.sock")
		if len(m) == 1 {
			socketOnce.path = m[0]
		}
	})
	if socketOnce.path == "" {
		t.Fatal("no containerd socket under /run/fsct-*")
	}
	return socketOnce.path
}

// checkRequests: a 1024-share and a 512-share container are 1 and 0.5
// cores under both runcs, although each runc wrote a different weight,
// and the 1-CPU pod costs the same under both.
func checkRequests(t *testing.T, boxes []box) {
	wantWeight := map[string]uint64{"req1-debian": 39, "req05-debian": 20, "req1-current": 100, "req05-current": 59}
	for id, w := range wantWeight {
		if got := cgUint(t, box{id: id}.cgroup(), "cpu.weight", ""); got != w {
			t.Errorf("%s: cpu.weight %d, want %d (the runtime's formula)", id, got, w)
		}
	}
	snap := waitSnapshot(t)
	rep := snap.rep
	want := map[string]float64{"req1-debian": 1, "req05-debian": 0.5, "req1-current": 1, "req05-current": 0.5,
		"late-debian": 1, "late-current": 1, "busy": 1}
	for id, cores := range want {
		if got, ok := snap.value(schema.CPURequest.PromName(), id, nil); !ok || got != cores {
			t.Errorf("%s: %s = %v (%v), want %v", id, schema.CPURequest.PromName(), got, ok, cores)
		}
		c := rep.find(id)
		if c == nil || c.Analysis == nil {
			t.Errorf("%s: no analysis", id)
			continue
		}
		an := c.Analysis
		if id == "busy" {
			continue // its reservation is its limit
		}
		if an.ReservedCPUSource != analysis.SourceRequest || an.ReservedCPUCores != cores || an.ReservedCPURequestFrom != "spec" {
			t.Errorf("%s: reserved %v cores (%s, from %q), want %v (request, from the spec)", id, an.ReservedCPUCores, an.ReservedCPUSource, an.ReservedCPURequestFrom, cores)
		}
	}
	month := (1*vcpuHour + 0.125*gibHour) * analysis.HoursPerMonth
	for _, id := range []string{"req1-debian", "req1-current"} {
		if c := rep.find(id); c != nil && c.Analysis != nil && math.Abs(c.Analysis.CurrentMonthlyCost-month) > 1e-9 {
			t.Errorf("%s: %v a month, want %v (1 vCPU and 128 MiB)", id, c.Analysis.CurrentMonthlyCost, month)
		}
	}
}

// checkBestEffort: a BestEffort container (2 shares) has no request on
// /metrics, in the API and in the report the CLI prints, under both runcs.
func checkBestEffort(t *testing.T) {
	snap := waitSnapshot(t)
	out, err := exec.Command("/usr/bin/fleetscope", "report", "--url", "http://"+agentAddr, "--output", "json").Output()
	if err != nil {
		t.Fatalf("fleetscope report: %v", err)
	}
	var cli apiReport
	if err := json.Unmarshal(out, &cli.Report); err != nil {
		t.Fatalf("fleetscope report: %v\n%s", err, out)
	}
	for _, id := range []string{"besteffort-debian", "besteffort-current"} {
		if w := cgUint(t, box{id: id}.cgroup(), "cpu.weight", ""); w != 1 {
			t.Errorf("%s: cpu.weight %d, want 1", id, w)
		}
		if v, ok := snap.value(schema.CPURequest.PromName(), id, nil); ok {
			t.Errorf("%s: /metrics exports a request of %v cores", id, v)
		}
		for from, rep := range map[string]*apiReport{"the API": snap.rep, "the report": &cli} {
			c := rep.find(id)
			if c == nil || c.Analysis == nil {
				t.Errorf("%s: not in %s", id, from)
				continue
			}
			if a := c.Analysis; a.ReservedCPUSource != analysis.SourceObserved || a.ReservedCPURequestFrom != "" {
				t.Errorf("%s: %s reserves %v cores (%s, from %q), want no request", id, from, a.ReservedCPUCores, a.ReservedCPUSource, a.ReservedCPURequestFrom)
			}
		}
	}
	for _, id := range []string{"req1-debian", "req1-current"} {
		if c := cli.find(id); c == nil || c.Analysis == nil || c.Analysis.ReservedCPUCores != 1 {
			t.Errorf("%s: the report has %+v, want 1 core reserved", id, c)
		}
	}
}

func checkLimits(t *testing.T) {
	snap := waitSnapshot(t)
	if got, ok := snap.value(schema.CPULimit.PromName(), "busy", nil); !ok || got != 0.5 {
		t.Errorf("busy: CPU limit %v (%v), want 0.5 (cpu.max %q)", got, ok, cgString(t, box{id: "busy"}.cgroup(), "cpu.max"))
	}
	if got, ok := snap.value(schema.MemoryLimit.PromName(), "mem", nil); !ok || got != 64<<20 {
		t.Errorf("mem: memory limit %v (%v), want 64 MiB (memory.max %q)", got, ok, cgString(t, box{id: "mem"}.cgroup(), "memory.max"))
	}
}

// checkKillsAndThrottling holds the API's OOM kills against memory.events
// and the busy container's throttled share against cpu.stat: the v2 files
// the agent reads them from, on a real v2 kernel.
func checkKillsAndThrottling(t *testing.T) {
	oom := box{id: "oom"}.cgroup()
	// The agent reads the OOM file at most once a minute.
	testenv.Eventually(t, 3*time.Minute, "the OOM kills counted", func() error {
		want := cgUint(t, oom, "memory.events", "oom_kill")
		rep, err := api()
		if err != nil {
			return err
		}
		c := (&apiReport{rep}).find("oom")
		switch {
		case c == nil || c.OOMKills == nil:
			return fmt.Errorf("oom: no OOM kills in the API")
		case want != 3:
			return fmt.Errorf("memory.events says %d kills, the shell makes 3", want)
		case *c.OOMKills != want:
			return fmt.Errorf("oom: %d OOM kills, memory.events %d", *c.OOMKills, want)
		}
		return nil
	})
	snap := waitSnapshot(t)
	if got, ok := snap.value(schema.MemoryOOMKills.PromName(), "oom", nil); !ok || got != 3 {
		t.Errorf("oom: %s %v (%v), want 3", schema.MemoryOOMKills.PromName(), got, ok)
	}
	busy := box{id: "busy"}.cgroup()
	rep, err := api()
	if err != nil {
		t.Fatal(err)
	}
	want := float64(cgUint(t, busy, "cpu.stat", "nr_throttled")) / float64(cgUint(t, busy, "cpu.stat", "nr_periods"))
	c := (&apiReport{rep}).find("busy")
	// A loop under half a core is throttled in nearly every period; the
	// two readings are a sample apart.
	if c == nil || c.CPUThrottledRatio == nil || math.Abs(*c.CPUThrottledRatio-want) > 0.05 || want < 0.5 {
		t.Errorf("busy: throttled ratio %v, cpu.stat nr_throttled/nr_periods %.3f", c.CPUThrottledRatio, want)
	} else {
		t.Logf("busy: throttled ratio %.3f, cpu.stat %.3f", *c.CPUThrottledRatio, want)
	}
}

// checkCPULive holds the busy container's CPU time against usage_usec at
// the snapshot's time, interpolated between readings 50 ms apart.
func checkCPULive(t *testing.T) {
	cg := box{id: "busy"}.cgroup()
	type reading struct {
		at    time.Time
		usage float64
	}
	var (
		mu       sync.Mutex
		readings []reading
	)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			u := float64(cgUint(t, cg, "cpu.stat", "usage_usec")) / 1e6
			mu.Lock()
			readings = append(readings, reading{time.Now(), u})
			mu.Unlock()
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	snap := waitSnapshot(t)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	got := snap.sum(schema.CPUTime.PromName(), "busy")
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(readings); i++ {
		r0, r1 := readings[i-1], readings[i]
		if r1.at.Before(snap.rep.Time) {
			continue
		}
		f := float64(snap.rep.Time.Sub(r0.at)) / float64(r1.at.Sub(r0.at))
		want := r0.usage + f*(r1.usage-r0.usage)
		if want <= 0 || math.Abs(got-want) > 0.02*want {
			t.Errorf("busy: CPU time %.6f s, usage_usec says %.6f s at the snapshot", got, want)
		}
		t.Logf("busy: CPU time %.6f s, usage_usec %.6f s at the snapshot (%.2f%%)", got, want, 100*(got-want)/want)
		return
	}
	t.Errorf("no usage_usec reading brackets the snapshot at %v", snap.rep.Time)
}

// checkCPUFrozen pauses the busy container (cgroup.freeze) and then wants
// its CPU time to the microsecond.
func checkCPUFrozen(t *testing.T, ctx context.Context, d *testenv.Daemon) {
	if out, err := d.Ctr(ctx, "-n", "default", "task", "pause", "busy"); err != nil {
		t.Fatalf("pause: %v %s", err, out)
	}
	defer d.Ctr(ctx, "-n", "default", "task", "resume", "busy")
	cg := box{id: "busy"}.cgroup()
	testenv.Eventually(t, 30*time.Second, "busy frozen", func() error {
		if cgString(t, cg, "cgroup.freeze") != "1" || !strings.Contains(cgString(t, cg, "cgroup.events"), "frozen 1") {
			return fmt.Errorf("cgroup.events: %q", cgString(t, cg, "cgroup.events"))
		}
		return nil
	})
	frozen := cgUint(t, cg, "cpu.stat", "usage_usec")
	waitSnapshot(t)
	snap := waitSnapshot(t) // taken wholly after the freeze
	got := snap.sum(schema.CPUTime.PromName(), "busy")
	if us := math.Round(got * 1e6); us != float64(frozen) {
		t.Errorf("busy frozen: CPU time %.6f s, usage_usec %d", got, frozen)
	}
}

// checkMemory: the working set is memory.current − inactive_file.
func checkMemory(t *testing.T) {
	cg := box{id: "mem"}.cgroup()
	snap := waitSnapshot(t)
	want := float64(cgUint(t, cg, "memory.current", "") - cgUint(t, cg, "memory.stat", "inactive_file"))
	got, ok := snap.value(schema.MemoryWorkingSet.PromName(), "mem", nil)
	if !ok || math.Abs(got-want) > math.Max(0.02*want, 256<<10) {
		t.Errorf("mem: working set %v (%v), memory.current − inactive_file %v", got, ok, want)
	}
	if c := snap.rep.find("mem"); c == nil || c.WorkingSetBytes == nil || float64(*c.WorkingSetBytes) != got {
		t.Errorf("mem: the API's working set differs from /metrics' %v", got)
	}
}

// checkIO: written bytes as io.stat has them, and the writable layer.
func checkIO(t *testing.T) {
	cg := box{id: "io"}.cgroup()
	snap := waitSnapshot(t)
	var want uint64
	for _, line := range strings.Split(cgString(t, cg, "io.stat"), "\n") {
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "wbytes="); ok {
				n, _ := strconv.ParseUint(v, 10, 64)
				want += n
			}
		}
	}
	got, ok := snap.value(schema.DiskIO.PromName(), "io", map[string]string{"disk_io_direction": "write"})
	if !ok || want < 32<<20 || got != float64(want) {
		t.Errorf("io: %v bytes written (%v), io.stat says %d (at least 32 MiB)", got, ok, want)
	}
	testenv.Eventually(t, 30*time.Second, "the writable layer measured", func() error {
		s := waitSnapshot(t)
		if v, ok := s.value(schema.FilesystemUsage.PromName(), "io", nil); !ok || v < 32<<20 {
			return fmt.Errorf("writable layer %v (%v), want at least 32 MiB", v, ok)
		}
		return nil
	})
}

func checkPids(t *testing.T) {
	want := cgUint(t, box{id: "pids"}.cgroup(), "pids.current", "")
	snap := waitSnapshot(t)
	if got, ok := snap.value(schema.Pids.PromName(), "pids", nil); !ok || got != float64(want) || want != 4 {
		t.Errorf("pids: %v (%v), pids.current %d (want 4: sh and three sleeps)", got, ok, want)
	}
}

// checkNetwork: the pod's network is counted once, on the sandbox, not
// again on the app container that shares it.
func checkNetwork(t *testing.T, sandbox string) {
	snap := waitSnapshot(t)
	name := schema.NetworkIO.PromName()
	var eth0 []*sample
	for _, s := range snap.metrics[name] {
		if s.labels["k8s_pod_name"] == "web-0" && s.labels["network_interface_name"] == "eth0" {
			eth0 = append(eth0, s)
		}
	}
	if len(eth0) != 2 {
		t.Fatalf("pod web-0: %d %s series for eth0, want 2 (receive, transmit)", len(eth0), name)
	}
	for _, s := range eth0 {
		if s.value < 20*1000 {
			t.Errorf("pod web-0: eth0 %s %v bytes after 20 pings of 1,000 bytes", s.labels["network_io_direction"], s.value)
		}
	}
}

// snapshot is one rendering of /metrics with the API's answer of the same
// snapshot.
type snapshot struct {
	rep     *apiReport
	metrics map[string][]*sample
}

type sample struct {
	labels map[string]string
	value  float64
}

type apiReport struct{ report.Report }

func (r *apiReport) find(id string) *report.Container {
	for i := range r.Containers {
		if r.Containers[i].ID == id {
			return &r.Containers[i]
		}
	}
	return nil
}

// value is the one series of name for the container with the labels.
func (s *snapshot) value(name, id string, labels map[string]string) (float64, bool) {
	var out []float64
next:
	for _, m := range s.metrics[name] {
		if m.labels["container_id"] != id {
			continue
		}
		for k, v := range labels {
			if m.labels[k] != v {
				continue next
			}
		}
		out = append(out, m.value)
	}
	if len(out) != 1 {
		return 0, false
	}
	return out[0], true
}

// sum adds the container's series of name (e.g. CPU time's modes).
func (s *snapshot) sum(name, id string) float64 {
	var v float64
	for _, m := range s.metrics[name] {
		if m.labels["container_id"] == id {
			v += m.value
		}
	}
	return v
}

// waitSnapshot waits for the next tick and returns /metrics and the API
// of that one snapshot: /metrics is rendered once a snapshot, so an API
// answer of the same time before and after the scrape pins it.
func waitSnapshot(t *testing.T) *snapshot {
	t.Helper()
	first, err := api()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		before, err := api()
		if err != nil {
			t.Fatal(err)
		}
		if before.Time.Equal(first.Time) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		m, err := scrape()
		if err != nil {
			t.Fatal(err)
		}
		after, err := api()
		if err != nil {
			t.Fatal(err)
		}
		if after.Time.Equal(before.Time) {
			return &snapshot{rep: &apiReport{after}, metrics: m}
		}
		first = after
	}
	t.Fatal("no stable snapshot within 30 s")
	return nil
}

func api() (report.Report, error) {
	var r report.Report
	b, err := get("/api/v1/containers")
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

func scrape() (map[string][]*sample, error) {
	b, err := get("/metrics")
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(prommodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out := map[string][]*sample{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			s := &sample{labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.Counter != nil:
				s.value = m.GetCounter().GetValue()
			case m.Gauge != nil:
				s.value = m.GetGauge().GetValue()
			default:
				s.value = m.GetUntyped().GetValue()
			}
			out[name] = append(out[name], s)
		}
	}
	return out, nil
}

func get(path string) ([]byte, error) {
	resp, err := http.Get("http://" + agentAddr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b, err
}

func httpStatus(path string) int {
	resp, err := http.Get("http://" + agentAddr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func cgString(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Errorf("%v", err)
	}
	return strings.TrimSpace(string(b))
}

// cgUint reads a single-value file, or key's value in a keyed one.
func cgUint(t *testing.T, dir, file, key string) uint64 {
	t.Helper()
	s := cgString(t, dir, file)
	if key != "" {
		sc := bufio.NewScanner(strings.NewReader(s))
		s = ""
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), key+" "); ok {
				s = v
			}
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Errorf("%s %s %s: %v", dir, file, key, err)
	}
	return n
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
