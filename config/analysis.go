package config

import (
	"math"
	"path/filepath"
	"time"
)

// HistoryConfig says where per-container history is checkpointed and how
// long the history of a container that is gone is kept.
type HistoryConfig struct {
	// StateFile is the checkpoint. Its directory must be writable; a
	// corrupt or foreign file is moved aside and history starts fresh.
	StateFile string `yaml:"state_file"`
	// CheckpointInterval bounds what a crash (SIGKILL, power loss) can
	// lose; a clean shutdown always checkpoints.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// Retention is how long the history of a container that is no longer
	// listed is kept before it is dropped.
	Retention time.Duration `yaml:"retention"`
	// MaxGone bounds how many gone containers' histories are kept within
	// the retention (the most recently seen win): each holds ~25 KiB, and a
	// node running short jobs sees thousands a day.
	MaxGone int `yaml:"max_gone"`
}

// AnalysisConfig drives idle detection, cost and the serverless verdicts.
type AnalysisConfig struct {
	// MinObservation is how long a container must have been observed
	// before it gets any verdict other than insufficient-data.
	MinObservation time.Duration `yaml:"min_observation"`
	Idle           IdleConfig    `yaml:"idle"`
	Prices         PriceConfig   `yaml:"prices"`
	// CandidateIdleRatio is the idle ratio (over the longest window
	// observed, up to 7 days) from which a container may be a serverless
	// candidate.
	CandidateIdleRatio float64 `yaml:"candidate_idle_ratio"`
	// RightsizeRatio is the share of a reservation left unused at the p95
	// from which a kept container is told to rightsize.
	RightsizeRatio float64 `yaml:"rightsize_ratio"`
	// MinSavingPerMonth is the least a serverless candidate must save a
	// month, in Prices.Currency: below it a move is not worth its work and
	// risk. It also sets how the score weighs money (see agent/analysis).
	MinSavingPerMonth float64 `yaml:"min_saving_per_month"`
	// TimeZone is the IANA time zone (Europe/Berlin) whose workdays,
	// weekends and hours a sleep schedule is found and written in.
	TimeZone  string          `yaml:"time_zone"`
	Platforms PlatformsConfig `yaml:"platforms"`
	// Serverless picks the serverless platforms verdicts compare against
	// from a price table.
	Serverless ServerlessConfig `yaml:"serverless"`
}

// ServerlessConfig picks rows of a serverless price table: every row of
// the regions and architectures named is a platform a verdict may move a
// container to, and the cheapest that fits is the one it names.
type ServerlessConfig struct {
	// TableFile is the table, in CSV (see docs/verdicts.md): empty means
	// the built-in one, "none" no table, the two platforms of
	// analysis.platforms instead.
	TableFile string `yaml:"table_file"`
	// Regions are the regions whose rows count, each provider's own
	// names (us-east-1, us-central1, eastus).
	Regions []string `yaml:"regions"`
	// Architectures are those the workloads' images are built for
	// (x86_64, arm64); empty means the node's own. Rows of other
	// architectures do not count: moving there needs a rebuild.
	Architectures []string `yaml:"architectures"`
}

// TableNone is ServerlessConfig.TableFile's value for no table.
const TableNone = "none"

// IdleConfig defines an idle minute: every figure below its floor.
// Pods can override each floor with a label of the same name under
// fleetscope.io/ (e.g. fleetscope.io/idle-cpu-cores=0.05); image labels and
// the labels of containers outside a pod are not read (see docs/verdicts.md).
type IdleConfig struct {
	// CPUCores is the CPU floor, in cores averaged over the minute.
	CPUCores float64 `yaml:"cpu_cores"`
	// NetworkBytesPerSecond is the floor for received plus transmitted
	// bytes of the container's network namespace.
	NetworkBytesPerSecond float64 `yaml:"network_bytes_per_second"`
	// DiskWriteBytesPerSecond is the floor for block device writes.
	DiskWriteBytesPerSecond float64 `yaml:"disk_write_bytes_per_second"`
}

