package testenv

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeBusybox writes a script that answers --list like busybox does, so the
// image builder can be tested without busybox installed.
func fakeBusybox(t *testing.T, applets ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "busybox")
	script := "#!/bin/sh\nprintf '%s\\n' " + strings.Join(applets, " ") + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// readTar returns the regular files of a tar by name, and its symlinks'
// targets by name.
func readTar(t *testing.T, b []byte) (files map[string][]byte, links map[string]string) {
	t.Helper()
	files, links = map[string][]byte{}, map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, links
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = data
		case tar.TypeSymlink:
			links[h.Name] = h.Linkname
		}
	}
}

// blob returns the blob desc points to after checking its digest and size.
func blob(t *testing.T, files map[string][]byte, desc ocispec.Descriptor) []byte {
	t.Helper()
	data, ok := files["blobs/sha256/"+desc.Digest.Encoded()]
	if !ok {
		t.Fatalf("blob %s (%s) missing", desc.Digest, desc.MediaType)
	}
	if got := digest.FromBytes(data); got != desc.Digest || int64(len(data)) != desc.Size {
		t.Fatalf("blob %s: content has digest %s and size %d, descriptor says size %d", desc.Digest, got, len(data), desc.Size)
	}
	return data
}

func decode(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, data)
	}
}

func TestBuildBusyboxImage(t *testing.T) {
	const ref = "docker.io/library/busybox:latest"
	bb := fakeBusybox(t, "sh", "sleep", "[", "busybox", "yes", "sleep")
	var first, second bytes.Buffer
	if err := BuildBusyboxImage(&first, bb, ref); err != nil {
		t.Fatal(err)
	}
	if err := BuildBusyboxImage(&second, bb, ref); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Error("two builds from the same input differ")
	}

	files, _ := readTar(t, first.Bytes())
	var layout ocispec.ImageLayout
	decode(t, files[ocispec.ImageLayoutFile], &layout)
	if layout.Version != ocispec.ImageLayoutVersion {
		t.Errorf("oci-layout version %q", layout.Version)
	}
	var index ocispec.Index
	decode(t, files[ocispec.ImageIndexFile], &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("index has %d manifests, want 1", len(index.Manifests))
	}
	md := index.Manifests[0]
	if got := md.Annotations[ocispec.AnnotationRefName]; got != ref {
		t.Errorf("ref annotation %q, want %q", got, ref)
	}
	if md.MediaType != ocispec.MediaTypeImageManifest || md.Platform == nil || md.Platform.Architecture != runtime.GOARCH || md.Platform.OS != "linux" {
		t.Errorf("manifest descriptor %+v", md)
	}
	var manifest ocispec.Manifest
	decode(t, blob(t, files, md), &manifest)
	if manifest.SchemaVersion != 2 || len(manifest.Layers) != 1 || manifest.Config.MediaType != ocispec.MediaTypeImageConfig {
		t.Fatalf("manifest %+v", manifest)
	}
	var config ocispec.Image
	decode(t, blob(t, files, manifest.Config), &config)
	layer := blob(t, files, manifest.Layers[0])
	if config.Architecture != runtime.GOARCH || config.OS != "linux" || !slices.Equal(config.Config.Cmd, []string{"sh"}) {
		t.Errorf("config %+v", config)
	}
	if config.RootFS.Type != "layers" || !slices.Equal(config.RootFS.DiffIDs, []digest.Digest{digest.FromBytes(layer)}) {
		t.Errorf("rootfs %+v, want the uncompressed layer's digest %s", config.RootFS, digest.FromBytes(layer))
	}

	lfiles, links := readTar(t, layer)
	want, _ := os.ReadFile(bb)
	if !bytes.Equal(lfiles["bin/busybox"], want) {
		t.Error("bin/busybox is not the input binary")
	}
	wantLinks := map[string]string{"bin/[": "busybox", "bin/sh": "busybox", "bin/sleep": "busybox", "bin/yes": "busybox"}
	if !maps.Equal(links, wantLinks) {
		t.Errorf("symlinks %v, want %v", links, wantLinks)
	}
	if !strings.HasPrefix(string(lfiles["etc/passwd"]), "root:x:0:0:") {
		t.Errorf("etc/passwd %q", lfiles["etc/passwd"])
	}

	// The reference lives only in the index.
	var other bytes.Buffer
	if err := BuildBusyboxImage(&other, bb, "example.com/busybox:test"); err != nil {
		t.Fatal(err)
	}
	ofiles, _ := readTar(t, other.Bytes())
	var oindex ocispec.Index
	decode(t, ofiles[ocispec.ImageIndexFile], &oindex)
	if oindex.Manifests[0].Digest != md.Digest {
		t.Error("manifest digest depends on the reference")
	}
}

