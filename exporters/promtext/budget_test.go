package promtext

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/fleetscope/fleetscope/model"
)

// maxEvidenceGrowth is the budget of the additive evidence: /metrics at
// 205 containers may grow by at most 40 % (docs/fleet.md).
const maxEvidenceGrowth = 0.40

// worstEvidenceGrowth bounds the growth where every pod is a Deployment
// of its own, one histogram set per pod (docs/fleet.md, "Budget").
const worstEvidenceGrowth = 0.55

// benchSnapshot is BenchmarkScrape's node: the app container repeated to
// 205 containers, all of one workload.
func benchSnapshot() *model.Snapshot {
	s := testSnapshot()
	base := s.Containers[2]
	for i := 0; len(s.Containers) < 205; i++ {
		m := *base.Meta
		m.ID = m.ID + string(rune('a'+i%26)) + string(rune('a'+i/26))
		c := base
		c.Meta = &m
		s.Containers = append(s.Containers, c)
	}
	return s
}

// podsSnapshot is a node of 205 containers as Kubernetes runs them: 100
// pods, every pod a sandbox and an app container, four with a sidecar
// too, besides a stopped container; ids of 64 hex digits. The pods are
// Deployments' of replicas pods each on the node, or bare pods (the
// overhead tool's) for 0, which the agent keeps no distributions for.
func podsSnapshot(replicas int) *model.Snapshot {
	s := testSnapshot()
	sandbox, app := s.Containers[1], s.Containers[2]
	dist := s.Distributions[0]
	s.Containers, s.Networks, s.Distributions = s.Containers[:1], nil, nil
	for p := range 100 {
		wl := model.Workload{Kind: "Pod", Name: fmt.Sprintf("overhead-%04d", p)}
		pod := model.Pod{Name: wl.Name, Namespace: "team-" + fmt.Sprint(p%7), UID: fmt.Sprint("uid-", p)}
		if replicas > 0 {
			wl = model.Workload{Kind: "Deployment", Name: fmt.Sprintf("service-%02d", p/replicas), ReplicaSet: fmt.Sprintf("service-%02d-5d8c9f7b6", p/replicas)}
			pod.Name = fmt.Sprintf("%s-%05x", wl.ReplicaSet, p)
		}
		sb := sandbox
		sm := *sb.Meta
		sm.ID, sm.Pod, sm.Workload = fmt.Sprintf("%064x", 2*p), pod, wl
		sb.Meta = &sm
		s.Networks = append(s.Networks, model.Network{Owner: len(s.Containers), Interfaces: s.Interfaces, HaveTCP: true})
		s.Containers = append(s.Containers, sb)
		names := []string{"app"}
		if p < 4 {
			names = append(names, "sidecar")
		}
		for j, n := range names {
			c := app
			cm := *c.Meta
			cm.ID, cm.Pod, cm.Workload = fmt.Sprintf("%064x", 2*p+1+1000*j), pod, wl
			cm.Pod.ContainerName, cm.Name = n, n
			c.Meta = &cm
			s.Containers = append(s.Containers, c)
			if replicas > 0 && p%replicas == 0 {
				d := dist
				d.Namespace, d.Name, d.Container = pod.Namespace, wl.Name, n
				s.Distributions = append(s.Distributions, d)
			}
		}
	}
	return s
}

// withoutEvidence is s as it was before the additive evidence.
func withoutEvidence(s *model.Snapshot) *model.Snapshot {
	c := *s
	c.Containers = append([]model.Container(nil), s.Containers...)
	for i := range c.Containers {
		c.Containers[i].HaveEvidence = false
	}
	c.Networks = append([]model.Network(nil), s.Networks...)
	for i := range c.Networks {
		c.Networks[i].HaveTCP = false
	}
	c.Distributions = nil
	return &c
}

// The evidence fits its budget on both nodes; the figures are in
// docs/fleet.md.
func TestEvidenceBudget(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *model.Snapshot
		max  float64
	}{
		{"one workload (BenchmarkScrape)", benchSnapshot(), maxEvidenceGrowth},
		{"100 bare pods (the overhead tool's)", podsSnapshot(0), maxEvidenceGrowth},
		{"100 pods of 50 Deployments", podsSnapshot(2), maxEvidenceGrowth},
		// The worst case, over the budget and documented as such: each
		// pod's histograms are its workload's.
		{"100 pods of 100 Deployments", podsSnapshot(1), worstEvidenceGrowth},
	} {
		if n := len(tc.s.Containers); n != 205 {
			t.Fatalf("%s: %d containers", tc.name, n)
		}
		w := New(fixed{tc.s}, Options{Version: "x"})
		with, without := len(w.Append(nil)), len(w.AppendSnapshot(nil, withoutEvidence(tc.s)))
		growth := float64(with-without) / float64(without)
		out := w.Append(nil)
		if got, want := bytes.Count(out, []byte("fleetscope_workload_cpu_usage_count{")), len(tc.s.Distributions); got != want {
			t.Fatalf("%s: %d CPU histograms rendered, want %d", tc.name, got, want)
		}
		t.Logf("%s: %d → %d bytes, +%d (%.1f %%), %d workload histograms", tc.name, without, with, with-without, 100*growth, len(tc.s.Distributions))
		if growth > tc.max {
			t.Errorf("%s: evidence grows /metrics by %.1f %%, over the budget of %.0f %%", tc.name, 100*growth, 100*tc.max)
		}
	}
}
