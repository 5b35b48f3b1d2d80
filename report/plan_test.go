package report

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/fleetscope/fleetscope/config"
)

// planReport is a node's report with one workload of each verdict shape.
func planReport() Report {
	mk := func(kind, name, pod, cname string, a Analysis) Container {
		a.IdleRatio = map[string]float64{"7d": 0.9}
		a.ObservedSeconds = 7 * 86400
		return Container{ID: pod + "-" + cname, Namespace: "k8s.io", Name: cname, PodName: pod, PodNamespace: "shop",
			WorkloadKind: kind, WorkloadName: name, Image: "registry.example/" + name + ":1", Running: true, Analysis: &a}
	}
	workHours := []int{0, 1, 2, 3, 4, 5, 6, 7, 18, 19, 20, 21, 22, 23}
	r := Report{Node: "n1", Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Currency: "USD", Containers: []Container{
		mk("Deployment", "office", "office-1", "web", Analysis{Verdict: "scale-to-zero-schedule", CostPerHour: 0.04,
			Sleep:  &Sleep{TimeZone: "Europe/Berlin", Workdays: workHours, Weekend: allHours(), HoursPerWeek: 118},
			Replay: &Replay{HoursAsleep: 118, Starts: 5}}),
		mk("Deployment", "canteen", "canteen-1", "web", Analysis{Verdict: "scale-to-zero-schedule", CostPerHour: 0.04,
			Sleep:  &Sleep{TimeZone: "Europe/Berlin", Workdays: append([]int{12}, workHours...), Weekend: allHours(), HoursPerWeek: 123},
			Replay: &Replay{HoursAsleep: 123, Starts: 10, Flaps: 5}}),
		mk("Deployment", "api", "api-1", "app", Analysis{Verdict: "rightsize", ReservedCPUCores: 1, ReservedCPUSource: "limit",
			ReservedMemory: 512 << 20, ReservedMemorySrc: "limit", CPUP95: 0.1, CPUMax: 0.3, WorkingSetMax: 100 << 20}),
		mk("StatefulSet", "ghost", "ghost-0", "db", Analysis{Verdict: "scale-to-zero-schedule", CostPerHour: 0.05,
			Sleep:  &Sleep{TimeZone: "UTC", Workdays: allHours(), Weekend: allHours(), HoursPerWeek: 168},
			Replay: &Replay{HoursAsleep: 168}}),
		mk("Deployment", "night", "night-1", "web", Analysis{Verdict: "scale-to-zero-schedule", CostPerHour: 0.04,
			Sleep:  &Sleep{TimeZone: "UTC", Workdays: workHours, Weekend: workHours, HoursPerWeek: 98},
			Replay: &Replay{HoursAsleep: 98, Starts: 7, RefusedConnections: 6, RefusedHours: 1}}),
		mk("Deployment", "hook", "hook-1", "srv", Analysis{Verdict: "serverless-container", Platform: "aws-fargate/us-east-1/x86_64",
			SavingsPerMonth: 20, CPUP95: 0.05, WorkingSetMax: 64 << 20, BurstMaxSeconds: 100, PlatformVCPUs: 0.25, PlatformMemoryMiB: 512}),
		mk("Deployment", "thumbs", "thumbs-1", "fn", Analysis{Verdict: "function", Platform: "aws-lambda/us-east-1/arm64",
			SavingsPerMonth: 12, CPUP95: 0.3, WorkingSetMax: 200 << 20, BurstMaxSeconds: 40, Bursts: 70, PlatformVCPUs: 1, PlatformMemoryMiB: 1769}),
		mk("Deployment", "busy", "busy-1", "app", Analysis{Verdict: "keep", Reasons: []Reason{{Code: "reservation_used", Text: "p95 uses 0.9 of 1 cores"}}}),
		mk("Deployment", "Bad_Name", "bad-1", "app", Analysis{Verdict: "rightsize", ReservedCPUCores: 1, ReservedCPUSource: "limit", CPUP95: 0.01}),
		mk("CronJob", "nightly", "nightly-29000000-abcde", "job", Analysis{Verdict: "rightsize", ReservedCPUCores: 2, ReservedCPUSource: "request",
			ReservedMemory: 1 << 30, ReservedMemorySrc: "limit", CPUP95: 0.2, CPUMax: 0.5, WorkingSetMax: 200 << 20}),
		// Killed for memory and throttled: its peaks are its limits'.
		mk("Deployment", "squeezed", "squeezed-1", "app", Analysis{Verdict: "rightsize", ReservedCPUCores: 4, ReservedCPUSource: "limit",
			ReservedMemory: 256 << 20, ReservedMemorySrc: "limit", CPUP95: 0.1, CPUMax: 0.4, WorkingSetMax: 250 << 20}),
		mk("Deployment", "capped", "capped-1", "app", Analysis{Verdict: "rightsize", ReservedCPUCores: 0.5, ReservedCPUSource: "limit",
			ReservedMemory: 4 << 30, ReservedMemorySrc: "limit", CPUP95: 0.1, CPUMax: 0.5, WorkingSetMax: 100 << 20}),
	}}
	port, oom, throttled := uint16(8080), uint64(3), 0.2
	for i := range r.Containers {
		switch r.Containers[i].WorkloadName {
		case "hook", "thumbs":
			r.Containers[i].ListenPort = &port
		case "squeezed":
			r.Containers[i].OOMKills = &oom
		case "capped":
			r.Containers[i].CPUThrottledRatio = &throttled
		}
	}
	return r
}

