package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/exporters/otlp/otlptest"
	"github.com/fleetscope/fleetscope/internal/testenv"
)

// floodPairs is the tenant's flood: 5,000 veth pairs, both ends in its
// pod's network namespace, 10,000 interfaces (about 5 s to make here).
const floodPairs = 5000

// floodKept is what the agent keeps of one namespace's interfaces one by
// one (the collector's bound).
const floodKept = 16

// podWithEth0 starts a pod sandbox in its own network namespace with one
// interface, eth0, the peer of a host veth that is removed when the test
// ends (and with the namespace, if that goes first).
func podWithEth0(t *testing.T, ctx context.Context, d *testenv.Daemon, name string) (pid int, id string) {
	t.Helper()
	id = testenv.RandomID()
	pid, err := d.Run(ctx, testenv.RunOptions{Namespace: "k8s.io", ID: id, Args: []string{"sleep", "3600"},
		Labels: map[string]string{"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": "tenant",
			"io.kubernetes.pod.uid": name + "-uid", "io.cri-containerd.kind": "sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	host := "fsf" + id[:8]
	if out, err := exec.Command("ip", "link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", strconv.Itoa(pid)).CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	// Both ends up: IPv6 neighbour discovery puts a few packets on eth0,
	// as a pod's traffic would.
	if out, err := exec.Command("ip", "link", "set", host, "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set up: %v %s", err, out)
	}
	if out, err := nsenterIP(pid, "link", "set", "eth0", "up"); err != nil {
		t.Fatalf("eth0 up: %v %s", err, out)
	}
	return pid, id
}

// nsenterIP runs ip in the network namespace of process pid, as a tenant
// that administers its own namespace would.
func nsenterIP(pid int, args ...string) ([]byte, error) {
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(pid), "-n", "ip"}, args...)...).CombinedOutput()
}

// flood adds n veth pairs inside the namespace of process pid, in one
// batch. They go with the namespace: the sandbox's end, at the latest
// when the daemon's cleanup kills it, removes them all.
func flood(t *testing.T, pid, n int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "link add fa%d type veth peer name fb%d\n", i, i)
	}
	cmd := exec.Command("nsenter", "-t", strconv.Itoa(pid), "-n", "ip", "-batch", "-")
	cmd.Stdin = strings.NewReader(b.String())
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip -batch: %v %s", err, out)
	}
	t.Logf("%d veth pairs added in %v", n, time.Since(start).Round(time.Millisecond))
}

// A tenant that administers its pod's network namespace adds 5,000 veth
// pairs (10,000 interfaces). Against the real binary in the chart's memory
// limit, with OTLP on and off, and started before the flood and during it
// (as a crash-looping agent restarts): the agent stays alive and small, answers
// /metrics within a scrape timeout while eight scrapes run at once, keeps
// every series of another pod's network and of the tenant's own eth0, and
// counts the interfaces it sums instead of exporting one by one.
func TestInterfaceFlood(t *testing.T) {
	testenv.Need(t)
	t.Parallel()
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tenant, _ := podWithEth0(t, ctx, d, "flood-0")
	podWithEth0(t, ctx, d, "victim-0")

	type agent struct {
		a   *agentProc
		rcv *otlptest.Receiver
	}
	start := func(otlp bool) agent {
		var ag agent
		extra := ""
		if otlp {
			ag.rcv = otlptest.StartGRPC(t, "")
			extra = fmt.Sprintf("otlp:\n  endpoint: %s\n  protocol: grpc\n  interval: 1s\n  timeout: 1s\n", ag.rcv.URL)
		}
		ag.a = startAgentIn(t, d.Socket, extra, newMemoryCgroup(t, chartMemoryLimit))
		ag.a.waitReady(t)
		return ag
	}
	agents := map[string]agent{"otlp": start(true), "scrape-only": start(false)}

	// Both pods' eth0 on /metrics before the flood.
	before := map[string]int{}
	for mode, ag := range agents {
		testenv.Eventually(t, 20*time.Second, mode+": both pods' eth0 on /metrics", func() error {
			code, body, err := ag.a.get("/metrics")
			if err != nil || code != 200 {
				return fmt.Errorf("scrape: %d %v", code, err)
			}
			for _, pod := range []string{"flood-0", "victim-0"} {
				if !strings.Contains(body, `k8s_pod_name="`+pod+`",network_io_direction="receive",network_interface_name="eth0"`) {
					return fmt.Errorf("no eth0 series of %s yet", pod)
				}
			}
			before[mode] = len(body)
			return nil
		})
	}

	flood(t, tenant, floodPairs)
	floodAt := time.Now()
	// An agent (re)started while the flood stands, as a crash-looping one
	// was: it never saw the namespace before, and still picks the pod's
	// eth0, the one interface with traffic, out of the 10,001.
	agents["started-during-flood"] = start(true)
	before["started-during-flood"] = before["otlp"]

	for mode, ag := range agents {
		t.Run(mode, func(t *testing.T) {
			checkFlood(t, ag.a, ag.rcv, before[mode], floodAt)
		})
	}
}

