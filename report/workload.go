package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// VerdictMixed is a workload's verdict when its replicas disagree.
const VerdictMixed = "mixed"

// WorkloadReport is the per-workload view of one or many nodes' reports:
// the unit people decide about is the Deployment, StatefulSet, DaemonSet
// or CronJob, not the container.
type WorkloadReport struct {
	Nodes       []string   `json:"nodes"`
	Time        time.Time  `json:"time"`
	Currency    string     `json:"currency"`
	PriceSource string     `json:"price_source"`
	Workloads   []Workload `json:"workloads"`
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
}

type workloadKey struct{ ns, kind, name string }

// WorkloadsOf groups the containers of reports (one per node) by workload,
// sorted by money at stake per month, largest first.
func WorkloadsOf(reports []Report) WorkloadReport {
	out := WorkloadReport{Workloads: []Workload{}}
	nodes := map[string]bool{}
	byKey := map[workloadKey]*Workload{}
	pods := map[workloadKey]map[string]bool{}
	verdicts := map[workloadKey]map[string][]string{} // verdict -> "pod/container"
	weighted := map[workloadKey][2]float64{}          // Σ cost×idle, Σ cost
	for _, r := range reports {
		if out.Currency == "" {
			out.Currency, out.PriceSource = r.Currency, r.PriceSource
		}
		if r.Time.After(out.Time) {
			out.Time = r.Time
		}
		for _, c := range r.Containers {
			node := cmp.Or(c.Node, r.Node)
			if node != "" {
				nodes[node] = true
			}
			if c.Sandbox {
				continue
			}
			k := workloadKey{ns: cmp.Or(c.PodNamespace, c.Namespace), kind: c.WorkloadKind, name: c.WorkloadName}
			if k.kind == "" {
				k.kind, k.name = "Container", cmp.Or(c.Name, c.ID)
			}
			w := byKey[k]
			if w == nil {
				w = &Workload{Namespace: k.ns, Kind: k.kind, Name: k.name}
				byKey[k], pods[k], verdicts[k] = w, map[string]bool{}, map[string][]string{}
			}
			w.Containers++
			pods[k][node+"/"+cmp.Or(c.PodName, c.ID)] = true
			if node != "" && !slices.Contains(w.Nodes, node) {
				w.Nodes = append(w.Nodes, node)
			}
			a := c.Analysis
			if a == nil {
				continue
			}
			who := cmp.Or(c.PodName, c.ID) + "/" + c.Name
			if node != "" {
				who = node + ":" + who
			}
			verdicts[k][a.Verdict] = append(verdicts[k][a.Verdict], who+why(a))
			if a.Verdict != "insufficient-data" {
				w.CostPerMonth += a.CurrentMonthlyCost
				w.IdleCostPerMonth += a.IdleCostPerMonth
				w.OverReservedPerMonth += a.OverReservedPerMon
				if idle, ok := longestIdle(a.IdleRatio); ok {
					s := weighted[k]
					weighted[k] = [2]float64{s[0] + a.CurrentMonthlyCost*idle, s[1] + a.CurrentMonthlyCost}
				}
			}
			if a.Platform != "" {
				w.ServerlessPerMonth += a.ServerlessMonthly
				w.SavingsPerMonth += a.SavingsPerMonth
				w.Platform = a.Platform
			}
		}
	}
	for k, w := range byKey {
		w.Replicas = len(pods[k])
		slices.Sort(w.Nodes)
		if s := weighted[k]; s[1] > 0 {
			v := s[0] / s[1]
			w.IdleRatio = &v
		}
		w.Verdict, w.Differ = agree(verdicts[k])
		if w.Verdict == VerdictMixed {
			// No platform fits a workload whose replicas disagree; its
			// saving is only that of the replicas that are candidates.
			w.Platform = ""
		}
		out.Workloads = append(out.Workloads, *w)
	}
	out.Nodes = slices.Sorted(maps.Keys(nodes))
	slices.SortStableFunc(out.Workloads, func(a, b Workload) int {
		if c := cmp.Compare(b.atStake(), a.atStake()); c != 0 {
			return c
		}
		return cmp.Compare(a.Namespace+"/"+a.Kind+"/"+a.Name, b.Namespace+"/"+b.Kind+"/"+b.Name)
	})
	return out
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

// agree returns the verdict every container has, or VerdictMixed and the
// containers whose verdict differs from the most common one.
func agree(vs map[string][]string) (string, []string) {
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

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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
func RenderWorkloads(w io.Writer, r WorkloadReport, format string) error {
	switch format {
	case "json":
		return writeJSON(w, r)
	case "table", "markdown":
	default:
		return fmt.Errorf("unknown output format %q (want table, json or markdown)", format)
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
			strings.ToLower(wl.Kind) + "/" + wl.Name, wl.Namespace, fmt.Sprint(wl.Replicas), fmt.Sprint(len(wl.Nodes)),
			idleS, money(r.Currency, wl.CostPerMonth), money(r.Currency, wl.IdleCostPerMonth), verdict, saving,
			strings.Join(wl.Differ, "; "),
		})
	}
	if format == "markdown" {
		fmt.Fprintf(w, "### Fleetscope report by workload: %d nodes, %s\n\nCosts per month at %s.\n\n", len(r.Nodes), r.Time.Format(time.RFC3339), r.PriceSource)
		fmt.Fprintln(w, "| "+strings.ToLower(strings.Join(head, " | "))+" |")
		fmt.Fprintln(w, strings.Repeat("|---", len(head))+"|")
		esc := strings.NewReplacer("|", `\|`, "\n", " ")
		for _, l := range lines {
			for i := range l {
				l[i] = esc.Replace(l[i])
			}
			fmt.Fprintln(w, "| "+strings.Join(l, " | ")+" |")
		}
	} else {
		fmt.Fprintf(w, "%d nodes (%s), %s. Costs per month at %s.\n\n", len(r.Nodes), strings.Join(r.Nodes, ", "), r.Time.Format(time.RFC3339), r.PriceSource)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, l := range lines {
			fmt.Fprintln(tw, strings.Join(l, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\nPaid for idle time: %s per month. Serverless candidates' saving: %s per month.\n",
		money(r.Currency, idle), money(r.Currency, savings))
	return err
}
