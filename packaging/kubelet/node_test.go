package kubelet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// kubeletVersion is the kubelet scripts/kubelet.sh builds by default.
const kubeletVersion = "v1.34.4"

// kubeletBinary returns the kubelet to run: FLEETSCOPE_KUBELET, else the
// one scripts/kubelet.sh caches under FLEETSCOPE_TOOLS.
func kubeletBinary() (string, error) {
	if p := os.Getenv("FLEETSCOPE_KUBELET"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("FLEETSCOPE_KUBELET: %w", err)
		}
		return p, nil
	}
	tools := os.Getenv("FLEETSCOPE_TOOLS")
	if tools == "" {
		tools = "/var/cache/fleetscope/tools"
	}
	p := filepath.Join(tools, "kubelet-"+kubeletVersion, "kubelet")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no kubelet at %s: run scripts/kubelet.sh (or set FLEETSCOPE_KUBELET)", p)
	}
	return p, nil
}

// needNode skips t (or fails it under FLEETSCOPE_INTEGRATION=1) unless this
// machine can run a node: the containerd test requirements, a built kubelet,
// helm, the loopback CNI plugin, unshare and ip. It returns the
// kubelet's and helm's paths.
func needNode(t *testing.T) (kubelet, helm string) {
	t.Helper()
	testenv.Need(t)
	var missing []string
	kubelet, err := kubeletBinary()
	if err != nil {
		missing = append(missing, err.Error())
	}
	helm, err = helmBinary()
	if err != nil {
		missing = append(missing, err.Error())
	}
	if _, err := os.Stat(cniLoopback); err != nil {
		missing = append(missing, cniLoopback+" not found: apt-get install containernetworking-plugins")
	}
	for _, bin := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin+" not found: apt-get install util-linux iproute2")
		}
	}
	if len(missing) == 0 {
		return kubelet, helm
	}
	msg := strings.Join(missing, "; ")
	if os.Getenv(testenv.IntegrationEnv) == "1" {
		t.Fatalf("%s=1 but %s", testenv.IntegrationEnv, msg)
	}
	t.Skip(msg)
	return "", ""
}

func helmBinary() (string, error) {
	if p, err := exec.LookPath("helm"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "helm")
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
		}
	}
	return "", errors.New("helm not found: go install helm.sh/helm/v3/cmd/helm@v3.22.0")
}

// cniLoopback is the loopback plugin of Debian's containernetworking-plugins.
const cniLoopback = "/usr/lib/cni/loopback"

// sandboxRef is the pod sandbox ("pause") image: busybox sleeping forever.
const sandboxRef = "localhost/fleetscope-sandbox:test"

// node is containerd with CRI and a standalone kubelet in a private mount
// namespace, all under dir.
type node struct {
	t         *testing.T
	dir       string
	socket    string
	manifests string
	name      string // the node name: static pods are named <pod>-<name>
	cmd       *exec.Cmd
	done      chan struct{}
}

