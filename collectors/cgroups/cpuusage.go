package cgroups

import "fmt"

// ReadCPUUsage reads the cgroup's total CPU time alone, in nanoseconds:
// one file (v1 cpuacct.usage, v2 cpu.stat), for readings between full
// samples. It allocates nothing once the Host's buffer has grown; an error
// wrapping fs.ErrNotExist means the cgroup is gone.
func (hd *Handle) ReadCPUUsage() (uint64, error) {
	hd.host.mu.Lock()
	defer hd.host.mu.Unlock()
	if hd.closed {
		return 0, errClosed
	}
	for i := range hd.files {
		f := &hd.files[i]
		if f.kind != kCPUAcctUsage && f.kind != kCPUStatV2 {
			continue
		}
		b, err := load(f, &hd.host.buf)
		if err != nil {
			return 0, err
		}
		var n uint64
		if f.kind == kCPUAcctUsage {
			n, err = parseSingle(b)
		} else {
			var st cpuStat
			st, err = parseCPUStatV2(b)
			n = st.Usage
		}
		if err != nil {
			return 0, fmt.Errorf("cgroups: %s: %w", f.Name(), err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("cgroups: %s: no CPU usage file", hd.desc)
}
