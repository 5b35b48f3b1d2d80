package procfs

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStatFields(t *testing.T) {
	// A real line's shape, with a command name made to confuse splitting.
	line := "4242 (evil) 1 2 (x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 9 0 98765 1234567890 4321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	var f statFields
	if err := f.parse([]byte(line)); err != nil {
		t.Fatal(err)
	}
	want := statFields{utime: 150, stime: 25, start: 98765, vsize: 1234567890, rss: 4321}
	if f != want {
		t.Errorf("parse = %+v, want %+v", f, want)
	}
	for _, bad := range []string{
		"",
		"1 (x",
		"1 (x) S 1 2 3",
		"1 (x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 1x0 25 0 0 20 0 9 0 98765 1 2\n",
		"1 (x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 9 0 98765 1 99999999999999999999999\n",
	} {
		if err := f.parse([]byte(bad)); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}

func TestSelfRead(t *testing.T) {
	s, err := OpenSelf("/proc")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	var files []*os.File
	for range 10 {
		f, err := os.Open("/proc/self/stat")
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	after, err := s.Read()
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := after.OpenFDs - before.OpenFDs; got != 10 {
		t.Errorf("open fds grew by %d after opening 10 files (%d → %d)", got, before.OpenFDs, after.OpenFDs)
	}
	names, _ := os.ReadDir("/proc/self/fd")
	if d := after.OpenFDs - (len(names) - 1 + 10); d < -2 || d > 2 {
		// ReadDir's own descriptor and the runtime's may come and go.
		t.Errorf("open fds %d, the fd directory lists %d after closing 10", after.OpenFDs, len(names))
	}
	if after.ResidentBytes < 1<<20 || after.VirtualBytes < after.ResidentBytes {
		t.Errorf("rss %d, vsize %d: implausible for a Go test binary", after.ResidentBytes, after.VirtualBytes)
	}
	if after.MaxFDs < float64(after.OpenFDs) {
		t.Errorf("max fds %v below open fds %d", after.MaxFDs, after.OpenFDs)
	}
	if age := time.Since(after.Start); age < 0 || age > time.Hour {
		t.Errorf("start %v is %v ago", after.Start, age)
	}
	// Spin until the kernel has charged the process 50 ms more CPU, not
	// for 50 ms of wall time, which a loaded machine may not turn into a
	// single clock tick of CPU.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	until, deadline := cpu()+50*time.Millisecond, time.Now().Add(10*time.Second)
	for cpu() < until && time.Now().Before(deadline) {
	}
	later, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	if later.CPUSeconds <= before.CPUSeconds {
		t.Errorf("cpu seconds %v → %v after 50 ms of CPU spent spinning", before.CPUSeconds, later.CPUSeconds)
	}
}

func TestOpenSelfMissing(t *testing.T) {
	_, err := OpenSelf(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "self/stat") {
		t.Errorf("err = %v, want one naming self/stat", err)
	}
}

func BenchmarkSelfRead(b *testing.B) {
	s, err := OpenSelf("/proc")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Read(); err != nil {
			b.Fatal(err)
		}
	}
}
