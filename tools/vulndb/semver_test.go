package main

import "testing"

func TestParseVersion(t *testing.T) {
	for _, s := range []string{
		"0.0.0", "1.2.3", "10.20.30", "1.0.0-0", "1.0.0-alpha.1", "1.0.0-x-y.7",
		"0.0.0-20240101000000-abcdefabcdef", "2.0.0+incompatible", "1.0.0-rc.1+build.5",
		"99999999999999999999.0.0",
	} {
		if _, ok := parseVersion(s); !ok {
			t.Errorf("parseVersion(%q) rejected a valid version", s)
		}
	}
	for _, s := range []string{
		"", "0", "1", "1.2", "v1.2.3", "go1.21.0", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03",
		"1.2.3-", "1.2.3-01", "1.2.3-a..b", "1.2.3+", "1.2.3+a_b", "1.2.3-a b", "-1.2.3", "1.2.x",
	} {
		if _, ok := parseVersion(s); ok {
			t.Errorf("parseVersion(%q) accepted an invalid version", s)
		}
	}
}

func TestCompare(t *testing.T) {
	// Ascending, in the precedence semver.org defines.
	ordered := []string{
		"0.0.0-20230101000000-aaaaaaaaaaaa",
		"0.0.0-20240101000000-000000000000",
		"0.0.0",
		"0.3.7",
		"0.10.0",
		"1.0.0-0",
		"1.0.0-alpha",
		"1.0.0-alpha.1",
		"1.0.0-alpha.beta",
		"1.0.0-beta",
		"1.0.0-beta.2",
		"1.0.0-beta.11",
		"1.0.0-rc.1",
		"1.0.0",
		"1.9.0",
		"1.10.0",
		"2.0.0",
		"99999999999999999999.0.0",
	}
	for i, a := range ordered {
		for j, b := range ordered {
			va, _ := parseVersion(a)
			vb, _ := parseVersion(b)
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := compare(va, vb); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	a, _ := parseVersion("2.0.0+incompatible")
	b, _ := parseVersion("2.0.0")
	if compare(a, b) != 0 {
		t.Error("build metadata changed precedence")
	}
}
