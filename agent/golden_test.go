package agent

import (
	"bytes"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/exporters/promtext"
	"github.com/fleetscope/fleetscope/internal/golden"
	"github.com/fleetscope/fleetscope/model"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden from the current output")

// Container ids of the cgroup fixture trees in collectors/cgroups/testdata.
const (
	goldenIDA = "4c1d7a9f2e3b5a6c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"
	goldenIDB = "b7e2c4a19d3f5e6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a"
	goldenIDC = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
	goldenIDD = "d41d8cd98f00b204e9800998ecf8427ed41d8cd98f00b204e9800998ecf8427e"
	goldenIDE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	goldenIDF = "f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00"
	goldenIDG = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

	goldenPathA = "/kubepods/burstable/pod6a1b2c3d-0000-4000-8000-00000000000a/" + goldenIDA
	goldenPathB = "/kubepods/besteffort/pod6a1b2c3d-0000-4000-8000-00000000000b/" + goldenIDB
	goldenPodF  = "kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice"
)

// goldenContainer is one container of a layout: found through its task's
// /proc/<pid>/cgroup when procCgroup is set, else through the spec's
// cgroupsPath (no task file is written).
type goldenContainer struct {
	id, pod, name string
	procCgroup    string
	cgroupsPath   string
	// specShares are the OCI spec's CPU shares, 0 for a spec without.
	specShares uint64
}

// goldenLayouts are the cgroup fixture trees, one golden file each.
var goldenLayouts = []struct {
	name       string
	containers []goldenContainer
}{
	{"v1", []goldenContainer{
		{id: goldenIDA, pod: "web-1", name: "nginx",
			procCgroup: "9:name=systemd:" + goldenPathA + "\n8:pids:" + goldenPathA + "\n7:blkio:" + goldenPathA + "\n6:freezer:/\n" +
				"4:memory:" + goldenPathA + "\n3:cpuset:/\n2:cpuacct:" + goldenPathA + "\n1:cpu:" + goldenPathA + "\n"},
		{id: goldenIDB, pod: "batch-1", name: "worker", cgroupsPath: goldenPathB},
	}},
	{"v1-comount", []goldenContainer{
		{id: goldenIDC, pod: "api-1", name: "api",
			procCgroup: "5:name=systemd:/k8s.io/" + goldenIDC + "\n4:cpu,cpuacct:/k8s.io/" + goldenIDC + "\n3:memory:/k8s.io/" + goldenIDC + "\n"},
	}},
	{"v2", []goldenContainer{
		{id: goldenIDD, pod: "db-1", name: "postgres", cgroupsPath: "/k8s.io/" + goldenIDD},
		// Its cpu.weight 39 is what runc before 1.3.2 writes for 1024
		// shares; the spec's 1024 is the request. postgres has no spec
		// shares: its weight 100 reads as one core, as the current
		// runtimes write it.
		{id: goldenIDE, pod: "cache-1", name: "redis", procCgroup: "0::/k8s.io/" + goldenIDE + "\n", specShares: 1024},
	}},
	{"v2-systemd", []goldenContainer{
		{id: goldenIDF, pod: "queue-1", name: "broker", cgroupsPath: goldenPodF + ":cri-containerd:" + goldenIDF},
	}},
	{"hybrid", []goldenContainer{
		{id: goldenIDG, pod: "mixed-1", name: "app",
			procCgroup: "4:name=systemd:/k8s.io/" + goldenIDG + "\n3:memory:/k8s.io/" + goldenIDG + "\n2:cpuacct:/k8s.io/" + goldenIDG +
				"\n1:cpu:/k8s.io/" + goldenIDG + "\n0::/k8s.io/" + goldenIDG + "\n"},
	}},
}

// TestGoldenLayouts runs each cgroup fixture layout through the whole path
// a scrape takes (sampler, snapshot, exposition text) and compares the text
// with testdata/golden/<layout>.golden, so that a change anywhere on the
// way shows in review. go test -update rewrites the files.
func TestGoldenLayouts(t *testing.T) {
	for _, l := range goldenLayouts {
		t.Run(l.name, func(t *testing.T) {
			got := goldenText(t, l.name, l.containers)
			path := filepath.Join("testdata", "golden", l.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("/metrics differs from %s (go test -update rewrites it after a deliberate change):\n%s", path, golden.Diff(string(want), string(got)))
			}
		})
	}
}

// goldenText samples the layout twice, ten seconds apart at fixed times,
// and renders the second snapshot. Nothing in it comes from the clock: the
// sample times are fixed (so rates are over exactly ten seconds), the
// tick's measured durations and lag are left at zero, the fixture procfs
// has no per-task stat (no start times) and no network namespaces, and the
// toolchain's version in the build info is replaced.
func goldenText(t *testing.T, layout string, cs []goldenContainer) []byte {
	t.Helper()
	procRoot := filepath.Join(t.TempDir(), "proc")
	write := func(path, data string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(procRoot, "stat"), "cpu  1 2 3 4\nbtime 1700000000\n")
	inv := &fixedInventory{gen: 1}
	for i, c := range cs {
		pid := uint32(1000 + i)
		if c.procCgroup != "" {
			write(filepath.Join(procRoot, strconv.Itoa(int(pid)), "cgroup"), c.procCgroup)
		}
		inv.cs = append(inv.cs, &containerd.Container{
			Namespace: "k8s.io", ID: c.id, Pid: pid, Status: containerd.StatusRunning,
			Image: "docker.io/library/" + c.name + ":1", Runtime: "io.containerd.runc.v2",
			CgroupsPath: c.cgroupsPath, Resources: containerd.Resources{CPUShares: c.specShares},
			Pod: containerd.Pod{Name: c.pod, Namespace: "shop", UID: "uid-" + c.pod, ContainerName: c.name},
		})
	}
	cg, err := cgroups.Detect(filepath.Join("..", "collectors", "cgroups", "testdata", layout))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSampler(cg, procRoot, true, inv, slog.New(slog.DiscardHandler))
	defer s.Close()

	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var snap model.Snapshot
	s.Sample(t0, &snap)
	snap = model.Snapshot{}
	res := s.Sample(t0.Add(10*time.Second), &snap)
	snap.Time, snap.Interval, snap.NodeName, snap.Currency = t0.Add(10*time.Second), 10*time.Second, "node-a", "USD"
	for i := range snap.Containers {
		if !snap.Containers[i].Sampled {
			t.Fatalf("container %s not sampled", snap.Containers[i].Meta.ID)
		}
	}
	// The sampler's own health as the agent reports it, with the measured
	// durations left at zero.
	snap.Self = model.Self{
		Collectors: []model.CollectorStatus{
			{Name: "cgroups", Success: res.cgroupOK, Errors: s.cgroupErrs},
			{Name: "netstat", Success: res.netOK, Errors: s.netErrs},
		},
		ContainerdUp: true,
		OpenFiles:    s.OpenFiles(),
		Running:      len(snap.Containers),
	}

	out := promtext.New(nil, promtext.Options{Version: "1.2.3"}).AppendSnapshot(nil, &snap)
	p := expfmt.NewTextParser(prommodel.UTF8Validation)
	if _, err := p.TextToMetricFamilies(bytes.NewReader(out)); err != nil {
		t.Fatalf("invalid exposition: %v\n%s", err, out)
	}
	return []byte(strings.ReplaceAll(string(out), `goversion="`+runtime.Version()+`"`, `goversion="GO"`))
}
