package netstat

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// requireLittleEndian skips tests whose net/tcp lines were written as an
// x86 kernel prints them: each 32-bit word of an address in the host's
// byte order.
func requireLittleEndian(t testing.TB) {
	t.Helper()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the fixtures' addresses are in little-endian words")
	}
}

const (
	tcpHead  = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	tcp6Head = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	// The columns after the state, as a listener and a connection show them.
	listenTail = " 0A 00000000:00000000 00:00000000 00000000     0        0 23561 1 0000000000000000 100 0 0 10 0\n"
	connTail   = " 01 00000000:00000000 02:00000215 00000000     0        0 485416 2 00000000132a4882 20 4 0 14 -1\n"
)

// tcpLine is a line of net/tcp or tcp6 with the given local and remote
// addresses, in the kernel's hex, and tail.
func tcpLine(sl, local, remote, tail string) string {
	return "   " + sl + ": " + local + " " + remote + tail
}

func TestPublicPort(t *testing.T) {
	requireLittleEndian(t)
	for _, tc := range []struct {
		local string
		port  uint16
		ok    bool
	}{
		{"00000000:1F90", 8080, true},                            // 0.0.0.0
		{"0500000A:20FB", 8443, true},                            // 10.0.0.5
		{"0100007F:0050", 0, false},                              // 127.0.0.1
		{"3500007F:0035", 0, false},                              // 127.0.0.53
		{"FFFFFF7F:0035", 0, false},                              // 127.255.255.255
		{"0000007E:0035", 53, true},                              // 126.0.0.0
		{"0000807F:0016", 0, false},                              // 127.128.0.0
		{"00000000000000000000000000000000:1F90", 8080, true},    // ::
		{"00000000000000000000000001000000:0051", 0, false},      // ::1
		{"00000000000000000000000002000000:0051", 81, true},      // ::2
		{"0000000000000000FFFF00000100007F:0052", 0, false},      // ::ffff:127.0.0.1
		{"0000000000000000FFFF00000500000A:0052", 82, true},      // ::ffff:10.0.0.5
		{"0000000000000000ffff00000100007f:0052", 0, false},      // lower case
		{"B80D0120000000000000000001000000:01BB", 443, true},     // 2001:db8::1
		{"000080FE00000000FF1A5502FE8B1F8A:0016", 22, true},      // fe80::...
		{"00000000:0000", 0, false},                              // port 0
		{"00000000:1F9", 0, false},                               // short port
		{"00000000:01F90", 0, false},                             // long port
		{"0000000:1F90", 0, false},                               // short address
		{"000000000000:1F90", 0, false},                          // neither length
		{"ZZZZZZZZ:1F90", 0, false},                              // not hex
		{"00000000:1FG0", 0, false},                              // not hex
		{"000000001F90", 0, false},                               // no colon
		{"", 0, false},                                           // nothing
		{"0000000000000000FFFF0000+100007F:0052", 0, false},      // a sign
		{"00000000000000000000000001000000:0051:0051", 0, false}, // two colons
	} {
		port, ok := publicPort([]byte(tc.local))
		if port != tc.port || ok != tc.ok {
			t.Errorf("publicPort(%q) = %d, %v; want %d, %v", tc.local, port, ok, tc.port, tc.ok)
		}
	}
}

func TestParseTCPListeningPorts(t *testing.T) {
	requireLittleEndian(t)
	for _, tc := range []struct {
		name      string
		data      string
		listening bool
		port      uint16
	}{
		{"loopback only", tcpHead +
			tcpLine("0", "0100007F:1538", "00000000:0000", listenTail) + // 127.0.0.1:5432
			tcpLine("1", "3500007F:0035", "00000000:0000", listenTail) + // 127.0.0.53:53
			tcpLine("2", "0100007F:1538", "0100007F:D2F0", connTail),
			true, 0},
		{"lowest public", tcpHead +
			tcpLine("0", "0100007F:0050", "00000000:0000", listenTail) + // loopback :80 is lower
			tcpLine("1", "00000000:2382", "00000000:0000", listenTail) + // :9090
			tcpLine("2", "0500000A:20FB", "00000000:0000", listenTail) + // 10.0.0.5:8443
			tcpLine("3", "0500000A:0016", "0A000001:D2F0", connTail), // a connection from port 22 is no listener
			true, 8443},
		{"loopback v6 only", tcp6Head +
			tcpLine("0", "00000000000000000000000001000000:1538", "00000000000000000000000000000000:0000", listenTail) +
			tcpLine("1", "0000000000000000FFFF00000100007F:0051", "00000000000000000000000000000000:0000", listenTail),
			true, 0},
		{"v6 public", tcp6Head +
			tcpLine("0", "00000000000000000000000001000000:0050", "00000000000000000000000000000000:0000", listenTail) +
			tcpLine("1", "00000000000000000000000000000000:1F90", "00000000000000000000000000000000:0000", listenTail),
			true, 8080},
		{"garbage addresses skipped", tcpHead +
			tcpLine("0", "ZZZZZZZZ:0016", "00000000:0000", listenTail) +
			tcpLine("1", "00000000:16", "00000000:0000", listenTail) +
			tcpLine("2", "000000000000:0017", "00000000:0000", listenTail) +
			tcpLine("3", "00000000-0018", "00000000:0000", listenTail) +
			tcpLine("4", "00000000:0000", "00000000:0000", listenTail) +
			tcpLine("5", "00000000:2328", "00000000:0000", listenTail) + // :9000
			"\n" +
			tcpLine("6", "00000000:0019", "00000000:0000", connTail),
			true, 9000},
		{"only garbage", tcpHead + tcpLine("0", "nonsense", "00000000:0000", listenTail), true, 0},
	} {
		listening, port, err := ParseTCPListening([]byte(tc.data))
		if err != nil || listening != tc.listening || port != tc.port {
			t.Errorf("%s: %v, %d, %v; want %v, %d", tc.name, listening, port, err, tc.listening, tc.port)
		}
	}
}

