package cgroups

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseSingleAndLimits(t *testing.T) {
	tests := []struct {
		name  string
		parse func([]byte) (int64, error)
		in    string
		want  int64 // -2: error expected
	}{
		{"single", u64(parseSingle), "123\n", 123},
		{"single no newline", u64(parseSingle), "123", 123},
		{"single empty", u64(parseSingle), "", -2},
		{"single blank", u64(parseSingle), "\n", -2},
		{"single garbage", u64(parseSingle), "abc\n", -2},
		{"single two", u64(parseSingle), "1 2\n", -2},
		{"max", u64(parseMax), "max\n", 0},
		{"max number", u64(parseMax), "4096\n", 4096},
		{"max garbage", u64(parseMax), "maximum\n", -2},
		{"v1 limit unset", u64(parseV1Limit), "9223372036854771712\n", 0},
		{"v1 limit 2^62", u64(parseV1Limit), "4611686018427387904\n", 0},
		{"v1 limit just below 2^62", u64(parseV1Limit), "4611686018427387903\n", 4611686018427387903},
		{"v1 limit", u64(parseV1Limit), "268435456\n", 268435456},
		{"v1 limit -1", u64(parseV1Limit), "-1\n", 0},
		{"v1 limit -2", u64(parseV1Limit), "-2\n", -2},
		{"quota", parseQuota, "50000\n", 50000},
		{"quota unlimited", parseQuota, "-1\n", -1},
		{"quota -2", parseQuota, "-2\n", -2},
		{"quota garbage", parseQuota, "max\n", -2},
		{"weight", u64(parseWeight), "100\n", 100},
		{"weight 0", u64(parseWeight), "0\n", -2},
		{"weight 10001", u64(parseWeight), "10001\n", -2},
	}
	for _, tt := range tests {
		got, err := tt.parse([]byte(tt.in))
		if tt.want == -2 {
			if err == nil || !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: parse(%q) = %d, %v; want ErrMalformed", tt.name, tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: parse(%q) = %d, %v; want %d", tt.name, tt.in, got, err, tt.want)
		}
	}
}

func u64(f func([]byte) (uint64, error)) func([]byte) (int64, error) {
	return func(b []byte) (int64, error) {
		n, err := f(b)
		return int64(n), err
	}
}

func TestParseCPUMax(t *testing.T) {
	tests := []struct {
		in     string
		quota  int64
		period uint64
		ok     bool
	}{
		{"max 100000\n", -1, 100000, true},
		{"50000 100000\n", 50000, 100000, true},
		{"max\n", 0, 0, false},
		{"50000\n", 0, 0, false},
		{"max max\n", 0, 0, false},
		{"-1 100000\n", 0, 0, false},
		{"9223372036854775808 100000\n", 0, 0, false},
	}
	for _, tt := range tests {
		q, p, err := parseCPUMax([]byte(tt.in))
		if (err == nil) != tt.ok || q != tt.quota || p != tt.period {
			t.Errorf("parseCPUMax(%q) = %d, %d, %v; want %d, %d, ok=%v", tt.in, q, p, err, tt.quota, tt.period, tt.ok)
		}
	}
}

