package prometheus

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/fleetscope/fleetscope/agent/analysis"
	"github.com/fleetscope/fleetscope/agent/snapshot"
	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/collectors/host"
	"github.com/fleetscope/fleetscope/collectors/netstat"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

type fixed struct{ s *snapshot.Snapshot }

func (f fixed) Snapshot() *snapshot.Snapshot { return f.s }

func testSnapshot() *snapshot.Snapshot {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	sandbox := &containerd.Container{Namespace: "k8s.io", ID: "aaaa", Image: "registry.k8s.io/pause:3.9", Runtime: "io.containerd.runc.v2",
		Pid: 10, Status: containerd.StatusRunning, Sandbox: true,
		Pod: containerd.Pod{Name: "web-1", Namespace: "shop", UID: "uid-1", SandboxID: "aaaa"}}
	app := &containerd.Container{Namespace: "k8s.io", ID: "bbbb", Image: "docker.io/library/nginx:1.27", Runtime: "io.containerd.runc.v2",
		Pid: 11, Status: containerd.StatusRunning,
		Pod:       containerd.Pod{Name: "web-1", Namespace: "shop", UID: "uid-1", ContainerName: "nginx", SandboxID: "aaaa"},
		Resources: containerd.Resources{CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, CPUShares: 512, MemoryLimit: 256 << 20}}
	stopped := &containerd.Container{Namespace: "default", ID: "cccc", Image: "docker.io/library/busybox:latest", Runtime: "io.containerd.runc.v2",
		Status: containerd.StatusStopped}
	all := cgroups.HaveCPU | cgroups.HaveCPUMode | cgroups.HaveThrottling | cgroups.HaveMemory | cgroups.HaveMemoryStat | cgroups.HaveIO | cgroups.HavePids
	ifs := []netstat.Interface{{Name: "eth0", RxBytes: 1000, RxPackets: 10, TxBytes: 2000, TxPackets: 20, RxDropped: 1}}
	return &snapshot.Snapshot{
		Time: t0, Interval: 10 * time.Second, NodeName: "node-a",
		Containers: []snapshot.Container{
			{Meta: stopped, Network: -1},
			{Meta: sandbox, Sampled: true, Network: 0, StartedAt: t0.Add(-time.Hour),
				Stats: cgroups.Stats{Have: all, CPUUsageNanos: 2e7, CPUUserNanos: 1e7, CPUSystemNanos: 1e7, MemoryUsage: 1 << 20, MemoryWorkingSet: 1 << 19, Pids: 1}},
			{Meta: app, Sampled: true, Network: 0, StartedAt: t0.Add(-30 * time.Minute), HaveRates: true, CPUCores: 0.25,
				HaveLimits: true, Limits: cgroups.Limits{Have: cgroups.HaveCPU | cgroups.HaveMemory, CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, CPUShares: 512, MemoryLimit: 256 << 20},
				HaveLayer: true, Layer: containerd.LayerUsage{Bytes: 12345},
				Analysis: &analysis.Result{ObservedFor: 48 * time.Hour, IdleRatio1h: 1, IdleRatio24h: 0.95, IdleRatio7d: math.NaN(),
					Bursts:      analysis.Bursts{Count: 3, P50: 2 * time.Minute, P95: 4 * time.Minute, Max: 5 * time.Minute},
					Reserved:    analysis.Reserved{CPUCores: 0.5, MemoryBytes: 256 << 20, CPUSource: "limit", MemorySource: "limit"},
					CostPerHour: 0.0213525, IdleCostPerHour: 0.0202849, OverReservationWastePerMonth: 3.5,
					Verdict: analysis.VerdictFunction, Score: 87, Platform: "function",
					Reasons:            []analysis.Reason{{Code: "idle_ratio_high", Text: "idle 95%"}},
					Blockers:           []analysis.Reason{{Code: "burst_too_long", Text: "x"}},
					CurrentMonthlyCost: 15.59, ServerlessMonthlyCost: 0.8, SavingsPerMonth: 14.79},
				Stats: cgroups.Stats{Have: all, CPUUsageNanos: 9e9, CPUUserNanos: 6e9, CPUSystemNanos: 3e9,
					CPUPeriods: 100, CPUThrottledPeriods: 7, CPUThrottledNanos: 5e8,
					MemoryUsage: 100 << 20, MemoryWorkingSet: 80 << 20, MemoryRSS: 60 << 20, MemoryCache: 40 << 20,
					IOReadBytes: 4096, IOWriteBytes: 8192, IOReadOps: 1, IOWriteOps: 2, Pids: 5}},
		},
		Networks:   []snapshot.Network{{Owner: 1, Interfaces: ifs}},
		Interfaces: ifs,
		HostOK:     true,
		Host:       host.Stats{CPUs: 2, CPUUserSeconds: 100, CPUSystemSeconds: 50, CPUIdleSeconds: 1000, MemoryTotal: 8 << 30, MemoryAvailable: 6 << 30, FilesystemPath: "/", FilesystemSize: 100 << 30, FilesystemUsed: 40 << 30},
		Self: snapshot.Self{
			Collectors:   []snapshot.CollectorStatus{{Name: "cgroups", Duration: 2 * time.Millisecond, Success: true}},
			TickLag:      time.Millisecond,
			ContainerdUp: true, Running: 2, Stopped: 1, OpenFiles: 14,
		},
	}
}

