package promtext

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/model"
)

// manyLabels is a snapshot of one container with n allow-listed labels,
// every other pair of them mapping to one Prometheus name (a.N and a_N).
func manyLabels(n int) *model.Snapshot {
	labels := make([]model.Label, 0, n)
	for i := 0; len(labels) < n; i++ {
		labels = append(labels, model.Label{Key: fmt.Sprintf("a.%06d", i), Value: "x"})
		if len(labels) < n {
			labels = append(labels, model.Label{Key: fmt.Sprintf("a_%06d", i), Value: "y"})
		}
	}
	s := testSnapshot()
	meta := *s.Containers[2].Meta
	meta.Labels = labels
	s.Containers[2].Meta = &meta
	return s
}

// A container with tens of thousands of labels renders in time linear in
// their number: the repeated-name check of the info line used to compare
// each name with all before it, which took seconds for 40,000 labels.
func TestInfoLineWithManyLabelsIsLinear(t *testing.T) {
	const n = 40_000
	w := New(fixed{manyLabels(n)}, Options{})
	start := time.Now()
	out := string(w.Append(nil))
	took := time.Since(start)

	var line string
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, "fleetscope_container_info{") && strings.Contains(l, `id="bbbb"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatal("no info line for the container")
	}
	// Each Prometheus name once, with its first key's value.
	if got := strings.Count(line, `="x"`); got != n/2 {
		t.Errorf("%d labels from the first keys, want %d", got, n/2)
	}
	if strings.Contains(line, `="y"`) {
		t.Error("a repeated Prometheus name was written twice")
	}
	// Quadratic checking took about 3 s for this line; linear takes a few
	// milliseconds. The bound leaves room for the race detector.
	if took > time.Second {
		t.Errorf("rendering %d labels took %v", n, took)
	}

	// Ten times the labels take about ten times as long, not a hundred.
	small := New(fixed{manyLabels(n / 10)}, Options{})
	t0 := time.Now()
	for range 10 {
		small.Append(nil)
	}
	tenSmall := time.Since(t0)
	t0 = time.Now()
	w.Append(nil)
	big := time.Since(t0)
	if big > 5*tenSmall+50*time.Millisecond {
		t.Errorf("%d labels: %v; 10 × %d labels: %v: growing faster than linearly", n, big, n/10, tenSmall)
	}
}
