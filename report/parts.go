package report

import (
	"cmp"
	"maps"
	"math"
	"slices"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/model"
)

// Sources of a Workload row: the sum of its current containers' answers
// (empty), or one analysis of the history of every pod it had, on a node
// (SourceHistory) or across a fleet's store over a window (SourceWindow).
const (
	SourceHistory = "history"
	SourceWindow  = "window"
)

// WorkloadPart is one container name of a workload judged on the history
// of every pod the workload had: its Analysis is per replica.
type WorkloadPart struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Container string `json:"container"`
	// Image is its newest container's image, where the source says.
	Image      string   `json:"image,omitempty"`
	Pods       int      `json:"pods"`
	Containers int      `json:"containers"`
	Nodes      []string `json:"nodes,omitempty"`
	// Live is how many of its containers run now; AverageReplicas how
	// many ran at once on average while any did, over ObservedSeconds of
	// their summed time.
	Live            int       `json:"live"`
	AverageReplicas float64   `json:"average_replicas"`
	ObservedSeconds float64   `json:"observed_seconds"`
	Analysis        *Analysis `json:"analysis"`
	// OOMKills are its containers' OOM kills over the window, and
	// CPUThrottledRatio the share of their CFS periods they were throttled
	// in, where the store has them (a store's window).
	OOMKills          *uint64  `json:"oom_kills,omitempty"`
	CPUThrottledRatio *float64 `json:"cpu_throttled_ratio,omitempty"`
	// Profile is when it idles, where the hours are known (a store's
	// window).
	Profile *Profile `json:"profile,omitempty"`
}

// PartFromResult is p with r, its analysis, in the report's form.
func PartFromResult(p WorkloadPart, r *analysis.Result) WorkloadPart {
	p.Analysis = fromResult(r)
	return p
}

// replicas is how many replicas a part's per-replica figures count for:
// those running now, else the average while any ran.
func (p *WorkloadPart) replicas() float64 {
	if p.Live > 0 {
		return float64(p.Live)
	}
	return p.AverageReplicas
}

// partsOf converts a snapshot's workload results.
func partsOf(s *model.Snapshot) []WorkloadPart {
	var out []WorkloadPart
	for _, w := range s.Workloads {
		if w.Result == nil {
			continue
		}
		p := WorkloadPart{Namespace: w.Namespace, Kind: w.Kind, Name: w.Name, Container: w.Container,
			Pods: w.Pods, Containers: w.Pods, Live: w.Live, AverageReplicas: finite(w.AverageReplicas), ObservedSeconds: finite(w.ObservedSeconds)}
		if s.NodeName != "" {
			p.Nodes = []string{s.NodeName}
		}
		out = append(out, PartFromResult(p, w.Result))
	}
	return out
}

// WorkloadFromParts is a workload's row from its parts (one workload's,
// sorted by container), from source: per replica figures times the
// replicas running now (a month of what runs), or the average where none
// runs any more; the verdict the parts agree on, else VerdictMixed.
func WorkloadFromParts(parts []WorkloadPart, source string) Workload {
	p0 := parts[0]
	row := Workload{Namespace: p0.Namespace, Kind: p0.Kind, Name: p0.Name, Source: source, Reasons: []Reason{}}
	nodes := map[string]bool{}
	verdicts := map[string][]string{}
	var weighted [2]float64
	for _, p := range parts {
		for _, n := range p.Nodes {
			nodes[n] = true
		}
		row.Replicas = max(row.Replicas, p.Pods)
		row.Containers += p.Containers
		row.ObservedSeconds += p.ObservedSeconds
		row.AverageReplicas = max(row.AverageReplicas, p.AverageReplicas)
		if p.Profile != nil {
			if row.Profile == nil {
				row.Profile = &Profile{}
			}
			row.Profile.Add(p.Profile)
		}
		a := p.Analysis
		if a == nil {
			continue
		}
		verdicts[a.Verdict] = append(verdicts[a.Verdict], p.Container)
		for _, rs := range [][]Reason{a.Blockers, a.Reasons} {
			for _, x := range rs {
				row.Reasons = append(row.Reasons, Reason{Code: x.Code, Text: cmp.Or(p.Container, p.Name) + ": " + x.Text})
			}
		}
		replicas := p.replicas()
		cost := a.CurrentMonthlyCost * replicas
		row.CostPerMonth += cost
		if a.Verdict == string(analysis.VerdictInsufficientData) {
			continue
		}
		row.IdleCostPerMonth += a.IdleCostPerMonth * replicas
		row.OverReservedPerMonth += a.OverReservedPerMon * replicas
		if idle, ok := longestIdle(a.IdleRatio); ok && !math.IsNaN(idle) {
			weighted = [2]float64{weighted[0] + cost*idle, weighted[1] + cost}
		}
		if a.Platform != "" {
			row.Platform = a.Platform
			row.ServerlessPerMonth += a.ServerlessMonthly * replicas
			row.SavingsPerMonth += a.SavingsPerMonth * replicas
		}
	}
	row.Nodes = slices.Sorted(maps.Keys(nodes))
	if row.Profile != nil {
		row.Profile.finish()
	}
	if weighted[1] > 0 {
		v := weighted[0] / weighted[1]
		row.IdleRatio = &v
	}
	row.Verdict, row.Differ = Agree(verdicts)
	if row.Verdict == VerdictMixed {
		row.Platform = ""
	}
	return row
}