func TestParseKeyedFiles(t *testing.T) {
	t.Run("cpu.stat v2", func(t *testing.T) {
		st, err := parseCPUStatV2([]byte("usage_usec 3\nuser_usec 2\nsystem_usec 1\nnr_periods 5\nnr_throttled 4\nthrottled_usec 7\n"))
		want := cpuStat{Usage: 3000, User: 2000, System: 1000, Periods: 5, Throttled: 4, ThrottledTime: 7000,
			HasUsage: true, HasMode: true, HasThrottling: true}
		if err != nil || st != want {
			t.Errorf("got %+v, %v; want %+v", st, err, want)
		}
		for _, bad := range []string{
			"usage_usec 3\nuser_usec 2\nsystem_usec 1\nnr_periods 5\n",   // partial throttling
			"usage_usec 3\nuser_usec 2\n",                                // no system_usec
			"usage_usec 18446744073709552\nuser_usec 2\nsystem_usec 1\n", // overflows in ns
			"usage_usec 3\nuser_usec 2\nsystem_usec 1",                   // truncated
			"usage_usec\nuser_usec 2\nsystem_usec 1\n",                   // no value
			"usage_usec 3\n\nuser_usec 2\nsystem_usec 1\n",               // empty line
			"usage_usec \nuser_usec 2\nsystem_usec 1\n",                  // empty value
			"usage_usec x\nuser_usec 2\nsystem_usec 1\n",
		} {
			if st, err := parseCPUStatV2([]byte(bad)); !errors.Is(err, ErrMalformed) {
				t.Errorf("parseCPUStatV2(%q) = %+v, %v; want ErrMalformed", bad, st, err)
			}
		}
	})
	t.Run("cpuacct.stat", func(t *testing.T) {
		st, err := parseCPUAcctStat([]byte("user 3\nsystem 1\n"))
		if err != nil || st.User != 30_000_000 || st.System != 10_000_000 || !st.HasMode {
			t.Errorf("got %+v, %v", st, err)
		}
		if _, err := parseCPUAcctStat([]byte("user 3\n")); !errors.Is(err, ErrMalformed) {
			t.Errorf("missing system: %v", err)
		}
	})
	t.Run("memory.stat v1 truncated line", func(t *testing.T) {
		for _, bad := range []string{
			"total_rss 1\ntotal_cache 2\ntotal_inactive_fi",
			"total_rss 1\ntotal_cache 2\ntotal_inactive_file\n",
			"total_rss 1\ntotal_cache 2\n",
		} {
			if _, err := parseMemoryStatV1([]byte(bad)); !errors.Is(err, ErrMalformed) {
				t.Errorf("parseMemoryStatV1(%q) = %v, want ErrMalformed", bad, err)
			}
		}
	})
}

func TestParseBlkio(t *testing.T) {
	tests := []struct {
		in          string
		read, write uint64
		ok          bool
	}{
		{"", 0, 0, true},
		{"Total 0\n", 0, 0, true},
		{"8:0 Read 10\n8:0 Write 5\n8:0 Sync 15\n8:0 Async 0\n8:0 Discard 0\n8:0 Total 15\n8:16 Read 1\n8:16 Write 2\nTotal 18\n", 11, 7, true},
		{"8:0 Read 10\n8:0 Write 5", 0, 0, false},
		{"8:0 Read\n", 0, 0, false},
		{"8:0 Read x\n", 0, 0, false},
		{"Read 1 2\n", 0, 0, false},
		{"Total x\n", 0, 0, false},
	}
	for _, tt := range tests {
		r, w, err := parseBlkio([]byte(tt.in))
		if (err == nil) != tt.ok || r != tt.read || w != tt.write {
			t.Errorf("parseBlkio(%q) = %d, %d, %v; want %d, %d, ok=%v", tt.in, r, w, err, tt.read, tt.write, tt.ok)
		}
	}
}

