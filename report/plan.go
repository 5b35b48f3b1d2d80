package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

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
	Recommended    bool       `json:"recommended"`
	Summary        string     `json:"summary"`
	SavingPerMonth float64    `json:"saving_per_month"`
	Files          []PlanFile `json:"files,omitempty"`
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
)

// scalable are the kinds a plan can patch.
var scalable = map[string]bool{"Deployment": true, "StatefulSet": true, "DaemonSet": true, "CronJob": true}

// planGroup is one workload's containers in a report.
type planGroup struct {
	ns, kind, name string
	cs             []*Container
}

// Plans builds a plan per workload of r whose containers have a verdict
// other than keep and insufficient-data, and a summary line for the
// others. cfg's unit prices price a rightsize's targets, and no plan is
// written for less than its min_saving_per_month.
func Plans(r Report, cfg config.AnalysisConfig) []Plan {
	groups := map[[3]string]*planGroup{}
	for i := range r.Containers {
		c := &r.Containers[i]
		if c.Sandbox || c.Analysis == nil || c.WorkloadKind == "" {
			continue
		}
		ns := cmp.Or(c.PodNamespace, c.Namespace)
		k := [3]string{ns, c.WorkloadKind, c.WorkloadName}
		g := groups[k]
		if g == nil {
			g = &planGroup{ns: ns, kind: c.WorkloadKind, name: c.WorkloadName}
			groups[k] = g
		}
		g.cs = append(g.cs, c)
	}
	var out []Plan
	for _, g := range groups {
		out = append(out, planOf(g, r, &cfg))
	}
	slices.SortFunc(out, func(a, b Plan) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// planOf is g's plan: the verdict its containers agree on, else the
// rightsizing of those that are over-reserved.
func planOf(g *planGroup, r Report, cfg *config.AnalysisConfig) Plan {
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
		schedulePlan(&p, g, r)
	case string(analysis.VerdictFunction), string(analysis.VerdictServerlessContainer):
		serverlessPlan(&p, g, r)
	case string(analysis.VerdictInsufficientData):
		p.Summary = "insufficient-data: nothing written; not observed long enough for a verdict"
	case string(analysis.VerdictKeep):
		p.Summary = "keep: nothing written; " + firstReason(g)
	default:
		rightsizePlan(&p, g, r, cfg)
	}
	if len(p.Files) > 0 && p.SavingPerMonth < cfg.MinSavingPerMonth {
		p.Files, p.Recommended = nil, false
		p.Summary = fmt.Sprintf("%s: nothing written; it would save %s a month, less than the %s a suggestion must save",
			p.Verdict, money(r.Currency, p.SavingPerMonth), money(r.Currency, cfg.MinSavingPerMonth))
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
func evidence(g *planGroup, r Report) map[string]any {
	a := g.cs[0].Analysis
	var b strings.Builder
	fmt.Fprintf(&b, "node %s at %s; %d container(s); observed %s", r.Node, r.Time.UTC().Format("2006-01-02T15:04:05Z"), len(g.cs),
		humanSeconds(a.ObservedSeconds))
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
func rightsizePlan(p *Plan, g *planGroup, r Report, cfg *config.AnalysisConfig) {
	type target struct {
		name                  string
		cpu, cpuLimit, memory string
		savedCores, savedMiB  float64
	}
	var ts []target
	for _, c := range g.cs {
		a := c.Analysis
		if a.Verdict != string(analysis.VerdictRightsize) {
			continue
		}
		t := target{name: c.Name}
		if a.ReservedCPUSource != analysis.SourceObserved {
			milli := max(math.Ceil(a.CPUP95*cpuHeadroom*1000/5)*5, minCPUMilli)
			if milli < a.ReservedCPUCores*1000*0.9 {
				t.cpu = strconv.FormatFloat(milli, 'f', 0, 64) + "m"
				if a.ReservedCPUSource == analysis.SourceLimit {
					limit := max(math.Ceil(a.CPUMax*cpuHeadroom*1000/5)*5, milli)
					if limit < a.ReservedCPUCores*1000 {
						t.cpuLimit = strconv.FormatFloat(limit, 'f', 0, 64) + "m"
					}
					t.savedCores = a.ReservedCPUCores - limit/1000
				} else {
					t.savedCores = a.ReservedCPUCores - milli/1000
				}
			}
		}
		if a.ReservedMemorySrc != analysis.SourceObserved {
			mib := max(math.Ceil(float64(a.WorkingSetMax)*memHeadroom/(1<<20)), minMemMiB)
			if have := float64(a.ReservedMemory) / (1 << 20); mib < have*0.9 {
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
		saved += analysis.HourlyCost(max(t.savedCores, 0), max(t.savedMiB, 0)*(1<<20), 0, &cfg.Prices) * analysis.HoursPerMonth
	}
	p.SavingPerMonth = saved
	if saved < 0.005 {
		p.Summary = p.Verdict + ": nothing written; the targets save nothing"
		return
	}
	pod := map[string]any{"spec": map[string]any{"containers": containers}}
	spec := map[string]any{"template": pod}
	if g.kind == "CronJob" {
		spec = map[string]any{"jobTemplate": map[string]any{"spec": map[string]any{"template": pod}}}
	}
	patch := object("apps/v1", g.kind, g.name, g.ns, evidence(g, r))
	if g.kind == "CronJob" {
		patch["apiVersion"] = "batch/v1"
	}
	patch["spec"] = spec
	p.Recommended = true
	p.Files = append(p.Files, yamlFile("rightsize.patch.yaml",
		fmt.Sprintf("# Strategic-merge patch: kubectl patch %s %s -n %s --type strategic --patch-file rightsize.patch.yaml\n"+
			"# CPU: the p95 of per-minute use ×%.1f (at least %dm); memory: the peak working set ×%.1f (at least %d Mi).\n",
			strings.ToLower(g.kind), g.name, g.ns, cpuHeadroom, minCPUMilli, memHeadroom, minMemMiB), patch))
	p.Files = append(p.Files, yamlFile("rightsize.values.yaml", "# The same targets, per container, for a chart's values.\n", values))
	p.Summary = fmt.Sprintf("%s: new requests and limits for %d container(s), saving %s a month at the node's unit prices",
		p.Verdict, len(ts), money(r.Currency, saved))
}

// object is an object's apiVersion, kind and metadata.
func object(apiVersion, kind, name, ns string, annotations map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": ns, "annotations": annotations},
	}
}

// yamlFile marshals v under a comment header.
func yamlFile(name, header string, v any) PlanFile {
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
func schedulePlan(p *Plan, g *planGroup, r Report) {
	var zone string
	work, weekend := allHours(), allHours()
	refused, replayed := 0.0, true
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
		} else {
			refused += a.Replay.RefusedConnections
		}
	}
	// The schedule all the containers share, priced by the analysis' rule.
	shared := analysis.SleepSchedule{Zone: zone, Workdays: analysis.HourSetOf(work), Weekend: analysis.HourSetOf(weekend)}
	hoursPerWeek := shared.HoursPerWeek()
	for _, c := range g.cs {
		p.SavingPerMonth += shared.SavingPerMonth(c.Analysis.CostPerHour)
	}
	if g.kind == "DaemonSet" {
		p.Summary = p.Verdict + ": nothing written; a DaemonSet cannot be scaled to zero by replicas (move it off its nodes instead)"
		return
	}
	ev := evidence(g, r)
	if hoursPerWeek == 7*24 {
		// Idle in every hour: unused, no schedule.
		patch := object("apps/v1", g.kind, g.name, g.ns, ev)
		patch["spec"] = map[string]any{"replicas": 0}
		if g.kind == "CronJob" {
			patch["apiVersion"], patch["spec"] = "batch/v1", map[string]any{"suspend": true}
		}
		p.Files = append(p.Files, yamlFile("scale-to-zero.patch.yaml",
			"# Never active in the days observed: nothing used it. Scale it to zero (or remove it):\n"+
				"# kubectl patch "+strings.ToLower(g.kind)+" "+g.name+" -n "+g.ns+" --type strategic --patch-file scale-to-zero.patch.yaml\n", patch))
		p.Recommended = true
		p.Summary = fmt.Sprintf("%s: unused, scaled to zero, saving %s a month", p.Verdict, money(r.Currency, p.SavingPerMonth))
		return
	}
	ev["fleetscope.io/sleep"] = fmt.Sprintf("workdays %v, weekend %v (%s), %d hours a week", work, weekend, zone, hoursPerWeek)
	p.Recommended = replayed && refused == 0
	if g.kind != "CronJob" {
		p.Files = append(p.Files, yamlFile("keda-scaledobject.yaml",
			"# KEDA ScaledObject: the cron triggers hold the replicas in the awake hours; outside them\n"+
				"# minReplicaCount 0 takes the workload to zero. Set desiredReplicas to the replicas it runs.\n",
			scaledObject(g, ev, zone, work, weekend)))
	}
	if si := sleepInfos(g, r, ev, zone, work, weekend); len(si) > 0 {
		p.Files = append(p.Files, yamlFile("kube-green-sleepinfo.yaml",
			"# kube-green SleepInfos: they act on every Deployment (and with suspendCronJobs, CronJob) of\n"+
				"# the namespace but those excluded; the others this node saw in the namespace are excluded.\n",
			map[string]any{"apiVersion": "v1", "kind": "List", "items": si}))
	}
	switch {
	case !replayed:
		p.Summary = fmt.Sprintf("%s: sleeps %d hours a week (%s), saving %s a month; not replayed", p.Verdict, hoursPerWeek, zone, money(r.Currency, p.SavingPerMonth))
	case refused > 0:
		p.Summary = fmt.Sprintf("%s: written for review, not recommended: replayed over the hours recorded it would have refused %.0f connections", p.Verdict, refused)
	default:
		p.Summary = fmt.Sprintf("%s: sleeps %d hours a week (%s), saving %s a month; replayed over the hours recorded, it refuses no connection",
			p.Verdict, hoursPerWeek, zone, money(r.Currency, p.SavingPerMonth))
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
	pods := map[string]bool{}
	for _, c := range g.cs {
		pods[c.PodName] = true
	}
	replicas := max(len(pods), 1)
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
		"scaleTargetRef":  map[string]any{"apiVersion": "apps/v1", "kind": g.kind, "name": g.name},
		"minReplicaCount": 0,
		"maxReplicaCount": replicas,
		"triggers":        triggers,
	}
	return o
}

// sleepInfos are kube-green SleepInfos of a schedule: the longest sleep
// of workdays (its wake-up on workdays only, so a Friday evening's sleep
// lasts the weekend when the weekend sleeps all day), and one for weekend
// days unless they sleep all day. A sleep kube-green cannot state (one
// day's hours in pieces) keeps its longest piece; the ScaledObject states
// it whole.
func sleepInfos(g *planGroup, r Report, ev map[string]any, zone string, work, weekend []int) []any {
	var out []any
	var exclude []any
	seen := map[string]bool{}
	for _, c := range r.Containers {
		if c.WorkloadKind == "Deployment" && c.WorkloadName != g.name && cmp.Or(c.PodNamespace, c.Namespace) == g.ns &&
			kubeName(c.WorkloadName, 253) && !seen[c.WorkloadName] {
			seen[c.WorkloadName] = true
			exclude = append(exclude, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": c.WorkloadName})
		}
	}
	add := func(suffix, days string, sleep []int) {
		from, to, ok := longestSleep(sleep)
		if !ok {
			return
		}
		spec := map[string]any{"weekdays": days, "sleepAt": fmt.Sprintf("%02d:00", from), "wakeUpAt": fmt.Sprintf("%02d:00", to), "timeZone": zone}
		if g.kind == "CronJob" {
			spec["suspendCronJobs"], spec["suspendDeployments"] = true, false
		}
		if len(exclude) > 0 {
			spec["excludeRef"] = exclude
		}
		o := object("kube-green.com/v1alpha1", "SleepInfo", g.name+"-"+suffix, g.ns, ev)
		o["spec"] = spec
		out = append(out, o)
	}
	if len(work) > 0 && len(work) < 24 {
		add("workdays", cronWorkdays, work)
	}
	if len(weekend) > 0 && len(weekend) < 24 {
		add("weekend", cronWeekend, weekend)
	}
	return out
}

// longestSleep is the longest run of sleep hours, across midnight
// included: it sleeps at from and wakes at to.
func longestSleep(sleep []int) (from, to int, ok bool) {
	best := 0
	for start := range 24 {
		if !slices.Contains(sleep, start) || slices.Contains(sleep, (start+23)%24) {
			continue
		}
		n := 0
		for n < 24 && slices.Contains(sleep, (start+n)%24) {
			n++
		}
		if n > best {
			best, from, to = n, start, (start+n)%24
		}
	}
	return from, to, best > 0
}

// serverlessPlan writes a Knative Service for a serverless-container
// verdict and a function's size for a function verdict.
func serverlessPlan(p *Plan, g *planGroup, r Report) {
	ev := evidence(g, r)
	var containers []any
	longest := 0.0
	for _, c := range g.cs {
		a := c.Analysis
		p.SavingPerMonth += a.SavingsPerMonth
		longest = max(longest, a.BurstMaxSeconds)
		milli := max(math.Ceil(a.CPUP95*cpuHeadroom*1000/5)*5, minCPUMilli)
		mib := max(math.Ceil(float64(a.WorkingSetMax)*memHeadroom/(1<<20)), minMemMiB)
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
	platform := g.cs[0].Analysis.Platform
	ev["fleetscope.io/platform"] = platform
	if p.Verdict == string(analysis.VerdictServerlessContainer) {
		svc := object("serving.knative.dev/v1", "Service", g.name, g.ns, ev)
		svc["spec"] = map[string]any{"template": map[string]any{
			"metadata": map[string]any{"annotations": map[string]any{"autoscaling.knative.dev/min-scale": "0"}},
			"spec":     map[string]any{"timeoutSeconds": timeout, "containers": containers},
		}}
		p.Files = append(p.Files, yamlFile("knative-service.yaml",
			"# Knative Service (Cloud Run takes the same document: gcloud run services replace).\n"+
				"# min-scale 0 lets it scale to zero between requests; the port is Knative's default (8080,\n"+
				"# in $PORT): set containers[].ports to the port the workload listens on.\n", svc))
	} else {
		a := g.cs[0].Analysis
		mib := max(math.Ceil(float64(a.WorkingSetMax)*memHeadroom/(1<<20)), 128)
		p.Files = append(p.Files, yamlFile("function.yaml",
			"# The function's size and timeout; its handler is the workload's work, invoked per request or event.\n",
			map[string]any{"platform": platform, "memoryMiB": int(mib), "timeoutSeconds": min(timeout, 900), "image": g.cs[0].Image, "evidence": ev}))
	}
	p.Recommended = true
	p.Summary = fmt.Sprintf("%s on %s: saving %s a month", p.Verdict, platform, money(r.Currency, p.SavingPerMonth))
}
