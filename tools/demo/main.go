// Command demo shows Fleetscope's main job on one machine: it starts a
// private containerd, runs a few idle and busy containers in namespace
// k8s.io (some labelled like Kubernetes pods), runs the fleetscope agent
// against them for a while and prints what it found. Everything it starts
// is removed at the end, also on Ctrl-C.
//
//	sudo go run ./tools/demo -duration 30s
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

func main() {
	duration := flag.Duration("duration", 3*time.Minute, "how long the agent observes the containers (history counts whole minutes: at least 2m)")
	bin := flag.String("fleetscope", "", "fleetscope binary (default: build it)")
	keep := flag.Bool("keep", false, "leave containerd, the containers and the agent running until Ctrl-C")
	flag.Parse()
	if err := run(*duration, *bin, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

type demoContainer struct {
	what string
	opts testenv.RunOptions
}

// podLabels are the CRI labels of a container of pod name, as containerd's
// CRI plugin sets them; kind is "sandbox" or "container".
func podLabels(name, kind, container string) map[string]string {
	l := map[string]string{"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": "demo",
		"io.kubernetes.pod.uid": name + "-uid", "io.cri-containerd.kind": kind}
	if container != "" {
		l["io.kubernetes.container.name"] = container
	}
	return l
}

// demoContainers are an idle, a bursty and a busy container, so that the
// report shows different verdicts.
var demoContainers = []demoContainer{
	{"idle: sleeps all day", testenv.RunOptions{ID: "idle-worker", Labels: podLabels("idle-worker", "container", "worker"),
		Args: []string{"sleep", "86400"}, CPUQuota: 100000, MemoryLimit: 512 << 20}},
	{"bursty: 1 s of work every 20 s", testenv.RunOptions{ID: "cron-like", Labels: podLabels("cron-like", "container", "job"),
		Args:     []string{"sh", "-c", "while :; do end=$(($(date +%s)+1)); while [ $(date +%s) -lt $end ]; do :; done; sleep 20; done"},
		CPUQuota: 50000, MemoryLimit: 256 << 20}},
	{"busy: half a core, always", testenv.RunOptions{ID: "busy-api", Labels: podLabels("busy-api", "container", "api"),
		Args: []string{"sh", "-c", "while :; do :; done"}, CPUQuota: 50000, CPUShares: 262144, CgroupsPath: "/fleetscope-demo-busy"}},
}

func run(duration time.Duration, bin string, keep bool) error {
	if duration < 2*time.Minute {
		return fmt.Errorf("-duration must be at least 2m: history counts whole minutes")
	}
	if why := testenv.Requirements(); why != "" {
		return fmt.Errorf("cannot run here: %s", why)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("", "fleetscope-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "fleetscope")
		step("building fleetscope")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/fleetscope").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}

	step("starting a private containerd")
	d, err := testenv.StartContainerd(ctx, filepath.Join(dir, "containerd"))
	if err != nil {
		return err
	}
	defer func() {
		step("cleaning up containers and containerd")
		d.Cleanup(context.Background())
	}()
	if err := runContainers(ctx, d); err != nil {
		return err
	}

	addr, err := testenv.FreeAddr()
	if err != nil {
		return err
	}
	agent, logPath, err := startAgent(bin, dir, d.Socket, addr, duration)
	if err != nil {
		return err
	}
	defer func() {
		agent.Process.Signal(syscall.SIGTERM)
		agent.Wait()
	}()
	fmt.Printf("    metrics at http://%s/metrics\n", addr)

	step(fmt.Sprintf("observing for %s", duration))
	select {
	case <-time.After(duration):
	case <-ctx.Done():
		return nil
	}
	if err := show(ctx, bin, dir, addr, logPath); err != nil {
		return err
	}
	if keep {
		step("running until Ctrl-C")
		<-ctx.Done()
	}
	return nil
}

// runContainers starts demoContainers in namespace k8s.io.
func runContainers(ctx context.Context, d *testenv.Daemon) error {
	step("running demo pods (a Deployment each) in namespace k8s.io")
	for _, c := range demoContainers {
		// The pod's sandbox carries its labels, as the kubelet's does: the
		// workload each pod belongs to, so that plans name it.
		pod := c.opts.Labels["io.kubernetes.pod.name"]
		sb := podLabels(pod, "sandbox", "")
		sb["fleetscope.io/workload-kind"], sb["fleetscope.io/workload-name"] = "Deployment", pod
		pid, err := d.Run(ctx, testenv.RunOptions{Namespace: "k8s.io", ID: c.opts.ID + "-sandbox", Args: []string{"sleep", "86400"}, Labels: sb})
		if err != nil {
			return fmt.Errorf("sandbox of %s: %w", c.opts.ID, err)
		}
		c.opts.Namespace = "k8s.io"
		c.opts.CPUPeriod = 100000
		c.opts.NetNSFromPID = pid
		c.opts.Annotations = map[string]string{"io.kubernetes.cri.sandbox-id": c.opts.ID + "-sandbox"}
		if _, err := d.Run(ctx, c.opts); err != nil {
			return fmt.Errorf("container %s: %w", c.opts.ID, err)
		}
		fmt.Printf("    %-12s %s\n", c.opts.ID, c.what)
	}
	return nil
}

// startAgent writes the agent's configuration for the containerd at socket
// into dir and starts it listening on addr, logging into dir.
func startAgent(bin, dir, socket, addr string, duration time.Duration) (*exec.Cmd, string, error) {
	cfg := filepath.Join(dir, "fleetscope.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(
		"containerd:\n  socket: %s\n  storage_interval: 10s\nsampling:\n  interval: 2s\nweb:\n  listen_address: %s\nlog:\n  format: text\n"+
			"history:\n  state_file: %s\n  checkpoint_interval: 30s\nanalysis:\n  min_observation: %s\n",
		socket, addr, filepath.Join(dir, "state.bin"), minObservation(duration))), 0o644); err != nil {
		return nil, "", err
	}
	step("starting the agent: fleetscope run --config " + cfg)
	logf, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, "", err
	}
	defer logf.Close() // the agent has its own copy
	agent := exec.Command(bin, "run", "--config", cfg)
	agent.Stdout, agent.Stderr = logf, logf
	if err := agent.Start(); err != nil {
		return nil, "", err
	}
	return agent, logf.Name(), nil
}

// show prints what the agent at addr found: its metrics as a table, its
// report, and the plans written into dir.
func show(ctx context.Context, bin, dir, addr, logPath string) error {
	body, err := get("http://" + addr + "/metrics")
	if err != nil {
		return fmt.Errorf("scraping the agent: %w (log: %s)", err, logPath)
	}
	printTable(os.Stdout, body)

	step("fleetscope report --url http://" + addr)
	fmt.Println()
	rep := exec.CommandContext(ctx, bin, "report", "--url", "http://"+addr)
	rep.Stdout, rep.Stderr = os.Stdout, os.Stderr
	if err := rep.Run(); err != nil {
		return fmt.Errorf("fleetscope report: %w", err)
	}
	fmt.Println()

	out := filepath.Join(dir, "plan")
	step("fleetscope plan --url http://" + addr + " --out " + out)
	plan := exec.CommandContext(ctx, bin, "plan", "--url", "http://"+addr, "--out", out)
	plan.Stdout, plan.Stderr = os.Stdout, os.Stderr
	if err := plan.Run(); err != nil {
		return fmt.Errorf("fleetscope plan: %w", err)
	}
	// Every file of the plans, as a user would review them.
	_ = filepath.WalkDir(out, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil {
			fmt.Printf("\n--- %s\n%s", strings.TrimPrefix(path, out+"/"), b)
		}
		return err
	})
	fmt.Println()
	return nil
}

