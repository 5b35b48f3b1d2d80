// Command docgen writes the reference pages whose source is the code:
// docs/metrics.md from the metric table in exporters/schema, and
// docs/configuration.md from config's fields, Default(), the comments of
// config/example.yaml (which a config test keeps equal to Default()) and
// the environment variables the agent reads. The prose around each table is
// in a template next to this file.
//
//	go generate ./tools/docgen        # or: go run ./tools/docgen -root .
//
// A test in this package renders the pages again and fails on any
// difference from the committed files, so a new metric or setting cannot
// be added without its documentation.
package main

//go:generate go run . -root ../..

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	root := flag.String("root", ".", "the repository's root directory")
	flag.Parse()
	pages, err := render(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
	for _, p := range pages {
		path := filepath.Join(*root, p.path)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, p.data) {
			continue
		}
		if err := os.WriteFile(path, p.data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "docgen:", err)
			os.Exit(1)
		}
		fmt.Println("docgen: wrote", p.path)
	}
}

// page is one generated file, its path relative to the repository's root.
type page struct {
	path string
	data []byte
}

// render builds every generated page from the code and from the files
// under root it reads (config/example.yaml).
func render(root string) ([]page, error) {
	metrics, err := metricsPage()
	if err != nil {
		return nil, err
	}
	cfg, err := configurationPage(filepath.Join(root, "config", "example.yaml"))
	if err != nil {
		return nil, err
	}
	return []page{
		{filepath.Join("docs", "metrics.md"), metrics},
		{filepath.Join("docs", "configuration.md"), cfg},
	}, nil
}
