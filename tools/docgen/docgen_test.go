package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The committed reference pages are exactly what the code generates: a
// metric, setting or environment variable added, renamed or removed in the
// code without the page, or a page edited by hand, fails here.
func TestGeneratedDocsUpToDate(t *testing.T) {
	pages, err := render(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		got, err := os.ReadFile(filepath.Join("..", "..", p.path))
		if err != nil {
			t.Errorf("%v (run go generate ./tools/docgen)", err)
			continue
		}
		if string(got) != string(p.data) {
			t.Errorf("%s differs from what the code generates (run go generate ./tools/docgen):\n%s", p.path, firstDiff(string(got), string(p.data)))
		}
	}
}

// firstDiff shows the first line where the committed file (have) and the
// generated one (want) differ.
func firstDiff(have, want string) string {
	h, w := strings.Split(have, "\n"), strings.Split(want, "\n")
	for i := range max(len(h), len(w)) {
		var a, b string
		if i < len(h) {
			a = h[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  committed: " + a + "\n  generated: " + b
		}
	}
	return "(line endings)"
}
