package main

import (
	"context"
	"fmt"
	"io"
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

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// These tests run the real fleetscope binary against a real containerd with
// real runc containers. They need root and Debian's containerd, runc and
// busybox-static; scripts/test.sh provides them.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the fleetscope command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fleetscope-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "fleetscope")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// agentProc is a running fleetscope binary.
type agentProc struct {
	cmd  *exec.Cmd
	addr string
	log  string
	done chan error
}

func startAgent(t *testing.T, socket string, extra string) *agentProc {
	t.Helper()
	return startAgentIn(t, socket, extra, "")
}

// startAgentIn starts the agent as startAgent does, inside the cgroup
// whose cgroup.procs file is procs (none if empty) from its first
// instruction, so that it sees its limit at start as under a kubelet.
func startAgentIn(t *testing.T, socket, extra, procs string) *agentProc {
	t.Helper()
	dir := t.TempDir()
	addr := freePort(t)
	sampling := "sampling:\n  interval: 1s\n  jitter: 0\n"
	if strings.Contains(extra, "sampling:") {
		sampling = ""
	}
	// Each agent gets a state file of its own: tests run in parallel and
	// must not restore each other's history.
	if !strings.Contains(extra, "history:") {
		sampling += "history:\n  state_file: " + filepath.Join(dir, "state.bin") + "\n"
	}
	cfg := fmt.Sprintf(`containerd:
  socket: %s
  relist_interval: 30s
  storage_interval: 2s
  storage_budget: 1s
  reconnect_max_backoff: 1s
%sweb:
  listen_address: %s
%s`, socket, sampling, addr, extra)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "run", "--config", cfgPath)
	if procs != "" {
		cmd = exec.Command("sh", "-c", `echo $$ >"$0" && exec "$@"`, procs, binary(t), "run", "--config", cfgPath)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = agentEnv()
	if !strings.Contains(extra, "sys_root:") {
		// No DMI data: a test machine that is an EC2 instance would
		// otherwise price the node from the built-in table, and the
		// tests that check costs at the default unit prices would fail.
		cmd.Env = append(cmd.Env, "FLEETSCOPE_HOST_SYS_ROOT="+dir)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{cmd: cmd, addr: addr, log: logPath, done: make(chan error, 1)}
	go func() { a.done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		if a.cmd.ProcessState == nil {
			a.cmd.Process.Kill()
			<-a.done
		}
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			lines := strings.Split(string(data), "\n")
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			t.Logf("agent log:\n%s", strings.Join(lines, "\n"))
		}
	})
	return a
}

// agentEnv is the test's environment without FLEETSCOPE_* variables: the
// agent rejects unknown ones, and the test run itself sets one.
func agentEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLEETSCOPE_") {
			env = append(env, kv)
		}
	}
	return env
}

func (a *agentProc) get(path string) (int, string, error) { return httpGet(a.addr, path) }

func httpGet(addr, path string) (int, string, error) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// waitReady waits for /readyz to answer 200.
func (a *agentProc) waitReady(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, "ready", func() error {
		code, body, err := a.get("/readyz")
		if err != nil || code != 200 {
			return fmt.Errorf("%d %s %v", code, body, err)
		}
		return nil
	})
}

// scrape returns /metrics parsed.
func (a *agentProc) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	code, body, err := a.get("/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// value finds the sample of family name whose labels include want.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, *dto.Metric, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, nil, false
	}
next:
	for _, m := range mf.Metric {
		have := map[string]string{}
		for _, lp := range m.Label {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), m, true
		case m.Counter != nil:
			return m.Counter.GetValue(), m, true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), m, true
		}
	}
	return 0, nil, false
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.Label {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// A missing socket at start keeps the agent up and unready, saying why.
// The API and profiles can live on a listener of their own (typically
// 127.0.0.1), away from the /metrics listener Prometheus reaches.
func TestAPIOnItsOwnListener(t *testing.T) {
	testenv.Need(t)
	apiAddr := freePort(t)
	// startAgent's config ends inside the web section.
	a := startAgent(t, filepath.Join(t.TempDir(), "missing.sock"), "  api_listen_address: "+apiAddr+"\n  pprof: true\n")
	testenv.Eventually(t, 10*time.Second, "both listeners", func() error {
		if _, _, err := a.get("/healthz"); err != nil {
			return err
		}
		_, _, err := httpGet(apiAddr, "/healthz")
		return err
	})
	for _, c := range []struct {
		addr, path string
		code       int
		body       string
	}{
		{a.addr, "/metrics", 200, "fleetscope_build_info"},
		{a.addr, "/api/v1/containers", 404, ""},
		{a.addr, "/debug/pprof/", 404, ""},
		{a.addr, "/", 200, "the API is served on " + apiAddr},
		{apiAddr, "/api/v1/containers", 200, `"containers"`},
		{apiAddr, "/debug/pprof/heap?debug=1", 200, "heap profile"},
		{apiAddr, "/metrics", 404, ""},
	} {
		code, body, err := httpGet(c.addr, c.path)
		if err != nil {
			t.Fatal(err)
		}
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("GET %s%s = %d %.200q, want %d with %q", c.addr, c.path, code, body, c.code, c.body)
		}
	}
}

