package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// VerdictMixed is a workload's verdict when its replicas disagree.
const VerdictMixed = "mixed"

// WorkloadReport is the per-workload view of one or many nodes' reports:
// the unit people decide about is the Deployment, StatefulSet, DaemonSet
// or CronJob, not the container.
type WorkloadReport struct {
	// Window, when set, says the rows of Source SourceWindow were
	// computed over a window of the store's history.
	Window      *Window    `json:"window,omitempty"`
	Nodes       []string   `json:"nodes"`
	Time        time.Time  `json:"time"`
	Currency    string     `json:"currency"`
	PriceSource string     `json:"price_source"`
	Workloads   []Workload `json:"workloads"`
	// Parts are what the rows of Source SourceHistory or SourceWindow were
	// computed from: per workload and container name, its analysis.
	Parts []WorkloadPart `json:"workload_parts,omitempty"`
}

// Window is the stretch of a store's history a report was computed over.
type Window struct {
	Seconds float64   `json:"seconds"`
	End     time.Time `json:"end"`
	// Hours is how many whole hours the window holds, HoursWithData how
	// many of them some container had data in.
	Hours         int `json:"hours"`
	HoursWithData int `json:"hours_with_data"`
}

// Workload is one workload's figures summed over its containers on every
// node. Pod sandboxes are left out, as they are of the container view's
// totals: the pod's containers carry its reservation.
type Workload struct {
	Namespace  string   `json:"namespace"`
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Replicas   int      `json:"replicas"` // pods
	Containers int      `json:"containers"`
	Nodes      []string `json:"nodes"`
	// Verdict is the verdict its containers agree on, VerdictMixed when
	// they do not (Differ then says which differ and why), or "" when none
	// has been analysed yet.
	Verdict  string   `json:"verdict"`
	Platform string   `json:"platform,omitempty"`
	Differ   []string `json:"differ,omitempty"`
	// IdleRatio is the containers' idle ratio (7 days, else the longest
	// window observed) weighted by their cost: the share of the money that
	// pays for idle time.
	IdleRatio *float64 `json:"idle_ratio,omitempty"`

	CostPerMonth         float64 `json:"cost_per_month"`
	IdleCostPerMonth     float64 `json:"idle_cost_per_month"`
	OverReservedPerMonth float64 `json:"overreservation_cost_per_month"`
	ServerlessPerMonth   float64 `json:"serverless_cost_per_month"`
	// SavingsPerMonth sums the savings of the containers that are
	// serverless candidates.
	SavingsPerMonth float64 `json:"savings_per_month"`

	// Runs summarise a Job's or CronJob's runs over every node.
	Runs *Runs `json:"runs,omitempty"`

	// Source is SourceHistory or SourceWindow when the row is the
	// analysis of the history of every pod the workload had (on the node;
	// on every node over a window), else empty: the sum of its current
	// containers' figures. Then ObservedSeconds are its containers'
	// seconds with data, AverageReplicas how many ran at once on average
	// while any did, and Reasons the verdict's reasons and blockers, each
	// prefixed with its container name (see WorkloadFromParts).
	Source          string   `json:"source,omitempty"`
	ObservedSeconds float64  `json:"observed_seconds,omitempty"`
	AverageReplicas float64  `json:"average_replicas,omitempty"`
	Reasons         []Reason `json:"reasons,omitempty"`
	// Profile is when the workload idles, by hour of the day and, with two
	// weeks of data, by day of the week (a window's rows).
	Profile *Profile `json:"profile,omitempty"`
}

// Runs are the runs of one Job or CronJob on one node, or summed over
// nodes in a WorkloadReport.
type Runs struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Node      string `json:"node,omitempty"`

	Count int `json:"count"`
	// WindowSeconds is how long the runs were watched (on several nodes,
	// the longest).
	WindowSeconds       float64  `json:"window_seconds"`
	DurationP50Seconds  float64  `json:"duration_p50_seconds"`
	DurationP95Seconds  float64  `json:"duration_p95_seconds"`
	DurationMaxSeconds  float64  `json:"duration_max_seconds"`
	DurationMeanSeconds float64  `json:"duration_mean_seconds"`
	Verdict             string   `json:"verdict"`
	Platform            string   `json:"platform,omitempty"`
	Reasons             []Reason `json:"reasons,omitempty"`
	CostPerMonth        float64  `json:"cost_per_month"`
	ServerlessPerMonth  float64  `json:"serverless_cost_per_month"`
}

// PerDay is the runs' rate.
func (r *Runs) PerDay() float64 {
	if r.WindowSeconds <= 0 {
		return 0
	}
	return float64(r.Count) / max(r.WindowSeconds, 3600) * 86400
}

