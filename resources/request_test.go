package resources

import "testing"

func TestWeightFromShares(t *testing.T) {
	for _, c := range []struct{ shares, current, legacy uint64 }{
		{0, 0, 0}, // unset stays unset
		{2, 1, 1},
		{512, 59, 20},
		{1024, 100, 39}, // one CPU: the default weight of the current formula
		{2048, 174, 79},
		{262144, 10000, 10000},
		{1 << 20, 10000, 10000},
	} {
		if got := WeightFromShares(c.shares); got != c.current {
			t.Errorf("WeightFromShares(%d) = %d, want %d", c.shares, got, c.current)
		}
		if got := LegacyWeightFromShares(c.shares); got != c.legacy {
			t.Errorf("LegacyWeightFromShares(%d) = %d, want %d", c.shares, got, c.legacy)
		}
	}
}

// TestSharesFromWeight checks the reading over the whole shares domain:
// it maps back to the same weight, is never below the shares that wrote
// it, and its error is within what the doc comment states.
func TestSharesFromWeight(t *testing.T) {
	for _, f := range []struct {
		name     string
		toWeight func(uint64) uint64
		pick     func(current, legacy uint64) uint64
		maxOver  uint64  // shares
		maxRel   float64 // from a quarter core (256 shares) on
	}{
		{"current", WeightFromShares, func(c, _ uint64) uint64 { return c }, 0, 0.034},
		{"legacy", LegacyWeightFromShares, func(_, l uint64) uint64 { return l }, 26, 0},
	} {
		var worst float64
		for s := uint64(2); s <= 262144; s++ {
			w := f.toWeight(s)
			back := f.pick(SharesFromWeight(w))
			if f.toWeight(back) != w || back < s {
				t.Fatalf("%s: shares %d → weight %d → %d", f.name, s, w, back)
			}
			if f.toWeight(back+1) == w && back < 262144 {
				t.Fatalf("%s: weight %d read as %d, not the top of its run", f.name, w, back)
			}
			if f.maxOver > 0 && back-s > f.maxOver {
				t.Fatalf("%s: shares %d read back as %d", f.name, s, back)
			}
			if s >= 256 {
				worst = max(worst, float64(back-s)/float64(s))
			}
		}
		if f.maxRel > 0 && worst > f.maxRel {
			t.Errorf("%s: worst error from 256 shares on is %.2f%%, want at most %.2f%%", f.name, 100*worst, 100*f.maxRel)
		}
	}
	if c, l := SharesFromWeight(100); c != 1024 || l != 2623 {
		t.Errorf("SharesFromWeight(100) = %d, %d; want 1024 (one CPU) and 2623 (2.56)", c, l)
	}
	if c, l := SharesFromWeight(39); c != 305 || l != 1024 {
		t.Errorf("SharesFromWeight(39) = %d, %d; want 305 and 1024", c, l)
	}
	if c, l := SharesFromWeight(0); c != 0 || l != 0 {
		t.Errorf("SharesFromWeight(0) = %d, %d; want none", c, l)
	}
	if c, l := SharesFromWeight(20000); c != 262144 || l != 262144 {
		t.Errorf("SharesFromWeight(20000) = %d, %d; want the maximum", c, l)
	}
}

func TestRequestOf(t *testing.T) {
	for _, c := range []struct {
		name                 string
		spec, shares, weight uint64
		want                 CPURequest
		cores, legacy        float64
	}{
		{"nothing", 0, 0, 0, CPURequest{}, 0, 0},
		{"spec over everything", 512, 2048, 174, CPURequest{Shares: 512, From: RequestSpec}, 0.5, 0},
		{"spec over a new-formula weight", 1024, 0, 100, CPURequest{Shares: 1024, From: RequestSpec}, 1, 0},
		{"best effort spec", 2, 0, 1, CPURequest{Shares: 2, From: RequestSpec}, 0, 0},
		{"v1 shares", 0, 256, 0, CPURequest{Shares: 256, From: RequestShares}, 0.25, 0},
		{"v2 weight", 0, 0, 100, CPURequest{Shares: 1024, From: RequestWeight, LegacyShares: 2623}, 1, 2623.0 / 1024},
		{"v2 weight 1", 0, 0, 1, CPURequest{Shares: 2, From: RequestWeight, LegacyShares: 28}, 0, 28.0 / 1024},
	} {
		got := RequestOf(c.spec, c.shares, c.weight)
		if got != c.want {
			t.Errorf("%s: RequestOf(%d, %d, %d) = %+v, want %+v", c.name, c.spec, c.shares, c.weight, got, c.want)
		}
		if got.Cores() != c.cores || got.LegacyCores() != c.legacy {
			t.Errorf("%s: %v cores (legacy %v), want %v (%v)", c.name, got.Cores(), got.LegacyCores(), c.cores, c.legacy)
		}
	}
	for f, want := range map[RequestFrom]string{RequestNone: "none", RequestSpec: "spec", RequestShares: "cpu.shares", RequestWeight: "cpu.weight"} {
		if f.String() != want {
			t.Errorf("%d.String() = %q, want %q", f, f.String(), want)
		}
	}
}