// startNode writes the configuration of containerd, CNI and the kubelet and
// starts node.sh; the kubelet waits for startKubelet. Teardown, registered
// here, runs also when the test fails.
func startNode(t *testing.T, ctx context.Context, kubelet string) *node {
	t.Helper()
	dir := t.TempDir()
	sockDir, err := os.MkdirTemp("/run", "fsk-")
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dir: dir, socket: filepath.Join(sockDir, "containerd.sock"),
		manifests: filepath.Join(dir, "manifests"), name: strings.ToLower(host)}
	for _, d := range []string{n.manifests, filepath.Join(dir, "cni"), filepath.Join(dir, "kubelet")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A run that died without teardown may have left empty pod cgroups;
	// cgroups with processes in them mean another kubelet runs here, and
	// two cannot share /kubepods.
	if err := removeKubepods(); err != nil {
		t.Fatalf("/kubepods cgroups in use (does a kubelet run on this host?): %v", err)
	}

	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.internal.v1.opt"]

[grpc]
  address = %q
  tcp_address = ""

[ttrpc]
  address = %q

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # These machines refuse a lower OOM score; without this sandboxes fail
  # with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
    max_conf_num = 1
`, filepath.Join(dir, "containerd/root"), filepath.Join(dir, "containerd/state"), n.socket, n.socket+".ttrpc",
		sandboxRef, filepath.Dir(cniLoopback), filepath.Join(dir, "cni"))
	write(t, filepath.Join(dir, "containerd.toml"), conf)

	// The CRI plugin of containerd 1.6 refuses a plain loopback network
	// ("failed to find network info for sandbox"): it wants an eth0 with an
	// address in the result. The loopback plugin passes a static prevResult
	// through, so pods get a network namespace with lo only, and report
	// 127.0.0.1 as their IP. No bridge, no other address.
	write(t, filepath.Join(dir, "cni/10-loopback.conf"), `{
  "cniVersion": "0.4.0",
  "name": "fleetscope-test-lo",
  "type": "loopback",
  "prevResult": {
    "cniVersion": "0.4.0",
    "interfaces": [{"name": "eth0"}],
    "ips": [{"version": "4", "address": "127.0.0.1/8", "interface": 0}]
  }
}
`)

	kport, hport := freePort(t), freePort(t)
	write(t, filepath.Join(dir, "kubelet.yaml"), fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: %s
fileCheckFrequency: 2s
cgroupDriver: cgroupfs
failSwapOn: false
address: 127.0.0.1
port: %d
healthzBindAddress: 127.0.0.1
healthzPort: %d
readOnlyPort: 0
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
makeIPTablesUtilChains: false
resolvConf: ""
evictionHard: {}
containerRuntimeEndpoint: unix://%s
`, n.manifests, kport, hport, n.socket))

	script, err := filepath.Abs("node.sh")
	if err != nil {
		t.Fatal(err)
	}
	n.cmd = exec.Command("unshare", "--mount", "--propagation", "private", script, dir, kubelet)
	var out bytes.Buffer
	n.cmd.Stdout, n.cmd.Stderr = &out, &out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() {
		n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node.sh output:\n%s", out.String())
			for _, log := range []string{"containerd.log", "kubelet.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, log))
				t.Logf("%s (end):\n%s", log, tail(string(b), 40))
			}
		}
		n.teardown()
		os.RemoveAll(sockDir)
	})

	testenv.Eventually(t, 30*time.Second, "containerd with CRI answers", func() error {
		select {
		case <-n.done:
			return fmt.Errorf("node.sh exited: %s", out.String())
		default:
		}
		out, err := n.ctr(ctx, "plugins", "ls")
		if err != nil {
			return err
		}
		for line := range strings.Lines(out) {
			if f := strings.Fields(line); len(f) >= 4 && f[0] == "io.containerd.grpc.v1" && f[1] == "cri" {
				if f[3] != "ok" {
					return fmt.Errorf("CRI plugin %s", f[3])
				}
				return nil
			}
		}
		return fmt.Errorf("no CRI plugin in:\n%s", out)
	})
	return n
}

// startKubelet lets node.sh start the kubelet, which then runs every
// manifest already in the static pod directory.
func (n *node) startKubelet() {
	write(n.t, filepath.Join(n.dir, "start-kubelet"), "")
}

// ctr runs ctr in the k8s.io namespace, where the CRI plugin keeps pods.
func (n *node) ctr(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", n.socket, "-n", "k8s.io"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CONTAINERD_") })
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// container is a CRI container as containerd holds it.
type container struct {
	ID     string
	Pid    int
	Status string
	Labels map[string]string
}

func (c container) pod() string       { return c.Labels["io.kubernetes.pod.name"] }
func (c container) name() string      { return c.Labels["io.kubernetes.container.name"] }
func (c container) sandbox() bool     { return c.Labels["io.cri-containerd.kind"] == "sandbox" }
func (c container) running() bool     { return c.Status == "RUNNING" }
func (c container) namespace() string { return c.Labels["io.kubernetes.pod.namespace"] }

