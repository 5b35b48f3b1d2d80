package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// shortProcesses starts a short-lived process every 20 ms or so. Most of
// them begin and end between two scheduler ticks, so the kernel's
// tick-sampled user/system counters miss a fifth of the CPU time that its
// exact runtime counter sees.
const shortProcesses = "while :; do usleep 20000; dd if=/dev/zero of=/dev/null bs=64k count=40; done"

// The exported CPU time summed over modes grows as the cgroup's exact
// runtime counter (cpuacct.usage, v2 usage_usec) does, within 2 % over
// 30 s, for a workload whose sampled user/system split undercounts it; and
// neither mode ever goes backwards.
func TestCPUModesSumToExactUsage(t *testing.T) {
	testenv.Need(t)
	t.Parallel()
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const ns = "k8s.io"
	id := testenv.RandomID()
	// A top-level cgroup with high shares, so that a loaded host does not
	// starve it and the workload really runs.
	cg := "/fsct-" + id[:12]
	if _, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: id, Args: []string{"sh", "-c", shortProcesses},
		CPUShares: 262144, CgroupsPath: cg}); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, d.Socket, "")
	a.waitReady(t)

	modes := func() (user, system float64, err error) {
		mfs := a.scrape(t)
		var ok1, ok2 bool
		user, _, ok1 = value(mfs, "container_cpu_time_seconds_total", map[string]string{"container_id": id, "cpu_mode": "user"})
		system, _, ok2 = value(mfs, "container_cpu_time_seconds_total", map[string]string{"container_id": id, "cpu_mode": "system"})
		if !ok1 || !ok2 {
			return 0, 0, fmt.Errorf("no container_cpu_time_seconds_total by mode for %s", id[:12])
		}
		return user, system, nil
	}
	var lastUser, lastSystem float64
	// synced waits for a new sample on /metrics and reads the exact
	// counter right after, so that both figures belong to about the same
	// moment (the agent samples every second; polling is much faster).
	synced := func() (exported float64, exact, sampled uint64) {
		t.Helper()
		u0, s0, err := modes()
		if err != nil {
			t.Fatal(err)
		}
		checkMonotonic(t, u0, s0, &lastUser, &lastSystem)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			u, s, err := modes()
			if err != nil {
				t.Fatal(err)
			}
			if u+s == u0+s0 {
				continue
			}
			exact, sampled, err := cgroupCPU(cg)
			if err != nil {
				t.Fatal(err)
			}
			checkMonotonic(t, u, s, &lastUser, &lastSystem)
			return u + s, exact, sampled
		}
		t.Fatal("the exported CPU time did not change within 5 s")
		return 0, 0, 0
	}

	testenv.Eventually(t, 5*time.Second, "cpu time by mode", func() error { _, _, err := modes(); return err })
	e1, x1, s1 := synced()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		time.Sleep(time.Second)
		u, s, err := modes()
		if err != nil {
			t.Fatal(err)
		}
		checkMonotonic(t, u, s, &lastUser, &lastSystem)
	}
	e2, x2, s2 := synced()

	exported, exact, sampled := e2-e1, float64(x2-x1)/1e9, float64(s2-s1)/1e9
	t.Logf("over 30 s: exported user+system grew %.3f s, exact counter %.3f s (%+.2f %%); the sampled user+system grew %.3f s (%+.2f %%)",
		exported, exact, 100*(exported-exact)/exact, sampled, 100*(sampled-exact)/exact)
	if exact < 0.3 {
		t.Fatalf("the workload used only %.3f s of CPU in 30 s; it did not run", exact)
	}
	if math.Abs(exported-exact) > 0.02*exact {
		t.Errorf("exported user+system grew %.3f s, the exact counter %.3f s: off by %.1f %%, want within 2 %%",
			exported, exact, 100*(exported-exact)/exact)
	}
	stopAgent(t, a)
}

func checkMonotonic(t *testing.T, user, system float64, lastUser, lastSystem *float64) {
	t.Helper()
	if user < *lastUser || system < *lastSystem {
		t.Errorf("a mode went backwards: user %.9f -> %.9f, system %.9f -> %.9f", *lastUser, user, *lastSystem, system)
	}
	*lastUser, *lastSystem = user, system
}

// cgroupCPU reads the exact CPU time of the cgroup at path (cpuacct.usage
// on v1, usage_usec on v2) and its tick-sampled user+system, both in
// nanoseconds, straight from cgroupfs rather than through the agent's code.
func cgroupCPU(path string) (exact, sampled uint64, err error) {
	const root = "/sys/fs/cgroup"
	if b, err := os.ReadFile(filepath.Join(root, "cpuacct", path, "cpuacct.usage")); err == nil {
		exact, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
		if err != nil {
			return 0, 0, err
		}
		var split uint64
		for _, f := range []string{"cpuacct.usage_user", "cpuacct.usage_sys"} {
			b, err := os.ReadFile(filepath.Join(root, "cpuacct", path, f))
			if err != nil {
				return 0, 0, err
			}
			n, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
			if err != nil {
				return 0, 0, err
			}
			split += n
		}
		return exact, split, nil
	}
	b, err := os.ReadFile(filepath.Join(root, path, "cpu.stat"))
	if err != nil {
		return 0, 0, fmt.Errorf("neither cgroup v1 cpuacct.usage nor v2 cpu.stat for %s: %w", path, err)
	}
	keys := map[string]uint64{}
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) == 2 {
			keys[string(f[0])], _ = strconv.ParseUint(string(f[1]), 10, 64)
		}
	}
	return keys["usage_usec"] * 1000, (keys["user_usec"] + keys["system_usec"]) * 1000, nil
}
