package cgroups

import (
	"bytes"
	"math"

	"github.com/fleetscope/fleetscope/collectors/internal/kernfile"
	"github.com/fleetscope/fleetscope/resources"
)

// The parsers below run for every container on every tick, so they work on
// the raw bytes of a file, allocate nothing when the input is well formed and
// only build an error value when it is not.

// ErrMalformed is wrapped by every error about unexpected file content, so a
// caller can tell bad data from a vanished cgroup or a permission problem.
// It is the kernel-file layer's sentinel, which the keyed-file scanner
// wraps as well.
var ErrMalformed = kernfile.ErrMalformed

// parseSingle parses a file holding one unsigned number, such as
// cpuacct.usage, memory.current or pids.current.
func parseSingle(b []byte) (uint64, error) {
	v := kernfile.TrimRight(b)
	n, err := kernfile.ParseUint(v)
	if err != nil {
		return 0, kernfile.Malformed("want one unsigned number, got %q", kernfile.Clip(v))
	}
	return n, nil
}

// parseMax parses a file holding a number or "max" (pids.max, memory.max).
// Unlimited is reported as 0.
func parseMax(b []byte) (uint64, error) {
	v := kernfile.TrimRight(b)
	if string(v) == "max" {
		return 0, nil
	}
	n, err := kernfile.ParseUint(v)
	if err != nil {
		return 0, kernfile.Malformed("want a number or \"max\", got %q", kernfile.Clip(v))
	}
	return n, nil
}

// parseV1Limit parses memory.limit_in_bytes and similar v1 limits. Unlimited
// ("-1", "max" or a value of at least resources.UnlimitedMemory, where the
// kernel reports an unset limit as PAGE_COUNTER_MAX pages) is reported as 0.
func parseV1Limit(b []byte) (uint64, error) {
	v := kernfile.TrimRight(b)
	switch string(v) {
	case "max", "-1":
		return 0, nil
	}
	n, err := kernfile.ParseUint(v)
	if err != nil {
		return 0, kernfile.Malformed("want a limit, got %q", kernfile.Clip(v))
	}
	return resources.MemoryLimit(n), nil
}

// parseQuota parses cpu.cfs_quota_us: microseconds, or -1 for unlimited.
func parseQuota(b []byte) (int64, error) {
	v := kernfile.TrimRight(b)
	n, err := kernfile.ParseInt(v)
	if err != nil || n < -1 {
		return 0, kernfile.Malformed("want a quota or -1, got %q", kernfile.Clip(v))
	}
	return n, nil
}

// parseCPUMax parses the v2 cpu.max file: "$QUOTA $PERIOD" where QUOTA may
// be "max". Unlimited quota is reported as -1.
func parseCPUMax(b []byte) (quota int64, period uint64, err error) {
	v := kernfile.TrimRight(b)
	i := bytes.IndexByte(v, ' ')
	if i < 0 {
		return 0, 0, kernfile.Malformed("want \"$QUOTA $PERIOD\", got %q", kernfile.Clip(v))
	}
	q, p := v[:i], v[i+1:]
	period, err = kernfile.ParseUint(p)
	if err != nil {
		return 0, 0, kernfile.Malformed("bad period %q", kernfile.Clip(p))
	}
	if string(q) == "max" {
		return -1, period, nil
	}
	n, err := kernfile.ParseUint(q)
	if err != nil || n > math.MaxInt64 {
		return 0, 0, kernfile.Malformed("bad quota %q", kernfile.Clip(q))
	}
	return int64(n), period, nil
}

// parseWeight parses cpu.weight, which the kernel bounds to [1, 10000].
func parseWeight(b []byte) (uint64, error) {
	v := kernfile.TrimRight(b)
	n, err := kernfile.ParseUint(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, kernfile.Malformed("want a weight in [1, 10000], got %q", kernfile.Clip(v))
	}
	return n, nil
}

// micros converts a microsecond value to nanoseconds, recording an error on
// overflow.
func micros(k *kernfile.Keyed, key, val []byte) uint64 {
	n := k.Uint(key, val)
	if n > math.MaxUint64/1000 {
		k.Fail(kernfile.Malformed("value of %q overflows when converted to nanoseconds", key))
		return 0
	}
	return n * 1000
}

// cpuStat is the content of cpu.stat (v1 or v2) and cpuacct.stat, in
// nanoseconds.
type cpuStat struct {
	Usage, User, System               uint64
	Periods, Throttled, ThrottledTime uint64
	HasUsage, HasMode, HasThrottling  bool
}

// Bits recording which keys a parser has seen.
const (
	seen0 = 1 << iota
	seen1
	seen2
	seen3
	seen4
	seen5
)

