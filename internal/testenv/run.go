package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RunOptions describes a container for Run.
type RunOptions struct {
	Namespace string // default "default"
	ID        string // required; use RandomID for a 64-hex id like Kubernetes'
	Args      []string
	Labels    map[string]string
	// Annotations go into the OCI spec, as CRI puts a pod's sandbox id
	// (io.kubernetes.cri.sandbox-id) into its app containers'.
	Annotations map[string]string
	Env         []string // KEY=value

	CPUQuota, CPUPeriod int64 // CFS limit in µs per period; 0 = none (period defaults to 100000)
	CPUShares           uint64
	MemoryLimit         uint64 // bytes
	// CgroupsPath defaults to /<namespace>/<id>. A CPU-bound container that
	// must reach its quota on a busy host wants a top-level path (/name)
	// and CPUShares 262144: every process in the root cgroup weighs as
	// much as a whole nested cgroup, so the default parent can be starved.
	CgroupsPath string

	// RuncBinary is the runc-compatible binary the shim runs for this
	// container; empty is the runc on PATH.
	RuncBinary string

	// NetNSFromPID joins the network namespace of this process, as a pod's
	// app container joins its sandbox's.
	NetNSFromPID int

	// FakeGPU puts an NVIDIA-like device into the OCI spec: linux.devices
	// gets /dev/nvidia0 (character device 195:0, NVIDIA's major) and the
	// device cgroup allows it. No driver backs it, so opening it in the
	// container fails with ENXIO; it exists so that the spec says "this
	// container was granted a GPU". See fakeGPUCommand for how this works
	// without creating a node in the host's /dev.
	FakeGPU bool
}

// Run creates and starts a container from the busybox image (imported on
// demand) with `ctr run -d` and returns its task's pid. Its standard output
// and error go to Dir/logs/<namespace>-<id>.log.
func (d *Daemon) Run(ctx context.Context, o RunOptions) (int, error) {
	if o.ID == "" {
		return 0, fmt.Errorf("run: empty container id")
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	ref, err := d.ImportBusybox(ctx, o.Namespace)
	if err != nil {
		return 0, err
	}
	args := []string{"-n", o.Namespace, "run", "-d",
		"--log-uri", "file://" + d.ContainerLog(o.Namespace, o.ID),
		// Our own runc root keeps our containers apart from any other
		// containerd on the host that uses the same namespace.
		"--runc-root", d.runcRoot,
	}
	for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
		args = append(args, "--label", k+"="+o.Labels[k])
	}
	for _, k := range slices.Sorted(maps.Keys(o.Annotations)) {
		args = append(args, "--annotation", k+"="+o.Annotations[k])
	}
	for _, e := range o.Env {
		args = append(args, "--env", e)
	}
	if o.CPUQuota > 0 {
		period := o.CPUPeriod
		if period == 0 {
			period = 100000
		}
		args = append(args, "--cpu-quota", strconv.FormatInt(o.CPUQuota, 10), "--cpu-period", strconv.FormatInt(period, 10))
	}
	if o.CPUShares > 0 {
		args = append(args, "--cpu-shares", strconv.FormatUint(o.CPUShares, 10))
	}
	if o.MemoryLimit > 0 {
		args = append(args, "--memory-limit", strconv.FormatUint(o.MemoryLimit, 10))
	}
	if o.RuncBinary != "" {
		args = append(args, "--runc-binary", o.RuncBinary)
	}
	if o.CgroupsPath != "" {
		args = append(args, "--cgroup", o.CgroupsPath)
	}
	if o.NetNSFromPID > 0 {
		args = append(args, "--with-ns", fmt.Sprintf("network:/proc/%d/ns/net", o.NetNSFromPID))
	}
	if o.FakeGPU {
		args = append(args, "--device", "/dev/nvidia0")
	}
	args = append(args, ref, o.ID)
	args = append(args, o.Args...)

	if o.FakeGPU {
		_, err = d.fakeGPUCommand(ctx, args)
	} else {
		_, err = d.ctr(ctx, args...)
	}
	if err != nil {
		return 0, err
	}
	tasks, err := d.Tasks(ctx, o.Namespace)
	if err != nil {
		return 0, err
	}
	for _, t := range tasks {
		if t.ID == o.ID {
			return t.PID, nil
		}
	}
	return 0, fmt.Errorf("run %s/%s: started but not in the task list", o.Namespace, o.ID)
}