func TestBuildBusyboxImageRealApplets(t *testing.T) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		t.Skip(BusyboxPath, " not installed")
	}
	var buf bytes.Buffer
	if err := BuildBusyboxImage(&buf, BusyboxPath, BusyboxRef); err != nil {
		t.Fatal(err)
	}
	files, _ := readTar(t, buf.Bytes())
	var index ocispec.Index
	decode(t, files[ocispec.ImageIndexFile], &index)
	var manifest ocispec.Manifest
	decode(t, blob(t, files, index.Manifests[0]), &manifest)
	_, links := readTar(t, blob(t, files, manifest.Layers[0]))
	for _, a := range []string{"sh", "sleep", "yes", "cat", "dd", "nc", "httpd", "top"} {
		if links["bin/"+a] != "busybox" {
			t.Errorf("no /bin/%s -> busybox", a)
		}
	}
}

func TestBuildBusyboxImageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	err := BuildBusyboxImage(io.Discard, missing, BusyboxRef)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing binary: error %v, want one naming %s", err, missing)
	}
	if err := BuildBusyboxImage(io.Discard, fakeBusybox(t, "sh"), ""); err == nil {
		t.Error("empty reference accepted")
	}
	if err := BuildBusyboxImage(io.Discard, fakeBusybox(t), BusyboxRef); err == nil {
		t.Error("binary without applets accepted")
	}
}

func TestParseMetricsCPU(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want uint64
	}{
		// Captured from ctr 1.6.20 on cgroup v1, both formats of one reading.
		{"v1 table", readFile(t, "testdata/metrics-v1.table"), 257444918},
		{"v1 json", readFile(t, "testdata/metrics-v1.json"), 257444918},
		{"v2 json", `{"pids":{"current":1},"cpu":{"usage_usec":1500,"user_usec":1000,"system_usec":500}}`, 1500000},
		{"v2 table", "METRIC VALUE\ncpu.usage_usec 42\ncpu.user_usec 40\n", 42000},
	} {
		got, err := parseMetricsCPU(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "{", `{"memory":{}}`, `{"cpu":{"usage":{}}}`, "cpuacct.usage x", "METRIC VALUE\npids.current 1\n"} {
		if got, err := parseMetricsCPU(bad); err == nil {
			t.Errorf("parseMetricsCPU(%q) = %d, want an error", bad, got)
		}
	}
}

