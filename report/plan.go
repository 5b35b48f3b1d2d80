package report

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/config"
)

// This file turns a node's report into plans: per workload, the change
// its verdict asks for, as files to review and apply with the tools
// people already use (kubectl patch, KEDA, kube-green, Knative), each
// carrying its evidence. The objects are written as plain maps: a typed
// object marshals its zero values (a null selector in a patch would
// remove the selector).

// Plan is one workload's change.
type Plan struct {
	Namespace string `json:"namespace"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Verdict   string `json:"verdict"`
	// Recommended is false for a plan written for review only: a
	// schedule whose replay refused connections.
	Recommended    bool    `json:"recommended"`
	Summary        string  `json:"summary"`
	SavingPerMonth float64 `json:"saving_per_month"`
	// Replay is what the plan's schedule did to the hours recorded, for a
	// schedule every container had and replayed; its SavingPerMonth is
	// the saving of the hours it slept.
	Replay *Replay    `json:"replay,omitempty"`
	Files  []PlanFile `json:"files,omitempty"`
}

// PlanFile is one file of a plan, named relative to the plan's directory.
type PlanFile struct {
	Name string `json:"name"`
	Data []byte `json:"-"`
}

// Headroom and floors of the targets a rightsize plan writes.
const (
	// cpuHeadroom and memHeadroom are added to the p95 CPU and the peak
	// working set.
	cpuHeadroom = 1.2
	memHeadroom = 1.2
	// minCPUMilli and minMemMiB are the least a target asks for: below
	// them the scheduler's rounding and the runtime's own overhead rule.
	minCPUMilli = 10
	minMemMiB   = 32
	// throttledShare is the share of its CFS periods a container is
	// throttled in from which its limit is raised, not lowered, by
	// raiseBy; so is the memory of a container the OOM killer killed.
	throttledShare = 0.05
	raiseBy        = 1.5
)

// cpuTarget is the CPU a target asks for, in millicores: cores with
// headroom, rounded up to 5m, at least minCPUMilli.
func cpuTarget(cores float64) float64 {
	return max(math.Ceil(cores*cpuHeadroom*1000/5)*5, minCPUMilli)
}

// memTarget is the memory a target asks for, in MiB: bytes with headroom,
// at least minMemMiB.
func memTarget(bytes uint64) float64 {
	return max(math.Ceil(float64(bytes)*memHeadroom/(1<<20)), minMemMiB)
}

// replicated reports whether a kind has replicas for KEDA to scale: a
// DaemonSet runs one pod a node, a CronJob one a run.
func replicated(kind string) bool { return kind == "Deployment" || kind == "StatefulSet" }

// scalable are the kinds a plan can patch.
var scalable = map[string]bool{"Deployment": true, "StatefulSet": true, "DaemonSet": true, "CronJob": true}

// planSource is what plans are made from, wherever it was observed: one
// node's report or a fleet's window.
type planSource struct {
	where    string // "node n1", "3 nodes over 7d"
	time     time.Time
	currency string
	groups   map[[3]string]*planGroup
	// siblings are the workloads seen of each namespace and kind, which
	// a SleepInfo for one of them must leave out (see sleepInfos).
	siblings map[[2]string]map[string]bool
}

// planGroup is one workload: a Container per container name, carrying
// the analysis it is planned from, and how many replicas it runs.
type planGroup struct {
	ns, kind, name string
	cs             []*Container
	scale          map[*Container]float64 // see per
	pods           map[string]bool
	replicas       int
	// history is true when the analyses are of the history of every pod
	// the workload had, not of its containers now.
	history bool
}

func (src *planSource) group(ns, kind, name string) *planGroup {
	k := [3]string{ns, kind, name}
	g := src.groups[k]
	if g == nil {
		g = &planGroup{ns: ns, kind: kind, name: name, pods: map[string]bool{}}
		src.groups[k] = g
	}
	if src.siblings[[2]string{ns, kind}] == nil {
		src.siblings[[2]string{ns, kind}] = map[string]bool{}
	}
	src.siblings[[2]string{ns, kind}][name] = true
	return g
}

// usePart makes part the analysis g plans its container from, in place of
// the containers of that name now: the part is the history of every pod g
// had, per replica, and counts for as many replicas as its row does.
func (g *planGroup) usePart(part *WorkloadPart) {
	c := &Container{Name: part.Container, Image: part.Image, PodNamespace: g.ns, WorkloadKind: g.kind, WorkloadName: g.name, Analysis: part.Analysis,
		OOMKills: part.OOMKills, CPUThrottledRatio: part.CPUThrottledRatio}
	g.cs = slices.DeleteFunc(g.cs, func(o *Container) bool {
		if o.Name != part.Container {
			return false
		}
		c.Image = cmp.Or(c.Image, o.Image)
		c.OOMKills, c.CPUThrottledRatio, c.ListenPort = maxPtr(c.OOMKills, o.OOMKills), maxPtr(c.CPUThrottledRatio, o.CPUThrottledRatio), cmp.Or(c.ListenPort, o.ListenPort)
		return true
	})
	g.cs = append(g.cs, c)
	if g.scale == nil {
		g.scale = map[*Container]float64{}
	}
	g.scale[c] = part.replicas()
	g.history = true
	g.replicas = max(g.replicas, part.Live, int(math.Ceil(part.AverageReplicas)))
}

// per is how many replicas c's analysis counts for: one for a container
// of a pod, the row's replicas for a part.
func (g *planGroup) per(c *Container) float64 {
	if v, ok := g.scale[c]; ok {
		return v
	}
	return 1
}

// maxPtr is the larger of two optional figures.
func maxPtr[T int | uint64 | float64](a, b *T) *T {
	if a == nil || b != nil && *b > *a {
		return b
	}
	return a
}

// Plans builds a plan per workload of r whose containers have a verdict
// other than keep and insufficient-data, and a summary line for the
// others. A workload judged on the history of every pod it had on the
// node (r.Parts) is planned from that history, as its workload row is;
// the others from their containers now. cfg's unit prices price a
// rightsize's targets, and no plan is written for less than its
// min_saving_per_month.
func Plans(r Report, cfg config.AnalysisConfig) []Plan {
	src := &planSource{where: "node " + r.Node, time: r.Time, currency: r.Currency,
		groups: map[[3]string]*planGroup{}, siblings: map[[2]string]map[string]bool{}}
	for i := range r.Containers {
		c := &r.Containers[i]
		if c.Sandbox || c.Analysis == nil || c.WorkloadKind == "" {
			continue
		}
		g := src.group(cmp.Or(c.PodNamespace, c.Namespace), c.WorkloadKind, c.WorkloadName)
		g.cs = append(g.cs, c)
		if c.Running {
			g.pods[c.PodName] = true
		}
	}
	for _, g := range src.groups {
		g.replicas = len(g.pods)
	}
	for i := range r.Parts {
		if part := &r.Parts[i]; part.Analysis != nil {
			src.group(part.Namespace, part.Kind, part.Name).usePart(part)
		}
	}
	return src.plans(cfg)
}

// FleetPlans builds the plans of a fleet's workload report, one computed
// over a store's window (report --prometheus --by workload): each
// workload is planned from its parts, the history of every pod it had on
// every node. Workloads without parts (one instance, or agents that
// predate the store's evidence) get no plan.
func FleetPlans(wr WorkloadReport, cfg config.AnalysisConfig) []Plan {
	where := fmt.Sprintf("%d node(s)", len(wr.Nodes))
	if wr.Window != nil {
		where += " over " + humanSeconds(wr.Window.Seconds)
	}
	src := &planSource{where: where, time: wr.Time, currency: cmp.Or(wr.Currency, cfg.Prices.Currency),
		groups: map[[3]string]*planGroup{}, siblings: map[[2]string]map[string]bool{}}
	rows := map[[3]string]bool{}
	for _, w := range wr.Workloads {
		rows[[3]string{w.Namespace, w.Kind, w.Name}] = true
		src.group(w.Namespace, w.Kind, w.Name) // a sibling; a plan once it has parts
	}
	// Parts of rows filtered out (report.FilterWorkloads) are not planned.
	for i := range wr.Parts {
		if part := &wr.Parts[i]; part.Analysis != nil && rows[[3]string{part.Namespace, part.Kind, part.Name}] {
			src.group(part.Namespace, part.Kind, part.Name).usePart(part)
		}
	}
	return src.plans(cfg)
}

// plans is a plan per group with containers.
func (src *planSource) plans(cfg config.AnalysisConfig) []Plan {
	var out []Plan
	for _, g := range src.groups {
		if len(g.cs) > 0 {
			g.replicas = max(g.replicas, 1)
			out = append(out, planOf(g, src, &cfg))
		}
	}
	slices.SortFunc(out, func(a, b Plan) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// planOf is g's plan: the verdict its containers agree on, else the
// rightsizing of those that are over-reserved.
func planOf(g *planGroup, src *planSource, cfg *config.AnalysisConfig) Plan {
	p := Plan{Namespace: g.ns, Kind: g.kind, Name: g.name}
	verdict := g.cs[0].Analysis.Verdict
	for _, c := range g.cs[1:] {
		if c.Analysis.Verdict != verdict {
			verdict = VerdictMixed
		}
	}
	p.Verdict = verdict
	if !kubeName(g.ns, 63) || !kubeName(g.name, 253) || slices.ContainsFunc(g.cs, func(c *Container) bool { return !kubeName(c.Name, 63) }) {
		p.Summary = verdict + ": nothing written; its namespace, name or a container's name is not a Kubernetes name"
		return p
	}
	if !scalable[g.kind] {
		p.Summary = fmt.Sprintf("%s: nothing written; a %s is not a workload object a plan can change", verdict, g.kind)
		return p
	}
	switch verdict {
	case string(analysis.VerdictScaleToZero):
		schedulePlan(&p, g, src)
	case string(analysis.VerdictFunction), string(analysis.VerdictServerlessContainer):
		serverlessPlan(&p, g, src)
	case string(analysis.VerdictInsufficientData):
		p.Summary = "insufficient-data: nothing written; not observed long enough for a verdict"
	case string(analysis.VerdictKeep):
		p.Summary = "keep: nothing written; " + firstReason(g)
	default:
		rightsizePlan(&p, g, src, cfg)
	}
	if len(p.Files) > 0 && p.SavingPerMonth < cfg.MinSavingPerMonth {
		p.Files, p.Recommended, p.Replay = nil, false, nil
		p.Summary = fmt.Sprintf("%s: nothing written; it would save %s a month, less than the %s a suggestion must save",
			p.Verdict, money(src.currency, max(p.SavingPerMonth, 0)), money(src.currency, cfg.MinSavingPerMonth))
	}
	return p
}

// firstReason is the first reason of g's first container.
func firstReason(g *planGroup) string {
	if rs := g.cs[0].Analysis.Reasons; len(rs) > 0 {
		return rs[0].Text
	}
	return "no reason given"
}

// evidence is the annotation a plan's objects carry: what it was built
// from.
func evidence(g *planGroup, src *planSource) map[string]any {
	a := g.cs[0].Analysis
	var b strings.Builder
	fmt.Fprintf(&b, "%s at %s; %d replica(s); observed %s", src.where, src.time.UTC().Format("2006-01-02T15:04:05Z"), g.replicas,
		humanSeconds(a.ObservedSeconds))
	if g.history {
		b.WriteString(", the history of every pod it had")
	}
	if v, ok := a.IdleRatio["7d"]; ok {
		fmt.Fprintf(&b, "; idle %.1f%% of minutes", v*100)
	}
	for _, c := range g.cs {
		ca := c.Analysis
		fmt.Fprintf(&b, "; %s: p95 %.3f cores, peak working set %.1f MiB, reserved %.3f cores (%s) and %.0f MiB (%s)",
			c.Name, ca.CPUP95, float64(ca.WorkingSetMax)/(1<<20), ca.ReservedCPUCores, ca.ReservedCPUSource, float64(ca.ReservedMemory)/(1<<20), ca.ReservedMemorySrc)
	}
	return map[string]any{
		"fleetscope.io/verdict":  a.Verdict,
		"fleetscope.io/evidence": b.String(),
	}
}

func humanSeconds(s float64) string {
	switch h := s / 3600; {
	case h >= 48:
		return strconv.FormatFloat(h/24, 'f', 1, 64) + " days"
	case h >= 2:
		return strconv.FormatFloat(h, 'f', 1, 64) + " hours"
	}
	return strconv.FormatFloat(s/60, 'f', 0, 64) + " minutes"
}

// rightsizePlan writes the targets of g's containers told to rightsize
// as a strategic-merge patch and a values snippet.
func rightsizePlan(p *Plan, g *planGroup, src *planSource, cfg *config.AnalysisConfig) {
	type target struct {
		name                  string
		cpu, cpuLimit, memory string
		// savedCores and savedMiB are per replica, negative where a
		// target is raised; per is the replicas they count for.
		savedCores, savedMiB, per float64
		raised                    []string
	}
	var ts []target
	for _, c := range g.cs {
		a := c.Analysis
		if a.Verdict != string(analysis.VerdictRightsize) {
			continue
		}
		t := target{name: c.Name, per: g.per(c)}
		// Throttled in a good share of its periods, the p95 and peak read
		// under the limit understate what it wants: the limit is not
		// lowered, but raised by half.
		throttled := c.CPUThrottledRatio != nil && *c.CPUThrottledRatio >= throttledShare
		if a.ReservedCPUSource != analysis.SourceObserved {
			milli := cpuTarget(a.CPUP95)
			limit := max(cpuTarget(a.CPUMax), milli)
			if throttled && a.ReservedCPUSource == analysis.SourceLimit {
				limit = math.Ceil(a.ReservedCPUCores*raiseBy*1000/5) * 5
				t.raised = append(t.raised, fmt.Sprintf("CPU limit raised by half: throttled in %.0f%% of its periods", *c.CPUThrottledRatio*100))
			}
			switch {
			case a.ReservedCPUSource == analysis.SourceLimit && (milli < a.ReservedCPUCores*1000*0.9 || throttled):
				t.cpu = strconv.FormatFloat(milli, 'f', 0, 64) + "m"
				if limit != a.ReservedCPUCores*1000 {
					t.cpuLimit = strconv.FormatFloat(limit, 'f', 0, 64) + "m"
				}
				t.savedCores = a.ReservedCPUCores - limit/1000
			case milli < a.ReservedCPUCores*1000*0.9:
				t.cpu = strconv.FormatFloat(milli, 'f', 0, 64) + "m"
				t.savedCores = a.ReservedCPUCores - milli/1000
			}
		}
		if a.ReservedMemorySrc != analysis.SourceObserved {
			mib := memTarget(a.WorkingSetMax)
			have := float64(a.ReservedMemory) / (1 << 20)
			// Killed for memory, its peak is the limit's, not its need:
			// memory is not lowered, but raised by half.
			oom := c.OOMKills != nil && *c.OOMKills > 0 && a.ReservedMemorySrc == analysis.SourceLimit
			if oom {
				mib = math.Ceil(have * raiseBy)
				t.raised = append(t.raised, fmt.Sprintf("memory raised by half: the OOM killer killed it %d time(s)", *c.OOMKills))
			}
			if mib < have*0.9 || oom {
				t.memory = strconv.FormatFloat(mib, 'f', 0, 64) + "Mi"
				t.savedMiB = have - mib
			}
		}
		if t.cpu != "" || t.memory != "" {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		p.Summary = p.Verdict + ": nothing written; every reservation is used at its p95 with headroom"
		return
	}
	var saved float64
	var raised []string
	containers := make([]any, 0, len(ts))
	values := map[string]any{}
	for _, t := range ts {
		requests, limits := map[string]any{}, map[string]any{}
		if t.cpu != "" {
			requests["cpu"] = t.cpu
		}
		if t.cpuLimit != "" {
			limits["cpu"] = t.cpuLimit
		}
		if t.memory != "" {
			requests["memory"], limits["memory"] = t.memory, t.memory
		}
		res := map[string]any{"requests": requests}
		if len(limits) > 0 {
			res["limits"] = limits
		}
		containers = append(containers, map[string]any{"name": t.name, "resources": res})
		values[t.name] = map[string]any{"resources": res}
		saved += t.per * analysis.HourlyCost(t.savedCores, t.savedMiB*(1<<20), 0, &cfg.Prices) * analysis.HoursPerMonth
		for _, r := range t.raised {
			raised = append(raised, t.name+"'s "+r)
		}
	}
	p.SavingPerMonth = saved
	if saved < 0.005 && len(raised) == 0 {
		p.Summary = p.Verdict + ": nothing written; the targets save nothing"
		return
	}
	pod := map[string]any{"spec": map[string]any{"containers": containers}}
	spec := map[string]any{"template": pod}
	if g.kind == "CronJob" {
		spec = map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": pod}}}
	}
	ev := evidence(g, src)
	ev["fleetscope.io/saving-per-month"] = money(src.currency, saved)
	if len(raised) > 0 {
		ev["fleetscope.io/raised"] = strings.Join(raised, "; ")
	}
	patch := object(kindAPIVersion(g.kind), g.kind, g.name, g.ns, ev)
	patch["spec"] = spec
	header := fmt.Sprintf("# Strategic-merge patch: kubectl patch %s %s -n %s --type strategic --patch-file rightsize.patch.yaml\n"+
		"# CPU: the p95 of per-minute use ×%.1f (at least %dm); memory: the peak working set ×%.1f (at least %d Mi).\n",
		strings.ToLower(g.kind), g.name, g.ns, cpuHeadroom, minCPUMilli, memHeadroom, minMemMiB)
	for _, r := range raised {
		header += "# " + r + ".\n"
	}
	p.Recommended = true
	p.Files = append(p.Files, yamlFile("rightsize.patch.yaml", header, patch))
	p.Files = append(p.Files, yamlFile("rightsize.values.yaml", "# The same targets, per container, for a chart's values.\n", values))
	p.Summary = fmt.Sprintf("%s: new requests and limits for %d container(s), saving %s a month at the unit prices",
		p.Verdict, len(ts), money(src.currency, saved))
	if len(raised) > 0 {
		p.Summary += "; " + strings.Join(raised, "; ")
	}
}

// object is an object's apiVersion, kind and metadata.
func object(apiVersion, kind, name, ns string, annotations map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": ns, "annotations": annotations},
	}
}

// PlanFileNames are the names of every file a plan may have: a plan
// written where an older one was replaces those of its files it no longer
// has.
var PlanFileNames = []string{
	"rightsize.patch.yaml", "rightsize.values.yaml", "scale-to-zero.patch.yaml",
	"keda-scaledobject.yaml", "kube-green-sleepinfo.yaml",
	"knative-service.yaml", "cloud-run-service.yaml",
	"function.yaml", "keda-httpscaledobject.yaml",
}

// yamlFile marshals v under a comment header.
func yamlFile(name, header string, v any) PlanFile {
	if !slices.Contains(PlanFileNames, name) {
		panic("plan file " + name + " is not in PlanFileNames")
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		// Maps of strings, numbers and bools always marshal.
		panic(err)
	}
	return PlanFile{Name: name, Data: append([]byte(header), b...)}
}

// kubeName reports whether s is a Kubernetes object name of at most n
// bytes (RFC 1123: lower-case letters, digits, '-' and '.'): names are
// chosen by whoever runs the container, and they go into files and
// commands.
func kubeName(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// schedulePlan writes the sleep schedule g's containers share as a KEDA
// ScaledObject whose cron triggers keep the workload up in its awake hours
// and at zero otherwise, and as kube-green SleepInfos.
func schedulePlan(p *Plan, g *planGroup, src *planSource) {
	var zone string
	work, weekend := allHours(), allHours()
	refused, replayed := 0.0, true
	var rp Replay
	for _, c := range g.cs {
		a := c.Analysis
		if a.Sleep == nil {
			p.Summary = p.Verdict + ": nothing written; a container has no sleep schedule"
			return
		}
		zone = a.Sleep.TimeZone
		work, weekend = intersect(work, a.Sleep.Workdays), intersect(weekend, a.Sleep.Weekend)
		if a.Replay == nil {
			replayed = false
			continue
		}
		// The pod sleeps as one: its replay is its containers' worst.
		refused += a.Replay.RefusedConnections
		q := a.Replay
		rp.HoursWithData = max(rp.HoursWithData, q.HoursWithData)
		rp.Starts, rp.StartsPerDay, rp.Flaps = max(rp.Starts, q.Starts), max(rp.StartsPerDay, q.StartsPerDay), max(rp.Flaps, q.Flaps)
		rp.RefusedConnections, rp.RefusedHours = refused, max(rp.RefusedHours, q.RefusedHours)
		rp.HoursAsleep, rp.MinutesAtZero = q.HoursAsleep, q.MinutesAtZero
		rp.SavingPerMonth += g.per(c) * q.SavingPerMonth
	}
	// Each container's replay ran its own schedule; it is the plan's only
	// where every container's schedule is the shared one.
	for _, c := range g.cs {
		if s := c.Analysis.Sleep; !slices.Equal(s.Workdays, work) || !slices.Equal(s.Weekend, weekend) {
			replayed = false
		}
	}
	if replayed {
		p.Replay = &rp
	}
	// The schedule all the containers share, priced by the analysis' rule.
	shared := analysis.SleepSchedule{Zone: zone, Workdays: analysis.HourSetOf(work), Weekend: analysis.HourSetOf(weekend)}
	hoursPerWeek := shared.HoursPerWeek()
	for _, c := range g.cs {
		p.SavingPerMonth += g.per(c) * shared.SavingPerMonth(c.Analysis.CostPerHour)
	}
	if g.kind == "DaemonSet" {
		p.Summary = p.Verdict + ": nothing written; a DaemonSet cannot be scaled to zero by replicas (move it off its nodes instead)"
		return
	}
	ev := evidence(g, src)
	ev["fleetscope.io/saving-per-month"] = money(src.currency, p.SavingPerMonth)
	if replayed {
		ev["fleetscope.io/replay"] = fmt.Sprintf("over the %d hours recorded: %d minutes at zero, %.1f cold starts a day, %d flaps, %.0f connections refused in %d hours, saving %s a month",
			rp.HoursWithData, rp.MinutesAtZero, rp.StartsPerDay, rp.Flaps, rp.RefusedConnections, rp.RefusedHours, money(src.currency, rp.SavingPerMonth))
	}
	if hoursPerWeek == 7*24 {
		// Idle in every hour: unused, no schedule.
		patch := object(kindAPIVersion(g.kind), g.kind, g.name, g.ns, ev)
		patch["spec"] = map[string]any{"replicas": 0}
		if g.kind == "CronJob" {
			patch["spec"] = map[string]any{"suspend": true}
		}
		p.Files = append(p.Files, yamlFile("scale-to-zero.patch.yaml",
			"# Never active in the days observed: nothing used it. Scale it to zero (or remove it):\n"+
				"# kubectl patch "+strings.ToLower(g.kind)+" "+g.name+" -n "+g.ns+" --type strategic --patch-file scale-to-zero.patch.yaml\n", patch))
		p.Recommended = true
		p.Summary = fmt.Sprintf("%s: unused, scaled to zero, saving %s a month", p.Verdict, money(src.currency, p.SavingPerMonth))
		return
	}
	ev["fleetscope.io/sleep"] = fmt.Sprintf("workdays %v, weekend %v (%s), %d hours a week", work, weekend, zone, hoursPerWeek)
	p.Recommended = replayed && refused == 0
	if replicated(g.kind) {
		p.Files = append(p.Files, yamlFile("keda-scaledobject.yaml",
			"# KEDA ScaledObject: the cron triggers hold the replicas in the awake hours; outside them\n"+
				"# minReplicaCount 0 takes the workload to zero. Set desiredReplicas to the replicas it runs.\n",
			scaledObject(g, ev, zone, work, weekend)))
	}
	if si := sleepInfos(g, src, ev, zone, work, weekend); len(si) > 0 {
		p.Files = append(p.Files, yamlFile("kube-green-sleepinfo.yaml",
			"# kube-green (0.6 or later) SleepInfos: each suspends this workload only (includeRef, and its kind's\n"+
				"# suspend flag alone set); the others of its kind seen in the namespace are excluded as well.\n",
			map[string]any{"apiVersion": "v1", "kind": "List", "items": si}))
	}
	switch {
	case !replayed:
		p.Summary = fmt.Sprintf("%s: sleeps %d hours a week (%s), saving %s a month; not replayed", p.Verdict, hoursPerWeek, zone, money(src.currency, p.SavingPerMonth))
	case refused > 0:
		p.Summary = fmt.Sprintf("%s: written for review, not recommended: replayed over the %d hours recorded it would have refused %.0f connections in %d of them",
			p.Verdict, rp.HoursWithData, refused, rp.RefusedHours)
	default:
		p.Summary = fmt.Sprintf("%s: sleeps %d hours a week (%s), saving %s a month; replayed over the %d hours recorded: %d minutes at zero, %.1f cold starts a day, %d flaps, no connection refused, saving %s a month",
			p.Verdict, hoursPerWeek, zone, money(src.currency, p.SavingPerMonth), rp.HoursWithData, rp.MinutesAtZero, rp.StartsPerDay, rp.Flaps, money(src.currency, rp.SavingPerMonth))
	}
}

func allHours() []int {
	h := make([]int, 24)
	for i := range h {
		h[i] = i
	}
	return h
}

func intersect(a, b []int) []int {
	var out []int
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// awake are the hour ranges [from, to) of a day not in sleep; to is at
// most 24.
func awake(sleep []int) [][2]int {
	var out [][2]int
	for h := 0; h < 24; {
		if slices.Contains(sleep, h) {
			h++
			continue
		}
		start := h
		for h < 24 && !slices.Contains(sleep, h) {
			h++
		}
		out = append(out, [2]int{start, h})
	}
	return out
}

// Cron day lists: workdays and weekend days, and the days after them.
const (
	cronWorkdays      = "1-5"
	cronWorkdaysAfter = "2-6"
	cronWeekend       = "0,6"
	cronWeekendAfter  = "0,1"
)

// scaledObject is the KEDA ScaledObject of a schedule: a cron trigger per
// awake range of each day type.
func scaledObject(g *planGroup, ev map[string]any, zone string, work, weekend []int) map[string]any {
	replicas := g.replicas
	triggers := []any{}
	for _, d := range []struct {
		sleep       []int
		days, after string
	}{{work, cronWorkdays, cronWorkdaysAfter}, {weekend, cronWeekend, cronWeekendAfter}} {
		for _, w := range awake(d.sleep) {
			end := fmt.Sprintf("0 %d * * %s", w[1], d.days)
			if w[1] == 24 {
				end = "0 0 * * " + d.after
			}
			triggers = append(triggers, map[string]any{
				"type": "cron",
				"metadata": map[string]any{
					"timezone": zone, "start": fmt.Sprintf("0 %d * * %s", w[0], d.days), "end": end,
					"desiredReplicas": strconv.Itoa(replicas),
				},
			})
		}
	}
	o := object("keda.sh/v1alpha1", "ScaledObject", g.name+"-schedule", g.ns, ev)
	o["spec"] = map[string]any{
		"scaleTargetRef":  map[string]any{"apiVersion": kindAPIVersion(g.kind), "kind": g.kind, "name": g.name},
		"minReplicaCount": 0,
		"maxReplicaCount": replicas,
		"triggers":        triggers,
	}
	return o
}

// sleepInfos are kube-green SleepInfos of a schedule: one per run of
// sleep hours of workdays (their wake-ups on workdays only, so a Friday
// evening's sleep lasts the weekend when the weekend sleeps all day), and
// one per run of weekend days' unless they sleep all day. A day whose
// sleep is in pieces gets a SleepInfo per piece, which one rule cannot
// state.
//
// kube-green acts on a whole namespace: every Deployment and StatefulSet
// in it (and CronJob, with suspendCronJobs) unless told otherwise. So each
// suspends g's kind only, names g in includeRef (kube-green 0.6 and
// later), and for a release that drops includeRef unread, excludes the
// others of its kind seen in the namespace, up to the 100 kube-green
// takes.
func sleepInfos(g *planGroup, src *planSource, ev map[string]any, zone string, work, weekend []int) []any {
	var out []any
	version := kindAPIVersion(g.kind)
	var exclude []any
	for _, name := range slices.Sorted(maps.Keys(src.siblings[[2]string{g.ns, g.kind}])) {
		if name != g.name && kubeName(name, 253) && len(exclude) < maxSleepInfoRefs {
			exclude = append(exclude, map[string]any{"apiVersion": version, "kind": g.kind, "name": name})
		}
	}
	add := func(suffix, days string, sleep []int) {
		runs := sleepRuns(sleep)
		for i, r := range runs {
			spec := map[string]any{"weekdays": days, "sleepAt": fmt.Sprintf("%02d:00", r[0]), "wakeUpAt": fmt.Sprintf("%02d:00", r[1]), "timeZone": zone,
				"suspendDeployments": g.kind == "Deployment", "suspendStatefulSets": g.kind == "StatefulSet", "suspendCronJobs": g.kind == "CronJob",
				"includeRef": []any{map[string]any{"apiVersion": version, "kind": g.kind, "name": g.name}}}
			if len(exclude) > 0 {
				spec["excludeRef"] = exclude
			}
			name := g.name + "-" + suffix
			if len(runs) > 1 {
				name += "-" + strconv.Itoa(i+1)
			}
			o := object("kube-green.com/v1alpha1", "SleepInfo", name, g.ns, ev)
			o["spec"] = spec
			out = append(out, o)
		}
	}
	if len(work) > 0 && len(work) < 24 {
		add("workdays", cronWorkdays, work)
	}
	if len(weekend) > 0 && len(weekend) < 24 {
		add("weekend", cronWeekend, weekend)
	}
	return out
}

// maxSleepInfoRefs is the most includeRef or excludeRef entries a
// SleepInfo may have (kube-green's CRD says so).
const maxSleepInfoRefs = 100

// kindAPIVersion is the API version of a workload kind's objects.
func kindAPIVersion(kind string) string {
	if kind == "CronJob" {
		return "batch/v1"
	}
	return "apps/v1"
}

// sleepRuns are the runs of sleep hours of a day, across midnight
// included, each as the hour it sleeps at and the hour it wakes at; a
// SleepInfo states one. The longest comes first.
func sleepRuns(sleep []int) [][2]int {
	var runs [][2]int
	for start := range 24 {
		if !slices.Contains(sleep, start) || slices.Contains(sleep, (start+23)%24) {
			continue
		}
		n := 0
		for n < 24 && slices.Contains(sleep, (start+n)%24) {
			n++
		}
		runs = append(runs, [2]int{start, (start + n) % 24})
	}
	length := func(r [2]int) int { return (r[1] - r[0] + 24) % 24 }
	slices.SortStableFunc(runs, func(a, b [2]int) int { return length(b) - length(a) })
	return runs
}

// serverlessPlan writes, for a serverless-container verdict, a Knative
// Service and the same as a Cloud Run service; for a function verdict,
// the function's size, timeout and expected invocations. Sizes are those
// the platform was priced at.
func serverlessPlan(p *Plan, g *planGroup, src *planSource) {
	ev := evidence(g, src)
	var containers []any
	longest, invocations := 0.0, 0.0
	var port *uint16
	for _, c := range g.cs {
		a := c.Analysis
		if c.Image == "" {
			p.Summary = p.Verdict + ": nothing written; no running container told its image"
			return
		}
		p.SavingPerMonth += g.per(c) * a.SavingsPerMonth
		longest = max(longest, a.BurstMaxSeconds)
		if a.ObservedSeconds > 0 {
			invocations += g.per(c) * float64(a.Bursts) / a.ObservedSeconds * analysis.HoursPerMonth * 3600
		}
		if port == nil || c.ListenPort != nil && *c.ListenPort < *port {
			port = cmp.Or(c.ListenPort, port)
		}
		milli, mib := cpuTarget(a.CPUP95), memTarget(a.WorkingSetMax)
		containers = append(containers, map[string]any{
			"name": c.Name, "image": c.Image,
			"resources": map[string]any{
				"requests": map[string]any{"cpu": strconv.FormatFloat(milli, 'f', 0, 64) + "m", "memory": strconv.FormatFloat(mib, 'f', 0, 64) + "Mi"},
				"limits":   map[string]any{"memory": strconv.FormatFloat(mib, 'f', 0, 64) + "Mi"},
			},
		})
	}
	// A request must hold the longest burst seen, with room: half again,
	// at least a minute, at most the hour serverless containers allow.
	timeout := int(min(max(math.Ceil(longest*1.5), 60), 3600))
	a := g.cs[0].Analysis
	platform := a.Platform
	ev["fleetscope.io/platform"] = platform
	ev["fleetscope.io/saving-per-month"] = money(src.currency, p.SavingPerMonth)
	if p.Verdict == string(analysis.VerdictServerlessContainer) {
		// Knative routes to one port: the one the workload listens on.
		portNote := "the port is the one it was seen listening on"
		if port != nil {
			containers[0].(map[string]any)["ports"] = []any{map[string]any{"containerPort": int(*port)}}
		} else {
			portNote = "no listening port was seen: Knative's default is 8080, in $PORT; set containers[].ports"
		}
		annotations := map[string]any{"autoscaling.knative.dev/min-scale": "0", "autoscaling.knative.dev/max-scale": strconv.Itoa(g.replicas)}
		svc := object("serving.knative.dev/v1", "Service", g.name, g.ns, ev)
		svc["spec"] = map[string]any{"template": map[string]any{
			"metadata": map[string]any{"annotations": annotations},
			"spec":     map[string]any{"timeoutSeconds": timeout, "containers": containers},
		}}
		p.Files = append(p.Files, yamlFile("knative-service.yaml",
			"# Knative Service: min-scale 0 scales it to zero between requests, max-scale is the replicas it ran;\n# "+portNote+".\n", svc))
		p.Files = append(p.Files, yamlFile("cloud-run-service.yaml",
			"# Cloud Run service: gcloud run services replace cloud-run-service.yaml --region REGION\n"+
				"# Cloud Run bills the limits: the size the analysis priced ("+sizeText(a)+").\n",
			cloudRunService(g, ev, containers, timeout, a)))
	} else {
		mib := max(a.PlatformMemoryMiB, uint64(memTarget(a.WorkingSetMax)), 128)
		spec := map[string]any{"platform": platform, "memoryMiB": mib, "vcpus": a.PlatformVCPUs, "timeoutSeconds": min(timeout, 900),
			"expectedInvocationsPerMonth": math.Round(invocations), "image": g.cs[0].Image, "evidence": ev}
		p.Files = append(p.Files, yamlFile("function.yaml",
			"# The function's size (memory, and the vCPU it comes with), timeout and expected invocations (one per\n"+
				"# burst of work seen); its handler is the workload's work, invoked per request or event.\n", spec))

		if port != nil && replicated(g.kind) {
			// Until it is moved, KEDA's HTTP add-on runs it as a function
			// would: from zero on the first request.
			h := object("http.keda.sh/v1alpha1", "HTTPScaledObject", g.name, g.ns, ev)
			h["spec"] = map[string]any{
				"hosts":          []any{g.name + "." + g.ns + ".svc"},
				"scaleTargetRef": map[string]any{"apiVersion": kindAPIVersion(g.kind), "kind": g.kind, "name": g.name, "service": g.name, "port": int(*port)},
				"replicas":       map[string]any{"min": 0, "max": g.replicas},
				"scalingMetric":  map[string]any{"concurrency": map[string]any{"targetValue": 10}},
			}
			p.Files = append(p.Files, yamlFile("keda-httpscaledobject.yaml",
				"# KEDA HTTP add-on: scales it from zero on the first request to the port it was seen listening on,\n"+
					"# through a Service named like the workload (set service and hosts to yours).\n", h))
		}
	}
	p.Recommended = true
	p.Summary = fmt.Sprintf("%s on %s: saving %s a month", p.Verdict, platform, money(src.currency, p.SavingPerMonth))
}

// sizeText is the size a platform was priced at.
func sizeText(a *Analysis) string {
	return strconv.FormatFloat(a.PlatformVCPUs, 'g', 3, 64) + " vCPU, " + strconv.FormatUint(a.PlatformMemoryMiB, 10) + " MiB"
}

// cloudRunService is the Knative Service in Cloud Run's form: no
// namespace (the project is), limits at the size priced, the same
// scaling and timeout.
func cloudRunService(g *planGroup, ev map[string]any, containers []any, timeout int, a *Analysis) map[string]any {
	cs := make([]any, len(containers))
	for i, c := range containers {
		m := maps.Clone(c.(map[string]any))
		if i == 0 && a.PlatformVCPUs > 0 && a.PlatformMemoryMiB > 0 {
			m["resources"] = map[string]any{"limits": map[string]any{
				"cpu":    strconv.FormatFloat(a.PlatformVCPUs*1000, 'f', 0, 64) + "m",
				"memory": strconv.FormatUint(a.PlatformMemoryMiB, 10) + "Mi",
			}}
		}
		cs[i] = m
	}
	return map[string]any{
		"apiVersion": "serving.knative.dev/v1",
		"kind":       "Service",
		"metadata":   map[string]any{"name": g.name, "annotations": ev},
		"spec": map[string]any{"template": map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{
				"autoscaling.knative.dev/minScale": "0", "autoscaling.knative.dev/maxScale": strconv.Itoa(g.replicas),
			}},
			"spec": map[string]any{"timeoutSeconds": timeout, "containers": cs},
		}},
	}
}
