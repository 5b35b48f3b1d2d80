package model

import (
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"eth0", "eth0"},
		{"", ""},
		{"veth\xff1", "veth\uFFFD1"},
		{"\xc3", "\uFFFD"},
		{"caf\xc3\xa9", "café"},
	} {
		got := Clean(tc.in)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("Clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = Clean("cri-containerd-abc.scope") }); n != 0 {
		t.Errorf("Clean of valid input allocates %v times", n)
	}
}
