package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

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

// fleetScrapeInterval is how often the fleet test's Prometheus scrapes
// the agents.
const fleetScrapeInterval = 2 * time.Second

// promShard is a Prometheus that receives, by remote write, the series of
// some nodes only.
type promShard struct {
	label string // its external label shard="label"
	nodes []string
	prom  *testenv.Prometheus
}

// startShard runs a Prometheus that accepts remote writes, with the
// external label that tells its series from the other shards' (a Thanos
// sidecar requires one).
func startShard(t *testing.T, label string, nodes []string) *promShard {
	t.Helper()
	cfg := fmt.Sprintf("global:\n  external_labels: {shard: %q}\n", label)
	return &promShard{label: label, nodes: nodes,
		prom: testenv.StartPrometheus(t, testenv.PrometheusOptions{Config: cfg, RemoteWriteReceiver: true})}
}

// startPrometheus runs Debian's Prometheus scraping the agents, each
// target labelled with its node as the chart's scrape configurations do,
// and writing each shard's nodes' samples, as scraped, to that shard.
func startPrometheus(t *testing.T, targets map[string]string, shards ...*promShard) string {
	t.Helper()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: %s\n  scrape_timeout: %[1]s\nscrape_configs:\n  - job_name: fleetscope\n    static_configs:\n",
		model.Duration(fleetScrapeInterval))
	for node, addr := range targets {
		fmt.Fprintf(&cfg, "      - targets: [%q]\n        labels: {node: %q}\n", addr, node)
	}
	if len(shards) > 0 {
		cfg.WriteString("remote_write:\n")
	}
	for _, s := range shards {
		quoted := make([]string, len(s.nodes))
		for i, n := range s.nodes {
			quoted[i] = regexp.QuoteMeta(n)
		}
		// Sent within a second of the scrape, retried at once.
		fmt.Fprintf(&cfg, `  - url: %q
    name: shard-%s
    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}
    metadata_config: {send: false}
    write_relabel_configs:
      - {source_labels: [node], regex: %q, action: keep}
`, s.prom.URL+"/api/v1/write", s.label, strings.Join(quoted, "|"))
	}
	return testenv.StartPrometheus(t, testenv.PrometheusOptions{Config: cfg.String()}).URL
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
	// Thanos, when there is one, or FLEETSCOPE_INTEGRATION=1 requires one.
	withThanos := os.Getenv(testenv.ThanosEnv) != "" || os.Getenv(testenv.IntegrationEnv) == "1"
	if withThanos {
		testenv.ThanosBinary(t)
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	sleep := []string{"sleep", "3600"}
	nodes := []string{"node-a", "node-b", "node-c"}
	daemons := map[string]*testenv.Daemon{}
	agents := map[string]*agentProc{}
	targets := map[string]string{}
	deployment := map[string]string{"app": "checkout-worker", "pod-template-hash": "5d8c7f9b6"}
	var replaced []string // node-a's replica, replaced later on
	for i, node := range nodes {
		d := testenv.Start(t)
		daemons[node] = d
		// A Deployment's replica and a DaemonSet's pod on every node.
		ids := fleetPod(t, ctx, d, "shop", "checkout-worker-5d8c7f9b6-"+[]string{"x2x9z", "k4v7q", "m8n2p"}[i],
			deployment, map[string][]string{"worker": sleep})
		if node == "node-a" {
			replaced = ids
		}
		fleetPod(t, ctx, d, "kube-system", "node-exporter-"+[]string{"abcde", "fghij", "klmno"}[i],
			map[string]string{"controller-revision-hash": "7f6d", "pod-template-generation": "2"}, map[string][]string{"exporter": sleep})
		a := startAgent(t, d.Socket, fmt.Sprintf("host:\n  node_name: %s\nanalysis:\n  min_observation: 1m\n", node))
		agents[node], targets[node] = a, a.addr
	}
	fleetPod(t, ctx, daemons["node-a"], "shop", "db-0",
		map[string]string{"controller-revision-hash": "db-6c9", "statefulset.kubernetes.io/pod-name": "db-0"}, map[string][]string{"postgres": sleep})
	fleetPod(t, ctx, daemons["node-b"], "shop", "debug", nil, map[string][]string{"shell": sleep})
	// The same samples in a horizontally scalable store: the reference
	// Prometheus writes the first two nodes' series to one shard and the
	// third's to another, each with a Thanos sidecar, and one Thanos
	// querier answers for both (see "through Thanos" below).
	var shards []*promShard
	if withThanos {
		shards = []*promShard{startShard(t, "a", nodes[:2]), startShard(t, "b", nodes[2:])}
	}
	prom := startPrometheus(t, targets, shards...)
	var thanos string
	if shards != nil {
		thanos = testenv.StartThanosQuery(t, testenv.StartThanosSidecar(t, shards[0].prom.URL), testenv.StartThanosSidecar(t, shards[1].prom.URL))
	}
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

	t.Run("through Thanos", func(t *testing.T) {
		if thanos == "" {
			testenv.ThanosBinary(t) // skips
		}
		compareThroughThanos(t, prom, thanos, shards)
	})

	// A rollout on node-a: its replica's pod is deleted and a new one
	// (new sandbox, new ids) takes its place. The Deployment keeps one
	// history, on the node (both pods' series) and in the fleet (4 pods).
	for _, id := range replaced {
		if err := daemons["node-a"].Remove(ctx, "k8s.io", id); err != nil {
			t.Fatal(err)
		}
	}
	fleetPod(t, ctx, daemons["node-a"], "shop", "checkout-worker-5d8c7f9b6-r3p8t", deployment, map[string][]string{"worker": sleep})
	testenv.Eventually(t, 3*time.Minute, "the Deployment's history across its replaced pod", func() error {
		out, errs, code := fleetscope(t, "report", "--url", "http://"+agents["node-a"].addr, "--by", "workload", "--output", "json")
		if code != 0 {
			return fmt.Errorf("report --url: exit %d: %s", code, errs)
		}
		w := findWorkload(workloadsFrom(t, out), "Deployment", "checkout-worker")
		if w == nil || w.Source != report.SourceHistory || w.Replicas != 2 || w.ObservedSeconds < 120 {
			return fmt.Errorf("node-a's row %+v, want its history over both pods", w)
		}
		out, errs, code = fleetscope(t, "report", "--prometheus", prom, "--by", "workload", "--output", "json")
		if code != 0 {
			return fmt.Errorf("report --prometheus: exit %d: %s", code, errs)
		}
		fw := findWorkload(workloadsFrom(t, out), "Deployment", "checkout-worker")
		if fw == nil || fw.Source != report.SourceWindow || fw.Replicas != 4 || fw.Containers != 4 || len(fw.Nodes) != 3 {
			return fmt.Errorf("the fleet's row %+v, want the window over 4 pods on 3 nodes", fw)
		}
		return nil
	})

	// The store unreachable: exit 2 and a message naming the URL.
	dead := "http://" + freePort(t)
	_, errs, code := fleetscope(t, "report", "--prometheus", dead, "--by", "workload")
	if code != 2 || !strings.Contains(errs, dead) {
		t.Errorf("unreachable store: exit %d, %q", code, errs)
	}
}

