// Package cgroups reads container resource usage from cgroupfs on cgroup v1,
// v2 and hybrid hosts.
//
// It is built for an agent that samples many containers every few seconds:
// Detect learns the host's layout once, Host.Open resolves one container's
// files once, and Handle.Read then fills a Stats in place without
// allocating, parsing file content as bytes. Every path is relative to a
// root given to Detect, so tests and agents running in a container (with
// the host's /sys mounted elsewhere) work alike.
//
// CPU time by mode is the kernel's tick-sampled user/system split scaled to
// the exact total (cpuacct.usage, v2 usage_usec), so the modes sum to it;
// each Handle keeps what it needs to hold both modes monotonic.
//
// The OOM kill counter (memory.events, memory.oom_control) is cumulative
// and rarely moves, so a Handle reads it once every OOMRefresh and reports
// the last reading in between.
//
// A container that exits while being read is normal: Read then returns an
// error wrapping fs.ErrNotExist. Content that cannot be parsed yields an
// error wrapping ErrMalformed and naming the file; the sample is discarded
// whole.
package cgroups
