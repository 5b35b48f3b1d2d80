package containerd

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestLabelFilter(t *testing.T) {
	labels := map[string]string{
		"app":                         "web",
		"app.kubernetes.io/name":      "shop",
		"app.kubernetes.io/version":   "1.2",
		"application":                 "no",
		"team":                        "payments",
		"io.kubernetes.pod.name":      "web-1",
		"secret.example.com/password": "hunter2",
	}
	tests := []struct {
		patterns []string
		want     []string
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{"app"}, []string{"app=web"}},
		{[]string{"app.kubernetes.io/*", "team"}, []string{"app.kubernetes.io/name=shop", "app.kubernetes.io/version=1.2", "team=payments"}},
		{[]string{"absent"}, nil},
		{[]string{"*"}, []string{"app=web", "app.kubernetes.io/name=shop", "app.kubernetes.io/version=1.2", "application=no",
			"io.kubernetes.pod.name=web-1", "secret.example.com/password=hunter2", "team=payments"}},
	}
	for _, tt := range tests {
		var got []string
		for _, l := range NewLabelFilter(tt.patterns).Select(labels) {
			got = append(got, l.Key+"="+l.Value)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("patterns %q: got %q, want %q", tt.patterns, got, tt.want)
		}
	}
	var nilFilter *LabelFilter
	if got := nilFilter.Select(labels); got != nil {
		t.Errorf("nil filter selected %v", got)
	}
}

func TestDiscoveryExportsOnlyAllowedLabels(t *testing.T) {
	f := newFakeAPI()
	f.add("k8s.io", "a", map[string]string{"app": "web", "team": "x", LabelPodName: "web-1"}, "", 1)
	d := start(t, f, Options{ExportLabels: NewLabelFilter([]string{"app"})})
	waitFor(t, "container a", func() bool { return get(d, "k8s.io", "a") != nil })
	if got := get(d, "k8s.io", "a").ExportLabels; !slices.Equal(got, []Label{{"app", "web"}}) {
		t.Fatalf("ExportLabels = %v, want only app=web", got)
	}
	// The default (no allow-list) exports no label at all.
	d2 := start(t, f, Options{})
	waitFor(t, "container a", func() bool { return get(d2, "k8s.io", "a") != nil })
	if got := get(d2, "k8s.io", "a").ExportLabels; got != nil {
		t.Fatalf("ExportLabels without an allow-list = %v", got)
	}
}

// The process environment often carries secrets: discovery must not keep
// it, whatever the spec holds.
func TestContainerKeepsNoEnvironment(t *testing.T) {
	spec := `{"process":{"env":["PATH=/bin","DB_PASSWORD=hunter2"],"args":["sh"]},
		"linux":{"cgroupsPath":"/k8s.io/x","resources":{"memory":{"limit":1048576}}}}`
	c, err := newContainer("ns", record("x", nil, spec))
	if err != nil {
		t.Fatal(err)
	}
	if c.Resources.MemoryLimit != 1048576 {
		t.Fatalf("spec not read: %+v", c.Resources)
	}
	if dump := fmt.Sprintf("%#v", *c); strings.Contains(dump, "hunter2") || strings.Contains(dump, "DB_PASSWORD") {
		t.Fatalf("the container record holds the process environment: %s", dump)
	}
}