// compareThroughThanos checks that the report read through the Thanos
// querier at thanos, in front of the shards, is the one read from prom,
// the Prometheus that wrote the shards every sample it scraped, at a time
// both hold every sample of.
func compareThroughThanos(t *testing.T, prom, thanos string, shards []*promShard) {
	// A few scrapes ago, to the second: the remote writes of what was
	// scraped before then are at most a second behind, retried at once.
	at := time.Now().Add(-3 * fleetScrapeInterval).Truncate(time.Second)
	// Caught up: the same info series, and the same raw samples of every
	// Fleetscope series over the last scrapes before T, so that the
	// instant queries of a report pick the same sample of each series.
	var compared int
	testenv.Eventually(t, time.Minute, "Thanos holding the reference Prometheus' samples at "+at.Format(time.RFC3339), func() error {
		const info = "count(fleetscope_container_info)"
		want, err := instantQuery(prom, info, at)
		if err != nil {
			return err
		}
		got, err := instantQuery(thanos, info, at)
		if err != nil {
			return err
		}
		if got.String() != want.String() {
			return fmt.Errorf("%s: Thanos %s, Prometheus %s", info, got, want)
		}
		wantRaw, err := rawSamples(prom, at, 3*fleetScrapeInterval)
		if err != nil {
			return err
		}
		gotRaw, err := rawSamples(thanos, at, 3*fleetScrapeInterval)
		if err != nil {
			return err
		}
		compared = len(wantRaw)
		return sameSamples(gotRaw, wantRaw)
	})
	t.Logf("at %s, through Thanos the same samples of %d Fleetscope series as in Prometheus", at.Format(time.RFC3339), compared)

	// Each shard holds its nodes' series only, so the querier's answer
	// needs both; through it every series carries its shard's external
	// label, which a report does not read.
	byShard := map[string]string{}
	for _, s := range shards {
		vec, err := instantQuery(s.prom.URL, "count by (node) (fleetscope_container_info)", at)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := vec.values("node"), strings.Join(s.nodes, " "); got != want {
			t.Errorf("shard %s holds the info series of nodes %q, want %q", s.label, got, want)
		}
		for _, n := range s.nodes {
			byShard[n] = s.label
		}
	}
	vec, err := instantQuery(thanos, "count by (node, shard) (fleetscope_container_info)", at)
	if err != nil {
		t.Fatal(err)
	}
	if len(vec) != len(byShard) {
		t.Errorf("through Thanos, the info series are of %s, want one per node", vec)
	}
	for _, s := range vec {
		if s.Metric["shard"] != byShard[s.Metric["node"]] {
			t.Errorf("through Thanos, node %q's info series come from shard %q, want %q", s.Metric["node"], s.Metric["shard"], byShard[s.Metric["node"]])
		}
	}

	// The same report, to the byte, by container (sandboxes too) and by
	// workload (the window's answer: sums over the store's answers, which
	// the report puts in one order before it adds them).
	for _, by := range [][]string{{"--by", "container", "--all"}, {"--by", "workload"}} {
		args := append([]string{"--at", at.Format(time.RFC3339), "--output", "json"}, by...)
		want, errs, code := fleetscope(t, append([]string{"report", "--prometheus", prom}, args...)...)
		if code != 0 {
			t.Fatalf("report %s from Prometheus: exit %d: %s", by, code, errs)
		}
		got, errs, code := fleetscope(t, append([]string{"report", "--prometheus", thanos}, args...)...)
		if code != 0 {
			t.Fatalf("report %s through Thanos: exit %d: %s", by, code, errs)
		}
		if got != want {
			t.Errorf("report %s through Thanos differs from Prometheus' (first at line %d):\nThanos:\n%s\nPrometheus:\n%s", by, firstDiffLine(got, want), got, want)
		}
		if by[1] == "workload" {
			// T is after the Deployment was analysed everywhere and the
			// CronJob had run: the report compared is a full one.
			r := workloadsFrom(t, want)
			if w := findWorkload(r, "Deployment", "checkout-worker"); w == nil || len(w.Nodes) != 3 || w.CostPerMonth == 0 {
				t.Errorf("the Deployment at %s: %+v", at.Format(time.RFC3339), w)
			}
			if cj := findWorkload(r, "CronJob", "nightly-report"); cj == nil || cj.Runs == nil {
				t.Errorf("the CronJob at %s: %+v", at.Format(time.RFC3339), cj)
			}
		}
	}
}