// add sums o, a node's runs of the same workload, into r. Counts, costs
// and the mean add up exactly; the percentiles of several nodes cannot be
// combined from theirs, so the workload's p50 and p95 are the largest of
// the nodes' (an upper bound) and its longest run the longest of all.
func (r *Runs) add(o Runs) {
	n := r.Count + o.Count
	if n > 0 {
		r.DurationMeanSeconds = (r.DurationMeanSeconds*float64(r.Count) + o.DurationMeanSeconds*float64(o.Count)) / float64(n)
	}
	r.Count = n
	r.WindowSeconds = max(r.WindowSeconds, o.WindowSeconds)
	r.DurationP50Seconds = max(r.DurationP50Seconds, o.DurationP50Seconds)
	r.DurationP95Seconds = max(r.DurationP95Seconds, o.DurationP95Seconds)
	r.DurationMaxSeconds = max(r.DurationMaxSeconds, o.DurationMaxSeconds)
	r.CostPerMonth += o.CostPerMonth
	r.ServerlessPerMonth += o.ServerlessPerMonth
	switch {
	case r.Verdict == "":
		r.Verdict, r.Platform, r.Reasons = o.Verdict, o.Platform, o.Reasons
	case r.Verdict != o.Verdict:
		r.Verdict, r.Platform = VerdictMixed, ""
	}
}

type workloadKey struct{ ns, kind, name string }

// grouping collects the containers and runs of reports by workload.
type grouping struct {
	nodes map[string]bool
	byKey map[workloadKey]*group
}

// group is one workload while its containers and runs are added.
type group struct {
	w        Workload
	pods     map[string]bool
	verdicts map[string][]string // verdict -> "pod/container"
	weighted [2]float64          // Σ cost×idle, Σ cost
}

// WorkloadsOf groups the containers of reports (one per node) by workload,
// sorted by money at stake per month, largest first.
func WorkloadsOf(reports []Report) WorkloadReport {
	out := WorkloadReport{Workloads: []Workload{}}
	g := grouping{nodes: map[string]bool{}, byKey: map[workloadKey]*group{}}
	for _, r := range reports {
		if out.Currency == "" {
			out.Currency, out.PriceSource = r.Currency, r.PriceSource
		}
		if r.Time.After(out.Time) {
			out.Time = r.Time
		}
		for _, c := range r.Containers {
			g.container(cmp.Or(c.Node, r.Node), c)
		}
	}
	for _, r := range reports {
		for _, run := range r.Runs {
			g.runs(cmp.Or(run.Node, r.Node), run)
		}
	}
	for _, gr := range g.byKey {
		out.Workloads = append(out.Workloads, gr.workload())
	}
	out.Nodes = slices.Sorted(maps.Keys(g.nodes))
	// A node's own history of a workload's pods judges it, where the
	// report is one node's: several nodes' histories cannot be added here
	// (the fleet's store can, see package fleet).
	if len(reports) == 1 && len(reports[0].Parts) > 0 {
		ReplaceWithParts(&out, reports[0].Parts, SourceHistory)
	}
	SortWorkloads(out.Workloads)
	return out
}

// SortWorkloads sorts workloads by money at stake per month, largest
// first, then by name.
func SortWorkloads(ws []Workload) {
	slices.SortStableFunc(ws, func(a, b Workload) int {
		if c := cmp.Compare(b.atStake(), a.atStake()); c != 0 {
			return c
		}
		return cmp.Compare(a.Namespace+"/"+a.Kind+"/"+a.Name, b.Namespace+"/"+b.Kind+"/"+b.Name)
	})
}

// group is the group of k, new if need be.
func (g *grouping) group(k workloadKey) *group {
	gr := g.byKey[k]
	if gr == nil {
		gr = &group{w: Workload{Namespace: k.ns, Kind: k.kind, Name: k.name}, pods: map[string]bool{}, verdicts: map[string][]string{}}
		g.byKey[k] = gr
	}
	return gr
}

// onNode notes that gr runs on node, when known.
func (g *grouping) onNode(gr *group, node string) {
	if node == "" {
		return
	}
	g.nodes[node] = true
	if !slices.Contains(gr.w.Nodes, node) {
		gr.w.Nodes = append(gr.w.Nodes, node)
	}
}

