package cgroups

import (
	"errors"
	"io/fs"
	"maps"
	"testing"
)

func TestParseProcCgroup(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		unified string
		ctrls   map[string]string
		wantErr error // nil: any error when ctrls and unified are empty
	}{
		{
			name: "v1 separate cpu and cpuacct",
			in: "9:name=systemd:/system.slice/containerd.service\n8:pids:/k8s.io/abc\n7:blkio:/k8s.io/abc\n" +
				"4:memory:/k8s.io/abc\n2:cpuacct:/k8s.io/abc\n1:cpu:/k8s.io/abc\n",
			ctrls: map[string]string{"pids": "/k8s.io/abc", "blkio": "/k8s.io/abc", "memory": "/k8s.io/abc", "cpuacct": "/k8s.io/abc", "cpu": "/k8s.io/abc"},
		},
		{
			name:  "v1 co-mounted",
			in:    "3:cpu,cpuacct:/docker/x\n2:net_cls,net_prio:/docker/x\n",
			ctrls: map[string]string{"cpu": "/docker/x", "cpuacct": "/docker/x", "net_cls": "/docker/x", "net_prio": "/docker/x"},
		},
		{
			name:    "hybrid",
			in:      "1:name=systemd:/user.slice\n2:memory:/a\n0::/user.slice/session-1.scope\n",
			unified: "/user.slice/session-1.scope",
			ctrls:   map[string]string{"memory": "/a"},
		},
		{
			name:    "v2",
			in:      "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope\n",
			unified: "/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope",
		},
		{name: "root", in: "0::/\n", unified: "/"},
		{name: "no newline at end", in: "0::/a", unified: "/a"},
		{name: "path with colon", in: "0::/a:b\n", unified: "/a:b"},
		{name: "other namespace v2", in: "0::/../../kubepods/x\n", wantErr: ErrForeignNamespace},
		{name: "other namespace v1", in: "4:memory:/..\n", wantErr: ErrForeignNamespace},
		{name: "deleted", in: "0::/k8s.io/abc (deleted)\n", wantErr: fs.ErrNotExist},
		{name: "empty", in: ""},
		{name: "only named", in: "1:name=systemd:/\n"},
		{name: "two fields", in: "1:cpu\n"},
		{name: "bad id", in: "x:cpu:/a\n"},
		{name: "unified with nonzero id", in: "3::/a\n"},
		{name: "relative", in: "0::a/b\n"},
		{name: "dot-dot inside", in: "1:cpu:/a/../b\n"},
		{name: "unclean", in: "1:cpu:/a//b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProcCgroup([]byte(tt.in))
			if tt.unified == "" && tt.ctrls == nil {
				if err == nil {
					t.Fatalf("ParseProcCgroup(%q) = %+v, want an error", tt.in, p)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseProcCgroup(%q): %v", tt.in, err)
			}
			if p.Unified != tt.unified || !maps.Equal(p.Controllers, tt.ctrls) {
				t.Errorf("got %+v, want unified %q controllers %v", p, tt.unified, tt.ctrls)
			}
		})
	}
}

func TestPathsFromSpec(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		in, want string
		wantErr  error // with want == "": nil means any error
	}{
		{in: "/k8s.io/" + id, want: "/k8s.io/" + id},
		{in: "/kubepods/burstable/pod1/" + id, want: "/kubepods/burstable/pod1/" + id},
		{
			in:   "kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice:cri-containerd:" + id,
			want: "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-" + id + ".scope",
		},
		{in: "kubepods-pod1.slice:cri-containerd:" + id, want: "/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id + ".scope"},
		{in: "system.slice:docker:" + id, want: "/system.slice/docker-" + id + ".scope"},
		{in: ":cri-containerd:x", want: "/system.slice/cri-containerd-x.scope"},
		{in: "-.slice:p:x", want: "/p-x.scope"},
		{in: "machine.slice::x", want: "/machine.slice/-x.scope"},
		{in: "a-b.slice:p:c-d.slice", want: "/a.slice/a-b.slice/c-d.slice"},
		{in: ""},
		{in: "relative/path"},
		{in: "a.slice:b"},
		{in: "a.slice:b:c:d"},
		{in: "notaslice:p:x"},
		{in: "a--b.slice:p:x"},
		{in: "-a.slice:p:x"},
		{in: "a-.slice:p:x"},
		{in: ".slice:p:x"},
		{in: "a.slice:p:"},
		{in: "a.slice:p:../../x"},
		{in: "a/b.slice:p:x"},
		{in: "/../k8s.io/x", wantErr: ErrForeignNamespace},
		{in: "/a/../b"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := PathsFromSpec(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("PathsFromSpec(%q) = %+v, want an error", tt.in, p)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("PathsFromSpec(%q): %v", tt.in, err)
			}
			if p.Unified != tt.want {
				t.Errorf("Unified = %q, want %q", p.Unified, tt.want)
			}
			for _, c := range []string{"cpu", "cpuacct", "memory", "blkio", "pids"} {
				if p.Controllers[c] != tt.want {
					t.Errorf("Controllers[%s] = %q, want %q", c, p.Controllers[c], tt.want)
				}
			}
		})
	}
}

// ParseProcCgroup runs once per new task, not per tick; this keeps it cheap
// for nodes where thousands of containers start an hour.
func BenchmarkParseProcCgroup(b *testing.B) {
	data := []byte("12:pids:/k8s.io/abc\n11:memory:/k8s.io/abc\n10:cpu,cpuacct:/k8s.io/abc\n9:blkio:/k8s.io/abc\n" +
		"8:devices:/k8s.io/abc\n1:name=systemd:/k8s.io/abc\n0::/k8s.io/abc\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseProcCgroup(data); err != nil {
			b.Fatal(err)
		}
	}
}
