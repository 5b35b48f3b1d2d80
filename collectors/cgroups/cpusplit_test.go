package cgroups

import (
	"math"
	"math/rand/v2"
	"testing"
)

// step is one read: the exact total and the sampled user and system.
type step struct{ total, user, sys uint64 }

func (c *cpuSplit) apply(st step) (user, sys uint64) {
	user, sys = st.user, st.sys
	c.adjust(st.total, &user, &sys)
	return user, sys
}

func TestCPUSplitFirstRead(t *testing.T) {
	tests := []struct {
		name            string
		in              step
		wantU, wantS    uint64
		sampledSumExact bool // today's code already got these right
	}{
		// The short-process container: 1.38 s of CPU, of which
		// the ticks saw 1.02 s.
		{"v1 ticks undercount", step{1_380_000_000, 700_000_000, 320_000_000}, 947_058_824, 432_941_176, false},
		// Ticks can also run ahead of the exact counter for a while.
		{"ticks overcount", step{100, 90, 30}, 75, 25, false},
		{"all user", step{5, 3, 0}, 5, 0, false},
		{"all system", step{5, 0, 7}, 0, 5, false},
		{"no tick yet", step{9, 0, 0}, 9, 0, false},
		{"nothing ran", step{0, 0, 0}, 0, 0, true},
		{"split already exact", step{2_500_000_000, 1_500_000_000, 1_000_000_000}, 1_500_000_000, 1_000_000_000, true},
		// The sampled sum overflows uint64; the ratio is still 1:1.
		{"overflow", step{math.MaxUint64, math.MaxUint64, math.MaxUint64}, 1 << 63, 1<<63 - 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cpuSplit
			u, s := c.apply(tt.in)
			if u != tt.wantU || s != tt.wantS {
				t.Errorf("adjust(%+v) = user %d, system %d; want %d, %d", tt.in, u, s, tt.wantU, tt.wantS)
			}
			if u+s != tt.in.total {
				t.Errorf("user+system = %d, want the exact total %d", u+s, tt.in.total)
			}
			if (tt.in.user+tt.in.sys == tt.in.total) != tt.sampledSumExact {
				t.Errorf("fixture: sampled sum equals total = %v, want %v", !tt.sampledSumExact, tt.sampledSumExact)
			}
		})
	}
}

// checkSteps feeds steps to one cpuSplit and checks that every read sums to
// the exact total and that no mode goes backwards while no counter does.
// It returns how often the clamp had to hold a mode up.
func checkSteps(t *testing.T, steps []step) (clamped int) {
	t.Helper()
	var c cpuSplit
	var prev step
	var prevU, prevS uint64
	for i, st := range steps {
		ratio := share(st.total, st.sys, st.user)
		u, s := c.apply(st)
		if u+s != st.total {
			t.Fatalf("step %d %+v: user %d + system %d != total %d", i, st, u, s, st.total)
		}
		reset := st.total < prev.total || st.user < prev.user || st.sys < prev.sys
		if !reset && (u < prevU || s < prevS) {
			t.Fatalf("step %d %+v: user %d -> %d, system %d -> %d: a mode went backwards", i, st, prevU, u, prevS, s)
		}
		if !reset && st.total > prev.total && s != ratio {
			clamped++
		}
		prev, prevU, prevS = st, u, s
	}
	return clamped
}

// The sampled split swings between almost all user and almost all system
// while the exact total grows steadily: scaled by the cumulative ratio
// alone, each mode would drop by about 80 % of the total at every swing.
func TestCPUSplitMonotonicSwings(t *testing.T) {
	var steps []step
	var st step
	for i := range 18 {
		st.total += 1e9
		grow := 10 * (st.user + st.sys + 1)
		if i%2 == 0 {
			st.user += grow
		} else {
			st.sys += grow
		}
		steps = append(steps, st)
		// A read where nothing ran but the ticks moved: nothing changes.
		st.sys++
		steps = append(steps, st)
	}
	if n := checkSteps(t, steps); n < 8 {
		t.Fatalf("the clamp held a mode up %d times; the sequence is not adversarial enough", n)
	}
}

func TestCPUSplitMonotonicRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	var steps []step
	var st step
	for range 20000 {
		// Any mix: the total may stand still, the ticks may see nothing,
		// one mode only, or far more than ran.
		st.total += rng.Uint64N(4) * rng.Uint64N(1e7)
		switch rng.IntN(4) {
		case 0:
			st.user += rng.Uint64N(2e7)
		case 1:
			st.sys += rng.Uint64N(2e7)
		case 2:
			st.user += rng.Uint64N(1e12)
		}
		steps = append(steps, st)
	}
	if n := checkSteps(t, steps); n == 0 {
		t.Fatal("the clamp never acted; the sequence tests nothing")
	}
}

func TestCPUSplitReset(t *testing.T) {
	tests := []struct {
		name         string
		after        step
		wantU, wantS uint64
	}{
		// The container restarted under the same cgroup: every counter
		// starts again from zero and the modes follow them down.
		{"total down", step{1e9, 3e8, 1e8}, 7.5e8, 2.5e8},
		// A recreated cgroup whose total already passed the old one is
		// still told by its sampled counters. Clamped to the old modes, user
		// would have stayed at 7.5e9.
		{"sampled down", step{12e9, 1e9, 1e9}, 6e9, 6e9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cpuSplit
			if u, s := c.apply(step{10e9, 6e9, 2e9}); u != 7.5e9 || s != 2.5e9 {
				t.Fatalf("before the reset: user %d, system %d; want 7.5e9, 2.5e9", u, s)
			}
			u, s := c.apply(tt.after)
			if u != tt.wantU || s != tt.wantS {
				t.Errorf("after the reset %+v: user %d, system %d; want %d, %d", tt.after, u, s, tt.wantU, tt.wantS)
			}
			// And monotonic again from there.
			next := step{tt.after.total + 1e9, tt.after.user, tt.after.sys + 4e9}
			if u2, s2 := c.apply(next); u2 < u || s2 < s || u2+s2 != next.total {
				t.Errorf("after %+v: user %d -> %d, system %d -> %d", next, u, u2, s, s2)
			}
		})
	}
}

func FuzzCPUSplit(f *testing.F) {
	f.Add(uint64(1e9), uint64(6e8), uint64(2e8), uint64(1e7), uint64(5e8), uint64(0), uint64(1e7), uint64(0), uint64(9e8))
	f.Add(uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0))
	f.Add(uint64(5), uint64(0), uint64(0), uint64(0), uint64(3), uint64(0), uint64(1), uint64(0), uint64(3))
	f.Fuzz(func(t *testing.T, t1, u1, s1, dt2, du2, ds2, dt3, du3, ds3 uint64) {
		// Deltas, so that most inputs are a running counter; a delta that
		// wraps around is a reset, which checkSteps allows for.
		st2 := step{t1 + dt2, u1 + du2, s1 + ds2}
		checkSteps(t, []step{{t1, u1, s1}, st2, {st2.total + dt3, st2.user + du3, st2.sys + ds3}})
	})
}

func BenchmarkCPUSplit(b *testing.B) {
	var c cpuSplit
	st := step{1e9, 6e8, 2e8}
	b.ReportAllocs()
	for b.Loop() {
		st.total += 1e7
		st.user += 3e6
		c.apply(st)
	}
}
