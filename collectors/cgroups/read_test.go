//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Container ids and paths of the fixture trees under testdata/.
const (
	idA = "4c1d7a9f2e3b5a6c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"
	idB = "b7e2c4a19d3f5e6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a"
	idC = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
	idD = "d41d8cd98f00b204e9800998ecf8427ed41d8cd98f00b204e9800998ecf8427e"
	idE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	idF = "f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00"
	idG = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"

	pathA = "/kubepods/burstable/pod6a1b2c3d-0000-4000-8000-00000000000a/" + idA
	pathB = "/kubepods/besteffort/pod6a1b2c3d-0000-4000-8000-00000000000b/" + idB
	podF  = "kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice"
)

func mustDetect(t testing.TB, root string) *Host {
	t.Helper()
	h, err := Detect(root)
	if err != nil {
		t.Fatalf("Detect(%s): %v", root, err)
	}
	return h
}

func specPaths(t testing.TB, cgroupsPath string) Paths {
	t.Helper()
	p, err := PathsFromSpec(cgroupsPath)
	if err != nil {
		t.Fatalf("PathsFromSpec(%q): %v", cgroupsPath, err)
	}
	return p
}

func procPaths(t testing.TB, content string) Paths {
	t.Helper()
	p, err := ParseProcCgroup([]byte(content))
	if err != nil {
		t.Fatalf("ParseProcCgroup: %v", err)
	}
	return p
}

func TestDetect(t *testing.T) {
	td := func(s ...string) string { return filepath.Join(append([]string{"testdata"}, s...)...) }
	tests := []struct {
		root        string
		mode        Mode
		v1          map[ctrl]string
		fromUnified []ctrl
	}{
		{root: td("v1"), mode: ModeV1, v1: map[ctrl]string{
			ctrlCPU: td("v1", "cpu"), ctrlCPUAcct: td("v1", "cpuacct"), ctrlMemory: td("v1", "memory"),
			ctrlBlkio: td("v1", "blkio"), ctrlPids: td("v1", "pids"),
		}},
		// "cpu" sorts before "cpu,cpuacct" and is a symlink to it; either
		// resolves to the same hierarchy.
		{root: td("v1-comount"), mode: ModeV1, v1: map[ctrl]string{
			ctrlCPU: td("v1-comount", "cpu"), ctrlCPUAcct: td("v1-comount", "cpu,cpuacct"), ctrlMemory: td("v1-comount", "memory"),
		}},
		{root: td("v2"), mode: ModeV2, fromUnified: []ctrl{ctrlCPU, ctrlCPUAcct, ctrlMemory, ctrlBlkio, ctrlPids}},
		{root: td("v2-systemd"), mode: ModeV2, fromUnified: []ctrl{ctrlCPU, ctrlCPUAcct, ctrlMemory, ctrlBlkio, ctrlPids}},
		{root: td("hybrid"), mode: ModeHybrid, v1: map[ctrl]string{
			ctrlCPU: td("hybrid", "cpu"), ctrlCPUAcct: td("hybrid", "cpuacct"), ctrlMemory: td("hybrid", "memory"),
		}, fromUnified: []ctrl{ctrlBlkio, ctrlPids}},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			h := mustDetect(t, tt.root)
			if h.Mode() != tt.mode {
				t.Errorf("Mode() = %v, want %v", h.Mode(), tt.mode)
			}
			for c := range numCtrl {
				if got, want := h.v1[c], tt.v1[c]; got != want {
					t.Errorf("v1 %s hierarchy = %q, want %q", v1Names[c], got, want)
				}
			}
			var from []ctrl
			for c := range numCtrl {
				if h.fromUnified[c] {
					from = append(from, c)
				}
			}
			if len(from) != len(tt.fromUnified) || (len(from) > 0 && !equalCtrls(from, tt.fromUnified)) {
				t.Errorf("controllers from the unified hierarchy = %v, want %v", from, tt.fromUnified)
			}
		})
	}
}

