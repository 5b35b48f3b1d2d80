package main

import (
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/fleetscope/fleetscope/collectors/procfs"
)

// The agent's process_* series keep the names, types and meaning of
// client_golang's process collector, which dashboards and alerts expect.
func TestSelfCollectorMatchesClientGolang(t *testing.T) {
	self, err := procfs.OpenSelf("/proc")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	ours := gatherByName(t, newSelfCollector(self, slog.New(slog.DiscardHandler)))
	theirs := gatherByName(t, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	for name, want := range theirs {
		if strings.HasPrefix(name, "process_network_") {
			continue // the node's counters under hostNetwork; left out on purpose
		}
		got, ok := ours[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if got.GetType() != want.GetType() || got.GetHelp() != want.GetHelp() {
			t.Errorf("%s: type %v help %q, want %v %q", name, got.GetType(), got.GetHelp(), want.GetType(), want.GetHelp())
		}
		g, w := familyValue(got), familyValue(want)
		var tol float64
		switch name {
		case "process_cpu_seconds_total":
			tol = 0.5 // gathered one after the other
		case "process_resident_memory_bytes", "process_virtual_memory_bytes":
			tol = 0.1 * w
		case "process_open_fds":
			tol = 2
		case "process_start_time_seconds":
			tol = 1 // client_golang rounds the boot time the same way; sub-second parts differ
		}
		if math.Abs(g-w) > tol {
			t.Errorf("%s = %v, client_golang says %v", name, g, w)
		}
	}
	for name := range ours {
		if _, ok := theirs[name]; !ok {
			t.Errorf("%s is not a client_golang process series", name)
		}
	}
}

func gatherByName(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		m[mf.GetName()] = mf
	}
	return m
}

func familyValue(mf *dto.MetricFamily) float64 {
	m := mf.GetMetric()[0]
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}