// parseCPUStatV1 parses the v1 cpu controller's cpu.stat, which holds only
// throttling counters (throttled_time is in nanoseconds).
func parseCPUStatV1(b []byte) (cpuStat, error) {
	var st cpuStat
	var seen uint
	k := kernfile.NewKeyed(b)
	for key, val, ok := k.Next(); ok; key, val, ok = k.Next() {
		switch string(key) {
		case "nr_periods":
			st.Periods, seen = k.Uint(key, val), seen|seen0
		case "nr_throttled":
			st.Throttled, seen = k.Uint(key, val), seen|seen1
		case "throttled_time":
			st.ThrottledTime, seen = k.Uint(key, val), seen|seen2
		}
	}
	if err := k.Err(); err != nil {
		return cpuStat{}, err
	}
	if seen != seen0|seen1|seen2 {
		return cpuStat{}, kernfile.Malformed("missing nr_periods, nr_throttled or throttled_time")
	}
	st.HasThrottling = true
	return st, nil
}

// parseCPUStatV2 parses the v2 cpu.stat. usage_usec, user_usec and
// system_usec are always there; the throttling keys only when the cpu
// controller is enabled for the cgroup.
func parseCPUStatV2(b []byte) (cpuStat, error) {
	var st cpuStat
	var seen uint
	k := kernfile.NewKeyed(b)
	for key, val, ok := k.Next(); ok; key, val, ok = k.Next() {
		switch string(key) {
		case "usage_usec":
			st.Usage, seen = micros(&k, key, val), seen|seen0
		case "user_usec":
			st.User, seen = micros(&k, key, val), seen|seen1
		case "system_usec":
			st.System, seen = micros(&k, key, val), seen|seen2
		case "nr_periods":
			st.Periods, seen = k.Uint(key, val), seen|seen3
		case "nr_throttled":
			st.Throttled, seen = k.Uint(key, val), seen|seen4
		case "throttled_usec":
			st.ThrottledTime, seen = micros(&k, key, val), seen|seen5
		}
	}
	if err := k.Err(); err != nil {
		return cpuStat{}, err
	}
	if seen&(seen0|seen1|seen2) != seen0|seen1|seen2 {
		return cpuStat{}, kernfile.Malformed("missing usage_usec, user_usec or system_usec")
	}
	st.HasUsage, st.HasMode = true, true
	switch seen & (seen3 | seen4 | seen5) {
	case 0:
	case seen3 | seen4 | seen5:
		st.HasThrottling = true
	default:
		return cpuStat{}, kernfile.Malformed("incomplete throttling counters (nr_periods, nr_throttled, throttled_usec)")
	}
	return st, nil
}

// userHZ is the unit of cpuacct.stat: clock ticks of USER_HZ, which the
// kernel fixes at 100 per second for every architecture's user ABI.
const userHZ = 100

// parseCPUAcctStat parses cpuacct.stat ("user N\nsystem N\n" in USER_HZ
// ticks), the fallback for kernels without cpuacct.usage_user/usage_sys.
func parseCPUAcctStat(b []byte) (cpuStat, error) {
	const nsPerTick = 1_000_000_000 / userHZ
	var st cpuStat
	var seen uint
	k := kernfile.NewKeyed(b)
	for key, val, ok := k.Next(); ok; key, val, ok = k.Next() {
		switch string(key) {
		case "user":
			st.User, seen = k.Uint(key, val), seen|seen0
		case "system":
			st.System, seen = k.Uint(key, val), seen|seen1
		}
	}
	if err := k.Err(); err != nil {
		return cpuStat{}, err
	}
	if seen != seen0|seen1 {
		return cpuStat{}, kernfile.Malformed("missing user or system")
	}
	if st.User > math.MaxUint64/nsPerTick || st.System > math.MaxUint64/nsPerTick {
		return cpuStat{}, kernfile.Malformed("tick count overflows when converted to nanoseconds")
	}
	st.User *= nsPerTick
	st.System *= nsPerTick
	st.HasMode = true
	return st, nil
}

// memStat holds the memory.stat values Stats needs, in bytes.
type memStat struct {
	RSS, Cache, InactiveFile, Swap uint64
	HasSwap                        bool
}

// parseMemoryStatV1 parses a v1 memory.stat using the hierarchical total_*
// keys, which include the cgroup's descendants as the usage file does.
// total_swap is only present when swap accounting is enabled.
func parseMemoryStatV1(b []byte) (memStat, error) {
	var st memStat
	var seen uint
	k := kernfile.NewKeyed(b)
	for key, val, ok := k.Next(); ok; key, val, ok = k.Next() {
		switch string(key) {
		case "total_rss":
			st.RSS, seen = k.Uint(key, val), seen|seen0
		case "total_cache":
			st.Cache, seen = k.Uint(key, val), seen|seen1
		case "total_inactive_file":
			st.InactiveFile, seen = k.Uint(key, val), seen|seen2
		case "total_swap":
			st.Swap, st.HasSwap = k.Uint(key, val), true
		}
	}
	if err := k.Err(); err != nil {
		return memStat{}, err
	}
	if seen != seen0|seen1|seen2 {
		return memStat{}, kernfile.Malformed("missing total_rss, total_cache or total_inactive_file")
	}
	return st, nil
}

