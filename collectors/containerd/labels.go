package containerd

import (
	"maps"
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

// overrideLabels returns the labels c may take analysis overrides from,
// given the inventory byKey it is published in. Overrides change verdicts,
// so they are accepted only from labels that the workload's owner or the
// operator set, never from the image:
//
//   - A pod sandbox carries the pod's own labels (the kubelet puts them
//     there) merged over the labels of the sandbox image, which the
//     operator chooses in containerd's configuration: its labels count.
//   - A CRI app container carries only the kubelet's io.kubernetes.*
//     labels merged with its image's labels, so any fleetscope.io/ label on
//     it was set by the image's author. It takes its sandbox's labels
//     instead (nil until the sandbox is discovered).
//   - A container outside Kubernetes has labels from whoever created it,
//     but common clients (ctr run among them) merge the image's labels into
//     them, and nothing on the record tells which is which: it gets none,
//     so only the configuration applies.
func overrideLabels(c *Container, byKey map[string]*Container) map[string]string {
	switch {
	case c.Sandbox:
		return c.Labels
	case c.Pod.SandboxID != "":
		if sb := byKey[c.Namespace+"/"+c.Pod.SandboxID]; sb != nil && sb.Sandbox {
			return sb.Labels
		}
	}
	return nil
}

// linkOverrides sets every container's OverrideLabels from the inventory
// byKey, replacing (never modifying) a container whose value changes:
// published containers are immutable.
func linkOverrides(byKey map[string]*Container) {
	for k, c := range byKey {
		want := overrideLabels(c, byKey)
		if maps.Equal(c.OverrideLabels, want) {
			continue
		}
		n := *c
		n.OverrideLabels = want
		byKey[k] = &n
	}
}
