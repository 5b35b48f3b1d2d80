package helm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fleetscope/fleetscope/config"
)

var update = flag.Bool("update", false, "rewrite the rendered manifests in packaging/kubernetes and the project's rule file")

const (
	chartDir  = "fleetscope"
	release   = "fleetscope"
	namespace = "monitoring"

	// The plain manifests: the chart's default render, and the
	// prometheus-operator objects for those who apply them with kubectl.
	manifestsFile = "../kubernetes/fleetscope.yaml"
	operatorFile  = "../kubernetes/prometheus-operator.yaml"

	// The project's rule file: the chart's rules with default values.
	rulesFile = "../prometheus/alerts.yaml"

	helmInstall = "go install helm.sh/helm/v3/cmd/helm@v3.22.0"
)

// monitoringValues turns on the prometheus-operator objects.
var monitoringValues = []string{"--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true"}

// The alerts the project documents; the PrometheusRule must carry them all.
var documentedAlerts = []string{
	"FleetscopeAgentDown",
	"FleetscopeCollectionFailing",
	"FleetscopeContainerIdle",
	"FleetscopeNamespaceIdleCostHigh",
	"FleetscopeServerlessCandidate",
}

// helmBinary finds helm on PATH or in GOPATH/bin. Without it the test skips,
// or fails under FLEETSCOPE_INTEGRATION=1.
func helmBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "helm")
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return p
			}
		}
	}
	msg := "helm not found: " + helmInstall
	if os.Getenv("FLEETSCOPE_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func runHelm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.New("helm " + strings.Join(args, " ") + ": " + err.Error() + "\n" + stderr.String() + string(out))
	}
	return out, nil
}

