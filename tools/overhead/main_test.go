package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	if got, _ := fleetscopeSeen([]byte(fleetscopePage), nil); got != 55 {
		t.Errorf("seen = %d, want 55", got)
	}
	if got, _ := fleetscopeSeen([]byte("go_goroutines 3\n"), nil); got != 0 {
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
container_cpu_usage_seconds_total{cpu="total",id="/k8s.io/dddd",image="busybox"} 0.5 1700000000000
`
	ours := map[string]bool{"aaaa": true, "bbbb": true, "cccc": true}
	seen, others := cadvisorSeen("k8s.io")([]byte(page), ours)
	if seen != 2 || others != 1 {
		t.Errorf("seen, others = %d, %d; want 2 of ours with CPU usage and 1 other /k8s.io/ container", seen, others)
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
	cells := r.cells()
	cell := func(name string) string {
		i := slices.Index(tableHeader, name)
		if i < 0 || len(cells) != len(tableHeader) {
			t.Fatalf("no column %q in %d cells", name, len(cells))
		}
		return cells[i]
	}
	if got := cell("agent / containerd"); got != "0.50" {
		t.Errorf("ratio cell = %q, want 0.50", got)
	}
	// Shims not measured: no runtime ratio rather than a wrong one.
	if got := cell("agent / (containerd + shims)"); got != "n/a" {
		t.Errorf("runtime ratio without shims = %q, want n/a", got)
	}
	if got := cell("tick lag ms p50/p99/max (ticks)"); got != "n/a" {
		t.Errorf("tick lag without ticks = %q, want n/a", got)
	}

	r.shims, r.shimCPU = 100, 4
	r.lags = []time.Duration{2 * time.Millisecond, 40 * time.Millisecond, time.Millisecond}
	r.overruns, r.haveOverruns = 3, true
	cells = r.cells()
	if got := cell("agent / (containerd + shims)"); got != "0.250" {
		t.Errorf("runtime ratio = %q, want 0.250 (2 s against 4+4 s)", got)
	}
	if got := cell("+ shims CPU %"); got != "2.00" {
		t.Errorf("shims CPU = %q, want 2.00", got)
	}
	if got := cell("tick lag ms p50/p99/max (ticks)"); got != "2.0 / 40.0 / 40.0 (3)" {
		t.Errorf("tick lag = %q", got)
	}
	if got := cell("overruns"); got != "3" {
		t.Errorf("overruns = %q, want 3", got)
	}
}

func TestLagScrapeCPU(t *testing.T) {
	r := result{elapsed: 60 * time.Second, latencies: make([]time.Duration, 60),
		scrapeCPU: []time.Duration{2 * time.Millisecond, 50 * time.Millisecond, 3 * time.Millisecond}}
	if got := r.lagScrapeCPU(15 * time.Second); got != 0 {
		t.Errorf("without lag scrapes = %v, want 0", got)
	}
	r.lagScrapes = true
	// 60 scrapes where Prometheus would make 4: 56 extra at the median 3 ms.
	if got := r.lagScrapeCPU(15 * time.Second); math.Abs(got-0.168) > 1e-9 {
		t.Errorf("extra scrape CPU = %v s, want 0.168", got)
	}
}

func TestComparisons(t *testing.T) {
	results := []result{
		{n: 55, subject: "fleetscope", elapsed: time.Minute, cpu: 0.3, rssMax: 20 << 20, bytes: 100 << 10},
		{n: 55, subject: "floor", elapsed: time.Minute, cpu: 0.2, rssMax: 8 << 20, bytes: 1 << 10},
		{n: 55, subject: "cadvisor-kubelet", elapsed: time.Minute, cpu: 4.5, rssMax: 60 << 20, bytes: 1024 << 10},
		{n: 55, subject: "cadvisor-fixed", elapsed: 2 * time.Minute, cpu: 12, rssMax: 80 << 20, bytes: 2048 << 10},
		{n: 205, subject: "fleetscope", elapsed: time.Minute, cpu: 1},
		{n: 205, subject: "floor", elapsed: time.Minute, cpu: 0.4},
	}
	rows := comparisons(results)
	if len(rows) != 3 {
		t.Fatalf("rows = %q, want a header and two", rows)
	}
	header := []string{"N", "fleetscope CPU %", "floor CPU %", "fleetscope / floor CPU",
		"cAdvisor (kubelet) CPU %", "cAdvisor (kubelet) / fleetscope CPU",
		"cAdvisor (fixed) CPU %", "cAdvisor (fixed) / fleetscope CPU",
		"RSS max MiB (fleetscope / floor / cAdvisor (kubelet) / cAdvisor (fixed))",
		"/metrics KiB (fleetscope / floor / cAdvisor (kubelet) / cAdvisor (fixed))"}
	if !slices.Equal(rows[0], header) {
		t.Errorf("header = %q, want %q", rows[0], header)
	}
	// cAdvisor fixed ran twice as long: its ratio is of rates, 10 %% / 0.5 %%.
	want := []string{"55", "0.500", "0.333", "1.50×", "7.500", "15.0×", "10.000", "20.0×",
		"20.0 / 8.0 / 60.0 / 80.0", "100 / 1 / 1024 / 2048"}
	if !slices.Equal(rows[1], want) {
		t.Errorf("row = %q, want %q", rows[1], want)
	}
	want = []string{"205", "1.667", "0.667", "2.50×", "n/a", "n/a", "n/a", "n/a",
		"0.0 / 0.0 / n/a / n/a", "0 / 0 / n/a / n/a"}
	if !slices.Equal(rows[2], want) {
		t.Errorf("row = %q, want %q", rows[2], want)
	}
	if rows := comparisons(results[4:5]); rows != nil {
		t.Errorf("the agent alone: %q, want no table", rows)
	}
}

func TestPlanPods(t *testing.T) {
	f := &containerSet{busy: 2}
	size := func(plan []podPlan) (n int) {
		for _, p := range plan {
			n += 1 + len(p.busy)
		}
		return n
	}
	plan := f.planPods(10)
	// 1+1, 1+2, 1+3, then the last pod cut to fit: a lone sandbox.
	if size(plan) != 10 || len(plan) != 4 {
		t.Fatalf("plan = %+v: %d containers in %d pods, want 10 in 4", plan, size(plan), len(plan))
	}
	if !slices.Equal(plan[0].busy, []bool{true}) || !slices.Equal(plan[1].busy, []bool{true, false}) {
		t.Errorf("the first two app containers should be the busy ones: %+v", plan)
	}
	if len(plan[3].busy) != 0 {
		t.Errorf("last pod = %+v, want a sandbox alone", plan[3])
	}
	// Growing goes on with the next pod; no more busy ones.
	more := f.planPods(5)
	if size(more) != 5 || more[0].name != "overhead-0004" || slices.Contains(more[0].busy, true) {
		t.Errorf("next plan = %+v", more)
	}
	if p := f.planPods(1); len(p) != 1 || len(p[0].busy) != 0 {
		t.Errorf("one container left: %+v, want a lone sandbox", p)
	}
}

func TestCadvisorConfig(t *testing.T) {
	for in, want := range map[string][]string{
		"kubelet": {"kubelet"}, "fixed": {"fixed"}, "both": {"kubelet", "fixed"},
	} {
		if got, err := parseCadvisorConfig(in); err != nil || !slices.Equal(got, want) {
			t.Errorf("parseCadvisorConfig(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseCadvisorConfig("dynamic"); err == nil {
		t.Error("parseCadvisorConfig accepted an unknown configuration")
	}
	args, err := cadvisorArgs("cadvisor", "kubelet", "127.0.0.1:9", "/run/c.sock", 30*time.Second, []string{"-v=2"})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(args, " ")
	for _, want := range []string{"-housekeeping_interval 10s", "-max_housekeeping_interval 15s",
		"-allow_dynamic_housekeeping=true", "-containerd /run/c.sock", "-port 9"} {
		if !strings.Contains(got, want) {
			t.Errorf("kubelet args %q lack %q", got, want)
		}
	}
	if !strings.HasSuffix(got, " -v=2") {
		t.Errorf("kubelet args %q: extra flags must come last", got)
	}
	args, err = cadvisorArgs("cadvisor", "fixed", "127.0.0.1:9", "/run/c.sock", 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	got = strings.Join(args, " ")
	if !strings.Contains(got, "-housekeeping_interval 30s -allow_dynamic_housekeeping=false") || strings.Contains(got, "max_housekeeping") {
		t.Errorf("fixed args = %q", got)
	}
}

const selfPage = `# HELP fleetscope_sampler_tick_lag_seconds How late the last sampling tick started.
# TYPE fleetscope_sampler_tick_lag_seconds gauge
fleetscope_sampler_tick_lag_seconds 0.0123
fleetscope_sampler_overruns_total 7
fleetscope_collector_duration_seconds{collector="cgroups"} 0.004211
fleetscope_collector_duration_seconds{collector="host"} 0.000312
fleetscope_sampler_tick_lag_seconds_other 9
`

func TestParseSelfReport(t *testing.T) {
	r := parseSelfReport([]byte(selfPage))
	if !r.haveLag || r.lag != 12300*time.Microsecond {
		t.Errorf("lag = %v, %v; want 12.3ms", r.lag, r.haveLag)
	}
	if !r.haveOver || r.overruns != 7 {
		t.Errorf("overruns = %d, %v; want 7", r.overruns, r.haveOver)
	}
	if r.tick == "" {
		t.Error("no tick fingerprint from the collector durations")
	}
	other := parseSelfReport([]byte(strings.Replace(selfPage, "0.004211", "0.004212", 1)))
	if other.tick == r.tick {
		t.Error("ticks with different durations have the same fingerprint")
	}
	empty := parseSelfReport([]byte("go_goroutines 3\nfleetscope_sampler_tick_lag_seconds NaN\n"))
	if empty.haveLag || empty.haveOver {
		t.Errorf("found lag or overruns in %+v", empty)
	}
}

func TestTickLog(t *testing.T) {
	var l tickLog
	if _, ok := l.overruns(); ok {
		t.Error("overruns known before any scrape")
	}
	l.add(selfReport{lag: time.Millisecond, haveLag: true, overruns: 5, haveOver: true, tick: "a"})
	l.add(selfReport{lag: time.Millisecond, haveLag: true, overruns: 5, haveOver: true, tick: "a"}) // same tick again
	l.add(selfReport{lag: 30 * time.Millisecond, haveLag: true, overruns: 6, haveOver: true, tick: "b"})
	l.add(selfReport{lag: 2 * time.Millisecond, haveLag: true, overruns: 9, haveOver: true, tick: "c"})
	if !slices.Equal(l.lags, []time.Duration{time.Millisecond, 30 * time.Millisecond, 2 * time.Millisecond}) {
		t.Errorf("lags = %v, want each tick once", l.lags)
	}
	if n, ok := l.overruns(); !ok || n != 4 {
		t.Errorf("overruns = %d, %v; want 9-5", n, ok)
	}
	// A restarted agent's counter goes down; that is not a negative count.
	l.add(selfReport{haveOver: true, overruns: 1})
	if n, ok := l.overruns(); !ok || n != 0 {
		t.Errorf("overruns after a reset = %d, %v; want 0, true", n, ok)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if d[0] != 100*time.Millisecond {
		t.Error("percentile sorted its argument")
	}
	// Few values: p99 of three is the largest, p50 the middle one.
	three := []time.Duration{3, 1, 2}
	if percentile(three, 99) != 3 || percentile(three, 50) != 2 {
		t.Errorf("p99, p50 of %v = %v, %v", three, percentile(three, 99), percentile(three, 50))
	}
	if percentile(nil, 99) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}

func TestProcRunNSAndPss(t *testing.T) {
	root := t.TempDir()
	write := func(rel, s string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("9/task/9/schedstat", "1500000 20 3\n")
	write("9/task/10/schedstat", "2500000 0 1\n")
	write("9/smaps_rollup", "5560-7ff0 ---p 00000000 00:00 0 [rollup]\nRss:  1696 kB\nPss:   200 kB\n")
	if ns, err := procRunNS(root, 9); err != nil || ns != 4000000 {
		t.Errorf("procRunNS = %d, %v; want 4000000", ns, err)
	}
	if pss, err := procPss(root, 9); err != nil || pss != 200<<10 {
		t.Errorf("procPss = %d, %v; want 200 KiB", pss, err)
	}
	write("9/task/11/schedstat", "garbage\n")
	if _, err := procRunNS(root, 9); err == nil || !strings.Contains(err.Error(), "11/schedstat") {
		t.Errorf("bad schedstat: err = %v, want one naming the file", err)
	}
	if _, err := procRunNS(root, 10); err == nil {
		t.Error("procRunNS of a missing process succeeded")
	}
	for _, bad := range []string{"Rss: 1 kB\n", "Pss: 1 MB\n", "Pss: x kB\n"} {
		if _, err := parseKBField([]byte(bad), "Pss:"); err == nil {
			t.Errorf("parseKBField(%q) succeeded", bad)
		}
	}
}

func TestShimPids(t *testing.T) {
	const sock = "/run/fsct-1/containerd.sock"
	root := t.TempDir()
	proc := func(pid, comm string, args ...string) {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "comm"), []byte(comm+"\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.Join(args, "\x00")+"\x00"), 0o644)
	}
	proc("100", "containerd-shim", "/usr/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", "abc", "-address", sock)
	proc("101", "containerd-shim", "/usr/bin/containerd-shim-runc-v2", "--address="+sock, "-id", "def")
	proc("102", "containerd-shim", "/usr/bin/containerd-shim-runc-v2", "-address", "/run/containerd/containerd.sock")
	proc("103", "cadvisor", "/usr/bin/cadvisor", "-containerd", sock, "-address", sock)
	proc("104", "containerd", "containerd", "--config", "/tmp/x/config.toml")
	proc("self", "bash", "bash")
	got, err := shimPids(root, sock)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{100, 101}) {
		t.Errorf("shims = %v, want [100 101]", got)
	}
}

func TestHasArgPair(t *testing.T) {
	cl := []byte("shim\x00-id\x00x\x00-address\x00/s.sock\x00")
	if !hasArgPair(cl, "-address", "/s.sock") {
		t.Error("missed -address /s.sock")
	}
	if hasArgPair(cl, "-address", "/other.sock") || hasArgPair(cl, "-id", "/s.sock") {
		t.Error("matched the wrong pair")
	}
	// A value equal to the flag's name is not a flag.
	if hasArgPair([]byte("x\x00address\x00/s.sock\x00"), "-address", "/s.sock") {
		t.Error("matched a bare word as a flag")
	}
}
