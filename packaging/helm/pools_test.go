package helm

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fleetscope/fleetscope/config"
)

const poolValues = `
nodePools:
  - name: spot
    nodeSelector: {karpenter.sh/capacity-type: spot}
    prices: {capacity_type: spot}
  - name: reserved
    nodeSelector: {node.kubernetes.io/instance-type: m6i.xlarge}
    prices: {node_hourly: 0.121, node_spot: false, discount: 0.2}
`

// Node pools priced apart: one DaemonSet each, on the pool's nodes, with
// the pool's prices in an environment the agent accepts; the DaemonSet of
// the other nodes keeps off every pool's.
func TestNodePools(t *testing.T) {
	values := filepath.Join(t.TempDir(), "pools.yaml")
	if err := os.WriteFile(values, []byte(poolValues), 0o600); err != nil {
		t.Fatal(err)
	}
	objs := renderObjects(t, "-f", values)
	dss := map[string]*appsv1.DaemonSet{}
	for _, o := range objs {
		if ds, ok := o.Object.(*appsv1.DaemonSet); ok {
			dss[ds.Name] = ds
		}
	}
	if len(dss) != 3 || dss[release] == nil || dss[release+"-spot"] == nil || dss[release+"-reserved"] == nil {
		t.Fatalf("DaemonSets %v, want %s, %s-spot and %s-reserved", keys(dss), release, release, release)
	}
	cm := only[*corev1.ConfigMap](t, objs)
	base := dss[release]
	if base.Spec.Template.Spec.Affinity == nil || base.Spec.Template.Spec.Affinity.NodeAffinity == nil {
		t.Fatal("the DaemonSet of the other nodes has no node affinity")
	}
	terms := base.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 2 {
		t.Fatalf("required terms %+v, want one term of two expressions", terms)
	}
	for _, e := range terms[0].MatchExpressions {
		if e.Operator != corev1.NodeSelectorOpNotIn || len(e.Values) != 1 ||
			!(e.Key == "karpenter.sh/capacity-type" && e.Values[0] == "spot" || e.Key == "node.kubernetes.io/instance-type" && e.Values[0] == "m6i.xlarge") {
			t.Errorf("expression %+v does not keep a pool's nodes off", e)
		}
	}
	for name, want := range map[string]struct {
		key, value string
		env        map[string]string
	}{
		"spot":     {"karpenter.sh/capacity-type", "spot", map[string]string{"FLEETSCOPE_ANALYSIS_PRICES_CAPACITY_TYPE": "spot"}},
		"reserved": {"node.kubernetes.io/instance-type", "m6i.xlarge", map[string]string{"FLEETSCOPE_ANALYSIS_PRICES_NODE_HOURLY": "0.121", "FLEETSCOPE_ANALYSIS_PRICES_NODE_SPOT": "false", "FLEETSCOPE_ANALYSIS_PRICES_DISCOUNT": "0.2"}},
	} {
		ds := dss[release+"-"+name]
		sel := ds.Spec.Selector.MatchLabels
		if sel["fleetscope.io/node-pool"] != name || ds.Spec.Template.Labels["fleetscope.io/node-pool"] != name {
			t.Errorf("%s: selector %v, pod labels %v: want its own node-pool label", ds.Name, sel, ds.Spec.Template.Labels)
		}
		for k, v := range base.Spec.Selector.MatchLabels {
			if ds.Spec.Template.Labels[k] != v {
				t.Errorf("%s: pods lack %s=%s, which the Service and monitors select", ds.Name, k, v)
			}
		}
		ns := ds.Spec.Template.Spec.NodeSelector
		if ns[want.key] != want.value || ns["kubernetes.io/os"] != "linux" {
			t.Errorf("%s: node selector %v", ds.Name, ns)
		}
		if ds.Spec.Template.Spec.Affinity != nil {
			t.Errorf("%s: affinity %+v", ds.Name, ds.Spec.Template.Spec.Affinity)
		}
		environ := []string{}
		for k, v := range want.env {
			if e := findEnv(ds, k); e == nil || e.Value != v {
				t.Errorf("%s: %s is %+v, want %q", ds.Name, k, e, v)
			}
			environ = append(environ, k+"="+v)
		}
		// The agent takes the pool's environment over the ConfigMap.
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(cm.Data["config.yaml"]), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path, environ)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			t.Fatalf("%s: the agent rejects its configuration: %v", ds.Name, err)
		}
		if p := cfg.Analysis.Prices; name == "reserved" && (p.NodeHourly != 0.121 || p.Discount != 0.2) || name == "spot" && p.CapacityType != "spot" {
			t.Errorf("%s: prices %+v", ds.Name, p)
		}
	}

	// A pool named by two labels cannot be kept apart by one term, prices
	// are those of analysis.prices, and the other nodes' required node
	// affinity is the chart's once pools exist.
	for _, tc := range []struct{ name, values, want string }{
		{"two labels", "nodePools: [{name: a, nodeSelector: {x: '1', y: '2'}}]", "schema"},
		{"unknown price", "nodePools: [{name: a, nodeSelector: {x: '1'}, prices: {vcpu: 1}}]", "schema"},
		{"bad name", "nodePools: [{name: A_1, nodeSelector: {x: '1'}}]", "schema"},
		{"affinity", "nodePools: [{name: a, nodeSelector: {x: '1'}}]\naffinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: z, operator: Exists}]}]}}}",
			"cannot be combined with nodePools"},
	} {
		values := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(values, []byte(tc.values), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := runHelm(t, "template", release, chartDir, "-f", values); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
