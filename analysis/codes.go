package analysis

// Reason codes. Codes are stable and machine-readable; texts are not.
const (
	CodeInsufficientData   = "insufficient_data"
	CodeIdleRatioHigh      = "idle_ratio_high"
	CodeShortBursts        = "short_bursts"
	CodeCheaper            = "cheaper"
	CodeAlwaysIdleHours    = "always_idle_hours"
	CodeOverReserved       = "over_reserved"
	CodeReservationUsed    = "reservation_used"
	CodeGPU                = "gpu"
	CodeLatencyCritical    = "latency_critical"
	CodeBurstTooLong       = "burst_too_long"
	CodeMemoryTooLarge     = "memory_too_large"
	CodeCPUTooLarge        = "cpu_too_large"
	CodeLocalDiskWrites    = "local_disk_writes"
	CodeNotIdleEnough      = "not_idle_enough"
	CodeNotCheaper         = "not_cheaper"
	CodePodSandbox         = "pod_sandbox"
	CodeSavingTooSmall     = "saving_too_small"
	CodeGPUCost            = "gpu_cost"
	CodeRestarting         = "restarting"
	CodeRestarts           = "restarts"
	CodeListener           = "listener"
	CodeUnused             = "unused"
	CodeBelowMinSaving     = "below_min_saving"
	CodeRefusedConnections = "refused_connections"
)

// reasonCode is a code as the rules use it. The order is the order
// reasons are stated in: blockers and other reasons each follow it, so a
// decision needs no list, only a set (codeSet). listener is both a
// blocker (an always-on server on a platform that invokes handlers) and a
// reason (the port a serverless container's requests go to).
type reasonCode uint8

const (
	codeInsufficientData reasonCode = iota
	codeIdleRatioHigh
	codeShortBursts
	codeCheaper
	codeGPU
	codePodSandbox
	codeRestarting
	codeListener
	codeLatencyCritical
	codeBurstTooLong
	codeMemoryTooLarge
	codeCPUTooLarge
	codeLocalDiskWrites
	codeNotIdleEnough
	codeNotCheaper
	codeSavingTooSmall
	codeAlwaysIdleHours
	codeUnused
	codeOverReserved
	codeBelowMinSaving
	codeRefusedConnections
	codeReservationUsed
	codeGPUCost
	codeRestarts
	numCodes
)

var codeNames = [numCodes]string{
	codeInsufficientData:   CodeInsufficientData,
	codeIdleRatioHigh:      CodeIdleRatioHigh,
	codeShortBursts:        CodeShortBursts,
	codeCheaper:            CodeCheaper,
	codeGPU:                CodeGPU,
	codePodSandbox:         CodePodSandbox,
	codeRestarting:         CodeRestarting,
	codeListener:           CodeListener,
	codeLatencyCritical:    CodeLatencyCritical,
	codeBurstTooLong:       CodeBurstTooLong,
	codeMemoryTooLarge:     CodeMemoryTooLarge,
	codeCPUTooLarge:        CodeCPUTooLarge,
	codeLocalDiskWrites:    CodeLocalDiskWrites,
	codeNotIdleEnough:      CodeNotIdleEnough,
	codeNotCheaper:         CodeNotCheaper,
	codeSavingTooSmall:     CodeSavingTooSmall,
	codeAlwaysIdleHours:    CodeAlwaysIdleHours,
	codeUnused:             CodeUnused,
	codeOverReserved:       CodeOverReserved,
	codeBelowMinSaving:     CodeBelowMinSaving,
	codeRefusedConnections: CodeRefusedConnections,
	codeReservationUsed:    CodeReservationUsed,
	codeGPUCost:            CodeGPUCost,
	codeRestarts:           CodeRestarts,
}

// String is the exported code, one of the Code constants.
func (c reasonCode) String() string { return codeNames[c] }

// codeSet is a set of reason codes.
type codeSet uint32

func (s codeSet) has(c reasonCode) bool { return s&(1<<c) != 0 }

func (s *codeSet) add(c reasonCode) { *s |= 1 << c }

// costBlockers rule a platform out on money alone; the other blockers on
// what the container does.
const costBlockers = codeSet(1<<codeNotCheaper | 1<<codeSavingTooSmall)
