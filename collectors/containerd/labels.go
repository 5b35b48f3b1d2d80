package containerd

import (
	"slices"
	"strings"
)

// Label is a container label chosen for export.
type Label struct{ Key, Value string }

// LabelFilter chooses which container labels the exporters may publish.
// Labels are chosen once per container record, at discovery, so exporters
// never see the others.
type LabelFilter struct {
	exact    map[string]bool
	prefixes []string
}

// NewLabelFilter accepts label keys and prefixes ending in "*". No patterns
// select nothing.
func NewLabelFilter(patterns []string) *LabelFilter {
	f := &LabelFilter{exact: map[string]bool{}}
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			f.prefixes = append(f.prefixes, prefix)
		} else {
			f.exact[p] = true
		}
	}
	return f
}

// Select returns the allowed labels sorted by key, nil when there are none.
func (f *LabelFilter) Select(labels map[string]string) []Label {
	if f == nil || len(f.exact) == 0 && len(f.prefixes) == 0 {
		return nil
	}
	var out []Label
	for k, v := range labels {
		if f.allows(k) {
			out = append(out, Label{k, v})
		}
	}
	slices.SortFunc(out, func(a, b Label) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func (f *LabelFilter) allows(key string) bool {
	if f.exact[key] {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
