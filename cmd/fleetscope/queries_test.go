package main

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/internal/promqlcheck"
)

// The packaged dashboard and alert rules, relative to this package.
const (
	packagedDashboard = "../../packaging/grafana/fleetscope.json"
	packagedRules     = "../../packaging/prometheus/alerts.yaml"
	packagedRecording = "../../packaging/prometheus/rules.yaml"
)

// notExported are names the queries may use that no agent exports: the
// scrape's own series and the series Prometheus itself writes.
var notExported = map[string]bool{
	"up": true, "ALERTS": true, "ALERTS_FOR_STATE": true,
	"scrape_duration_seconds": true, "scrape_samples_scraped": true,
	"scrape_samples_post_metric_relabeling": true, "scrape_series_added": true,
	// Present only while an exporter drops series; the golden test and the
	// schema cover its name.
	"fleetscope_exporter_dropped_series": true,
	// Present only while Jobs or CronJobs run on the node; likewise.
	"fleetscope_workload_runs": true,
}

// packagingMetrics parses every PromQL expression of the packaged dashboard
// and alert rules and returns each metric name they select with the places
// that use it. A parse error fails the test.
func packagingMetrics(t *testing.T) map[string][]string {
	t.Helper()
	var queries []promqlcheck.Query
	for _, f := range []struct {
		path    string
		extract func([]byte) ([]promqlcheck.Query, error)
	}{
		{packagedDashboard, promqlcheck.ExtractDashboardQueries},
		{packagedRules, promqlcheck.ExtractRuleQueries},
		{packagedRecording, promqlcheck.ExtractRuleQueries},
	} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		qs, err := f.extract(data)
		if err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
		if len(qs) == 0 {
			t.Fatalf("%s: no queries found", f.path)
		}
		queries = append(queries, qs...)
	}
	used := map[string][]string{}
	for _, q := range queries {
		names, err := promqlcheck.MetricNames(q.Expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", q.Source, err, q.Expr)
			continue
		}
		for _, n := range names {
			used[n] = append(used[n], q.Source)
		}
	}
	return used
}

// unexportedPackagingMetrics returns, sorted, the metric names the packaged
// queries use that exported lacks, each with where it is used.
func unexportedPackagingMetrics(t *testing.T, exported map[string]bool) []string {
	t.Helper()
	var missing []string
	used := packagingMetrics(t)
	for _, name := range slices.Sorted(maps.Keys(used)) {
		if !notExported[name] && !exported[name] {
			missing = append(missing, name+" (used by "+strings.Join(used[name], "; ")+")")
		}
	}
	return missing
}

// checkPackagingQueries fails for every metric name that the packaged
// dashboard and alert rules select and the agent does not export. exported
// holds the metric family names of a live scrape of the agent.
func checkPackagingQueries(t *testing.T, exported map[string]bool) {
	t.Helper()
	for _, m := range unexportedPackagingMetrics(t, exported) {
		t.Errorf("packaged queries use a metric the agent does not export: %s", m)
	}
}

// goldenFamilies returns the metric family names of the exporter's golden
// /metrics file, the exposition of a fixture snapshot, and the names the
// packaged recording rules record (their own expressions are checked with
// the rest).
func goldenFamilies(t *testing.T) map[string]bool {
	t.Helper()
	names := recordedNames(t)
	f, err := os.Open("../../exporters/promtext/testdata/metrics.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("parsing the golden file: %v", err)
	}
	for name := range mfs {
		names[name] = true
	}
	return names
}

// recordedNames are the names the packaged recording rules record.
func recordedNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	data, err := os.ReadFile(packagedRecording)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rec, ok := strings.CutPrefix(strings.TrimSpace(line), "- record: "); ok {
			names[strings.TrimSpace(rec)] = true
		}
	}
	if len(names) == 0 {
		t.Fatalf("%s records nothing; parsing is broken", packagedRecording)
	}
	return names
}

// Against the golden exposition: the live check runs in the integration
// test. The fixture snapshot never wrote a checkpoint, so series that exist
// only in some states are taken from the schema the exporter is driven by,
// and listed.
func TestPackagingQueriesUseExportedNames(t *testing.T) {
	exported := goldenFamilies(t)
	if len(exported) < 40 {
		t.Fatalf("golden file has %d metric families; parsing is broken", len(exported))
	}
	for _, m := range schema.All {
		if n := m.PromName(); !exported[n] {
			t.Logf("%s is not in the golden file; taken from the schema", n)
			exported[n] = true
		}
	}
	checkPackagingQueries(t, exported)

	used := packagingMetrics(t)
	for _, want := range []string{
		"fleetscope_container_idle_cost_per_hour", "fleetscope_container_serverless_fit_ratio", "fleetscope_container_serverless_verdict",
		"fleetscope_container_serverless_reason", "container_cpu_usage", "k8s_container_memory_limit_current_bytes",
		"fleetscope_host_cpus", "fleetscope_collector_success", "fleetscope_containerd_up", "up",
	} {
		if len(used[want]) == 0 {
			t.Errorf("no packaged query uses %s", want)
		}
	}
}

// A name the agent does not export is reported with where it is used; up
// and Prometheus' own series are not.
func TestPackagingQueriesReportUnexported(t *testing.T) {
	exported := goldenFamilies(t)
	for _, m := range schema.All {
		exported[m.PromName()] = true
	}
	delete(exported, "fleetscope_containerd_up")
	delete(exported, "container_cpu_usage")
	missing := unexportedPackagingMetrics(t, exported)
	if len(missing) != 2 ||
		!strings.HasPrefix(missing[0], "container_cpu_usage (used by panel \"CPU used vs limit\" target A") ||
		!strings.Contains(missing[1], "fleetscope_containerd_up (used by ") ||
		!strings.Contains(missing[1], "rule FleetscopeCollectionFailing") {
		t.Errorf("missing = %q, want container_cpu_usage and fleetscope_containerd_up with their users", missing)
	}
}
