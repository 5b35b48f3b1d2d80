package config

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ExportConfig bounds what the exporters publish, whichever they are
// (/metrics and OTLP share it).
type ExportConfig struct {
	// ContainerLabels are the container labels published on the container
	// info series, as container.label.<key> (container_label_<key> in
	// Prometheus). An entry is a label key, or a prefix ending in "*".
	// Labels may hold secrets or unbounded values, so none are published
	// unless listed; Kubernetes metadata is published as its own
	// attributes regardless. Of the listed labels, at most 64 per
	// container are kept (the first in key order, 16 KiB in all), a key
	// over 256 bytes is dropped and a value over 1 KiB is cut; the
	// others are dropped as soon as containerd's answer is read.
	ContainerLabels []string `yaml:"container_labels"`
	// MaxSeriesPerMetric caps one metric's series in a scrape or export;
	// the rest are dropped and counted, so that a runaway label cannot
	// take down the monitoring system.
	MaxSeriesPerMetric int `yaml:"max_series_per_metric"`
}

func defaultExport() ExportConfig {
	return ExportConfig{MaxSeriesPerMetric: 20000}
}

func (c Config) validateExport(v *validator) {
	e := c.Export
	seen := make(map[string]bool, len(e.ContainerLabels))
	for i, p := range e.ContainerLabels {
		field := fmt.Sprintf("export.container_labels[%d]", i)
		key := strings.TrimSuffix(p, "*")
		switch {
		case strings.TrimSpace(p) == "":
			v.add(field, "must not be empty")
		case strings.Contains(key, "*"):
			v.add(field, "%q: \"*\" may only end a prefix", p)
		case !utf8.ValidString(p):
			v.add(field, "%q is not valid UTF-8", p)
		case strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			v.add(field, "%q must not contain spaces or control characters", p)
		case len(p) > 253:
			v.add(field, "%q is longer than a Kubernetes label key (253 bytes)", p)
		case seen[p]:
			v.add(field, "%q is listed twice", p)
		}
		seen[p] = true
	}
	if e.MaxSeriesPerMetric < 1 {
		v.add("export.max_series_per_metric", "must be at least 1, got %d", e.MaxSeriesPerMetric)
	}
}
