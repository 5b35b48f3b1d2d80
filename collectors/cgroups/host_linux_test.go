//go:build linux

package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

const sysCgroup = "/sys/fs/cgroup"

// realHost returns the layout of this machine's cgroupfs or skips.
func realHost(t testing.TB) *Host {
	t.Helper()
	h, err := Detect(sysCgroup)
	if err != nil {
		t.Skipf("no usable cgroupfs at %s: %v", sysCgroup, err)
	}
	return h
}

func TestRealHostSelf(t *testing.T) {
	h := realHost(t)
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("cannot read /proc/self/cgroup: %v", err)
	}
	p, err := ParseProcCgroup(data)
	if errors.Is(err, ErrForeignNamespace) {
		t.Skipf("running in a private cgroup namespace: %v", err)
	}
	if err != nil {
		t.Fatalf("ParseProcCgroup(%q): %v", data, err)
	}
	t.Logf("mode %v, own cgroup %+v", h.Mode(), p)

	// Burn a little CPU so that even a fresh cgroup shows usage.
	x := 0
	for i := range 5_000_000 {
		x += i ^ x
	}
	_ = x

	for _, m := range modes {
		hd, err := h.Open(p, m.opt)
		if err != nil {
			t.Fatalf("%s: Open: %v", m.name, err)
		}
		var s Stats
		err = hd.Read(&s)
		var l Limits
		lerr := hd.Limits(&l)
		fds := hd.Files()
		hd.Close()
		if err != nil {
			t.Fatalf("%s: Read: %v", m.name, err)
		}
		if lerr != nil {
			t.Fatalf("%s: Limits: %v", m.name, lerr)
		}
		if !s.Have.Has(HaveCPU) || s.CPUUsageNanos == 0 {
			t.Errorf("%s: CPU usage missing or zero: %+v", m.name, s)
		}
		t.Logf("%s: %d descriptors, have %v, stats %+v, limits %+v", m.name, fds, s.Have, s, l)
	}
}

// tempCgroup creates an empty cgroup in every hierarchy the package reads
// and removes it when the test ends. It needs root.
func tempCgroup(t testing.TB, h *Host) Paths {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating a cgroup needs root")
	}
	rel := fmt.Sprintf("/fleetscope-test-%d", os.Getpid())
	var dirs []string
	useUnified := h.Mode() == ModeV2
	for c := range numCtrl {
		useUnified = useUnified || h.fromUnified[c]
	}
	if useUnified {
		dirs = append(dirs, filepath.Join(h.unified, rel))
	}
	seen := map[string]bool{}
	for c := range numCtrl {
		if h.v1[c] == "" {
			continue
		}
		real, err := filepath.EvalSymlinks(h.v1[c])
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		dirs = append(dirs, filepath.Join(h.v1[c], rel))
	}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			t.Skipf("cannot create a cgroup: %v", err)
		}
		t.Cleanup(func() {
			if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("removing test cgroup: %v", err)
			}
		})
	}
	return specPaths(t, rel)
}

// TestRealVanish checks on the real kernel what the fixture tests simulate:
// reading a kept-open descriptor of a removed cgroup fails with an error
// that wraps fs.ErrNotExist.
func TestRealVanish(t *testing.T) {
	h := realHost(t)
	p := tempCgroup(t, h)
	for _, m := range modes {
		hd, err := h.Open(p, m.opt)
		if err != nil {
			t.Fatalf("%s: Open: %v", m.name, err)
		}
		defer hd.Close()
		var s Stats
		if err := hd.Read(&s); err != nil || !s.Have.Has(HaveCPU) {
			t.Fatalf("%s: Read of a new cgroup = %v, have %v", m.name, err, s.Have)
		}
		var l Limits
		if err := hd.Limits(&l); err != nil {
			t.Fatalf("%s: Limits: %v", m.name, err)
		}
		t.Logf("%s: %d descriptors, have %v, limits %+v", m.name, hd.Files(), s.Have, l)
	}
	handles := make([]*Handle, len(modes))
	for i, m := range modes {
		hd, err := h.Open(p, m.opt)
		if err != nil {
			t.Fatal(err)
		}
		defer hd.Close()
		handles[i] = hd
	}
	for c := range numCtrl {
		if h.v1[c] != "" {
			os.Remove(filepath.Join(h.v1[c], p.Controllers[v1Names[c]]))
		}
	}
	if h.unified != "" {
		os.Remove(filepath.Join(h.unified, p.Unified))
	}
	for i, hd := range handles {
		s := Stats{Pids: 1}
		err := hd.Read(&s)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: Read after rmdir = %v, want fs.ErrNotExist", modes[i].name, err)
		}
		if s != (Stats{}) {
			t.Errorf("%s: Stats after rmdir = %+v, want empty", modes[i].name, s)
		}
		t.Logf("%s: %v", modes[i].name, err)
	}
}

// BenchmarkRealRead measures a sample of an empty cgroup on this host's real
// cgroupfs with descriptors kept open versus reopened on every read.
func BenchmarkRealRead(b *testing.B) {
	h := realHost(b)
	p := tempCgroup(b, h)
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			hd, err := h.Open(p, m.opt)
			if err != nil {
				b.Fatal(err)
			}
			defer hd.Close()
			var s Stats
			if err := hd.Read(&s); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := hd.Read(&s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(hd.Files()), "fds/container")
			b.ReportMetric(float64(len(hd.files)), "files/read")
		})
	}
	// The kernel's floor: the same files kept open and pread whole, no
	// parsing. Read's cost over this is what the parsers and bookkeeping
	// add; compare it with the keep-open case of the same run.
	b.Run("floor", func(b *testing.B) {
		hd, err := h.Open(p, Options{KeepOpen: true})
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
		b.ReportMetric(float64(len(hd.files)), "files/read")
	})
}
