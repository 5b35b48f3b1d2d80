package promqlcheck

import (
	"slices"
	"strings"
	"testing"
)

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`sum by (k8s_namespace_name) (fleetscope_container_idle_cost_per_hour{k8s_namespace_name=~"$namespace"}) * 730`,
			[]string{"fleetscope_container_idle_cost_per_hour"}},
		{`rate(container_cpu_time_seconds_total[$__rate_interval]) / on (container_id) group_left k8s_container_cpu_limit`,
			[]string{"container_cpu_time_seconds_total", "k8s_container_cpu_limit"}},
		{`max_over_time(b[${__range}]) + a + b + {__name__="c", x="y"} + {__name__=~"d|e"}`, []string{"a", "b", "c"}},
		{`absent(up{job=~".*fleetscope.*"})`, []string{"up"}},
		{`vector(1)`, nil},
	} {
		got, err := MetricNames(tc.expr)
		if err != nil {
			t.Errorf("MetricNames(%q): %v", tc.expr, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("MetricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, expr := range []string{
		``,
		`sum(`,
		`rate(x[$interval])`, // a template variable outside quotes
		`x{a="b"`,
		`nosuchfunction(x)`,
		`x > on(a) group_left y > `,
	} {
		if _, err := Parse(expr); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", expr)
		}
	}
}

const dashboard = `{
  "panels": [
    {"type": "stat", "title": "One", "targets": [{"refId": "A", "expr": "sum(a)"}, {"refId": "B", "expr": "  "}]},
    {"type": "row", "title": "Folded", "collapsed": true, "panels": [
      {"type": "timeseries", "title": "Inner", "targets": [{"expr": "rate(b[$__rate_interval])"}]}
    ]},
    {"type": "text", "title": "No queries"}
  ],
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "prometheus"},
    {"name": "cluster", "type": "query", "query": "label_values(c{x=\"a,b\"}, cluster)"},
    {"name": "node", "type": "query", "query": {"query": "label_values(d, instance)", "refId": "V"}},
    {"name": "job", "type": "query", "query": "label_values(job)"},
    {"name": "top", "type": "query", "query": "query_result(topk(3, e))"},
    {"name": "custom", "type": "custom", "query": "a,b"}
  ]}
}`

func TestExtractDashboardQueries(t *testing.T) {
	qs, err := ExtractDashboardQueries([]byte(dashboard))
	if err != nil {
		t.Fatal(err)
	}
	want := []Query{
		{`panel "One" target A`, "sum(a)"},
		{`panel "Inner" target 0`, "rate(b[$__rate_interval])"},
		{`variable "cluster"`, `c{x="a,b"}`},
		{`variable "node"`, "d"},
		{`variable "top"`, "topk(3, e)"},
	}
	if !slices.Equal(qs, want) {
		t.Errorf("got %q\nwant %q", qs, want)
	}
	if _, err := ExtractDashboardQueries([]byte(`{"panels": {}}`)); err == nil {
		t.Error("a dashboard whose panels are not a list decoded without error")
	}
	if _, err := ExtractDashboardQueries([]byte(`{"templating": {"list": [{"name": "v", "type": "query", "query": 3}]}}`)); err == nil || !strings.Contains(err.Error(), `"v"`) {
		t.Errorf("a numeric variable query: error %v, want one naming the variable", err)
	}
}

func TestExtractRuleQueries(t *testing.T) {
	qs, err := ExtractRuleQueries([]byte(`
groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        for: 5m
        labels: {severity: warning}
        annotations: {summary: down}
      - record: job:up:sum
        expr: sum by (job) (up)
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Query{{`group "g" rule A`, "up == 0"}, {`group "g" rule job:up:sum`, "sum by (job) (up)"}}
	if !slices.Equal(qs, want) {
		t.Errorf("got %q, want %q", qs, want)
	}
	for _, bad := range []string{
		"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        anotations: {}\n",
		"groups:\n  - name: g\n    rules:\n      - expr: up\n",
		"groups: [",
	} {
		if _, err := ExtractRuleQueries([]byte(bad)); err == nil {
			t.Errorf("rule file %q decoded without error", bad)
		}
	}
}
