package promtext

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/internal/golden"
	"github.com/fleetscope/fleetscope/model"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

type fixed struct{ s *model.Snapshot }

func (f fixed) Snapshot() *model.Snapshot { return f.s }

func testSnapshot() *model.Snapshot {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	sandbox := &model.Meta{Namespace: "k8s.io", ID: "aaaa", Name: "POD", Image: "registry.k8s.io/pause:3.9", Runtime: "io.containerd.runc.v2",
		Sandbox: true, Pod: model.Pod{Name: "web-1", Namespace: "shop", UID: "uid-1"},
		Workload: model.Workload{Kind: "Deployment", Name: "web", ReplicaSet: "web-5d8c"}}
	app := &model.Meta{Namespace: "k8s.io", ID: "bbbb", Name: "nginx", Image: "docker.io/library/nginx:1.27", Runtime: "io.containerd.runc.v2",
		Pod:      model.Pod{Name: "web-1", Namespace: "shop", UID: "uid-1", ContainerName: "nginx"},
		Workload: model.Workload{Kind: "Deployment", Name: "web", ReplicaSet: "web-5d8c"},
		Spec:     model.Limits{CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, CPUShares: 512, MemoryBytes: 256 << 20},
		// Two keys with one Prometheus name: the first wins.
		Labels: []model.Label{{Key: "app.kubernetes.io/name", Value: "shop"}, {Key: "app_kubernetes_io_name", Value: "dup"},
			{Key: "team", Value: `pay"ments`}}}
	stopped := &model.Meta{Namespace: "default", ID: "cccc", Name: "cccc", Image: "docker.io/library/busybox:latest", Runtime: "io.containerd.runc.v2",
		Workload: model.Workload{Kind: "Container", Name: "cccc"}}
	all := model.HaveCPU | model.HaveCPUMode | model.HaveThrottling | model.HaveMemory | model.HaveMemoryStat | model.HaveIO | model.HavePids
	ifs := []model.Interface{{Name: "eth0", RxBytes: 1000, RxPackets: 10, TxBytes: 2000, TxPackets: 20, RxDropped: 1}}
	return &model.Snapshot{
		Time: t0, Interval: 10 * time.Second, NodeName: "node-a", Currency: "USD",
		Price: &model.NodePrice{From: "table", Source: "the built-in price table m5.large", InstanceType: "m5.large", Provider: "aws", Spot: true,
			NodeHourly: 0.035, VCPUHour: 0.0121, GiBHour: 0.00133, GPUHour: 0.105},
		Containers: []model.Container{
			{Meta: stopped, Network: -1},
			{Meta: sandbox, Running: true, Sampled: true, Network: 0, StartedAt: t0.Add(-time.Hour),
				Usage: model.Usage{Have: all, CPUNanos: 2e7, CPUUserNanos: 1e7, CPUSystemNanos: 1e7, MemoryUsage: 1 << 20, MemoryWorkingSet: 1 << 19, Pids: 1}},
			{Meta: app, Running: true, Sampled: true, Network: 0, StartedAt: t0.Add(-30 * time.Minute), HaveRates: true, CPUCores: 0.25,
				Limits:    model.Limits{CPUQuotaMicros: 50000, CPUPeriodMicros: 100000, CPUShares: 512, MemoryBytes: 256 << 20},
				HaveLayer: true, LayerBytes: 12345,
				Analysis: &analysis.Result{ObservedFor: 48 * time.Hour, IdleRatio1h: 1, IdleRatio24h: 0.95, IdleRatio7d: math.NaN(),
					Bursts:      analysis.Bursts{Count: 3, P50: 2 * time.Minute, P95: 4 * time.Minute, Max: 5 * time.Minute},
					Reserved:    analysis.Reserved{CPUCores: 0.5, MemoryBytes: 256 << 20, CPUSource: "limit", MemorySource: "limit"},
					CostPerHour: 0.0213525, IdleCostPerHour: 0.0202849, OverReservationWastePerMonth: 3.5,
					Verdict: analysis.VerdictFunction, Score: 87, Platform: "function",
					Reasons:            []analysis.Reason{{Code: "idle_ratio_high", Text: "idle 95%"}},
					Blockers:           []analysis.Reason{{Code: "burst_too_long", Text: "x"}},
					CurrentMonthlyCost: 15.59, ServerlessMonthlyCost: 0.8, SavingsPerMonth: 14.79},
				Usage: model.Usage{Have: all, CPUNanos: 9e9, CPUUserNanos: 6e9, CPUSystemNanos: 3e9,
					CPUPeriods: 100, CPUThrottledPeriods: 7, CPUThrottledNanos: 5e8,
					MemoryUsage: 100 << 20, MemoryWorkingSet: 80 << 20, MemoryRSS: 60 << 20, MemoryCache: 40 << 20,
					IOReadBytes: 4096, IOWriteBytes: 8192, IOReadOps: 1, IOWriteOps: 2, Pids: 5},
				HaveEvidence: true, Evidence: model.Evidence{RecordedSeconds: 172800, IdleSeconds: 164160, DownSeconds: 120, ListeningSeconds: 172740,
					SampledSeconds: 172795.5, BusySeconds: 9000.25, BusyCPUSeconds: 2250.125, BusyRuns: 310, Restarts: 2}},
		},
		Distributions: []model.WorkloadDistributions{{Namespace: "shop", Kind: "Deployment", Name: "web", Container: "nginx", Since: t0.Add(-48 * time.Hour),
			CPU:        model.Histogram{Bounds: schema.WorkloadCPU.Bounds, Counts: []uint64{2736, 120, 0, 24, 0, 0, 0, 0, 0}, Sum: 18.5},
			WorkingSet: model.Histogram{Bounds: schema.WorkloadWorkingSet.Bounds, Counts: []uint64{0, 2880, 0, 0, 0, 0, 0, 0, 0, 0}, Sum: 2880 * 80 << 20},
			Bursts:     model.Histogram{Bounds: schema.WorkloadBursts.Bounds, Counts: []uint64{40, 20, 3, 0, 0, 0, 0}, Sum: 5400}}},
		Networks:   []model.Network{{Owner: 1, Interfaces: ifs, HaveTCP: true, TCPPassiveOpens: 42}},
		Interfaces: ifs,
		Runs: []model.WorkloadRuns{{Namespace: "shop", Kind: "CronJob", Name: "report",
			Stats: analysis.RunStats{Count: 24, Window: 24 * time.Hour, DurationP50: time.Minute, DurationP95: 70 * time.Second,
				DurationMax: 80 * time.Second, DurationMean: time.Minute},
			Verdict: analysis.RunVerdict{Verdict: analysis.VerdictFunction, Platform: "function", ContainerMonthlyCost: 9, ServerlessMonthlyCost: 2}}},

		HostOK: true,
		Host:   model.Host{CPUs: 2, CPUUserSeconds: 100, CPUSystemSeconds: 50, CPUIdleSeconds: 1000, MemoryTotal: 8 << 30, MemoryAvailable: 6 << 30, FilesystemPath: "/", FilesystemSize: 100 << 30, FilesystemUsed: 40 << 30},
		Self: model.Self{
			Collectors:   []model.CollectorStatus{{Name: "cgroups", Duration: 2 * time.Millisecond, Success: true}},
			TickLag:      time.Millisecond,
			ContainerdUp: true, Running: 2, Stopped: 1, OpenFiles: 14,
		},
	}
}

