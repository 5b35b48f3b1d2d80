// Package promtext serves the agent's latest snapshot in the Prometheus
// text exposition format. It writes the text directly from the snapshot
// into reused buffers, one per metric family, instead of building a
// client_golang const metric per series: at a few thousand series per
// scrape that path cost tens of milliseconds and ~20 allocations a series.
// The series of a container that vanished simply stop being written.
package promtext

import (
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/model"
)

// Source hands out the latest snapshot; nil before the first tick.
type Source interface {
	Snapshot() *model.Snapshot
}

// Writer renders snapshots. Values are as of the agent's latest sample,
// not read at scrape time: the agent samples on its own loop because it
// keeps history. It is safe for concurrent use: each scrape renders into
// buffers of its own, taken from a free list, so a slow client delays no
// other scrape and steady scraping allocates nothing new.
type Writer struct {
	src       Source
	version   string
	maxSeries int
	families  []*family // by schema index
	// promNames maps OpenTelemetry names to Prometheus ones: the dropped
	// series gauge names its metric as this endpoint does.
	promNames map[string]string
	order     []int // families sorted by name, as Prometheus clients write them

	mu   sync.Mutex
	free []*render
}

// Options tune a Writer.
type Options struct {
	Version string
	// MaxSeriesPerMetric caps each metric's series in one scrape; further
	// series are left out and counted. Zero means no cap.
	MaxSeriesPerMetric int
}

// family is one metric's fixed text.
type family struct {
	header string   // HELP and TYPE lines
	name   string   // Prometheus name
	labels []string // label names: identity, then the metric's attributes
	les    []string // a histogram's le values, +Inf last
}

// render is one scrape's text, by family, and the schema.Sink that
// writes it.
type render struct {
	w      *Writer
	walker schema.Walker
	lines  [][]byte
	// values is scratch space for a series' label values.
	values []string
	// labelNames caches the Prometheus names of allow-listed container
	// labels; extra holds the names written in the current info line.
	labelNames map[string]string
	extra      []string
	// extraSet holds the same names as extra on a line of more than
	// smallLabelLine labels, so that checking for a repeated name costs
	// O(1) and a line of n labels O(n), not O(n²).
	extraSet map[string]struct{}
}

var _ schema.Sink = (*render)(nil)

// New returns a Writer over src.
func New(src Source, o Options) *Writer {
	w := &Writer{src: src, version: o.Version, maxSeries: o.MaxSeriesPerMetric, promNames: map[string]string{}}
	for _, m := range schema.All {
		f := &family{name: m.PromName()}
		w.promNames[m.Name] = f.name
		for _, a := range m.Identity() {
			f.labels = append(f.labels, schema.PromLabel(a))
		}
		for _, a := range m.Attributes {
			f.labels = append(f.labels, schema.PromLabel(a))
		}
		typ := "gauge"
		switch m.Instrument {
		case schema.Counter:
			typ = "counter"
		case schema.Histogram:
			typ = "histogram"
			f.les = make([]string, len(m.Bounds)+1)
			for j, b := range m.Bounds {
				f.les[j] = string(appendFloat(nil, b))
			}
			f.les[len(m.Bounds)] = "+Inf"
		}
		f.header = "# HELP " + f.name + " " + escapeHelp(m.Help) + "\n# TYPE " + f.name + " " + typ + "\n"
		w.families = append(w.families, f)
		w.order = append(w.order, len(w.order))
	}
	slices.SortFunc(w.order, func(a, b int) int { return strings.Compare(w.families[a].name, w.families[b].name) })
	return w
}

// Append renders the latest snapshot and appends it to dst.
func (w *Writer) Append(dst []byte) []byte { return w.AppendSnapshot(dst, w.src.Snapshot()) }

// AppendSnapshot renders s (nil: only the build info) and appends it to
// dst.
func (w *Writer) AppendSnapshot(dst []byte, s *model.Snapshot) []byte {
	r := w.render(s)
	defer w.release(r)
	for _, i := range w.order {
		if len(r.lines[i]) > 0 {
			dst = append(dst, w.families[i].header...)
			dst = append(dst, r.lines[i]...)
		}
	}
	return dst
}

