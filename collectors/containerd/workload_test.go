package containerd

import (
	"strconv"
	"testing"
	"time"
)

func TestWorkloadOf(t *testing.T) {
	created := time.Date(2026, 11, 30, 12, 0, 30, 0, time.UTC)
	sched := strconvMinutes(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	pod := func(name string, labels map[string]string) *Container {
		return &Container{ID: "c1", CreatedAt: created, Pod: Pod{Name: name, Namespace: "shop"}, OverrideLabels: labels}
	}
	for _, tc := range []struct {
		name string
		c    *Container
		want Workload
	}{
		{"deployment", pod("checkout-worker-7d9f8b6c5-x2x9z", map[string]string{"pod-template-hash": "7d9f8b6c5"}),
			Workload{Kind: KindDeployment, Name: "checkout-worker", ReplicaSet: "checkout-worker-7d9f8b6c5"}},
		{"deployment whose name holds the hash pattern", pod("a-7d9f8b6c5-b-7d9f8b6c5-qwert", map[string]string{"pod-template-hash": "7d9f8b6c5"}),
			Workload{Kind: KindDeployment, Name: "a-7d9f8b6c5-b", ReplicaSet: "a-7d9f8b6c5-b-7d9f8b6c5"}},
		{"replicaset name cut short", pod("a-very-long-deployment-name-that-was-truncated-by-the-lim-abcde", map[string]string{"pod-template-hash": "7d9f8b6c5"}),
			Workload{Kind: KindReplicaSet, Name: "a-very-long-deployment-name-that-was-truncated-by-the-lim"}},
		{"statefulset", pod("db-12", map[string]string{"controller-revision-hash": "db-5f7c", "statefulset.kubernetes.io/pod-name": "db-12"}),
			Workload{Kind: KindStatefulSet, Name: "db"}},
		{"daemonset", pod("node-agent-k8x2p", map[string]string{"controller-revision-hash": "6b4f", "pod-template-generation": "3"}),
			Workload{Kind: KindDaemonSet, Name: "node-agent"}},
		{"cronjob", pod("report-"+sched+"-7xk2q", map[string]string{"batch.kubernetes.io/job-name": "report-" + sched, "job-name": "report-" + sched}),
			Workload{Kind: KindCronJob, Name: "report", Job: "report-" + sched}},
		{"cronjob, legacy label only", pod("report-"+sched+"-7xk2q", map[string]string{"job-name": "report-" + sched}),
			Workload{Kind: KindCronJob, Name: "report", Job: "report-" + sched}},
		{"job named with a date, not a schedule", pod("backup-20241130-abcde", map[string]string{"batch.kubernetes.io/job-name": "backup-20241130"}),
			Workload{Kind: KindJob, Name: "backup-20241130"}},
		{"job named with a far future number", pod("x-99999999999-abcde", map[string]string{"batch.kubernetes.io/job-name": "x-99999999999"}),
			Workload{Kind: KindJob, Name: "x-99999999999"}},
		{"plain job", pod("migrate-abcde", map[string]string{"batch.kubernetes.io/job-name": "migrate"}),
			Workload{Kind: KindJob, Name: "migrate"}},
		{"statefulset-looking name without the labels", pod("web-0", map[string]string{"app": "web"}),
			Workload{Kind: KindPod, Name: "web-0"}},
		{"revision hash without a known controller", pod("x-1", map[string]string{"controller-revision-hash": "1"}),
			Workload{Kind: KindPod, Name: "x-1"}},
		{"explicit", pod("anything-abc", map[string]string{"pod-template-hash": "abc", LabelWorkloadKind: "Rollout", LabelWorkloadName: "checkout"}),
			Workload{Kind: "Rollout", Name: "checkout"}},
		{"bare pod", pod("debug", nil), Workload{Kind: KindPod, Name: "debug"}},
		{"outside Kubernetes", &Container{ID: "c9", Labels: map[string]string{"com.example.service": "api"}},
			Workload{Kind: KindContainer, Name: "c9"}},
	} {
		if got := WorkloadOf(tc.c, ""); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// The operator names the label that groups plain containers.
	c := &Container{ID: "c9", Labels: map[string]string{"com.example.service": "api"}}
	if got := WorkloadOf(c, "com.example.service"); got != (Workload{Kind: KindContainer, Name: "api"}) {
		t.Errorf("operator label: %+v", got)
	}
	// Image labels on an app container are not the pod's: only the
	// sandbox's labels (OverrideLabels) count.
	app := &Container{ID: "c2", Pod: Pod{Name: "web-7d9f8b6c5-x2x9z"}, Labels: map[string]string{"pod-template-hash": "7d9f8b6c5"}}
	if got := WorkloadOf(app, ""); got.Kind != KindPod {
		t.Errorf("an image label made a workload: %+v", got)
	}
}

func strconvMinutes(t time.Time) string { return strconv.FormatInt(t.Unix()/60, 10) }