// gather renders w and checks that the text is valid exposition format
// (families contiguous, no duplicate series) by parsing it back.
func gather(t testing.TB, w *Writer) []byte {
	t.Helper()
	out := w.Append(nil)
	if _, err := parse(out); err != nil {
		t.Fatalf("invalid exposition: %v\n%s", err, out)
	}
	// The Go version in the build info series changes with the toolchain.
	return []byte(strings.ReplaceAll(string(out), `goversion="`+goVersion()+`"`, `goversion="GO"`))
}

func parse(text []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(prommodel.UTF8Validation)
	return p.TextToMetricFamilies(bytes.NewReader(text))
}

func goVersion() string { return runtime.Version() }

// count returns how many series of family name w writes.
func count(t testing.TB, w *Writer, name string) int {
	t.Helper()
	mfs, err := parse(w.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	if name == "" {
		n := 0
		for _, mf := range mfs {
			n += len(mf.Metric)
		}
		return n
	}
	if mf := mfs[name]; mf != nil {
		return len(mf.Metric)
	}
	return 0
}

func TestGolden(t *testing.T) {
	got := gather(t, New(fixed{testSnapshot()}, Options{Version: "1.2.3"}))
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
		t.Errorf("/metrics differs from %s (go test -update rewrites it after a deliberate change):\n%s", path, golden.Diff(string(want), string(got)))
	}
}

func TestLint(t *testing.T) {
	problems, err := promlint.New(bytes.NewReader(New(fixed{testSnapshot()}, Options{Version: "1.2.3"}).Append(nil))).Lint()
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
	c := New(src, Options{Version: "1.2.3"})
	before := count(t, c, "container_memory_usage_bytes")
	if before != 2 {
		t.Fatalf("memory series = %d, want 2", before)
	}
	next := *s
	next.Containers = s.Containers[:2] // the app container is gone
	next.Networks = nil
	src.s = &next
	if got := count(t, c, "container_memory_usage_bytes"); got != 1 {
		t.Fatalf("memory series after removal = %d, want 1", got)
	}
	if got := count(t, c, "fleetscope_container_info"); got != 2 {
		t.Fatalf("info series after removal = %d, want 2", got)
	}
	// The stopped container (index 0) has info but no usage.
	out := string(gather(t, c))
	if strings.Contains(out, `container_memory_usage_bytes{container_id="cccc"`) {
		t.Fatal("usage exported for a container that was not sampled")
	}
}

