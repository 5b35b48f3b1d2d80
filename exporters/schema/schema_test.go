package schema

import (
	"os"
	"strings"
	"testing"
)

func TestPromName(t *testing.T) {
	for _, tc := range []struct {
		m    Metric
		want string
	}{
		{Metric{Name: "container.cpu.time", Unit: "s", Instrument: Counter}, "container_cpu_time_seconds_total"},
		{Metric{Name: "container.cpu.usage", Unit: "{cpu}", Instrument: Gauge}, "container_cpu_usage"},
		{Metric{Name: "container.memory.usage", Unit: "By", Instrument: Gauge}, "container_memory_usage_bytes"},
		{Metric{Name: "fleetscope.container.idle.ratio", Unit: "1", Instrument: Gauge}, "fleetscope_container_idle_ratio"},
		{Metric{Name: "x.events", Unit: "1", Instrument: Counter}, "x_events_total"},
		{Metric{Name: "x.requests_total", Unit: "{request}", Instrument: Counter}, "x_requests_total"},
		{Metric{Name: "x.info", Instrument: Gauge}, "x_info"},
		{Metric{Name: "fleetscope.container.cost", Unit: "{USD}/h", Instrument: Gauge}, "fleetscope_container_cost_per_hour"},
		{Metric{Name: "x.savings", Unit: "{USD}/mo", Instrument: Gauge}, "x_savings_per_month"},
		{Metric{Name: "x.speed", Unit: "By/s", Instrument: Gauge}, "x_speed_bytes_per_second"},
	} {
		if got := tc.m.PromName(); got != tc.want {
			t.Errorf("%s: PromName = %q, want %q", tc.m.Name, got, tc.want)
		}
	}
}

func TestNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range All {
		if seen[m.PromName()] {
			t.Errorf("duplicate metric %s", m.PromName())
		}
		seen[m.PromName()] = true
		if m.Help == "" {
			t.Errorf("%s has no help", m.Name)
		}
	}
}

// The README's metric reference lists every metric with its OTLP name, so
// the table users read cannot fall behind the one the code uses.
func TestREADMEListsEveryMetric(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, m := range All {
		row := "| `" + m.PromName() + "` | `" + m.Name + "` |"
		if !strings.Contains(readme, row) {
			t.Errorf("README metric table lacks a row starting %q", row)
		}
	}
}
