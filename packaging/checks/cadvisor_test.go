package checks

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/fleetscope/fleetscope/internal/promqlcheck"
)

// Every Prometheus that scrapes the kubelet (kube-prometheus-stack does)
// also holds cAdvisor's container_* series, two of them under Fleetscope's
// very names (container_memory_usage_bytes and
// container_memory_working_set_bytes). These are the label sets cAdvisor's
// series carry there and from a standalone cAdvisor.
var cadvisorShapes = []map[string]string{
	// The kubelet's /metrics/cadvisor through kube-prometheus-stack's
	// ServiceMonitor.
	{"job": "kubelet", "metrics_path": "/metrics/cadvisor", "endpoint": "https-metrics", "service": "kps-kubelet",
		"instance": "10.0.1.5:10250", "node": "node-a", "namespace": "shop", "pod": "web-1", "container": "web",
		"id": "/kubepods/burstable/pod1234/" + strings.Repeat("ab", 32), "image": "docker.io/library/nginx:1.27",
		"name": strings.Repeat("ab", 32)},
	// The pod-level cgroup series of the same endpoint (no container).
	{"job": "kubelet", "metrics_path": "/metrics/cadvisor", "instance": "10.0.1.5:10250", "node": "node-a",
		"namespace": "shop", "pod": "web-1", "id": "/kubepods/burstable/pod1234"},
	// A standalone cAdvisor, with its container_label_* labels.
	{"job": "cadvisor", "instance": "10.0.1.5:8080", "id": "/system.slice/containerd.service/" + strings.Repeat("cd", 32),
		"image": "docker.io/library/nginx:1.27", "name": strings.Repeat("cd", 32),
		"container_label_io_kubernetes_pod_name": "web-1", "container_label_io_kubernetes_pod_namespace": "shop",
		"container_label_io_kubernetes_container_name": "web"},
}

// dashboardVariable is a Grafana template variable in a query.
var dashboardVariable = regexp.MustCompile(`\$(\{[a-z_]+\}|[a-z_]+)`)

// allQueries returns the dashboard's and the rules' queries with every
// template variable at "All" (.*), the value that selects the most.
func allQueries(t *testing.T) []promqlcheck.Query {
	t.Helper()
	var out []promqlcheck.Query
	for _, f := range []struct {
		path    string
		extract func([]byte) ([]promqlcheck.Query, error)
	}{
		{dashboardFile, promqlcheck.ExtractDashboardQueries},
		{rulesFile, promqlcheck.ExtractRuleQueries},
	} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		qs, err := f.extract(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			q.Source = filepath.Base(f.path) + ": " + q.Source
			q.Expr = dashboardVariable.ReplaceAllStringFunc(q.Expr, func(v string) string {
				if strings.HasPrefix(v, "$__") {
					return v // interval macros; Parse replaces them
				}
				return ".*"
			})
			out = append(out, q)
		}
	}
	return out
}

// No selector of a container_* name in the dashboard or the rules matches a
// cAdvisor series: every panel, recording rule and alert reads Fleetscope's
// series only, whatever else the Prometheus holds.
func TestSelectorsExcludeCAdvisor(t *testing.T) {
	n := 0
	for _, q := range allQueries(t) {
		e, err := promqlcheck.Parse(q.Expr)
		if err != nil {
			t.Fatalf("%s: %v", q.Source, err)
		}
		parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok || !strings.HasPrefix(vs.Name, "container_") {
				return nil
			}
			n++
			for _, shape := range cadvisorShapes {
				if matchesAll(vs.LabelMatchers, vs.Name, shape) {
					t.Errorf("%s: %s also selects cAdvisor's %s%v", q.Source, vs, vs.Name, shape)
					break
				}
			}
			return nil
		})
	}
	if n == 0 {
		t.Fatal("no container_* selector found: the test checks nothing")
	}
}

func matchesAll(ms []*labels.Matcher, name string, shape map[string]string) bool {
	for _, m := range ms {
		v := shape[m.Name]
		if m.Name == model.MetricNameLabel {
			v = name
		}
		if !m.Matches(v) {
			return false
		}
	}
	return true
}

// The same with promtool: every dashboard query that reads a container_*
// name is evaluated over input holding Fleetscope's series and
// cAdvisor-shaped series of the same names, and must return Fleetscope's
// series only, each once.
func TestPromtoolCAdvisorMixed(t *testing.T) {
	fleetscope := map[string]string{"job": "fleetscope", "instance": "10.0.1.5:10076", "node": "node-a",
		"container_id": strings.Repeat("ab", 32), "k8s_container_name": "web", "k8s_namespace_name": "shop", "k8s_pod_name": "web-1"}
	var tests strings.Builder
	inputs := map[string]bool{}
	var input strings.Builder
	series := func(name string, ls map[string]string, v string) string {
		keys := make([]string, 0, len(ls))
		for k := range ls {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		b.WriteString(name + "{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s=%q", k, ls[k])
		}
		b.WriteString("}")
		if v != "" {
			fmt.Fprintf(&input, "      - series: '%s'\n        values: '%sx10'\n", b.String(), v)
		}
		return b.String()
	}
	cases := 0
	for _, q := range allQueries(t) {
		if !strings.HasPrefix(q.Source, filepath.Base(dashboardFile)) {
			continue
		}
		e, err := promqlcheck.Parse(q.Expr)
		if err != nil {
			t.Fatal(err)
		}
		vs, ok := e.(*parser.VectorSelector)
		if !ok || !strings.HasPrefix(vs.Name, "container_") && !strings.HasPrefix(vs.Name, "k8s_container_") {
			continue
		}
		if !inputs[vs.Name] {
			inputs[vs.Name] = true
			series(vs.Name, fleetscope, "7")
			for _, shape := range cadvisorShapes {
				series(vs.Name, shape, "1000")
			}
		}
		cases++
		fmt.Fprintf(&tests, "      - expr: %q\n        eval_time: 5m\n        exp_samples:\n          - labels: '%s'\n            value: 7\n",
			q.Expr, series(vs.Name, fleetscope, ""))
	}
	if cases == 0 {
		t.Fatal("no dashboard query reads a container_* name: the test checks nothing")
	}
	file := "rule_files: []\nevaluation_interval: 1m\ntests:\n  - name: dashboard queries next to cAdvisor\n    interval: 1m\n    input_series:\n" +
		input.String() + "    promql_expr_test:\n" + tests.String()
	path := filepath.Join(t.TempDir(), "cadvisor_test.yaml")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "test", "rules", path)
}

// Nodes show by name: the dashboard's node variable and every filter on it
// use the `node` label (the node's name under the ServiceMonitor, the
// PodMonitor, the documented annotation relabeling and OTLP through a
// collector), never `instance`, which is a pod's IP and port in a scrape.
func TestDashboardNodeByName(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := promqlcheck.ExtractDashboardQueries(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if strings.Contains(q.Expr, `instance=~"$node"`) {
			t.Errorf("%s filters instance by $node: %s", q.Source, q.Expr)
		}
		if strings.Contains(q.Expr, "$node") && !strings.Contains(q.Expr, `node=~"$node"`) {
			t.Errorf("%s: $node not used as node=~\"$node\": %s", q.Source, q.Expr)
		}
	}
	if !strings.Contains(string(data), `label_values(fleetscope_build_info{cluster=~\"$cluster\"}, node)`) {
		t.Error("the node variable does not list the node label's values")
	}
	if strings.Contains(string(data), "{{instance}}") {
		t.Error("a legend shows {{instance}} instead of {{node}}")
	}
}