// PriceConfig is what reserved capacity costs. The defaults are a public
// on-demand list price; see docs/verdicts.md for the source and date.
type PriceConfig struct {
	Currency string  `yaml:"currency"`
	VCPUHour float64 `yaml:"vcpu_hour"`
	GiBHour  float64 `yaml:"gib_hour"`
	// Source says where the prices come from, for reports.
	Source string `yaml:"source"`
	// GPUHour is what one GPU granted to a container costs per hour, and
	// GPUSource where that price comes from.
	GPUHour   float64 `yaml:"gpu_hour"`
	GPUSource string  `yaml:"gpu_source"`

	// NodeHourly is what this node costs an hour, when known (a chart
	// value per node pool, or the environment): it is split into CPU,
	// memory and GPU prices in the ratio of the unit prices above, as
	// OpenCost does, and prices every container on the node. NodeSpot says
	// it is a spot price.
	NodeHourly float64 `yaml:"node_hourly"`
	NodeSpot   bool    `yaml:"node_spot"`
	// InstanceType names the node's instance type, looked up in the price
	// table when NodeHourly is not set; empty means the one the machine's
	// DMI data names (EC2 does; on GCE and Azure set it per node pool).
	InstanceType string `yaml:"instance_type"`
	// TableFile is a price table in CSV (see docs/verdicts.md); empty
	// means the built-in one. CapacityType (on-demand or spot) picks its
	// column, and Discount (0 to 1, a savings plan or committed-use
	// discount) comes off the row's price.
	TableFile    string  `yaml:"table_file"`
	CapacityType string  `yaml:"capacity_type"`
	Discount     float64 `yaml:"discount"`
}

// PlatformsConfig is the pair of serverless platforms verdicts are
// checked against when no table is used (analysis.serverless.table_file
// none), and the table's platforms once resolved.
type PlatformsConfig struct {
	Function  PlatformConfig `yaml:"function"`
	Container PlatformConfig `yaml:"container"`
	// Table holds the platforms picked from the serverless price table
	// (package pricing fills it at start), functions first; empty means
	// Function and Container.
	Table []PlatformConfig `yaml:"-"`
}

// Platform kinds: a function platform invokes handlers; a container
// platform runs the image and sends requests to its port.
const (
	KindFunction  = "function"
	KindContainer = "container"
)

// MaxPlatforms bounds the platforms a verdict compares, so that a
// decision holds them in a fixed array.
const MaxPlatforms = 16

// PlatformConfig is one serverless platform's limits and prices.
type PlatformConfig struct {
	Name string `yaml:"name"`
	// Kind is KindFunction or KindContainer; Provider, Region, Arch and
	// Tier say which row of a price table the platform is.
	Kind     string `yaml:"-"`
	Provider string `yaml:"-"`
	Region   string `yaml:"-"`
	Arch     string `yaml:"-"`
	Tier     string `yaml:"-"`
	// MaxDuration is the longest a single invocation or request may run;
	// 0 in a table row means no limit.
	MaxDuration  time.Duration `yaml:"max_duration"`
	MaxMemoryMiB uint64        `yaml:"max_memory_mib"`
	// MaxVCPUs is the most CPU one instance can have; a workload whose
	// peak exceeds it cannot run there.
	MaxVCPUs float64 `yaml:"max_vcpus"`
	// VCPUStep is the granularity CPU is sold in (1: whole vCPUs); 0 means
	// CPU is not chosen but follows memory (see MemoryMiBPerVCPU).
	VCPUStep float64 `yaml:"vcpu_step"`
	// MemoryMiBPerVCPU is the memory the platform ties to one vCPU: on a
	// platform that allocates CPU in proportion to memory, the memory that
	// buys one vCPU; on one with memory minimums per vCPU, that minimum. A
	// workload is sized at least at its peak vCPUs times this. 0: no tie.
	MemoryMiBPerVCPU float64 `yaml:"memory_mib_per_vcpu"`
	GPU              bool    `yaml:"gpu"`
	// Listen says the platform sends requests to a listening port (a
	// serverless container); a function platform invokes handlers, so a
	// container that is an always-on TCP server does not run there as is.
	Listen bool `yaml:"listen"`
	// PricePerGPUSecond is what a GPU costs per second of activity on a
	// platform that offers GPUs.
	PricePerGPUSecond float64 `yaml:"price_per_gpu_second"`
	// MinMemoryMiB and MemoryStepMiB describe how memory sizes are
	// offered: a workload is billed for its peak rounded up.
	MinMemoryMiB            uint64  `yaml:"min_memory_mib"`
	MemoryStepMiB           uint64  `yaml:"memory_step_mib"`
	PricePerGiBSecond       float64 `yaml:"price_per_gib_second"`
	PricePerVCPUSecond      float64 `yaml:"price_per_vcpu_second"`
	PricePerMillionRequests float64 `yaml:"price_per_million_requests"`
	Source                  string  `yaml:"source"`
}

func defaultHistory() HistoryConfig {
	return HistoryConfig{
		StateFile:          "/var/lib/fleetscope/state.bin",
		CheckpointInterval: 5 * time.Minute,
		Retention:          24 * time.Hour,
		MaxGone:            1000,
	}
}

