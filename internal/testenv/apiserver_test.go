package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// The workloads a plan's patches apply to, as real objects.
const (
	testNamespace = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
`
	testDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example/web:1
        ports: [{containerPort: 8080}]
        resources:
          requests: {cpu: 500m, memory: 256Mi}
          limits: {memory: 512Mi}
`
	testStatefulSet = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
      - name: db
        image: registry.example/db:1
        resources: {requests: {cpu: "1", memory: 1Gi}}
`
	testCronJob = `
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "0 2 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: report
            image: registry.example/report:1
            resources: {requests: {cpu: 250m, memory: 128Mi}}
`
)

// A scale-to-zero schedule and a serverless container, as new objects.
const (
	testScaledObject = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {name: web}
  minReplicaCount: 0
  maxReplicaCount: 2
  triggers:
  - type: cron
    metadata:
      timezone: Europe/Berlin
      start: 0 8 * * 1-5
      end: 0 19 * * 1-5
      desiredReplicas: "2"
`
	testKnativeService = `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/min-scale: "0"}
    spec:
      containerConcurrency: 10
      timeoutSeconds: 60
      containers:
      - image: registry.example/api:1
        ports: [{containerPort: 8080}]
        resources: {requests: {cpu: 100m, memory: 128Mi}}
`
)

func TestAPIServer(t *testing.T) {
	s := StartAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// One stream, as kubectl create -f takes a file of several.
	stream := strings.Join([]string{testNamespace, testDeployment, testStatefulSet, testCronJob}, "---")
	if err := s.Create(ctx, []byte(stream), false); err != nil {
		t.Fatal(err)
	}

	// A rightsize patch of each kind's container resources is accepted.
	const resources = "resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 128Mi}}"
	for _, p := range []struct{ apiVersion, kind, name, patch string }{
		{"apps/v1", "Deployment", "web", "{spec: {template: {spec: {containers: [{name: web, " + resources + "}]}}}}"},
		{"apps/v1", "StatefulSet", "db", "{spec: {template: {spec: {containers: [{name: db, " + resources + "}]}}}}"},
		{"batch/v1", "CronJob", "report", "{spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: report, " + resources + "}]}}}}}}"},
	} {
		if err := s.Patch(ctx, p.apiVersion, p.kind, "shop", p.name, []byte(p.patch), StrategicMergePatch, true); err != nil {
			t.Errorf("dry-run rightsize of the %s: %v", p.kind, err)
		}
	}

	// Dry run changes nothing; the same patch for real does.
	patch := []byte(`
spec:
  template:
    spec:
      containers:
      - name: web
        resources:
          requests: {cpu: 50m, memory: 64Mi}
`)
	if err := s.Patch(ctx, "apps/v1", "Deployment", "shop", "web", patch, StrategicMergePatch, true); err != nil {
		t.Fatal(err)
	}
	if got := webRequests(t, s); got != "500m 256Mi" {
		t.Errorf("after the dry run the Deployment requests %s, want the old 500m 256Mi", got)
	}
	if err := s.Patch(ctx, "apps/v1", "Deployment", "shop", "web", patch, StrategicMergePatch, false); err != nil {
		t.Fatal(err)
	}
	if got := webRequests(t, s); got != "50m 64Mi" {
		t.Errorf("after the patch the Deployment requests %s, want 50m 64Mi", got)
	}
	if err := s.Patch(ctx, "apps/v1", "Deployment", "shop", "web", []byte(`{"spec": {"replicas": 0}}`), MergePatch, true); err != nil {
		t.Errorf("merge patch: %v", err)
	}

	// New objects of the CRDs' kinds are accepted, and a dry run stores
	// nothing.
	for _, obj := range []string{testScaledObject, testKnativeService} {
		if err := s.Create(ctx, []byte(obj), true); err != nil {
			t.Errorf("dry-run create: %v", err)
		}
	}
	_, err := s.Get(ctx, "keda.sh/v1alpha1", "ScaledObject", "shop", "web")
	if se := (*StatusError)(nil); !errors.As(err, &se) || se.Reason != "NotFound" {
		t.Errorf("ScaledObject after a dry run: %v, want NotFound", err)
	}

	// The CRDs' schemas are enforced: what a generator could get wrong is
	// refused, naming the field.
	for _, c := range []struct {
		what, obj, old, new, want string
	}{
		{"misspelt field", testScaledObject, "minReplicaCount: 0", "minReplicaCont: 0", `unknown field "spec.minReplicaCont"`},
		{"wrong type", testScaledObject, "minReplicaCount: 0", "minReplicaCount: none", "spec.minReplicaCount"},
		{"validation rule", testScaledObject, "minReplicaCount: 0", "minReplicaCount: 3", "minReplicaCount must be less than or equal to maxReplicaCount"},
		{"Knative misspelt field", testKnativeService, "timeoutSeconds:", "timeoutSecond:", `unknown field "spec.template.spec.timeoutSecond"`},
	} {
		obj := strings.Replace(c.obj, c.old, c.new, 1)
		err := s.Create(ctx, []byte(obj), true)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.what, err, c.want)
			continue
		}
		t.Logf("%s refused: %v", c.what, err)
	}
	// And so are the built-in kinds' schemas, in a patch.
	err = s.Patch(ctx, "apps/v1", "Deployment", "shop", "web", []byte(`{spec: {template: {spec: {containers: [{name: web, resource: {}}]}}}}`), StrategicMergePatch, true)
	if err == nil || !strings.Contains(err.Error(), `unknown field "spec.template.spec.containers[0].resource"`) {
		t.Errorf("patch with a misspelt field: err = %v", err)
	}
}

// webRequests returns the CPU and memory requests of the shop/web
// Deployment's container.
func webRequests(t *testing.T, s *APIServer) string {
	t.Helper()
	b, err := s.Get(context.Background(), "apps/v1", "Deployment", "shop", "web")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Resources struct {
							Requests map[string]string `json:"requests"`
						} `json:"resources"`
					} `json:"containers"`
				} `json:"spec"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(d.Spec.Template.Spec.Containers))
	}
	r := d.Spec.Template.Spec.Containers[0].Resources.Requests
	return r["cpu"] + " " + r["memory"]
}
