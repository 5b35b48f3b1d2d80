package main

import (
	"cmp"
	"strings"
)

// version is a semantic version (semver.org 2.0.0) as OSV's SEMVER ranges
// write it for Go: no "v" prefix. Numeric parts stay decimal strings so
// that a huge number compares correctly without overflowing.
type version struct {
	major, minor, patch string
	pre                 []string // dot-separated pre-release identifiers
}

// parseVersion parses s, reporting whether it is a valid semantic version.
// Build metadata ("+incompatible") is accepted and ignored, as semver
// precedence ignores it.
func parseVersion(s string) (version, bool) {
	var v version
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if !validIdents(s[i+1:], false) {
			return version{}, false
		}
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		if !validIdents(s[i+1:], true) {
			return version{}, false
		}
		v.pre = strings.Split(s[i+1:], ".")
		s = s[:i]
	}
	var ok bool
	if v.major, s, ok = strings.Cut(s, "."); !ok {
		return version{}, false
	}
	if v.minor, v.patch, ok = strings.Cut(s, "."); !ok {
		return version{}, false
	}
	if !isNumber(v.major) || !isNumber(v.minor) || !isNumber(v.patch) {
		return version{}, false
	}
	return v, true
}

// validIdents checks dot-separated identifiers of [0-9A-Za-z-]; in a
// pre-release, numeric identifiers must not have leading zeros.
func validIdents(s string, pre bool) bool {
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		numeric := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				numeric = false
			default:
				return false
			}
		}
		if pre && numeric && !isNumber(id) {
			return false
		}
	}
	return true
}

// isNumber reports whether s is a decimal number without leading zeros.
func isNumber(s string) bool {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compare returns -1, 0 or +1 as a sorts before, equal to or after b in
// semver precedence: a release sorts after its own pre-releases.
func compare(a, b version) int {
	if c := compareNumbers(a.major, b.major); c != 0 {
		return c
	}
	if c := compareNumbers(a.minor, b.minor); c != 0 {
		return c
	}
	if c := compareNumbers(a.patch, b.patch); c != 0 {
		return c
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		if c := compareIdent(a.pre[i], b.pre[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.pre), len(b.pre))
}

// compareIdent orders pre-release identifiers: numeric ones numerically
// and before alphanumeric ones, which compare in ASCII order.
func compareIdent(a, b string) int {
	an, bn := isNumber(a), isNumber(b)
	switch {
	case an && bn:
		return compareNumbers(a, b)
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// compareNumbers compares decimal strings without leading zeros: the
// longer is larger, and equal lengths compare digit by digit.
func compareNumbers(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