func equalCtrls(a, b []ctrl) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDetectEdgeCases(t *testing.T) {
	t.Run("missing root", func(t *testing.T) {
		_, err := Detect(filepath.Join(t.TempDir(), "nope"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("empty root", func(t *testing.T) {
		_, err := Detect(t.TempDir())
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("err = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("hybrid without v2 controllers, empty mount points", func(t *testing.T) {
		// Like a Debian host: unified holds only hugetlb; "pids" is a mount
		// point with nothing mounted on it and must be ignored.
		root := t.TempDir()
		writeFiles(t, root, map[string]string{
			"cpuacct/cpuacct.usage":        "1\n",
			"memory/memory.usage_in_bytes": "1\n",
			"pids/README":                  "not a cgroup\n",
			"unified/cgroup.controllers":   "hugetlb\n",
		})
		h := mustDetect(t, root)
		if h.Mode() != ModeHybrid {
			t.Fatalf("Mode() = %v, want hybrid", h.Mode())
		}
		if h.v1[ctrlPids] != "" || h.v1[ctrlCPU] != "" {
			t.Errorf("pids = %q, cpu = %q; want both unmounted", h.v1[ctrlPids], h.v1[ctrlCPU])
		}
		for c := range numCtrl {
			if h.fromUnified[c] {
				t.Errorf("%s would be read from the unified hierarchy, which lacks it", v1Names[c])
			}
		}
	})
	t.Run("only unified below root", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{"unified/cgroup.controllers": "cpu memory\n"})
		h := mustDetect(t, root)
		if h.Mode() != ModeV2 || h.unified != filepath.Join(root, "unified") {
			t.Fatalf("Mode() = %v, unified = %q; want v2 at %s/unified", h.Mode(), h.unified, root)
		}
	})
}

func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type fixture struct {
	name   string
	root   string
	paths  func(t testing.TB) Paths
	stats  Stats
	limits Limits
	files  int // descriptors held with KeepOpen
}

// fixtures lists the containers of the testdata trees with values computed
// by hand from the files.
var fixtures = []fixture{
	{
		name: "v1/full", root: "testdata/v1",
		paths: func(t testing.TB) Paths {
			return procPaths(t, "9:name=systemd:"+pathA+"\n8:pids:"+pathA+"\n7:blkio:"+pathA+"\n6:freezer:/\n"+
				"4:memory:"+pathA+"\n3:cpuset:/\n2:cpuacct:"+pathA+"\n1:cpu:"+pathA+"\n")
		},
		stats: Stats{
			Have: HaveCPU | HaveCPUMode | HaveThrottling | HaveMemory | HaveMemoryStat | HaveSwap | HaveIO | HavePids | HaveOOM,
			// usage_user 80e9 and usage_sys 40e9 are tick-sampled and sum
			// to less than cpuacct.usage: the total is split 2:1.
			CPUUsageNanos: 123456789012, CPUUserNanos: 82304526008, CPUSystemNanos: 41152263004,
			CPUPeriods: 500, CPUThrottledPeriods: 20, CPUThrottledNanos: 3000000000,
			MemoryUsage:      209715200,
			MemoryWorkingSet: 209715200 - 62914560, // usage - total_inactive_file
			MemoryRSS:        104857600, MemoryCache: 94371840,
			MemorySwap:  1048576,                                    // total_swap; memsw is not consulted
			IOReadBytes: 4096000 + 1000, IOWriteBytes: 1024000 + 24, // recursive file, two devices
			IOReadOps: 100 + 7, IOWriteOps: 50 + 3,
			Pids:     12,
			OOMKills: 3, // memory.oom_control
		},
		limits: Limits{Have: HaveCPU | HaveMemory | HavePids, CPUQuotaMicros: 50000, CPUPeriodMicros: 100000,
			CPUShares: 512, MemoryLimit: 268435456, PidsLimit: 100},
		files: 9,
	},
	{
		name: "v1/old-kernel-no-blkio-no-pids", root: "testdata/v1",
		paths: func(t testing.TB) Paths { return specPaths(t, pathB) },
		stats: Stats{
			Have:          HaveCPU | HaveCPUMode | HaveThrottling | HaveMemory | HaveMemoryStat | HaveSwap,
			CPUUsageNanos: 3750000000,
			CPUUserNanos:  250 * 10_000_000, CPUSystemNanos: 125 * 10_000_000, // cpuacct.stat ticks
			MemoryUsage:      4096,
			MemoryWorkingSet: 0, // inactive_file 8192 > usage: floored
			MemoryCache:      8192,
			MemorySwap:       6144 - 4096, // memsw - usage, no total_swap
			// memory.oom_control without oom_kill (before Linux 4.13): no
			// HaveOOM.
		},
		limits: Limits{Have: HaveCPU | HaveMemory, CPUQuotaMicros: -1, CPUPeriodMicros: 100000, CPUShares: 2},
		files:  6,
	},
	{
		name: "v1-comount", root: "testdata/v1-comount",
		paths: func(t testing.TB) Paths {
			return procPaths(t, "5:name=systemd:/k8s.io/"+idC+"\n4:cpu,cpuacct:/k8s.io/"+idC+"\n3:memory:/k8s.io/"+idC+"\n")
		},
		stats: Stats{
			Have:          HaveCPU | HaveCPUMode | HaveThrottling | HaveMemory | HaveMemoryStat | HaveSwap,
			CPUUsageNanos: 777000, CPUUserNanos: 500000, CPUSystemNanos: 277000,
			CPUPeriods: 10, CPUThrottledPeriods: 1, CPUThrottledNanos: 5000,
			MemoryUsage: 1048576, MemoryWorkingSet: 1048576 - 262144, MemoryRSS: 409600, MemoryCache: 524288,
		},
		limits: Limits{Have: HaveCPU | HaveMemory, CPUQuotaMicros: 200000, CPUPeriodMicros: 100000, CPUShares: 2048,
			MemoryLimit: 1073741824},
		files: 6,
	},
	{
		name: "v2/full-unlimited", root: "testdata/v2",
		paths: func(t testing.TB) Paths { return specPaths(t, "/k8s.io/"+idD) },
		stats: Stats{
			Have:          HaveCPU | HaveCPUMode | HaveThrottling | HaveMemory | HaveMemoryStat | HaveSwap | HaveIO | HavePids | HaveOOM,
			CPUUsageNanos: 2500000000, CPUUserNanos: 1500000000, CPUSystemNanos: 1000000000,
			CPUPeriods: 40, CPUThrottledPeriods: 4, CPUThrottledNanos: 120000000,
			MemoryUsage: 52428800, MemoryWorkingSet: 52428800 - 10485760, MemoryRSS: 31457280, MemoryCache: 15728640,
			IOReadBytes: 1048576 + 4096, IOWriteBytes: 2097152, IOReadOps: 256 + 1, IOWriteOps: 512,
			Pids: 3, OOMKills: 2,
		},
		// weight 100 → smallest shares s with 1+(s-2)*9999/262142 == 100.
		limits: Limits{Have: HaveCPU | HaveMemory | HavePids, CPUQuotaMicros: -1, CPUPeriodMicros: 100000,
			CPUWeight: 100},
		files: 6,
	},
	{
		name: "v2/limited-no-io-no-pids", root: "testdata/v2",
		paths: func(t testing.TB) Paths { return procPaths(t, "0::/k8s.io/"+idE+"\n") },
		stats: Stats{
			Have:          HaveCPU | HaveCPUMode | HaveThrottling | HaveMemory | HaveMemoryStat | HaveSwap | HaveOOM,
			CPUUsageNanos: 10000, CPUUserNanos: 6000, CPUSystemNanos: 4000, CPUPeriods: 1,
			MemoryUsage: 8192, MemoryWorkingSet: 8192 - 1024, MemoryRSS: 4096, MemoryCache: 4096, MemorySwap: 4096,
		},
		limits: Limits{Have: HaveCPU | HaveMemory, CPUQuotaMicros: 50000, CPUPeriodMicros: 100000,
			CPUWeight: 39, MemoryLimit: 134217728},
		files: 4,
	},
	{
		name: "v2/no-cpu-controller", root: "testdata/v2",
		paths:  func(t testing.TB) Paths { return procPaths(t, "0::/k8s.io/nocpu\n") },
		stats:  Stats{Have: HaveCPU | HaveCPUMode, CPUUsageNanos: 7000, CPUUserNanos: 4000, CPUSystemNanos: 3000},
		limits: Limits{CPUQuotaMicros: -1},
		files:  1,
	},
	{
		name: "v2-systemd", root: "testdata/v2-systemd",
		paths: func(t testing.TB) Paths { return specPaths(t, podF+":cri-containerd:"+idF) },
		stats: Stats{
			Have:          HaveCPU | HaveCPUMode | HaveThrottling | HaveMemory | HaveMemoryStat | HaveIO | HavePids,
			CPUUsageNanos: 42000000, CPUUserNanos: 40000000, CPUSystemNanos: 2000000,
			MemoryUsage: 3145728, MemoryWorkingSet: 0, MemoryRSS: 2097152, MemoryCache: 1048576,
			Pids: 1,
			// memory.events' oom_kill overflows 64 bits: no HaveOOM, and
			// the rest of the sample stands.
		},
		limits: Limits{Have: HaveCPU | HaveMemory | HavePids, CPUQuotaMicros: 25000, CPUPeriodMicros: 100000,
			CPUWeight: 10, MemoryLimit: 67108864, PidsLimit: 4096},
		files: 5,
	},
	{
		name: "hybrid", root: "testdata/hybrid",
		paths: func(t testing.TB) Paths {
			p := "/k8s.io/" + idG
			return procPaths(t, "4:name=systemd:"+p+"\n3:memory:"+p+"\n2:cpuacct:"+p+"\n1:cpu:"+p+"\n0::"+p+"\n")
		},
		// CPU and memory from v1 (the unified files hold other values);
		// io and pids, missing in v1, from the unified hierarchy.
		stats: Stats{
			Have:          HaveCPU | HaveCPUMode | HaveThrottling | HaveMemory | HaveMemoryStat | HaveIO | HavePids,
			CPUUsageNanos: 9000, CPUUserNanos: 6000, CPUSystemNanos: 3000,
			MemoryUsage: 65536, MemoryWorkingSet: 65536, MemoryRSS: 65536,
			IOReadBytes: 512, IOWriteBytes: 1024, IOReadOps: 1, IOWriteOps: 2,
			Pids: 5,
		},
		limits: Limits{Have: HaveCPU | HaveMemory | HavePids, CPUQuotaMicros: -1, CPUPeriodMicros: 100000, CPUShares: 1024},
		files:  8,
	},
}

var modes = []struct {
	name string
	opt  Options
}{
	{"keepopen", Options{KeepOpen: true}},
	{"reopen", Options{KeepOpen: false}},
}

func TestReadFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			h := mustDetect(t, fx.root)
			var got [2]Stats
			for i, m := range modes {
				hd, err := h.Open(fx.paths(t), m.opt)
				if err != nil {
					t.Fatalf("%s: Open: %v", m.name, err)
				}
				defer hd.Close()
				wantFiles := 0
				if m.opt.KeepOpen {
					wantFiles = fx.files
				}
				if hd.Files() != wantFiles {
					t.Errorf("%s: Files() = %d, want %d", m.name, hd.Files(), wantFiles)
				}
				// Two reads: the second must not see leftovers of the first.
				for range 2 {
					got[i] = Stats{Have: ^Field(0), Pids: 12345}
					if err := hd.Read(&got[i]); err != nil {
						t.Fatalf("%s: Read: %v", m.name, err)
					}
				}
				if got[i] != fx.stats {
					t.Errorf("%s: Read:\n got %+v\nwant %+v", m.name, got[i], fx.stats)
				}
				if fx.stats.Have.Has(HaveCPU) {
					if u, err := hd.ReadCPUUsage(); err != nil || u != fx.stats.CPUUsageNanos {
						t.Errorf("%s: ReadCPUUsage = %d, %v; want %d", m.name, u, err, fx.stats.CPUUsageNanos)
					}
				}
				l := Limits{PidsLimit: 777}
				if err := hd.Limits(&l); err != nil {
					t.Fatalf("%s: Limits: %v", m.name, err)
				}
				if l != fx.limits {
					t.Errorf("%s: Limits:\n got %+v\nwant %+v", m.name, l, fx.limits)
				}
				if err := hd.Close(); err != nil || hd.Files() != 0 {
					t.Errorf("%s: Close() = %v, Files() = %d after", m.name, err, hd.Files())
				}
				if err := hd.Read(&got[i]); !errors.Is(err, fs.ErrClosed) {
					t.Errorf("%s: Read after Close = %v, want fs.ErrClosed", m.name, err)
				}
			}
		})
	}
}

