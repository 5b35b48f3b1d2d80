package main

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/containerd/api/types/task"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
)

// floorTree writes a cgroup v2 tree with cgroups a and b and a proc tree
// where pids 101 and 102 share a network namespace (one inode, by a hard
// link), 103's is the host's, and pid 1 is the host.
func floorTree(t *testing.T) (cgroupRoot, procRoot string) {
	t.Helper()
	dir := t.TempDir()
	cgroupRoot, procRoot = filepath.Join(dir, "cgroup"), filepath.Join(dir, "proc")
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(cgroupRoot, "cgroup.controllers"), "cpu memory io pids\n")
	for _, c := range []string{"a", "b", "c"} {
		write(filepath.Join(cgroupRoot, c, "cpu.stat"), "usage_usec 10\nuser_usec 6\nsystem_usec 4\n")
		write(filepath.Join(cgroupRoot, c, "memory.current"), "4096\n")
		write(filepath.Join(cgroupRoot, c, "pids.current"), "1\n")
		write(filepath.Join(cgroupRoot, c, "pids.max"), "max\n")
	}
	for pid, cg := range map[string]string{"101": "a", "102": "b", "103": "c"} {
		write(filepath.Join(procRoot, pid, "cgroup"), "0::/"+cg+"\n")
		write(filepath.Join(procRoot, pid, "stat"), pid+" (sleep) S 1 1 1 0 -1\n")
	}
	write(filepath.Join(procRoot, "1", "ns", "net"), "")
	write(filepath.Join(procRoot, "101", "ns", "net"), "")
	if err := os.MkdirAll(filepath.Join(procRoot, "102", "ns"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(procRoot, "101", "ns", "net"), filepath.Join(procRoot, "102", "ns", "net")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(procRoot, "103", "ns"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(procRoot, "1", "ns", "net"), filepath.Join(procRoot, "103", "ns", "net")); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []string{"101", "102"} {
		write(filepath.Join(procRoot, pid, "net", "dev"), "Inter-|   Receive\n face |bytes\n  eth0: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0\n")
		write(filepath.Join(procRoot, pid, "net", "snmp"), "Tcp: PassiveOpens\nTcp: 5\n")
	}
	return cgroupRoot, procRoot
}

func TestFloor(t *testing.T) {
	cgroupRoot, procRoot := floorTree(t)
	host, err := cgroups.Detect(cgroupRoot)
	if err != nil {
		t.Fatal(err)
	}
	f := newFloor(host, procRoot)
	defer f.close()
	f.sync([]*task.Process{
		{ID: "a", Pid: 101, Status: task.Status_RUNNING},
		{ID: "b", Pid: 102, Status: task.Status_RUNNING},
		{ID: "c", Pid: 103, Status: task.Status_RUNNING},
		{ID: "d", Pid: 104, Status: task.Status_STOPPED},
		{ID: "e", Pid: 105, Status: task.Status_RUNNING}, // no such process
	})
	if len(f.conts) != 3 {
		t.Errorf("tracking %d containers, want 3 (a, b, c)", len(f.conts))
	}
	// a and b share one namespace; c is in the host's, which the agent
	// does not read either.
	if len(f.nets) != 1 {
		t.Errorf("%d network namespaces, want 1", len(f.nets))
	}

	size := func(paths ...string) int64 {
		n := int64(0)
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			n += fi.Size()
		}
		return n
	}
	var want int64
	for _, c := range []string{"a", "b", "c"} {
		want += size(filepath.Join(cgroupRoot, c, "cpu.stat"), filepath.Join(cgroupRoot, c, "memory.current"),
			filepath.Join(cgroupRoot, c, "pids.current"), filepath.Join(cgroupRoot, c, "pids.max"))
	}
	netDev := size(filepath.Join(procRoot, "101", "net", "dev"))
	want += netDev + size(filepath.Join(procRoot, "101", "net", "snmp"))
	now := time.Now()
	f.tick(now)
	if got := f.bytes.Load(); got != want {
		t.Errorf("first tick read %d bytes, want %d (usage, limits, net/dev and net/snmp)", got, want)
	}
	// Ten seconds later: usage files and net/dev only.
	f.bytes.Store(0)
	f.tick(now.Add(10 * time.Second))
	want = netDev
	for _, c := range []string{"a", "b", "c"} {
		want += size(filepath.Join(cgroupRoot, c, "cpu.stat"), filepath.Join(cgroupRoot, c, "memory.current"),
			filepath.Join(cgroupRoot, c, "pids.current"))
	}
	if got := f.bytes.Load(); got != want {
		t.Errorf("second tick read %d bytes, want %d", got, want)
	}
	if allocs := testing.AllocsPerRun(20, func() { f.tick(now.Add(20 * time.Second)) }); allocs != 0 {
		t.Errorf("a tick allocates %v times, want 0", allocs)
	}
	if f.errs.Load() != 0 {
		t.Errorf("%d errors", f.errs.Load())
	}

	rec := httptest.NewRecorder()
	f.serveMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	if seen, _ := fleetscopeSeen(body, nil); seen != 3 {
		t.Errorf("/metrics says %d containers, want 3:\n%s", seen, body)
	}

	// b goes away; the namespace stays, read through a.
	f.sync([]*task.Process{
		{ID: "a", Pid: 101, Status: task.Status_RUNNING},
		{ID: "c", Pid: 103, Status: task.Status_RUNNING},
	})
	if len(f.conts) != 2 || len(f.nets) != 1 || f.tracked.Load() != 2 {
		t.Errorf("after b left: %d containers, %d namespaces, tracked %d; want 2, 1, 2", len(f.conts), len(f.nets), f.tracked.Load())
	}
	f.sync(nil)
	if len(f.conts) != 0 || len(f.nets) != 0 {
		t.Errorf("after all left: %d containers, %d namespaces", len(f.conts), len(f.nets))
	}
}

// TestFloorRun runs the loop against a fake containerd for a few ticks.
func TestFloorRun(t *testing.T) {
	cgroupRoot, procRoot := floorTree(t)
	host, err := cgroups.Detect(cgroupRoot)
	if err != nil {
		t.Fatal(err)
	}
	f := newFloor(host, procRoot)
	defer f.close()
	api := &fakeTasks{tasks: []*task.Process{{ID: "a", Pid: 101, Status: task.Status_RUNNING}}}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := f.run(ctx, api, namespace, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if f.ticks.Load() < 3 || f.tracked.Load() != 1 || api.calls != 1 {
		t.Errorf("%d ticks, %d tracked, %d task lists; want several, 1, 1", f.ticks.Load(), f.tracked.Load(), api.calls)
	}
}

// fakeTasks is a containerd that only lists tasks.
type fakeTasks struct {
	containerd.API
	tasks []*task.Process
	calls int
}

func (f *fakeTasks) Tasks(context.Context, string) ([]*task.Process, error) {
	f.calls++
	return f.tasks, nil
}
