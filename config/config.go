package config

import (
	"bytes"
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole agent's configuration. Each section is a struct of its
// own; a new section needs a field here, its defaults in Default and its
// rules in Validate. Loading and environment overrides pick it up by
// reflection.
type Config struct {
	Containerd ContainerdConfig `yaml:"containerd"`
	Host       HostConfig       `yaml:"host"`
	Sampling   SamplingConfig   `yaml:"sampling"`
	Web        WebConfig        `yaml:"web"`
	Log        LogConfig        `yaml:"log"`
	History    HistoryConfig    `yaml:"history"`
	Analysis   AnalysisConfig   `yaml:"analysis"`
	OTLP       OTLPConfig       `yaml:"otlp"`
	Export     ExportConfig     `yaml:"export"`
}

// ContainerdConfig says how to reach containerd and how often to repeat the
// work that events alone cannot keep fresh.
type ContainerdConfig struct {
	// Socket is the path of containerd's GRPC socket.
	Socket string `yaml:"socket"`
	// Namespaces limits discovery to these containerd namespaces; empty
	// means every namespace.
	Namespaces []string `yaml:"namespaces"`
	// RelistInterval is the period of the full re-list that repairs missed
	// events.
	RelistInterval time.Duration `yaml:"relist_interval"`
	// StorageInterval is how often the writable layer's size is measured
	// through the snapshotter, which is much more expensive than cgroupfs.
	StorageInterval time.Duration `yaml:"storage_interval"`
	// StorageBudget bounds the time one storage round may take; containers
	// not reached are measured in the next round.
	StorageBudget time.Duration `yaml:"storage_budget"`
	// ReconnectMaxBackoff caps the delay between attempts to reconnect to
	// containerd or to re-subscribe to its events.
	ReconnectMaxBackoff time.Duration `yaml:"reconnect_max_backoff"`
	// WorkloadLabel names the container label whose value is the workload
	// of a container outside Kubernetes (e.g. com.docker.compose.service);
	// empty makes each such container its own workload.
	WorkloadLabel string `yaml:"workload_label"`
}

// HostConfig holds the paths through which the host is read. They are
// settings so that the agent can run in a container with the host's
// filesystems mounted elsewhere, and so that tests can use fixture trees.
type HostConfig struct {
	CgroupRoot string `yaml:"cgroup_root"`
	ProcRoot   string `yaml:"proc_root"`
	// SysRoot is where the host's sysfs is mounted; the machine's DMI data
	// (its cloud and instance type, for prices) is read under it.
	SysRoot string `yaml:"sys_root"`
	// RootFilesystem is the mount point whose usage the host collector
	// reports.
	RootFilesystem string `yaml:"root_filesystem"`
	// NodeName names this host in exported data. Empty means the agent
	// resolves it at start (from the hostname); it is deliberately not
	// resolved here, so that loading stays free of side effects.
	NodeName string `yaml:"node_name"`
}

// SamplingConfig controls the sampling loop.
type SamplingConfig struct {
	Interval time.Duration `yaml:"interval"`
	// Jitter is the fraction of Interval by which each tick is moved at
	// random, so that agents on many hosts do not read in lock step.
	Jitter float64 `yaml:"jitter"`
	// KeepFilesOpen keeps cgroup and procfs file descriptors open and
	// re-reads them at offset 0, which is several times cheaper than
	// opening them on every tick, at the cost of one descriptor per file.
	KeepFilesOpen bool `yaml:"keep_files_open"`
	// FineInterval is how often the CPU time of a container without a CPU
	// quota is read while its samples are neither clearly idle nor
	// clearly busy, so that work shorter than a sample is seen as such;
	// 0 turns fine sampling off, and so does a value above half of
	// Interval. A container with a quota needs none: its bandwidth
	// periods say when it ran.
	FineInterval time.Duration `yaml:"fine_interval"`
	// FineMaxContainers bounds how many containers are read at
	// FineInterval at a time.
	FineMaxContainers int `yaml:"fine_max_containers"`
}

// WebConfig configures the HTTP server for metrics, health and the API.
type WebConfig struct {
	ListenAddress string `yaml:"listen_address"`
	// ConfigFile is an exporter-toolkit web configuration file (TLS, basic
	// authentication); empty serves plain HTTP.
	ConfigFile    string `yaml:"config_file"`
	TelemetryPath string `yaml:"telemetry_path"`
	// APIListenAddress, when set, moves /api/ (and /debug/pprof/) to a
	// listener of their own, e.g. 127.0.0.1:10077 to keep them on the node
	// while /metrics stays reachable by Prometheus. Both listeners use
	// ConfigFile.
	APIListenAddress string `yaml:"api_listen_address"`
	// HealthListenAddress, when set, serves /healthz and /readyz on a
	// listener of their own, in plain HTTP without config_file's TLS and
	// basic auth, so that the kubelet's probes keep working when the
	// metrics listener requires credentials. They tell only whether the
	// agent runs and why it is not ready.
	HealthListenAddress string `yaml:"health_listen_address"`
	// PProf serves Go's runtime profiles under /debug/pprof/ on the API's
	// listener, for diagnosing the agent's own CPU and memory.
	PProf bool `yaml:"pprof"`
}

// LogConfig configures the agent's structured log.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default returns the default configuration. It is the only place defaults
// are written down; example.yaml mirrors it and a test keeps them equal.
func Default() Config {
	return Config{
		Containerd: ContainerdConfig{
			Socket:              "/run/containerd/containerd.sock",
			RelistInterval:      5 * time.Minute,
			StorageInterval:     time.Minute,
			StorageBudget:       5 * time.Second,
			ReconnectMaxBackoff: 30 * time.Second,
		},
		Host: HostConfig{
			CgroupRoot:     "/sys/fs/cgroup",
			ProcRoot:       "/proc",
			SysRoot:        "/sys",
			RootFilesystem: "/",
		},
		Sampling: SamplingConfig{
			Interval:      10 * time.Second,
			Jitter:        0.1,
			KeepFilesOpen: true,
			// A second resolves 1 s of work every 20 s to a tenth of
			// the time or better; eight containers keep its cost below
			// the noise of the sampling loop (docs/performance.md).
			FineInterval:      time.Second,
			FineMaxContainers: 8,
		},
		Web: WebConfig{
			ListenAddress: ":10076",
			TelemetryPath: "/metrics",
		},
		Log: LogConfig{
			Level:  "info",
			Format: "json",
		},
		History:  defaultHistory(),
		Analysis: defaultAnalysis(),
		OTLP:     defaultOTLP(),
		Export:   defaultExport(),
	}
}

// YAML renders the configuration as YAML that Parse reads back to the same
// Config. Durations are written in time.Duration's String form ("5m0s").
func (c Config) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("encoding configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding configuration: %w", err)
	}
	return buf.Bytes(), nil
}
