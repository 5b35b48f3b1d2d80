package cgroups

import "time"

// setPread fakes the kernel's answers to the Handle's reads, for what a
// fixture file never does (a removed cgroup's kept-open file answers
// ENODEV).
func (hd *Handle) setPread(fn func(fd int, p []byte, off int64) (int, error)) {
	for i := range hd.files {
		hd.files[i].SetPread(fn)
	}
	for i := range hd.limits {
		hd.limits[i].SetPread(fn)
	}
	hd.oom.f.SetPread(fn)
}

// setNow replaces the clock that spaces the OOM counter's readings.
func (hd *Handle) setNow(now func() time.Time) { hd.oom.now = now }