func gather(t *testing.T, c prometheus.Collector) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	// The Go version in the build info series changes with the toolchain.
	return []byte(strings.ReplaceAll(buf.String(), `goversion="`+goVersion()+`"`, `goversion="GO"`))
}

func TestGolden(t *testing.T) {
	got := gather(t, New(fixed{testSnapshot()}, "1.2.3"))
	path := filepath.Join("testdata", "metrics.golden")
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
		t.Errorf("/metrics differs from %s (go test -update rewrites it after a deliberate change):\n%s", path, diff(string(want), string(got)))
	}
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, "- "+a, "+ "+b)
		}
		if len(out) > 20 {
			break
		}
	}
	return strings.Join(out, "\n")
}

func TestLint(t *testing.T) {
	problems, err := testutil.CollectAndLint(New(fixed{testSnapshot()}, "1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// Series of a container that left the snapshot are gone from the next
// scrape, and a container that was not sampled exports no usage.
func TestVanishedContainersVanish(t *testing.T) {
	s := testSnapshot()
	src := &fixed{s}
	c := New(src, "1.2.3")
	before := testutil.CollectAndCount(c, "container_memory_usage_bytes")
	if before != 2 {
		t.Fatalf("memory series = %d, want 2", before)
	}
	next := *s
	next.Containers = s.Containers[:2] // the app container is gone
	next.Networks = nil
	src.s = &next
	if got := testutil.CollectAndCount(c, "container_memory_usage_bytes"); got != 1 {
		t.Fatalf("memory series after removal = %d, want 1", got)
	}
	if got := testutil.CollectAndCount(c, "fleetscope_container_info"); got != 2 {
		t.Fatalf("info series after removal = %d, want 2", got)
	}
	// The stopped container (index 0) has info but no usage.
	out := string(gather(t, c))
	if strings.Contains(out, `container_memory_usage_bytes{container_id="cccc"`) {
		t.Fatal("usage exported for a container that was not sampled")
	}
}

func TestNetworkNotMultipliedByContainers(t *testing.T) {
	got := testutil.CollectAndCount(New(fixed{testSnapshot()}, "x"), "container_network_io_bytes_total")
	if got != 2 { // one interface × two directions, once for the pod
		t.Fatalf("network io series = %d, want 2", got)
	}
}

func TestNoSnapshotYet(t *testing.T) {
	if got := testutil.CollectAndCount(New(fixed{nil}, "x")); got != 1 {
		t.Fatalf("series before the first sample = %d, want only the build info", got)
	}
}

func BenchmarkScrape(b *testing.B) {
	s := testSnapshot()
	// Repeat the app container to 205 containers, the size of a busy node.
	base := s.Containers[2]
	for i := 0; len(s.Containers) < 205; i++ {
		m := *base.Meta
		m.ID = m.ID + string(rune('a'+i%26)) + string(rune('a'+i/26))
		c := base
		c.Meta = &m
		s.Containers = append(s.Containers, c)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(fixed{s}, "x"))
	b.ReportAllocs()
	var size int
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		for _, mf := range mfs {
			expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain)).Encode(mf)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

func goVersion() string { return runtime.Version() }
