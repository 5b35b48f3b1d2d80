package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

const (
	agentImage = "localhost/fleetscope"
	agentTag   = "kubelet-test"
)

// A real node: a standalone kubelet runs the chart's DaemonSet pod as a
// static pod next to Burstable, Guaranteed, BestEffort, two-container and
// crash-looping pods, all through containerd's CRI plugin, and the agent
// reports them as Kubernetes made them.
func TestNode(t *testing.T) {
	kubelet, helm := needNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	testStart := time.Now()

	// FLEETSCOPE_KUBELET_TEST_IMAGE names an OCI archive of the image
	// tagged agentImage:agentTag from an earlier build, to skip the build
	// (minutes) when working on this test.
	archive := os.Getenv("FLEETSCOPE_KUBELET_TEST_IMAGE")
	if archive == "" {
		start := time.Now()
		archive = testenv.BuildAgentImage(t, ctx, testenv.AgentImage{Ref: agentImage + ":" + agentTag, Version: "v0.0.0-kubelet-test", Revision: "0000000000000000000000000000000000000000"})
		t.Logf("agent image built in %v", time.Since(start).Round(time.Second))
	}

	n := startNode(t, ctx, kubelet)
	for ref, cmd := range map[string][]string{
		testenv.BusyboxRef: {"sh"},
		// The sandbox's process only has to exist until it is killed.
		sandboxRef: {"sleep", "2147483647"},
	} {
		path := filepath.Join(n.dir, strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		err = testenv.BuildBusyboxImageCmd(f, testenv.BusyboxPath, ref, cmd)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.ctr(ctx, "image", "import", path); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := n.ctr(ctx, "image", "import", archive); err != nil {
		t.Fatal(err)
	}

	// The agent pod, from the chart as rendered.
	port := freePort(t)
	registry, repository, _ := strings.Cut(agentImage, "/")
	r := renderChart(t, helm, chartValues{registry: registry, repository: repository, tag: agentTag, socket: n.socket,
		stateDir: filepath.Join(n.dir, "agent-state"), port: port})
	agentPod := staticAgentPod(t, r, filepath.Join(n.dir, "agent-config"))
	agentContainer := agentPod.Spec.Containers[0]
	fwd, err := newProbeForwarder(port)
	if err != nil {
		t.Fatalf("probe forwarder on the agent's port: %v", err)
	}
	defer fwd.Close()
	writeManifest(t, n.manifests, agentPod)
	pods := workloadPods()
	for _, p := range pods {
		writeManifest(t, n.manifests, p)
	}
	kubeletStart := time.Now()
	n.startKubelet()

	// Static pods are named <name>-<node>.
	podName := func(name string) string { return name + "-" + n.name }

	var agent container
	testenv.Eventually(t, 3*time.Minute, "every pod's containers running", func() error {
		cs, err := n.containers(ctx)
		if err != nil {
			return err
		}
		var missing []string
		for _, p := range append(pods, agentPod) {
			for _, c := range p.Spec.Containers {
				if p.Name == crashPod {
					continue // running only now and then
				}
				i := slices.IndexFunc(cs, func(k container) bool {
					return k.pod() == podName(p.Name) && k.name() == c.Name && k.running()
				})
				if i < 0 {
					missing = append(missing, p.Name+"/"+c.Name)
				} else if p.Name == agentPod.Name {
					agent = cs[i]
				}
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("not running: %v", missing)
		}
		return nil
	})
	t.Logf("kubelet ran every pod %v after it started", time.Since(kubeletStart).Round(100*time.Millisecond))
	fwd.setPid(agent.Pid)

	a := &agentClient{ctx: ctx, pid: agent.Pid, port: port}
	testenv.Eventually(t, time.Minute, "agent ready", func() error {
		body, err := a.get("/readyz")
		if err != nil {
			return err
		}
		if !strings.Contains(body, "ok") && !strings.Contains(body, "ready") {
			return fmt.Errorf("/readyz: %q", body)
		}
		return nil
	})

	// The pair pod's network namespace gets a real interface (the loopback
	// network gives pods lo only, and lo is not exported), so that there
	// are network counters to attribute.
	cs, err := n.containers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pairSandbox := cs[slices.IndexFunc(cs, func(c container) bool { return c.pod() == podName(pairPod) && c.sandbox() })]
	veth := "fsk" + pairSandbox.ID[:8]
	if out, err := exec.Command("ip", "link", "add", veth, "type", "veth", "peer", "name", veth+"p").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v %s", err, out)
	}
	defer exec.Command("ip", "link", "del", veth).Run()
	if out, err := exec.Command("ip", "link", "set", veth+"p", "netns", strconv.Itoa(pairSandbox.Pid)).CombinedOutput(); err != nil {
		t.Fatalf("ip link set netns: %v %s", err, out)
	}

	// 1. Discovery: every pod's containers and sandboxes, with the
	// Kubernetes names the kubelet gave them.
	var mfs map[string]*dto.MetricFamily
	testenv.Eventually(t, 90*time.Second, "every container reported with its pod", func() error {
		mfs, err = a.metrics()
		if err != nil {
			return err
		}
		cs, err := n.containers(ctx)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if !c.running() {
				continue
			}
			want := map[string]string{"container_id": c.ID, "k8s_pod_name": c.pod(), "k8s_namespace_name": c.namespace()}
			if c.sandbox() {
				want["k8s_container_name"] = "POD"
			} else {
				want["k8s_container_name"] = c.name()
			}
			if len(find(mfs, "fleetscope_container_info", want)) != 1 {
				return fmt.Errorf("no info series %v", want)
			}
		}
		// The pair's interface must be seen too.
		if len(find(mfs, "k8s_pod_network_io_bytes_total", map[string]string{"network_interface_name": veth + "p"})) == 0 {
			return fmt.Errorf("no network series for %s", veth+"p")
		}
		return nil
	})
	for _, name := range []string{burstablePod, guaranteedPod, bestEffortPod, pairPod} {
		if len(find(mfs, "fleetscope_container_info", map[string]string{"k8s_pod_name": podName(name), "k8s_namespace_name": podNamespace, "fleetscope_pod_sandbox": "true"})) != 1 {
			t.Errorf("pod %s: not exactly one sandbox", name)
		}
	}
	if ms := find(mfs, "fleetscope_container_info", map[string]string{"k8s_pod_name": podName(agentPod.Name), "k8s_namespace_name": agentPod.Namespace, "k8s_container_name": "agent"}); len(ms) != 1 {
		t.Errorf("the agent does not report its own container")
	} else if img := label(ms[0], "container_image_name"); !strings.HasPrefix(img, agentImage) {
		t.Errorf("agent container image %q", img)
	}
	// The two containers of the pair are one pod: one uid.
	uids := map[string]bool{}
	for _, m := range find(mfs, "fleetscope_container_info", map[string]string{"k8s_pod_name": podName(pairPod)}) {
		uids[label(m, "k8s_pod_uid")] = true
	}
	if len(uids) != 1 || uids[""] {
		t.Errorf("pair pod uids %v, want one", uids)
	}

	// 2. Requests and limits as the kubelet wrote them into the cgroups.
	byName := func(pod, name string) map[string]string {
		return map[string]string{"k8s_pod_name": podName(pod), "k8s_container_name": name}
	}
	checkValue := func(metric string, sel map[string]string, want float64) {
		t.Helper()
		ms := find(mfs, metric, sel)
		if len(ms) != 1 {
			t.Errorf("%s%v: %d series, want 1", metric, sel, len(ms))
			return
		}
		if got := value(ms[0]); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s%v = %v, want %v", metric, sel, got, want)
		}
	}
	checkAbsent := func(metric string, sel map[string]string) {
		t.Helper()
		if ms := find(mfs, metric, sel); len(ms) != 0 {
			t.Errorf("%s%v present (%v), want absent", metric, sel, value(ms[0]))
		}
	}
	// Burstable: 250m -> 256 shares -> 0.25 cores requested; no CPU limit.
	checkValue("k8s_container_cpu_request_current", byName(burstablePod, "web"), 0.25)
	checkAbsent("k8s_container_cpu_limit_current", byName(burstablePod, "web"))
	checkValue("k8s_container_memory_limit_current_bytes", byName(burstablePod, "web"), 64<<20)
	// Guaranteed: a CFS quota of 0.5 cores and 512 shares.
	checkValue("k8s_container_cpu_limit_current", byName(guaranteedPod, "busy"), 0.5)
	checkValue("k8s_container_cpu_request_current", byName(guaranteedPod, "busy"), 0.5)
	checkValue("k8s_container_memory_limit_current_bytes", byName(guaranteedPod, "busy"), 32<<20)
	// BestEffort: the kubelet's 2 shares are no request (as its analysis
	// reads them, below), and there are no limits.
	checkAbsent("k8s_container_cpu_request_current", byName(bestEffortPod, "idle"))
	checkAbsent("k8s_container_cpu_limit_current", byName(bestEffortPod, "idle"))
	checkAbsent("k8s_container_memory_limit_current_bytes", byName(bestEffortPod, "idle"))

	// The pair pod's network is attributed once, to its sandbox, and to
	// neither app container.
	for _, dir := range []string{"receive", "transmit"} {
		ms := find(mfs, "k8s_pod_network_io_bytes_total", map[string]string{"network_interface_name": veth + "p", "network_io_direction": dir})
		if len(ms) != 1 {
			t.Errorf("network %s series for the pair pod: %d, want 1", dir, len(ms))
			continue
		}
		if id := label(ms[0], "container_id"); id != pairSandbox.ID {
			t.Errorf("pair pod network attributed to %s, want the sandbox %s", id, pairSandbox.ID)
		}
	}

	// Workload identity, derived from the sandbox's pod labels as the
	// kubelet wrote them: pod-template-hash makes a Deployment's pod, a
	// controller-revision-hash with pod-template-generation a DaemonSet's.
	// Static pods are named <manifest name>-<node>, where the node name
	// takes the place of the random suffix.
	for _, w := range []struct {
		pod, name string
		labels    map[string]string
	}{
		{burstablePod, "web", map[string]string{"k8s_workload_kind": "Deployment", "k8s_workload_name": "web",
			"k8s_deployment_name": "web", "k8s_replicaset_name": burstablePod}},
		{guaranteedPod, "busy", map[string]string{"k8s_workload_kind": "DaemonSet", "k8s_workload_name": "busy", "k8s_daemonset_name": "busy"}},
		{bestEffortPod, "idle", map[string]string{"k8s_workload_kind": "Pod", "k8s_workload_name": podName(bestEffortPod)}},
	} {
		ms := find(mfs, "fleetscope_container_info", byName(w.pod, w.name))
		if len(ms) != 1 {
			t.Errorf("%s/%s: %d info series", w.pod, w.name, len(ms))
			continue
		}
		for k, v := range w.labels {
			if got := label(ms[0], k); got != v {
				t.Errorf("%s/%s: %s = %q, want %q", w.pod, w.name, k, got, v)
			}
		}
	}

	// Reservation sources in the API's analysis (once a container has
	// history): request for Burstable, limit for Guaranteed, observed for
	// BestEffort (its 2 shares are the kubelet's marker, not a request).
	testenv.Eventually(t, 2*time.Minute, "analysis with reservation sources", func() error {
		rep, err := a.report()
		if err != nil {
			return err
		}
		for _, w := range []struct {
			pod, name, source string
			cores             float64
		}{
			{burstablePod, "web", "request", 0.25},
			{guaranteedPod, "busy", "limit", 0.5},
			{bestEffortPod, "idle", "observed", -1},
		} {
			c := rep.find(podName(w.pod), w.name)
			if c == nil {
				return fmt.Errorf("%s/%s not in /api/v1/containers", w.pod, w.name)
			}
			if c.PodNamespace != podNamespace {
				return fmt.Errorf("%s/%s: pod namespace %q", w.pod, w.name, c.PodNamespace)
			}
			if c.Analysis == nil {
				return fmt.Errorf("%s/%s: no analysis yet", w.pod, w.name)
			}
			if c.Analysis.ReservedCPUSource != w.source || (w.cores >= 0 && math.Abs(c.Analysis.ReservedCPUCores-w.cores) > 1e-9) {
				return fmt.Errorf("%s/%s: reserved %v cores (%s), want %v (%s)", w.pod, w.name,
					c.Analysis.ReservedCPUCores, c.Analysis.ReservedCPUSource, w.cores, w.source)
			}
		}
		return nil
	})

	// 3. CPU truth: once the busy container has gone idle, its exported CPU
	// time equals its cgroup's exact counter.
	busy := findContainer(t, n, podName(guaranteedPod), "busy")
	if wait := time.Until(kubeletStart.Add((busySeconds + 15) * time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	usage, err := cgroupFile(busy.Pid, "cpuacct", "cpuacct.usage")
	if err != nil {
		t.Fatal(err)
	}
	exact, _ := strconv.ParseFloat(usage, 64)
	exact /= 1e9
	var exported float64
	testenv.Eventually(t, 30*time.Second, "busy pod's CPU time within 2% of cpuacct.usage", func() error {
		mfs, err := a.metrics()
		if err != nil {
			return err
		}
		exported = 0
		for _, m := range find(mfs, "container_cpu_time_seconds_total", map[string]string{"container_id": busy.ID}) {
			exported += value(m)
		}
		if exact < 2 {
			return fmt.Errorf("the busy container used only %.2f s of CPU", exact)
		}
		if math.Abs(exported-exact) > 0.02*exact {
			return fmt.Errorf("exported %.3f s, cpuacct.usage %.3f s", exported, exact)
		}
		return nil
	})
	t.Logf("busy pod: exported %.3f s of CPU, cgroup %.3f s", exported, exact)

	// 4. A crashing container: the kubelet restarts it under a new id, in
	// the same pod, and later deletes the dead one; the agent reports the
	// new id under the pod and forgets the dead one.
	workers := func() ([]container, error) {
		cs, err := n.containers(ctx)
		return slices.DeleteFunc(cs, func(c container) bool {
			return c.pod() != podName(crashPod) || c.name() != "worker"
		}), err
	}
	ws, err := workers()
	if err != nil || len(ws) == 0 {
		t.Fatalf("no container of the crash pod: %v", err)
	}
	first := ws[0].ID
	restarted := map[string]bool{} // restarted ids the agent reported under the pod
	testenv.Eventually(t, 4*time.Minute, "crashed container restarted, the dead id gone", func() error {
		ws, err := workers()
		if err != nil {
			return err
		}
		mfs, err := a.metrics()
		if err != nil {
			return err
		}
		for _, w := range ws {
			if w.ID != first && w.running() && len(find(mfs, "fleetscope_container_info",
				map[string]string{"container_id": w.ID, "k8s_pod_name": podName(crashPod), "k8s_namespace_name": podNamespace, "k8s_container_name": "worker"})) == 1 {
				restarted[w.ID] = true
			}
		}
		if len(restarted) == 0 {
			return fmt.Errorf("no restarted container reported under its pod yet (%d containers)", len(ws))
		}
		if slices.ContainsFunc(ws, func(w container) bool { return w.ID == first }) {
			return fmt.Errorf("the kubelet has not deleted the dead container yet")
		}
		if len(find(mfs, "fleetscope_container_info", map[string]string{"container_id": first})) != 0 {
			return fmt.Errorf("the dead container %s is still in /metrics", first[:12])
		}
		rep, err := a.report()
		if err != nil {
			return err
		}
		for _, c := range rep.Containers {
			if c.ID == first {
				return fmt.Errorf("the dead container %s is still in /api/v1/containers", first[:12])
			}
		}
		return nil
	})
	t.Logf("crash pod: %d restarted container(s) reported under the pod; the first id gone", len(restarted))
	// The restarted container carries the pod's history: its analysis
	// counts the restarts.
	testenv.Eventually(t, 2*time.Minute, "restarted container's analysis counts its restarts", func() error {
		rep, err := a.report()
		if err != nil {
			return err
		}
		var seen []string
		for _, c := range rep.Containers {
			if c.PodName != podName(crashPod) || c.Name != "worker" || c.Analysis == nil {
				continue
			}
			for _, r := range append(c.Analysis.Reasons, c.Analysis.Blockers...) {
				if r.Code == "restarts" || r.Code == "restarting" {
					t.Logf("crash pod: %s %s: %s (observed %.0f s)", c.ID[:12], r.Code, r.Text, c.Analysis.ObservedSeconds)
					return nil
				}
				seen = append(seen, r.Code)
			}
		}
		return fmt.Errorf("no restarts reason on the crash pod's worker; reasons %v", seen)
	})

	// A removed pod: the kubelet stops its containers and deletes the app
	// containers at once; within seconds the agent reports no usage of the
	// pod. The stopped sandbox stays in containerd until the kubelet's
	// container GC (every minute) deletes it, and the agent lists it, not
	// running, until then; then the pod is gone from the agent entirely.
	if err := os.Remove(filepath.Join(n.manifests, burstablePod+".json")); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	usageGone := func(mfs map[string]*dto.MetricFamily) error {
		for _, metric := range []string{"container_cpu_time_seconds_total", "container_memory_usage_bytes", "container_uptime_seconds"} {
			if ms := find(mfs, metric, map[string]string{"k8s_pod_name": podName(burstablePod)}); len(ms) != 0 {
				return fmt.Errorf("%d %s series of the removed pod remain", len(ms), metric)
			}
		}
		return nil
	}
	testenv.Eventually(t, 30*time.Second, "removed pod's usage gone from /metrics", func() error {
		mfs, err := a.metrics()
		if err != nil {
			return err
		}
		if err := usageGone(mfs); err != nil {
			return err
		}
		cs, err := n.containers(ctx)
		if err != nil {
			return err
		}
		for _, m := range find(mfs, "fleetscope_container_info", map[string]string{"k8s_pod_name": podName(burstablePod)}) {
			id := label(m, "container_id")
			if i := slices.IndexFunc(cs, func(c container) bool { return c.ID == id }); i < 0 || cs[i].running() {
				return fmt.Errorf("container %s (%s) of the removed pod is reported but is not a stopped container containerd still holds", id[:12], label(m, "k8s_container_name"))
			}
		}
		return nil
	})
	t.Logf("removed pod: no usage in /metrics %v after its manifest went", time.Since(removed).Round(100*time.Millisecond))
	testenv.Eventually(t, 3*time.Minute, "removed pod gone from /metrics and the API once the kubelet deleted its sandbox", func() error {
		mfs, err := a.metrics()
		if err != nil {
			return err
		}
		if err := usageGone(mfs); err != nil {
			return err
		}
		if ms := find(mfs, "fleetscope_container_info", map[string]string{"k8s_pod_name": podName(burstablePod)}); len(ms) != 0 {
			var which []string
			for _, m := range ms {
				which = append(which, label(m, "k8s_container_name")+" "+label(m, "container_id")[:12])
			}
			return fmt.Errorf("%d series of the removed pod remain: %v", len(ms), which)
		}
		rep, err := a.report()
		if err != nil {
			return err
		}
		for _, c := range rep.Containers {
			if c.PodName == podName(burstablePod) {
				return fmt.Errorf("%s of the removed pod still in /api/v1/containers", c.ID[:12])
			}
		}
		return nil
	})
	t.Logf("removed pod: gone from /metrics and the API %v after its manifest went", time.Since(removed).Round(100*time.Millisecond))

	// 5. The agent's own cgroup, as the kubelet made it from the chart's
	// resources, and the agent within them during the whole test.
	checkAgentCgroup(t, agent.Pid, agentContainer.Resources.Requests.Cpu().MilliValue(),
		agentContainer.Resources.Requests.Memory().Value(), agentContainer.Resources.Limits.Memory().Value(),
		agentContainer.Resources.Limits.Cpu().IsZero(), time.Since(kubeletStart))
	if fwd.accepted.Load() == 0 {
		t.Errorf("the kubelet never probed the agent")
	}
	// The kubelet restarted neither the agent (liveness) nor anything else.
	if now := findContainer(t, n, podName(agentPod.Name), "agent"); now.ID != agent.ID {
		t.Errorf("the agent container was restarted (liveness probe?)")
	}
	t.Logf("test took %v", time.Since(testStart).Round(time.Second))
}

// checkAgentCgroup checks the agent container's cgroup: CPU shares from the
// request, no CFS quota when the chart sets no CPU limit, the memory limit,
// and peak memory, working set and average CPU within them.
func checkAgentCgroup(t *testing.T, pid int, cpuRequestMilli, memRequest, memLimit int64, noCPULimit bool, elapsed time.Duration) {
	t.Helper()
	read := func(controller, file string) int64 {
		t.Helper()
		s, err := cgroupFile(pid, controller, file)
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		return v
	}
	// The kubelet's conversion: shares = milliCPU * 1024 / 1000, at least 2.
	if got, want := read("cpu", "cpu.shares"), max(cpuRequestMilli*1024/1000, 2); got != want {
		t.Errorf("agent cpu.shares = %d, want %d (request %dm)", got, want, cpuRequestMilli)
	}
	if quota := read("cpu", "cpu.cfs_quota_us"); noCPULimit && quota != -1 {
		t.Errorf("agent cpu.cfs_quota_us = %d, want -1 (the chart sets no CPU limit)", quota)
	}
	if got := read("memory", "memory.limit_in_bytes"); got != memLimit {
		t.Errorf("agent memory.limit_in_bytes = %d, want %d", got, memLimit)
	}
	if fc := read("memory", "memory.failcnt"); fc != 0 {
		t.Errorf("agent memory.failcnt = %d: it hit its limit", fc)
	}
	peak := read("memory", "memory.max_usage_in_bytes")
	usage := read("memory", "memory.usage_in_bytes")
	stat, err := cgroupFile(pid, "memory", "memory.stat")
	if err != nil {
		t.Fatal(err)
	}
	var inactiveFile, rss int64
	for line := range strings.Lines(stat) {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "total_inactive_file" {
			inactiveFile, _ = strconv.ParseInt(f[1], 10, 64)
		}
		if len(f) == 2 && f[0] == "total_rss" {
			rss, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	workingSet := usage - inactiveFile
	if peak > memLimit {
		t.Errorf("agent peak memory %d above its limit %d", peak, memLimit)
	}
	if workingSet > memRequest {
		t.Errorf("agent working set %d above its request %d", workingSet, memRequest)
	}
	cpuNs := read("cpuacct", "cpuacct.usage")
	cores := float64(cpuNs) / 1e9 / elapsed.Seconds()
	t.Logf("agent: peak memory %.1f MiB, working set %.1f MiB, rss %.1f MiB (request %d MiB, limit %d MiB); CPU %.2f s over %v = %.1fm (request %dm)",
		float64(peak)/(1<<20), float64(workingSet)/(1<<20), float64(rss)/(1<<20), memRequest>>20, memLimit>>20,
		float64(cpuNs)/1e9, elapsed.Round(time.Second), cores*1000, cpuRequestMilli)
	if cores*1000 > float64(cpuRequestMilli) {
		t.Errorf("agent used %.1fm of CPU on average, above its request of %dm", cores*1000, cpuRequestMilli)
	}
}

func findContainer(t *testing.T, n *node, pod, name string) container {
	t.Helper()
	cs, err := n.containers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.pod() == pod && c.name() == name && c.running() {
			return c
		}
	}
	t.Fatalf("no running container %s in pod %s", name, pod)
	return container{}
}

// agentClient reads the agent's HTTP API inside its pod's network namespace.
type agentClient struct {
	ctx       context.Context
	pid, port int
}

func (a *agentClient) get(path string) (string, error) {
	return getInNetns(a.ctx, a.pid, a.port, path)
}

func (a *agentClient) metrics() (map[string]*dto.MetricFamily, error) {
	body, err := a.get("/metrics")
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parsing /metrics: %w", err)
	}
	return mfs, nil
}

// apiReport is the part of /api/v1/containers the test reads.
type apiReport struct {
	Containers []apiContainer `json:"containers"`
}

type apiContainer struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	PodName      string `json:"pod_name"`
	PodNamespace string `json:"pod_namespace"`
	Sandbox      bool   `json:"sandbox"`
	Analysis     *struct {
		ObservedSeconds   float64 `json:"observed_seconds"`
		ReservedCPUCores  float64 `json:"reserved_cpu_cores"`
		ReservedCPUSource string  `json:"reserved_cpu_source"`
		Reasons           []struct {
			Code string `json:"code"`
			Text string `json:"text"`
		} `json:"reasons"`
		Blockers []struct {
			Code string `json:"code"`
			Text string `json:"text"`
		} `json:"blockers"`
	} `json:"analysis"`
}

// find returns the app container name of pod, or nil.
func (r *apiReport) find(pod, name string) *apiContainer {
	for i := range r.Containers {
		if c := &r.Containers[i]; c.PodName == pod && c.Name == name && !c.Sandbox {
			return c
		}
	}
	return nil
}

func (a *agentClient) report() (*apiReport, error) {
	body, err := a.get("/api/v1/containers")
	if err != nil {
		return nil, err
	}
	var r apiReport
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, fmt.Errorf("/api/v1/containers: %w", err)
	}
	return &r, nil
}

// find returns the metrics of family name whose labels include want.
func find(mfs map[string]*dto.MetricFamily, name string, want map[string]string) []*dto.Metric {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range mf.Metric {
		ok := true
		for k, v := range want {
			if label(m, k) != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.Label {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}