// container adds c, seen on node, to its workload's group.
func (g *grouping) container(node string, c Container) {
	if node != "" {
		g.nodes[node] = true
	}
	if c.Sandbox {
		return
	}
	k := workloadKey{ns: cmp.Or(c.PodNamespace, c.Namespace), kind: c.WorkloadKind, name: c.WorkloadName}
	if k.kind == "" {
		k.kind, k.name = "Container", cmp.Or(c.Name, c.ID)
	}
	gr := g.group(k)
	w := &gr.w
	w.Containers++
	gr.pods[node+"/"+cmp.Or(c.PodName, c.ID)] = true
	g.onNode(gr, node)
	a := c.Analysis
	if a == nil {
		return
	}
	who := cmp.Or(c.PodName, c.ID) + "/" + c.Name
	if node != "" {
		who = node + ":" + who
	}
	gr.verdicts[a.Verdict] = append(gr.verdicts[a.Verdict], who+why(a))
	if a.Verdict != "insufficient-data" {
		w.CostPerMonth += a.CurrentMonthlyCost
		w.IdleCostPerMonth += a.IdleCostPerMonth
		w.OverReservedPerMonth += a.OverReservedPerMon
		if idle, ok := longestIdle(a.IdleRatio); ok {
			s := gr.weighted
			gr.weighted = [2]float64{s[0] + a.CurrentMonthlyCost*idle, s[1] + a.CurrentMonthlyCost}
		}
	}
	if a.Platform != "" {
		w.ServerlessPerMonth += a.ServerlessMonthly
		w.SavingsPerMonth += a.SavingsPerMonth
		w.Platform = a.Platform
	}
}

// runs adds a node's runs of a Job or CronJob to its workload's group;
// between runs a CronJob has no container at all, so the group may be new.
func (g *grouping) runs(node string, run Runs) {
	gr := g.group(workloadKey{ns: run.Namespace, kind: run.Kind, name: run.Name})
	g.onNode(gr, node)
	if gr.w.Runs == nil {
		gr.w.Runs = &Runs{Namespace: run.Namespace, Kind: run.Kind, Name: run.Name}
	}
	gr.w.Runs.add(run)
}

// workload is the group's Workload, its verdict and idle ratio settled.
func (gr *group) workload() Workload {
	w := gr.w
	w.Replicas = len(gr.pods)
	slices.Sort(w.Nodes)
	if s := gr.weighted; s[1] > 0 {
		v := s[0] / s[1]
		w.IdleRatio = &v
	}
	w.Verdict, w.Differ = Agree(gr.verdicts)
	if rs := w.Runs; rs != nil {
		// A Job's runs are judged as runs, not as containers: their
		// pods live too briefly for per-container history to say much.
		w.Verdict, w.Platform, w.Differ = rs.Verdict, rs.Platform, nil
		w.CostPerMonth = rs.CostPerMonth
		w.IdleCostPerMonth, w.OverReservedPerMonth = 0, 0
		w.ServerlessPerMonth, w.SavingsPerMonth = rs.ServerlessPerMonth, 0
		if rs.Platform != "" {
			w.SavingsPerMonth = rs.CostPerMonth - rs.ServerlessPerMonth
		}
		w.IdleRatio = nil
	}
	if w.Verdict == VerdictMixed {
		// No platform fits a workload whose replicas disagree; its
		// saving is only that of the replicas that are candidates.
		w.Platform = ""
	}
	return w
}

// why is the first blocker, else the first reason, of a container's verdict.
func why(a *Analysis) string {
	switch {
	case len(a.Blockers) > 0:
		return " (" + a.Blockers[0].Text + ")"
	case len(a.Reasons) > 0:
		return " (" + a.Reasons[0].Text + ")"
	}
	return ""
}

func longestIdle(r map[string]float64) (float64, bool) {
	for _, w := range []string{"7d", "24h", "1h"} {
		if v, ok := r[w]; ok {
			return v, true
		}
	}
	return 0, false
}

// Agree returns the verdict every container has (vs: verdict → who has
// it), or VerdictMixed and the containers whose verdict differs from the
// most common one.
func Agree(vs map[string][]string) (string, []string) {
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		for v := range vs {
			return v, nil
		}
	}
	common := ""
	for _, v := range slices.Sorted(maps.Keys(vs)) {
		if common == "" || len(vs[v]) > len(vs[common]) {
			common = v
		}
	}
	var differ []string
	for _, v := range slices.Sorted(maps.Keys(vs)) {
		if v == common {
			continue
		}
		for _, who := range vs[v] {
			differ = append(differ, v+": "+who)
		}
	}
	slices.Sort(differ)
	return VerdictMixed, append([]string{fmt.Sprintf("%d of %d: %s", len(vs[common]), total(vs), common)}, differ...)
}

func total(vs map[string][]string) int {
	n := 0
	for _, l := range vs {
		n += len(l)
	}
	return n
}

// whyOf is a workload row's WHY column: its runs for a Job or CronJob,
// else which replicas disagree.
func whyOf(wl Workload) string {
	if rs := wl.Runs; rs != nil {
		s := fmt.Sprintf("%d runs (%.1f a day), p50 %s, p95 %s, longest %s", rs.Count, rs.PerDay(),
			secs(rs.DurationP50Seconds), secs(rs.DurationP95Seconds), secs(rs.DurationMaxSeconds))
		for _, r := range rs.Reasons {
			if r.Code != "runs" {
				s += "; " + r.Text
			}
		}
		return s
	}
	if wl.Source != "" && len(wl.Differ) == 0 && len(wl.Reasons) > 0 {
		return wl.Reasons[0].Text
	}
	return strings.Join(wl.Differ, "; ")
}

