package agent

import (
	"log/slog"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
)

// A pod container that crashes, is down, and is replaced by a new
// instance: its counters never go down (the new instance inherits them
// with its history), and its workload's distributions on the node only
// grow, counting every minute with data of both instances once.
func TestEvidenceAcrossRestart(t *testing.T) {
	cfg := config.Default()
	cfg.History.StateFile = ""
	st := newState(cfg, slog.New(slog.DiscardHandler))
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	pod := containerd.Pod{Name: "web-5d8c-x1", Namespace: "shop", UID: "uid-1"}
	deployment := map[string]string{"pod-template-hash": "5d8c"}
	sandbox := &containerd.Container{Namespace: "k8s.io", ID: "sb", Sandbox: true, Pid: 10, Status: containerd.StatusRunning, Pod: pod, OverrideLabels: deployment}
	app := func(id string, created time.Time, running bool) *containerd.Container {
		c := &containerd.Container{Namespace: "k8s.io", ID: id, CreatedAt: created, Pod: pod, OverrideLabels: deployment}
		c.Pod.ContainerName = "app"
		if running {
			c.Pid, c.Status = 20, containerd.StatusRunning
		} else {
			c.Status = containerd.StatusStopped
		}
		return c
	}
	tick := 0
	var prev model.Evidence
	var prevCount uint64
	feed := func(srcs ...*containerd.Container) {
		snap := &model.Snapshot{Time: t0.Add(time.Duration(tick) * 10 * time.Second)}
		tick++
		for _, c := range srcs {
			sc := model.Container{Meta: metaOf(c, ""), Running: c.Running()}
			if c.Running() && c != sandbox {
				sc.Delta = model.Delta{Valid: true, Interval: 10 * time.Second, CPUSeconds: float64(tick % 3)}
			}
			snap.Containers = append(snap.Containers, sc)
		}
		st.record(snap, srcs)
		for _, sc := range snap.Containers {
			if sc.Meta.Sandbox {
				if sc.HaveEvidence && sc.Evidence.RecordedSeconds > 0 {
					t.Fatal("a sandbox recorded evidence")
				}
				continue
			}
			e := sc.Evidence
			if !sc.HaveEvidence || sc.Meta.ID != newest(srcs) {
				continue
			}
			if e.RecordedSeconds < prev.RecordedSeconds || e.IdleSeconds < prev.IdleSeconds || e.DownSeconds < prev.DownSeconds ||
				e.SampledSeconds < prev.SampledSeconds || e.BusySeconds < prev.BusySeconds || e.Restarts < prev.Restarts {
				t.Fatalf("tick %d: evidence went down: %+v after %+v", tick, e, prev)
			}
			prev = e
		}
		if len(snap.Distributions) > 1 {
			t.Fatalf("%d distributions for one workload", len(snap.Distributions))
		}
		for _, d := range snap.Distributions {
			if d.Container != "app" || d.Namespace != "shop" {
				t.Fatalf("distributions of %+v", d)
			}
			if c := d.CPU.Count(); c < prevCount {
				t.Fatalf("tick %d: distribution count went down", tick)
			} else {
				prevCount = c
			}
		}
	}
	first, second := app("app-1", t0, true), app("app-2", t0.Add(time.Hour), true)
	for range 6 * 5 {
		feed(sandbox, first)
	}
	first = app("app-1", t0, false)
	for range 6 * 10 {
		feed(sandbox, first)
	}
	for range 6*5 + 1 {
		feed(sandbox, first, second)
	}
	if prev.Restarts != 1 || prev.DownSeconds < 9*60 || prev.RecordedSeconds < 19*60 {
		t.Errorf("evidence after the restart: %+v", prev)
	}
	// Every minute with data of either instance, in the distributions once.
	if prevCount != uint64(prev.RecordedSeconds/60) {
		t.Errorf("%d minutes in the distributions, %v recorded", prevCount, prev.RecordedSeconds/60)
	}
}

// newest is the id of the newest pod container instance in srcs.
func newest(srcs []*containerd.Container) string {
	id, at := "", time.Time{}
	for _, c := range srcs {
		if !c.Sandbox && !c.CreatedAt.Before(at) {
			id, at = c.ID, c.CreatedAt
		}
	}
	return id
}

// A workload of one instance (a container that is its own workload, a
// bare pod) has no distributions: its gauges say it all. A labelled
// service's outlive its container for distGrace, for the next one to
// continue.
func TestSingleInstanceWorkloadsHaveNoDistributions(t *testing.T) {
	cfg := config.Default()
	cfg.History.StateFile = ""
	cfg.Containerd.WorkloadLabel = "service"
	st := newState(cfg, slog.New(slog.DiscardHandler))
	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	bare := &containerd.Container{Namespace: "default", ID: "bare", Pid: 10, Status: containerd.StatusRunning}
	svc := &containerd.Container{Namespace: "default", ID: "svc-1", Pid: 11, Status: containerd.StatusRunning,
		Labels: map[string]string{"service": "api"}}
	pod := &containerd.Container{Namespace: "k8s.io", ID: "pod-app", Pid: 12, Status: containerd.StatusRunning,
		Pod: containerd.Pod{Name: "debug", Namespace: "shop", UID: "u1", ContainerName: "app"}}
	var last *model.Snapshot
	feed := func(at time.Duration, srcs ...*containerd.Container) {
		snap := &model.Snapshot{Time: t0.Add(at)}
		for _, c := range srcs {
			snap.Containers = append(snap.Containers, model.Container{Meta: metaOf(c, cfg.Containerd.WorkloadLabel), Running: true,
				Delta: model.Delta{Valid: true, Interval: 10 * time.Second, CPUSeconds: 1}})
		}
		st.record(snap, srcs)
		last = snap
	}
	var at time.Duration
	for ; at < 3*time.Minute; at += 10 * time.Second {
		feed(at, bare, svc, pod)
	}
	names := func() []string {
		var out []string
		for _, d := range last.Distributions {
			out = append(out, d.Kind+"/"+d.Name)
		}
		return out
	}
	if got := names(); len(got) != 1 || got[0] != containerd.KindContainer+"/api" {
		t.Fatalf("distributions of %v, want only the service's", got)
	}
	if last.Distributions[0].CPU.Count() == 0 {
		t.Errorf("the service's CPU distribution counted nothing in 3 minutes")
	}
	for ; at < 3*time.Minute+distGrace; at += 30 * time.Second {
		feed(at) // all gone
	}
	if got := names(); len(got) != 1 {
		t.Errorf("within the grace after the service left: distributions of %v, want the service's", got)
	}
	feed(at + time.Minute)
	if got := names(); len(got) != 0 {
		t.Errorf("after the grace: distributions of %v, want none", got)
	}
}
