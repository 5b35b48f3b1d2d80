package containerd

import (
	"testing"

	apievents "github.com/containerd/containerd/api/events"
)

// Overrides come from the pod's labels (its sandbox's), never from an app
// container's own labels (its image's) nor from a container outside a pod.
func TestOverrideLabelsComeFromThePod(t *testing.T) {
	const podLabel, imageLabel = "fleetscope.io/idle-cpu-cores", "fleetscope.io/latency-critical"
	f := newFakeAPI()
	pod := map[string]string{LabelPodName: "web", LabelPodNamespace: "shop", LabelCRIKind: "sandbox", podLabel: "0.5"}
	app := func(name string) map[string]string {
		return map[string]string{LabelPodName: "web", LabelPodNamespace: "shop", LabelContainerName: name, LabelCRIKind: "container", imageLabel: "true"}
	}
	spec := `{"annotations":{"io.kubernetes.cri.sandbox-id":"sb"}}`
	// Listed before its sandbox, as a re-list may return it.
	f.add("k8s.io", "app", app("nginx"), spec, 2)
	f.add("k8s.io", "sb", pod, "", 1)
	f.add("default", "plain", map[string]string{imageLabel: "true"}, "", 3)
	d := start(t, f, Options{})
	waitFor(t, "connection", func() bool { return d.Health().Connected })

	if c := get(d, "k8s.io", "app"); c.OverrideLabels[podLabel] != "0.5" || c.OverrideLabels[imageLabel] != "" {
		t.Errorf("app container overrides = %v, want the pod's labels only", c.OverrideLabels)
	}
	if c := get(d, "k8s.io", "sb"); c.OverrideLabels[podLabel] != "0.5" {
		t.Errorf("sandbox overrides = %v, want its own labels", c.OverrideLabels)
	}
	if c := get(d, "default", "plain"); c.OverrideLabels != nil {
		t.Errorf("container outside a pod: overrides = %v, want none", c.OverrideLabels)
	}

	// A container created later, through an event, finds its sandbox.
	f.add("k8s.io", "app2", app("sidecar"), spec, 0)
	f.send(t, "k8s.io", &apievents.ContainerCreate{ID: "app2"})
	waitFor(t, "create", func() bool { return get(d, "k8s.io", "app2") != nil })
	if c := get(d, "k8s.io", "app2"); c.OverrideLabels[podLabel] != "0.5" || c.OverrideLabels[imageLabel] != "" {
		t.Errorf("new app container overrides = %v, want the pod's labels only", c.OverrideLabels)
	}
}
