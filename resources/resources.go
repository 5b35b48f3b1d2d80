// Package resources is the one home of what a container's resource
// settings mean as a request or a limit. The cgroup reader, the agent
// turning an OCI spec into the model, the analysis pricing a reservation
// and the model every exporter and report reads all apply these rules,
// so a container's request or limit cannot be one thing on /metrics and
// another in its own analysis. It is arithmetic on numbers and imports
// nothing, so that every package, the collectors included, may use it.
//
// The collectors report cpu.shares, cpu.weight and an OCI spec's shares
// as they find them; which of them is the request, and what a weight
// means as shares, is decided here (RequestOf).
package resources

// UnlimitedMemory is where a memory limit stops being one. cgroup v1
// reports an unset limit as PAGE_COUNTER_MAX pages (9223372036854771712
// bytes on 4 KiB pages, just under 2^63), an OCI spec may carry such a
// value copied from a cgroup, and nobody sets a real limit of 4 EiB
// (2^62 bytes).
const UnlimitedMemory = 1 << 62

// MemoryLimit is bytes read as a memory limit: bytes itself, or 0 (no
// limit) from UnlimitedMemory on. A zero stays zero: it means unset.
func MemoryLimit(bytes uint64) uint64 {
	if bytes >= UnlimitedMemory {
		return 0
	}
	return bytes
}

// BestEffortShares are the CPU shares that stand for no request: the
// kernel's minimum of cpu.shares, which the kubelet writes for a
// BestEffort pod's containers.
const BestEffortShares = 2

// CPURequestCores is the CPU request in cores that CPU shares stand for,
// shares / 1024 (the kubelet's conversion of a request to shares), or 0
// for no request: for BestEffortShares or fewer, and for none at all.
//
// Two shares are no request on purpose. The kubelet writes them for a
// BestEffort pod's containers, which have no request, and for requests
// of 1m and 2m, which its conversion rounds below the kernel's minimum
// and clamps up to it; so two shares cannot tell "no request" from a
// request too small to price. The OpenTelemetry semantic conventions
// leave k8s.container.cpu.request unset for BestEffort pods. Reading two
// shares as no request loses at most 2m of a real request; reading them
// as one would export a request of 2/1024 cores for every BestEffort
// container and price a reservation its pod never made. A cgroup v2
// weight of 1, the smallest, converts back to two shares and so reads as
// no request too.
func CPURequestCores(shares uint64) float64 {
	if shares <= BestEffortShares {
		return 0
	}
	return float64(shares) / 1024
}

// CPULimitCores is the CPU limit in cores that a CFS quota per period
// stands for, or 0 for no limit: a quota of 0 or less (cgroup v1 writes
// -1, v2 "max") or no period.
func CPULimitCores(quotaMicros int64, periodMicros uint64) float64 {
	if quotaMicros <= 0 || periodMicros == 0 {
		return 0
	}
	return float64(quotaMicros) / float64(periodMicros)
}
