package analysis

import (
	"math"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/config"
)

func TestAnalyzeRuns(t *testing.T) {
	cfg := config.Default().Analysis
	hourly := RunStats{Count: 24, Window: 24 * time.Hour, DurationMean: time.Minute, DurationP50: time.Minute, DurationP95: 70 * time.Second,
		DurationMax: 80 * time.Second, BusyRatio: 24.0 / 1440, CPUSecondsMean: 6, PeakCores: 0.1, PeakMemoryBytes: 100 << 20,
		ReservedCores: 2, ReservedBytes: 4 << 30}
	for _, tc := range []struct {
		name     string
		st       func(RunStats) RunStats
		want     Verdict
		platform string
	}{
		{"hourly one-minute runs", func(s RunStats) RunStats { return s }, VerdictFunction, cfg.Platforms.Function.Name},
		{"one run", func(s RunStats) RunStats { s.Count = 1; return s }, VerdictInsufficientData, ""},
		{"near-continuous", func(s RunStats) RunStats { s.BusyRatio = 0.9; return s }, VerdictKeep, ""},
		{"longer than a function may run", func(s RunStats) RunStats {
			s.DurationMean, s.DurationP95, s.DurationMax = 20*time.Minute, 25*time.Minute, 30*time.Minute
			s.BusyRatio = 0.35
			return s
		}, VerdictServerlessContainer, cfg.Platforms.Container.Name},
		{"too much CPU for either", func(s RunStats) RunStats { s.PeakCores = 64; return s }, VerdictKeep, ""},
		{"using its whole reservation", func(s RunStats) RunStats { s.PeakCores, s.PeakMemoryBytes = 2, 4<<30; return s }, VerdictKeep, ""},
	} {
		v := AnalyzeRuns(tc.st(hourly), cfg)
		if v.Verdict != tc.want || v.Platform != tc.platform {
			t.Errorf("%s: %s on %q, want %s on %q (%v)", tc.name, v.Verdict, v.Platform, tc.want, tc.platform, v.Reasons)
		}
		if len(v.Reasons) == 0 {
			t.Errorf("%s: no reasons", tc.name)
		}
	}
	// Money: 24 runs a day is 730 runs a month; each reserves two cores
	// and 4 GiB for a minute.
	v := AnalyzeRuns(hourly, cfg)
	if math.Abs(v.RunsPerMonth-730) > 1e-9 {
		t.Errorf("runs per month %v", v.RunsPerMonth)
	}
	want := 730 * (1.0 / 60) * (2*cfg.Prices.VCPUHour + 4*cfg.Prices.GiBHour)
	if math.Abs(v.ContainerMonthlyCost-want) > 1e-9 || v.SavingsPerMonth != v.ContainerMonthlyCost-v.ServerlessMonthlyCost {
		t.Errorf("container cost %v, want %v; saving %v", v.ContainerMonthlyCost, want, v.SavingsPerMonth)
	}
}