// fakeGPUCommand runs ctr with args in a private mount namespace whose /dev
// is a tmpfs holding just nvidia0 (195:0). `ctr run --device` adds a device
// entry for a node it finds on the host, under the same path, so this way ctr
// sees /dev/nvidia0 while the host's /dev stays untouched. runc creates the
// node in the container from the spec, not from this path.
func (d *Daemon) fakeGPUCommand(ctx context.Context, args []string) (string, error) {
	if _, err := exec.LookPath("unshare"); err != nil {
		return "", fmt.Errorf("fake GPU needs unshare (util-linux): %w", err)
	}
	const script = `set -e
mount -t tmpfs -o mode=755 fsct-dev /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/nvidia0 c 195 0
exec ctr "$@"`
	full := append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", "--address", d.Socket}, args...)
	out, err := exec.CommandContext(ctx, "unshare", full...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ctr %s (fake GPU): %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// ContainerLog is the file that receives the container's standard output
// and error.
func (d *Daemon) ContainerLog(namespace, id string) string {
	return filepath.Join(d.Dir, "logs", namespace+"-"+id+".log")
}

// Task is one line of `ctr task ls`.
type Task struct {
	ID     string
	PID    int
	Status string // RUNNING, STOPPED, PAUSED, CREATED, ...
}

// Tasks lists the tasks of namespace.
func (d *Daemon) Tasks(ctx context.Context, namespace string) ([]Task, error) {
	out, err := d.ctr(ctx, "-n", namespace, "tasks", "ls")
	if err != nil {
		return nil, err
	}
	return parseTasks(out)
}

// parseTasks parses the table of `ctr task ls`: a TASK PID STATUS header,
// then one whitespace-separated row per task.
func parseTasks(out string) ([]Task, error) {
	var tasks []Task
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if i == 0 {
			if len(f) < 3 || f[0] != "TASK" {
				return nil, fmt.Errorf("ctr task ls: unexpected header %q", line)
			}
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("ctr task ls: short line %q", line)
		}
		pid, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("ctr task ls: pid in %q: %w", line, err)
		}
		tasks = append(tasks, Task{ID: f[0], PID: pid, Status: f[2]})
	}
	return tasks, nil
}

// Remove kills the container's task with SIGKILL, waits for it to exit and
// deletes the task and the container (with its snapshot). Parts that are
// already gone are skipped.
func (d *Daemon) Remove(ctx context.Context, namespace, id string) error {
	if _, err := d.ctr(ctx, "-n", namespace, "tasks", "kill", "-s", "SIGKILL", id); err != nil && !isNotFound(err) {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		tasks, err := d.Tasks(ctx, namespace)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(tasks, func(t Task) bool { return t.ID == id })
		if i < 0 || tasks[i].Status == "STOPPED" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("remove %s/%s: task still %s 10s after SIGKILL", namespace, id, tasks[i].Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := d.ctr(ctx, "-n", namespace, "tasks", "delete", id); err != nil && !isNotFound(err) {
		return err
	}
	if _, err := d.ctr(ctx, "-n", namespace, "containers", "delete", id); err != nil && !isNotFound(err) {
		return err
	}
	return nil
}

func isNotFound(err error) bool {
	return strings.Contains(err.Error(), "not found")
}

// TaskMetricsCPU returns the task's cumulative CPU time in nanoseconds as
// `ctr task metrics` reports it (from the shim, which reads the cgroup).
func (d *Daemon) TaskMetricsCPU(ctx context.Context, namespace, id string) (uint64, error) {
	out, err := d.ctr(ctx, "-n", namespace, "tasks", "metrics", "--format", "json", id)
	if err != nil {
		return 0, err
	}
	return parseMetricsCPU(out)
}

// parseMetricsCPU extracts the CPU usage in nanoseconds from either output
// format of `ctr task metrics`.
//
// JSON: cgroup v1 gives {"cpu":{"usage":{"total":ns,...}}}, cgroup v2 gives
// {"cpu":{"usage_usec":µs,...}}.
//
// Table: a "METRIC VALUE" section with rows such as "cpuacct.usage ns" (v1)
// or "cpu.usage_usec µs" (v2).
func parseMetricsCPU(out string) (uint64, error) {
	trimmed := strings.TrimSpace(out)
	if strings.HasPrefix(trimmed, "{") {
		var m struct {
			CPU *struct {
				Usage *struct {
					Total *uint64 `json:"total"`
				} `json:"usage"`
				UsageUsec *uint64 `json:"usage_usec"`
			} `json:"cpu"`
		}
		if err := json.Unmarshal([]byte(trimmed), &m); err != nil {
			return 0, fmt.Errorf("ctr task metrics: %w", err)
		}
		switch {
		case m.CPU == nil:
		case m.CPU.Usage != nil && m.CPU.Usage.Total != nil:
			return *m.CPU.Usage.Total, nil
		case m.CPU.UsageUsec != nil:
			return *m.CPU.UsageUsec * 1000, nil
		}
		return 0, fmt.Errorf("ctr task metrics: no cpu usage in %.200q", trimmed)
	}
	for line := range strings.Lines(trimmed) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		var scale uint64
		switch f[0] {
		case "cpuacct.usage":
			scale = 1
		case "cpu.usage_usec":
			scale = 1000
		default:
			continue
		}
		v, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("ctr task metrics: %s: %w", f[0], err)
		}
		return v * scale, nil
	}
	return 0, fmt.Errorf("ctr task metrics: no cpu usage in %.200q", trimmed)
}
