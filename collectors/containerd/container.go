package containerd

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/containerd/api/types/task"
)

// CRI labels that containerd's CRI plugin puts on every container it creates.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
	LabelCRIKind       = "io.cri-containerd.kind"
	// annotationSandboxID is set in the OCI spec of CRI app containers.
	annotationSandboxID = "io.kubernetes.cri.sandbox-id"
)

// Status is a task's state as containerd reports it.
type Status string

// Task states; StatusNone means the container has no task.
const (
	StatusNone    Status = ""
	StatusCreated Status = "created"
	StatusRunning Status = "running"
	StatusStopped Status = "stopped"
	StatusPaused  Status = "paused"
	StatusUnknown Status = "unknown"
)

func statusOf(s task.Status) Status {
	switch s {
	case task.Status_CREATED:
		return StatusCreated
	case task.Status_RUNNING:
		return StatusRunning
	case task.Status_STOPPED:
		return StatusStopped
	case task.Status_PAUSED, task.Status_PAUSING:
		return StatusPaused
	}
	return StatusUnknown
}

// Pod is the Kubernetes identity of a container, from its CRI labels. All
// fields are empty for containers not created through CRI.
type Pod struct {
	Name, Namespace, UID string
	// ContainerName is the name in the pod spec; empty for a sandbox.
	ContainerName string
	// SandboxID is the id of the pod's sandbox container (for a sandbox,
	// its own id).
	SandboxID string
}

// Resources are the limits and requests the OCI spec sets. Zero means unset.
type Resources struct {
	CPUQuotaMicros  int64 // CFS quota per period; <= 0 is unlimited
	CPUPeriodMicros uint64
	CPUShares       uint64
	MemoryLimit     int64 // bytes; <= 0 is unlimited
}

// Container is one container as discovered. Values are immutable once
// published: discovery replaces the pointer when anything changes, so readers
// may keep it without locking.
type Container struct {
	Namespace string
	ID        string
	Image     string
	Runtime   string
	Labels    map[string]string
	// OverrideLabels are the labels from which analysis overrides
	// (fleetscope.io/…) may be taken: the pod's own labels, from its
	// sandbox, for a CRI container; nil outside Kubernetes and while the
	// sandbox is unknown. See overrideLabels.
	OverrideLabels map[string]string
	// ExportLabels are the labels the export allow-list lets through,
	// sorted by key.
	ExportLabels []Label
	CreatedAt    time.Time
	UpdatedAt    time.Time

	Pid    uint32
	Status Status

	Pod     Pod
	Sandbox bool

	// CgroupsPath is the spec's linux.cgroupsPath, used to find the cgroup
	// when no task pid can be read.
	CgroupsPath string
	Resources   Resources
	// GPU is true when the spec grants a GPU-class device.
	GPU bool
	// GPUs is how many GPUs the spec grants, when it says: one per GPU
	// device node (/dev/nvidiaN, /dev/dri/renderD*, /dev/accel/accel*) or
	// CDI device it names. 0 with GPU true means the count is unknown (a
	// runtime hook, or only control devices such as /dev/kfd).
	GPUs int

	Snapshotter, SnapshotKey string
}

// Key identifies a container across namespaces.
func (c *Container) Key() string { return c.Namespace + "/" + c.ID }

// Name is the most human name available: the pod's container name, else
// the containerd id.
func (c *Container) Name() string {
	if c.Pod.ContainerName != "" {
		return c.Pod.ContainerName
	}
	if c.Sandbox && c.Pod.Name != "" {
		return "POD"
	}
	return c.ID
}

// Running reports whether the container has a live task to sample.
func (c *Container) Running() bool {
	return c.Pid != 0 && (c.Status == StatusRunning || c.Status == StatusPaused)
}

// ociSpec is the part of the OCI runtime spec discovery reads. Decoding into
// this narrow type, rather than the full spec, keeps process environment
// variables (often secrets) out of the agent's memory entirely.
type ociSpec struct {
	Annotations map[string]string `json:"annotations"`
	Hooks       *struct {
		Prestart       []ociHook `json:"prestart"`
		CreateRuntime  []ociHook `json:"createRuntime"`
		CreateContainr []ociHook `json:"createContainer"`
	} `json:"hooks"`
	Linux *struct {
		CgroupsPath string      `json:"cgroupsPath"`
		Devices     []ociDevice `json:"devices"`
		Resources   *struct {
			CPU *struct {
				Shares *uint64 `json:"shares"`
				Quota  *int64  `json:"quota"`
				Period *uint64 `json:"period"`
			} `json:"cpu"`
			Memory *struct {
				Limit *int64 `json:"limit"`
			} `json:"memory"`
		} `json:"resources"`
	} `json:"linux"`
}

type ociHook struct {
	Path string `json:"path"`
}

type ociDevice struct {
	Path  string `json:"path"`
	Type  string `json:"type"`
	Major int64  `json:"major"`
	Minor int64  `json:"minor"`
}

// gpuDevicePrefixes are device nodes of accelerators that no serverless
// platform offers: NVIDIA, AMD ROCm (kfd), DRM render nodes and accel.
var gpuDevicePrefixes = []string{"/dev/nvidia", "/dev/kfd", "/dev/dri/renderD", "/dev/accel/"}

