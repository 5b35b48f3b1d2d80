package containerd

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
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

// allowsBytes is allows for a key still in a message's bytes.
func (f *LabelFilter) allowsBytes(key []byte) bool {
	if f.exact[string(key)] {
		return true
	}
	for _, p := range f.prefixes {
		if bytes.HasPrefix(key, []byte(p)) {
			return true
		}
	}
	return false
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

// Bounds on the labels kept per container. containerd accepts any number
// of labels of up to 4 KiB each (key and value together), so a container's
// labels can fill a whole 16 MiB message; the agent keeps only the ones it
// reads and the allow-listed ones, and bounds even those.
const (
	// MaxLabels bounds the optional labels kept per container: the
	// allow-listed ones (export.container_labels) and the fleetscope.io/
	// ones that analysis overrides come from. When there are more, the
	// first in byte order of their keys are kept, so that the choice is
	// the same on every list.
	MaxLabels = 64
	// MaxLabelBytes bounds the key and value bytes of those optional
	// labels together; labels past it, in key order, are dropped.
	MaxLabelBytes = 16 << 10
	// MaxLabelKey bounds a kept label's key; a longer key is dropped
	// (a cut key would name another label).
	MaxLabelKey = 256
	// MaxLabelValue bounds a kept label's value; a longer value is cut at
	// a character boundary and ends with labelCutMarker, within the bound.
	MaxLabelValue = 1024
)

// labelCutMarker ends a value cut to MaxLabelValue.
const labelCutMarker = "…"

// readLabels are the labels the agent itself reads: the pod's identity,
// the sandbox flag and the labels the workload is derived from. They are
// a fixed, small set, so they are always kept (within the size bounds).
var readLabels = []string{
	LabelPodName, LabelPodNamespace, LabelPodUID, LabelContainerName, LabelCRIKind,
	labelPodTemplateHash, labelRevisionHash, labelStatefulSetPodName, labelTemplateGeneration,
	labelJobName, labelJobNameLegacy, LabelWorkloadKind, LabelWorkloadName,
}

// overridePrefix starts the labels analysis overrides are read from.
const overridePrefix = "fleetscope.io/"

// LabelPolicy chooses which of a container's labels the agent keeps in
// memory at all: the ones it reads (readLabels and the configured workload
// label), the fleetscope.io/ ones and the allow-listed ones, within the
// bounds above. The rest are dropped while containerd's answer is decoded.
type LabelPolicy struct {
	read   map[string]bool
	export *LabelFilter
}

// NewLabelPolicy keeps the labels the agent reads, the workload label
// workloadLabel (containerd.workload_label; may be empty) and the labels
// export allows (may be nil).
func NewLabelPolicy(export *LabelFilter, workloadLabel string) *LabelPolicy {
	p := &LabelPolicy{read: make(map[string]bool, len(readLabels)+1), export: export}
	for _, k := range readLabels {
		p.read[k] = true
	}
	if workloadLabel != "" {
		p.read[workloadLabel] = true
	}
	return p
}

// Label classes of a LabelPolicy; the others are not held at all.
const (
	labelRead     = iota + 1 // read by the agent: always kept
	labelOptional            // allow-listed or an override: kept within MaxLabels
)

// apply returns the labels of labels that p keeps, nil when none, and how
// many it cut (dropped for a bound, or shortened). Labels p does not need
// are not counted: dropping them is the rule, not a cut.
func (p *LabelPolicy) apply(labels map[string]string) (map[string]string, int) {
	var s labelSet
	s.reset(p)
	for k, v := range labels {
		s.add([]byte(k), []byte(v))
	}
	return s.done()
}

// labelSet collects the labels a policy keeps, one at a time, as they are
// decoded; labels are copied only once chosen, and at most 2×MaxLabels
// optional candidates are held at any time.
type labelSet struct {
	p    *LabelPolicy
	read map[string]string
	opt  []Label
	// full is set once opt has been cut to MaxLabels; then a key at or
	// after last cannot be among the first MaxLabels and is cut at once.
	full bool
	last string
	cut  int
}

func (s *labelSet) reset(p *LabelPolicy) {
	if p == nil {
		p = NewLabelPolicy(nil, "")
	}
	*s = labelSet{p: p, opt: s.opt[:0]}
}

// add considers one label. Nothing is copied from key and value unless the
// label is kept, so a flood of labels the agent does not need costs no
// memory beyond the message they came in.
func (s *labelSet) add(key, value []byte) {
	var class int
	switch {
	// A map index with a converted key does not copy it.
	case s.p.read[string(key)]:
		class = labelRead
	case bytes.HasPrefix(key, []byte(overridePrefix)), s.p.export != nil && s.p.export.allowsBytes(key):
		class = labelOptional
	default:
		return
	}
	if len(key) > MaxLabelKey {
		s.cut++
		return
	}
	if class == labelOptional && s.full && string(key) >= s.last {
		s.cut++
		return
	}
	var v string
	if len(value) > MaxLabelValue {
		v = string(cutValue(value))
		s.cut++
	} else {
		v = string(value)
	}
	if class == labelRead {
		if s.read == nil {
			s.read = make(map[string]string, 8)
		}
		s.read[string(key)] = v
		return
	}
	s.opt = append(s.opt, Label{string(key), v})
	if len(s.opt) >= 2*MaxLabels {
		s.compact()
	}
}

// compact keeps the first MaxLabels candidates in key order. Sorting a
// bounded slice each time it fills makes choosing among n labels
// O(n log MaxLabels).
func (s *labelSet) compact() {
	slices.SortStableFunc(s.opt, func(a, b Label) int { return strings.Compare(a.Key, b.Key) })
	// A key given twice (containerd never does) keeps its last value.
	w := 0
	for i, l := range s.opt {
		if i+1 < len(s.opt) && s.opt[i+1].Key == l.Key {
			continue
		}
		s.opt[w] = l
		w++
	}
	s.opt = s.opt[:w]
	if len(s.opt) > MaxLabels {
		s.cut += len(s.opt) - MaxLabels
		clear(s.opt[MaxLabels:])
		s.opt = s.opt[:MaxLabels]
		s.full = true
		s.last = s.opt[MaxLabels-1].Key
	}
}

// done returns the kept labels and the number cut.
func (s *labelSet) done() (map[string]string, int) {
	s.compact()
	out := s.read
	size := 0
	for i, l := range s.opt {
		if size += len(l.Key) + len(l.Value); size > MaxLabelBytes {
			s.cut += len(s.opt) - i
			break
		}
		if out == nil {
			out = make(map[string]string, len(s.opt))
		}
		// A key both read and optional (an allow-listed
		// io.kubernetes.pod.name) is already there.
		if _, ok := out[l.Key]; !ok {
			out[l.Key] = l.Value
		}
	}
	clear(s.opt)
	s.opt = s.opt[:0]
	return out, s.cut
}

// cutValue returns v shortened to at most MaxLabelValue bytes, ending with
// labelCutMarker, cut before a UTF-8 continuation byte where it can be.
func cutValue(v []byte) []byte {
	n := MaxLabelValue - len(labelCutMarker)
	for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(v[n]); i++ {
		n--
	}
	out := make([]byte, 0, n+len(labelCutMarker))
	return append(append(out, v[:n]...), labelCutMarker...)
}