// promVector is an instant query's answer.
type promVector []struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// String shows the series in the store's order, each as its labels and
// value.
func (v promVector) String() string {
	var b strings.Builder
	for i, s := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%v=%v", s.Metric, s.Value[1])
	}
	return "[" + b.String() + "]"
}

// values returns the values of label across the series, sorted and
// space-separated.
func (v promVector) values(label string) string {
	var out []string
	for _, s := range v {
		out = append(out, s.Metric[label])
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// instantQuery asks the Prometheus HTTP API at base for expr at the time at.
func instantQuery(base, expr string, at time.Time) (promVector, error) {
	var v promVector
	return v, query(base, expr, at, "vector", &v)
}

// query runs the instant query expr at base at the time at and decodes its
// result, of resultType, into result.
func query(base, expr string, at time.Time, resultType string, result any) error {
	u := base + "/api/v1/query?" + url.Values{"query": {expr}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %s: %v", base, expr, err)
	}
	if body.Status != "success" || body.Data.ResultType != resultType {
		return fmt.Errorf("%s: %s: status %s, result %s: %s", base, expr, body.Status, body.Data.ResultType, body.Error)
	}
	if err := json.Unmarshal(body.Data.Result, result); err != nil {
		return fmt.Errorf("%s: %s: %v", base, expr, err)
	}
	return nil
}

// rawSamples returns the samples of every Fleetscope series in the window
// before at, keyed by the series' labels but for the Thanos sidecars'
// external label "shard". The window is open on the left, as Prometheus 3
// (Thanos' engine) has it and Prometheus 2 does not, so a sample exactly
// window before at is left out on both sides.
func rawSamples(base string, at time.Time, window time.Duration) (map[string]string, error) {
	var matrix []struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values"`
	}
	expr := fmt.Sprintf(`{__name__=~"fleetscope_.+"}[%s]`, model.Duration(window))
	if err := query(base, expr, at, "matrix", &matrix); err != nil {
		return nil, err
	}
	from := at.Add(-window).UnixMilli()
	out := map[string]string{}
	for _, s := range matrix {
		delete(s.Metric, "shard")
		key := fmt.Sprint(s.Metric) // sorted by label name
		var points []string
		for _, p := range s.Values {
			ts, ok := p[0].(float64)
			if !ok {
				return nil, fmt.Errorf("%s: %s: a sample at %v", base, expr, p[0])
			}
			if ms := int64(math.Round(ts * 1000)); ms > from {
				points = append(points, fmt.Sprintf("%d:%v", ms, p[1]))
			}
		}
		if len(points) > 0 {
			out[key] = strings.Join(points, " ")
		}
	}
	return out, nil
}

// sameSamples says how got differs from want, series by series.
func sameSamples(got, want map[string]string) error {
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, "missing "+k)
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s: %s, want %s", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra "+k)
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	slices.Sort(diffs)
	return fmt.Errorf("through Thanos, %d of %d series differ, e.g. %s", len(diffs), len(want), diffs[0])
}

// firstDiffLine returns the 1-based number of the first line where a and b
// differ.
func firstDiffLine(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