// ReplaceWithParts puts the row parts make in place of each workload's
// row in out (adding it if out has none), and sorts out again. Parts of
// one workload are taken in the order given.
func ReplaceWithParts(out *WorkloadReport, parts []WorkloadPart, source string) {
	type key struct{ ns, kind, name string }
	var order []key
	byKey := map[key][]WorkloadPart{}
	for _, p := range parts {
		k := key{p.Namespace, p.Kind, p.Name}
		if byKey[k] == nil {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], p)
	}
	out.Parts = append(out.Parts, parts...)
	for _, k := range order {
		row := WorkloadFromParts(byKey[k], source)
		i := slices.IndexFunc(out.Workloads, func(w Workload) bool { return w.Namespace == k.ns && w.Kind == k.kind && w.Name == k.name })
		if i < 0 {
			out.Workloads = append(out.Workloads, row)
			continue
		}
		// Replicas and nodes seen now but not in the history (a pod
		// started this minute) still count.
		old := out.Workloads[i]
		row.Replicas = max(row.Replicas, old.Replicas)
		out.Workloads[i] = row
	}
	SortWorkloads(out.Workloads)
}

// Profile is when a workload idles: the idle share of its replica-time in
// each UTC hour of the day, and, over two weeks or more of data, on each
// day of the week. An hour or day without data is -1.
type Profile struct {
	IdleByHour    [24]float64 `json:"idle_by_hour_utc"`
	IdleByWeekday []float64   `json:"idle_by_weekday_utc,omitempty"` // Sunday first
	// The sums behind them, which parts of one workload add.
	Hour    [2][24]float64 `json:"-"` // recorded, idle seconds
	Weekday [2][7]float64  `json:"-"`
	Hours   float64        `json:"-"` // hours with data
}

// Add adds o's sums to p.
func (p *Profile) Add(o *Profile) {
	for i := range p.Hour {
		for h := range p.Hour[i] {
			p.Hour[i][h] += o.Hour[i][h]
		}
		for d := range p.Weekday[i] {
			p.Weekday[i][d] += o.Weekday[i][d]
		}
	}
	p.Hours = max(p.Hours, o.Hours)
}

// finish computes the shares from the sums.
func (p *Profile) finish() {
	share := func(rec, idle float64) float64 {
		if rec <= 0 {
			return -1
		}
		return min(idle/rec, 1)
	}
	for h := range p.IdleByHour {
		p.IdleByHour[h] = share(p.Hour[0][h], p.Hour[1][h])
	}
	p.IdleByWeekday = nil
	if p.Hours >= 14*24 {
		p.IdleByWeekday = make([]float64, 7)
		for d := range p.IdleByWeekday {
			p.IdleByWeekday[d] = share(p.Weekday[0][d], p.Weekday[1][d])
		}
	}
}