func TestNetworkNotMultipliedByContainers(t *testing.T) {
	got := count(t, New(fixed{testSnapshot()}, Options{Version: "x"}), "k8s_pod_network_io_bytes_total")
	if got != 2 { // one interface × two directions, once for the pod
		t.Fatalf("network io series = %d, want 2", got)
	}
}

func TestNoSnapshotYet(t *testing.T) {
	if got := count(t, New(fixed{nil}, Options{Version: "x"}), ""); got != 1 {
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
	w := New(fixed{s}, Options{Version: "x"})
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = w.Append(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "bytes/scrape")
}

// A metric over its series cap loses the series past the cap, never the
// scrape, and says how many it dropped.
func TestSeriesCap(t *testing.T) {
	w := New(fixed{testSnapshot()}, Options{Version: "x", MaxSeriesPerMetric: 1})
	mfs, err := parse(w.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, mf := range mfs {
		if name != "fleetscope_exporter_dropped_series" && len(mf.Metric) > 1 {
			t.Errorf("%s has %d series over a cap of 1", name, len(mf.Metric))
		}
	}
	dropped := map[string]float64{}
	for _, m := range mfs["fleetscope_exporter_dropped_series"].GetMetric() {
		dropped[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	// Three containers have info, two are sampled with two CPU modes each.
	want := map[string]float64{"fleetscope_container_info": 2, "container_cpu_time_seconds_total": 3, "fleetscope_host_cpu_time_seconds_total": 4}
	for name, n := range want {
		if dropped[name] != n {
			t.Errorf("dropped %s = %v, want %v (all: %v)", name, dropped[name], n, dropped)
		}
	}
	if _, ok := dropped["fleetscope_build_info"]; ok {
		t.Error("a metric with one series reported drops")
	}
	// Without a cap nothing is dropped and the self-metric is absent.
	if n := count(t, New(fixed{testSnapshot()}, Options{Version: "x"}), "fleetscope_exporter_dropped_series"); n != 0 {
		t.Errorf("dropped_series present without drops: %d series", n)
	}
}

// Only the labels discovery let through appear, on the info series only.
func TestContainerLabelsOnInfoOnly(t *testing.T) {
	out := string(gather(t, New(fixed{testSnapshot()}, Options{Version: "x"})))
	for _, line := range strings.Split(out, "\n") {
		has := strings.Contains(line, "container_label_")
		if has != (strings.HasPrefix(line, "fleetscope_container_info{") && strings.Contains(line, `container_id="bbbb"`)) {
			t.Errorf("container labels on the wrong series: %s", line)
		}
	}
	if want := `container_label_app_kubernetes_io_name="shop",container_label_team="pay\"ments"}`; !strings.Contains(out, want) {
		t.Errorf("info series lacks %s:\n%s", want, out)
	}
}

// The handler serves the same text plain and gzipped, followed by the
// extra gatherer's families, to concurrent scrapes.
func TestHandler(t *testing.T) {
	w := New(fixed{testSnapshot()}, Options{Version: "x"})
	want := string(w.Append(nil))
	reg := prom.NewRegistry()
	reg.MustRegister(prom.NewGauge(prom.GaugeOpts{Name: "extra_gauge", Help: "An extra family."}))
	srv := httptest.NewServer(Handler(w, reg, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			gzipped := i%2 == 0
			if gzipped {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body io.Reader = resp.Body
			if gzipped {
				if resp.Header.Get("Content-Encoding") != "gzip" {
					t.Error("no gzip encoding")
					return
				}
				if body, err = gzip.NewReader(resp.Body); err != nil {
					t.Error(err)
					return
				}
			}
			got, err := io.ReadAll(body)
			if err != nil {
				t.Error(err)
				return
			}
			if !strings.HasPrefix(string(got), want) || !strings.Contains(string(got[len(want):]), "\nextra_gauge 0\n") {
				t.Errorf("gzip %v: body is not the snapshot text followed by the extra families:\n%s", gzipped, got)
			}
			if _, err := parse(got); err != nil {
				t.Errorf("gzip %v: invalid exposition: %v", gzipped, err)
			}
		}()
	}
	wg.Wait()
}

func BenchmarkWriteTo(b *testing.B) {
	s := testSnapshot()
	for len(s.Containers) < 205 {
		c := s.Containers[2]
		m := *c.Meta
		m.ID = fmt.Sprintf("%064d", len(s.Containers))
		c.Meta = &m
		s.Containers = append(s.Containers, c)
	}
	w := New(fixed{s}, Options{Version: "x", MaxSeriesPerMetric: 20000})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"plain-value_1.2":  "plain-value_1.2",
		`a"b`:              `a\"b`,
		`\`:                `\\`,
		"x\ny":             `x\ny`,
		"\"\\\n":           `\"\\\n`,
		"tail\\":           `tail\\`,
		"ünïcode\n\"end\"": `ünïcode\n\"end\"`,
	} {
		if got := string(appendEscaped([]byte("<"), in)); got != "<"+want {
			t.Errorf("appendEscaped(%q) = %q, want %q", in, got, "<"+want)
		}
	}
}
