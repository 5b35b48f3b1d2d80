package checks

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/fleetscope/fleetscope/internal/promqlcheck"
)

const (
	dashboardFile = "../grafana/fleetscope.json"
	rulesFile     = "../prometheus/alerts.yaml"
	rulesTestFile = "../prometheus/alerts_test.yaml"
	runbooksDir   = "../../docs/runbooks"
	runbookURL    = "https://github.com/fleetscope/fleetscope/blob/main/docs/runbooks/"
)

// The alerts the rule file must define, each with a runbook.
var alerts = []string{
	"FleetscopeContainerIdle",
	"FleetscopeServerlessCandidate",
	"FleetscopeNamespaceIdleCostHigh",
	"FleetscopeAgentDown",
	"FleetscopeCollectionFailing",
}

// promtool returns the path of promtool, or skips the test without it
// (fails under FLEETSCOPE_INTEGRATION=1, where every prerequisite must be
// present).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("FLEETSCOPE_INTEGRATION") == "1" {
		t.Fatal("promtool not found: apt-get install prometheus")
	}
	t.Skip("promtool not found: apt-get install prometheus")
	return ""
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	runPromtool(t, "check", "rules", rulesFile)
}

func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	runPromtool(t, "test", "rules", rulesTestFile)
}

type rules struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// Every alert exists, has a severity, a summary, a description that states
// its thresholds, and a runbook_url whose file exists in the repository;
// and no runbook lacks its alert.
func TestAlertsHaveRunbooks(t *testing.T) {
	var f rules
	readYAML(t, rulesFile, &f)
	seen := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			seen[r.Alert] = true
			if !slices.Contains([]string{"info", "warning", "critical"}, r.Labels["severity"]) {
				t.Errorf("%s: severity %q, want info, warning or critical", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
			if want := runbookURL + r.Alert + ".md"; r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
			}
			body, err := os.ReadFile(filepath.Join(runbooksDir, r.Alert+".md"))
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
			} else if !strings.HasPrefix(string(body), "# "+r.Alert+"\n") {
				t.Errorf("%s: runbook does not start with the heading # %s", r.Alert, r.Alert)
			}
		}
	}
	for _, a := range alerts {
		if !seen[a] {
			t.Errorf("alert %s is not defined in %s", a, rulesFile)
		}
	}
	books, err := filepath.Glob(filepath.Join(runbooksDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range books {
		if name := strings.TrimSuffix(filepath.Base(b), ".md"); name != "README" && !seen[name] {
			t.Errorf("runbook %s has no alert", b)
		}
	}
}

type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string           `yaml:"eval_time"`
			Alertname string           `yaml:"alertname"`
			ExpAlerts []map[string]any `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// promtool passes a test file that never evaluates an alert, so this checks
// that each alert is evaluated at least once where it must fire and once
// where it must not.
func TestEveryAlertFiresAndStaysQuiet(t *testing.T) {
	var f ruleTests
	readYAML(t, rulesTestFile, &f)
	if !slices.Contains(f.RuleFiles, filepath.Base(rulesFile)) {
		t.Errorf("%s does not load %s", rulesTestFile, filepath.Base(rulesFile))
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, a := range alerts {
		if !fires[a] {
			t.Errorf("%s: no test case where it fires", a)
		}
		if !quiet[a] {
			t.Errorf("%s: no test case where it must not fire", a)
		}
	}
}

// The dashboard decodes strictly (an unknown or misspelt field anywhere,
// panel options and Prometheus targets included, is an error) and passes
// the SDK's validation.
func TestDashboardStrict(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	// The classic dashboard model (schemaVersion 39) is what Grafana
	// imports from a JSON file; dashboardv2 is the newer resource format.
	//lint:ignore SA1019 the file is a classic dashboard on purpose
	var d dashboard.Dashboard
	if err := noBuildErrors(d.UnmarshalJSONStrict(data)); err != nil {
		t.Fatalf("decoding %s strictly:\n%v", dashboardFile, err)
	}
	if err := noBuildErrors(d.Validate()); err != nil {
		t.Fatalf("validating %s:\n%v", dashboardFile, err)
	}
	if d.Uid == nil || *d.Uid == "" || d.Title == nil || *d.Title == "" {
		t.Error("dashboard has no uid or title")
	}

	vars := map[string]dashboard.VariableModel{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != dashboard.VariableTypeDatasource || v.Query == nil || v.Query.String == nil || *v.Query.String != "prometheus" {
		t.Errorf("no datasource variable of type prometheus: %+v", v)
	}
	for _, name := range []string{"cluster", "node", "namespace"} {
		v, ok := vars[name]
		if !ok || v.Type != dashboard.VariableTypeQuery {
			t.Errorf("no query variable %q", name)
			continue
		}
		// All must select series without the label too (a Prometheus
		// without a cluster label), which only ".*" does.
		if v.IncludeAll == nil || !*v.IncludeAll || v.AllValue == nil || *v.AllValue != ".*" {
			t.Errorf("variable %q: want include-all with the all value .*", name)
		}
	}
	if v := vars["namespace"]; v.Multi == nil || !*v.Multi {
		t.Error("variable namespace is not multi-valued")
	}

	// The SDK's decoder of the panel-or-row union and of targets drops a
	// value whose decoder returned an empty, non-nil BuildErrors: every
	// value. Errors still surface above, but the decoded panels are empty,
	// so each panel and target is decoded and validated here on its own.
	var raw struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Panels) != len(d.Panels) {
		t.Errorf("SDK decoded %d panels of %d", len(d.Panels), len(raw.Panels))
	}
	panels := 0
	for i, rp := range raw.Panels {
		var kind struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(rp, &kind); err != nil {
			t.Fatal(err)
		}
		if kind.Type == "row" {
			var r dashboard.RowPanel
			if err := noBuildErrors(r.UnmarshalJSONStrict(rp)); err != nil {
				t.Errorf("panels[%d] (row): %v", i, err)
			} else if err := noBuildErrors(r.Validate()); err != nil {
				t.Errorf("panels[%d] (row): %v", i, err)
			}
			continue
		}
		panels++
		var p dashboard.Panel
		if err := noBuildErrors(p.UnmarshalJSONStrict(rp)); err != nil {
			t.Errorf("panels[%d]: %v", i, err)
			continue
		}
		if err := noBuildErrors(p.Validate()); err != nil {
			t.Errorf("panels[%d]: %v", i, err)
		}
		title := deref(p.Title)
		if title == "" || p.GridPos == nil {
			t.Errorf("panels[%d] has no title or position", i)
		}
		if p.Datasource == nil || deref(p.Datasource.Type) != "prometheus" || deref(p.Datasource.Uid) != "${datasource}" {
			t.Errorf("panel %q does not use the ${datasource} Prometheus variable", title)
		}
		var targets struct {
			Targets []json.RawMessage `json:"targets"`
		}
		if err := json.Unmarshal(rp, &targets); err != nil {
			t.Fatal(err)
		}
		if len(targets.Targets) == 0 {
			t.Errorf("panel %q has no queries", title)
		}
		for j, rt := range targets.Targets {
			var q prometheus.Dataquery
			if err := noBuildErrors(q.UnmarshalJSONStrict(rt)); err != nil {
				t.Errorf("panel %q target %d: %v", title, j, err)
				continue
			}
			if err := noBuildErrors(q.Validate()); err != nil {
				t.Errorf("panel %q target %d: %v", title, j, err)
			}
			if q.Expr == "" || q.RefId == nil || q.Datasource == nil || deref(q.Datasource.Uid) != "${datasource}" {
				t.Errorf("panel %q target %d: want an expression, a refId and the ${datasource} data source", title, j)
			}
		}
	}
	if panels < 15 {
		t.Errorf("%d panels, want the full set", panels)
	}
}

// noBuildErrors turns the SDK's empty, non-nil BuildErrors into nil.
func noBuildErrors(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Every query of the dashboard and the rules parses, and every dashboard
// selector is scoped by the cluster and node variables, so that picking a
// node narrows every panel.
func TestQueriesParse(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	dq, err := promqlcheck.ExtractDashboardQueries(data)
	if err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	rq, err := promqlcheck.ExtractRuleQueries(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(dq) < 20 || len(rq) < len(alerts) {
		t.Fatalf("found %d dashboard and %d rule queries; extraction is broken", len(dq), len(rq))
	}
	for _, q := range rq {
		if _, err := promqlcheck.Parse(q.Expr); err != nil {
			t.Errorf("%s: %v\n%s", q.Source, err, q.Expr)
		}
	}
	for _, q := range dq {
		e, err := promqlcheck.Parse(q.Expr)
		if err != nil {
			t.Errorf("%s: %v\n%s", q.Source, err, q.Expr)
			continue
		}
		if q.Source == `variable "cluster"` {
			continue
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			for _, want := range []string{`cluster=~"$cluster"`, `node=~"$node"`} {
				if q.Source == `variable "node"` && want == `node=~"$node"` {
					continue
				}
				// Recording rules per workload sum over every node.
				if strings.Contains(vs.Name, ":") && want == `node=~"$node"` {
					continue
				}
				if !strings.Contains(vs.String(), want) {
					t.Errorf("%s: selector %s lacks %s", q.Source, vs, want)
				}
			}
			return nil
		})
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