// render runs helm template with the project's release name and namespace.
func render(t *testing.T, values ...string) []byte {
	t.Helper()
	out, err := runHelm(t, append([]string{"template", release, chartDir, "--namespace", namespace}, values...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func renderObjects(t *testing.T, values ...string) objects {
	t.Helper()
	objs, err := decodeAll(render(t, values...))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// only returns the one object of type T in objs.
func only[T any](t *testing.T, objs objects) T {
	t.Helper()
	var found []T
	for _, o := range objs {
		if v, ok := o.Object.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T in the render, got %d (kinds %v)", zero, len(found), objs.kinds())
	}
	return found[0]
}

// TestRuleFile keeps the project's rule file equal to the chart's rules
// with default values: the chart's template is the source, so thresholds,
// switches and the agent selector are values, and rule_files users get
// what the PrometheusRule holds. It comes before the render tests so that
// -update writes the rule file first.
func TestRuleFile(t *testing.T) {
	want := append([]byte(rulesHeader), renderRules(t)...)
	if *update {
		if err := os.WriteFile(rulesFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatalf("%v (regenerate with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the chart's rules; regenerate with: go test ./packaging/helm -update\n%s", rulesFile, firstDiff(got, want))
	}
}

// rulesHeader starts the project's rule file.
const rulesHeader = `# Fleetscope alerting rules.
#
# Load with ` + "`rule_files:`" + ` in prometheus.yml; the Helm chart's PrometheusRule
# holds the same groups. Every alert links its runbook in docs/runbooks/.
# Tested with ` + "`promtool test rules alerts_test.yaml`" + `.
#
# Rendered from the Helm chart (templates/_rules.tpl) with default values; do
# not edit, regenerate with: go test ./packaging/helm -update. Thresholds,
# per-alert switches and the agent selector are chart values
# (prometheusRule.*); without Helm, edit a copy of this file.
#
# Label conventions: ` + "`node`" + ` is the node's name (the chart's ServiceMonitor
# and PodMonitor relabel it from __meta_kubernetes_pod_node_name; the README
# shows the same for annotation scraping and OTLP); texts fall back to
# ` + "`instance`" + ` without it. An optional ` + "`cluster`" + ` label is kept in every
# aggregation. Where one alert has two rules, a ` + "`cause`" + ` label tells them
# apart.

`

// renderRules renders the chart's rules with the given values: the
// PrometheusRule's spec, dedented, without trailing blanks.
func renderRules(t *testing.T, values ...string) []byte {
	t.Helper()
	out := render(t, append([]string{"--set", "prometheusRule.enabled=true", "--show-only", "templates/prometheusrule.yaml"}, values...)...)
	_, spec, ok := strings.Cut(string(out), "\nspec:\n")
	if !ok {
		t.Fatalf("no spec in the PrometheusRule:\n%s", out)
	}
	var b strings.Builder
	for line := range strings.Lines(spec) {
		line = strings.TrimRight(line, " \n")
		b.WriteString(strings.TrimPrefix(line, "  "))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func TestLint(t *testing.T) {
	for name, values := range map[string][]string{"default": nil, "prometheus-operator": monitoringValues} {
		t.Run(name, func(t *testing.T) {
			out, err := runHelm(t, append([]string{"lint", "--strict", chartDir, "--namespace", namespace}, values...)...)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out, []byte("0 chart(s) failed")) {
				t.Fatalf("helm lint did not pass:\n%s", out)
			}
		})
	}
}

func TestDefaultRender(t *testing.T) {
	objs := renderObjects(t)
	want := []string{"ServiceAccount", "ConfigMap", "Service", "DaemonSet"}
	if got := objs.kinds(); !slices.Equal(got, want) {
		t.Fatalf("rendered kinds %v, want %v", got, want)
	}
	for _, o := range objs {
		if ns := o.Object.(interface{ GetNamespace() string }).GetNamespace(); ns != namespace {
			t.Errorf("%s %s: namespace %q, want %q (plain manifests must carry it)", o.Kind, o.Name, ns, namespace)
		}
	}
	ds := only[*appsv1.DaemonSet](t, objs)
	cm := only[*corev1.ConfigMap](t, objs)
	svc := only[*corev1.Service](t, objs)
	sa := only[*corev1.ServiceAccount](t, objs)

	checkSecurity(t, ds)
	cfg := checkConfig(t, ds, cm)
	checkMounts(t, ds, cfg, "/run/containerd")
	checkService(t, ds, svc, cfg)

	pod := ds.Spec.Template.Spec
	if pod.ServiceAccountName != sa.Name {
		t.Errorf("pod service account %q, rendered ServiceAccount %q", pod.ServiceAccountName, sa.Name)
	}
	// The agent never calls the Kubernetes API: no token in the pod.
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken ||
		pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("a service account token is mounted; the agent does not use the Kubernetes API")
	}
	ann := ds.Spec.Template.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "10076" || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("pod scrape annotations %v, want prometheus.io/{scrape,port,path} = true, 10076, /metrics", ann)
	}
	if env := findEnv(ds, "OTEL_EXPORTER_OTLP_ENDPOINT"); env != nil {
		t.Errorf("OTLP endpoint set by default: %+v", env)
	}
}

// checkSecurity asserts the pod holds only the privileges the agent needs.
func checkSecurity(t *testing.T, ds *appsv1.DaemonSet) {
	t.Helper()
	pod := ds.Spec.Template.Spec
	if pod.HostPID || pod.HostNetwork || pod.HostIPC {
		t.Errorf("hostPID %v, hostNetwork %v, hostIPC %v: the agent needs none of them", pod.HostPID, pod.HostNetwork, pod.HostIPC)
	}
	if psc := pod.SecurityContext; psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccomp profile is not RuntimeDefault: %+v", psc)
	}
	if !slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
		return tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == ""
	}) {
		t.Errorf("tolerations %+v do not tolerate every taint (operator Exists, no key, no effect)", pod.Tolerations)
	}
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		t.Fatalf("want one container and no init containers, got %d and %d", len(pod.Containers), len(pod.InitContainers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("agent container has no securityContext")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("root filesystem is not read-only")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("privilege escalation is allowed")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("container is privileged")
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container seccomp profile %+v, want RuntimeDefault", sc.SeccompProfile)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Fatalf("capabilities %+v do not drop ALL", sc.Capabilities)
	}
	// SYS_PTRACE for other tasks' /proc/<pid>/ns/net; nothing else.
	if want := []corev1.Capability{"SYS_PTRACE"}; !slices.Equal(sc.Capabilities.Add, want) {
		t.Errorf("capabilities added %v, want exactly %v", sc.Capabilities.Add, want)
	}

	// Resources: requests for scheduling, a memory limit against leaks.
	req, lim := c.Resources.Requests, c.Resources.Limits
	cpuReq, memReq, memLim := req[corev1.ResourceCPU], req[corev1.ResourceMemory], lim[corev1.ResourceMemory]
	if cpuReq.IsZero() || memReq.IsZero() || memLim.IsZero() {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	if memLim.Cmp(memReq) < 0 {
		t.Errorf("memory limit %s below request %s", memLim.String(), memReq.String())
	}
	// Measured: 28–36 MiB resident; the request must cover that.
	if memReq.Cmp(resource.MustParse("40Mi")) < 0 {
		t.Errorf("memory request %s is below the measured resident size", memReq.String())
	}

	env := findEnv(ds, "FLEETSCOPE_HOST_NODE_NAME")
	if env == nil || env.ValueFrom == nil || env.ValueFrom.FieldRef == nil || env.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("FLEETSCOPE_HOST_NODE_NAME is not taken from fieldRef spec.nodeName: %+v", env)
	}
}

func findEnv(ds *appsv1.DaemonSet, name string) *corev1.EnvVar {
	for _, c := range ds.Spec.Template.Spec.Containers {
		for i := range c.Env {
			if c.Env[i].Name == name {
				return &c.Env[i]
			}
		}
	}
	return nil
}

// checkConfig decodes the ConfigMap with the agent's own strict loader and
// validator, and checks the pod reads it.
func checkConfig(t *testing.T, ds *appsv1.DaemonSet, cm *corev1.ConfigMap) config.Config {
	t.Helper()
	data, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml", cm.Name)
	}
	cfg, err := config.Parse([]byte(data), "ConfigMap "+cm.Name)
	if err != nil {
		t.Fatalf("the agent would reject its configuration: %v\n%s", err, data)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the agent's configuration is invalid: %v\n%s", err, data)
	}

	pod := ds.Spec.Template.Spec
	c := pod.Containers[0]
	vol := volumeFor(pod, func(v corev1.Volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == cm.Name })
	if vol == nil {
		t.Fatalf("no volume of the pod holds ConfigMap %s", cm.Name)
	}
	m := mountOf(c, vol.Name)
	if m == nil {
		t.Fatalf("volume %s is not mounted", vol.Name)
	}
	if arg := "--config=" + path.Join(m.MountPath, "config.yaml"); !slices.Contains(c.Args, arg) {
		t.Errorf("args %q do not contain %q", c.Args, arg)
	}
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Errorf("args %q do not start with the run command", c.Args)
	}
	// A configuration change must roll the pods.
	sum := sha256.Sum256([]byte(strings.TrimSuffix(data, "\n")))
	if got := ds.Spec.Template.Annotations["checksum/config"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("checksum/config annotation %q is not the configuration's sha256 %x", got, sum)
	}
	return cfg
}

