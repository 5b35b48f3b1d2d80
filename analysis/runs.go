package analysis

import (
	"fmt"
	"time"

	"github.com/fleetscope/fleetscope/config"
)

// RunStats summarise the runs of one Job or CronJob seen on a node.
type RunStats struct {
	Count int
	// Window is from the first run's start to now.
	Window                                time.Duration
	DurationP50, DurationP95, DurationMax time.Duration
	DurationMean                          time.Duration
	// BusyRatio is the runs' total duration over Window.
	BusyRatio float64
	// CPUSecondsMean is a run's CPU time, on average; PeakCores the
	// highest average cores of one run.
	CPUSecondsMean, PeakCores float64
	PeakMemoryBytes           uint64
	// ReservedCores and ReservedBytes are what a run's pod reserves
	// (requests or limits), for its cost.
	ReservedCores float64
	ReservedBytes uint64
}

// RunVerdict is where a Job's runs would fit and what they cost.
type RunVerdict struct {
	Verdict               Verdict
	Platform              string
	RunsPerMonth          float64
	ContainerMonthlyCost  float64
	ServerlessMonthlyCost float64
	SavingsPerMonth       float64
	Reasons               []Reason
}

// busyKeep is the share of time runs must cover to be left as they are.
const busyKeep = 0.8

// AnalyzeRuns judges the runs of a Job or CronJob (see "Runs of Jobs and
// CronJobs" in the package documentation).
func AnalyzeRuns(st RunStats, cfg config.AnalysisConfig) RunVerdict {
	var v RunVerdict
	reason := func(code, format string, args ...any) {
		v.Reasons = append(v.Reasons, Reason{Code: code, Text: fmt.Sprintf(format, args...)})
	}
	if st.Count < 2 {
		v.Verdict = VerdictInsufficientData
		reason(CodeInsufficientData, "%d run seen, 2 needed", st.Count)
		return v
	}
	window := max(st.Window, time.Hour)
	v.RunsPerMonth = float64(st.Count) / window.Hours() * HoursPerMonth
	p := &cfg.Prices
	perHour := HourlyCost(st.ReservedCores, float64(st.ReservedBytes), 0, p)
	v.ContainerMonthlyCost = v.RunsPerMonth * st.DurationMean.Hours() * perHour
	reason("runs", "%d runs in %s (%.0f a month) of p50 %s, p95 %s, longest %s",
		st.Count, window.Round(time.Minute), v.RunsPerMonth, st.DurationP50.Round(time.Second), st.DurationP95.Round(time.Second), st.DurationMax.Round(time.Second))
	if st.BusyRatio >= busyKeep {
		v.Verdict = VerdictKeep
		reason("runs_continuous", "runs cover %.0f%% of the time: a long-running service costs less", st.BusyRatio*100)
		return v
	}
	r := &Result{CPUMax: st.PeakCores, WorkingSetMax: st.PeakMemoryBytes}
	// The cheapest platform of the first kind (functions first) every run
	// fits.
	ps := new(Scratch).platforms(&cfg)
	best, bestCost, bestMiB := -1, 0.0, uint64(0)
	for i := range ps {
		pc := &ps[i]
		if best >= 0 && ps[best].Kind != pc.Kind {
			break
		}
		switch {
		case pc.MaxDuration > 0 && st.DurationMax > pc.MaxDuration:
			reason("run_too_long", "the longest run, %s, exceeds %s's %s", st.DurationMax.Round(time.Second), pc.Name, pc.MaxDuration)
			continue
		case st.PeakMemoryBytes > pc.MaxMemoryMiB<<20:
			reason("memory_too_large", "a run's peak memory exceeds %s's %d MiB", pc.Name, pc.MaxMemoryMiB)
			continue
		case pc.MaxVCPUs > 0 && st.PeakCores > pc.MaxVCPUs:
			reason("cpu_too_large", "a run's %.2f cores exceed %s's %.0f vCPUs", st.PeakCores, pc.Name, pc.MaxVCPUs)
			continue
		}
		vcpus, mib := size(r, pc)
		perRun := st.DurationMean.Seconds() * (vcpus*pc.PricePerVCPUSecond + float64(mib)/1024*pc.PricePerGiBSecond)
		cost := v.RunsPerMonth * (perRun + pc.PricePerMillionRequests/1e6)
		if cost >= v.ContainerMonthlyCost {
			reason("not_cheaper", "on %s the runs would cost %.2f a month, not less than %.2f", pc.Name, cost, v.ContainerMonthlyCost)
			continue
		}
		if best < 0 || cost < bestCost {
			best, bestCost, bestMiB = i, cost, mib
		}
	}
	if best >= 0 {
		pc := &ps[best]
		v.Verdict, v.Platform = platformVerdict(pc.Kind), pc.Name
		v.ServerlessMonthlyCost, v.SavingsPerMonth = bestCost, v.ContainerMonthlyCost-bestCost
		reason("runs_fit", "every run fits %s (at %d MiB): %.2f a month instead of %.2f", pc.Name, bestMiB, bestCost, v.ContainerMonthlyCost)
		return v
	}
	v.Verdict = VerdictKeep
	return v
}