// sourceNote says, for the report's header, what the rows marked * were
// judged on: the window and how much of it had data, or the node's
// history; empty when no row is marked.
func (r *WorkloadReport) sourceNote() string {
	if win := r.Window; win != nil {
		share := 0.0
		if win.Hours > 0 {
			share = float64(win.HoursWithData) / float64(win.Hours)
		}
		return fmt.Sprintf("Workloads marked * are judged on every pod they had over the %s to %s: data in %d of its %d hours (%s).",
			time.Duration(win.Seconds*float64(time.Second)), win.End.Format(time.RFC3339), win.HoursWithData, win.Hours, pct(share, true))
	}
	if slices.ContainsFunc(r.Workloads, func(w Workload) bool { return w.Source == SourceHistory }) {
		return "Workloads marked * are judged on the history of every pod they had on the node, not only the current ones."
	}
	return ""
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// windowMark marks a row computed over a window.
func windowMark(wl Workload) string {
	if wl.Source != "" {
		return " *"
	}
	return ""
}

func (w Workload) atStake() float64 {
	return max(w.IdleCostPerMonth+w.OverReservedPerMonth, w.SavingsPerMonth)
}

// FilterWorkloads keeps the workloads in namespaces (all when empty).
func FilterWorkloads(r *WorkloadReport, namespaces []string) {
	if len(namespaces) == 0 {
		return
	}
	r.Workloads = slices.DeleteFunc(r.Workloads, func(w Workload) bool { return !slices.Contains(namespaces, w.Namespace) })
}

// RenderWorkloads writes r as "table", "json" or "markdown".
func RenderWorkloads(w io.Writer, r WorkloadReport, o Options) error {
	switch o.Format {
	case "json":
		return writeJSON(w, r)
	case "table", "markdown":
	default:
		return fmt.Errorf("unknown output format %q (want table, json or markdown)", o.Format)
	}
	head := []string{"WORKLOAD", "NAMESPACE", "REPLICAS", "NODES", "IDLE", "COST/MO", "IDLE COST/MO", "VERDICT", "SAVING/MO", "WHY"}
	var lines [][]string
	var idle, savings float64
	for _, wl := range r.Workloads {
		idleS := "-"
		if wl.IdleRatio != nil {
			idleS = pct(*wl.IdleRatio, true)
		}
		verdict, saving := cmp.Or(wl.Verdict, "-"), "-"
		if wl.Platform != "" && wl.Verdict != VerdictMixed {
			if wl.Platform != wl.Verdict {
				verdict += " (" + wl.Platform + ")"
			}
			saving = money(r.Currency, wl.SavingsPerMonth)
			savings += wl.SavingsPerMonth
		}
		idle += wl.IdleCostPerMonth
		lines = append(lines, []string{
			strings.ToLower(wl.Kind) + "/" + wl.Name + windowMark(wl), wl.Namespace, fmt.Sprint(wl.Replicas), fmt.Sprint(len(wl.Nodes)),
			idleS, money(r.Currency, wl.CostPerMonth), money(r.Currency, wl.IdleCostPerMonth), verdict, saving,
			whyOf(wl),
		})
	}
	esc := Escape
	if o.Format == "markdown" {
		esc = markdownText
		fmt.Fprintf(w, "### Fleetscope report by workload: %d nodes, %s\n\nCosts per month at %s.\n\n", len(r.Nodes), r.Time.Format(time.RFC3339), markdownText(r.PriceSource))
		if note := r.sourceNote(); note != "" {
			fmt.Fprintf(w, "%s\n\n", markdownText(note))
		}
		fmt.Fprintln(w, "| "+strings.ToLower(strings.Join(head, " | "))+" |")
		fmt.Fprintln(w, strings.Repeat("|---", len(head))+"|")
		for _, l := range lines {
			writeMarkdownRow(w, l)
		}
	} else {
		fmt.Fprintf(w, "%d nodes (%s), %s. Costs per month at %s.\n", len(r.Nodes), Escape(strings.Join(r.Nodes, ", ")), r.Time.Format(time.RFC3339), Escape(r.PriceSource))
		if note := r.sourceNote(); note != "" {
			fmt.Fprintf(w, "%s\n", Escape(note))
		}
		fmt.Fprintln(w)
		if err := writeTable(w, append([][]string{head}, lines...), o.Width); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\nPaid for idle time: %s per month. Serverless candidates' saving: %s per month.\n",
		esc(money(r.Currency, idle)), esc(money(r.Currency, savings)))
	return err
}
