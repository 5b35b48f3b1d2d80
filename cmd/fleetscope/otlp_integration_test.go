package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/otlptranslator"

	"github.com/fleetscope/fleetscope/exporters/otlp/otlptest"
	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/internal/testenv"
)

// otlpPod starts a pod (sandbox plus app container sharing its network
// namespace, which gets a veth so that network counters exist) and a CPU
// bound container, and returns their ids.
func otlpPod(t *testing.T, d *testenv.Daemon) (sandbox, app, busy, iface string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const ns = "k8s.io"
	sandbox, app, busy = testenv.RandomID(), testenv.RandomID(), testenv.RandomID()
	pod := func(kind, container string) map[string]string {
		l := map[string]string{"io.kubernetes.pod.name": "otel-0", "io.kubernetes.pod.namespace": "obs",
			"io.kubernetes.pod.uid": "otel-uid", "io.cri-containerd.kind": kind}
		if container != "" {
			l["io.kubernetes.container.name"] = container
		}
		return l
	}
	sbPid, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: sandbox, Args: []string{"sleep", "3600"}, Labels: pod("sandbox", "")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: app, Args: []string{"sleep", "3600"},
		Labels: pod("container", "web"), NetNSFromPID: sbPid, MemoryLimit: 32 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run(ctx, testenv.RunOptions{Namespace: ns, ID: busy, Args: []string{"sh", "-c", "while :; do :; done"},
		CPUQuota: 10000, CPUPeriod: 100000, CPUShares: 262144, CgroupsPath: "/fsot-" + busy[:12]}); err != nil {
		t.Fatal(err)
	}
	veth := "fso" + sandbox[:8]
	if out, err := exec.Command("ip", "link", "add", veth, "type", "veth", "peer", "name", veth+"p").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", veth).Run() })
	if out, err := exec.Command("ip", "link", "set", veth+"p", "netns", strconv.Itoa(sbPid)).CombinedOutput(); err != nil {
		t.Fatalf("ip link set netns: %v %s", err, out)
	}
	return sandbox, app, busy, veth + "p"
}

var (
	otlpNamer = otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes)
	otlpLabel otlptranslator.LabelNamer
)

