package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	line := "4242 (flee) tscope x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 987 1234567 2048 18446744073709551615\n"
	got, err := parseStatCPU([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if got != 325 {
		t.Errorf("ticks = %d, want 250+75", got)
	}
	for _, bad := range []string{"", "1 (x) S 1 2 3", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u 1 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}

func TestProcReaders(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "77")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stat", "77 (containerd) S 1 77 77 0 -1 0 0 0 0 0 1500 520 0 0 20 0 30 0 5 0 0\n")
	write("status", "Name:\tcontainerd\nVmPeak:\t 9000 kB\nVmRSS:\t   51200 kB\nThreads:\t30\n")
	if err := os.WriteFile(filepath.Join(root, "stat"), []byte("cpu  100 5 50 800 40 3 2 0 7 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	cpu, err := procCPUSeconds(root, 77)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(cpu-20.20) > 1e-9 {
		t.Errorf("cpu = %v s, want 20.2 (2020 ticks at 100 Hz)", cpu)
	}
	rss, err := procRSS(root, 77)
	if err != nil {
		t.Fatal(err)
	}
	if rss != 50<<20 {
		t.Errorf("rss = %d, want 50 MiB", rss)
	}
	if _, err := procRSS(root, 78); err == nil {
		t.Error("procRSS of a missing process succeeded")
	}

	h0, err := readHostCPU(root)
	if err != nil {
		t.Fatal(err)
	}
	if h0.total != 1000 || h0.busy != 160 {
		t.Errorf("host = %+v, want total 1000 busy 160 (guest not counted twice)", h0)
	}
	if got := h0.busyPercent(hostCPU{busy: 160 + 50, total: 1000 + 200}); got != 25 {
		t.Errorf("busyPercent = %v, want 25", got)
	}
}

func TestParseVmRSSErrors(t *testing.T) {
	for _, bad := range []string{"Name:\tkthreadd\n", "VmRSS:\t12 MB\n", "VmRSS:\tx kB\n"} {
		if _, err := parseVmRSS([]byte(bad)); err == nil {
			t.Errorf("parseVmRSS(%q) succeeded", bad)
		}
	}
}

const fleetscopePage = `# HELP fleetscope_containers_tracked Containers in the inventory.
# TYPE fleetscope_containers_tracked gauge
fleetscope_containers_tracked{state="running"} 55
fleetscope_containers_tracked{state="stopped"} 2
go_goroutines 31

fleetscope_container_info{container_id="a",k8s_pod_name="x\"}y"} 1
`

func TestCountSeries(t *testing.T) {
	if got := countSeries([]byte(fleetscopePage)); got != 4 {
		t.Errorf("countSeries = %d, want 4", got)
	}
}

func TestFleetscopeSeen(t *testing.T) {
	if got := fleetscopeSeen([]byte(fleetscopePage)); got != 55 {
		t.Errorf("seen = %d, want 55", got)
	}
	if got := fleetscopeSeen([]byte("go_goroutines 3\n")); got != 0 {
		t.Errorf("seen without the metric = %d, want 0", got)
	}
}

func TestLabelValue(t *testing.T) {
	labels := []byte(`container_id="a",k8s_pod_name="x\"}y",state="running"`)
	for name, want := range map[string]string{"container_id": "a", "k8s_pod_name": `x\"}y`, "state": "running"} {
		got, ok := labelValue(labels, name)
		if !ok || string(got) != want {
			t.Errorf("labelValue(%s) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := labelValue(labels, "missing"); ok {
		t.Error("found a missing label")
	}
}

func TestCadvisorSeen(t *testing.T) {
	page := `# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{cpu="total",id="/",image=""} 100 1700000000000
container_cpu_usage_seconds_total{cpu="total",id="/k8s.io/aaaa",image="busybox"} 1.5 1700000000000
container_cpu_usage_seconds_total{cpu="total",id="/k8s.io/bbbb",image="busybox"} 0.5 1700000000000
container_cpu_usage_seconds_total{cpu="cpu00",id="/k8s.io/bbbb",image="busybox"} 0.5 1700000000000
container_memory_usage_bytes{id="/k8s.io/cccc"} 100 1700000000000
container_cpu_usage_seconds_total{cpu="total",id="/system.slice/ssh.service"} 3 1700000000000
`
	if got := cadvisorSeen("k8s.io")([]byte(page)); got != 2 {
		t.Errorf("seen = %d, want 2 distinct /k8s.io/ containers with CPU usage", got)
	}
}

func TestParseCounts(t *testing.T) {
	got, err := parseCounts(" 205,55, 55")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{55, 205}) {
		t.Errorf("counts = %v, want [55 205]", got)
	}
	for _, bad := range []string{"", "0", "10,-1", "ten"} {
		if _, err := parseCounts(bad); err == nil {
			t.Errorf("parseCounts(%q) succeeded", bad)
		}
	}
}

func TestResultArithmetic(t *testing.T) {
	r := result{
		n: 50, interval: 10 * time.Second, elapsed: 200 * time.Second,
		cpu: 2, containerdCPU: 4,
		latencies: []time.Duration{3 * time.Millisecond, time.Millisecond, 9 * time.Millisecond, 2 * time.Millisecond},
	}
	if got := r.cpuPercent(); got != 1 {
		t.Errorf("cpuPercent = %v, want 1 (2 s in 200 s)", got)
	}
	// 2 s over 20 ticks of 50 containers.
	if got := r.perContainerTick(); math.Abs(got-2000) > 1e-9 {
		t.Errorf("perContainerTick = %v µs, want 2000", got)
	}
	if p50, pmax := r.latency(); p50 != 2*time.Millisecond || pmax != 9*time.Millisecond {
		t.Errorf("latency = %v, %v; want 2ms, 9ms", p50, pmax)
	}
	if c := r.cells(); c[11] != "0.50" {
		t.Errorf("ratio cell = %q, want 0.50", c[11])
	}
}