func volumeFor(pod corev1.PodSpec, match func(corev1.Volume) bool) *corev1.Volume {
	for i := range pod.Volumes {
		if match(pod.Volumes[i]) {
			return &pod.Volumes[i]
		}
	}
	return nil
}

func mountOf(c corev1.Container, volume string) *corev1.VolumeMount {
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == volume {
			return &c.VolumeMounts[i]
		}
	}
	return nil
}

// checkMounts asserts every host path the agent is configured to read is a
// read-only hostPath mount of the right host directory, and that the state
// directory is the one writable hostPath.
func checkMounts(t *testing.T, ds *appsv1.DaemonSet, cfg config.Config, socketDir string) {
	t.Helper()
	pod := ds.Spec.Template.Spec
	c := pod.Containers[0]

	// hostMount returns the host path mounted at the container path p (or a
	// directory above it) and the mount.
	hostMount := func(p string) (string, *corev1.VolumeMount) {
		for i, m := range c.VolumeMounts {
			if p != m.MountPath && !strings.HasPrefix(p, m.MountPath+"/") {
				continue
			}
			v := volumeFor(pod, func(v corev1.Volume) bool { return v.Name == m.Name })
			if v == nil || v.HostPath == nil {
				return "", nil
			}
			return path.Join(v.HostPath.Path, strings.TrimPrefix(p, m.MountPath)), &c.VolumeMounts[i]
		}
		return "", nil
	}

	stateDir := path.Dir(cfg.History.StateFile)
	for _, tc := range []struct {
		setting, inContainer, onHost string
		writable                     bool
	}{
		{"host.cgroup_root", cfg.Host.CgroupRoot, "/sys/fs/cgroup", false},
		{"host.proc_root", cfg.Host.ProcRoot, "/proc", false},
		{"containerd.socket", cfg.Containerd.Socket, socketDir + "/containerd.sock", false},
		{"history.state_file", cfg.History.StateFile, "/var/lib/fleetscope/state.bin", true},
		{"host.root_filesystem", cfg.Host.RootFilesystem, "/var/lib/fleetscope", true},
	} {
		host, m := hostMount(tc.inContainer)
		if m == nil {
			t.Errorf("%s %q is not on a hostPath mount", tc.setting, tc.inContainer)
			continue
		}
		if host != tc.onHost {
			t.Errorf("%s %q is %q on the host, want %q", tc.setting, tc.inContainer, host, tc.onHost)
		}
		if m.ReadOnly == tc.writable {
			t.Errorf("%s: mount %s readOnly=%v", tc.setting, m.Name, m.ReadOnly)
		}
	}

	// Every hostPath but the state directory is mounted read-only, and
	// every mounted volume is one the pod defines.
	for _, m := range c.VolumeMounts {
		v := volumeFor(pod, func(v corev1.Volume) bool { return v.Name == m.Name })
		if v == nil {
			t.Errorf("mount %s names no volume", m.Name)
			continue
		}
		if v.HostPath == nil {
			continue
		}
		if m.MountPath == stateDir {
			if m.ReadOnly {
				t.Errorf("state directory %s is read-only: checkpoints would fail", m.MountPath)
			}
			continue
		}
		if !m.ReadOnly {
			t.Errorf("hostPath %s mounted at %s is writable", v.HostPath.Path, m.MountPath)
		}
		if m.MountPropagation != nil && *m.MountPropagation != corev1.MountPropagationNone {
			t.Errorf("hostPath %s mounted with propagation %s", v.HostPath.Path, *m.MountPropagation)
		}
	}
}

