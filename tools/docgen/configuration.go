package main

import (
	_ "embed"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fleetscope/fleetscope/config"
)

//go:embed configuration.md.tmpl
var configurationTemplate string

// configurationPage renders docs/configuration.md: every key with its
// default and environment variable from config, and its description from
// the comment above it in example.yaml (a key without one shares the
// comment of the key or section before it).
func configurationPage(example string) ([]byte, error) {
	data, err := os.ReadFile(example)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", example, err)
	}
	comments := map[string]string{}
	if len(doc.Content) == 1 {
		collectComments(doc.Content[0], "", "", comments)
	}

	var b strings.Builder
	b.WriteString("| key | default | environment variable | value | description |\n")
	b.WriteString("|---|---|---|---|---|\n")
	last := ""
	for _, s := range config.Settings() {
		desc, ok := comments[s.Path]
		if !ok {
			return nil, fmt.Errorf("%s does not mention %s", example, s.Path)
		}
		shown := cell(desc)
		if desc == last && desc != "" {
			shown = "as above"
		}
		last = desc
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", code(s.Path), code(s.Default), code(s.Env), s.Type, shown)
	}

	var o strings.Builder
	o.WriteString("| variable | metrics-specific form (wins) | overrides | |\n")
	o.WriteString("|---|---|---|---|\n")
	for _, v := range config.OTELEnvVars {
		metrics, key := "", ""
		if v.Metrics != "" {
			metrics = code(v.Metrics)
		}
		if v.Key != "" {
			key = code(v.Key)
		}
		fmt.Fprintf(&o, "| %s | %s | %s | %s |\n", code(v.Name), metrics, key, cell(v.What))
	}
	return fill("configuration.md.tmpl", configurationTemplate,
		"{{settings}}\n", b.String(),
		"{{otel}}\n", o.String())
}

// collectComments records, for every key path under the mapping n, the
// comment above it, or inherited when there is none.
func collectComments(n *yaml.Node, prefix, inherited string, out map[string]string) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := k.Value
		if prefix != "" {
			path = prefix + "." + k.Value
		}
		if c := commentText(k.HeadComment); c != "" {
			inherited = c
		}
		if v.Kind == yaml.MappingNode {
			collectComments(v, path, inherited, out)
			continue
		}
		out[path] = inherited
	}
}

// commentText joins the lines of a YAML comment into one sentence run,
// without the file's header (the document comment before the first blank
// line is the key's only when it touches the key).
func commentText(c string) string {
	if i := strings.LastIndex(c, "\n\n"); i >= 0 {
		c = c[i+2:]
	}
	var lines []string
	for _, l := range strings.Split(c, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#"))
		if l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, " ")
}