// WriteTo renders the latest snapshot and writes it to out straight from
// the render's buffers, so a scrape holds no second copy of its text.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	r := w.render(w.src.Snapshot())
	defer w.release(r)
	var n int64
	for _, i := range w.order {
		if len(r.lines[i]) == 0 {
			continue
		}
		m, err := io.WriteString(out, w.families[i].header)
		n += int64(m)
		if err == nil {
			m, err = out.Write(r.lines[i])
			n += int64(m)
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// render fills a render from s.
func (w *Writer) render(s *model.Snapshot) *render {
	w.mu.Lock()
	var r *render
	if n := len(w.free); n > 0 {
		r, w.free = w.free[n-1], w.free[:n-1]
	}
	w.mu.Unlock()
	if r == nil {
		r = &render{w: w, lines: make([][]byte, len(w.families)), labelNames: map[string]string{}}
		r.walker = schema.Walker{MaxSeries: w.maxSeries, Version: w.version}
	}
	for i := range r.lines {
		r.lines[i] = r.lines[i][:0]
	}
	r.walker.Walk(s, r)
	return r
}

// maxFreeRenders bounds the renders kept for reuse: steady scraping (one
// or two Prometheus servers) reuses them, while the extra ones a burst of
// concurrent scrapes needed are left to the garbage collector rather than
// held for good.
const maxFreeRenders = 2

func (w *Writer) release(r *render) {
	w.mu.Lock()
	if len(w.free) < maxFreeRenders {
		w.free = append(w.free, r)
	}
	w.mu.Unlock()
}

// Point appends one sample line. Empty label values are left out, which
// the format defines as the same series and which saves bytes for
// containers outside Kubernetes. On the info series, two label keys that
// map to one Prometheus name (a.b and a_b) would make an invalid line, so
// the first in key order wins.
func (r *render) Point(m *schema.Metric, v float64, meta *model.Meta, attrs []string) {
	i := m.Index()
	f := r.w.families[i]
	r.values = append(schema.IdentityValues(r.values[:0], m, meta), attrs...)
	if m == &schema.DroppedSeries {
		r.values[0] = r.w.promNames[r.values[0]]
	}
	b, sep := appendLabels(append(r.lines[i], f.name...), f, r.values)
	if m.Labels && meta != nil {
		r.extra = r.extra[:0]
		r.startLine(len(meta.Labels))
		for _, l := range meta.Labels {
			name := r.labelName(l.Key)
			if l.Value == "" || r.repeated(name) {
				continue
			}
			b = append(b, sep)
			sep = ','
			b = append(b, name...)
			b = append(b, '=', '"')
			b = appendEscaped(b, l.Value)
			b = append(b, '"')
		}
	}
	if sep == ',' {
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	r.lines[i] = append(b, '\n')
}

// Histogram appends a histogram's lines: its cumulative buckets, sum and
// count. Empty attribute values are left out, as in Point.
func (r *render) Histogram(m *schema.Metric, h *model.Histogram, _ time.Time, attrs []string) {
	i := m.Index()
	f := r.w.families[i]
	b := r.lines[i]
	var cum uint64
	for j, c := range h.Counts {
		cum += c
		b = r.histLine(b, f, "_bucket", attrs, f.les[j])
		b = strconv.AppendUint(b, cum, 10)
		b = append(b, '\n')
	}
	b = r.histLine(b, f, "_sum", attrs, "")
	b = appendFloat(b, h.Sum)
	b = append(b, '\n')
	b = r.histLine(b, f, "_count", attrs, "")
	b = strconv.AppendUint(b, cum, 10)
	r.lines[i] = append(b, '\n')
}

// histLine appends a histogram line's name and labels, up to its value;
// le is the bucket's bound, empty on the sum and count lines.
func (r *render) histLine(b []byte, f *family, suffix string, attrs []string, le string) []byte {
	b = append(b, f.name...)
	b, sep := appendLabels(append(b, suffix...), f, attrs)
	if le != "" {
		b = append(b, sep)
		sep = ','
		b = append(b, `le="`...)
		b = append(b, le...)
		b = append(b, '"')
	}
	if sep == ',' {
		b = append(b, '}')
	}
	return append(b, ' ')
}

// smallLabelLine is the most labels an info line has for a repeated name
// to be looked for in r.extra by a linear search, which allocates
// nothing. Discovery keeps at most 64 allow-listed labels per container,
// so only a snapshot built some other way has longer lines.
const smallLabelLine = 128

// startLine prepares the repeated-name check for a line of n labels.
func (r *render) startLine(n int) {
	if n <= smallLabelLine {
		r.extraSet = nil
		return
	}
	// A new set each time: clearing one that grew for a huge line would
	// cost its old size on every later line.
	r.extraSet = make(map[string]struct{}, n)
}

// repeated reports whether name is already on the current info line, and
// records it when not.
func (r *render) repeated(name string) bool {
	if r.extraSet != nil {
		if _, ok := r.extraSet[name]; ok {
			return true
		}
		r.extraSet[name] = struct{}{}
	} else if slices.Contains(r.extra, name) {
		return true
	}
	r.extra = append(r.extra, name)
	return false
}

// maxLabelNames bounds the label-name cache of a render: label keys are
// chosen by whoever creates containers, so the cache starts over rather
// than grow with every key ever seen.
const maxLabelNames = 1024

// labelName is the Prometheus label of container label key.
func (r *render) labelName(key string) string {
	n, ok := r.labelNames[key]
	if !ok {
		if len(r.labelNames) >= maxLabelNames {
			clear(r.labelNames)
		}
		n = schema.PromLabel(schema.ContainerLabelPrefix + key)
		r.labelNames[key] = n
	}
	return n
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendEscaped escapes a label value: backslash, double quote and line
// feed. Runs without any are copied whole, most values being plain.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '\\':
			esc = `\\`
		case '"':
			esc = `\"`
		case '\n':
			esc = `\n`
		default:
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		start = i + 1
	}
	return append(b, s[start:]...)
}

func escapeHelp(s string) string {
	return strings.NewReplacer("\\", `\\`, "\n", `\n`).Replace(s)
}

// appendLabels appends the non-empty values under f's label names, opening
// the label set with '{'; it returns the separator the next label takes
// ('{' while none was written, else ',').
func appendLabels(b []byte, f *family, values []string) ([]byte, byte) {
	sep := byte('{')
	for j, val := range values {
		if val == "" {
			continue
		}
		b = append(b, sep)
		sep = ','
		b = append(b, f.labels[j]...)
		b = append(b, '=', '"')
		b = appendEscaped(b, val)
		b = append(b, '"')
	}
	return b, sep
}
