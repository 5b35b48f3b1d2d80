package analysis

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
)

// Labels read by the analysis. Callers pass only labels the workload's
// owner or the operator set (the pod's, see containerd.Container's
// OverrideLabels), never an image's.
const (
	LabelIdleCPUCores                = "fleetscope.io/idle-cpu-cores"
	LabelIdleNetworkBytesPerSecond   = "fleetscope.io/idle-network-bytes-per-second"
	LabelIdleDiskWriteBytesPerSecond = "fleetscope.io/idle-disk-write-bytes-per-second"
	// LabelLatencyCritical set to a true value (true, 1, …) keeps a
	// container away from anything with cold starts.
	LabelLatencyCritical = "fleetscope.io/latency-critical"
)

// ThresholdsFor returns the idle thresholds for a container: the config's,
// overridden by labels fleetscope.io/idle-cpu-cores,
// fleetscope.io/idle-network-bytes-per-second and
// fleetscope.io/idle-disk-write-bytes-per-second. A bad label value (not a
// finite non-negative number) is ignored and reported in the error, which
// names the label and the value, so the caller can log it once; the
// thresholds returned are usable either way.
func ThresholdsFor(cfg config.IdleConfig, labels map[string]string) (history.Thresholds, error) {
	floors := [3]float64{cfg.CPUCores, cfg.NetworkBytesPerSecond, cfg.DiskWriteBytesPerSecond}
	var errs []error
	for i, label := range [3]string{LabelIdleCPUCores, LabelIdleNetworkBytesPerSecond, LabelIdleDiskWriteBytesPerSecond} {
		v, ok := labels[label]
		if !ok {
			continue
		}
		f, ok := parseFloor(v)
		if !ok {
			errs = append(errs, fmt.Errorf("label %s: %q is not a non-negative number; using %v", label, v, floors[i]))
			continue
		}
		floors[i] = f
	}
	th := history.Thresholds{CPUCores: floors[0], NetBytesPerSecond: floors[1], DiskWriteBytesPerSecond: floors[2]}
	return th, errors.Join(errs...)
}

// parseFloor parses a threshold label value without allocating.
func parseFloor(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	return f, true
}

// latencyCritical reports whether the container opted out of cold starts.
// An unparsable value counts as not set.
func latencyCritical(labels map[string]string) bool {
	v, ok := labels[LabelLatencyCritical]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// diskFloor is the container's idle disk write floor, labels included.
func diskFloor(cfg config.IdleConfig, labels map[string]string) float64 {
	if v, ok := labels[LabelIdleDiskWriteBytesPerSecond]; ok {
		if f, ok := parseFloor(v); ok {
			return f
		}
	}
	return cfg.DiskWriteBytesPerSecond
}
