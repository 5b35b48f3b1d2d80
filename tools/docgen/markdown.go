package main

import (
	"fmt"
	"strings"
)

// fill replaces each marker of the template with its text; a marker that
// is not in the template exactly once is an error, so a template edit
// cannot silently drop a table.
func fill(name, tmpl string, parts ...string) ([]byte, error) {
	for i := 0; i+1 < len(parts); i += 2 {
		if n := strings.Count(tmpl, parts[i]); n != 1 {
			return nil, fmt.Errorf("%s: marker %s found %d times, want once", name, parts[i], n)
		}
		tmpl = strings.Replace(tmpl, parts[i], parts[i+1], 1)
	}
	return []byte(tmpl), nil
}

// cell escapes text for a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\\\")
	s = strings.ReplaceAll(s, "|", "\\|")
	return strings.ReplaceAll(s, "\n", " ")
}

// code writes s as inline code in a table cell; the empty string shows as
// "" so that it is visible.
func code(s string) string {
	if s == "" {
		s = `""`
	}
	return "`" + strings.ReplaceAll(s, "|", "\\|") + "`"
}

// codes writes each of items as inline code, comma separated.
func codes(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = code(s)
	}
	return strings.Join(out, ", ")
}
