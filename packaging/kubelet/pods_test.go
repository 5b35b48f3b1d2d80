package kubelet

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// podNamespace is the Kubernetes namespace of the workload pods.
const podNamespace = "shop"

// chartValues are what the test sets when rendering the chart: its own
// image, socket, state directory and port; everything else is the chart's
// default.
type chartValues struct {
	registry, repository, tag, socket, stateDir string
	port                                        int
}

// rendered is the chart's DaemonSet and ConfigMap.
type rendered struct {
	ds *appsv1.DaemonSet
	cm *corev1.ConfigMap
}

// renderChart runs helm template on the repository's chart.
func renderChart(t *testing.T, helm string, v chartValues) rendered {
	t.Helper()
	cmd := exec.Command(helm, "template", "fleetscope", "../helm/fleetscope", "--namespace", "monitoring",
		"--set", "image.registry="+v.registry,
		"--set", "image.repository="+v.repository,
		"--set", "image.tag="+v.tag,
		"--set", "image.pullPolicy=Never",
		"--set", "containerd.socket="+v.socket,
		"--set", "host.stateDir="+v.stateDir,
		"--set", fmt.Sprintf("port=%d", v.port))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	var r rendered
	for doc := range strings.SplitSeq(string(out), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("rendered document: %v\n%s", err, doc)
		}
		switch meta.Kind {
		case "DaemonSet":
			r.ds = &appsv1.DaemonSet{}
			err = yaml.UnmarshalStrict([]byte(doc), r.ds)
		case "ConfigMap":
			r.cm = &corev1.ConfigMap{}
			err = yaml.UnmarshalStrict([]byte(doc), r.cm)
		}
		if err != nil {
			t.Fatalf("rendered %s: %v", meta.Kind, err)
		}
	}
	if r.ds == nil || r.cm == nil {
		t.Fatalf("helm template rendered no DaemonSet or ConfigMap:\n%s", out)
	}
	return r
}

// staticAgentPod turns the rendered DaemonSet's pod template into a static
// pod. A static pod cannot use API objects, so the changes to the spec are
// the config volume (the rendered ConfigMap's files are written to
// configDir and mounted from there as a hostPath, at the same mount point)
// and no service account name.
// The pod has no cluster DNS to use (dnsPolicy None, like every pod here).
// Security contexts, capabilities, the other hostPath mounts, probes,
// resources and environment stay as rendered.
func staticAgentPod(t *testing.T, r rendered, configDir string) *corev1.Pod {
	t.Helper()
	if err := os.MkdirAll(configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range r.cm.Data {
		write(t, filepath.Join(configDir, name), content)
	}
	tmpl := r.ds.Spec.Template
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: r.ds.Name, Namespace: r.ds.Namespace,
			Labels: tmpl.Labels, Annotations: tmpl.Annotations,
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
	replaced := false
	for i, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == r.cm.Name {
			dir := corev1.HostPathDirectory
			pod.Spec.Volumes[i].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: configDir, Type: &dir}}
			replaced = true
		}
	}
	if !replaced {
		t.Fatalf("the rendered DaemonSet mounts no ConfigMap %s", r.cm.Name)
	}
	// The kubelet refuses static pods that name a service account (the
	// chart's is an API object; its token is not mounted anyway).
	pod.Spec.ServiceAccountName, pod.Spec.DeprecatedServiceAccount = "", ""
	noDNS(&pod.Spec)
	return pod
}

// noDNS gives a pod no cluster DNS: the node has none.
func noDNS(spec *corev1.PodSpec) {
	spec.DNSPolicy = corev1.DNSNone
	spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"127.0.0.1"}}
}

// workload pods, by manifest name.
const (
	burstablePod  = "web-5d8f9c7b6d" // requests, a memory limit, no CPU limit; a Deployment's pod
	guaranteedPod = "busy"           // requests = limits; busy for busySeconds, then idle; a DaemonSet's pod
	bestEffortPod = "idle"           // no resources
	pairPod       = "pair"           // two containers
	crashPod      = "crash"          // its container exits after 15 s and is restarted
	busySeconds   = 20
)

func workloadPods() []*corev1.Pod {
	sleep := []string{"sh", "-c", "exec sleep 1000000"}
	res := func(req, lim corev1.ResourceList) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: req, Limits: lim}
	}
	list := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	pod := func(name string, labels map[string]string, cs ...corev1.Container) *corev1.Pod {
		grace := int64(1)
		for i := range cs {
			cs[i].Image = testenv.BusyboxRef
			cs[i].ImagePullPolicy = corev1.PullNever
		}
		p := &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: podNamespace, Labels: labels},
			Spec: corev1.PodSpec{
				Containers:                    cs,
				RestartPolicy:                 corev1.RestartPolicyAlways,
				TerminationGracePeriodSeconds: &grace,
			},
		}
		noDNS(&p.Spec)
		return p
	}
	// Many short processes: the case where tick-based user/system times
	// fall well short of the exact counter.
	busy := fmt.Sprintf(`end=$(( $(date +%%s) + %d )); while [ "$(date +%%s)" -lt "$end" ]; do :; done; exec sleep 1000000`, busySeconds)
	return []*corev1.Pod{
		pod(burstablePod, map[string]string{"app": "web", "pod-template-hash": "5d8f9c7b6d"},
			corev1.Container{Name: "web", Command: sleep, Resources: res(list("250m", "16Mi"), list("", "64Mi"))}),
		pod(guaranteedPod, map[string]string{"app": "busy", "controller-revision-hash": "7c9d8f6b5", "pod-template-generation": "1"},
			corev1.Container{Name: "busy", Command: []string{"sh", "-c", busy}, Resources: res(list("500m", "32Mi"), list("500m", "32Mi"))}),
		pod(bestEffortPod, map[string]string{"app": "idle"},
			corev1.Container{Name: "idle", Command: sleep}),
		pod(pairPod, map[string]string{"app": "pair"},
			corev1.Container{Name: "app", Command: sleep, Resources: res(list("100m", "16Mi"), nil)},
			corev1.Container{Name: "sidecar", Command: sleep}),
		pod(crashPod, map[string]string{"app": "crash"},
			corev1.Container{Name: "worker", Command: []string{"sh", "-c", "sleep 15; exit 1"}}),
	}
}

// writeManifest writes a static pod manifest atomically: the kubelet must
// never read half a file.
func writeManifest(t *testing.T, dir string, pod *corev1.Pod) {
	t.Helper()
	b, err := json.MarshalIndent(pod, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "."+pod.Name+".tmp")
	write(t, tmp, string(b))
	if err := os.Rename(tmp, filepath.Join(dir, pod.Name+".json")); err != nil {
		t.Fatal(err)
	}
}

// cgroupFile reads one value of a task's cgroup v1 controller, e.g.
// ("cpuacct", "cpuacct.usage").
func cgroupFile(pid int, controller, file string) (string, error) {
	dir, err := cgroupDir(pid, controller)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	return strings.TrimSpace(string(b)), err
}

// cgroupDir returns the directory of pid's cgroup in a v1 hierarchy.
func cgroupDir(pid int, controller string) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-id:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for c := range strings.SplitSeq(parts[1], ",") {
			if c == controller {
				return filepath.Join("/sys/fs/cgroup", parts[1], parts[2]), nil
			}
		}
	}
	return "", errors.New("no " + controller + " cgroup for pid " + fmt.Sprint(pid))
}
