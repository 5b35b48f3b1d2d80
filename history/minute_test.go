package history

import (
	"math"
	"testing"
)

func TestEncodeCPUHandComputed(t *testing.T) {
	// code = 2 + floor(ln(x/0.0001) / (ln(640000)/125)), worked out by hand
	// (ln r = 0.106954): e.g. ln(100)/0.106954 = 43.06 → 45.
	for _, tc := range []struct {
		cores float64
		code  uint8
	}{
		{math.NaN(), 1}, {math.Inf(-1), 1}, {-3, 1}, {0, 1}, {0.00009, 1},
		{0.0001, 2}, {0.001, 23}, {0.0095, 44}, {0.01, 45}, {0.0105, 45},
		{0.02, 51}, {0.1, 66}, {0.5, 81}, {1, 88}, {2, 94}, {63.9, 126},
		{64, 127}, {1000, 127}, {math.Inf(1), 127},
	} {
		if got := EncodeCPU(tc.cores); got != tc.code {
			t.Errorf("EncodeCPU(%v) = %d, want %d", tc.cores, got, tc.code)
		}
	}
}

func TestEncodeCPURoundTripAndMonotonic(t *testing.T) {
	prev := uint8(0)
	seen := map[uint8]bool{}
	// 200k log-spaced points from 0.00001 to 100 cores.
	const n = 200000
	for i := range n + 1 {
		x := 1e-5 * math.Pow(1e7, float64(i)/n)
		c := EncodeCPU(x)
		if c < prev {
			t.Fatalf("EncodeCPU not monotonic: %v → %d after %d", x, c, prev)
		}
		prev = c
		seen[c] = true
		if x < minCores || x > maxCores {
			continue
		}
		got := MakeMinute(x, false).Cores()
		if rel := math.Abs(got-x) / x; rel > 0.12 {
			t.Fatalf("Cores(EncodeCPU(%v)) = %v, off by %.1f%%", x, got, rel*100)
		}
	}
	for c := uint8(1); c <= codeMax; c++ {
		if !seen[c] {
			t.Errorf("code %d never produced", c)
		}
	}
	// Each bucket is about 11% wider than the previous one.
	for c := 3; c < codeMax; c++ {
		if r := codeCores[c] / codeCores[c-1]; r < 1.11 || r > 1.12 {
			t.Errorf("code %d/%d ratio %v", c, c-1, r)
		}
	}
	// Decoding then encoding a bucket's midpoint gives the bucket back.
	for c := uint8(2); c <= codeMax; c++ {
		if got := EncodeCPU(codeCores[c]); got != c {
			t.Errorf("EncodeCPU(Cores(%d)) = %d", c, got)
		}
	}
}

func TestMinuteBits(t *testing.T) {
	var none Minute
	if none.Valid() || none.Active() || none.Cores() != 0 || none.Code() != 0 {
		t.Errorf("Minute(0) = valid %v active %v cores %v", none.Valid(), none.Active(), none.Cores())
	}
	if m := Minute(activeBit); m.Valid() || m.Active() {
		t.Errorf("active bit without a code must read as no data")
	}
	m := MakeMinute(0, true)
	if !m.Valid() || !m.Active() || m.Cores() != 0 || m.Code() != codeIdle {
		t.Errorf("MakeMinute(0, true) = %#x", uint8(m))
	}
	m = MakeMinute(1, false)
	if !m.Valid() || m.Active() || m.Code() != 88 || math.Abs(m.Cores()-1.042) > 0.001 {
		t.Errorf("MakeMinute(1, false) = %#x cores %v", uint8(m), m.Cores())
	}
	if got := MakeMinute(100, true); got != 0xff || got.Cores() != 64 {
		t.Errorf("MakeMinute(100, true) = %#x cores %v", uint8(got), got.Cores())
	}
}