func step(s string) { fmt.Printf("==> %s\n", s) }

// minObservation lets a short demo reach verdicts: the daemon's default
// (24h) would leave every container at insufficient-data.
func minObservation(d time.Duration) time.Duration {
	return max(time.Minute, d-90*time.Second).Round(time.Minute)
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// printTable summarises the per-container series of a /metrics page.
func printTable(w io.Writer, metrics string) {
	type row struct{ cores, ws, limit, layer string }
	rows := map[string]*row{}
	names := map[string]string{}
	want := map[string]func(*row, string){
		"container_cpu_usage":                func(r *row, v string) { r.cores = cores(v) },
		"container_memory_working_set_bytes": func(r *row, v string) { r.ws = mib(v) },
		"k8s_container_memory_limit_bytes":   func(r *row, v string) { r.limit = mib(v) },
		"container_filesystem_usage_bytes":   func(r *row, v string) { r.layer = kib(v) },
	}
	sc := bufio.NewScanner(strings.NewReader(metrics))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, '{')
		j := strings.LastIndexByte(line, '}')
		if i < 0 || j < i {
			continue
		}
		set := want[line[:i]]
		if set == nil {
			continue
		}
		labels := line[i+1 : j]
		id := labelValue(labels, "container_id")
		names[id] = labelValue(labels, "k8s_pod_name") + "/" + labelValue(labels, "container_name")
		if rows[id] == nil {
			rows[id] = &row{cores: "-", ws: "-", limit: "-", layer: "-"}
		}
		set(rows[id], strings.TrimSpace(line[j+1:]))
	}
	ids := make([]string, 0, len(rows))
	for id := range rows {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER\tPOD/NAME\tCPU CORES\tWORKING SET\tMEMORY LIMIT\tWRITABLE LAYER")
	for _, id := range ids {
		r := rows[id]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, names[id], r.cores, r.ws, r.limit, r.layer)
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func labelValue(labels, name string) string {
	k := name + `="`
	i := strings.Index(labels, k)
	if i < 0 {
		return ""
	}
	rest := labels[i+len(k):]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

func mib(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v
	}
	return fmt.Sprintf("%.1f MiB", f/(1<<20))
}

func cores(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v
	}
	return fmt.Sprintf("%.3f", f)
}

func kib(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v
	}
	return fmt.Sprintf("%.0f KiB", f/1024)
}
