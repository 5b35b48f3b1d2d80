// Package procfs reads the few per-process facts the agent needs once per
// task from a proc filesystem mounted at a configurable root (the host's
// /proc, seen from a container, is usually elsewhere): when the system
// booted and when a process started.
package procfs

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fleetscope/fleetscope/collectors/internal/kernfile"
)

// BootTime reads btime from <proc>/stat; zero if unavailable.
func BootTime(procRoot string) time.Time {
	data, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return time.Time{}
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			if n, err := kernfile.ParseInt(kernfile.TrimSpace(v)); err == nil {
				return time.Unix(n, 0)
			}
		}
	}
	return time.Time{}
}

// clockTicks is USER_HZ, which Linux fixes at 100 for userspace ABI.
const clockTicks = 100

// StartTime returns when pid started, from its /proc/<pid>/stat. Read
// once per task, so a plain parse is fine here.
func StartTime(procRoot string, pid uint32, boot time.Time) time.Time {
	if boot.IsZero() {
		return time.Time{}
	}
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10), "stat"))
	if err != nil {
		return time.Time{}
	}
	ticks, ok := parseStartTicks(data)
	if !ok {
		return time.Time{}
	}
	return boot.Add(time.Duration(ticks) * time.Second / clockTicks)
}

// parseStartTicks returns field 22 (starttime, in clock ticks since boot) of
// a /proc/<pid>/stat line.
func parseStartTicks(data []byte) (uint64, bool) {
	var f statFields
	if err := f.parse(data); err != nil {
		return 0, false
	}
	return f.start, true
}
