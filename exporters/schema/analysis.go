package schema

import (
	"math"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/model"
)

// The analysis of a container: idle ratios, cost and the serverless
// verdict.
var (
	IdleRatio = Metric{Name: "fleetscope.container.idle.ratio", Unit: "1", Instrument: Gauge,
		Help: "Share of observed minutes in which the container was idle, over a window (1h, 24h, 7d).", Attributes: []string{AttrWindow}}
	// Money is per hour on every series, in the price sheet's currency
	// (the currency label); a month is ×730 (analysis.HoursPerMonth) in
	// queries.
	Cost = Metric{Name: "fleetscope.container.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "What the container's reserved CPU, memory and GPUs cost per hour at the configured prices.", Attributes: []string{AttrCurrency}}
	IdleCost = Metric{Name: "fleetscope.container.idle.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "The part of the container's cost per hour paid for idle time (cost × 7-day idle ratio).", Attributes: []string{AttrCurrency}}
	OverReservationCost = Metric{Name: "fleetscope.container.overreservation.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "Cost per hour of reserved capacity above the p95 of use.", Attributes: []string{AttrCurrency}}
	ServerlessFit = Metric{Name: "fleetscope.container.serverless.fit", Unit: "1", Instrument: Gauge,
		Help: "How good a serverless candidate the container is, from 0 to 1 (its verdict is on fleetscope.container.serverless.verdict)."}
	ServerlessVerdict = Metric{Name: "fleetscope.container.serverless.verdict", Unit: "", Instrument: Gauge,
		Help: "The container's verdict and the platform it names; the value is always 1.", Attributes: []string{AttrVerdict, AttrPlatform}}
	ServerlessCost = Metric{Name: "fleetscope.container.serverless.cost", Unit: "{currency}/h", Instrument: Gauge,
		Help: "Estimated cost per hour of the same work on the verdict's serverless platform.", Attributes: []string{AttrCurrency}}
	ServerlessSavings = Metric{Name: "fleetscope.container.serverless.savings", Unit: "{currency}/h", Instrument: Gauge,
		Help: "Estimated saving per hour of moving the container to serverless (current minus serverless cost).", Attributes: []string{AttrCurrency}}
	ServerlessReason = Metric{Name: "fleetscope.container.serverless.reason", Unit: "", Instrument: Gauge,
		Help: "A reason behind the container's verdict (kind=reason) or a blocker that rules serverless out (kind=blocker); always 1.", Attributes: []string{AttrReasonKind, AttrReasonCode}}
	BurstDuration = Metric{Name: "fleetscope.container.burst.duration", Unit: "s", Instrument: Gauge,
		Help: "Length of the container's active bursts over 7 days (statistic p50, p95, max).", Attributes: []string{AttrStatistic}}
	ObservedTime = Metric{Name: "fleetscope.container.observed.time", Unit: "s", Instrument: Gauge,
		Help: "How long the container has been observed (valid minutes of history)."}
	ReservedCPU = Metric{Name: "fleetscope.container.reserved.cpu", Unit: "{cpu}", Instrument: Gauge,
		Help: "CPU cores the cost is computed for: the limit, else the request, else observed use.", Attributes: []string{AttrSource}}
	ReservedMemory = Metric{Name: "fleetscope.container.reserved.memory", Unit: "By", Instrument: Gauge,
		Help: "Memory the cost is computed for: the limit, else observed use.", Attributes: []string{AttrSource}}
)

// analysis emits a container's analysis; money only once there is a
// verdict with enough data behind it.
func (w *Walker) analysis(m *model.Meta, r *analysis.Result, currency string) {
	w.put(&ObservedTime, r.ObservedFor.Seconds(), m)
	if !math.IsNaN(r.IdleRatio1h) {
		w.put1(&IdleRatio, r.IdleRatio1h, m, "1h")
	}
	if !math.IsNaN(r.IdleRatio24h) {
		w.put1(&IdleRatio, r.IdleRatio24h, m, "24h")
	}
	if !math.IsNaN(r.IdleRatio7d) {
		w.put1(&IdleRatio, r.IdleRatio7d, m, "7d")
	}
	w.put(&ServerlessFit, float64(r.Score)/100, m)
	w.put2(&ServerlessVerdict, 1, m, string(r.Verdict), r.Platform)
	for _, x := range r.Reasons {
		w.put2(&ServerlessReason, 1, m, "reason", x.Code)
	}
	for _, x := range r.Blockers {
		w.put2(&ServerlessReason, 1, m, "blocker", x.Code)
	}
	if r.Verdict == analysis.VerdictInsufficientData {
		return
	}
	w.put1(&ReservedCPU, r.Reserved.CPUCores, m, r.Reserved.CPUSource)
	w.put1(&ReservedMemory, float64(r.Reserved.MemoryBytes), m, r.Reserved.MemorySource)
	w.put1(&Cost, r.CostPerHour, m, currency)
	w.put1(&IdleCost, r.IdleCostPerHour, m, currency)
	w.put1(&OverReservationCost, r.OverReservationWastePerMonth/analysis.HoursPerMonth, m, currency)
	if r.Platform != "" {
		w.put1(&ServerlessCost, r.ServerlessMonthlyCost/analysis.HoursPerMonth, m, currency)
		w.put1(&ServerlessSavings, r.SavingsPerMonth/analysis.HoursPerMonth, m, currency)
	}
	if r.Bursts.Count > 0 {
		w.put1(&BurstDuration, r.Bursts.P50.Seconds(), m, "p50")
		w.put1(&BurstDuration, r.Bursts.P95.Seconds(), m, "p95")
		w.put1(&BurstDuration, r.Bursts.Max.Seconds(), m, "max")
	}
}