func defaultAnalysis() AnalysisConfig {
	return AnalysisConfig{
		MinObservation: 24 * time.Hour,
		Idle: IdleConfig{
			CPUCores:                0.01,
			NetworkBytesPerSecond:   1000,
			DiskWriteBytesPerSecond: 4096,
		},
		Prices: PriceConfig{
			Currency: "USD",
			VCPUHour: 0.04048,
			GiBHour:  0.004445,
			Source:   "AWS Fargate on-demand, Linux/x86, us-east-1, https://aws.amazon.com/fargate/pricing/ (list price, 2025)",
			// The cheapest data-centre GPU with a public per-GPU list
			// price (one attached to a VM, billed on top of its vCPUs and
			// memory): a floor for what a GPU costs.
			GPUHour:      0.35,
			GPUSource:    "Google Compute Engine, NVIDIA T4 attached to an N1 VM, on-demand, us-central1, https://cloud.google.com/compute/gpus-pricing (list price, 2025)",
			CapacityType: "on-demand",
		},
		CandidateIdleRatio: 0.8,
		RightsizeRatio:     0.5,
		TimeZone:           "UTC",
		Serverless: ServerlessConfig{
			// One region of each provider, the one its list prices are
			// usually quoted for.
			Regions: []string{"us-east-1", "us-central1", "eastus"},
		},
		MinSavingPerMonth: 1,
		Platforms: PlatformsConfig{
			// Lambda: 128 MB to 10,240 MB in 1 MB steps; CPU in proportion
			// to memory, one vCPU at 1,769 MB, at most 6 vCPUs (at
			// 10,240 MB); 15-minute timeout. Lambda's "MB" are MiB
			// (10,240 MB is 10 GiB).
			Function: PlatformConfig{
				Name:                    "function",
				MaxDuration:             15 * time.Minute,
				MaxMemoryMiB:            10240,
				MaxVCPUs:                6,
				VCPUStep:                0,
				MemoryMiBPerVCPU:        1769,
				MinMemoryMiB:            128,
				MemoryStepMiB:           1,
				PricePerGiBSecond:       0.0000166667,
				PricePerMillionRequests: 0.20,
				Source: "AWS Lambda, x86, us-east-1: prices https://aws.amazon.com/lambda/pricing/ (list price, 2025); " +
					"memory, vCPU coupling and limits https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html " +
					"and https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (read 2026-11)",
			},
			// Cloud Run services: whole vCPUs from 1 to 8 (fractions below 1
			// come with restrictions and are not modelled); 4 vCPUs need at
			// least 2 GiB and 8 at least 4 GiB, i.e. 512 MiB per vCPU, which
			// the second generation environment's 512 MiB minimum also
			// meets for 1 vCPU (6 vCPUs need 4 GiB, 1 GiB more than this:
			// under 2% of their price); 60-minute requests, 32 GiB.
			Container: PlatformConfig{
				Name:                    "serverless-container",
				MaxDuration:             60 * time.Minute,
				MaxMemoryMiB:            32768,
				MaxVCPUs:                8,
				VCPUStep:                1,
				MemoryMiBPerVCPU:        512,
				Listen:                  true,
				MinMemoryMiB:            128,
				MemoryStepMiB:           128,
				PricePerGiBSecond:       0.0000025,
				PricePerVCPUSecond:      0.000024,
				PricePerMillionRequests: 0.40,
				Source: "Google Cloud Run, request-based billing, tier 1: prices https://cloud.google.com/run/pricing (list price, 2025); " +
					"vCPU and memory limits https://cloud.google.com/run/docs/configuring/services/cpu and " +
					"https://cloud.google.com/run/docs/configuring/services/memory-limits (read 2026-11)",
			},
		},
	}
}

func (v *validator) fraction(field string, f float64, inclusiveZero bool) {
	if math.IsNaN(f) || f > 1 || f < 0 || (!inclusiveZero && f == 0) {
		v.add(field, "must be a fraction between 0 and 1, got %v", f)
	}
}

func (v *validator) nonNegative(field string, f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		v.add(field, "must be a non-negative number, got %v", f)
	}
}

