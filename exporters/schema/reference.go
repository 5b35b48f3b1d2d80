package schema

import (
	"strings"

	"github.com/fleetscope/fleetscope/analysis"
)

// Stability levels of a metric, shown in the metric reference
// (docs/metrics.md, generated from this package).
const (
	// StabilitySemconv: the name, unit and attributes are the OpenTelemetry
	// semantic conventions' (of the semconv version the module pins); they
	// change only when the conventions do, and then as a breaking change.
	StabilitySemconv = "semconv"
	// StabilityStable: Fleetscope's own name under fleetscope.*; the
	// dashboard, the alerts and the fleet report read it, so a rename is a
	// breaking change with its old and new names in the CHANGELOG.
	StabilityStable = "stable"
	// StabilityAgent: the agent's own health; kept as stable, though
	// what it counts follows the agent's internals.
	StabilityAgent = "agent"
)

// Stability says how far a user may rely on m's name and attributes.
func (m *Metric) Stability() string {
	if !strings.HasPrefix(m.Name, "fleetscope.") {
		return StabilitySemconv
	}
	switch m {
	case &CollectorDuration, &CollectorSuccess, &CollectorErrors, &TickLag, &TickOverruns,
		&ContainersTracked, &DiscoveryErrors, &ContainerdUp, &OpenFiles,
		&OTLPExportFailures, &OTLPExportPoints, &DroppedSeries, &Build,
		&HistoryContainers, &CheckpointFailures, &CheckpointAge, &RestoreFailures:
		return StabilityAgent
	}
	return StabilityStable
}

var (
	verdicts = []string{
		string(analysis.VerdictFunction), string(analysis.VerdictServerlessContainer), string(analysis.VerdictScaleToZero),
		string(analysis.VerdictRightsize), string(analysis.VerdictKeep), string(analysis.VerdictInsufficientData),
	}
	reasonCodes = []string{
		analysis.CodeInsufficientData, analysis.CodeIdleRatioHigh, analysis.CodeShortBursts, analysis.CodeCheaper,
		analysis.CodeAlwaysIdleHours, analysis.CodeUnused, analysis.CodeOverReserved, analysis.CodeBelowMinSaving, analysis.CodeRefusedConnections,
		analysis.CodeReservationUsed, analysis.CodeGPUCost,
		analysis.CodeRestarts,
		analysis.CodeGPU, analysis.CodeLatencyCritical, analysis.CodePodSandbox, analysis.CodeBurstTooLong,
		analysis.CodeRestarting, analysis.CodeListener, analysis.CodeMemoryTooLarge, analysis.CodeCPUTooLarge,
		analysis.CodeLocalDiskWrites, analysis.CodeNotIdleEnough, analysis.CodeNotCheaper, analysis.CodeSavingTooSmall,
	}
	workloadKindValues = []string{"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "Container"}
)

// Values lists the values attribute attr of m can take where they are
// fixed by the code (nil where they come from the host or the
// configuration: names, ids, the currency), for the metric reference.
// Keep it in step with walk.go, which writes them.
func (m *Metric) Values(attr string) []string {
	switch attr {
	case "cpu.mode":
		if m == &HostCPUTime {
			return []string{"user", "system", "idle", "wait", "interrupt"}
		}
		return []string{"user", "system"}
	case "disk.io.direction":
		return []string{"read", "write"}
	case "network.io.direction":
		return []string{"receive", "transmit"}
	case "network.interface.name":
		return []string{"<interface>", OtherInterfaces}
	case "window":
		return []string{"1h", "24h", "7d"}
	case "statistic":
		if m == &WorkloadRunDuration {
			return []string{"p50", "p95", "max", "mean"}
		}
		return []string{"p50", "p95", "max"}
	case "kind":
		return []string{"reason", "blocker"}
	case "code":
		return reasonCodes
	case "verdict":
		return verdicts
	case "platform":
		// The default serverless table's platforms on x86_64 (a table
		// row is platform/region/arch; without a table, the names under
		// analysis.platforms); empty when no platform fits.
		return []string{"aws-lambda/us-east-1/x86_64", "gcp-cloud-run/us-central1/x86_64", "aws-fargate/us-east-1/x86_64", "azure-container-apps/eastus/x86_64", ""}
	case "source":
		if m == &NodePrice {
			return []string{"node", "table", "unit"}
		}
		if m == &ReservedMemory {
			return []string{analysis.SourceLimit, analysis.SourceObserved}
		}
		return []string{analysis.SourceLimit, analysis.SourceRequest, analysis.SourceObserved}
	case "state":
		return []string{"running", "stopped"}
	case "collector":
		return []string{"cgroups", "netstat", "host", "storage", "containerd"}
	case "k8s.workload.kind":
		return workloadKindValues
	case "fleetscope.pod_sandbox", "fleetscope.gpu":
		return []string{"true", "false"}
	case "fleetscope.capacity_type":
		return []string{"on-demand", "spot"}
	case "fleetscope.resource":
		return []string{"cpu", "memory", "gpu"}
	case "cloud.provider":
		// Empty on a machine of none of them.
		return []string{"aws", "gcp", "azure"}
	}
	return nil
}