// promSeries translates an OTLP point to its Prometheus name and labels.
func promSeries(t *testing.T, p otlptest.Point) (string, map[string]string) {
	t.Helper()
	typ := otlptranslator.MetricType(otlptranslator.MetricTypeGauge)
	if p.Kind == "sum" && p.Monotonic {
		typ = otlptranslator.MetricTypeMonotonicCounter
	}
	name, err := otlpNamer.Build(otlptranslator.Metric{Name: p.Name, Unit: p.Unit, Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	l := map[string]string{}
	for k, v := range p.Attributes {
		if v == "" {
			t.Errorf("%s has an empty attribute %s", p.Name, k)
		}
		pk, err := otlpLabel.Build(k)
		if err != nil {
			t.Fatal(err)
		}
		l[pk] = v
	}
	return name, l
}

// exactly finds the /metrics sample with exactly these labels.
func exactly(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	v, m, ok := value(mfs, name, want)
	if !ok || len(m.Label) != len(want) {
		return 0, false
	}
	return v, true
}

func pointsOf(pts []otlptest.Point, name, containerID string) []otlptest.Point {
	var out []otlptest.Point
	for _, p := range pts {
		if p.Name == name && p.Attributes["container.id"] == containerID {
			out = append(out, p)
		}
	}
	return out
}

// The agent, monitoring real containers, exports over OTLP/gRPC (set in
// the config file) and OTLP/HTTP (set by the standard environment
// variables) to in-process receivers; what arrives has the semantic
// convention names, units, instruments and attributes, and the values
// /metrics serves.
func TestOTLPExportAgainstContainerd(t *testing.T) {
	d := testenv.Start(t)
	sandbox, app, busy, iface := otlpPod(t, d)

	for _, proto := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(proto, "/", "_"), func(t *testing.T) {
			var rcv *otlptest.Receiver
			extra := ""
			if proto == "grpc" {
				rcv = otlptest.StartGRPC(t, "")
				extra = fmt.Sprintf("otlp:\n  endpoint: %s\n  protocol: grpc\n  interval: 1s\n  timeout: 1s\n  headers: x-scope=fleet\n", rcv.URL)
			} else {
				rcv = otlptest.StartHTTP(t, "")
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
				t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
				t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-scope=fleet")
				t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "1000")
				t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
			}
			a := startAgent(t, d.Socket, extra)
			a.waitReady(t)

			// Wait for an export that has every container's usage.
			var before map[string]*dto.MetricFamily
			var pts []otlptest.Point
			testenv.Eventually(t, 15*time.Second, "OTLP export with every container", func() error {
				before = a.scrape(t)
				n := rcv.Requests()
				if err := rcv.WaitFor(n+1, 5*time.Second); err != nil {
					return err
				}
				pts = rcv.Latest()
				for _, id := range []string{sandbox, app, busy} {
					if len(pointsOf(pts, "container.memory.usage", id)) != 1 {
						return fmt.Errorf("no container.memory.usage for %s", id[:12])
					}
				}
				if len(pointsOf(pts, "container.cpu.usage", busy)) != 1 {
					return fmt.Errorf("no container.cpu.usage for the busy container yet")
				}
				if len(pointsOf(pts, "k8s.pod.network.io", sandbox)) != 2 || len(pointsOf(pts, "container.filesystem.usage", app)) != 1 {
					return fmt.Errorf("no network or filesystem figures yet")
				}
				return nil
			})
			after := a.scrape(t)

			if rcv.Header("x-scope") != "fleet" {
				t.Errorf("header x-scope = %q", rcv.Header("x-scope"))
			}
			res := pts[0].Resource
			if res["service.name"] != "fleetscope" || res["service.version"] == "" || res["host.name"] == "" || res["k8s.node.name"] == "" {
				t.Errorf("resource = %v", res)
			}
			if proto != "grpc" && res["deployment.environment.name"] != "test" {
				t.Errorf("OTEL_RESOURCE_ATTRIBUTES not applied: %v", res)
			}

			// Semantic-convention metrics: unit, instrument, attributes.
			type want struct {
				name, unit, kind string
				id               string
				attrs            map[string]string
			}
			for _, w := range []want{
				{"container.cpu.time", "s", "sum", busy, map[string]string{"cpu.mode": "user"}},
				{"container.cpu.time", "s", "sum", busy, map[string]string{"cpu.mode": "system"}},
				{"container.cpu.usage", "{cpu}", "gauge", busy, nil},
				{"container.memory.usage", "By", "gauge", app, nil},
				{"container.memory.working_set", "By", "gauge", app, nil},
				{"container.memory.rss", "By", "gauge", app, nil},
				{"container.disk.io", "By", "sum", app, map[string]string{"disk.io.direction": "read"}},
				{"container.disk.io", "By", "sum", app, map[string]string{"disk.io.direction": "write"}},
				{"k8s.pod.network.io", "By", "sum", sandbox, map[string]string{"network.io.direction": "receive", "network.interface.name": iface}},
				{"k8s.pod.network.io", "By", "sum", sandbox, map[string]string{"network.io.direction": "transmit", "network.interface.name": iface}},
				{"container.filesystem.usage", "By", "gauge", app, nil},
				{"container.uptime", "s", "gauge", app, nil},
				{"k8s.container.cpu.limit.current", "{cpu}", "gauge", busy, nil},
				{"k8s.container.cpu.request.current", "{cpu}", "gauge", busy, nil},
				{"k8s.container.memory.limit.current", "By", "gauge", app, nil},
				{"fleetscope.container.info", "", "gauge", app, map[string]string{"k8s.pod.uid": "otel-uid", "k8s.container.name": "web"}},
			} {
				var found *otlptest.Point
				for _, p := range pointsOf(pts, w.name, w.id) {
					match := true
					for k, v := range w.attrs {
						match = match && p.Attributes[k] == v
					}
					if match {
						found = &p
						break
					}
				}
				if found == nil {
					t.Errorf("no %s %v for %s", w.name, w.attrs, w.id[:12])
					continue
				}
				if found.Unit != w.unit || found.Kind != w.kind || (w.kind == "sum" && (!found.Monotonic || !found.Cumulative)) {
					t.Errorf("%s: unit %q kind %s monotonic %v cumulative %v; want %q %s, cumulative", w.name, found.Unit, found.Kind, found.Monotonic, found.Cumulative, w.unit, w.kind)
				}
				if w.name != "k8s.pod.network.io" {
					if found.Attributes["k8s.pod.name"] == "" && w.id != busy {
						t.Errorf("%s lacks k8s.pod.name: %v", w.name, found.Attributes)
					}
					// A plain containerd container (busy) has no Kubernetes
					// container name; container.id alone identifies it.
					if _, ok := found.Attributes["k8s.container.name"]; !ok && w.id != busy {
						t.Errorf("%s lacks k8s.container.name: %v", w.name, found.Attributes)
					}
					if found.Attributes["container.id"] != w.id {
						t.Errorf("%s lacks container.id %s: %v", w.name, w.id[:12], found.Attributes)
					}
				}
			}
			if p := pointsOf(pts, "container.memory.usage", app); len(p) == 1 &&
				(p[0].Attributes["k8s.pod.name"] != "otel-0" || p[0].Attributes["k8s.namespace.name"] != "obs" || p[0].Attributes["k8s.container.name"] != "web") {
				t.Errorf("app identity = %v", p[0].Attributes)
			}

			// Every series of the three containers is on /metrics under the
			// translated name and labels, with a consistent value:
			// counters between the scrapes around the export, limits and
			// metadata equal, memory within 20%.
			checked := 0
			for _, p := range pts {
				id := p.Attributes["container.id"]
				if id != sandbox && id != app && id != busy {
					continue
				}
				name, labels := promSeries(t, p)
				v1, ok1 := exactly(before, name, labels)
				v2, ok2 := exactly(after, name, labels)
				if !ok1 && !ok2 {
					t.Errorf("OTLP %s %v: no %s%v on /metrics", p.Name, p.Attributes, name, labels)
					continue
				}
				if !ok1 || !ok2 {
					continue // appeared or analysed between the scrapes
				}
				checked++
				lo, hi := min(v1, v2), max(v1, v2)
				switch {
				case p.Kind == "sum", p.Name == "container.uptime":
					if p.Value < lo || p.Value > hi {
						t.Errorf("%s %v = %v, /metrics went %v -> %v", p.Name, p.Attributes, p.Value, v1, v2)
					}
				case strings.HasPrefix(p.Name, "container.memory."), p.Name == "fleetscope.container.pids":
					if p.Value < lo*0.8 || p.Value > hi*1.2 {
						t.Errorf("%s %v = %v, /metrics %v, %v", p.Name, p.Attributes, p.Value, v1, v2)
					}
				case p.Name == "container.cpu.usage":
					if p.Value < 0 || p.Value > 1 {
						t.Errorf("%s %v = %v", p.Name, p.Attributes, p.Value)
					}
				case p.Name == "container.filesystem.usage", p.Name == "fleetscope.sampler.open_files":
				default:
					if v1 == v2 && p.Value != v1 {
						t.Errorf("%s %v = %v, /metrics %v", p.Name, p.Attributes, p.Value, v1)
					}
				}
			}
			if checked < 30 {
				t.Errorf("only %d series compared", checked)
			}

			// The agent's own figures are as of its latest sample, which
			// may have been taken just before the first export finished.
			testenv.Eventually(t, 5*time.Second, "exported points counted", func() error {
				if v, _, ok := value(a.scrape(t), schema.OTLPExportPoints.PromName(), nil); !ok || v <= 0 {
					return fmt.Errorf("%s = %v (present %v)", schema.OTLPExportPoints.PromName(), v, ok)
				}
				return nil
			})
			if v, _, ok := value(after, schema.OTLPExportFailures.PromName(), nil); !ok || v != 0 {
				t.Errorf("%s = %v (present %v), want 0", schema.OTLPExportFailures.PromName(), v, ok)
			}

			// The receiver goes away: SIGTERM still stops the agent in 5 s.
			rcv.Stop()
			time.Sleep(2500 * time.Millisecond)
			stopAgent(t, a)
		})
	}
}