func planByName(t *testing.T, ps []Plan, name string) Plan {
	t.Helper()
	for _, p := range ps {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no plan for %s", name)
	return Plan{}
}

func fileOf(t *testing.T, p Plan, name string) map[string]any {
	t.Helper()
	for _, f := range p.Files {
		if f.Name == name {
			var v map[string]any
			if err := yaml.Unmarshal(f.Data, &v); err != nil {
				t.Fatalf("%s/%s: %v\n%s", p.Name, name, err, f.Data)
			}
			return v
		}
	}
	var names []string
	for _, f := range p.Files {
		names = append(names, f.Name)
	}
	t.Fatalf("%s has no %s (files %v; %s)", p.Name, name, names, p.Summary)
	return nil
}

// at walks a decoded YAML document along keys and indexes.
func at(v any, path ...any) any {
	for _, k := range path {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestPlans(t *testing.T) {
	cfg := config.Default().Analysis
	ps := Plans(planReport(), cfg)

	// An office service in Berlin: up 08-18 on workdays, at zero
	// otherwise; kube-green sleeps it at 18:00 and wakes it at 08:00 on
	// workdays only, which keeps it asleep over the weekend.
	office := planByName(t, ps, "office")
	so := fileOf(t, office, "keda-scaledobject.yaml")
	trig := at(so, "spec", "triggers").([]any)
	if len(trig) != 1 || at(trig[0], "metadata", "start") != "0 8 * * 1-5" || at(trig[0], "metadata", "end") != "0 18 * * 1-5" ||
		at(trig[0], "metadata", "timezone") != "Europe/Berlin" || at(so, "spec", "minReplicaCount") != 0.0 ||
		at(so, "spec", "scaleTargetRef", "name") != "office" {
		t.Errorf("ScaledObject %v", so)
	}
	si := fileOf(t, office, "kube-green-sleepinfo.yaml")
	if items := at(si, "items").([]any); len(items) != 1 || at(items[0], "spec", "sleepAt") != "18:00" || at(items[0], "spec", "wakeUpAt") != "08:00" ||
		at(items[0], "spec", "weekdays") != "1-5" || at(items[0], "spec", "timeZone") != "Europe/Berlin" {
		t.Errorf("SleepInfo %v", si)
	}
	// Asleep over lunch too: one SleepInfo per piece of the workday's
	// sleep, the longest first, and a trigger per awake piece.
	canteen := planByName(t, ps, "canteen")
	items := at(fileOf(t, canteen, "kube-green-sleepinfo.yaml"), "items").([]any)
	if len(items) != 2 || at(items[0], "metadata", "name") != "canteen-workdays-1" || at(items[0], "spec", "sleepAt") != "18:00" ||
		at(items[1], "spec", "sleepAt") != "12:00" || at(items[1], "spec", "wakeUpAt") != "13:00" || at(items[1], "spec", "weekdays") != "1-5" {
		t.Errorf("canteen SleepInfos %v", items)
	}
	if trig := at(fileOf(t, canteen, "keda-scaledobject.yaml"), "spec", "triggers").([]any); len(trig) != 2 ||
		at(trig[0], "metadata", "end") != "0 12 * * 1-5" || at(trig[1], "metadata", "start") != "0 13 * * 1-5" {
		t.Errorf("canteen triggers %v", trig)
	}
	if want := 0.04 * 118 / 168 * 730; !office.Recommended || math.Abs(office.SavingPerMonth-want) > 1e-9 {
		t.Errorf("office: recommended %v, saving %v, want %v", office.Recommended, office.SavingPerMonth, want)
	}

	// Rightsize: 1.2× the p95 (120m) and the limit at 1.2× the peak
	// (360m); memory at 1.2× the peak working set (120 MiB).
	api := planByName(t, ps, "api")
	patch := fileOf(t, api, "rightsize.patch.yaml")
	c := at(patch, "spec", "template", "spec", "containers", 0)
	if at(c, "name") != "app" || at(c, "resources", "requests", "cpu") != "120m" || at(c, "resources", "limits", "cpu") != "360m" ||
		at(c, "resources", "requests", "memory") != "120Mi" || at(patch, "metadata", "annotations", "fleetscope.io/verdict") != "rightsize" {
		t.Errorf("patch %v", patch)
	}
	if want := (0.64*cfg.Prices.VCPUHour + 392.0/1024*cfg.Prices.GiBHour) * 730; math.Abs(api.SavingPerMonth-want) > 1e-9 {
		t.Errorf("api saving %v, want %v", api.SavingPerMonth, want)
	}

	// Never active: scaled to zero, no schedule.
	ghost := planByName(t, ps, "ghost")
	if at(fileOf(t, ghost, "scale-to-zero.patch.yaml"), "spec", "replicas") != 0.0 || len(ghost.Files) != 1 {
		t.Errorf("ghost: %v", ghost.Files)
	}
	// A replay that refused connections: written for review only.
	if night := planByName(t, ps, "night"); night.Recommended || !strings.Contains(night.Summary, "refused 6 connections") {
		t.Errorf("night: %+v", night)
	}
	// A serverless container: a Knative Service scaling to zero, with a
	// timeout of 1.5× the longest burst.
	svc := fileOf(t, planByName(t, ps, "hook"), "knative-service.yaml")
	if at(svc, "spec", "template", "spec", "timeoutSeconds") != 150.0 || at(svc, "spec", "template", "metadata", "annotations", "autoscaling.knative.dev/min-scale") != "0" ||
		at(svc, "spec", "template", "spec", "containers", 0, "image") != "registry.example/hook:1" {
		t.Errorf("knative %v", svc)
	}
	// It listens on 8080; Cloud Run's copy is billed at the size priced.
	if at(svc, "spec", "template", "spec", "containers", 0, "ports", 0, "containerPort") != 8080.0 {
		t.Errorf("knative port: %v", at(svc, "spec", "template", "spec", "containers", 0))
	}
	run := fileOf(t, planByName(t, ps, "hook"), "cloud-run-service.yaml")
	if at(run, "spec", "template", "spec", "containers", 0, "resources", "limits", "memory") != "512Mi" ||
		at(run, "spec", "template", "spec", "containers", 0, "resources", "limits", "cpu") != "250m" || at(run, "metadata", "namespace") != nil {
		t.Errorf("cloud run %v", run)
	}
	// A function: the size priced, a timeout of 1.5× the longest burst,
	// one invocation per burst: 70 in 7 days is 304 a month (730 hours).
	fn := fileOf(t, planByName(t, ps, "thumbs"), "function.yaml")
	if at(fn, "memoryMiB") != 1769.0 || at(fn, "vcpus") != 1.0 || at(fn, "timeoutSeconds") != 60.0 || at(fn, "expectedInvocationsPerMonth") != 304.0 {
		t.Errorf("function %v", fn)
	}
	if h := fileOf(t, planByName(t, ps, "thumbs"), "keda-httpscaledobject.yaml"); at(h, "spec", "scaleTargetRef", "port") != 8080.0 ||
		at(h, "spec", "replicas", "min") != 0.0 || at(h, "spec", "scaleTargetRef", "name") != "thumbs" {
		t.Errorf("HTTPScaledObject %v", h)
	}
	// The same as a DaemonSet: a function's spec, but no HTTPScaledObject,
	// which scales replicas a DaemonSet does not have.
	r := planReport()
	for i := range r.Containers {
		if c := &r.Containers[i]; c.WorkloadName == "thumbs" {
			c.WorkloadKind = "DaemonSet"
		}
	}
	for _, f := range planByName(t, Plans(r, cfg), "thumbs").Files {
		if f.Name == "keda-httpscaledobject.yaml" {
			t.Errorf("a DaemonSet got an HTTPScaledObject:\n%s", f.Data)
		}
	}
	// Killed for memory 3 times, its memory limit is raised by half, its
	// CPU still lowered; throttled in 20 % of its periods, the CPU limit
	// is raised by half, the request still lowered to 1.2× the p95; each
	// plan's saving counts the raise.
	sq := planByName(t, ps, "squeezed")
	c = at(fileOf(t, sq, "rightsize.patch.yaml"), "spec", "template", "spec", "containers", 0)
	if at(c, "resources", "limits", "memory") != "384Mi" || at(c, "resources", "limits", "cpu") != "480m" ||
		!strings.Contains(sq.Summary, "OOM killer killed it 3 time(s)") {
		t.Errorf("squeezed: %+v\n%v", sq, c)
	}
	if want := (3.52*cfg.Prices.VCPUHour - 128.0/1024*cfg.Prices.GiBHour) * 730; math.Abs(sq.SavingPerMonth-want) > 1e-9 {
		t.Errorf("squeezed saving %v, want %v", sq.SavingPerMonth, want)
	}
	cp := planByName(t, ps, "capped")
	c = at(fileOf(t, cp, "rightsize.patch.yaml"), "spec", "template", "spec", "containers", 0)
	if at(c, "resources", "limits", "cpu") != "750m" || at(c, "resources", "requests", "cpu") != "120m" || at(c, "resources", "limits", "memory") != "120Mi" ||
		!strings.Contains(cp.Summary, "throttled in 20% of its periods") {
		t.Errorf("capped: %+v\n%v", cp, c)
	}

	// keep writes nothing and says why; a name Kubernetes would refuse
	// is never written into a file or a command.
	if busy := planByName(t, ps, "busy"); len(busy.Files) != 0 || !strings.Contains(busy.Summary, "p95 uses 0.9") {
		t.Errorf("busy: %+v", busy)
	}
	if bad := planByName(t, ps, "Bad_Name"); len(bad.Files) != 0 || !strings.Contains(bad.Summary, "not a Kubernetes name") {
		t.Errorf("bad name: %+v", bad)
	}

	// Below the minimum saving, nothing is written.
	cfg.MinSavingPerMonth = 1000
	for _, p := range Plans(planReport(), cfg) {
		if len(p.Files) != 0 {
			t.Errorf("%s: %d files below the minimum saving", p.Name, len(p.Files))
		}
	}
}

// A workload judged on the history of every pod it had is planned from
// that history, for the replicas it runs: two of them sleep twice the
// money, and the replay's saving over whole weeks is the schedule's.
func TestPlansFromHistory(t *testing.T) {
	r := planReport()
	var office Container
	for _, c := range r.Containers {
		if c.WorkloadName == "office" {
			office = c
		}
	}
	a := *office.Analysis
	a.CostPerHour = 0.05
	a.Replay = &Replay{HoursAsleep: 2 * 118, HoursWithData: 2 * 168, MinutesAtZero: 2 * 118 * 60, Starts: 10, StartsPerDay: 5.0 / 7,
		SavingPerMonth: 0.05 * 118 / 168 * 730}
	r.Parts = []WorkloadPart{{Namespace: "shop", Kind: "Deployment", Name: "office", Container: "web", Pods: 9, Live: 2, AverageReplicas: 1.9, Analysis: &a}}
	p := planByName(t, Plans(r, config.Default().Analysis), "office")
	want := 2 * 0.05 * 118 / 168 * 730
	if math.Abs(p.SavingPerMonth-want) > 1e-9 || p.Replay == nil || math.Abs(p.Replay.SavingPerMonth-p.SavingPerMonth) > 0.01*p.SavingPerMonth {
		t.Fatalf("office from its history: saving %v (want %v), replay %+v", p.SavingPerMonth, want, p.Replay)
	}
	so := fileOf(t, p, "keda-scaledobject.yaml")
	if at(so, "spec", "maxReplicaCount") != 2.0 || at(so, "spec", "triggers", 0, "metadata", "desiredReplicas") != "2" {
		t.Errorf("ScaledObject for 2 replicas: %v", so)
	}
	if !strings.Contains(p.Summary, "336 hours recorded") || !strings.Contains(p.Summary, "0.7 cold starts a day") {
		t.Errorf("summary %q", p.Summary)
	}
}

// kube-green acts on a whole namespace, Deployments and StatefulSets by
// default: a SleepInfo for one workload suspends its kind only, names it
// in includeRef, and excludes the others of its kind (for releases
// without includeRef), up to the 100 refs kube-green takes.
func TestSleepInfoSuspendsItsWorkloadOnly(t *testing.T) {
	night := []int{0, 1, 2, 3, 4, 5, 6, 22, 23}
	sleeper := func(kind, name string) Container {
		return Container{ID: name, Name: "app", PodName: name + "-0", PodNamespace: "shop", WorkloadKind: kind, WorkloadName: name, Running: true,
			Analysis: &Analysis{Verdict: "scale-to-zero-schedule", CostPerHour: 0.05, IdleRatio: map[string]float64{"7d": 0.4}, ObservedSeconds: 7 * 86400,
				Sleep: &Sleep{TimeZone: "UTC", Workdays: night, Weekend: night, HoursPerWeek: 63}, Replay: &Replay{HoursAsleep: 63, HoursWithData: 168}}}
	}
	keep := func(kind, name string) Container {
		return Container{ID: name, Name: "app", PodName: name + "-0", PodNamespace: "shop", WorkloadKind: kind, WorkloadName: name, Running: true,
			Analysis: &Analysis{Verdict: "keep"}}
	}
	r := Report{Node: "n1", Currency: "USD", Containers: []Container{
		sleeper("Deployment", "office"), keep("Deployment", "shop-api"),
		sleeper("StatefulSet", "store"), keep("StatefulSet", "cache"),
		sleeper("CronJob", "nightly"), keep("CronJob", "backup"),
	}}
	for i := range 150 {
		r.Containers = append(r.Containers, keep("Deployment", fmt.Sprintf("d%03d", i)))
	}
	ps := Plans(r, config.Default().Analysis)
	for _, c := range []struct {
		name, kind, version, flag, sibling string
		excluded                           int
	}{
		{"office", "Deployment", "apps/v1", "suspendDeployments", "d000", maxSleepInfoRefs},
		{"store", "StatefulSet", "apps/v1", "suspendStatefulSets", "cache", 1},
		{"nightly", "CronJob", "batch/v1", "suspendCronJobs", "backup", 1},
	} {
		p := planByName(t, ps, c.name)
		items := at(fileOf(t, p, "kube-green-sleepinfo.yaml"), "items").([]any)
		if len(items) == 0 {
			t.Fatalf("%s: no SleepInfo", c.name)
		}
		spec := at(items[0], "spec").(map[string]any)
		for _, flag := range []string{"suspendDeployments", "suspendStatefulSets", "suspendCronJobs"} {
			if spec[flag] != (flag == c.flag) {
				t.Errorf("%s: %s %v", c.name, flag, spec[flag])
			}
		}
		inc := at(spec, "includeRef", 0)
		if n := len(spec["includeRef"].([]any)); n != 1 || at(inc, "apiVersion") != c.version || at(inc, "kind") != c.kind || at(inc, "name") != c.name {
			t.Errorf("%s: includeRef %v", c.name, spec["includeRef"])
		}
		exc, _ := spec["excludeRef"].([]any)
		if len(exc) != c.excluded || at(exc[0], "name") != c.sibling || at(exc[0], "kind") != c.kind {
			t.Errorf("%s: %d excluded, the first %v; want %d, the first %s %s", c.name, len(exc), at(exc, 0), c.excluded, c.kind, c.sibling)
		}
		for _, e := range exc {
			if at(e, "name") == c.name {
				t.Errorf("%s excludes itself", c.name)
			}
		}
	}
}
