// Package promqlcheck extracts the PromQL of a Grafana dashboard and of a
// Prometheus rule file, parses it with the Prometheus parser and lists the
// metric names it selects. Tests use it to keep the packaged dashboard and
// alerts in step with the metrics the agent really exports.
package promqlcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// Query is one PromQL expression and where it was found.
type Query struct {
	// Source names the place, e.g. `panel "CPU vs limit" target B` or
	// `rule FleetscopeAgentDown`.
	Source string
	Expr   string
}

// ExtractDashboardQueries returns the PromQL of every panel target (rows
// included, collapsed or not) and of every query variable of a Grafana
// dashboard. Variable queries of the form label_values(selector, label) and
// query_result(expr) yield the selector or expression; label_values(label)
// and other Grafana functions without PromQL yield nothing.
func ExtractDashboardQueries(data []byte) ([]Query, error) {
	var d struct {
		Panels     []dashboardPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decoding dashboard: %w", err)
	}
	var qs []Query
	var walk func(ps []dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for i, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					continue
				}
				ref := t.RefID
				if ref == "" {
					ref = fmt.Sprint(i)
				}
				qs = append(qs, Query{Source: fmt.Sprintf("panel %q target %s", p.Title, ref), Expr: t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" || len(v.Query) == 0 {
			continue
		}
		q, err := variableQuery(v.Query)
		if err != nil {
			return nil, fmt.Errorf("variable %q: %w", v.Name, err)
		}
		if expr := variablePromQL(q); expr != "" {
			qs = append(qs, Query{Source: fmt.Sprintf("variable %q", v.Name), Expr: expr})
		}
	}
	return qs, nil
}

type dashboardPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // of a collapsed row
}

// variableQuery returns a query variable's query, which Grafana stores as a
// string or, for Prometheus since Grafana 10, as {"query": "..."}.
func variableQuery(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var m struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("query is neither a string nor an object with a query: %w", err)
	}
	return m.Query, nil
}

// variablePromQL returns the PromQL inside a Grafana Prometheus variable
// query, or "" when there is none.
func variablePromQL(q string) string {
	q = strings.TrimSpace(q)
	for _, fn := range []string{"label_values", "query_result"} {
		rest, ok := strings.CutPrefix(q, fn+"(")
		if !ok || !strings.HasSuffix(rest, ")") {
			continue
		}
		arg := strings.TrimSpace(rest[:len(rest)-1])
		if fn == "query_result" {
			return arg
		}
		// label_values(selector, label): the label is after the last
		// comma outside braces and quotes; without a comma there is no
		// selector.
		if i := lastTopLevelComma(arg); i >= 0 {
			return strings.TrimSpace(arg[:i])
		}
		return ""
	}
	return ""
}

func lastTopLevelComma(s string) int {
	depth, last := 0, -1
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '{' || c == '(' || c == '[':
			depth++
		case c == '}' || c == ')' || c == ']':
			depth--
		case c == ',' && depth == 0:
			last = i
		}
	}
	return last
}

// ruleFile is the Prometheus rule file format; unknown keys are errors so
// that a misspelt "annotations" does not pass silently.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Limit    int    `yaml:"limit"`
		Rules    []struct {
			Alert         string            `yaml:"alert"`
			Record        string            `yaml:"record"`
			Expr          string            `yaml:"expr"`
			For           string            `yaml:"for"`
			KeepFiringFor string            `yaml:"keep_firing_for"`
			Labels        map[string]string `yaml:"labels"`
			Annotations   map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ExtractRuleQueries returns the expression of every alerting and recording
// rule of a Prometheus rule file.
func ExtractRuleQueries(data []byte) ([]Query, error) {
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding rule file: %w", err)
	}
	var qs []Query
	for _, g := range f.Groups {
		for i, r := range g.Rules {
			name := r.Alert
			if name == "" {
				name = r.Record
			}
			if name == "" {
				return nil, fmt.Errorf("group %q rule %d: neither alert nor record", g.Name, i)
			}
			qs = append(qs, Query{Source: fmt.Sprintf("group %q rule %s", g.Name, name), Expr: r.Expr})
		}
	}
	return qs, nil
}

// grafanaInterval matches Grafana's interval macros, which stand where
// PromQL wants a duration.
var grafanaInterval = regexp.MustCompile(`\$(__rate_interval|__interval|__range|\{__rate_interval\}|\{__interval\}|\{__range\})`)

// Parse parses expr as PromQL after replacing Grafana's interval macros
// ($__rate_interval, $__interval, $__range) by a duration. Template
// variables such as $namespace are left alone: inside a label matcher's
// quotes they parse, anywhere else they are an error, as they would be for
// a user who does not pick the right value.
func Parse(expr string) (parser.Expr, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("empty expression")
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaInterval.ReplaceAllString(expr, "5m"))
	if err != nil {
		return nil, err
	}
	return e, nil
}

// MetricNames parses expr (see Parse) and returns the sorted, distinct
// metric names of its vector and matrix selectors, whether written as
// name{...} or {__name__="name"}. A selector without an exact name (only a
// regular expression on __name__) contributes nothing.
func MetricNames(expr string) ([]string, error) {
	e, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name != "" {
			names = append(names, vs.Name)
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				names = append(names, m.Value)
			}
		}
		return nil
	})
	slices.Sort(names)
	return slices.Compact(names), nil
}
