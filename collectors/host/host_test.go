package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
