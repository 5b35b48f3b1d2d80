// Package golden helps tests that compare output with a golden file: it
// shows where the two differ, line by line, briefly.
package golden

import "strings"

// maxDiffLines bounds a difference shown: the first lines that differ are
// enough to see what changed.
const maxDiffLines = 20

// Diff lists the lines that differ between want and got, as "- want" and
// "+ got" pairs, at most maxDiffLines of them.
func Diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) <= maxDiffLines; i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, "- "+a, "+ "+b)
		}
	}
	return strings.Join(out, "\n")
}
