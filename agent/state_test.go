package agent

import (
	"log/slog"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
	"github.com/fleetscope/fleetscope/model"
)

// TestStateRestartsAndDownTime: the kubelet restarts a crashed container
// under a new id in the same pod; its history goes on under the new id
// with the restart counted, and the minutes it was down while its pod's
// sandbox ran are paid, idle, down minutes. The pod's listening socket
// reaches history too. A container outside a pod that stops has no data,
// not down time.
func TestStateRestartsAndDownTime(t *testing.T) {
	cfg := config.Default()
	cfg.History.StateFile = ""
	st := newState(cfg, slog.New(slog.DiscardHandler))

	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	pod := containerd.Pod{Name: "web", Namespace: "shop", UID: "uid-1"}
	sandbox := &containerd.Container{Namespace: "k8s.io", ID: "sb", Sandbox: true, Pid: 10, Status: containerd.StatusRunning, Pod: pod}
	app := func(id string, created time.Time, running bool) *containerd.Container {
		c := &containerd.Container{Namespace: "k8s.io", ID: id, CreatedAt: created, Pod: pod}
		c.Pod.ContainerName = "app"
		if running {
			c.Pid, c.Status = 20, containerd.StatusRunning
		} else {
			c.Status = containerd.StatusStopped
		}
		return c
	}
	plain := &containerd.Container{Namespace: "default", ID: "plain", Pid: 30, Status: containerd.StatusRunning}

	tick := 0
	feed := func(srcs ...*containerd.Container) {
		snap := &model.Snapshot{Time: t0.Add(time.Duration(tick) * 10 * time.Second)}
		tick++
		for _, c := range srcs {
			sc := model.Container{Meta: metaOf(c, ""), Running: c.Running()}
			if c.Running() && c != sandbox {
				sc.Delta = model.Delta{Valid: true, Interval: 10 * time.Second, CPUSeconds: 1, Listening: c.Pod.UID != ""}
			}
			snap.Containers = append(snap.Containers, sc)
		}
		st.record(snap, srcs)
	}

	first, second := app("app-1", t0, true), app("app-2", t0.Add(time.Hour), true)
	for range 6 * 5 { // 5 minutes up
		feed(sandbox, first, plain)
	}
	first = app("app-1", t0, false)
	stopped := *plain
	stopped.Pid, stopped.Status = 0, containerd.StatusStopped
	for range 6 * 10 { // 10 minutes down, in back-off
		feed(sandbox, first, &stopped)
	}
	for range 6 * 5 { // replaced by a new instance
		feed(sandbox, first, second, &stopped)
	}
	now := t0.Add(time.Duration(tick) * 10 * time.Second)

	if st.store.Get(history.Key{Namespace: "k8s.io", ID: "app-1"}) != nil {
		t.Fatal("the dead instance kept its history")
	}
	s := st.store.Get(history.Key{Namespace: "k8s.io", ID: "app-2"})
	if s == nil {
		t.Fatal("the new instance has no history")
	}
	s.Advance(now.Add(time.Minute), history.Thresholds{})
	h := s.AppendHours(nil, t0, t0.Add(time.Hour))[0]
	if h.Restarts != 1 || h.DownMinutes < 9 || h.DownMinutes > 11 || h.ListenMinutes < 9 || h.Minutes < 19 {
		t.Fatalf("hour %+v: want 1 restart, about 10 down and 10 listening minutes of 20", h)
	}
	p := st.store.Get(history.Key{Namespace: "default", ID: "plain"})
	if ph := p.AppendHours(nil, t0, t0.Add(time.Hour))[0]; ph.DownMinutes != 0 || ph.Minutes > 6 || ph.ListenMinutes != 0 {
		t.Fatalf("plain container: %+v; want 5 minutes, none down", ph)
	}
}