func TestParseTasks(t *testing.T) {
	got, err := parseTasks(readFile(t, "testdata/tasks.table"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Task{
		{"e559b14ab1d958b9313707b26884285f1eb0e81293e5aa6e62a316d50bff8271", 14729, "RUNNING"},
		{"1d9c133f734526b14e98e7bfd23c627778b2463ee8eb49380b05af24650e28a0", 14812, "RUNNING"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, err := parseTasks("TASK PID STATUS\n"); err != nil || len(got) != 0 {
		t.Errorf("empty list: %v, %v", got, err)
	}
	for _, bad := range []string{"ID PID\n", "TASK PID STATUS\nabc x RUNNING\n", "TASK PID STATUS\nabc 1\n"} {
		if _, err := parseTasks(bad); err == nil {
			t.Errorf("parseTasks(%q) accepted", bad)
		}
	}
}

func TestMountsUnder(t *testing.T) {
	mi := filepath.Join(t.TempDir(), "mountinfo")
	content := `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
100 22 0:50 / /tmp/x/state/a/rootfs rw shared:60 - overlay overlay rw
101 22 0:51 / /tmp/x/state/b\040c/rootfs rw shared:61 - overlay overlay rw
102 100 0:52 / /tmp/x/state/a/rootfs/proc rw - proc proc rw
103 22 0:53 / /tmp/xy rw - tmpfs tmpfs rw
`
	if err := os.WriteFile(mi, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := mountsUnder(mi, "/tmp/x")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/tmp/x/state/a/rootfs/proc", "/tmp/x/state/b c/rootfs", "/tmp/x/state/a/rootfs"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStartContainerdMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartContainerd(context.Background(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "containerd not found") || !strings.Contains(err.Error(), "apt-get install containerd") {
		t.Errorf("error %v, want one saying containerd is missing and how to install it", err)
	}
	if os.Geteuid() == 0 && !strings.Contains(Requirements(), "containerd") {
		t.Errorf("Requirements() = %q, want it to name containerd", Requirements())
	}
}

func TestRandomID(t *testing.T) {
	a, b := RandomID(), RandomID()
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" || a == b {
		t.Errorf("RandomID: %q, %q", a, b)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// netns returns the inode of a process's network namespace.
func netns(t *testing.T, pid string) uint64 {
	t.Helper()
	fi, err := os.Stat("/proc/" + pid + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

func TestIntegration(t *testing.T) {
	d := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const ns = "k8s.io"

	ref, err := d.ImportBusybox(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	d.imported = map[string]bool{} // force the check against containerd
	if _, err := d.ImportBusybox(ctx, ns); err != nil {
		t.Fatalf("second import: %v", err)
	}
	if out, err := d.Ctr(ctx, "-n", ns, "images", "ls", "-q"); err != nil || strings.TrimSpace(out) != ref {
		t.Fatalf("images: %q, %v; want just %s", out, err, ref)
	}

	// An idle container with Kubernetes-style labels.
	idle := RandomID()
	labels := map[string]string{"io.kubernetes.pod.name": "idle-pod", "io.kubernetes.container.name": "idle"}
	idlePID, err := d.Run(ctx, RunOptions{Namespace: ns, ID: idle, Args: []string{"sleep", "3600"}, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := d.Tasks(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tasks, Task{ID: idle, PID: idlePID, Status: "RUNNING"}) {
		t.Errorf("tasks %v, want %s RUNNING as pid %d", tasks, idle, idlePID)
	}
	if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(idlePID) + "/cmdline"); err != nil || string(cmdline) != "sleep\x003600\x00" {
		t.Errorf("pid %d cmdline %q, %v", idlePID, cmdline, err)
	}
	info, err := d.Ctr(ctx, "-n", ns, "containers", "info", idle)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Labels map[string]string
		Spec   struct {
			Linux struct {
				Devices []struct {
					Path  string
					Type  string
					Major int64
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(info), &c); err != nil {
		t.Fatal(err)
	}
	for k, v := range labels {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}

	// A busy container limited to 0.2 cores. With the highest weight, in a
	// top-level cgroup, it gets its quota even on a loaded host.
	busy := RandomID()
	if _, err := d.Run(ctx, RunOptions{
		Namespace: ns, ID: busy, Args: []string{"sh", "-c", "while :; do :; done"},
		CPUQuota: 20000, CPUPeriod: 100000, CPUShares: 262144, CgroupsPath: "/fsct-" + busy[:12],
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	u1, err := d.TaskMetricsCPU(ctx, ns, busy)
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	time.Sleep(2 * time.Second)
	u2, err := d.TaskMetricsCPU(ctx, ns, busy)
	if err != nil {
		t.Fatal(err)
	}
	cores := float64(u2-u1) / float64(time.Since(t1).Nanoseconds())
	t.Logf("busy container: %.3f cores", cores)
	if cores < 0.15 || cores > 0.25 {
		t.Errorf("busy container used %.3f cores, want 0.15–0.25", cores)
	}
	if u, err := d.TaskMetricsCPU(ctx, ns, idle); err != nil || u > 50e6 {
		t.Errorf("idle container used %d ns of CPU (%v), want almost none", u, err)
	}

	// A pod-like pair: the app joins the sandbox's network namespace.
	sandbox, app := RandomID(), RandomID()
	sandboxPID, err := d.Run(ctx, RunOptions{Namespace: ns, ID: sandbox, Args: []string{"sleep", "3600"}, Labels: map[string]string{"io.cri-containerd.kind": "sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	appPID, err := d.Run(ctx, RunOptions{Namespace: ns, ID: app, Args: []string{"sleep", "3600"}, Labels: map[string]string{"io.cri-containerd.kind": "container"}, NetNSFromPID: sandboxPID})
	if err != nil {
		t.Fatal(err)
	}
	if s, a, h := netns(t, strconv.Itoa(sandboxPID)), netns(t, strconv.Itoa(appPID)), netns(t, "self"); s != a || s == h {
		t.Errorf("netns inodes: sandbox %d, app %d, host %d; want sandbox == app != host", s, a, h)
	}

	// A container whose spec grants an NVIDIA-like device.
	gpu := RandomID()
	if _, err := d.Run(ctx, RunOptions{Namespace: ns, ID: gpu, Args: []string{"sh", "-c", "ls -l /dev/nvidia0; sleep 3600"}, FakeGPU: true}); err != nil {
		t.Fatal(err)
	}
	if info, err = d.Ctr(ctx, "-n", ns, "containers", "info", gpu); err != nil {
		t.Fatal(err)
	}
	c.Spec.Linux.Devices = nil
	if err := json.Unmarshal([]byte(info), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Spec.Linux.Devices) != 1 || c.Spec.Linux.Devices[0].Path != "/dev/nvidia0" || c.Spec.Linux.Devices[0].Major != 195 || c.Spec.Linux.Devices[0].Type != "c" {
		t.Errorf("spec devices %+v, want /dev/nvidia0 c 195", c.Spec.Linux.Devices)
	}
	if _, err := os.Lstat("/dev/nvidia0"); err == nil {
		t.Log("note: the host has /dev/nvidia0")
	}
	waitFor(t, func() bool {
		b, _ := os.ReadFile(d.ContainerLog(ns, gpu))
		return strings.Contains(string(b), "195,") && strings.Contains(string(b), "/dev/nvidia0")
	}, "the container to see /dev/nvidia0 as device 195")
	if err := d.Remove(ctx, ns, gpu); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Ctr(ctx, "-n", ns, "containers", "ls", "-q"); err != nil || strings.Contains(out, gpu) {
		t.Errorf("after Remove: containers %q, %v", out, err)
	}
	if err := d.Remove(ctx, ns, gpu); err != nil {
		t.Errorf("second Remove: %v", err)
	}

	// A crashed daemon leaves the shims running; a restarted one finds them.
	before, err := d.Tasks(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	if d.Running() || !alive(idlePID) {
		t.Fatalf("after Kill: running %v, idle task alive %v", d.Running(), alive(idlePID))
	}
	if err := d.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := d.Tasks(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	sortTasks := func(ts []Task) { slices.SortFunc(ts, func(a, b Task) int { return strings.Compare(a.ID, b.ID) }) }
	sortTasks(before)
	sortTasks(after)
	if len(before) != 4 || !slices.Equal(before, after) {
		t.Errorf("tasks before the restart %v, after %v; want the same 4", before, after)
	}

	shims, err := processesWithArg(d.Socket)
	if err != nil || len(shims) != 4 {
		t.Errorf("shims %v (%v), want 4", shims, err)
	}
	d.Cleanup(ctx)
	if left, _ := processesWithArg(d.Socket); len(left) > 0 {
		t.Errorf("processes naming %s survive Cleanup: %v", d.Socket, left)
	}
	if left, _ := processesWithArg(d.config); len(left) > 0 {
		t.Errorf("containerd survives Cleanup: %v", left)
	}
	for _, task := range after {
		if alive(task.PID) {
			t.Errorf("task %s (pid %d) survives Cleanup", task.ID, task.PID)
		}
	}
	for _, dir := range []string{d.Dir, filepath.Dir(d.Socket)} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s survives Cleanup (%v)", dir, err)
		}
	}
	d.Cleanup(ctx) // and again, as t.Cleanup will
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
