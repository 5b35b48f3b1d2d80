package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/internal/testenv"
	"github.com/fleetscope/fleetscope/report"
)

// fleetPod starts a pod as the kubelet would through CRI: a sandbox with
// the pod's own labels, and app containers that carry the io.kubernetes.*
// labels and their sandbox's id, in its network namespace.
func fleetPod(t *testing.T, ctx context.Context, d *testenv.Daemon, ns, name string, podLabels map[string]string, apps map[string][]string) []string {
	t.Helper()
	ids, err := startPod(ctx, d, ns, name, podLabels, apps)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func startPod(ctx context.Context, d *testenv.Daemon, ns, name string, podLabels map[string]string, apps map[string][]string) (ids []string, err error) {
	uid := "uid-" + name
	base := map[string]string{"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.uid": uid}
	sbLabels := map[string]string{"io.cri-containerd.kind": "sandbox"}
	for k, v := range base {
		sbLabels[k] = v
	}
	for k, v := range podLabels {
		sbLabels[k] = v
	}
	sb := testenv.RandomID()
	pid, err := d.Run(ctx, testenv.RunOptions{Namespace: "k8s.io", ID: sb, Args: []string{"sleep", "3600"}, Labels: sbLabels})
	if err != nil {
		return ids, err
	}
	ids = append(ids, sb)
	for cname, args := range apps {
		l := map[string]string{"io.cri-containerd.kind": "container", "io.kubernetes.container.name": cname}
		for k, v := range base {
			l[k] = v
		}
		id := testenv.RandomID()
		if _, err := d.Run(ctx, testenv.RunOptions{Namespace: "k8s.io", ID: id, Args: args, Labels: l, NetNSFromPID: pid,
			Annotations: map[string]string{"io.kubernetes.cri.sandbox-id": sb},
			CPUQuota:    50000, MemoryLimit: 64 << 20}); err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// startPrometheus runs Debian's Prometheus scraping the agents, each
// target labelled with its node as the chart's scrape configurations do.
func startPrometheus(t *testing.T, targets map[string]string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv(testenv.IntegrationEnv) == "1" {
			t.Fatalf("%s=1 but no prometheus binary (apt-get install prometheus): %v", testenv.IntegrationEnv, err)
		}
		t.Skip("no prometheus binary (apt-get install prometheus)")
	}
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\nscrape_configs:\n  - job_name: fleetscope\n    static_configs:\n")
	for node, addr := range targets {
		fmt.Fprintf(&cfg, "      - targets: [%q]\n        labels: {node: %q}\n", addr, node)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	return "http://" + addr
}

// fleetscope runs the binary and returns its standard output and exit code.
func fleetscope(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = agentEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func workloadsFrom(t *testing.T, out string) report.WorkloadReport {
	t.Helper()
	var r report.WorkloadReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("decoding %q: %v", out, err)
	}
	return r
}

func findWorkload(r report.WorkloadReport, kind, name string) *report.Workload {
	for i := range r.Workloads {
		if r.Workloads[i].Kind == kind && r.Workloads[i].Name == name {
			return &r.Workloads[i]
		}
	}
	return nil
}

// Three nodes, each with its own containerd and agent, scraped by a real
// Prometheus: the fleet answer per workload comes from the store, and
// equals the nodes' own answers summed.
func TestFleetThroughPrometheus(t *testing.T) {
	testenv.Need(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	sleep := []string{"sleep", "3600"}
	nodes := []string{"node-a", "node-b", "node-c"}
	daemons := map[string]*testenv.Daemon{}
	agents := map[string]*agentProc{}
	targets := map[string]string{}
	for i, node := range nodes {
		d := testenv.Start(t)
		daemons[node] = d
		// A Deployment's replica and a DaemonSet's pod on every node.
		fleetPod(t, ctx, d, "shop", "checkout-worker-5d8c7f9b6-"+[]string{"x2x9z", "k4v7q", "m8n2p"}[i],
			map[string]string{"app": "checkout-worker", "pod-template-hash": "5d8c7f9b6"}, map[string][]string{"worker": sleep})
		fleetPod(t, ctx, d, "kube-system", "node-exporter-"+[]string{"abcde", "fghij", "klmno"}[i],
			map[string]string{"controller-revision-hash": "7f6d", "pod-template-generation": "2"}, map[string][]string{"exporter": sleep})
		a := startAgent(t, d.Socket, fmt.Sprintf("host:\n  node_name: %s\nanalysis:\n  min_observation: 1m\n", node))
		agents[node], targets[node] = a, a.addr
	}
	fleetPod(t, ctx, daemons["node-a"], "shop", "db-0",
		map[string]string{"controller-revision-hash": "db-6c9", "statefulset.kubernetes.io/pod-name": "db-0"}, map[string][]string{"postgres": sleep})
	fleetPod(t, ctx, daemons["node-b"], "shop", "debug", nil, map[string][]string{"shell": sleep})
	prom := startPrometheus(t, targets)
	for _, a := range agents {
		a.waitReady(t)
	}

	// A CronJob whose runs come and go on node-c: a pod every 20 s whose
	// container works for 6 s, then is removed as the Job controller does.
	runs := 0
	cronErr := make(chan error, 1)
	go func() {
		defer close(cronErr)
		d := daemons["node-c"]
		for i := range 4 {
			// One Job per run, named as the CronJob controller names them:
			// the CronJob's name and the scheduled minute.
			job := "nightly-report-" + strconv.FormatInt(time.Now().Unix()/60-int64(4-i), 10)
			ids, err := startPod(ctx, d, "shop", job+"-q7w2e",
				map[string]string{"batch.kubernetes.io/job-name": job, "job-name": job},
				map[string][]string{"report": {"sh", "-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; sleep 6"}})
			if err != nil {
				cronErr <- err
				return
			}
			runs++
			time.Sleep(12 * time.Second)
			for _, id := range ids {
				if err := d.Remove(ctx, "k8s.io", id); err != nil {
					cronErr <- err
					return
				}
			}
			time.Sleep(8 * time.Second)
		}
	}()

	// Each container's workload, as the agent exports it.
	want := map[string][2]string{"worker": {"Deployment", "checkout-worker"}, "exporter": {"DaemonSet", "node-exporter"},
		"postgres": {"StatefulSet", "db"}, "shell": {"Pod", "debug"}}
	testenv.Eventually(t, time.Minute, "workload labels on every agent", func() error {
		for node, a := range agents {
			mfs := a.scrape(t)
			for cname, w := range want {
				if (cname == "postgres" && node != "node-a") || (cname == "shell" && node != "node-b") {
					continue
				}
				_, m, ok := value(mfs, "fleetscope_container_info", map[string]string{"k8s_container_name": cname})
				if !ok {
					return fmt.Errorf("%s: no info series for %s", node, cname)
				}
				if k, n := label(m, "k8s_workload_kind"), label(m, "k8s_workload_name"); k != w[0] || n != w[1] {
					return fmt.Errorf("%s: %s is %s/%s, want %s/%s", node, cname, k, n, w[0], w[1])
				}
			}
		}
		return nil
	})

	// Money: the nodes' own answers for the Deployment, summed.
	nodesSum := func() float64 {
		var sum float64
		for _, a := range agents {
			out, errs, code := fleetscope(t, "report", "--url", "http://"+a.addr, "--by", "workload", "--output", "json")
			if code != 0 {
				t.Fatalf("report --url %s: exit %d: %s", a.addr, code, errs)
			}
			if w := findWorkload(workloadsFrom(t, out), "Deployment", "checkout-worker"); w != nil {
				sum += w.CostPerMonth
			}
		}
		return sum
	}
	// The fleet answer: the Deployment once, three replicas on three
	// nodes, its cost the nodes' own answers summed once every container
	// is analysed everywhere (until then the store and the nodes may be a
	// scrape apart on which containers have a cost).
	var fleet report.WorkloadReport
	testenv.Eventually(t, 4*time.Minute, "the Deployment analysed across the fleet", func() error {
		out, errs, code := fleetscope(t, "report", "--prometheus", prom, "--by", "workload", "--output", "json")
		if code != 0 {
			return fmt.Errorf("exit %d: %s", code, errs)
		}
		fleet = workloadsFrom(t, out)
		w := findWorkload(fleet, "Deployment", "checkout-worker")
		if w == nil || w.Replicas != 3 || len(w.Nodes) != 3 || w.CostPerMonth == 0 {
			return fmt.Errorf("deployment row %+v", w)
		}
		cj := findWorkload(fleet, "CronJob", "nightly-report")
		if cj == nil || cj.Runs == nil || cj.Runs.Count < 2 {
			return fmt.Errorf("cronjob row %+v", cj)
		}
		if sum := nodesSum(); math.Abs(w.CostPerMonth-sum) > 0.01*sum {
			return fmt.Errorf("fleet cost %.4f, the nodes' reports sum to %.4f", w.CostPerMonth, sum)
		}
		return nil
	})
	if err := <-cronErr; err != nil {
		t.Fatalf("running the CronJob's pods: %v", err)
	}
	if len(fleet.Workloads) < 5 {
		t.Errorf("workloads %+v", fleet.Workloads)
	}
	for _, k := range [][2]string{{"DaemonSet", "node-exporter"}, {"StatefulSet", "db"}, {"Pod", "debug"}} {
		if findWorkload(fleet, k[0], k[1]) == nil {
			t.Errorf("no %s/%s row", k[0], k[1])
		}
	}
	cj := findWorkload(fleet, "CronJob", "nightly-report")
	if cj.Runs.DurationMaxSeconds < 5 || cj.Runs.DurationMaxSeconds > 30 || len(cj.Nodes) != 1 {
		t.Errorf("cronjob runs %+v on %v (ran %d)", cj.Runs, cj.Nodes, runs)
	}
	// The table names the workload once.
	out, _, code := fleetscope(t, "report", "--prometheus", prom, "--by", "workload")
	if code != 0 || strings.Count(out, "deployment/checkout-worker") != 1 || !strings.Contains(out, "cronjob/nightly-report") {
		t.Errorf("table (exit %d):\n%s", code, out)
	}

	// The store unreachable: exit 2 and a message naming the URL.
	dead := "http://" + freePort(t)
	_, errs, code := fleetscope(t, "report", "--prometheus", dead, "--by", "workload")
	if code != 2 || !strings.Contains(errs, dead) {
		t.Errorf("unreachable store: exit %d, %q", code, errs)
	}
}