func TestParseIOStat(t *testing.T) {
	tests := []struct {
		in   string
		want ioStat
		ok   bool
	}{
		{"", ioStat{}, true},
		{"8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\n8:16 rbytes=10 wbytes=20 rios=30 wios=40 dbytes=0 dios=0\n", ioStat{11, 22, 33, 44}, true},
		{"8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6 cost.vrate=100.00\n", ioStat{1, 2, 3, 4}, true},
		{"8:0\n", ioStat{}, false},
		{"8:0 rbytes=1", ioStat{}, false},
		{"8:0 rbytes\n", ioStat{}, false},
		{"8:0 rbytes=-1\n", ioStat{}, false},
		{"rbytes=1\n", ioStat{}, false},
	}
	for _, tt := range tests {
		got, err := parseIOStat([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseIOStat(%q) = %+v, %v; want %+v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// Reference parsers for the fuzz tests, written the slow obvious way with
// the strings package; the fast parsers must agree with them.

// refKeyed parses a flat-keyed file into the values of the keys in want.
func refKeyed(data string, want ...string) (map[string]uint64, bool) {
	out := map[string]uint64{}
	if data == "" {
		return out, true
	}
	if !strings.HasSuffix(data, "\n") {
		return nil, false
	}
	for line := range strings.SplitSeq(strings.TrimSuffix(data, "\n"), "\n") {
		key, val, ok := strings.Cut(line, " ")
		if !ok || key == "" || val == "" {
			return nil, false
		}
		for _, w := range want {
			if key == w {
				n, err := strconv.ParseUint(val, 10, 64)
				if err != nil {
					return nil, false
				}
				out[key] = n
			}
		}
	}
	return out, true
}

func refBlkio(data string) (read, write uint64, ok bool) {
	if data != "" && !strings.HasSuffix(data, "\n") {
		return 0, 0, false
	}
	for line := range strings.SplitSeq(data, "\n") {
		if line == "" {
			continue
		}
		dev, rest, ok := strings.Cut(line, " ")
		if !ok || dev == "" {
			return 0, 0, false
		}
		if dev == "Total" {
			if _, err := strconv.ParseUint(rest, 10, 64); err != nil {
				return 0, 0, false
			}
			continue
		}
		op, val, ok := strings.Cut(rest, " ")
		if !ok || op == "" || strings.Index(dev, ":") <= 0 {
			return 0, 0, false
		}
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		switch op {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write, true
}

func refIOStat(data string) (ioStat, bool) {
	var st ioStat
	if data != "" && !strings.HasSuffix(data, "\n") {
		return st, false
	}
	for line := range strings.SplitSeq(data, "\n") {
		if line == "" {
			continue
		}
		dev, rest, ok := strings.Cut(line, " ")
		if !ok || strings.Index(dev, ":") <= 0 {
			return st, false
		}
		for tok := range strings.SplitSeq(rest, " ") {
			if tok == "" {
				continue
			}
			key, val, ok := strings.Cut(tok, "=")
			if !ok || key == "" {
				return st, false
			}
			var dst *uint64
			switch key {
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
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return st, false
			}
			*dst += n
		}
	}
	return st, true
}

func TestParseOOMKill(t *testing.T) {
	tests := []struct {
		name, in string
		want     uint64
		ok       bool // the counter is there
		bad      bool // ErrMalformed
	}{
		{"v2", "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 1\n", 2, true, false},
		{"v2 before oom_group_kill", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n", 0, true, false},
		{"v1", "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n", 7, true, false},
		{"v1 before 4.13", "oom_kill_disable 1\nunder_oom 0\n", 0, false, false},
		{"empty", "", 0, false, false},
		{"largest", "oom_kill 18446744073709551615\n", 1<<64 - 1, true, false},
		{"overflows", "oom 1\noom_kill 18446744073709551616\n", 0, false, true},
		{"negative", "oom_kill -1\n", 0, false, true},
		{"not a number", "oom_kill many\n", 0, false, true},
		{"no value", "oom_kill\n", 0, false, true},
		{"truncated", "oom 1\noom_kill 3", 0, false, true},
		{"garbage line", "oom_kill 3\n\x00\xff\n", 0, false, true},
		{"prefix only", "oom_kills 3\noom_kill_disable 0\n", 0, false, false},
	}
	for _, tt := range tests {
		n, ok, err := parseOOMKill([]byte(tt.in))
		if tt.bad {
			if !errors.Is(err, ErrMalformed) || ok || n != 0 {
				t.Errorf("%s: parseOOMKill(%q) = %d, %v, %v; want ErrMalformed", tt.name, tt.in, n, ok, err)
			}
			continue
		}
		if err != nil || n != tt.want || ok != tt.ok {
			t.Errorf("%s: parseOOMKill(%q) = %d, %v, %v; want %d, %v", tt.name, tt.in, n, ok, err, tt.want, tt.ok)
		}
	}
	b := []byte(tests[0].in)
	if a := testing.AllocsPerRun(100, func() { _, _, _ = parseOOMKill(b) }); a != 0 {
		t.Errorf("parseOOMKill allocates %v times", a)
	}
}
