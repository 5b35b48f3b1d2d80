package report

import (
	"context"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/internal/testenv"
)

// The workloads planReport's plans change, as real objects.
const planTargets = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: office, namespace: shop}
spec:
  selector: {matchLabels: {app: office}}
  template:
    metadata: {labels: {app: office}}
    spec: {containers: [{name: web, image: registry.example/office:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: app
        image: registry.example/api:1
        resources: {requests: {cpu: "1", memory: 512Mi}, limits: {cpu: "1", memory: 512Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: night, namespace: shop}
spec:
  selector: {matchLabels: {app: night}}
  template:
    metadata: {labels: {app: night}}
    spec: {containers: [{name: web, image: registry.example/night:1}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: squeezed, namespace: shop}
spec:
  selector: {matchLabels: {app: squeezed}}
  template:
    metadata: {labels: {app: squeezed}}
    spec:
      containers:
      - name: app
        image: registry.example/squeezed:1
        resources: {requests: {cpu: "4", memory: 256Mi}, limits: {cpu: "4", memory: 256Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: capped, namespace: shop}
spec:
  selector: {matchLabels: {app: capped}}
  template:
    metadata: {labels: {app: capped}}
    spec:
      containers:
      - name: app
        image: registry.example/capped:1
        resources: {requests: {cpu: 500m, memory: 4Gi}, limits: {cpu: 500m, memory: 4Gi}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ghost, namespace: shop}
spec:
  serviceName: ghost
  selector: {matchLabels: {app: ghost}}
  template:
    metadata: {labels: {app: ghost}}
    spec: {containers: [{name: db, image: registry.example/ghost:1}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: job
            image: registry.example/nightly:1
            resources: {requests: {cpu: "2"}, limits: {memory: 1Gi}}
`

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
	if err := s.Create(ctx, []byte(planTargets), false); err != nil {
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