// listenTree writes a procfs tree for pid 100, a copy of the fixture's
// with the given files of net/ replaced ("" removes one).
func listenTree(t testing.TB, net map[string]string) string {
	t.Helper()
	root := floodTree(t, mustRead(t, filepath.Join(fixtureRoot, "100", "net", "dev")))
	for name, content := range net {
		p := filepath.Join(root, "100", "net", name)
		var err error
		if content == "" {
			err = os.Remove(p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReaderListenPort: the lowest public port of both tables; loopback
// listeners give none; a table whose protocol sockstat counts no socket
// of is not read, whatever it holds.
func TestReaderListenPort(t *testing.T) {
	requireLittleEndian(t)
	v4 := tcpHead +
		tcpLine("0", "0100007F:0050", "00000000:0000", listenTail) + // 127.0.0.1:80
		tcpLine("1", "00000000:20FB", "00000000:0000", listenTail) + // :8443
		tcpLine("2", "0500000A:20FB", "0A000001:D2F0", connTail)
	v6 := tcp6Head +
		tcpLine("0", "00000000000000000000000001000000:0051", "00000000000000000000000000000000:0000", listenTail) + // ::1:81
		tcpLine("1", "0000000000000000FFFF00000100007F:0052", "00000000000000000000000000000000:0000", listenTail) + // ::ffff:127.0.0.1:82
		tcpLine("2", "00000000000000000000000000000000:1F90", "00000000000000000000000000000000:0000", listenTail) // [::]:8080
	loop4 := tcpHead + tcpLine("0", "0100007F:1538", "00000000:0000", listenTail)
	loop6 := tcp6Head + tcpLine("0", "00000000000000000000000001000000:1538", "00000000000000000000000000000000:0000", listenTail)
	sockstat := func(n int) string {
		return "sockets: used 9\nTCP: inuse " + strconv.Itoa(n) + " orphan 0 tw 0 alloc 3 mem 1\n"
	}
	sockstat6 := func(n int) string { return "TCP6: inuse " + strconv.Itoa(n) + "\nUDP6: inuse 0\n" }
	for _, tc := range []struct {
		name      string
		net       map[string]string
		listening bool
		port      uint16
	}{
		{"both tables", map[string]string{"tcp": v4, "tcp6": v6, "sockstat": sockstat(3), "sockstat6": sockstat6(3)}, true, 8080},
		{"loopback only", map[string]string{"tcp": loop4, "tcp6": loop6, "sockstat": sockstat(1), "sockstat6": sockstat6(1)}, true, 0},
		{"no IPv6 socket", map[string]string{"tcp": v4, "tcp6": v6, "sockstat": sockstat(3), "sockstat6": sockstat6(0)}, true, 8443},
		{"no IPv4 socket", map[string]string{"tcp": v4, "tcp6": loop6, "sockstat": sockstat(0), "sockstat6": sockstat6(1)}, true, 0},
		{"no sockstat", map[string]string{"tcp": v4, "tcp6": v6, "sockstat": "", "sockstat6": ""}, true, 8080},
	} {
		for _, keepOpen := range []bool{false, true} {
			t.Run(tc.name+"/"+mode(keepOpen), func(t *testing.T) {
				r := newReader(t, listenTree(t, tc.net), 100, keepOpen)
				s := Stats{ListenPort: 1}
				if err := r.ReadListening(&s); err != nil {
					t.Fatal(err)
				}
				if !s.HaveListen || s.Listening != tc.listening || s.ListenPort != tc.port {
					t.Errorf("listening %v on %d (have %v), want %v on %d", s.Listening, s.ListenPort, s.HaveListen, tc.listening, tc.port)
				}
				if keepOpen {
					if a := testing.AllocsPerRun(20, func() { r.ReadListening(&s) }); a != 0 {
						t.Errorf("ReadListening allocates %v times", a)
					}
				}
			})
		}
	}
	// A table that is not the kernel's is an error, and leaves no answer.
	r := newReader(t, listenTree(t, map[string]string{"tcp": v4, "tcp6": tcp6Head + "   0: 0000\n"}), 100, false)
	s := Stats{Listening: true, HaveListen: true, ListenPort: 80}
	if err := r.ReadListening(&s); err == nil || s.HaveListen || s.Listening || s.ListenPort != 0 {
		t.Errorf("malformed tcp6: %v, %+v", err, s)
	}
}
