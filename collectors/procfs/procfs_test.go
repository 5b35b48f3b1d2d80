package procfs

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseStartTicks(t *testing.T) {
	line := "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 98765 1000000 200 18446744073709551615\n"
	got, ok := parseStartTicks([]byte(line))
	if !ok || got != 98765 {
		t.Fatalf("start ticks = %d, %v; want 98765", got, ok)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 x"} {
		if _, ok := parseStartTicks([]byte(bad)); ok {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestProcessStartAndBootTime(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "stat"), []byte("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "42"), 0o755)
	os.WriteFile(filepath.Join(dir, "42", "stat"), []byte("42 (sleep) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0\n"), 0o644)
	boot := BootTime(dir)
	if !boot.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("boot = %v", boot)
	}
	if got, want := StartTime(dir, 42, boot), boot.Add(123450*time.Millisecond); !got.Equal(want) {
		t.Fatalf("start = %v, want %v", got, want)
	}
	if !StartTime(dir, 43, boot).IsZero() {
		t.Fatal("a missing process has a start time")
	}
}

func FuzzParseStartTicks(f *testing.F) {
	f.Add([]byte("1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0"))
	f.Add([]byte("1 ()) S"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseStartTicks(data)
	})
}