// collectorBinary returns an OpenTelemetry Collector built with the
// official builder from testdata/collector-builder.yaml, or the prebuilt
// binary named by FLEETSCOPE_OTELCOL.
func collectorBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FLEETSCOPE_OTELCOL"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("FLEETSCOPE_OTELCOL: %v", err)
		}
		return p
	}
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv(testenv.IntegrationEnv) == "1" {
			t.Fatalf("building the OpenTelemetry Collector: %s", msg)
		}
		t.Skipf("cannot build the OpenTelemetry Collector (set FLEETSCOPE_OTELCOL to a prebuilt one): %s", msg)
	}
	manifest, err := os.ReadFile("../../exporters/otlp/testdata/collector-builder.yaml")
	if err != nil {
		unavailable("%v", err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "dist")
	m := strings.Replace(string(manifest), "output_path: ./otelcol", "output_path: "+out, 1)
	if m == string(manifest) {
		unavailable("manifest has no output_path: ./otelcol line")
	}
	if err := os.WriteFile(filepath.Join(dir, "builder.yaml"), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	timeout := 25 * time.Minute
	if dl, ok := t.Deadline(); ok {
		timeout = time.Until(dl) - 3*time.Minute
	}
	if timeout < time.Minute {
		unavailable("not enough time left before the test deadline (-timeout) to build it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "run", "go.opentelemetry.io/collector/cmd/builder@v0.161.0", "--config", filepath.Join(dir, "builder.yaml"))
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		tail := string(b)
		if len(tail) > 3000 {
			tail = tail[len(tail)-3000:]
		}
		unavailable("%v after %v\n%s", err, time.Since(start).Round(time.Second), tail)
	}
	t.Logf("built the OpenTelemetry Collector in %v", time.Since(start).Round(time.Second))
	return filepath.Join(out, "otelcol-fleetscope-test")
}

// collectorProc is a running OpenTelemetry Collector.
type collectorProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startCollector(t *testing.T, bin, cfgPath, addr, logPath string) *collectorProc {
	t.Helper()
	c, err := tryCollector(t, bin, cfgPath, addr, logPath)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// errPortTaken is a collector that exited because a port it was given was
// taken between freePort's check and its bind: parallel tests and
// outgoing connections draw from the same range.
var errPortTaken = errors.New("a port was taken before the collector bound it")

// tryCollector starts the collector and waits until addr answers; it
// returns an error wrapping errPortTaken when the collector exited because
// a port was in use, so that the caller can try new ones.
func tryCollector(t *testing.T, bin, cfgPath, addr, logPath string) (*collectorProc, error) {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	c := &collectorProc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(c.done) }()
	t.Cleanup(c.stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-c.done:
			b, _ := os.ReadFile(logPath)
			if strings.Contains(string(b), "address already in use") {
				return nil, fmt.Errorf("%w:\n%s", errPortTaken, tail(string(b), 5))
			}
			return nil, fmt.Errorf("collector exited:\n%s", b)
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("collector not listening on %s after 20s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *collectorProc) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// A real OpenTelemetry Collector receives the agent's exports and
// forwards them to an in-process receiver; it is stopped for 30 s and
// started again, and the same agent process goes on sampling, serving
// /metrics, counting failures, and exporting once the collector is back.
func TestOTLPThroughCollector(t *testing.T) {
	testenv.Need(t)
	bin := collectorBinary(t)
	d := testenv.Start(t)
	_, app, busy, _ := otlpPod(t, d)

	sink := otlptest.StartGRPC(t, "")
	addr := freePort(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "otelcol.yaml")
	// The agent's default protocol, http/protobuf, into the collector's
	// HTTP receiver.
	cfg := fmt.Sprintf(`receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
exporters:
  otlp_grpc:
    endpoint: %s
    tls:
      insecure: true
  debug:
    verbosity: basic
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [otlp_grpc, debug]
`, addr, sink.Addr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "otelcol.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			lines := strings.Split(string(b), "\n")
			if len(lines) > 30 {
				lines = lines[len(lines)-30:]
			}
			t.Logf("collector log:\n%s", strings.Join(lines, "\n"))
		}
	})
	col := startCollector(t, bin, cfgPath, addr, logPath)

	a := startAgent(t, d.Socket, fmt.Sprintf("otlp:\n  endpoint: http://%s\n  interval: 1s\n  timeout: 1s\n", addr))
	a.waitReady(t)

	cpuOf := func(pts []otlptest.Point) (float64, bool) {
		for _, p := range pointsOf(pts, "container.cpu.time", busy) {
			if p.Attributes["cpu.mode"] == "user" {
				return p.Value, true
			}
		}
		return 0, false
	}
	var cpuBefore float64
	testenv.Eventually(t, 20*time.Second, "container metrics through the collector", func() error {
		pts := sink.Latest()
		v, ok := cpuOf(pts)
		if !ok || len(pointsOf(pts, "container.memory.usage", app)) != 1 {
			return fmt.Errorf("%d requests, none with the containers' metrics yet", sink.Requests())
		}
		if pts[0].Resource["service.name"] != "fleetscope" {
			return fmt.Errorf("resource %v", pts[0].Resource)
		}
		cpuBefore = v
		return nil
	})

	// The collector goes away for 30 s.
	col.stop()
	down := time.Now()
	requests := sink.Requests()
	mfs := a.scrape(t)
	scrapeCPU, _, _ := value(mfs, "container_cpu_time_seconds_total", map[string]string{"container_id": busy, "cpu_mode": "user"})
	var rss []int
	for time.Since(down) < 30*time.Second {
		time.Sleep(5 * time.Second)
		rss = append(rss, rssKiB(t, a.cmd.Process.Pid))
		select {
		case err := <-a.done:
			t.Fatalf("agent exited while the collector was down: %v", err)
		default:
		}
	}
	mfs = a.scrape(t)
	if v, _, _ := value(mfs, "container_cpu_time_seconds_total", map[string]string{"container_id": busy, "cpu_mode": "user"}); v <= scrapeCPU {
		t.Errorf("sampling stalled while the collector was down: cpu time %v -> %v", scrapeCPU, v)
	}
	failures, _, _ := value(mfs, schema.OTLPExportFailures.PromName(), nil)
	if failures < 5 {
		t.Errorf("%s = %v after 30 s without a collector, want at least 5", schema.OTLPExportFailures.PromName(), failures)
	}
	// Failed exports are dropped, not queued: memory stays flat.
	if grow := rss[len(rss)-1] - rss[0]; grow > 16<<10 {
		t.Errorf("agent RSS grew by %d KiB while the collector was down (%v)", grow, rss)
	}
	if n := sink.Requests(); n > requests+1 {
		t.Errorf("%d requests arrived while the collector was down", n-requests)
	}

	// Back on the same address: exports resume, with fresh values.
	startCollector(t, bin, cfgPath, addr, logPath)
	testenv.Eventually(t, 30*time.Second, "exports resume", func() error {
		v, ok := cpuOf(sink.Latest())
		if sink.Requests() <= requests || !ok || v <= cpuBefore {
			return fmt.Errorf("%d requests since the restart, cpu time %v (before %v)", sink.Requests()-requests, v, cpuBefore)
		}
		return nil
	})
	t.Logf("%v failed exports while the collector was down", failures)
	stopAgent(t, a)
}

// rssKiB reads a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
