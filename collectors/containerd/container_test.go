package containerd

import (
	"testing"
)

func record(id string, labels map[string]string, spec string) *Record {
	r := &Record{ID: id, Labels: labels}
	if spec != "" {
		r.Spec = []byte(spec)
	}
	return r
}

func TestNewContainerCRI(t *testing.T) {
	labels := map[string]string{
		LabelPodName: "web-1", LabelPodNamespace: "shop", LabelPodUID: "u-1",
		LabelContainerName: "nginx", LabelCRIKind: "container",
	}
	spec := `{"annotations":{"io.kubernetes.cri.sandbox-id":"sb"},
	  "process":{"env":["SECRET=hunter2"]},
	  "linux":{"cgroupsPath":"kubepods-burstable-podu_1.slice:cri-containerd:abc",
	    "resources":{"cpu":{"shares":256,"quota":20000,"period":100000},"memory":{"limit":134217728}}}}`
	c, err := newContainer("k8s.io", record("abc", labels, spec))
	if err != nil {
		t.Fatal(err)
	}
	want := Pod{Name: "web-1", Namespace: "shop", UID: "u-1", ContainerName: "nginx", SandboxID: "sb"}
	if c.Pod != want || c.Sandbox {
		t.Fatalf("pod = %+v sandbox=%v, want %+v", c.Pod, c.Sandbox, want)
	}
	if r := c.Resources; r.CPUShares != 256 || r.CPUQuotaMicros != 20000 || r.CPUPeriodMicros != 100000 || r.MemoryLimit != 128<<20 {
		t.Fatalf("resources = %+v", r)
	}
	if c.CgroupsPath != "kubepods-burstable-podu_1.slice:cri-containerd:abc" || c.GPU {
		t.Fatalf("cgroupsPath=%q gpu=%v", c.CgroupsPath, c.GPU)
	}
}

func TestNewContainerSandbox(t *testing.T) {
	c, err := newContainer("k8s.io", record("sb", map[string]string{LabelPodName: "web-1", LabelCRIKind: "sandbox", LabelContainerName: "ignored"}, ""))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Sandbox || c.Pod.SandboxID != "sb" || c.Pod.ContainerName != "" || c.Name() != "POD" {
		t.Fatalf("sandbox = %+v name=%q", c, c.Name())
	}
}

func TestGPUDetection(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		gpu        bool
	}{
		{"none", `{"linux":{"devices":[{"path":"/dev/fuse","type":"c","major":10}]}}`, false},
		{"nvidia path", `{"linux":{"devices":[{"path":"/dev/nvidia0","type":"c","major":195}]}}`, true},
		{"nvidia major only", `{"linux":{"devices":[{"path":"/dev/gpu0","type":"c","major":195}]}}`, true},
		{"amd kfd", `{"linux":{"devices":[{"path":"/dev/kfd","type":"c","major":234}]}}`, true},
		{"render node", `{"linux":{"devices":[{"path":"/dev/dri/renderD128","type":"c","major":226}]}}`, true},
		{"cdi annotation", `{"annotations":{"cdi.k8s.io/nvidia":"nvidia.com/gpu=0"}}`, true},
		{"toolkit hook", `{"hooks":{"prestart":[{"path":"/usr/bin/nvidia-container-runtime-hook"}]}}`, true},
		{"block device major 195", `{"linux":{"devices":[{"path":"/dev/sdz","type":"b","major":195}]}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newContainer("ns", record("x", nil, tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			if c.GPU != tc.gpu {
				t.Fatalf("GPU = %v, want %v", c.GPU, tc.gpu)
			}
		})
	}
}

func TestGPUCount(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       int
	}{
		{"two nvidia GPUs and control devices", `{"linux":{"devices":[
			{"path":"/dev/nvidiactl","type":"c","major":195,"minor":255},
			{"path":"/dev/nvidia-uvm","type":"c","major":508,"minor":0},
			{"path":"/dev/nvidia0","type":"c","major":195,"minor":0},
			{"path":"/dev/nvidia1","type":"c","major":195,"minor":1}]}}`, 2},
		{"render nodes", `{"linux":{"devices":[{"path":"/dev/kfd","type":"c","major":234},
			{"path":"/dev/dri/renderD128","type":"c","major":226,"minor":128},
			{"path":"/dev/dri/renderD129","type":"c","major":226,"minor":129}]}}`, 2},
		{"cdi annotation", `{"annotations":{"cdi.k8s.io/nvidia":"nvidia.com/gpu=0,nvidia.com/gpu=1,nvidia.com/gpu=2"}}`, 3},
		{"hook only: unknown", `{"hooks":{"prestart":[{"path":"/usr/bin/nvidia-container-runtime-hook"}]}}`, 0},
		{"kfd only: unknown", `{"linux":{"devices":[{"path":"/dev/kfd","type":"c","major":234}]}}`, 0},
		{"no GPU", `{"linux":{"devices":[{"path":"/dev/fuse","type":"c","major":10}]}}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newContainer("ns", record("x", nil, tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			if c.GPUs != tc.want {
				t.Fatalf("GPUs = %d, want %d", c.GPUs, tc.want)
			}
		})
	}
}

func TestNewContainerBadSpec(t *testing.T) {
	c, err := newContainer("ns", record("x", map[string]string{LabelPodName: "p"}, `{"linux":{"resources":{"cpu":{"quota":"lots"}}}}`))
	if err == nil {
		t.Fatal("malformed spec accepted")
	}
	if c == nil || c.ID != "x" || c.Pod.Name != "p" {
		t.Fatal("container lost because of its spec")
	}
}

func FuzzNewContainer(f *testing.F) {
	f.Add(`{"linux":{"cgroupsPath":"/k8s.io/x","resources":{"cpu":{"shares":2}}}}`)
	f.Add(`{"annotations":{"cdi.k8s.io/a":"gpu"},"hooks":{"prestart":[{"path":"x"}]}}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, spec string) {
		c, _ := newContainer("ns", record("x", nil, spec))
		if c == nil || c.ID != "x" {
			t.Fatal("no container returned")
		}
	})
}