// nvidiaMajor is the character-device major number NVIDIA's driver uses.
// Its minors below nvidiaControlMinors are GPUs (/dev/nvidiaN); the top
// ones are control devices (nvidiactl is 255, nvidia-modeset 254).
const (
	nvidiaMajor         = 195
	nvidiaControlMinors = 254
)

// gpuCount counts the GPUs the spec names: GPU device nodes, else the
// devices of CDI annotations (a comma-separated list of qualified names
// such as nvidia.com/gpu=0). 0 when the spec grants GPUs without naming
// them one by one.
func (s *ociSpec) gpuCount() int {
	n := 0
	if s.Linux != nil {
		for _, d := range s.Linux.Devices {
			if d.Type != "c" {
				continue
			}
			switch {
			case strings.HasPrefix(d.Path, "/dev/dri/renderD"), strings.HasPrefix(d.Path, "/dev/accel/accel"):
				n++
			case d.Major == nvidiaMajor && d.Minor >= 0 && d.Minor < nvidiaControlMinors:
				n++
			case d.Major == 0 && isNvidiaGPUPath(d.Path):
				// A device given by path only.
				n++
			}
		}
	}
	if n > 0 {
		return n
	}
	for k, v := range s.Annotations {
		if !strings.HasPrefix(k, "cdi.k8s.io/") {
			continue
		}
		for _, dev := range strings.Split(v, ",") {
			if strings.Contains(strings.ToLower(dev), "gpu") {
				n++
			}
		}
	}
	return n
}

// isNvidiaGPUPath reports whether path is /dev/nvidia followed by digits.
func isNvidiaGPUPath(path string) bool {
	num, ok := strings.CutPrefix(path, "/dev/nvidia")
	return ok && num != "" && strings.Trim(num, "0123456789") == ""
}

func (s *ociSpec) grantsGPU() bool {
	if s.Linux != nil {
		for _, d := range s.Linux.Devices {
			if d.Type == "c" && d.Major == nvidiaMajor {
				return true
			}
			for _, p := range gpuDevicePrefixes {
				if strings.HasPrefix(d.Path, p) {
					return true
				}
			}
		}
	}
	// CDI-injected devices are announced in annotations, and the NVIDIA
	// container toolkit works through an OCI hook.
	for k, v := range s.Annotations {
		if strings.HasPrefix(k, "cdi.k8s.io/") && strings.Contains(strings.ToLower(v), "gpu") {
			return true
		}
	}
	if s.Hooks != nil {
		for _, hs := range [][]ociHook{s.Hooks.Prestart, s.Hooks.CreateRuntime, s.Hooks.CreateContainr} {
			for _, h := range hs {
				if strings.Contains(h.Path, "nvidia") {
					return true
				}
			}
		}
	}
	return false
}

// newContainer builds a Container from containerd's record; the task fields
// are filled separately. A spec that cannot be decoded is reported but the
// container is still returned: an unreadable spec must not hide a container.
func newContainer(ns string, r *Record) (*Container, error) {
	c := &Container{
		Namespace:   ns,
		ID:          r.ID,
		Image:       r.Image,
		Runtime:     r.Runtime,
		Labels:      r.Labels,
		CreatedAt:   r.CreatedAt,
		UpdatedAt:   r.UpdatedAt,
		Snapshotter: r.Snapshotter,
		SnapshotKey: r.SnapshotKey,
	}
	l := r.Labels
	c.Pod = Pod{
		Name:          l[LabelPodName],
		Namespace:     l[LabelPodNamespace],
		UID:           l[LabelPodUID],
		ContainerName: l[LabelContainerName],
	}
	c.Sandbox = l[LabelCRIKind] == "sandbox"
	if c.Sandbox {
		c.Pod.SandboxID = r.ID
		c.Pod.ContainerName = ""
	} else {
		// The record's sandbox (containerd 2's sandbox API), unless the
		// spec's CRI annotation below names one.
		c.Pod.SandboxID = r.SandboxID
	}
	if len(r.Spec) == 0 {
		return c, nil
	}
	var s ociSpec
	if err := json.Unmarshal(r.Spec, &s); err != nil {
		return c, fmt.Errorf("container %s/%s: decoding OCI spec: %w", ns, r.ID, err)
	}
	if id := s.Annotations[annotationSandboxID]; id != "" && !c.Sandbox {
		c.Pod.SandboxID = id
	}
	c.GPU = s.grantsGPU()
	if c.GPU {
		c.GPUs = s.gpuCount()
	}
	if s.Linux != nil {
		c.CgroupsPath = s.Linux.CgroupsPath
		if res := s.Linux.Resources; res != nil {
			if cpu := res.CPU; cpu != nil {
				if cpu.Quota != nil {
					c.Resources.CPUQuotaMicros = *cpu.Quota
				}
				if cpu.Period != nil {
					c.Resources.CPUPeriodMicros = *cpu.Period
				}
				if cpu.Shares != nil {
					c.Resources.CPUShares = *cpu.Shares
				}
			}
			if m := res.Memory; m != nil && m.Limit != nil {
				c.Resources.MemoryLimit = *m.Limit
			}
		}
	}
	return c, nil
}

// withTask returns a copy of c with its task state replaced.
func (c *Container) withTask(pid uint32, st Status) *Container {
	if c.Pid == pid && c.Status == st {
		return c
	}
	n := *c
	n.Pid, n.Status = pid, st
	return &n
}
