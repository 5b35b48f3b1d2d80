// Package host reports the node's capacity and usage (CPU, memory, root
// filesystem) through gopsutil: the denominator later cost sharing needs.
package host

import (
	"context"
	"fmt"
	"time"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/mem"
)

// Stats is one reading of the node.
type Stats struct {
	CPUs int
	// CPUSeconds are cumulative CPU times over all CPUs, by mode.
	CPUUserSeconds, CPUSystemSeconds, CPUIdleSeconds, CPUIOWaitSeconds, CPUOtherSeconds float64
	MemoryTotal, MemoryAvailable                                                        uint64
	FilesystemPath                                                                      string
	FilesystemSize, FilesystemUsed, FilesystemFree                                      uint64
}

// Collector reads host figures with procfs under a configurable root, so it
// works from a container that mounts the host's /proc elsewhere.
type Collector struct {
	procRoot string
	fsPath   string

	// The CPU count, read at most every cpuCountRefresh: gopsutil counts
	// the processors of /proc/cpuinfo, which on x86 makes the kernel ask
	// every CPU for its frequency, and whose text grows with the CPUs
	// (about 270 allocations and 90 µs a reading here, on 2 CPUs, when it
	// was read every tick).
	cpus   int
	cpusAt time.Time
	now    func() time.Time
}

// cpuCountRefresh is how often the CPU count is re-read: CPUs come and go
// only by hot-plug.
const cpuCountRefresh = 10 * time.Minute

// New returns a Collector reading procfs at procRoot and measuring the
// filesystem that holds fsPath.
func New(procRoot, fsPath string) *Collector {
	return &Collector{procRoot: procRoot, fsPath: fsPath, now: time.Now}
}

func (c *Collector) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, common.EnvKey, common.EnvMap{common.HostProcEnvKey: c.procRoot})
}

// Read takes one reading; it is not safe for concurrent use. Each part
// fails independently; the first error is
// returned with whatever could be read.
func (c *Collector) Read(ctx context.Context, s *Stats) error {
	ctx = c.ctx(ctx)
	var firstErr error
	keep := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	if now := c.now(); c.cpus == 0 || now.Sub(c.cpusAt) >= cpuCountRefresh || now.Before(c.cpusAt) {
		n, err := cpu.CountsWithContext(ctx, true)
		if err != nil {
			keep(fmt.Errorf("host cpu count: %w", err))
		}
		c.cpus, c.cpusAt = n, now
	}
	s.CPUs = c.cpus
	if ts, err := cpu.TimesWithContext(ctx, false); err != nil || len(ts) == 0 {
		keep(fmt.Errorf("host cpu times from %s/stat: %w", c.procRoot, err))
	} else {
		t := ts[0]
		s.CPUUserSeconds = t.User + t.Nice
		s.CPUSystemSeconds = t.System
		s.CPUIdleSeconds = t.Idle
		s.CPUIOWaitSeconds = t.Iowait
		s.CPUOtherSeconds = t.Irq + t.Softirq + t.Steal
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err != nil {
		keep(fmt.Errorf("host memory from %s/meminfo: %w", c.procRoot, err))
	} else {
		s.MemoryTotal, s.MemoryAvailable = vm.Total, vm.Available
	}
	s.FilesystemPath = c.fsPath
	if u, err := disk.UsageWithContext(ctx, c.fsPath); err != nil {
		keep(fmt.Errorf("host filesystem %s: %w", c.fsPath, err))
	} else {
		s.FilesystemSize, s.FilesystemUsed, s.FilesystemFree = u.Total, u.Used, u.Free
	}
	return firstErr
}
