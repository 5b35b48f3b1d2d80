package agent

import (
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/model"
)

// fixedInventory is an Inventory over a fixed list, for tests.
type fixedInventory struct {
	gen uint64
	cs  []*containerd.Container
}

func (f *fixedInventory) Generation() uint64 { return f.gen }
func (f *fixedInventory) Containers(dst []*containerd.Container) ([]*containerd.Container, uint64) {
	return append(dst, f.cs...), f.gen
}

// fixtureHost writes a cgroup v2 tree with n containers under dir/cgroup and
// a matching procfs under dir/proc (pid 1000+i belongs to container i).
func fixtureHost(tb testing.TB, dir string, n int) (cgRoot, procRoot string, inv *fixedInventory) {
	tb.Helper()
	cgRoot, procRoot = filepath.Join(dir, "cgroup"), filepath.Join(dir, "proc")
	write := func(path, data string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write(filepath.Join(cgRoot, "cgroup.controllers"), "cpuset cpu io memory pids\n")
	write(filepath.Join(procRoot, "stat"), "cpu  1 2 3 4\nbtime 1700000000\n")
	inv = &fixedInventory{gen: 1}
	for i := range n {
		id := fmt.Sprintf("%064x", i+1)
		cg := "/kubepods.slice/kubepods-pod" + strconv.Itoa(i) + ".slice/cri-containerd-" + id + ".scope"
		d := filepath.Join(cgRoot, cg)
		write(filepath.Join(d, "cgroup.procs"), strconv.Itoa(1000+i)+"\n")
		write(filepath.Join(d, "cpu.stat"), fmt.Sprintf("usage_usec %d\nuser_usec %d\nsystem_usec %d\nnr_periods 10\nnr_throttled 2\nthrottled_usec 500\n", 1000000*(i+1), 600000*(i+1), 400000*(i+1)))
		write(filepath.Join(d, "memory.current"), strconv.Itoa(10<<20)+"\n")
		write(filepath.Join(d, "memory.stat"), "anon 4194304\nfile 6291456\nkernel 0\ninactive_file 2097152\nactive_file 4194304\n")
		write(filepath.Join(d, "memory.swap.current"), "0\n")
		write(filepath.Join(d, "io.stat"), "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n")
		write(filepath.Join(d, "pids.current"), "3\n")
		write(filepath.Join(d, "cpu.max"), "50000 100000\n")
		write(filepath.Join(d, "cpu.weight"), "100\n")
		write(filepath.Join(d, "memory.max"), "max\n")
		write(filepath.Join(d, "pids.max"), "max\n")
		pid := strconv.Itoa(1000 + i)
		write(filepath.Join(procRoot, pid, "cgroup"), "0::"+cg+"\n")
		inv.cs = append(inv.cs, &containerd.Container{
			Namespace: "k8s.io", ID: id, Pid: uint32(1000 + i), Status: containerd.StatusRunning,
			Pod: containerd.Pod{Name: "pod-" + strconv.Itoa(i), Namespace: "default", ContainerName: "app"},
		})
	}
	return cgRoot, procRoot, inv
}

func newFixtureSampler(tb testing.TB, n int, keepOpen bool) (*Sampler, *fixedInventory, string) {
	dir := tb.TempDir()
	cgRoot, procRoot, inv := fixtureHost(tb, dir, n)
	cg, err := cgroups.Detect(cgRoot)
	if err != nil {
		tb.Fatal(err)
	}
	s := NewSampler(cg, procRoot, keepOpen, inv, slog.New(slog.DiscardHandler))
	tb.Cleanup(s.Close)
	return s, inv, cgRoot
}

func TestSamplerReadsEveryContainer(t *testing.T) {
	s, _, _ := newFixtureSampler(t, 3, true)
	var snap model.Snapshot
	t0 := time.Unix(1700000100, 0)
	s.Sample(t0, &snap)
	if len(snap.Containers) != 3 {
		t.Fatalf("containers = %d, want 3", len(snap.Containers))
	}
	c := snap.Containers[1]
	if !c.Sampled {
		t.Fatal("container not sampled")
	}
	if c.Usage.CPUNanos != 2e9 || c.Usage.CPUUserNanos != 1.2e9 {
		t.Fatalf("cpu = %d/%d ns, want 2e9/1.2e9", c.Usage.CPUNanos, c.Usage.CPUUserNanos)
	}
	// working set = memory.current - inactive_file = 10 MiB - 2 MiB
	if c.Usage.MemoryWorkingSet != 8<<20 {
		t.Fatalf("working set = %d, want %d", c.Usage.MemoryWorkingSet, 8<<20)
	}
	if c.Limits.CPUQuotaMicros != 50000 || c.Limits.MemoryBytes != 0 {
		t.Fatalf("limits = %+v", c.Limits)
	}
	if c.HaveRates {
		t.Fatal("rates after a single sample")
	}
	if c.Network != -1 {
		t.Fatalf("fixture has no netns, got network %d", c.Network)
	}
}

func TestSamplerRates(t *testing.T) {
	s, _, cgRoot := newFixtureSampler(t, 1, false)
	var snap model.Snapshot
	t0 := time.Unix(1700000100, 0)
	s.Sample(t0, &snap)
	// Half a core for 10 s is 5 s of CPU.
	id := fmt.Sprintf("%064x", 1)
	stat := filepath.Join(cgRoot, "kubepods.slice/kubepods-pod0.slice/cri-containerd-"+id+".scope", "cpu.stat")
	if err := os.WriteFile(stat, []byte("usage_usec 6000000\nuser_usec 3000000\nsystem_usec 3000000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 500\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Sample(t0.Add(10*time.Second), &snap)
	c := snap.Containers[0]
	if !c.HaveRates || c.CPUCores != 0.5 {
		t.Fatalf("cores = %v (have %v), want 0.5", c.CPUCores, c.HaveRates)
	}
	// A counter that goes backwards (new cgroup under the same name) gives
	// no rate rather than a negative one.
	if err := os.WriteFile(stat, []byte("usage_usec 10\nuser_usec 5\nsystem_usec 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Sample(t0.Add(20*time.Second), &snap)
	if c := snap.Containers[0]; c.HaveRates {
		t.Fatalf("rate %v reported across a counter reset", c.CPUCores)
	}
}

// A cgroup that vanishes is not an error, and a malformed file is an error
// for that container only: the others are still sampled, and the broken one
// is listed but not reported as sampled.
func TestSamplerVanishedAndMalformed(t *testing.T) {
	s, _, cgRoot := newFixtureSampler(t, 3, false)
	var snap model.Snapshot
	t0 := time.Unix(1700000100, 0)
	s.Sample(t0, &snap)
	dir := func(i int) string {
		return filepath.Join(cgRoot, fmt.Sprintf("kubepods.slice/kubepods-pod%d.slice/cri-containerd-%064x.scope", i, i+1))
	}
	if err := os.RemoveAll(dir(0)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir(1), "memory.current"), []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := s.Sample(t0.Add(10*time.Second), &snap)
	if snap.Containers[0].Sampled || snap.Containers[1].Sampled || !snap.Containers[2].Sampled {
		t.Fatalf("sampled = %v %v %v, want false false true",
			snap.Containers[0].Sampled, snap.Containers[1].Sampled, snap.Containers[2].Sampled)
	}
	if s.cgroupErrs != 1 || res.cgroupOK {
		t.Fatalf("cgroup errors = %d ok=%v, want 1 error (malformed only)", s.cgroupErrs, res.cgroupOK)
	}
}

func TestSamplerFollowsInventory(t *testing.T) {
	s, inv, _ := newFixtureSampler(t, 3, true)
	var snap model.Snapshot
	s.Sample(time.Unix(1700000100, 0), &snap)
	files := s.OpenFiles()
	if files == 0 {
		t.Fatal("keep-open sampler holds no files")
	}
	inv.cs = inv.cs[:2]
	inv.gen++
	s.Sample(time.Unix(1700000110, 0), &snap)
	if len(snap.Containers) != 2 {
		t.Fatalf("containers = %d after removal, want 2", len(snap.Containers))
	}
	if got := s.OpenFiles(); got >= files {
		t.Fatalf("open files %d did not drop from %d after a container left", got, files)
	}
}

// The steady-state tick allocates a constant number of slices, independent
// of the number of containers.
func TestSampleAllocationsPerContainer(t *testing.T) {
	measure := func(n int) float64 {
		s, _, _ := newFixtureSampler(t, n, true)
		var snap model.Snapshot
		now := time.Unix(1700000100, 0)
		s.Sample(now, &snap)
		return testing.AllocsPerRun(20, func() {
			now = now.Add(10 * time.Second)
			s.Sample(now, &snap)
		})
	}
	small, large := measure(10), measure(200)
	if large != small {
		t.Fatalf("allocations per tick grow with containers: %v at 10, %v at 200", small, large)
	}
}

func benchmarkSample(b *testing.B, n int, keepOpen bool) {
	s, _, _ := newFixtureSampler(b, n, keepOpen)
	var snap model.Snapshot
	now := time.Unix(1700000100, 0)
	s.Sample(now, &snap)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		now = now.Add(10 * time.Second)
		s.Sample(now, &snap)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/container")
}

// BenchmarkSample is one tick over 1000 fixture containers (regular files,
// so it measures the sampler's own cost above the kernel's).
func BenchmarkSample(b *testing.B) {
	b.Run("keepopen", func(b *testing.B) { benchmarkSample(b, 1000, true) })
	b.Run("reopen", func(b *testing.B) { benchmarkSample(b, 1000, false) })
}

// A container discovered between ticks is read at once, the others carry
// their last figures over and produce no delta, so history is not fed
// twice.
func TestSampleNewReadsOnlyNewContainers(t *testing.T) {
	s, inv, _ := newFixtureSampler(t, 4, true)
	all := inv.cs
	inv.cs = all[:3]
	var snap model.Snapshot
	t0 := time.Unix(1700000100, 0)
	s.Sample(t0, &snap)
	s.Sample(t0.Add(10*time.Second), &snap)
	if !snap.Containers[0].Delta.Valid {
		t.Fatal("second full tick produced no delta")
	}
	inv.cs, inv.gen = all, inv.gen+1
	s.SampleNew(t0.Add(12*time.Second), &snap)
	if len(snap.Containers) != 4 || !snap.Containers[3].Sampled {
		t.Fatalf("new container not sampled: %d containers", len(snap.Containers))
	}
	for i, c := range snap.Containers[:3] {
		if !c.Sampled || c.Delta.Valid {
			t.Fatalf("container %d: sampled=%v delta=%v; want carried over without a delta", i, c.Sampled, c.Delta.Valid)
		}
		if c.Usage.CPUNanos == 0 || !c.HaveRates {
			t.Fatalf("container %d lost its figures: %+v", i, c.Usage)
		}
	}
	s.Sample(t0.Add(20*time.Second), &snap)
	if !snap.Containers[0].Delta.Valid || snap.Containers[0].Delta.Interval != 10*time.Second {
		t.Fatalf("next full tick: delta %+v, want one over 10s", snap.Containers[0].Delta)
	}
	if !snap.Containers[3].Delta.Valid || snap.Containers[3].Delta.Interval != 8*time.Second {
		t.Fatalf("new container's first delta %+v, want one over 8s", snap.Containers[3].Delta)
	}
}

// A network whose owner left the inventory between a full tick and a pass
// over new containers must not be published (it used to index past the
// snapshot's containers).
func TestSampleNewDropsNetworksOfGoneOwners(t *testing.T) {
	s, inv, _ := newFixtureSampler(t, 3, true)
	var snap model.Snapshot
	t0 := time.Unix(1700000100, 0)
	s.Sample(t0, &snap)
	// The fixture has no network namespaces; give the last container one
	// as a full tick would have.
	owner := s.order[2]
	s.nets[42] = &netTracked{owner: owner, ok: true, seen: true}
	owner.netns = 42
	inv.cs, inv.gen = inv.cs[:2], inv.gen+1
	s.SampleNew(t0.Add(time.Second), &snap)
	if len(snap.Containers) != 2 {
		t.Fatalf("containers = %d, want 2", len(snap.Containers))
	}
	for _, n := range snap.Networks {
		if n.Owner >= len(snap.Containers) {
			t.Fatalf("network owned by container %d of %d", n.Owner, len(snap.Containers))
		}
	}
	if len(snap.Networks) != 0 {
		t.Fatalf("network of a gone owner published: %+v", snap.Networks)
	}
}

// Two containerd namespaces may hold containers with the same id: only
// then do both carry their namespace as identity, so they stay two series.
func TestSamplerMarksIDCollisions(t *testing.T) {
	s, inv, _ := newFixtureSampler(t, 2, true)
	twin := *inv.cs[0]
	twin.Namespace = "moby"
	inv.cs = append(inv.cs, &twin)
	inv.gen++
	var snap model.Snapshot
	s.Sample(time.Unix(1700000100, 0), &snap)
	got := map[string]string{}
	for _, c := range snap.Containers {
		got[c.Meta.Namespace+"/"+c.Meta.ID[60:]] = c.Meta.IdentityNamespace
	}
	want := map[string]string{"k8s.io/0001": "k8s.io", "moby/0001": "moby", "k8s.io/0002": ""}
	if !maps.Equal(got, want) {
		t.Fatalf("identity namespaces = %v, want %v", got, want)
	}
	// The twin leaves: the namespace is no longer needed.
	inv.cs = inv.cs[:2]
	inv.gen++
	s.Sample(time.Unix(1700000110, 0), &snap)
	for _, c := range snap.Containers {
		if c.Meta.IdentityNamespace != "" {
			t.Fatalf("%s still carries its namespace", c.Meta.ID)
		}
	}
}

// A namespace is searched for listening sockets at once, then at most
// listenRefresh apart (the second search a random part of it early), not
// every tick: the search costs the kernel a walk of the host's connection
// table. The answer stands in between.
func TestListeningLookedForEveryFewMinutes(t *testing.T) {
	cgRoot, procRoot, inv := fixtureHost(t, t.TempDir(), 1)
	cg, err := cgroups.Detect(cgRoot)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(procRoot, "1000")
	const head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	listener := head + "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1241 1\n"
	writeFiles(t, dir, map[string]string{"ns/net": "", "net/dev": procNetDev, "net/tcp": listener})
	s := NewSampler(cg, procRoot, false, inv, slog.New(slog.DiscardHandler))
	t.Cleanup(s.Close)
	listening := func() bool {
		for _, n := range s.nets {
			return n.stats.HaveListen && n.stats.Listening
		}
		t.Fatal("no network namespace tracked")
		return false
	}
	var snap model.Snapshot
	t0 := time.Unix(1700000100, 0)
	s.Sample(t0, &snap)
	if !listening() {
		t.Fatal("the listener was not seen at the first sample")
	}
	if err := os.WriteFile(filepath.Join(dir, "net/tcp"), []byte(head), 0o644); err != nil {
		t.Fatal(err)
	}
	now, gone := t0, time.Duration(0)
	for now.Sub(t0) <= listenRefresh {
		now = now.Add(10 * time.Second)
		s.Sample(now, &snap)
		if !listening() {
			gone = now.Sub(t0)
			break
		}
	}
	if gone < listenRefresh/2 || gone > listenRefresh {
		t.Fatalf("the listener's end seen after %v, want between %v and %v", gone, listenRefresh/2, listenRefresh)
	}
}

// procNetDev is a /proc/<pid>/net/dev with one interface.
const procNetDev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n  eth0:    1000      10    0    0    0     0          0         0     2000      20    0    0    0     0       0          0\n"

// writeFiles writes each file of files, by its path under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
