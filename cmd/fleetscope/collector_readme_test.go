package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/exporters/otlp/otlptest"
	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/internal/testenv"
)

// otlpDoc is the page holding the OpenTelemetry Collector configurations
// users are told to run.
const otlpDoc = "../../docs/otlp.md"

// docYAML returns the first yaml block after heading in the OTLP page,
// with each of the replacements (old, new, ...) made exactly once: the test
// runs what the documentation tells users to run, only on other addresses.
func docYAML(t *testing.T, heading string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(otlpDoc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no heading %q", otlpDoc, heading)
	}
	s = s[i:]
	start := strings.Index(s, "```yaml\n")
	if start < 0 {
		t.Fatalf("%s: no yaml block after %q", otlpDoc, heading)
	}
	s = s[start+len("```yaml\n"):]
	s = s[:strings.Index(s, "```")]
	for i := 0; i+1 < len(replace); i += 2 {
		if n := strings.Count(s, replace[i]); n != 1 {
			t.Fatalf("%s block after %q holds %q %d times, want once", otlpDoc, heading, replace[i], n)
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	return s
}

// The collectors of parallel tests must not all serve their own metrics
// on the default port.
const service, quietService = "\nservice:\n", "\nservice:\n  telemetry:\n    metrics:\n      level: none\n"

// runCollector starts the collector with the config mk makes from fresh
// ports, its OTLP/HTTP receiver on the httpAddr mk returns, and logs its
// output on failure. A port taken before the collector bound it is tried
// again with new ones, up to three times.
func runCollector(t *testing.T, bin string, mk func() (cfg, httpAddr string)) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		cfg, httpAddr := mk()
		dir := t.TempDir()
		path, logPath := filepath.Join(dir, "otelcol.yaml"), filepath.Join(dir, "otelcol.log")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := tryCollector(t, bin, path, httpAddr, logPath)
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					b, _ := os.ReadFile(logPath)
					t.Logf("collector config:\n%s\ncollector log (tail):\n%s", cfg, tail(string(b), 30))
				}
			})
			return
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatalf("collector config:\n%s\n%v", cfg, err)
		}
		t.Logf("attempt %d: %v; again with new ports", attempt, err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// The collector configurations docs/otlp.md gives, run as written against a
// real Collector: into Prometheus, every series keeps the name and labels
// the agent's /metrics has, plus the node label the dashboard and alerts
// use; towards an OTLP backend, each container's points arrive under a
// resource of their own, as the kubeletstats receiver sends them.
func TestDocsCollectorConfigs(t *testing.T) {
	testenv.Need(t)
	bin := collectorBinary(t)
	d := testenv.Start(t)
	_, app, busy, _ := otlpPod(t, d)

	t.Run("into Prometheus", func(t *testing.T) {
		t.Parallel()
		var httpAddr, promAddr string
		runCollector(t, bin, func() (string, string) {
			grpcAddr := freePort(t)
			httpAddr, promAddr = freePort(t), freePort(t)
			return docYAML(t, "## Into Prometheus under the dashboard's names",
				"0.0.0.0:4317", grpcAddr, "0.0.0.0:4318", httpAddr, "0.0.0.0:8889", promAddr, service, quietService), httpAddr
		})
		a := startAgent(t, d.Socket, fmt.Sprintf("host:\n  node_name: node-prom\notlp:\n  endpoint: http://%s\n  interval: 1s\n  timeout: 1s\n", httpAddr))
		a.waitReady(t)

		checks := []struct {
			m     *schema.Metric
			want  map[string]string
			equal bool // a gauge that does not move: values must match
		}{
			{&schema.CPUTime, map[string]string{"container_id": busy, "cpu_mode": "user"}, false},
			{&schema.MemoryWorkingSet, map[string]string{"container_id": app}, false},
			{&schema.MemoryLimit, map[string]string{"container_id": app}, true},
			{&schema.ContainerInfo, map[string]string{"container_id": app}, true},
			{&schema.HostCPUs, nil, true},
		}
		testenv.Eventually(t, 40*time.Second, "the agent's series through the collector into Prometheus", func() error {
			col, err := scrapeURL("http://" + promAddr + "/metrics")
			if err != nil {
				return err
			}
			own := a.scrape(t)
			for _, c := range checks {
				name := c.m.PromName()
				v, m, ok := value(own, name, c.want)
				if !ok {
					return fmt.Errorf("the agent has no %s%v", name, c.want)
				}
				want := map[string]string{"node": "node-prom"}
				for _, lp := range m.Label {
					want[lp.GetName()] = lp.GetValue()
				}
				cv, _, ok := value(col, name, want)
				if !ok {
					return fmt.Errorf("the collector has no %s with the agent's labels and node: want %v, has %d series of that name", name, want, len(seriesOf(col, name)))
				}
				if c.equal && cv != v {
					return fmt.Errorf("%s%v: %v through the collector, %v on /metrics", name, c.want, cv, v)
				}
			}
			return nil
		})
	})

	t.Run("a resource per container", func(t *testing.T) {
		t.Parallel()
		sink := otlptest.StartGRPC(t, "")
		var httpAddr string
		runCollector(t, bin, func() (string, string) {
			grpcAddr := freePort(t)
			httpAddr = freePort(t)
			return docYAML(t, "## A resource per container",
				"0.0.0.0:4317", grpcAddr, "0.0.0.0:4318", httpAddr,
				// The test's backend is plaintext.
				"backend.example:4317", sink.Addr+"\n    tls:\n      insecure: true", service, quietService), httpAddr
		})
		a := startAgent(t, d.Socket, fmt.Sprintf("host:\n  node_name: node-res\notlp:\n  endpoint: http://%s\n  interval: 1s\n  timeout: 1s\n", httpAddr))
		a.waitReady(t)

		testenv.Eventually(t, 40*time.Second, "a resource per container", func() error {
			pts := sink.Latest()
			var mem, cpu, host *otlptest.Point
			for i := range pts {
				p := &pts[i]
				switch {
				case p.Name == schema.MemoryUsage.Name && p.Resource["container.id"] == app:
					mem = p
				case p.Name == schema.CPUTime.Name && p.Resource["container.id"] == busy:
					cpu = p
				case p.Name == schema.HostCPUs.Name:
					host = p
				}
			}
			if mem == nil || cpu == nil || host == nil {
				return fmt.Errorf("%d requests; memory of the app, CPU of the busy container and the host's CPUs not all under their resources yet", sink.Requests())
			}
			// containerd.namespace is set only where namespaces share an ID.
			wantRes := map[string]string{"k8s.container.name": "web", "k8s.pod.name": "otel-0", "k8s.namespace.name": "obs",
				"k8s.node.name": "node-res", "service.name": "fleetscope"}
			for k, v := range wantRes {
				if mem.Resource[k] != v {
					return fmt.Errorf("the app's resource %v, want %s=%s", mem.Resource, k, v)
				}
			}
			for _, p := range []*otlptest.Point{mem, cpu} {
				for _, k := range schema.ContainerAttributes {
					if _, ok := p.Attributes[k]; ok {
						return fmt.Errorf("%s still has %s on the point: %v", p.Name, k, p.Attributes)
					}
				}
			}
			if cpu.Attributes["cpu.mode"] == "" {
				return fmt.Errorf("CPU point lost cpu.mode: %v", cpu.Attributes)
			}
			if _, ok := host.Resource["container.id"]; ok || host.Resource["k8s.node.name"] != "node-res" {
				return fmt.Errorf("the host's resource %v, want the agent's, without a container", host.Resource)
			}
			return nil
		})
	})
}

// scrapeURL fetches and parses a Prometheus text exposition.
func scrapeURL(url string) (map[string]*dto.MetricFamily, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(strings.NewReader(string(body)))
}

func seriesOf(mfs map[string]*dto.MetricFamily, name string) []*dto.Metric {
	if mf := mfs[name]; mf != nil {
		return mf.Metric
	}
	return nil
}