func checkService(t *testing.T, ds *appsv1.DaemonSet, svc *corev1.Service, cfg config.Config) {
	t.Helper()
	c := ds.Spec.Template.Spec.Containers[0]
	_, port, err := splitPort(cfg.Web.ListenAddress)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http-metrics" })
	if i < 0 || c.Ports[i].ContainerPort != port {
		t.Fatalf("container ports %+v lack http-metrics on the agent's port %d", c.Ports, port)
	}
	for name, probe := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != name || probe.HTTPGet.Port.String() != "http-metrics" {
			t.Errorf("probe for %s: %+v", name, probe)
		}
	}
	for k, v := range svc.Spec.Selector {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the pods (labels %v)", k, v, ds.Spec.Template.Labels)
		}
	}
	if len(svc.Spec.Selector) == 0 {
		t.Error("Service has no selector")
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http-metrics" || svc.Spec.Ports[0].TargetPort.String() != "http-metrics" {
		t.Errorf("Service ports %+v, want http-metrics to the container's named port", svc.Spec.Ports)
	}
}

func splitPort(addr string) (string, int32, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, errors.New("listen address " + addr + " has no port")
	}
	p, err := strconv.ParseInt(addr[i+1:], 10, 32)
	return addr[:i], int32(p), err
}

func TestPrometheusOperatorRender(t *testing.T) {
	objs := renderObjects(t, monitoringValues...)
	ds := only[*appsv1.DaemonSet](t, objs)
	svc := only[*corev1.Service](t, objs)
	sm := only[*serviceMonitor](t, objs)
	pr := alertingRule(t, objs)

	if ann := ds.Spec.Template.Annotations; ann["prometheus.io/scrape"] != "" {
		t.Errorf("pods keep scrape annotations next to a ServiceMonitor (scraped twice): %v", ann)
	}
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, Service labels %v", k, v, svc.Labels)
		}
	}
	if len(sm.Spec.Selector.MatchLabels) == 0 {
		t.Error("ServiceMonitor selects nothing")
	}
	if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{namespace}) {
		t.Errorf("ServiceMonitor namespaces %v, want [%s]", sm.Spec.NamespaceSelector.MatchNames, namespace)
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v, want port %s path /metrics", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}

	// The PrometheusRule holds the project's rule file.
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var file ruleFile
	if err := decodeStrict(raw, &file); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	if !reflect.DeepEqual(pr.Spec, file) {
		t.Errorf("PrometheusRule spec differs from %s:\n got %+v\nwant %+v", rulesFile, pr.Spec, file)
	}
	var alerts []string
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Expr == "" {
				t.Errorf("group %s: rule %s%s has no expr", g.Name, r.Alert, r.Record)
			}
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
		}
	}
	for _, a := range documentedAlerts {
		if !slices.Contains(alerts, a) {
			t.Errorf("PrometheusRule lacks alert %s (has %v)", a, alerts)
		}
	}
}

