package cgroups

import "math/bits"

// cpuSplit turns a cgroup's sampled user/system split into modes that sum to
// its exact CPU time, the way the kernel's cputime_adjust does for a task.
//
// The kernel charges cpuacct.usage (v2 usage_usec) with the scheduler's
// exact runtime, but fills cpuacct.usage_user/usage_sys and cpuacct.stat
// (v2 user_usec/system_usec) from what the timer tick finds running. A
// container of many short processes, most of which start and end between
// two ticks, then shows a user+system a fifth or more below its real CPU
// time. The split is still the best estimate of the ratio, so the exact
// total is divided in that ratio.
//
// Scaling the cumulative counters can move the ratio either way from one
// read to the next, so each mode is kept from going backwards: system is
// clamped to [previous system, total − previous user] and user takes the
// rest. The interval is never empty because the exact total only grows,
// and the sum stays exactly the total.
//
// It lives in the Handle, one per container, and is only touched under the
// Host's lock by Read.
type cpuSplit struct {
	total, user, sys uint64 // exact total and the modes last reported for it
	rawUser, rawSys  uint64 // sampled counters last read, to notice a reset
}

// adjust replaces the sampled *user and *sys by modes that sum to total.
func (c *cpuSplit) adjust(total uint64, user, sys *uint64) {
	u, s := *user, *sys
	if total < c.total || u < c.rawUser || s < c.rawSys {
		// A counter went backwards: the cgroup was recreated under the same
		// path (a restarted container) or its accounting was reset. The
		// old modes say nothing about the new counters, so start over.
		*c = cpuSplit{}
	}
	c.rawUser, c.rawSys = u, s
	if total > c.total {
		sysNew := min(max(share(total, s, u), c.sys), total-c.user)
		c.total, c.sys, c.user = total, sysNew, total-sysNew
	}
	*user, *sys = c.user, c.sys
}

// share returns total·part/(part+other), rounded down, without overflowing.
// With no sample at all, everything goes to other (user), as in the kernel.
func share(total, part, other uint64) uint64 {
	switch {
	case part == 0:
		return 0
	case other == 0:
		return total
	}
	sum, carry := bits.Add64(part, other, 0)
	if carry != 0 {
		// Beyond 2^64 ns (584 years) of sampled time: halving both keeps
		// the ratio to within one part in 2^63.
		part, other = part>>1, other>>1
		sum = part + other
	}
	// part ≤ sum, so part·total/sum ≤ total fits and Div64 cannot panic.
	hi, lo := bits.Mul64(part, total)
	q, _ := bits.Div64(hi, lo, sum)
	return q
}

// CPUSplit is a Handle's CPU-mode state, carried from a closed Handle to
// the next one of the same task (see Handle.CPUSplit and ResumeCPUSplit),
// so that a reopen after a transient read error cannot step a mode back.
type CPUSplit struct{ s cpuSplit }

// CPUSplit returns the handle's CPU-mode state.
func (hd *Handle) CPUSplit() CPUSplit {
	hd.host.mu.Lock()
	defer hd.host.mu.Unlock()
	return CPUSplit{hd.cpu}
}

// ResumeCPUSplit continues from the state of an earlier Handle of the same
// task. Counters that went backwards since still reset it, as in Read.
func (hd *Handle) ResumeCPUSplit(s CPUSplit) {
	hd.host.mu.Lock()
	defer hd.host.mu.Unlock()
	hd.cpu = s.s
}