func TestAgentWithoutContainerd(t *testing.T) {
	testenv.Need(t)
	// The state file's directory cannot be created (a file stands in its
	// way): checkpoints fail, and the agent says so and goes on.
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	extra := fmt.Sprintf("history:\n  state_file: %s\n  checkpoint_interval: 1s\n", filepath.Join(blocker, "state.bin"))
	a := startAgent(t, filepath.Join(t.TempDir(), "missing.sock"), extra)
	testenv.Eventually(t, 10*time.Second, "readyz explains", func() error {
		code, body, err := a.get("/readyz")
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "containerd not connected") ||
			!strings.Contains(body, "warning: writing checkpoint") {
			return fmt.Errorf("readyz = %d %q", code, body)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	select {
	case err := <-a.done:
		t.Fatalf("agent exited without containerd: %v", err)
	default:
	}
	mfs := a.scrape(t)
	if v, _, ok := value(mfs, "fleetscope_containerd_up", nil); !ok || v != 0 {
		t.Fatalf("fleetscope_containerd_up = %v (present %v), want 0", v, ok)
	}
	if v, _, _ := value(mfs, "fleetscope_discovery_errors_total", nil); v < 1 {
		t.Fatal("failed connection attempts are not counted")
	}
	if v, _, _ := value(mfs, "fleetscope_history_checkpoint_failures_total", nil); v < 1 {
		t.Fatal("failed checkpoints are not counted")
	}
	stopAgent(t, a)
}

// stopAgent sends SIGTERM and requires a clean exit within 5 s.
func stopAgent(t *testing.T, a *agentProc) {
	t.Helper()
	start := time.Now()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.done:
		if err != nil {
			t.Fatalf("agent exit after SIGTERM: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("agent took %v to stop", d)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("agent did not stop within 5 s of SIGTERM")
	}
}

func TestAgentAgainstContainerd(t *testing.T) {
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const ns = "k8s.io"
	idle, busy, sandbox, app, gpu := testenv.RandomID(), testenv.RandomID(), testenv.RandomID(), testenv.RandomID(), testenv.RandomID()

	if _, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: idle, Args: []string{"sleep", "3600"}}); err != nil {
		t.Fatal(err)
	}
	// A fifth of a core, enforced by CFS so the rate is steady. A
	// top-level cgroup with high shares keeps a loaded host from starving it.
	if _, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: busy, Args: []string{"sh", "-c", "while :; do :; done"},
		CPUQuota: 20000, CPUPeriod: 100000, CPUShares: 262144, CgroupsPath: "/fsct-" + busy[:12]}); err != nil {
		t.Fatal(err)
	}
	// The spec of this one grants an NVIDIA device (195:0).
	if _, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: gpu, Args: []string{"sleep", "3600"}, FakeGPU: true}); err != nil {
		t.Fatal(err)
	}
	podLabels := func(kind, container string) map[string]string {
		l := map[string]string{
			"io.kubernetes.pod.name": "web-1", "io.kubernetes.pod.namespace": "shop",
			"io.kubernetes.pod.uid": "3f1c-uid", "io.cri-containerd.kind": kind,
		}
		if container != "" {
			l["io.kubernetes.container.name"] = container
		}
		return l
	}
	sbPid, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: sandbox, Args: []string{"sleep", "3600"}, Labels: podLabels("sandbox", "")})
	if err != nil {
		t.Fatal(err)
	}
	// Its environment and a label that is not allow-listed hold secrets
	// that must never leave the agent.
	appLabels := podLabels("container", "nginx")
	appLabels["team"] = "payments"
	appLabels["secret.example.com/token"] = "hunter2-label"
	if _, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: app, Args: []string{"sleep", "3600"},
		Labels: appLabels, Env: []string{"DB_PASSWORD=hunter2-env"}, NetNSFromPID: sbPid, MemoryLimit: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	// The pod's network namespace gets a real interface (ctr sets up only
	// lo), so that network counters exist to attribute.
	veth := "fsv" + sandbox[:8]
	if out, err := exec.Command("ip", "link", "add", veth, "type", "veth", "peer", "name", veth+"p").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", veth).Run() })
	if out, err := exec.Command("ip", "link", "set", veth+"p", "netns", strconv.Itoa(sbPid)).CombinedOutput(); err != nil {
		t.Fatalf("ip link set netns: %v %s", err, out)
	}

	a := startAgent(t, d.Socket, "export:\n  container_labels: [team]\n")
	a.waitReady(t)

	// Discovery: every container appears within a tick of readiness.
	var mfs map[string]*dto.MetricFamily
	testenv.Eventually(t, 3*time.Second, "all containers discovered", func() error {
		mfs = a.scrape(t)
		for _, id := range []string{idle, busy, sandbox, app, gpu} {
			if _, _, ok := value(mfs, "container_memory_usage_bytes", map[string]string{"container_id": id}); !ok {
				_, body, _ := a.get("/metrics")
				var seen []string
				for _, l := range strings.Split(body, "\n") {
					if strings.HasPrefix(l, "fleetscope_container_info") || strings.HasPrefix(l, "fleetscope_collector") {
						seen = append(seen, l)
					}
				}
				return fmt.Errorf("container %s not reported; have:\n%s", id[:12], strings.Join(seen, "\n"))
			}
		}
		return nil
	})

	// Kubernetes metadata from the CRI labels.
	if _, m, ok := value(mfs, "fleetscope_container_info", map[string]string{"container_id": app}); !ok {
		t.Fatal("no info series for the app container")
	} else if label(m, "k8s_pod_name") != "web-1" || label(m, "k8s_namespace_name") != "shop" ||
		label(m, "container_name") != "nginx" || label(m, "k8s_pod_uid") != "3f1c-uid" || label(m, "fleetscope_pod_sandbox") != "false" ||
		label(m, "container_label_team") != "payments" {
		t.Fatalf("app info labels = %v", m.Label)
	}
	// Neither the environment nor a label off the allow-list is exported.
	for _, path := range []string{"/metrics", "/api/v1/containers"} {
		code, body, err := a.get(path)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, code, err)
		}
		if strings.Contains(body, "hunter2") || strings.Contains(body, "secret_example_com") || strings.Contains(body, "secret.example.com") {
			t.Errorf("%s exports a secret of the app container's environment or labels", path)
		}
	}
	if _, m, _ := value(mfs, "fleetscope_container_info", map[string]string{"container_id": sandbox}); m == nil || label(m, "fleetscope_pod_sandbox") != "true" {
		t.Fatal("sandbox not marked as such")
	}
	if _, m, _ := value(mfs, "fleetscope_container_info", map[string]string{"container_id": gpu}); m == nil || label(m, "fleetscope_gpu") != "true" {
		t.Fatal("GPU grant in the spec not detected")
	}
	if _, m, _ := value(mfs, "fleetscope_container_info", map[string]string{"container_id": idle}); m == nil || label(m, "fleetscope_gpu") != "false" {
		t.Fatal("idle container reported with a GPU")
	}
	if v, _, ok := value(mfs, "k8s_container_memory_limit_current_bytes", map[string]string{"container_id": app}); !ok || v != 64<<20 {
		t.Fatalf("app memory limit = %v (present %v), want %d", v, ok, 64<<20)
	}
	if v, _, ok := value(mfs, "k8s_container_cpu_limit_current", map[string]string{"container_id": busy}); !ok || v != 0.2 {
		t.Fatalf("busy cpu limit = %v (present %v), want 0.2", v, ok)
	}

	// Network: the pod's namespace is read once and attributed to the
	// sandbox, not repeated for the app container.
	testenv.Eventually(t, 3*time.Second, "pod network series", func() error {
		mfs = a.scrape(t)
		mf := mfs["k8s_pod_network_io_bytes_total"]
		if mf == nil {
			return fmt.Errorf("no network series")
		}
		n := 0
		for _, m := range mf.Metric {
			if label(m, "k8s_pod_name") == "web-1" {
				n++
				if label(m, "container_id") != sandbox || label(m, "network_interface_name") != veth+"p" {
					return fmt.Errorf("network series %v not attributed to the sandbox's %s", m.Label, veth+"p")
				}
			}
		}
		if n != 2 {
			return fmt.Errorf("pod has %d network io series, want 2 (rx, tx of one interface)", n)
		}
		return nil
	})

	// CPU: the busy container's rate matches containerd's own counters
	// within 10%, and the idle one stays below 0.01 cores.
	u1, err := d.TaskMetricsCPU(ctx, ns, busy)
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	var sum float64
	const samples = 5
	for range samples {
		time.Sleep(time.Second)
		v, _, ok := value(a.scrape(t), "container_cpu_usage", map[string]string{"container_id": busy})
		if !ok {
			t.Fatal("no cpu usage for the busy container")
		}
		sum += v
	}
	u2, err := d.TaskMetricsCPU(ctx, ns, busy)
	if err != nil {
		t.Fatal(err)
	}
	ctrRate := float64(u2-u1) / 1e9 / time.Since(t1).Seconds()
	agentRate := sum / samples
	if ctrRate < 0.1 || agentRate < ctrRate*0.9 || agentRate > ctrRate*1.1 {
		t.Fatalf("busy container: agent %.3f cores vs containerd %.3f cores (want within 10%%)", agentRate, ctrRate)
	}
	t.Logf("busy container: agent %.4f cores, containerd %.4f cores", agentRate, ctrRate)
	mfs = a.scrape(t)
	if v, _, ok := value(mfs, "container_cpu_usage", map[string]string{"container_id": idle}); !ok || v >= 0.01 {
		t.Fatalf("idle container uses %v cores (present %v), want < 0.01", v, ok)
	}

	// Storage: writable layers measured through the snapshotter.
	testenv.Eventually(t, 6*time.Second, "writable layer size", func() error {
		if _, _, ok := value(a.scrape(t), "container_filesystem_usage_bytes", map[string]string{"container_id": idle}); !ok {
			return fmt.Errorf("no container_filesystem_usage_bytes for the idle container")
		}
		return nil
	})

	// A killed and deleted container is gone within two ticks.
	if err := d.Remove(ctx, ns, idle); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	testenv.Eventually(t, 2*time.Second, "removed container gone", func() error {
		if _, _, ok := value(a.scrape(t), "fleetscope_container_info", map[string]string{"container_id": idle}); ok {
			return fmt.Errorf("still reported %v after removal", time.Since(removed).Round(time.Millisecond))
		}
		return nil
	})

	// containerd stops and comes back: the same agent process notices,
	// reconnects and goes on reporting.
	agentPid := a.cmd.Process.Pid
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "agent notices containerd is gone", func() error {
		if v, _, _ := value(a.scrape(t), "fleetscope_containerd_up", nil); v != 0 {
			return fmt.Errorf("fleetscope_containerd_up = %v", v)
		}
		return nil
	})
	before, _, _ := value(a.scrape(t), "container_cpu_time_seconds_total", map[string]string{"container_id": busy, "cpu_mode": "user"})
	if err := d.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "agent reconnects", func() error {
		mfs := a.scrape(t)
		if v, _, _ := value(mfs, "fleetscope_containerd_up", nil); v != 1 {
			return fmt.Errorf("fleetscope_containerd_up = %v", v)
		}
		after, _, ok := value(mfs, "container_cpu_time_seconds_total", map[string]string{"container_id": busy, "cpu_mode": "user"})
		if !ok || after <= before {
			return fmt.Errorf("busy container's cpu time did not advance: %v -> %v", before, after)
		}
		return nil
	})
	if a.cmd.Process.Pid != agentPid || a.cmd.ProcessState != nil {
		t.Fatal("the agent restarted")
	}
	stopAgent(t, a)
}