// TestValues renders the chart with the settings users change most and
// checks that the mounts and the configuration follow.
func TestValues(t *testing.T) {
	t.Run("k3s socket", func(t *testing.T) {
		objs := renderObjects(t, "--set", "containerd.socket=/run/k3s/containerd/containerd.sock")
		ds := only[*appsv1.DaemonSet](t, objs)
		cfg := checkConfig(t, ds, only[*corev1.ConfigMap](t, objs))
		checkMounts(t, ds, cfg, "/run/k3s/containerd")
	})
	t.Run("microk8s socket", func(t *testing.T) {
		objs := renderObjects(t, "--set", "containerd.socket=/var/snap/microk8s/common/run/containerd.sock")
		ds := only[*appsv1.DaemonSet](t, objs)
		cfg := checkConfig(t, ds, only[*corev1.ConfigMap](t, objs))
		checkMounts(t, ds, cfg, "/var/snap/microk8s/common/run")
	})
	t.Run("relative socket", func(t *testing.T) {
		_, err := runHelm(t, "template", release, chartDir, "--set", "containerd.socket=containerd.sock")
		if err == nil || !strings.Contains(err.Error(), "containerd.socket must be an absolute path") {
			t.Errorf("a relative socket path rendered, or failed for another reason: %v", err)
		}
	})
	t.Run("otlp endpoint", func(t *testing.T) {
		const ep = "http://otel-collector.monitoring:4318"
		ds := only[*appsv1.DaemonSet](t, renderObjects(t, "--set", "otlp.endpoint="+ep))
		if env := findEnv(ds, "OTEL_EXPORTER_OTLP_ENDPOINT"); env == nil || env.Value != ep {
			t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT = %+v, want %s", env, ep)
		}
		// The example's port is OTLP/HTTP's: the protocol must agree.
		if env := findEnv(ds, "OTEL_EXPORTER_OTLP_PROTOCOL"); env == nil || env.Value != config.OTLPProtocolHTTP ||
			config.OTLPPortMismatch(ep, env.Value) != "" {
			t.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL = %+v with %s", env, ep)
		}
		ds = only[*appsv1.DaemonSet](t, renderObjects(t, "--set", "otlp.endpoint=http://c:4317", "--set", "otlp.protocol=grpc"))
		if env := findEnv(ds, "OTEL_EXPORTER_OTLP_PROTOCOL"); env == nil || env.Value != config.OTLPProtocolGRPC {
			t.Errorf("otlp.protocol=grpc: OTEL_EXPORTER_OTLP_PROTOCOL = %+v", env)
		}
	})
	t.Run("config merge", func(t *testing.T) {
		// User settings reach the agent; the chart's mount paths win.
		objs := renderObjects(t, "--set", "config.sampling.interval=30s", "--set", "config.host.proc_root=/elsewhere")
		cfg := checkConfig(t, only[*appsv1.DaemonSet](t, objs), only[*corev1.ConfigMap](t, objs))
		if cfg.Sampling.Interval.String() != "30s" {
			t.Errorf("sampling.interval %s, want 30s", cfg.Sampling.Interval)
		}
		if cfg.Host.ProcRoot != "/host/proc" {
			t.Errorf("host.proc_root %q: a user value displaced the chart's mount", cfg.Host.ProcRoot)
		}
	})
	t.Run("web config", func(t *testing.T) {
		// TLS and basic auth on the metrics port: the Secret is mounted and
		// passed to the agent, and the probes move to the plain health
		// listener, which the agent's configuration enables.
		objs := renderObjects(t, "--set", "webConfig.content=basic_auth_users: {prom: x}",
			"--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.scheme=https",
			"--set", "serviceMonitor.basicAuth.username.name=scrape", "--set", "serviceMonitor.basicAuth.username.key=user")
		ds := only[*appsv1.DaemonSet](t, objs)
		cfg := checkConfig(t, ds, only[*corev1.ConfigMap](t, objs))
		sec := only[*corev1.Secret](t, objs)
		if !strings.Contains(sec.StringData["web-config.yml"], "basic_auth_users") {
			t.Errorf("Secret %s holds %v", sec.Name, sec.StringData)
		}
		pod := ds.Spec.Template.Spec
		c := pod.Containers[0]
		vol := volumeFor(pod, func(v corev1.Volume) bool { return v.Secret != nil && v.Secret.SecretName == sec.Name })
		if vol == nil || mountOf(c, vol.Name) == nil {
			t.Fatalf("Secret %s is not mounted", sec.Name)
		}
		if arg := "--web.config.file=" + path.Join(mountOf(c, vol.Name).MountPath, "web-config.yml"); !slices.Contains(c.Args, arg) {
			t.Errorf("args %q lack %q", c.Args, arg)
		}
		_, port, err := splitPort(cfg.Web.HealthListenAddress)
		if err != nil {
			t.Fatalf("web.health_listen_address %q: %v", cfg.Web.HealthListenAddress, err)
		}
		var healthPort *corev1.ContainerPort
		for i := range c.Ports {
			if c.Ports[i].Name == "http-health" {
				healthPort = &c.Ports[i]
			}
		}
		if healthPort == nil || healthPort.ContainerPort != port {
			t.Fatalf("container ports %+v, want http-health on %d", c.Ports, port)
		}
		for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "http-health" {
				t.Errorf("%s probe %+v does not use the health listener", name, p)
			}
		}
		ep := only[*serviceMonitor](t, objs).Spec.Endpoints[0]
		if ep.Scheme != "https" || ep.BasicAuth == nil {
			t.Errorf("ServiceMonitor endpoint %+v lacks scheme or basicAuth", ep)
		}
	})
	t.Run("existing web config secret", func(t *testing.T) {
		objs := renderObjects(t, "--set", "webConfig.existingSecret=my-web")
		for _, o := range objs {
			if o.Kind == "Secret" {
				t.Errorf("a Secret %s is made next to an existing one", o.Name)
			}
		}
		pod := only[*appsv1.DaemonSet](t, objs).Spec.Template.Spec
		if volumeFor(pod, func(v corev1.Volume) bool { return v.Secret != nil && v.Secret.SecretName == "my-web" }) == nil {
			t.Error("the existing Secret is not mounted")
		}
	})
	t.Run("network policy", func(t *testing.T) {
		objs := renderObjects(t, "--set", "networkPolicy.enabled=true")
		np := only[*networkingv1.NetworkPolicy](t, objs)
		ds := only[*appsv1.DaemonSet](t, objs)
		for k, v := range np.Spec.PodSelector.MatchLabels {
			if ds.Spec.Template.Labels[k] != v {
				t.Errorf("NetworkPolicy selects %s=%s, pods are labelled %v", k, v, ds.Spec.Template.Labels)
			}
		}
		if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) != 1 ||
			np.Spec.Ingress[0].From[0].NamespaceSelector == nil || np.Spec.Ingress[0].Ports[0].Port.String() != "http-metrics" {
			t.Errorf("ingress %+v, want the metrics port from the monitoring namespace", np.Spec.Ingress)
		}
		// With web config, probes reach the health port from anywhere.
		np = only[*networkingv1.NetworkPolicy](t, renderObjects(t, "--set", "networkPolicy.enabled=true", "--set", "webConfig.existingSecret=w"))
		if len(np.Spec.Ingress) != 2 || np.Spec.Ingress[1].From != nil || np.Spec.Ingress[1].Ports[0].Port.String() != "http-health" {
			t.Errorf("ingress %+v, want the health port open", np.Spec.Ingress)
		}
	})
	t.Run("recursiveReadOnly off", func(t *testing.T) {
		ds := only[*appsv1.DaemonSet](t, renderObjects(t, "--set", "host.recursiveReadOnly="))
		for _, m := range ds.Spec.Template.Spec.Containers[0].VolumeMounts {
			if m.RecursiveReadOnly != nil {
				t.Errorf("mount %s keeps recursiveReadOnly %s", m.Name, *m.RecursiveReadOnly)
			}
		}
	})
}