// containers lists the node's containers with their tasks.
func (n *node) containers(ctx context.Context) ([]container, error) {
	ids, err := n.ctr(ctx, "containers", "ls", "-q")
	if err != nil {
		return nil, err
	}
	tasks, err := n.ctr(ctx, "tasks", "ls")
	if err != nil {
		return nil, err
	}
	type task struct {
		pid    int
		status string
	}
	byID := make(map[string]task)
	for line := range strings.Lines(tasks) {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] != "TASK" {
			pid, _ := strconv.Atoi(f[1])
			byID[f[0]] = task{pid, f[2]}
		}
	}
	var cs []container
	for _, id := range strings.Fields(ids) {
		info, err := n.ctr(ctx, "containers", "info", id)
		if err != nil {
			continue // removed meanwhile
		}
		var c struct{ Labels map[string]string }
		if err := json.Unmarshal([]byte(info), &c); err != nil {
			return nil, fmt.Errorf("containers info %s: %w", id, err)
		}
		tk := byID[id]
		cs = append(cs, container{ID: id, Pid: tk.pid, Status: tk.status, Labels: c.Labels})
	}
	return cs, nil
}

// teardown stops the pods through the kubelet, then the kubelet, removes
// what is left through containerd, stops containerd, kills what remains of
// the namespace and removes the kubepods cgroups. Problems are logged.
func (n *node) teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logf := func(format string, args ...any) { n.t.Logf("teardown: "+format, args...) }

	if entries, err := os.ReadDir(n.manifests); err == nil {
		for _, e := range entries {
			os.Remove(filepath.Join(n.manifests, e.Name()))
		}
	}
	if n.pid("kubelet") > 0 {
		deadline := time.Now().Add(45 * time.Second)
		for time.Now().Before(deadline) {
			cs, err := n.containers(ctx)
			if err != nil || !slices.ContainsFunc(cs, container.running) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	n.stop("kubelet", 20*time.Second)
	if cs, err := n.containers(ctx); err == nil {
		for _, c := range cs {
			if c.Pid > 0 {
				n.ctr(ctx, "tasks", "kill", "-s", "SIGKILL", c.ID)
			}
		}
		for _, c := range cs {
			if c.Pid > 0 {
				n.ctr(ctx, "tasks", "delete", "-f", c.ID)
			}
			if _, err := n.ctr(ctx, "containers", "delete", c.ID); err != nil {
				logf("%v", err)
			}
		}
	}
	n.stop("containerd", 20*time.Second)
	// Shims name our socket on their command line.
	if pids, err := processesWithArg(n.socket); err == nil {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if n.cmd.Process != nil {
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		logf("node.sh did not exit")
	}
	var err error
	for range 20 {
		if err = removeKubepods(); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		n.t.Errorf("teardown: %v", err)
	}
}

// pid returns the pid node.sh recorded for name, or 0.
func (n *node) pid(name string) int {
	b, err := os.ReadFile(filepath.Join(n.dir, name+".pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// stop sends SIGTERM to name's process and SIGKILL after timeout.
func (n *node) stop(name string, timeout time.Duration) {
	pid := n.pid(name)
	if pid <= 0 || syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// removeKubepods removes the kubelet's /kubepods cgroup, children first, in
// every cgroup v1 hierarchy (and the unified one).
func removeKubepods() error {
	roots, err := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	if err != nil {
		return err
	}
	if _, err := os.Stat("/sys/fs/cgroup/kubepods"); err == nil {
		roots = append(roots, "/sys/fs/cgroup/kubepods")
	}
	var errs []error
	for _, root := range roots {
		fi, err := os.Lstat(root)
		if err != nil || !fi.IsDir() {
			continue // a symlinked hierarchy (cpu -> cpu,cpuacct) is removed through its target
		}
		var dirs []string
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.SortFunc(dirs, func(a, b string) int { return len(b) - len(a) })
		for _, d := range dirs {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}

// processesWithArg returns the pids whose command line has arg as one of
// its arguments.
func processesWithArg(arg string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if slices.Contains(strings.Split(string(cmdline), "\x00"), arg) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(addr, ":")
	p, _ := strconv.Atoi(port)
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
