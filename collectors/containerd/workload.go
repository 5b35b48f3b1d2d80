package containerd

import (
	"strconv"
	"strings"
	"time"
)

// Workload kinds. A pod's controller is read from the labels its
// controller puts on it, which the kubelet passes to the pod's sandbox
// container; the agent never asks the Kubernetes API.
const (
	KindDeployment  = "Deployment"
	KindReplicaSet  = "ReplicaSet"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
	KindJob         = "Job"
	KindCronJob     = "CronJob"
	KindPod         = "Pod"
	// KindContainer is a container outside Kubernetes.
	KindContainer = "Container"
)

// Pod labels the workload is derived from.
const (
	labelPodTemplateHash    = "pod-template-hash"
	labelRevisionHash       = "controller-revision-hash"
	labelStatefulSetPodName = "statefulset.kubernetes.io/pod-name"
	labelTemplateGeneration = "pod-template-generation"
	labelJobName            = "batch.kubernetes.io/job-name"
	labelJobNameLegacy      = "job-name"

	// LabelWorkloadKind and LabelWorkloadName, set together on a pod,
	// name its workload explicitly, for controllers the rules below do
	// not know (an operator's custom resource, say).
	LabelWorkloadKind = "fleetscope.io/workload-kind"
	LabelWorkloadName = "fleetscope.io/workload-name"
)

// Workload is the unit a container's figures add up to.
type Workload struct {
	// Kind is one of the Kind constants, or a pod's explicit kind.
	Kind string
	// Name is the workload's name, in the pod's namespace (outside
	// Kubernetes, in the containerd namespace).
	Name string
	// ReplicaSet is set for a Deployment's pod; Job for a CronJob's.
	ReplicaSet, Job string
}

// cronJobWindow bounds how far a Job's pod may start from the scheduled
// time its name carries for the Job to be taken for a CronJob's run: a
// Job named backup-20241130 carries a date, not minutes since 1970.
const cronJobWindow = 7 * 24 * time.Hour

// WorkloadOf derives c's workload. In Kubernetes it reads the pod's own
// labels (OverrideLabels: the sandbox's, never an image's) and the pod
// name; outside Kubernetes the workload is the value of the label named
// by label (an operator's choice, e.g. com.docker.compose.service), else
// the container itself.
func WorkloadOf(c *Container, label string) Workload {
	if c.Pod.Name == "" {
		if v := c.Labels[label]; label != "" && v != "" {
			return Workload{Kind: KindContainer, Name: v}
		}
		return Workload{Kind: KindContainer, Name: c.ID}
	}
	l, pod := c.OverrideLabels, c.Pod.Name
	if k, n := l[LabelWorkloadKind], l[LabelWorkloadName]; k != "" && n != "" {
		return Workload{Kind: k, Name: n}
	}
	if hash := l[labelPodTemplateHash]; hash != "" {
		// <deployment>-<hash>-<random>: the ReplicaSet is the name up to
		// the hash, the Deployment the name before it.
		if i := strings.LastIndex(pod, "-"+hash+"-"); i > 0 {
			return Workload{Kind: KindDeployment, Name: pod[:i], ReplicaSet: pod[:i+1+len(hash)]}
		}
		// A name cut short by the 63-character limit on generated names
		// has lost the hash: the ReplicaSet is what is left.
		return Workload{Kind: KindReplicaSet, Name: trimSuffix(pod)}
	}
	if l[labelRevisionHash] != "" {
		if l[labelStatefulSetPodName] != "" {
			// <statefulset>-<ordinal>
			if i := strings.LastIndexByte(pod, '-'); i > 0 && isDigits(pod[i+1:]) {
				return Workload{Kind: KindStatefulSet, Name: pod[:i]}
			}
		}
		if l[labelTemplateGeneration] != "" {
			return Workload{Kind: KindDaemonSet, Name: trimSuffix(pod)}
		}
	}
	job := l[labelJobName]
	if job == "" {
		job = l[labelJobNameLegacy]
	}
	if job != "" {
		// A CronJob names its Jobs <cronjob>-<scheduled minute since 1970>.
		if i := strings.LastIndexByte(job, '-'); i > 0 && isDigits(job[i+1:]) {
			if m, err := strconv.ParseInt(job[i+1:], 10, 64); err == nil && m < 1<<40 {
				sched := time.Unix(m*60, 0)
				if d := c.CreatedAt.Sub(sched); !c.CreatedAt.IsZero() && d > -time.Hour && d < cronJobWindow {
					return Workload{Kind: KindCronJob, Name: job[:i], Job: job}
				}
			}
		}
		return Workload{Kind: KindJob, Name: job}
	}
	return Workload{Kind: KindPod, Name: pod}
}

// trimSuffix drops a generated name's last "-<suffix>".
func trimSuffix(name string) string {
	if i := strings.LastIndexByte(name, '-'); i > 0 {
		return name[:i]
	}
	return name
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