func (c Config) validateAnalysis(v *validator) {
	h := c.History
	if h.StateFile != "" {
		v.absPath("history.state_file", h.StateFile)
		if filepath.Base(h.StateFile) == "/" || filepath.Base(h.StateFile) == "." {
			v.add("history.state_file", "must name a file, got %q", h.StateFile)
		}
	}
	v.positive("history.checkpoint_interval", h.CheckpointInterval)
	v.positive("history.retention", h.Retention)
	if h.MaxGone < 0 {
		v.add("history.max_gone", "must not be negative, got %d", h.MaxGone)
	}

	a := c.Analysis
	if a.MinObservation < 0 {
		v.add("analysis.min_observation", "must not be negative, got %q", a.MinObservation)
	}
	v.nonNegative("analysis.idle.cpu_cores", a.Idle.CPUCores)
	v.nonNegative("analysis.idle.network_bytes_per_second", a.Idle.NetworkBytesPerSecond)
	v.nonNegative("analysis.idle.disk_write_bytes_per_second", a.Idle.DiskWriteBytesPerSecond)
	if a.Prices.Currency == "" {
		v.add("analysis.prices.currency", "must not be empty")
	}
	v.nonNegative("analysis.prices.vcpu_hour", a.Prices.VCPUHour)
	v.nonNegative("analysis.prices.gib_hour", a.Prices.GiBHour)
	v.nonNegative("analysis.prices.gpu_hour", a.Prices.GPUHour)
	v.nonNegative("analysis.prices.node_hourly", a.Prices.NodeHourly)
	if d := a.Prices.Discount; !(d >= 0 && d < 1) {
		v.add("analysis.prices.discount", "must be at least 0 and below 1 (a share of the price), got %v", d)
	}
	if c := a.Prices.CapacityType; c != "" && c != "on-demand" && c != "spot" {
		v.add("analysis.prices.capacity_type", "must be on-demand or spot, got %q", c)
	}
	v.fraction("analysis.candidate_idle_ratio", a.CandidateIdleRatio, false)
	v.fraction("analysis.rightsize_ratio", a.RightsizeRatio, false)
	v.nonNegative("analysis.min_saving_per_month", a.MinSavingPerMonth)
	for name, p := range map[string]PlatformConfig{"function": a.Platforms.Function, "container": a.Platforms.Container} {
		f := "analysis.platforms." + name + "."
		v.positive(f+"max_duration", p.MaxDuration)
		if p.MaxMemoryMiB == 0 {
			v.add(f+"max_memory_mib", "must be positive")
		}
		if p.MemoryStepMiB == 0 {
			v.add(f+"memory_step_mib", "must be positive")
		}
		if math.IsNaN(p.MaxVCPUs) || math.IsInf(p.MaxVCPUs, 0) || p.MaxVCPUs <= 0 {
			v.add(f+"max_vcpus", "must be a positive number, got %v", p.MaxVCPUs)
		}
		v.nonNegative(f+"vcpu_step", p.VCPUStep)
		v.nonNegative(f+"memory_mib_per_vcpu", p.MemoryMiBPerVCPU)
		if p.VCPUStep > 0 && p.VCPUStep > p.MaxVCPUs {
			v.add(f+"vcpu_step", "must not exceed max_vcpus (%v), got %v", p.MaxVCPUs, p.VCPUStep)
		}
		if p.MinMemoryMiB > p.MaxMemoryMiB {
			v.add(f+"min_memory_mib", "must not exceed max_memory_mib (%d), got %d", p.MaxMemoryMiB, p.MinMemoryMiB)
		}
		v.nonNegative(f+"price_per_gib_second", p.PricePerGiBSecond)
		v.nonNegative(f+"price_per_vcpu_second", p.PricePerVCPUSecond)
		v.nonNegative(f+"price_per_million_requests", p.PricePerMillionRequests)
		v.nonNegative(f+"price_per_gpu_second", p.PricePerGPUSecond)
	}
	if _, err := time.LoadLocation(a.TimeZone); err != nil || a.TimeZone == "" || a.TimeZone == "Local" {
		v.add("analysis.time_zone", "must be an IANA time zone such as UTC or Europe/Berlin, got %q", a.TimeZone)
	}
	sl := a.Serverless
	if sl.TableFile != "" && sl.TableFile != TableNone {
		v.absPath("analysis.serverless.table_file", sl.TableFile)
	}
	if len(sl.Regions) == 0 && sl.TableFile != TableNone {
		v.add("analysis.serverless.regions", "must name at least one region of the serverless price table")
	}
	for _, r := range sl.Regions {
		if r == "" || len(r) > 64 {
			v.add("analysis.serverless.regions", "must hold region names of 1 to 64 characters, got %q", r)
		}
	}
	for _, arch := range sl.Architectures {
		if arch != "x86_64" && arch != "arm64" {
			v.add("analysis.serverless.architectures", "must hold x86_64 or arm64, got %q", arch)
		}
	}
	if a.Platforms.Function.MaxDuration > a.Platforms.Container.MaxDuration {
		v.add("analysis.platforms.function.max_duration", "a function platform whose runs outlast the container platform's (%s) is not supported, got %s",
			a.Platforms.Container.MaxDuration, a.Platforms.Function.MaxDuration)
	}
}
