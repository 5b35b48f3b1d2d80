package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadRealHost(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no procfs on this machine")
	}
	var s Stats
	if err := New("/proc", "/").Read(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	if s.CPUs < 1 || s.MemoryTotal == 0 || s.MemoryAvailable > s.MemoryTotal || s.FilesystemSize == 0 {
		t.Fatalf("implausible host reading: %+v", s)
	}
	if s.CPUUserSeconds+s.CPUSystemSeconds+s.CPUIdleSeconds <= 0 {
		t.Fatalf("no CPU time: %+v", s)
	}
}

// A fixture procfs proves the root is honoured rather than the real /proc.
func TestReadFixtureProcRoot(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("stat", "cpu  100 0 50 1000 10 0 0 0 0 0\ncpu0 100 0 50 1000 10 0 0 0 0 0\n")
	write("meminfo", "MemTotal:       1024 kB\nMemFree:         512 kB\nMemAvailable:    768 kB\nBuffers: 0 kB\nCached: 0 kB\n")
	var s Stats
	_ = New(dir, "/").Read(context.Background(), &s)
	if s.MemoryTotal != 1024*1024 || s.MemoryAvailable != 768*1024 {
		t.Fatalf("memory = %d/%d, want 1048576/786432", s.MemoryAvailable, s.MemoryTotal)
	}
	// gopsutil reports USER_HZ ticks as seconds (ticks/100).
	if s.CPUUserSeconds != 1 || s.CPUSystemSeconds != 0.5 || s.CPUIdleSeconds != 10 {
		t.Fatalf("cpu = %+v, want user 1 system 0.5 idle 10", s)
	}
}

// The CPU count is read once and then every cpuCountRefresh, not every
// reading; a clock stepped back re-reads it.
func TestCPUCountCached(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cpuinfo := func(n int) {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "processor\t: %d\nmodel name\t: test\n\n", i)
		}
		write("cpuinfo", b.String())
	}
	write("stat", "cpu  100 0 50 1000 10 0 0 0 0 0\n")
	write("meminfo", "MemTotal: 1024 kB\nMemAvailable: 768 kB\n")
	cpuinfo(2)
	now := time.Unix(1700000000, 0)
	c := New(dir, "/")
	c.now = func() time.Time { return now }
	read := func() int {
		var s Stats
		_ = c.Read(context.Background(), &s)
		return s.CPUs
	}
	if n := read(); n != 2 {
		t.Fatalf("CPUs = %d, want 2", n)
	}
	cpuinfo(4)
	now = now.Add(cpuCountRefresh - time.Second)
	if n := read(); n != 2 {
		t.Fatalf("CPUs = %d before the refresh, want the cached 2", n)
	}
	now = now.Add(time.Second)
	if n := read(); n != 4 {
		t.Fatalf("CPUs = %d after the refresh, want 4", n)
	}
	cpuinfo(8)
	now = now.Add(-time.Hour)
	if n := read(); n != 8 {
		t.Fatalf("CPUs = %d after the clock stepped back, want 8", n)
	}
}

func TestReadMissingFilesystem(t *testing.T) {
	var s Stats
	err := New("/proc", "/does/not/exist").Read(context.Background(), &s)
	if err == nil {
		t.Fatal("want an error naming the missing filesystem")
	}
	if want := "/does/not/exist"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name %s", err, want)
	}
}

// BenchmarkRead is one reading of the real host: the agent takes one per
// tick, whatever the number of containers.
func BenchmarkRead(b *testing.B) {
	c := New("/proc", "/")
	var s Stats
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Read(context.Background(), &s); err != nil {
			b.Fatal(err)
		}
	}
}
