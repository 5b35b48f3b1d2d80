package report

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/internal/testenv"
)

// planTargets are the workloads of r as real objects, each container with
// the image and the reservations its analysis read: what its plans change.
func planTargets(t *testing.T, r Report) []byte {
	docs := []any{map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "shop"}}}
	type key struct{ kind, name string }
	containers := map[key][]any{}
	var order []key
	for _, c := range r.Containers {
		if !kubeName(c.WorkloadName, 253) {
			continue
		}
		k := key{c.WorkloadKind, c.WorkloadName}
		if containers[k] == nil {
			order = append(order, k)
		}
		requests, limits := map[string]any{}, map[string]any{}
		a := c.Analysis
		for _, q := range []struct {
			source, name, value string
		}{
			{a.ReservedCPUSource, "cpu", strconv.FormatFloat(a.ReservedCPUCores*1000, 'f', 0, 64) + "m"},
			{a.ReservedMemorySrc, "memory", strconv.FormatUint(a.ReservedMemory>>20, 10) + "Mi"},
		} {
			switch q.source {
			case "limit":
				requests[q.name], limits[q.name] = q.value, q.value
			case "request":
				requests[q.name] = q.value
			}
		}
		containers[k] = append(containers[k], map[string]any{"name": c.Name, "image": c.Image,
			"resources": map[string]any{"requests": requests, "limits": limits}})
	}
	for _, k := range order {
		labels := map[string]any{"app": k.name}
		pod := map[string]any{"metadata": map[string]any{"labels": labels}, "spec": map[string]any{"containers": containers[k]}}
		o := map[string]any{"apiVersion": "apps/v1", "kind": k.kind, "metadata": map[string]any{"name": k.name, "namespace": "shop"}}
		switch k.kind {
		case "CronJob":
			pod["spec"].(map[string]any)["restartPolicy"] = "OnFailure"
			o["apiVersion"] = "batch/v1"
			o["spec"] = map[string]any{"schedule": "0 2 * * *", "jobTemplate": map[string]any{"spec": map[string]any{"template": pod}}}
		case "StatefulSet":
			o["spec"] = map[string]any{"serviceName": k.name, "selector": map[string]any{"matchLabels": labels}, "template": pod}
		default:
			o["spec"] = map[string]any{"selector": map[string]any{"matchLabels": labels}, "template": pod}
		}
		docs = append(docs, o)
	}
	var b []byte
	for _, d := range docs {
		y, err := yaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		b = append(append(b, "---\n"...), y...)
	}
	return b
}

// TestPlansAcceptedByAPIServer has a real kube-apiserver, with KEDA's and
// Knative serving's CRDs, take every file a plan writes as kubectl would:
// patches applied to the real workloads (a dry run, then for real and read
// back), new objects created in a dry run, each with strict field
// validation. kube-green's SleepInfo cannot be checked: its CRD's module is
// not served here (see testenv.StartAPIServer).
func TestPlansAcceptedByAPIServer(t *testing.T) {
	s := testenv.StartAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Create(ctx, planTargets(t, planReport()), false); err != nil {
		t.Fatal(err)
	}
	checked := map[string]int{}
	for _, p := range Plans(planReport(), config.Default().Analysis) {
		for _, f := range p.Files {
			var obj struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(f.Data, &obj); err != nil {
				t.Fatalf("%s/%s: %v", p.Name, f.Name, err)
			}
			switch {
			case strings.HasSuffix(f.Name, ".patch.yaml"):
				m := obj.Metadata
				if err := s.Patch(ctx, obj.APIVersion, obj.Kind, m.Namespace, m.Name, f.Data, testenv.StrategicMergePatch, true); err != nil {
					t.Errorf("%s/%s: %v", p.Name, f.Name, err)
				}
				if err := s.Patch(ctx, obj.APIVersion, obj.Kind, m.Namespace, m.Name, f.Data, testenv.StrategicMergePatch, false); err != nil {
					t.Errorf("%s/%s: %v", p.Name, f.Name, err)
				}
			case obj.Kind == "ScaledObject" || obj.Kind == "Service":
				data := f.Data
				if obj.Metadata.Namespace == "" {
					// Cloud Run's copy has no namespace (the project is
					// one): the same document in the workload's.
					var m map[string]any
					if err := yaml.Unmarshal(data, &m); err != nil {
						t.Fatal(err)
					}
					m["metadata"].(map[string]any)["namespace"] = p.Namespace
					var err error
					if data, err = yaml.Marshal(m); err != nil {
						t.Fatal(err)
					}
					obj.Kind = "Cloud Run Service"
				}
				if err := s.Create(ctx, data, true); err != nil {
					t.Errorf("%s/%s: %v\n%s", p.Name, f.Name, err, data)
				}
			default:
				continue // values, function sizes, SleepInfos
			}
			checked[obj.Kind]++
		}
	}
	if checked["Deployment"] < 1 || checked["StatefulSet"] < 1 || checked["CronJob"] < 1 || checked["ScaledObject"] < 2 || checked["Service"] < 1 ||
		checked["Cloud Run Service"] < 1 {
		t.Errorf("checked %v: want patches of a Deployment, a StatefulSet and a CronJob, ScaledObjects and a Knative Service", checked)
	}
	// The patches took: the api Deployment runs at its targets now.
	b, err := s.Get(ctx, "apps/v1", "Deployment", "shop", "api")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Resources struct {
							Requests, Limits map[string]string
						} `json:"resources"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	r := d.Spec.Template.Spec.Containers[0].Resources
	if r.Requests["cpu"] != "120m" || r.Limits["cpu"] != "360m" || r.Requests["memory"] != "120Mi" || d.Metadata.Annotations["fleetscope.io/verdict"] != "rightsize" {
		t.Errorf("api after its patch: resources %+v, annotations %v", r, d.Metadata.Annotations)
	}
	t.Logf("accepted by the API server: %v", checked)
}