// TestNotes renders NOTES.txt, which helm template leaves out: a copy of
// the chart gets a template that embeds the notes in a YAML document.
func TestNotes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), chartDir)
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	notes, err := os.ReadFile(filepath.Join(chartDir, "templates", "NOTES.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tpl := append(append([]byte(`{{- define "notes.check" -}}`), notes...), `{{- end }}`...)
	for name, data := range map[string][]byte{
		"_notes_check.tpl": tpl,
		"notes-check.yaml": []byte("notes: |\n{{ include \"notes.check\" . | indent 2 }}\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, "templates", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		values []string
		want   []string
	}{
		{"default", nil, []string{
			"kubectl -n monitoring rollout status daemonset/fleetscope",
			"prometheus.io/scrape annotations",
			"/run/k3s/containerd/containerd.sock",
		}},
		{"prometheus-operator", append(slices.Clone(monitoringValues), "--set", "otlp.endpoint=http://collector:4318"), []string{
			"ServiceMonitor monitoring/fleetscope",
			"PrometheusRule monitoring/fleetscope",
			"OTLP export to http://collector:4318",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runHelm(t, append([]string{"template", release, dir, "--namespace", namespace,
				"--show-only", "templates/notes-check.yaml"}, tc.values...)...)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Notes string `json:"notes"`
			}
			if err := decodeStrict(out, &doc); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(doc.Notes, w) {
					t.Errorf("NOTES.txt lacks %q:\n%s", w, doc.Notes)
				}
			}
		})
	}
}

