package cgroups

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The fixtures under testdata/periods are a cgroup with a 0.5-core quota
// at the default 100 ms period running 1 s of work every 20 s, its
// cpu.stat read every 10 s: on cgroup v1 as the kernel wrote it, and the
// same counts in v2's format (one scheduler counts periods for both).
// Each run counted 12 or 13 periods; the work took 1.0 s plus the start
// and exit of its process. Runs used a little more CPU time than their
// periods grant at the quota (the kernel hands out runtime in slices),
// so that floor decides for three of the four: all within 11 % of the
// 1.0 s of work (one period).
func TestPeriodBusyFixtures(t *testing.T) {
	want := []time.Duration{0, 1100, 0, 1103, 0, 1049, 0, 1106, 0, 0} // ms
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			dir := filepath.Join("testdata", "periods", v)
			period, quota := fixturePeriod(t, dir)
			if period != 100*time.Millisecond || quota != 0.5 {
				t.Fatalf("period %v, quota %v cores; want 100ms, 0.5", period, quota)
			}
			var c PeriodCounter
			var lastCPU uint64
			for i, w := range want {
				st := fixtureCPUStat(t, dir, i)
				n, ok := c.Step(st.Periods)
				if ok != (i > 0) {
					t.Fatalf("sample %d: ok = %v", i, ok)
				}
				if i == 0 {
					lastCPU = st.Usage
					continue
				}
				cpu := time.Duration(st.Usage - lastCPU)
				lastCPU = st.Usage
				got := PeriodBusy(n, period, cpu, quota, 10*time.Second)
				if got.Round(time.Millisecond) != w*time.Millisecond {
					t.Errorf("sample %d: busy %v (%d periods, %v CPU), want %v", i, got, n, cpu, w*time.Millisecond)
				}
			}
		})
	}
}

// fixturePeriod reads the period and the quota in cores of a fixture.
func fixturePeriod(t *testing.T, dir string) (time.Duration, float64) {
	t.Helper()
	var quota int64
	var period uint64
	if b, err := os.ReadFile(filepath.Join(dir, "cpu.max")); err == nil {
		if quota, period, err = parseCPUMax(b); err != nil {
			t.Fatal(err)
		}
	} else {
		p, err := os.ReadFile(filepath.Join(dir, "cpu.cfs_period_us"))
		if err != nil {
			t.Fatal(err)
		}
		q, err := os.ReadFile(filepath.Join(dir, "cpu.cfs_quota_us"))
		if err != nil {
			t.Fatal(err)
		}
		if period, err = parseSingle(p); err != nil {
			t.Fatal(err)
		}
		if quota, err = parseQuota(q); err != nil {
			t.Fatal(err)
		}
	}
	return time.Duration(period) * time.Microsecond, float64(quota) / float64(period)
}

// fixtureCPUStat parses the i-th cpu.stat of a fixture, with the CPU time
// (v1's from its cpuacct.usage).
func fixtureCPUStat(t *testing.T, dir string, i int) cpuStat {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("cpu.stat.%d", i)))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) == "v2" {
		st, err := parseCPUStatV2(b)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st, err := parseCPUStatV1(b)
	if err != nil {
		t.Fatal(err)
	}
	u, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("cpuacct.usage.%d", i)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Usage, err = parseSingle(u); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestPeriodCounter pins the correction: two periods once per chain of
// samples that count periods, the trailing periods of a run that ended
// just before a reading are not work, and a counter going backwards
// starts over.
func TestPeriodCounter(t *testing.T) {
	cases := []struct {
		name     string
		readings []uint64
		want     []uint64 // per step after the first
	}{
		{"run within a sample", []uint64{0, 12, 12, 24}, []uint64{10, 0, 10}},
		{"run across samples", []uint64{0, 4, 12, 12}, []uint64{2, 8, 0}},
		{"short chain start", []uint64{0, 1, 101, 201, 203, 203}, []uint64{0, 99, 100, 0, 0}},
		{"a wake", []uint64{0, 2, 2}, []uint64{0, 0}},
		{"reset", []uint64{50, 10, 22}, []uint64{0, 10}},
	}
	for _, c := range cases {
		var pc PeriodCounter
		pc.Step(c.readings[0])
		for i, r := range c.readings[1:] {
			got, _ := pc.Step(r)
			if got != c.want[i] {
				t.Errorf("%s: step %d (reading %d): %d busy periods, want %d", c.name, i+1, r, got, c.want[i])
			}
		}
	}
	if got := PeriodBusy(200, 100*time.Millisecond, 0, 0, 10*time.Second); got != 10*time.Second {
		t.Errorf("busy beyond the interval: %v, want the interval", got)
	}
	if got := PeriodBusy(2, 100*time.Millisecond, 2*time.Second, 0.5, 10*time.Second); got != 4*time.Second {
		t.Errorf("busy below what the CPU time needs at the quota: %v, want 4s", got)
	}
}
