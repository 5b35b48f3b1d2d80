package cgroups

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fleetscope/fleetscope/resources"
)

func FuzzLimits(f *testing.F) {
	for _, s := range []string{"max 100000\n", "50000 100000\n", "max\n", "-1\n", "9223372036854771712\n", "100\n", "0\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		if q, p, err := parseCPUMax(b); err == nil && (q < -1 || (q == -1) != strings.HasPrefix(s, "max ")) {
			t.Fatalf("parseCPUMax(%q) = %d, %d", s, q, p)
		}
		if n, err := parseV1Limit(b); err == nil && n >= resources.UnlimitedMemory {
			t.Fatalf("parseV1Limit(%q) = %d, not reported as unlimited", s, n)
		}
		if n, err := parseQuota(b); err == nil && n < -1 {
			t.Fatalf("parseQuota(%q) = %d", s, n)
		}
		if w, err := parseWeight(b); err == nil {
			if w < 1 || w > 10000 {
				t.Fatalf("parseWeight(%q) = %d, outside [1, 10000]", s, w)
			}
		}
		_, _ = parseMax(b)
		_, _ = parseSingle(b)
	})
}

func FuzzParseProcCgroup(f *testing.F) {
	for _, s := range []string{
		"0::/\n",
		"12:pids:/k8s.io/abc\n11:cpu,cpuacct:/k8s.io/abc\n1:name=systemd:/k8s.io/abc\n0::/k8s.io/abc\n",
		"0::/../x\n",
		"0::/a (deleted)\n",
		"1:cpu:/a//b\n",
		"x:y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProcCgroup(data)
		if err != nil {
			if p.Unified != "" || p.Controllers != nil {
				t.Fatalf("error %v with non-empty result %+v", err, p)
			}
			return
		}
		if p.Unified == "" && len(p.Controllers) == 0 {
			t.Fatalf("success without any path for %q", data)
		}
		if p.Unified != "" {
			if err := checkPath(p.Unified); err != nil {
				t.Fatalf("unified path: %v", err)
			}
		}
		for c, cp := range p.Controllers {
			if c == "" || strings.ContainsAny(c, ",:") || strings.HasPrefix(c, "name=") {
				t.Fatalf("bad controller name %q", c)
			}
			if err := checkPath(cp); err != nil {
				t.Fatalf("controller %s: %v", c, err)
			}
		}
	})
}

func FuzzPathsFromSpec(f *testing.F) {
	for _, s := range []string{
		"/k8s.io/abc",
		"kubepods-burstable-pod1.slice:cri-containerd:abc",
		"-.slice:p:x",
		":p:x",
		"a-b.slice:p:c.slice",
		"/../x",
		"a--b.slice:p:x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := PathsFromSpec(s)
		if err != nil {
			return
		}
		if err := checkPath(p.Unified); err != nil {
			t.Fatalf("PathsFromSpec(%q) = %q: %v", s, p.Unified, err)
		}
		if strings.HasPrefix(s, "/") && p.Unified != s {
			t.Fatalf("absolute %q became %q", s, p.Unified)
		}
		if !strings.HasPrefix(s, "/") && !strings.HasSuffix(p.Unified, ".scope") && !strings.HasSuffix(p.Unified, ".slice") {
			t.Fatalf("systemd path %q gave %q, not a unit", s, p.Unified)
		}
		for c, cp := range p.Controllers {
			if cp != p.Unified {
				t.Fatalf("controller %s has %q, unified %q", c, cp, p.Unified)
			}
		}
	})
}

func FuzzCPUStat(f *testing.F) {
	for _, s := range []string{
		"usage_usec 2500000\nuser_usec 1500000\nsystem_usec 1000000\nnr_periods 40\nnr_throttled 4\nthrottled_usec 120000\n",
		"usage_usec 7\nuser_usec 4\nsystem_usec 3\n",
		"nr_periods 500\nnr_throttled 20\nthrottled_time 3000000000\nnr_bursts 0\nburst_time 0\n",
		"user 250\nsystem 125\n",
		"usage_usec 18446744073709551615\nuser_usec 1\nsystem_usec 1\n",
		"user 1\nsystem",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := string(data)
		if st, err := parseCPUStatV2(data); err == nil {
			ref, ok := refKeyed(s, "usage_usec", "user_usec", "system_usec", "nr_periods", "nr_throttled", "throttled_usec")
			if !ok {
				t.Fatalf("parseCPUStatV2 accepted %q, the reference did not", s)
			}
			if st.Usage != ref["usage_usec"]*1000 || st.User != ref["user_usec"]*1000 || st.System != ref["system_usec"]*1000 {
				t.Fatalf("parseCPUStatV2(%q) = %+v, reference %v", s, st, ref)
			}
			if _, has := ref["nr_periods"]; has != st.HasThrottling {
				t.Fatalf("parseCPUStatV2(%q): HasThrottling %v", s, st.HasThrottling)
			}
			if st.HasThrottling && (st.Periods != ref["nr_periods"] || st.Throttled != ref["nr_throttled"] || st.ThrottledTime != ref["throttled_usec"]*1000) {
				t.Fatalf("parseCPUStatV2(%q) = %+v, reference %v", s, st, ref)
			}
		} else if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		} else if ref, ok := refKeyed(s, "usage_usec", "user_usec", "system_usec", "nr_periods", "nr_throttled", "throttled_usec"); ok && len(ref) == 6 && ref["usage_usec"] <= math.MaxUint64/1000 &&
			ref["user_usec"] <= math.MaxUint64/1000 && ref["system_usec"] <= math.MaxUint64/1000 && ref["throttled_usec"] <= math.MaxUint64/1000 {
			t.Fatalf("parseCPUStatV2 rejected %q, which the reference accepts: %v", s, err)
		}

		if st, err := parseCPUStatV1(data); err == nil {
			ref, ok := refKeyed(s, "nr_periods", "nr_throttled", "throttled_time")
			if !ok || len(ref) != 3 || st.Periods != ref["nr_periods"] || st.Throttled != ref["nr_throttled"] || st.ThrottledTime != ref["throttled_time"] {
				t.Fatalf("parseCPUStatV1(%q) = %+v, reference %v, %v", s, st, ref, ok)
			}
		} else if ref, ok := refKeyed(s, "nr_periods", "nr_throttled", "throttled_time"); ok && len(ref) == 3 {
			t.Fatalf("parseCPUStatV1 rejected %q, which the reference accepts: %v", s, err)
		}

		if st, err := parseCPUAcctStat(data); err == nil {
			ref, ok := refKeyed(s, "user", "system")
			if !ok || st.User != ref["user"]*1e7 || st.System != ref["system"]*1e7 {
				t.Fatalf("parseCPUAcctStat(%q) = %+v, reference %v, %v", s, st, ref, ok)
			}
		}
	})
}