// With a long sample interval, a container that starts shows on /metrics
// within about a second (discovery's event triggers a read of just the new
// container), and one that is removed is gone as fast.
func TestNewContainerVisibleAtOnce(t *testing.T) {
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const ns = "k8s.io"
	if _, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: testenv.RandomID(), Args: []string{"sleep", "3600"}}); err != nil {
		t.Fatal(err)
	}
	// Ticks far apart, so that only the event-driven read can explain a
	// quick appearance.
	a := startAgent(t, d.Socket, "sampling:\n  interval: 30s\n  jitter: 0\n")
	a.waitReady(t)

	id := testenv.RandomID()
	if _, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: id, Args: []string{"sleep", "3600"}}); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	testenv.Eventually(t, 5*time.Second, "new container on /metrics", func() error {
		if _, _, ok := value(a.scrape(t), "container_memory_usage_bytes", map[string]string{"container_id": id}); !ok {
			return fmt.Errorf("not yet after %v", time.Since(started).Round(time.Millisecond))
		}
		return nil
	})
	visible := time.Since(started)
	t.Logf("new container visible %v after its start (interval 30s)", visible.Round(time.Millisecond))
	if visible > 2*time.Second {
		t.Errorf("new container took %v to show, want about a second", visible)
	}

	if err := d.Remove(ctx, ns, id); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	testenv.Eventually(t, 5*time.Second, "removed container gone", func() error {
		if _, _, ok := value(a.scrape(t), "fleetscope_container_info", map[string]string{"container_id": id}); ok {
			return fmt.Errorf("still there after %v", time.Since(removed).Round(time.Millisecond))
		}
		return nil
	})
	t.Logf("removed container gone %v after its removal", time.Since(removed).Round(time.Millisecond))
	stopAgent(t, a)
}