// checkFlood holds the agent to its bounds during the flood.
func checkFlood(t *testing.T, a *agentProc, rcv *otlptest.Receiver, sizeBefore int, floodAt time.Time) {
	pid := a.cmd.Process.Pid
	var maxRSS atomic.Int64
	sample := func() {
		if r, err := rssOf(pid); err == nil && r > maxRSS.Load() {
			maxRSS.Store(r)
		}
	}
	stopRSS := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stopRSS:
				return
			case <-time.After(100 * time.Millisecond):
				sample()
			}
		}
	})
	defer func() { close(stopRSS); wg.Wait() }()

	// The flood is counted: every interface but the kept ones, whatever
	// the order the kernel lists them in.
	wantDropped := float64(2*floodPairs + 1 - floodKept)
	testenv.Eventually(t, 30*time.Second, "the dropped interfaces counted", func() error {
		mfs := a.scrape(t)
		v, _, ok := value(mfs, "fleetscope_pod_network_interfaces_dropped", map[string]string{"k8s_pod_name": "flood-0"})
		if !ok || v != wantDropped {
			return fmt.Errorf("interfaces dropped = %v (present %v), want %v", v, ok, wantDropped)
		}
		return nil
	})
	t.Logf("flood counted %v after it began", time.Since(floodAt).Round(time.Millisecond))

	// Eight scrapes at once, from eight addresses, for ten seconds, while
	// a Prometheus server scrapes with its timeout.
	const scrapeTimeout = 10 * time.Second
	stop := time.Now().Add(scrapeTimeout)
	var ok200, other atomic.Int64
	var scrapers sync.WaitGroup
	for i := range 8 {
		scrapers.Go(func() {
			tr := &http.Transport{DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialFrom(net.IPv4(127, 0, 6, byte(1+i)), addr)
			}}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: scrapeTimeout}
			for time.Now().Before(stop) {
				resp, err := cl.Get("http://" + a.addr + "/metrics")
				if err != nil {
					other.Add(1)
					time.Sleep(50 * time.Millisecond)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok200.Add(1)
				} else {
					other.Add(1)
				}
			}
		})
	}
	var size int
	var took time.Duration
	for time.Now().Before(stop) {
		cl := &http.Client{Timeout: scrapeTimeout}
		t0 := time.Now()
		resp, err := cl.Get("http://" + a.addr + "/metrics")
		if err != nil {
			t.Fatalf("scrape during the flood: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("scrape during the flood: %d %v", resp.StatusCode, err)
		}
		took = max(took, time.Since(t0))
		size = len(body)
		sample()
		time.Sleep(time.Second)
	}
	scrapers.Wait()
	t.Logf("/metrics: %d bytes before the flood, %d during it; slowest scrape %v; concurrent scrapes: %d answered 200, %d not",
		sizeBefore, size, took.Round(time.Millisecond), ok200.Load(), other.Load())
	if size > 4*sizeBefore+64<<10 {
		t.Errorf("/metrics grew from %d to %d bytes", sizeBefore, size)
	}

	// Every series of the victim's network, the tenant's own eth0 and
	// the tenant's other interfaces summed.
	mfs := a.scrape(t)
	for _, fam := range []string{"k8s_pod_network_io_bytes_total", "fleetscope_pod_network_packets_total",
		"k8s_pod_network_errors_total", "fleetscope_pod_network_dropped_total"} {
		for _, dir := range []string{"receive", "transmit"} {
			for _, s := range []struct{ pod, iface string }{{"victim-0", "eth0"}, {"flood-0", "eth0"}, {"flood-0", "other interfaces"}} {
				if _, _, ok := value(mfs, fam, map[string]string{"k8s_pod_name": s.pod, "network_io_direction": dir, "network_interface_name": s.iface}); !ok {
					t.Errorf("%s{pod=%s, %s, %s} missing during the flood", fam, s.pod, dir, s.iface)
				}
			}
		}
		n := 0
		for _, m := range mfs[fam].GetMetric() {
			if label(m, "k8s_pod_name") == "flood-0" {
				n++
			}
		}
		if n != 2*(floodKept+1) {
			t.Errorf("%s: %d series of the flooding pod, want %d", fam, n, 2*(floodKept+1))
		}
	}
	if v, _, ok := value(mfs, "k8s_pod_network_io_bytes_total", map[string]string{"k8s_pod_name": "victim-0", "network_io_direction": "transmit", "network_interface_name": "eth0"}); !ok || v == 0 {
		t.Errorf("victim's eth0 transmitted %v bytes, want its traffic", v)
	}
	if _, _, ok := value(mfs, "fleetscope_exporter_dropped_series", nil); ok {
		t.Error("series dropped for the cap: the bound per namespace should keep the flood well within it")
	}

	if rcv != nil {
		testenv.Eventually(t, 20*time.Second, "an OTLP export with the victim's network and the flood counted", func() error {
			n := rcv.Requests()
			if err := rcv.WaitFor(n+1, 5*time.Second); err != nil {
				return err
			}
			victim, counted, flood := 0, false, 0
			for _, pt := range rcv.Latest() {
				switch {
				case pt.Attributes["k8s.pod.name"] == "victim-0" && pt.Attributes["network.interface.name"] == "eth0":
					victim++
				case pt.Name == "fleetscope.pod.network.interfaces_dropped" && pt.Attributes["k8s.pod.name"] == "flood-0":
					counted = pt.Value == wantDropped
				case pt.Name == "k8s.pod.network.io" && pt.Attributes["k8s.pod.name"] == "flood-0":
					flood++
				}
			}
			if victim != 8 || !counted || flood != 2*(floodKept+1) {
				return fmt.Errorf("victim's eth0 points %d (want 8), flood counted %v, flood io points %d (want %d)", victim, counted, flood, 2*(floodKept+1))
			}
			return nil
		})
		if v, _, ok := value(a.scrape(t), "fleetscope_otlp_export_failures_total", nil); !ok || v != 0 {
			t.Errorf("OTLP export failures = %v (present %v), want 0", v, ok)
		}
	}

	select {
	case err := <-a.done:
		a.done <- err
		t.Fatalf("the agent exited during the flood: %v", err)
	default:
	}
	sample()
	// The kernel's high-water mark covers the flood's first seconds too,
	// before the sampling here began.
	peak, err := peakRSSOf(pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("agent RSS at most %d MiB while sampled, peak %d MiB since start", maxRSS.Load()>>20, peak>>20)
	if max(peak, maxRSS.Load()) > attackMemoryBound {
		t.Errorf("agent RSS reached %d MiB, want under %d MiB", max(peak, maxRSS.Load())>>20, attackMemoryBound>>20)
	}
}