func FuzzMemoryStat(f *testing.F) {
	for _, s := range []string{
		"cache 2\nrss 1\ntotal_cache 94371840\ntotal_rss 104857600\ntotal_swap 1048576\ntotal_inactive_file 62914560\n",
		"anon 31457280\nfile 15728640\nkernel 1048576\ninactive_file 10485760\n",
		"total_cache 20\ntotal_rss 10\ntotal_inactive_fi",
		"anon 1\nfile\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := string(data)
		v1keys := []string{"total_rss", "total_cache", "total_inactive_file", "total_swap"}
		st, err := parseMemoryStatV1(data)
		ref, ok := refKeyed(s, v1keys...)
		_, hasSwap := ref["total_swap"]
		refOK := ok && len(ref)-btoi(hasSwap) == 3
		if (err == nil) != refOK {
			t.Fatalf("parseMemoryStatV1(%q) error %v, reference ok=%v", s, err, refOK)
		}
		if err == nil && (st.RSS != ref["total_rss"] || st.Cache != ref["total_cache"] || st.InactiveFile != ref["total_inactive_file"] ||
			st.HasSwap != hasSwap || st.Swap != ref["total_swap"]) {
			t.Fatalf("parseMemoryStatV1(%q) = %+v, reference %v", s, st, ref)
		}

		st, err = parseMemoryStatV2(data)
		ref, ok = refKeyed(s, "anon", "file", "inactive_file")
		if refOK := ok && len(ref) == 3; (err == nil) != refOK {
			t.Fatalf("parseMemoryStatV2(%q) error %v, reference ok=%v", s, err, refOK)
		}
		if err == nil && (st.RSS != ref["anon"] || st.Cache != ref["file"] || st.InactiveFile != ref["inactive_file"] || st.HasSwap) {
			t.Fatalf("parseMemoryStatV2(%q) = %+v, reference %v", s, st, ref)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func FuzzBlkio(f *testing.F) {
	for _, s := range []string{
		"8:0 Read 4096000\n8:0 Write 1024000\n8:0 Sync 5000000\n8:0 Async 120000\n8:0 Discard 0\n8:0 Total 5120000\nTotal 5120000\n",
		"Total 0\n",
		"",
		"8:0 Read\n",
		"8:0 Read 1",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, w, err := parseBlkio(data)
		rr, rw, ok := refBlkio(string(data))
		if (err == nil) != ok || r != rr || w != rw {
			t.Fatalf("parseBlkio(%q) = %d, %d, %v; reference %d, %d, %v", data, r, w, err, rr, rw, ok)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
	})
}

func FuzzIOStat(f *testing.F) {
	for _, s := range []string{
		"8:0 rbytes=1048576 wbytes=2097152 rios=256 wios=512 dbytes=0 dios=0\n259:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
		"8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6 cost.vrate=100.00\n",
		"",
		"8:0 rbytes=1",
		"8:0 rbytes\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseIOStat(data)
		ref, ok := refIOStat(string(data))
		if (err == nil) != ok || (ok && st != ref) {
			t.Fatalf("parseIOStat(%q) = %+v, %v; reference %+v, %v", data, st, err, ref, ok)
		}
	})
}

func FuzzOOMKill(f *testing.F) {
	for _, s := range []string{
		"low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n",
		"oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
		"oom_kill_disable 0\nunder_oom 0\n",
		"oom_kill 18446744073709551616\n",
		"oom_kill 1",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := string(data)
		n, ok, err := parseOOMKill(data)
		ref, refOK := refKeyed(s, "oom_kill")
		if (err == nil) != refOK {
			t.Fatalf("parseOOMKill(%q) error %v, reference ok=%v", s, err, refOK)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		if want, has := ref["oom_kill"]; err == nil && (ok != has || n != want) {
			t.Fatalf("parseOOMKill(%q) = %d, %v; reference %v", s, n, ok, ref)
		}
	})
}
