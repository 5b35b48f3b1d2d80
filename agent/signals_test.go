package agent

import (
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/report"
)

// The OOM kill counter, the throttled share and the listening port go
// from the cgroup and procfs files through a sample to the report.
func TestObservedSignalsReachTheReport(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the net/tcp fixture's addresses are in little-endian words")
	}
	cgRoot, procRoot, inv := fixtureHost(t, t.TempDir(), 2)
	cg, err := cgroups.Detect(cgRoot)
	if err != nil {
		t.Fatal(err)
	}
	// Container 0 was OOM-killed three times; container 1's kernel does
	// not say. Both have 2 of 10 periods throttled under a quota.
	events := filepath.Join(cgRoot, "kubepods.slice", "kubepods-pod0.slice", "cri-containerd-"+inv.cs[0].ID+".scope", "memory.events")
	if err := os.WriteFile(events, []byte("low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Container 0's namespace listens on 127.0.0.1:80 and 0.0.0.0:8080,
	// container 1's on loopback only.
	const head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	const tail = " 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1241 1\n"
	for pid, tcp := range map[string]string{
		"1000": head + "   0: 0100007F:0050" + tail + "   1: 00000000:1F90" + tail,
		"1001": head + "   0: 0100007F:1F90" + tail,
	} {
		writeFiles(t, filepath.Join(procRoot, pid), map[string]string{"ns/net": pid, "net/dev": procNetDev, "net/tcp": tcp})
	}
	s := NewSampler(cg, procRoot, false, inv, slog.New(slog.DiscardHandler))
	t.Cleanup(s.Close)
	var snap model.Snapshot
	s.Sample(time.Unix(1700000100, 0), &snap)
	r := report.FromSnapshot(&snap, "USD", "list price")
	if len(r.Containers) != 2 {
		t.Fatalf("%d containers in the report", len(r.Containers))
	}
	for i, c := range r.Containers {
		if c.CPUThrottledRatio == nil || *c.CPUThrottledRatio != 0.2 {
			t.Errorf("container %d: throttled ratio %v, want 0.2", i, c.CPUThrottledRatio)
		}
		switch i {
		case 0:
			if c.OOMKills == nil || *c.OOMKills != 3 {
				t.Errorf("container 0: OOM kills %v, want 3", c.OOMKills)
			}
			if c.ListenPort == nil || *c.ListenPort != 8080 {
				t.Errorf("container 0: listen port %v, want 8080", c.ListenPort)
			}
		case 1:
			if c.OOMKills != nil || c.ListenPort != nil {
				t.Errorf("container 1: OOM kills %v, listen port %v; want neither", c.OOMKills, c.ListenPort)
			}
		}
	}
}
