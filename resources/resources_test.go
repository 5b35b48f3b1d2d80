package resources

import "testing"

func TestCPURequestCores(t *testing.T) {
	for _, c := range []struct {
		shares uint64
		want   float64
	}{
		{0, 0}, // no shares at all: no request
		{1, 0}, // below the kernel's minimum
		{2, 0}, // the kubelet's BestEffort marker (and 1m, 2m requests)
		{3, 3.0 / 1024},
		{256, 0.25}, // 250m: the kubelet writes 256 shares
		{1024, 1},
		{262144, 256},
	} {
		if got := CPURequestCores(c.shares); got != c.want {
			t.Errorf("CPURequestCores(%d) = %v, want %v", c.shares, got, c.want)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct{ in, want uint64 }{
		{0, 0},
		{64 << 20, 64 << 20},
		{UnlimitedMemory - 1, UnlimitedMemory - 1},
		{UnlimitedMemory, 0},
		{9223372036854771712, 0}, // cgroup v1's unset limit on 4 KiB pages
		{1<<64 - 1, 0},
	} {
		if got := MemoryLimit(c.in); got != c.want {
			t.Errorf("MemoryLimit(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestCPULimitCores(t *testing.T) {
	for _, c := range []struct {
		quota  int64
		period uint64
		want   float64
	}{
		{-1, 100000, 0},
		{0, 100000, 0},
		{50000, 0, 0},
		{50000, 100000, 0.5},
		{150000, 100000, 1.5},
	} {
		if got := CPULimitCores(c.quota, c.period); got != c.want {
			t.Errorf("CPULimitCores(%d, %d) = %v, want %v", c.quota, c.period, got, c.want)
		}
	}
}