// TestManifests keeps packaging/kubernetes equal to the chart's output.
func TestManifests(t *testing.T) {
	for _, tc := range []struct {
		file   string
		values []string
	}{
		{manifestsFile, nil},
		{operatorFile, append(slices.Clone(monitoringValues),
			"--show-only", "templates/servicemonitor.yaml", "--show-only", "templates/prometheusrule.yaml")},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			args := strings.Join(append([]string{"helm template", release, "packaging/helm/" + chartDir, "--namespace", namespace}, tc.values...), " ")
			want := append([]byte("# Rendered from the Helm chart in packaging/helm/fleetscope:\n#   "+args+
				"\n# Do not edit; regenerate with: go test ./packaging/helm -update\n"), render(t, tc.values...)...)
			if _, err := decodeAll(want); err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(tc.file, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatalf("%v (regenerate with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the chart's output; regenerate with: go test ./packaging/helm -update\n%s", tc.file, firstDiff(got, want))
			}
		})
	}
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return "no line differs"
}

// FleetscopeAgentDown's selector comes from the values, into both of its
// rules; by default it follows nameOverride.
func TestAgentUpSelector(t *testing.T) {
	exprs := func(values ...string) []string {
		pr := alertingRule(t, renderObjects(t, append(slices.Clone(monitoringValues), values...)...))
		var out []string
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				if r.Alert == "FleetscopeAgentDown" {
					out = append(out, strings.TrimSpace(r.Expr))
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		values []string
		want   []string
	}{
		{nil, []string{`(up{job=~".*fleetscope.*"} or up{app_kubernetes_io_name="fleetscope"}) == 0`,
			`absent(up{job=~".*fleetscope.*"} or up{app_kubernetes_io_name="fleetscope"})`}},
		{[]string{"--set", "nameOverride=costs"}, []string{`(up{job=~".*costs.*"} or up{app_kubernetes_io_name="costs"}) == 0`,
			`absent(up{job=~".*costs.*"} or up{app_kubernetes_io_name="costs"})`}},
		{[]string{"--set-string", `prometheusRule.agentUpSelector=up{job="agents"\,cluster="eu"}`}, []string{`(up{job="agents",cluster="eu"}) == 0`,
			`absent(up{job="agents",cluster="eu"})`}},
	} {
		if got := exprs(tc.values...); !slices.Equal(got, tc.want) {
			t.Errorf("%v: FleetscopeAgentDown exprs %q, want %q", tc.values, got, tc.want)
		}
	}
}