func TestReadMalformed(t *testing.T) {
	tests := []struct {
		root, path string
		file       string // in the error
		problem    string // in the error
	}{
		{"testdata/v1", "/bad/usage", "/bad/usage/cpuacct.usage", `"abc"`},
		{"testdata/v1", "/bad/memstat", "/bad/memstat/memory.stat", "truncated"},
		{"testdata/v2", "/k8s.io/badio", "/k8s.io/badio/io.stat", `"wbytes"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			h := mustDetect(t, tt.root)
			for _, m := range modes {
				hd, err := h.Open(specPaths(t, tt.path), m.opt)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				s := Stats{Have: HaveCPU, CPUUsageNanos: 1}
				err = hd.Read(&s)
				hd.Close()
				if !errors.Is(err, ErrMalformed) || errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("%s: Read() = %v, want ErrMalformed", m.name, err)
				}
				if !strings.Contains(err.Error(), tt.file) || !strings.Contains(err.Error(), tt.problem) {
					t.Errorf("%s: error %q does not name %s and %s", m.name, err, tt.file, tt.problem)
				}
				if s != (Stats{}) {
					t.Errorf("%s: Stats after a failed Read = %+v, want empty", m.name, s)
				}
			}
		})
	}

	t.Run("limit", func(t *testing.T) {
		hd, err := mustDetect(t, "testdata/v1").Open(specPaths(t, "/bad/limit"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer hd.Close()
		var s Stats
		if err := hd.Read(&s); err != nil || s.Pids != 1 || s.Have != HavePids {
			t.Errorf("Read() = %v, %+v; want pids 1", err, s)
		}
		l := Limits{PidsLimit: 5}
		err = hd.Limits(&l)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "/bad/limit/pids.max") {
			t.Errorf("Limits() = %v, want ErrMalformed naming pids.max", err)
		}
		if l != (Limits{CPUQuotaMicros: -1}) {
			t.Errorf("Limits after failure = %+v, want empty", l)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	h := mustDetect(t, "testdata/v1")
	_, err := h.Open(specPaths(t, "/kubepods/no-such-container"), Options{KeepOpen: true})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no-such-container") {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist naming the cgroup", err)
	}
	_, err = h.Open(Paths{Controllers: map[string]string{"cpuacct": "/../../etc"}}, Options{})
	if !errors.Is(err, ErrForeignNamespace) {
		t.Errorf("Open(/../..) = %v, want ErrForeignNamespace", err)
	}
	_, err = h.Open(Paths{}, Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(empty Paths) = %v, want fs.ErrNotExist", err)
	}
}

// copyTree copies a fixture tree without symlinks to a temporary directory
// that the test may modify.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestVanish(t *testing.T) {
	for _, tree := range []string{"v1", "v2"} {
		t.Run(tree, func(t *testing.T) {
			root := copyTree(t, filepath.Join("testdata", tree))
			cg := pathA
			if tree == "v2" {
				cg = "/k8s.io/" + idD
			}
			h := mustDetect(t, root)
			for _, m := range modes {
				t.Run(m.name, func(t *testing.T) {
					hd, err := h.Open(specPaths(t, cg), m.opt)
					if err != nil {
						t.Fatal(err)
					}
					defer hd.Close()
					var s Stats
					if err := hd.Read(&s); err != nil || s.Have == 0 {
						t.Fatalf("Read before removal = %v, Have %v", err, s.Have)
					}
					if m.opt.KeepOpen {
						// A kept-open descriptor of a removed cgroup fails
						// with ENODEV; a fixture file stays readable, so
						// fake the kernel after a few good files.
						n := 0
						hd.setPread(func(fd int, p []byte, off int64) (int, error) {
							if n++; n > 3 {
								return 0, unix.ENODEV
							}
							return unix.Pread(fd, p, off)
						})
					} else {
						for _, dir := range []string{root, filepath.Join(root, "memory"), filepath.Join(root, "pids")} {
							if err := os.RemoveAll(filepath.Join(dir, cg)); err != nil {
								t.Fatal(err)
							}
						}
					}
					err = hd.Read(&s)
					if !errors.Is(err, fs.ErrNotExist) {
						t.Fatalf("Read after removal = %v, want fs.ErrNotExist", err)
					}
					if errors.Is(err, ErrMalformed) {
						t.Errorf("a vanished cgroup is reported as malformed: %v", err)
					}
					if s != (Stats{}) {
						t.Errorf("Stats after the cgroup vanished = %+v, want empty", s)
					}
				})
			}
		})
	}
}

func TestReadIOErrors(t *testing.T) {
	h := mustDetect(t, "testdata/v2")
	for _, tt := range []struct {
		errno unix.Errno
		gone  bool
	}{{unix.ESRCH, true}, {unix.ENODEV, true}, {unix.EACCES, false}, {unix.EIO, false}} {
		hd, err := h.Open(specPaths(t, "/k8s.io/"+idD), Options{KeepOpen: true})
		if err != nil {
			t.Fatal(err)
		}
		hd.setPread(func(int, []byte, int64) (int, error) { return 0, tt.errno })
		s := Stats{Pids: 3}
		err = hd.Read(&s)
		hd.Close()
		if err == nil || errors.Is(err, fs.ErrNotExist) != tt.gone || !errors.Is(err, tt.errno) {
			t.Errorf("%v: Read() = %v, want gone=%v", tt.errno, err, tt.gone)
		}
		if err != nil && !strings.Contains(err.Error(), "/k8s.io/"+idD+"/cpu.stat") {
			t.Errorf("%v: error %q does not name the file", tt.errno, err)
		}
		if s != (Stats{}) {
			t.Errorf("%v: Stats = %+v, want empty", tt.errno, s)
		}
	}
}

// TestBufferGrowth reads a file larger than the initial buffer.
func TestBufferGrowth(t *testing.T) {
	root := t.TempDir()
	var sb strings.Builder
	var want uint64
	for i := range 2000 {
		sb.WriteString("259:")
		sb.WriteString(strings.Repeat("1", 1+i%3))
		sb.WriteString(" rbytes=7 wbytes=1 rios=1 wios=1 dbytes=0 dios=0\n")
		want += 7
	}
	writeFiles(t, root, map[string]string{
		"cgroup.controllers": "io\n",
		"c/cpu.stat":         "usage_usec 1\nuser_usec 1\nsystem_usec 0\n",
		"c/io.stat":          sb.String(),
	})
	hd, err := mustDetect(t, root).Open(Paths{Unified: "/c"}, Options{KeepOpen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	var s Stats
	if err := hd.Read(&s); err != nil || s.IOReadBytes != want || s.IOReadOps != 2000 {
		t.Fatalf("Read() = %v, read bytes %d ops %d; want %d, 2000", err, s.IOReadBytes, s.IOReadOps, want)
	}
}

func TestReadAllocs(t *testing.T) {
	for _, fx := range fixtures {
		for _, m := range modes {
			t.Run(fx.name+"/"+m.name, func(t *testing.T) {
				hd, err := mustDetect(t, fx.root).Open(fx.paths(t), m.opt)
				if err != nil {
					t.Fatal(err)
				}
				defer hd.Close()
				var s Stats
				if err := hd.Read(&s); err != nil {
					t.Fatal(err)
				}
				allocs := testing.AllocsPerRun(200, func() {
					if err := hd.Read(&s); err != nil {
						t.Fatal(err)
					}
				})
				if allocs != 0 {
					t.Errorf("Read allocates %v times per call, want 0", allocs)
				}
				var l Limits
				if allocs := testing.AllocsPerRun(50, func() { _ = hd.Limits(&l) }); allocs != 0 {
					t.Errorf("Limits allocates %v times per call, want 0", allocs)
				}
			})
		}
	}
}

func BenchmarkRead(b *testing.B) {
	for _, fx := range fixtures {
		for _, m := range modes {
			b.Run(fx.name+"/"+m.name, func(b *testing.B) {
				hd, err := mustDetect(b, fx.root).Open(fx.paths(b), m.opt)
				if err != nil {
					b.Fatal(err)
				}
				defer hd.Close()
				var s Stats
				b.ReportAllocs()
				for b.Loop() {
					if err := hd.Read(&s); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestReadRaw checks that ReadRaw and ReadLimitsRaw read exactly the files
// Read and Limits read, whole, without allocating.
func TestReadRaw(t *testing.T) {
	size := func(t *testing.T, files []file) int {
		n := 0
		for i := range files {
			b, err := os.ReadFile(files[i].Name())
			if err != nil {
				t.Fatal(err)
			}
			n += len(b)
		}
		return n
	}
	for _, fx := range fixtures {
		for _, m := range modes {
			t.Run(fx.name+"/"+m.name, func(t *testing.T) {
				hd, err := mustDetect(t, fx.root).Open(fx.paths(t), m.opt)
				if err != nil {
					t.Fatal(err)
				}
				defer hd.Close()
				if n, err := hd.ReadRaw(); err != nil || n != size(t, hd.files) || n == 0 {
					t.Errorf("ReadRaw() = %d, %v; want %d bytes", n, err, size(t, hd.files))
				}
				if n, err := hd.ReadLimitsRaw(); err != nil || n != size(t, hd.limits) {
					t.Errorf("ReadLimitsRaw() = %d, %v; want %d bytes", n, err, size(t, hd.limits))
				}
				if allocs := testing.AllocsPerRun(200, func() { _, _ = hd.ReadRaw() }); allocs != 0 {
					t.Errorf("ReadRaw allocates %v times per call, want 0", allocs)
				}
				if allocs := testing.AllocsPerRun(50, func() { _, _ = hd.ReadLimitsRaw() }); allocs != 0 {
					t.Errorf("ReadLimitsRaw allocates %v times per call, want 0", allocs)
				}
				hd.Close()
				if _, err := hd.ReadRaw(); !errors.Is(err, fs.ErrClosed) {
					t.Errorf("ReadRaw after Close = %v, want fs.ErrClosed", err)
				}
			})
		}
	}
}

func TestReadRawVanish(t *testing.T) {
	fx := fixtures[0]
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(fx.root)); err != nil {
		t.Fatal(err)
	}
	hd, err := mustDetect(t, dir).Open(fx.paths(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	if err := os.Remove(hd.files[0].Name()); err != nil {
		t.Fatal(err)
	}
	if _, err := hd.ReadRaw(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadRaw of a removed file = %v, want fs.ErrNotExist", err)
	}
}

func BenchmarkReadRaw(b *testing.B) {
	for _, fx := range fixtures {
		for _, m := range modes {
			b.Run(fx.name+"/"+m.name, func(b *testing.B) {
				hd, err := mustDetect(b, fx.root).Open(fx.paths(b), m.opt)
				if err != nil {
					b.Fatal(err)
				}
				defer hd.Close()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := hd.ReadRaw(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestConcurrentHandles reads Handles of one Host from several goroutines;
// run with -race, it checks that they share the Host's buffer safely.
func TestConcurrentHandles(t *testing.T) {
	h := mustDetect(t, "testdata/v1")
	want, paths := fixtures[0].stats, fixtures[0].paths(t)
	done := make(chan error)
	for i := range 4 {
		go func() {
			hd, err := h.Open(paths, Options{KeepOpen: i%2 == 0})
			if err != nil {
				done <- err
				return
			}
			defer hd.Close()
			for range 50 {
				var s Stats
				if err := hd.Read(&s); err != nil {
					done <- err
					return
				}
				if s != want {
					done <- fmt.Errorf("got %+v, want %+v", s, want)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestReadCPUModes reads changing CPU files through one Handle: the modes
// always sum to the exact counter, never go backwards, and start over when
// the counters do (a container restarted in a recreated cgroup).
func TestReadCPUModes(t *testing.T) {
	type counters struct{ total, user, sys uint64 } // ns
	layouts := []struct {
		name  string
		paths Paths
		files func(c counters) map[string]string
	}{
		{"v1 usage_user", Paths{Controllers: map[string]string{"cpuacct": "/c"}}, func(c counters) map[string]string {
			return map[string]string{
				"cpuacct/cpuacct.usage":        "1\n",
				"cpuacct/c/cpuacct.usage":      fmt.Sprintf("%d\n", c.total),
				"cpuacct/c/cpuacct.usage_user": fmt.Sprintf("%d\n", c.user),
				"cpuacct/c/cpuacct.usage_sys":  fmt.Sprintf("%d\n", c.sys),
			}
		}},
		{"v1 cpuacct.stat", Paths{Controllers: map[string]string{"cpuacct": "/c"}}, func(c counters) map[string]string {
			return map[string]string{
				"cpuacct/cpuacct.usage":   "1\n",
				"cpuacct/c/cpuacct.usage": fmt.Sprintf("%d\n", c.total),
				"cpuacct/c/cpuacct.stat":  fmt.Sprintf("user %d\nsystem %d\n", c.user/1e7, c.sys/1e7),
			}
		}},
		{"v2", Paths{Unified: "/c"}, func(c counters) map[string]string {
			return map[string]string{
				"cgroup.controllers": "cpu\n",
				"c/cpu.stat":         fmt.Sprintf("usage_usec %d\nuser_usec %d\nsystem_usec %d\n", c.total/1e3, c.user/1e3, c.sys/1e3),
			}
		}},
	}
	// Tick-sampled modes a fifth below the total, then a split that swings
	// from all user to all system, then a restart.
	seq := []struct {
		c            counters
		wantU, wantS uint64
	}{
		{counters{1e9, 6e8, 2e8}, 7.5e8, 2.5e8},
		{counters{2e9, 9e9, 2e8}, 1.75e9, 2.5e8},   // ratio says 4.3e7 system: held at 2.5e8
		{counters{3e9, 9e9, 9e10}, 1.75e9, 1.25e9}, // ratio says 2.7e8 user: held at 1.75e9
		{counters{3e9, 9e9, 9e10}, 1.75e9, 1.25e9}, // nothing ran
		{counters{1e8, 0, 1e8}, 0, 1e8},            // restarted
	}
	for _, l := range layouts {
		for _, m := range modes {
			t.Run(l.name+"/"+m.name, func(t *testing.T) {
				root := t.TempDir()
				writeFiles(t, root, l.files(seq[0].c))
				hd, err := mustDetect(t, root).Open(l.paths, m.opt)
				if err != nil {
					t.Fatal(err)
				}
				defer hd.Close()
				for i, st := range seq {
					writeFiles(t, root, l.files(st.c))
					var s Stats
					if err := hd.Read(&s); err != nil {
						t.Fatal(err)
					}
					if !s.Have.Has(HaveCPU|HaveCPUMode) || s.CPUUsageNanos != st.c.total ||
						s.CPUUserNanos != st.wantU || s.CPUSystemNanos != st.wantS {
						t.Errorf("read %d of %+v: total %d user %d system %d (have %v); want %d, %d, %d",
							i, st.c, s.CPUUsageNanos, s.CPUUserNanos, s.CPUSystemNanos, s.Have, st.c.total, st.wantU, st.wantS)
					}
				}
			})
		}
	}
}

// A handle reopened for the same task resumes the CPU-mode state of the
// one it replaces, so a transient error cannot step a mode back.
func TestResumeCPUSplit(t *testing.T) {
	root := t.TempDir()
	files := func(total, user, sys uint64) map[string]string {
		return map[string]string{
			"cgroup.controllers": "cpu\n",
			"c/cpu.stat":         fmt.Sprintf("usage_usec %d\nuser_usec %d\nsystem_usec %d\n", total, user, sys),
		}
	}
	p := Paths{Unified: "/c"}
	writeFiles(t, root, files(1e6, 6e5, 2e5))
	h := mustDetect(t, root)
	a, err := h.Open(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var s Stats
	if err := a.Read(&s); err != nil {
		t.Fatal(err)
	}
	state := a.CPUSplit()
	a.Close()
	// The split swings to almost all user: a fresh handle would report
	// less system time than before; a resumed one holds it.
	writeFiles(t, root, files(2e6, 9e6, 2e5))
	for _, resume := range []bool{false, true} {
		b, err := h.Open(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if resume {
			b.ResumeCPUSplit(state)
		}
		var s2 Stats
		if err := b.Read(&s2); err != nil {
			t.Fatal(err)
		}
		b.Close()
		backwards := s2.CPUSystemNanos < s.CPUSystemNanos
		if backwards == resume {
			t.Errorf("resume %v: system %d after %d", resume, s2.CPUSystemNanos, s.CPUSystemNanos)
		}
	}
}

// TestReadOOMRefresh: the OOM kill counter is read on the first Read and
// then at most once every OOMRefresh, its last reading reported in
// between; a malformed file leaves it unknown without failing the sample;
// a vanished one is the cgroup gone.
func TestReadOOMRefresh(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			root := t.TempDir()
			events := func(kills string) map[string]string {
				return map[string]string{"c/memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill " + kills + "\n"}
			}
			writeFiles(t, root, map[string]string{
				"cgroup.controllers": "cpu memory\n",
				"c/cpu.stat":         "usage_usec 1\nuser_usec 1\nsystem_usec 0\n",
				"c/memory.current":   "4096\n",
			})
			writeFiles(t, root, events("1"))
			hd, err := mustDetect(t, root).Open(Paths{Unified: "/c"}, m.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer hd.Close()
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			hd.setNow(func() time.Time { return now })
			steps := []struct {
				after time.Duration // since the previous step
				kills string        // written before the read; "" leaves the file
				want  uint64
				have  bool
			}{
				{0, "", 1, true},
				{OOMRefresh - time.Second, "5", 1, true}, // not due: the last reading
				{time.Second, "", 5, true},
				{time.Second, "x", 5, true},
				{OOMRefresh, "", 0, false}, // malformed: unknown, the sample stands
				{OOMRefresh / 2, "6", 0, false},
				{OOMRefresh / 2, "", 6, true},
				{OOMRefresh - time.Second, "18446744073709551616", 6, true},
				{time.Second, "", 0, false}, // overflows: unknown
			}
			for i, st := range steps {
				now = now.Add(st.after)
				if st.kills != "" {
					writeFiles(t, root, events(st.kills))
				}
				var s Stats
				if err := hd.Read(&s); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if s.OOMKills != st.want || s.Have.Has(HaveOOM) != st.have || s.MemoryUsage != 4096 || !s.Have.Has(HaveCPU|HaveMemory) {
					t.Errorf("step %d: OOMKills %d, have %v; want %d, %v (stats %+v)", i, s.OOMKills, s.Have, st.want, st.have, s)
				}
			}
			if err := os.Remove(filepath.Join(root, "c", "memory.events")); err != nil {
				t.Fatal(err)
			}
			var s Stats
			if err := hd.Read(&s); err != nil {
				t.Errorf("Read with the counter not due: %v", err)
			}
			now = now.Add(OOMRefresh)
			if err := hd.Read(&s); !errors.Is(err, fs.ErrNotExist) || s != (Stats{}) {
				t.Errorf("Read after memory.events vanished = %v, %+v; want fs.ErrNotExist and empty stats", err, s)
			}
		})
	}
}