// parseMemoryStatV2 parses a v2 memory.stat: anon is reported as RSS and file
// as cache. v2 keeps swap in memory.swap.current, not here.
func parseMemoryStatV2(b []byte) (memStat, error) {
	var st memStat
	var seen uint
	k := kernfile.NewKeyed(b)
	for key, val, ok := k.Next(); ok; key, val, ok = k.Next() {
		switch string(key) {
		case "anon":
			st.RSS, seen = k.Uint(key, val), seen|seen0
		case "file":
			st.Cache, seen = k.Uint(key, val), seen|seen1
		case "inactive_file":
			st.InactiveFile, seen = k.Uint(key, val), seen|seen2
		}
	}
	if err := k.Err(); err != nil {
		return memStat{}, err
	}
	if seen != seen0|seen1|seen2 {
		return memStat{}, kernfile.Malformed("missing anon, file or inactive_file")
	}
	return st, nil
}

// ioStat holds block I/O totals summed over devices. Sums wrap like the
// kernel's own counters would rather than fail.
type ioStat struct {
	ReadBytes, WriteBytes, ReadOps, WriteOps uint64
}

// parseBlkio parses a v1 blkio.throttle.io_service_bytes(_recursive) or
// io_serviced(_recursive) file and returns the Read and Write sums over all
// devices. Lines look like "8:0 Read 4096"; the per-device Sync, Async,
// Discard and Total lines and the final "Total N" line are skipped.
func parseBlkio(b []byte) (read, write uint64, err error) {
	if err := kernfile.Complete(b); err != nil {
		return 0, 0, err
	}
	for len(b) > 0 {
		var line []byte
		line, b = kernfile.NextLine(b)
		if len(line) == 0 {
			continue
		}
		i := bytes.IndexByte(line, ' ')
		if i <= 0 {
			return 0, 0, kernfile.Malformed("line %q is not \"maj:min op value\"", kernfile.Clip(line))
		}
		dev, rest := line[:i], line[i+1:]
		if string(dev) == "Total" {
			if _, err := kernfile.ParseUint(rest); err != nil {
				return 0, 0, kernfile.Malformed("line %q has a bad total", kernfile.Clip(line))
			}
			continue
		}
		j := bytes.IndexByte(rest, ' ')
		if j <= 0 || bytes.IndexByte(dev, ':') <= 0 {
			return 0, 0, kernfile.Malformed("line %q is not \"maj:min op value\"", kernfile.Clip(line))
		}
		op, val := rest[:j], rest[j+1:]
		n, err := kernfile.ParseUint(val)
		if err != nil {
			return 0, 0, kernfile.Malformed("line %q has a bad value", kernfile.Clip(line))
		}
		switch string(op) {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write, nil
}

// parseIOStat parses the v2 io.stat: one line per device,
// "maj:min rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N", possibly with
// more keys from I/O controllers (all numeric), summed over devices.
func parseIOStat(b []byte) (ioStat, error) {
	var st ioStat
	if err := kernfile.Complete(b); err != nil {
		return ioStat{}, err
	}
	for len(b) > 0 {
		var line []byte
		line, b = kernfile.NextLine(b)
		if len(line) == 0 {
			continue
		}
		i := bytes.IndexByte(line, ' ')
		if i <= 0 || bytes.IndexByte(line[:i], ':') <= 0 {
			return ioStat{}, kernfile.Malformed("line %q does not start with a device", kernfile.Clip(line))
		}
		rest := line[i+1:]
		for len(rest) > 0 {
			var tok []byte
			if j := bytes.IndexByte(rest, ' '); j >= 0 {
				tok, rest = rest[:j], rest[j+1:]
			} else {
				tok, rest = rest, nil
			}
			if len(tok) == 0 {
				continue // tolerate doubled or trailing blanks
			}
			eq := bytes.IndexByte(tok, '=')
			if eq <= 0 {
				return ioStat{}, kernfile.Malformed("token %q in line %q is not key=value", kernfile.Clip(tok), kernfile.Clip(line))
			}
			key, val := tok[:eq], tok[eq+1:]
			var dst *uint64
			switch string(key) {
			case "rbytes":
				dst = &st.ReadBytes
			case "wbytes":
				dst = &st.WriteBytes
			case "rios":
				dst = &st.ReadOps
			case "wios":
				dst = &st.WriteOps
			default:
				continue
			}
			n, err := kernfile.ParseUint(val)
			if err != nil {
				return ioStat{}, kernfile.Malformed("value of %q in line %q is not an unsigned number", key, kernfile.Clip(line))
			}
			*dst += n
		}
	}
	return st, nil
}

// parseOOMKill returns the oom_kill counter of v2 memory.events or v1
// memory.oom_control, both flat-keyed. ok is false, with no error, where
// the file has no such line (v1 before Linux 4.13).
func parseOOMKill(b []byte) (n uint64, ok bool, err error) {
	k := kernfile.NewKeyed(b)
	for key, val, more := k.Next(); more; key, val, more = k.Next() {
		if string(key) == "oom_kill" {
			n, ok = k.Uint(key, val), true
		}
	}
	if err := k.Err(); err != nil {
		return 0, false, err
	}
	return n, ok, nil
}
