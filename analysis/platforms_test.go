package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/config"
)

// tableOf is a serverless table as package pricing picks it from the
// built-in one for us-east-1, us-central1 and eastus on both
// architectures, functions first.
func tableOf() []config.PlatformConfig {
	fn := func(name string, gibSecond float64) config.PlatformConfig {
		return config.PlatformConfig{Name: name, Kind: config.KindFunction, MaxDuration: 15 * time.Minute, MaxMemoryMiB: 10240, MaxVCPUs: 6,
			MemoryMiBPerVCPU: 1769, MinMemoryMiB: 128, MemoryStepMiB: 1, PricePerGiBSecond: gibSecond, PricePerMillionRequests: 0.2, Source: name + " row"}
	}
	ct := func(name string, maxDuration time.Duration, step, perVCPU float64, minMiB, stepMiB uint64, vcpuSecond, gibSecond, requests float64) config.PlatformConfig {
		return config.PlatformConfig{Name: name, Kind: config.KindContainer, Listen: true, MaxDuration: maxDuration, MaxMemoryMiB: 8192, MaxVCPUs: 4,
			VCPUStep: step, MemoryMiBPerVCPU: perVCPU, MinMemoryMiB: minMiB, MemoryStepMiB: stepMiB,
			PricePerVCPUSecond: vcpuSecond, PricePerGiBSecond: gibSecond, PricePerMillionRequests: requests, Source: name + " row"}
	}
	return []config.PlatformConfig{
		fn("lambda-x86", 0.0000166667),
		fn("lambda-arm", 0.0000133334),
		ct("cloud-run", time.Hour, 1, 512, 128, 128, 0.000024, 0.0000025, 0.4),
		ct("fargate", 0, 0.25, 2048, 512, 1024, 0.0000112444, 0.0000012347, 0),
		ct("container-apps", 4*time.Minute, 0.25, 2048, 512, 512, 0.000024, 0.000003, 0.4),
	}
}

// With a table, a verdict names the cheapest platform that fits of the
// first kind that has one, says which it was cheaper than, and states no
// blocker of a platform of its own kind.
func TestCheapestPlatformThatFits(t *testing.T) {
	cfg := defaultAnalysis()
	cfg.Platforms.Table = tableOf()
	in := withLimits(nil, t0, 1, 512*mib)
	const scale = 730.0 / 72
	busy, requests := 216*60*scale, 2160*scale
	// baseFigures: 0.5 cores at its peak, so 885 MiB on Lambda; both
	// Lambdas fit, Arm is cheaper.
	x86 := busy*885.0/1024*0.0000166667 + requests/1e6*0.2
	arm := busy*885.0/1024*0.0000133334 + requests/1e6*0.2
	r, d := decideOn(in, cfg, baseFigures())
	checkStated(t, &r, &d)
	if d.verdict != VerdictFunction || r.Platform != "lambda-arm" || r.PlatformSource != "lambda-arm row" || !near(r.ServerlessMonthlyCost, arm, 1e-9) {
		t.Fatalf("function: %s on %s at %v, want lambda-arm at %v", d.verdict, r.Platform, r.ServerlessMonthlyCost, arm)
	}
	if txt := reasonTextOf(r.Reasons, codeCheaper); !strings.Contains(txt, "as lambda-arm it would cost") ||
		!strings.Contains(txt, "the cheapest function platform that fits, before lambda-x86 at "+moneyText(x86)) {
		t.Errorf("cheaper reason: %s", txt)
	}

	// Always listening: no function fits. Of the containers, the one with
	// a 4-minute limit cannot hold the 10-minute bursts; Fargate sizes
	// 0.5 vCPU at 1 GiB (2 GiB a vCPU, sold by the GiB) and charges no
	// requests, Cloud Run one vCPU at 512 MiB.
	f := baseFigures()
	f.tot.ListenMinutes = f.valid
	fargate := busy * (0.5*0.0000112444 + 1*0.0000012347)
	run := busy*(0.000024+0.5*0.0000025) + requests/1e6*0.4
	r, d = decideOn(in, cfg, f)
	checkStated(t, &r, &d)
	if d.verdict != VerdictServerlessContainer || r.Platform != "fargate" || !near(r.ServerlessMonthlyCost, fargate, 1e-9) {
		t.Fatalf("container: %s on %s at %v, want fargate at %v", d.verdict, r.Platform, r.ServerlessMonthlyCost, fargate)
	}
	if !d.fits[4].blocked.has(codeBurstTooLong) || d.blockers() != set(codeListener) {
		t.Errorf("container-apps blocked by %b, stated blockers %b", d.fits[4].blocked, d.blockers())
	}
	if ps, n := d.blockedBy(codeListener); n != 2 || ps[0] != 0 || ps[1] != 1 {
		t.Errorf("listener blocks %v", ps[:n])
	}
	if txt := reasonTextOf(r.Reasons, codeCheaper); !strings.Contains(txt, "the cheapest container platform that fits, before cloud-run at "+moneyText(run)) ||
		strings.Contains(txt, "container-apps") {
		t.Errorf("cheaper reason: %s", txt)
	}
	if txt := reasonTextOf(r.Blockers, codeListener); !strings.Contains(txt, "lambda-x86 and lambda-arm cannot run") {
		t.Errorf("listener blocker: %s", txt)
	}
}

func reasonTextOf(rs []Reason, c reasonCode) string {
	for _, r := range rs {
		if r.Code == c.String() {
			return r.Text
		}
	}
	return ""
}

// moneyText is the text's rendering of an amount in the default currency.
func moneyText(v float64) string {
	var t textBuilder
	t.money(v, "USD")
	return string(t.b)
}

// A Job's runs go to the cheapest platform of the first kind they fit.
func TestRunsOnTheCheapestPlatform(t *testing.T) {
	cfg := defaultAnalysis()
	cfg.Platforms.Table = tableOf()
	st := RunStats{Count: 24, Window: 24 * time.Hour, DurationMean: time.Minute, DurationP50: time.Minute, DurationP95: 70 * time.Second,
		DurationMax: 80 * time.Second, BusyRatio: 24.0 / 1440, CPUSecondsMean: 6, PeakCores: 0.1, PeakMemoryBytes: 100 << 20,
		ReservedCores: 2, ReservedBytes: 4 << 30}
	if v := AnalyzeRuns(st, cfg); v.Verdict != VerdictFunction || v.Platform != "lambda-arm" {
		t.Errorf("short runs: %s on %s (%v)", v.Verdict, v.Platform, v.Reasons)
	}
	// 20-minute runs: no function, no 4-minute container platform; of
	// Cloud Run and Fargate, Fargate's quarter vCPU at 512 MiB costs less.
	st.DurationMean, st.DurationP95, st.DurationMax, st.BusyRatio = 20*time.Minute, 25*time.Minute, 30*time.Minute, 0.35
	if v := AnalyzeRuns(st, cfg); v.Verdict != VerdictServerlessContainer || v.Platform != "fargate" {
		t.Errorf("long runs: %s on %s (%v)", v.Verdict, v.Platform, v.Reasons)
	}
}
