package cgroups

import "strings"

// Field is a set of bits telling which groups of values in Stats or Limits
// were read. A controller or file that does not exist leaves its bit unset;
// that is not an error.
type Field uint32

const (
	// HaveCPU: CPUUsageNanos (Stats); quota, period and shares or weight
	// (Limits).
	HaveCPU Field = 1 << iota
	// HaveCPUMode: CPUUserNanos and CPUSystemNanos.
	HaveCPUMode
	// HaveThrottling: CPUPeriods, CPUThrottledPeriods, CPUThrottledNanos.
	HaveThrottling
	// HaveMemory: MemoryUsage (Stats); MemoryLimit (Limits).
	HaveMemory
	// HaveMemoryStat: MemoryRSS, MemoryCache and, together with HaveMemory,
	// MemoryWorkingSet.
	HaveMemoryStat
	// HaveSwap: MemorySwap.
	HaveSwap
	// HaveIO: IOReadBytes, IOWriteBytes, IOReadOps, IOWriteOps.
	HaveIO
	// HavePids: Pids (Stats); PidsLimit (Limits).
	HavePids
	// HaveOOM: OOMKills.
	HaveOOM
)

var fieldNames = [...]string{"cpu", "cpu_mode", "throttling", "memory", "memory_stat", "swap", "io", "pids", "oom"}

// Has reports whether all bits of x are set in f.
func (f Field) Has(x Field) bool { return f&x == x }

func (f Field) String() string {
	var names []string
	for i, n := range fieldNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, "|")
}

// Stats is one sample of a container's cumulative resource usage. Counters
// are as the kernel reports them, converted to bytes and nanoseconds.
type Stats struct {
	Have Field

	// CPUUsageNanos is the exact total CPU time. CPUUserNanos and
	// CPUSystemNanos split it in the ratio of the kernel's tick-sampled
	// per-mode counters, so they sum to it; each is monotonic for one Handle.
	CPUUsageNanos  uint64
	CPUUserNanos   uint64 // in user mode
	CPUSystemNanos uint64 // in kernel mode

	CPUPeriods          uint64 // CFS enforcement periods that elapsed
	CPUThrottledPeriods uint64 // periods in which the cgroup was throttled
	CPUThrottledNanos   uint64 // total time throttled

	MemoryUsage uint64 // memory.usage_in_bytes (v1) or memory.current (v2)
	// MemoryWorkingSet is usage minus inactive file pages, floored at 0: the
	// memory the kernel cannot easily reclaim, as the kubelet counts it for
	// eviction.
	MemoryWorkingSet uint64
	MemoryRSS        uint64 // anonymous memory (v1 total_rss, v2 anon)
	MemoryCache      uint64 // page cache (v1 total_cache, v2 file)
	MemorySwap       uint64 // swap in use, without memory

	// Block I/O summed over devices.
	IOReadBytes, IOWriteBytes uint64
	IOReadOps, IOWriteOps     uint64

	Pids uint64 // tasks in the cgroup

	// OOMKills counts the processes of the cgroup the kernel's OOM killer
	// killed since the cgroup was created (oom_kill in v2 memory.events,
	// in v1 memory.oom_control from Linux 4.13). It is read at most once
	// every OOMRefresh, and the last reading is reported in between.
	OOMKills uint64
}

// Limits is a container's resource configuration, read on a slow cadence.
type Limits struct {
	Have Field // HaveCPU, HaveMemory, HavePids

	CPUQuotaMicros  int64  // CFS quota per period; -1 = unlimited
	CPUPeriodMicros uint64 // CFS period
	// CPUShares is v1 cpu.shares, CPUWeight v2 cpu.weight, each 0 on the
	// other version. They are what the files say: runtimes write a weight
	// by one of two formulas, so turning it into a request is
	// resources.RequestOf's business, with the spec's shares first.
	CPUShares   uint64
	CPUWeight   uint64
	MemoryLimit uint64 // bytes; 0 = unlimited
	PidsLimit   uint64 // 0 = unlimited
}
