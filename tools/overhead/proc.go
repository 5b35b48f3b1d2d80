package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat and /proc/stat.
// Linux reports them in USER_HZ, which is 100 on every architecture Go
// supports (sysconf(_SC_CLK_TCK)), independent of the kernel's CONFIG_HZ.
const userHZ = 100

// procCPUSeconds returns the user plus system CPU time of process pid in
// seconds, summed over all its threads.
func procCPUSeconds(procRoot string, pid int) (float64, error) {
	path := filepath.Join(procRoot, strconv.Itoa(pid), "stat")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	ticks, err := parseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return float64(ticks) / userHZ, nil
}

// parseStatCPU returns utime+stime (fields 14 and 15) of a /proc/<pid>/stat
// line, in USER_HZ ticks. The command name in field 2 may hold spaces and
// parentheses, so the fields are counted from the last ')'.
func parseStatCPU(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("no ')' after the command name")
	}
	// After ") " come field 3 (state), 4, 5, ...: utime is the 12th of
	// them and stime the 13th.
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	utime, err := strconv.ParseUint(string(f[11]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("utime: %w", err)
	}
	stime, err := strconv.ParseUint(string(f[12]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stime: %w", err)
	}
	return utime + stime, nil
}

// procRSS returns the resident set size of process pid in bytes.
func procRSS(procRoot string, pid int) (uint64, error) {
	path := filepath.Join(procRoot, strconv.Itoa(pid), "status")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	rss, err := parseVmRSS(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return rss, nil
}

// parseVmRSS returns the VmRSS line of /proc/<pid>/status in bytes.
func parseVmRSS(b []byte) (uint64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("VmRSS: unexpected %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS: %w", err)
		}
		return kb << 10, nil
	}
	// Kernel threads and zombies have no VmRSS line.
	return 0, fmt.Errorf("no VmRSS line (process exited?)")
}

// hostCPU is the machine-wide CPU time from the first line of /proc/stat, in
// USER_HZ ticks summed over all CPUs.
type hostCPU struct {
	busy, total uint64
}

func readHostCPU(procRoot string) (hostCPU, error) {
	path := filepath.Join(procRoot, "stat")
	b, err := os.ReadFile(path)
	if err != nil {
		return hostCPU{}, err
	}
	c, err := parseHostCPU(b)
	if err != nil {
		return hostCPU{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// parseHostCPU reads "cpu user nice system idle iowait irq softirq steal
// guest guest_nice". Guest time is already part of user and nice, so only
// the first eight columns are summed; idle and iowait are not busy.
func parseHostCPU(b []byte) (hostCPU, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return hostCPU{}, fmt.Errorf("first line %q is not the cpu summary", line)
	}
	var c hostCPU
	for i, s := range f[1:9] {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return hostCPU{}, fmt.Errorf("cpu column %d: %w", i+1, err)
		}
		c.total += v
		if i != 3 && i != 4 { // idle, iowait
			c.busy += v
		}
	}
	return c, nil
}

// busyPercent is the share of all CPUs that was busy between c and a later
// reading, in percent of the whole machine.
func (c hostCPU) busyPercent(later hostCPU) float64 {
	if later.total <= c.total {
		return 0
	}
	return float64(later.busy-c.busy) / float64(later.total-c.total) * 100
}

// procRunNS returns the CPU time process pid has run, summed over its
// threads from /proc/<pid>/task/*/schedstat, in nanoseconds. Unlike the
// USER_HZ ticks of stat it resolves the few milliseconds one scrape costs.
func procRunNS(procRoot string, pid int) (uint64, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var sum uint64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited meanwhile
		}
		ns, err := parseSchedstat(b)
		if err != nil {
			return 0, fmt.Errorf("%s/%s/schedstat: %w", dir, t.Name(), err)
		}
		sum += ns
	}
	return sum, nil
}

// parseSchedstat returns the first of the three numbers of a schedstat
// file: time spent on the CPU, in nanoseconds.
func parseSchedstat(b []byte) (uint64, error) {
	f := bytes.Fields(b)
	if len(f) != 3 {
		return 0, fmt.Errorf("%d fields, want 3", len(f))
	}
	return strconv.ParseUint(string(f[0]), 10, 64)
}

// procPss returns the proportional set size of process pid in bytes: its
// resident memory with each shared page divided among the processes that
// map it, so summing it over a thousand shims does not count the shim
// binary a thousand times, as summing RSS would.
func procPss(procRoot string, pid int) (uint64, error) {
	path := filepath.Join(procRoot, strconv.Itoa(pid), "smaps_rollup")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := parseKBField(b, "Pss:")
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// parseKBField returns the value of a "Key:  123 kB" line in bytes.
func parseKBField(b []byte, key string) (uint64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("unexpected %q", bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %w", key, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s line", key)
}

// shimPids returns the containerd shims serving the daemon on socket:
// processes named containerd-shim* with "-address <socket>" on their
// command line. cAdvisor's command line names the socket too, hence the
// name check.
func shimPids(procRoot, socket string) ([]int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "comm"))
		if err != nil || !bytes.HasPrefix(comm, []byte("containerd-shim")) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cmdline"))
		if err != nil {
			continue // exited meanwhile
		}
		if hasArgPair(cmdline, "-address", socket) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// hasArgPair reports whether a NUL-separated command line has flag followed
// by value, as "-address /run/x.sock" or "-address=/run/x.sock" (either one
// or two leading dashes).
func hasArgPair(cmdline []byte, flag, value string) bool {
	flag = strings.TrimLeft(flag, "-")
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	for i, a := range args {
		name, val, hasVal := bytes.Cut(bytes.TrimLeft(a, "-"), []byte("="))
		if len(a) == 0 || a[0] != '-' || string(name) != flag {
			continue
		}
		if hasVal {
			if string(val) == value {
				return true
			}
		} else if i+1 < len(args) && string(args[i+1]) == value {
			return true
		}
	}
	return false
}

// cpuSecondsSum sums procCPUSeconds over pids; processes that exited are
// skipped and counted in gone.
func cpuSecondsSum(procRoot string, pids []int) (sum float64, gone int) {
	for _, pid := range pids {
		s, err := procCPUSeconds(procRoot, pid)
		if err != nil {
			gone++
			continue
		}
		sum += s
	}
	return sum, gone
}
