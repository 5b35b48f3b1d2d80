package main

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/fleetscope/fleetscope/exporters/schema"
)

//go:embed metrics.md.tmpl
var metricsTemplate string

// metricsPage renders docs/metrics.md from schema.All.
func metricsPage() ([]byte, error) {
	var b strings.Builder
	b.WriteString("| Prometheus name | OpenTelemetry name | type | unit | identity | labels (values where fixed) | stability | help |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, m := range schema.All {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			code(m.PromName()), code(m.Name), instrument(m), unit(m), identity(m), labels(m), m.Stability(), cell(m.Help))
	}
	var ids strings.Builder
	fmt.Fprintf(&ids, "- **container**: %s\n", promLabels(schema.ContainerAttributes))
	fmt.Fprintf(&ids, "- **pod**: %s\n", promLabels(schema.PodAttributes))
	return fill("metrics.md.tmpl", metricsTemplate,
		"{{identity}}", ids.String(),
		"{{metrics}}\n", b.String(),
		"{{count}}", fmt.Sprint(len(schema.All)))
}

func instrument(m *schema.Metric) string {
	switch m.Instrument {
	case schema.Counter:
		return "counter"
	case schema.Histogram:
		return "histogram"
	}
	return "gauge"
}

func unit(m *schema.Metric) string {
	if m.Unit == "" {
		return ""
	}
	return code(m.Unit)
}

func identity(m *schema.Metric) string {
	id := m.Identity()
	switch {
	case len(id) == 0:
		return "node"
	case &id[0] == &schema.PodAttributes[0]:
		return "pod"
	}
	return "container"
}

// labels lists m's own attributes by their Prometheus label names, with
// the values the code fixes, and the OTLP name where it differs.
func labels(m *schema.Metric) string {
	var parts []string
	for _, a := range m.Attributes {
		s := code(schema.PromLabel(a))
		if a != schema.PromLabel(a) {
			s += " (" + code(a) + ")"
		}
		if v := m.Values(a); v != nil {
			s += ": " + codes(v)
		}
		parts = append(parts, s)
	}
	if m.Labels {
		parts = append(parts, code(schema.PromLabel(schema.ContainerLabelPrefix)+"<key>"))
	}
	if m.Instrument == schema.Histogram {
		les := make([]string, len(m.Bounds))
		for i, b := range m.Bounds {
			les[i] = strconv.FormatFloat(b, 'g', -1, 64)
		}
		parts = append(parts, code("le")+" (Prometheus only): "+codes(append(les, "+Inf")))
	}
	return strings.Join(parts, "; ")
}

func promLabels(attrs []string) string {
	out := make([]string, len(attrs))
	for i, a := range attrs {
		out[i] = code(schema.PromLabel(a)) + " (" + code(a) + ")"
	}
	return strings.Join(out, ", ")
}
