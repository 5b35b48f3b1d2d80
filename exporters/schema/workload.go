package schema

import (
	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/model"
)

// Jobs and CronJobs: their runs on this node, described per workload
// rather than per container.
var (
	WorkloadRuns = Metric{Name: "fleetscope.workload.runs", Unit: "{run}", Instrument: Gauge,
		Help: "Runs (pods) of a Job or CronJob seen on this node in the last 7 days.", Attributes: workloadAttributes}
	WorkloadRunsWindow = Metric{Name: "fleetscope.workload.runs.window", Unit: "s", Instrument: Gauge,
		Help: "Time from the first of a Job's or CronJob's runs seen on this node to now.", Attributes: workloadAttributes}
	WorkloadRunDuration = Metric{Name: "fleetscope.workload.run.duration", Unit: "s", Instrument: Gauge,
		Help: "Duration of a Job's or CronJob's runs on this node (statistic p50, p95, max, mean).", Attributes: append(workloadAttributes[:3:3], AttrStatistic)}
	WorkloadRunsCost = Metric{Name: "fleetscope.workload.runs.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "What the pods of a Job's or CronJob's runs reserve, per hour at the rate they run.", Attributes: append(workloadAttributes[:3:3], AttrCurrency)}
	WorkloadServerlessCost = Metric{Name: "fleetscope.workload.serverless.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "What the same runs would cost per hour on the verdict's platform.", Attributes: append(workloadAttributes[:3:3], AttrCurrency)}
	WorkloadVerdict = Metric{Name: "fleetscope.workload.verdict", Unit: "", Instrument: Gauge,
		Help: "Verdict on a Job's or CronJob's runs on this node; the value is always 1.", Attributes: append(workloadAttributes[:3:3], AttrVerdict, AttrPlatform)}
)

// workloadAttributes identify a Job or CronJob, whose runs the node's
// series describe rather than any one container.
var workloadAttributes = []string{AttrNamespaceName, AttrWorkloadKind, AttrWorkloadName}

// runs emits the series of one Job's or CronJob's runs on this node.
func (w *Walker) runs(r *model.WorkloadRuns, currency string) {
	put := func(m *Metric, v float64, extra ...string) {
		w.attrs = append(append(w.attrs[:0], r.Namespace, r.Kind, r.Name), extra...)
		w.emit(m, v, nil, w.attrs)
	}
	st, v := &r.Stats, &r.Verdict
	put(&WorkloadRuns, float64(st.Count))
	put(&WorkloadRunsWindow, st.Window.Seconds())
	put(&WorkloadRunDuration, st.DurationP50.Seconds(), "p50")
	put(&WorkloadRunDuration, st.DurationP95.Seconds(), "p95")
	put(&WorkloadRunDuration, st.DurationMax.Seconds(), "max")
	put(&WorkloadRunDuration, st.DurationMean.Seconds(), "mean")
	put(&WorkloadVerdict, 1, string(v.Verdict), v.Platform)
	if v.Verdict != analysis.VerdictInsufficientData {
		put(&WorkloadRunsCost, v.ContainerMonthlyCost/analysis.HoursPerMonth, currency)
		if v.Platform != "" {
			put(&WorkloadServerlessCost, v.ServerlessMonthlyCost/analysis.HoursPerMonth, currency)
		}
	}
}
