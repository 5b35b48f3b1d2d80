package agent

import (
	"testing"
	"time"
)

func TestCountersStep(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var c counters
	if c.step(t0, 100, 10) || c.rate(0) != 0 {
		t.Fatalf("first reading: ok %v, rate %v; want no step and rate 0", c.ok, c.rate(0))
	}
	if !c.step(t0.Add(2*time.Second), 300, 10) {
		t.Fatal("a growing reading yields no step")
	}
	if c.delta[0] != 200 || c.delta[1] != 0 || c.span != 2*time.Second || c.rate(0) != 100 {
		t.Fatalf("delta %v span %v rate %v; want [200 0] 2s 100", c.delta[:2], c.span, c.rate(0))
	}
	// One counter going backwards (a reset) spoils the whole step but
	// keeps the last good rates, and becomes the base of the next.
	if c.step(t0.Add(3*time.Second), 400, 5) || c.rate(0) != 100 {
		t.Fatalf("reset: ok %v rate %v; want no step, rate 100 kept", c.ok, c.rate(0))
	}
	if c.step(t0.Add(3*time.Second), 500, 6) {
		t.Fatal("a step without elapsed time yields a rate")
	}
	if !c.step(t0.Add(4*time.Second), 510, 7) || c.delta[0] != 10 || c.delta[1] != 1 {
		t.Fatalf("after reset: ok %v delta %v; want [10 1]", c.ok, c.delta[:2])
	}
}
