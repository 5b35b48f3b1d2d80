package resources

import "math"

// RequestFrom says where a container's CPU request was read.
type RequestFrom uint8

const (
	// RequestNone: nothing says anything about a request.
	RequestNone RequestFrom = iota
	// RequestSpec: the OCI spec's linux.resources.cpu.shares, which is
	// what the runtime was asked for (the kubelet's request in shares).
	RequestSpec
	// RequestShares: cgroup v1 cpu.shares, which runtimes write as given.
	RequestShares
	// RequestWeight: cgroup v2 cpu.weight read back as shares. Runtimes
	// turn shares into weight with one of two formulas (see
	// SharesFromWeight), so the figure is a reading, not the request.
	RequestWeight
)

// String is the name the API and the exports give the source.
func (f RequestFrom) String() string {
	switch f {
	case RequestSpec:
		return "spec"
	case RequestShares:
		return "cpu.shares"
	case RequestWeight:
		return "cpu.weight"
	}
	return "none"
}

// CPURequest is a container's CPU request in shares (1024 a core), with
// where it was read.
type CPURequest struct {
	Shares uint64
	From   RequestFrom
	// LegacyShares is, for a request read from cpu.weight, the same
	// weight read by the older runtimes' formula; 0 otherwise. It is
	// the other half of an ambiguity that the weight alone cannot settle.
	LegacyShares uint64
}

// Cores is the request in cores, 0 for none (see CPURequestCores).
func (r CPURequest) Cores() float64 { return CPURequestCores(r.Shares) }

// LegacyCores is LegacyShares in cores, 0 unless the request was read
// from cpu.weight.
func (r CPURequest) LegacyCores() float64 { return CPURequestCores(r.LegacyShares) }

// RequestOf decides a container's CPU request: its OCI spec's shares when
// the spec has them, since that is what was asked and every runtime writes
// it to the cgroup by its own arithmetic; else cgroup v1 cpu.shares; else
// cgroup v2 cpu.weight read back by the current runtimes' formula, the
// older reading kept beside it. A zero argument means "not known".
func RequestOf(specShares, cgroupShares, cgroupWeight uint64) CPURequest {
	switch {
	case specShares > 0:
		return CPURequest{Shares: specShares, From: RequestSpec}
	case cgroupShares > 0:
		return CPURequest{Shares: cgroupShares, From: RequestShares}
	case cgroupWeight > 0:
		current, legacy := SharesFromWeight(cgroupWeight)
		return CPURequest{Shares: current, From: RequestWeight, LegacyShares: legacy}
	}
	return CPURequest{}
}

// Shares and weight bounds: cpu.shares is [2, 262144], cpu.weight
// [1, 10000].
const (
	minShares, maxShares = 2, 262144
	minWeight, maxWeight = 1, 10000
)

// WeightFromShares is how runc 1.3.2 and later, crun 1.23 and later and
// the runtimes that share their cgroup library write shares as cgroup v2
// weight: a quadratic in log2(shares) through the three points that
// matter, 2 → 1, 1024 → 100 (the default of both) and 262144 → 10000,
// rounded up. The float operations are in the runtimes' order, so that
// the rounding agrees to the last weight.
func WeightFromShares(shares uint64) uint64 {
	if w, ok := weightAtBounds(shares); ok {
		return w
	}
	l := math.Log2(float64(shares))
	exponent := (l*l+125*l)/612.0 - 7.0/34.0
	return uint64(math.Ceil(math.Pow(10, exponent)))
}

// LegacyWeightFromShares is the linear mapping runc before 1.3.2, crun
// before 1.23 and the kubelet's own cgroup v2 code used:
// 1 + (shares-2)*9999/262142, in integers. It maps 1024 shares to 39.
func LegacyWeightFromShares(shares uint64) uint64 {
	if w, ok := weightAtBounds(shares); ok {
		return w
	}
	return 1 + (shares-minShares)*(maxWeight-minWeight)/(maxShares-minShares)
}

// weightAtBounds is the weight both formulas agree on: unset stays unset,
// and shares at or beyond their bounds map to the weight's bounds.
func weightAtBounds(shares uint64) (uint64, bool) {
	switch {
	case shares == 0:
		return 0, true
	case shares <= minShares:
		return minWeight, true
	case shares >= maxShares:
		return maxWeight, true
	}
	return 0, false
}

// SharesFromWeight reads a cgroup v2 weight back as shares under both
// formulas: current by WeightFromShares, legacy by
// LegacyWeightFromShares. Each mapping sends a run of shares to one
// weight; the reading is the largest shares of that run, because a whole
// number of cores lands at the top of its run under the current formula
// (1024 shares give exactly 100 and 1025 already 101), so a one-CPU
// request reads back as exactly 1024. Other requests read up to one
// weight step high: under the current formula at most 3.4 % from a
// quarter core on and 1.2 % from one core on, under the legacy one at
// most 26 shares (2.5 % of a core). The weight alone cannot tell which
// formula wrote it: 100 is one core to a current runtime and 2.56 to an
// old one, which is why RequestOf prefers the spec.
func SharesFromWeight(weight uint64) (current, legacy uint64) {
	if weight == 0 {
		return 0, 0
	}
	weight = min(max(weight, minWeight), maxWeight)
	return topOfRun(weight, WeightFromShares), topOfRun(weight, LegacyWeightFromShares)
}

// topOfRun is the largest shares that toWeight maps to at most weight,
// by binary search: both mappings are non-decreasing in shares.
func topOfRun(weight uint64, toWeight func(uint64) uint64) uint64 {
	lo, hi := uint64(minShares), uint64(maxShares)
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if toWeight(mid) <= weight {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}
