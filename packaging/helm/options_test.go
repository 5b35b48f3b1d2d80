package helm

import (
	"bytes"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	dashboardSource = "../grafana/fleetscope.json"
	dashboardCopy   = "fleetscope/files/fleetscope.json"
)

// Helm reads only files inside the chart, so the chart keeps a copy of the
// dashboard for its ConfigMap; -update copies it.
func TestDashboardCopy(t *testing.T) {
	src, err := os.ReadFile(dashboardSource)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(dashboardCopy, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := os.ReadFile(dashboardCopy)
	if err != nil || !bytes.Equal(cp, src) {
		t.Errorf("%s differs from %s (%v); copy it with: go test ./packaging/helm -update", dashboardCopy, dashboardSource, err)
	}
}

// The recording rules ship in the chart as a second PrometheusRule, a copy
// of packaging/prometheus/rules.yaml (-update copies it), so that the
// dashboard's "by workload" view works with prometheus-operator too.
func TestRecordingRules(t *testing.T) {
	const src, cp = "../prometheus/rules.yaml", "fleetscope/files/rules.yaml"
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(cp, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := os.ReadFile(cp); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%s differs from %s (%v); copy it with: go test ./packaging/helm -update", cp, src, err)
	}
	var file ruleFile
	if err := decodeStrict(data, &file); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	var found *prometheusRule
	for _, o := range renderObjects(t, "--set", "prometheusRule.enabled=true") {
		if pr, ok := o.Object.(*prometheusRule); ok && strings.HasSuffix(pr.Name, "-workloads") {
			found = pr
		}
	}
	if found == nil {
		t.Fatal("no PrometheusRule of recording rules")
	}
	if !reflect.DeepEqual(found.Spec, file) {
		t.Errorf("recording PrometheusRule differs from %s:\n got %+v\nwant %+v", src, found.Spec, file)
	}
	for _, o := range renderObjects(t, "--set", "prometheusRule.enabled=true", "--set", "prometheusRule.recordingRules=false") {
		if pr, ok := o.Object.(*prometheusRule); ok && strings.HasSuffix(pr.Name, "-workloads") {
			t.Error("recordingRules=false still renders them")
		}
	}
}

// values.schema.json makes an unknown or misspelt key an error, as the
// agent's own configuration does, for helm template, install and lint.
func TestSchemaRejectsUnknownKeys(t *testing.T) {
	for _, v := range []string{"imagee.tag=1", "image.tagg=1", "serviceMonitor.intervall=1m", "prometheusRule.alerts.containerIdle.idleRatioo=1",
		"otlp.protocol=http/json", "image.pullPolicy=Sometimes"} {
		_, err := runHelm(t, "template", release, chartDir, "--set", v)
		if err == nil || !strings.Contains(err.Error(), "schema") {
			t.Errorf("helm template --set %s: %v, want a schema error", v, err)
		}
		if _, err := runHelm(t, "lint", chartDir, "--set", v); err == nil {
			t.Errorf("helm lint --set %s passed", v)
		}
	}
	// Free-form sections stay free: the agent's config (which the agent
	// checks strictly itself), labels, security contexts.
	renderObjects(t, "--set", "config.analysis.prices.vcpu_hour=0.05", "--set", "podLabels.team=a",
		"--set", "securityContext.appArmorProfile.type=Unconfined", "--set", "resources.limits.cpu=1")
}

func TestOptions(t *testing.T) {
	t.Run("image registry and digest", func(t *testing.T) {
		ds := only[*appsv1.DaemonSet](t, renderObjects(t, "--set", "image.registry=registry.example.com", "--set", "image.tag=9.9.9"))
		if got := ds.Spec.Template.Spec.Containers[0].Image; got != "registry.example.com/fleetscope/fleetscope:9.9.9" {
			t.Errorf("image %q", got)
		}
		const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		ds = only[*appsv1.DaemonSet](t, renderObjects(t, "--set", "image.registry=", "--set", "image.repository=mirror/fs", "--set", "image.digest="+digest))
		if got := ds.Spec.Template.Spec.Containers[0].Image; got != "mirror/fs@"+digest {
			t.Errorf("image %q, want the digest to win over the tag", got)
		}
	})
	t.Run("extra volumes, mounts and envFrom", func(t *testing.T) {
		ds := only[*appsv1.DaemonSet](t, renderObjects(t,
			"--set", "extraVolumes[0].name=ca", "--set", "extraVolumes[0].configMap.name=ca-bundle",
			"--set", "extraVolumeMounts[0].name=ca", "--set", "extraVolumeMounts[0].mountPath=/etc/ca", "--set", "extraVolumeMounts[0].readOnly=true",
			"--set", "envFrom[0].secretRef.name=otlp-credentials"))
		pod := ds.Spec.Template.Spec
		if v := volumeFor(pod, func(v corev1.Volume) bool { return v.Name == "ca" }); v == nil || v.ConfigMap == nil || v.ConfigMap.Name != "ca-bundle" {
			t.Errorf("extra volume %+v", v)
		}
		if m := mountOf(pod.Containers[0], "ca"); m == nil || m.MountPath != "/etc/ca" || !m.ReadOnly {
			t.Errorf("extra mount %+v", m)
		}
		if ef := pod.Containers[0].EnvFrom; len(ef) != 1 || ef[0].SecretRef == nil || ef[0].SecretRef.Name != "otlp-credentials" {
			t.Errorf("envFrom %+v", ef)
		}
	})
	t.Run("commonLabels and namespaceOverride", func(t *testing.T) {
		objs := renderObjects(t, append(slices.Clone(monitoringValues), "--set", "commonLabels.team=platform", "--set", "namespaceOverride=observability",
			"--set", "dashboard.enabled=true", "--set", "networkPolicy.enabled=true", "--set", "webConfig.content=x")...)
		for _, o := range objs {
			m := o.Object.(metav1.Object)
			if m.GetLabels()["team"] != "platform" {
				t.Errorf("%s %s: labels %v lack commonLabels", o.Kind, o.Name, m.GetLabels())
			}
			if m.GetNamespace() != "observability" {
				t.Errorf("%s %s: namespace %q, want the override", o.Kind, o.Name, m.GetNamespace())
			}
		}
		sm := only[*serviceMonitor](t, objs)
		if !slices.Equal(sm.Spec.NamespaceSelector.MatchNames, []string{"observability"}) {
			t.Errorf("ServiceMonitor looks in %v", sm.Spec.NamespaceSelector.MatchNames)
		}
		ds := only[*appsv1.DaemonSet](t, objs)
		if ds.Spec.Selector.MatchLabels["team"] != "" {
			t.Error("commonLabels reached the immutable selector")
		}
	})
	t.Run("revisionHistoryLimit", func(t *testing.T) {
		ds := only[*appsv1.DaemonSet](t, renderObjects(t, "--set", "revisionHistoryLimit=3"))
		if ds.Spec.RevisionHistoryLimit == nil || *ds.Spec.RevisionHistoryLimit != 3 {
			t.Errorf("revisionHistoryLimit %v", ds.Spec.RevisionHistoryLimit)
		}
	})
	t.Run("ServiceMonitor sampleLimit and jobLabel", func(t *testing.T) {
		objs := renderObjects(t, append(slices.Clone(monitoringValues), "--set", "serviceMonitor.sampleLimit=50000")...)
		sm := only[*serviceMonitor](t, objs)
		if sm.Spec.SampleLimit == nil || *sm.Spec.SampleLimit != 50000 || sm.Spec.JobLabel != "app.kubernetes.io/name" {
			t.Errorf("sampleLimit %v jobLabel %q", sm.Spec.SampleLimit, sm.Spec.JobLabel)
		}
		if svc := only[*corev1.Service](t, objs); svc.Labels[sm.Spec.JobLabel] != "fleetscope" {
			t.Errorf("the Service's %s label is %q: job would not be the chart's name", sm.Spec.JobLabel, svc.Labels[sm.Spec.JobLabel])
		}
	})
	t.Run("PodMonitor", func(t *testing.T) {
		objs := renderObjects(t, "--set", "podMonitor.enabled=true", "--set", "podMonitor.sampleLimit=1000", "--set", "podMonitor.labels.release=kps")
		pm := only[*podMonitor](t, objs)
		ds := only[*appsv1.DaemonSet](t, objs)
		for k, v := range pm.Spec.Selector.MatchLabels {
			if ds.Spec.Template.Labels[k] != v {
				t.Errorf("PodMonitor selects %s=%s, pods carry %v", k, v, ds.Spec.Template.Labels)
			}
		}
		if e := pm.Spec.PodMetricsEndpoints; len(e) != 1 || e[0].Port != "http-metrics" || len(e[0].Relabelings) != 1 || e[0].Relabelings[0].TargetLabel != "node" {
			t.Errorf("podMetricsEndpoints %+v", e)
		}
		if pm.Labels["release"] != "kps" || pm.Spec.SampleLimit == nil || *pm.Spec.SampleLimit != 1000 || pm.Spec.JobLabel != "app.kubernetes.io/name" {
			t.Errorf("PodMonitor %+v", pm)
		}
		if ann := ds.Spec.Template.Annotations; ann["prometheus.io/scrape"] != "" {
			t.Error("pods keep scrape annotations next to a PodMonitor (scraped twice)")
		}
	})
	t.Run("dashboard ConfigMap", func(t *testing.T) {
		objs := renderObjects(t, "--set", "dashboard.enabled=true", "--set", "dashboard.annotations.grafana_folder=Fleetscope")
		var cm *corev1.ConfigMap
		for _, o := range objs {
			if c, ok := o.Object.(*corev1.ConfigMap); ok && strings.HasSuffix(c.Name, "-dashboard") {
				cm = c
			}
		}
		if cm == nil {
			t.Fatalf("no dashboard ConfigMap in %v", objs.kinds())
		}
		src, err := os.ReadFile(dashboardSource)
		if err != nil {
			t.Fatal(err)
		}
		if cm.Labels["grafana_dashboard"] != "1" || cm.Annotations["grafana_folder"] != "Fleetscope" {
			t.Errorf("labels %v annotations %v", cm.Labels, cm.Annotations)
		}
		if strings.TrimSpace(cm.Data["fleetscope.json"]) != strings.TrimSpace(string(src)) {
			t.Error("the ConfigMap's dashboard differs from packaging/grafana/fleetscope.json")
		}
	})
	t.Run("alerts as values", func(t *testing.T) {
		objs := renderObjects(t, append(slices.Clone(monitoringValues),
			"--set", "prometheusRule.alerts.serverlessCandidate.enabled=false",
			"--set", "prometheusRule.alerts.containerIdle.idleRatio=0.8", "--set", "prometheusRule.alerts.containerIdle.idleCostPerMonth=25",
			"--set", "prometheusRule.alerts.containerIdle.for=2h",
			"--set", "prometheusRule.additionalRuleLabels.team=platform")...)
		pr := alertingRule(t, objs)
		var idle *rule
		n := 0
		for _, g := range pr.Spec.Groups {
			for i, r := range g.Rules {
				n++
				if r.Alert == "FleetscopeServerlessCandidate" {
					t.Error("a disabled alert was rendered")
				}
				if r.Labels["team"] != "platform" {
					t.Errorf("%s: labels %v lack additionalRuleLabels", r.Alert, r.Labels)
				}
				if r.Alert == "FleetscopeContainerIdle" {
					idle = &g.Rules[i]
				}
			}
		}
		if idle == nil || !strings.Contains(idle.Expr, "* 730 > 25") || !strings.Contains(idle.Expr, "} > 0.8") || idle.For != "2h" ||
			!strings.Contains(idle.Annotations["description"], "idle ratio 24h > 0.8, idle cost > 25/month, for 2h") {
			t.Errorf("FleetscopeContainerIdle %+v", idle)
		}
		if n != 7 {
			t.Errorf("%d rules, want 7 (8 less the disabled one)", n)
		}
	})
}

// alertingRule is the chart's PrometheusRule of alerts (the other one holds
// the recording rules).
func alertingRule(t *testing.T, objs objects) *prometheusRule {
	t.Helper()
	var keep objects
	for _, o := range objs {
		if pr, ok := o.Object.(*prometheusRule); ok && strings.HasSuffix(pr.Name, "-workloads") {
			continue
		}
		keep = append(keep, o)
	}
	return only[*prometheusRule](t, keep)
}
