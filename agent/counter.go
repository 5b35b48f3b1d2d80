package agent

import "time"

// maxCounters is the most counters one counters value follows: a cgroup's
// CPU time, bytes read and bytes written.
const maxCounters = 3

// counters follows cumulative kernel counters that are read together (a
// cgroup's CPU time and I/O bytes, a namespace's bytes in and out) and
// turns two successive readings into deltas and per-second rates. A step
// in which any of them went backwards (a reset) or no time passed yields
// nothing rather than a negative or infinite rate, and the last good
// deltas stay as they were; either way the reading becomes the base of the
// next step.
type counters struct {
	prev  [maxCounters]uint64
	at    time.Time // of prev; zero before the first reading
	valid bool      // prev holds a reading
	ok    bool      // the last step yielded deltas

	delta [maxCounters]uint64 // over the last good step
	span  time.Duration       // of the last good step
}

// step records a reading taken at at, the counters in a fixed order, and
// reports whether it yields deltas against the previous one.
func (c *counters) step(at time.Time, v ...uint64) bool {
	span := at.Sub(c.at)
	c.ok = c.valid && span > 0
	for i, x := range v {
		if x < c.prev[i] {
			c.ok = false
		}
	}
	if c.ok {
		for i, x := range v {
			c.delta[i] = x - c.prev[i]
		}
		c.span = span
	}
	copy(c.prev[:], v)
	c.at, c.valid = at, true
	return c.ok
}

// rate is counter i's growth per second over the last good step, 0 before
// there was one.
func (c *counters) rate(i int) float64 {
	if c.span <= 0 {
		return 0
	}
	return float64(c.delta[i]) / c.span.Seconds()
}
