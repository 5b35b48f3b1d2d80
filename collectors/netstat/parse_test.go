package netstat

import (
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

const header = "Inter-|   Receive                                                |  Transmit\n" +
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"

// fixture100 is what testdata/proc/100/net/dev holds, worked out by hand.
var fixture100 = []Interface{
	{Name: "eth0", RxBytes: 58141350, RxPackets: 1742, RxErrors: 3, RxDropped: 4, TxBytes: 118377, TxPackets: 1172, TxErrors: 5, TxDropped: 6},
	{Name: "vethe1f2a3b4c5d6", RxBytes: 1000, RxPackets: 10, RxDropped: 1, TxBytes: 2000, TxPackets: 20, TxDropped: 2},
	{Name: "eth1", RxBytes: 18446744073709551615, RxPackets: 2, TxBytes: 9, TxPackets: 8, TxErrors: 7, TxDropped: 6},
}

func TestParseNetDevFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/proc/100/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseDev(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, fixture100) {
		t.Errorf("got  %+v\nwant %+v", got, fixture100)
	}
}

func TestParseNetDev(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    []Interface
		wantErr string
	}{
		{name: "empty", data: ""},
		{name: "headers only", data: header},
		{name: "loopback only", data: header + "    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"},
		{
			name: "no trailing newline, tabs, blank lines",
			data: header + "\n eth0:\t1 2 3 4 5 6 7 8\t9 10 11 12 13 14 15 16",
			want: []Interface{{Name: "eth0", RxBytes: 1, RxPackets: 2, RxErrors: 3, RxDropped: 4, TxBytes: 9, TxPackets: 10, TxErrors: 11, TxDropped: 12}},
		},
		{
			name: "more counters than known",
			data: header + "eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n",
			want: []Interface{{Name: "eth0", RxBytes: 1, RxPackets: 2, RxErrors: 3, RxDropped: 4, TxBytes: 9, TxPackets: 10, TxErrors: 11, TxDropped: 12}},
		},
		{name: "garbage line", data: header + "eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\nhello world\n", wantErr: `line 4: want "name: counters"`},
		{name: "truncated line", data: header + "eth0: 1 2 3 4 5 6 7", wantErr: `line 3: interface "eth0": 7 counters, want 16`},
		{name: "name only", data: header + "eth0:\n", wantErr: `interface "eth0": 0 counters`},
		{name: "name with a blank", data: header + "eth 0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", wantErr: `line 3: interface name "eth 0" contains a blank`},
		{name: "empty name", data: header + "  : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", wantErr: "line 3: empty interface name"},
		{name: "negative", data: header + "eth0: 1 2 -3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", wantErr: `counter 3: not a decimal number: "-3"`},
		{name: "overflow", data: header + "eth0: 18446744073709551616 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", wantErr: "counter 1: \"18446744073709551616\" overflows 64 bits"},
		{name: "bad loopback is still an error", data: header + "lo: x\n", wantErr: `interface "lo"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDev([]byte(tt.data), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if len(got) != 0 {
					t.Errorf("got %d interfaces with an error, want none", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseNetDevReusesNames(t *testing.T) {
	first, err := parseDev([]byte(header+"eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\neth1: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	eth0, eth1 := unsafe.StringData(first[0].Name), unsafe.StringData(first[1].Name)

	// eth0 keeps its place, eth1 is replaced by eth2.
	second, err := parseDev([]byte(header+"eth0: 5 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\neth2: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"), first)
	if err != nil {
		t.Fatal(err)
	}
	if &second[0] != &first[0] {
		t.Error("the destination's storage was not reused")
	}
	if unsafe.StringData(second[0].Name) != eth0 {
		t.Error("unchanged name eth0 was allocated again")
	}
	if second[1].Name != "eth2" || unsafe.StringData(second[1].Name) == eth1 {
		t.Errorf("changed name: got %q", second[1].Name)
	}
	if second[0].RxBytes != 5 {
		t.Errorf("eth0 RxBytes = %d, want 5", second[0].RxBytes)
	}

	data, err := os.ReadFile("testdata/proc/100/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := parseDev(data, nil)
	if n := testing.AllocsPerRun(100, func() { dst, _ = parseDev(data, dst) }); n != 0 {
		t.Errorf("ParseNetDev into a sized destination: %v allocations, want 0", n)
	}
}

func TestParseSNMPPassiveOpens(t *testing.T) {
	fixture, err := os.ReadFile("testdata/proc/100/net/snmp")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    string
		want    uint64
		wantOK  bool
		wantErr string
	}{
		{name: "fixture", data: string(fixture), want: 4242, wantOK: true},
		{name: "empty", data: ""},
		{name: "no Tcp", data: "Ip: Forwarding\nIp: 1\nUdp: InDatagrams\nUdp: 3\n"},
		{name: "first column", data: "Tcp: PassiveOpens\nTcp: 7", want: 7, wantOK: true},
		{name: "no PassiveOpens column", data: "Tcp: RtoAlgorithm ActiveOpens\nTcp: 1 5\n"},
		{name: "TcpExt is not Tcp", data: "TcpExt: PassiveOpens\nTcpExt: 9\n"},
		{name: "names without values", data: "Tcp: RtoAlgorithm PassiveOpens\nUdp: InDatagrams\nUdp: 1\n", wantErr: "without a line of values"},
		{name: "short values", data: "Tcp: RtoAlgorithm MaxConn PassiveOpens\nTcp: 1 -1\n", wantErr: "line 2: fewer Tcp values than names"},
		{name: "negative", data: "Tcp: MaxConn PassiveOpens\nTcp: -1 -1\n", wantErr: "line 2: Tcp PassiveOpens: not a decimal number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseSNMPPassiveOpens([]byte(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParseNetDev(f *testing.F) {
	for _, p := range []string{"testdata/proc/100/net/dev", "testdata/proc/200/net/dev", "testdata/proc/300/net/dev", "/proc/self/net/dev"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("eth0:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"))
	f.Add([]byte(":::\n|\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Stats
		if err := ParseNetDev(data, &s); err != nil {
			return
		}
		got := s.Interfaces
		if len(got) > MaxInterfaces || s.OthersCount < 0 || (s.OthersCount == 0 && s.Others != Interface{}) || s.Others.Name != "" {
			t.Fatalf("%d kept, %d others summed in %+v", len(got), s.OthersCount, s.Others)
		}
		for _, it := range got {
			if it.Name == "" || it.Name == "lo" || strings.ContainsAny(it.Name, ": \t") {
				t.Fatalf("bad interface name %q", it.Name)
			}
		}
		// Parsing again into the result must give the same result.
		want := slices.Clone(got)
		again, err := parseDev(data, got)
		if err != nil || !slices.Equal(again, want) {
			t.Fatalf("second parse: %v, %+v; want %+v", err, again, want)
		}
	})
}

func FuzzParseTCPListening(f *testing.F) {
	for _, p := range []string{"testdata/proc/100/net/tcp", "testdata/proc/100/net/tcp6", "testdata/proc/400/net/tcp", "/proc/self/net/tcp"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("h\n 0: a b 0A\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		listening, port, err := ParseTCPListening(data)
		if listening && (err != nil || !strings.Contains(string(data), "0A")) {
			t.Fatalf("listening with error %v or without a LISTEN state", err)
		}
		if port != 0 && !listening {
			t.Fatalf("port %d without a listener", port)
		}
	})
}

func FuzzParseSNMP(f *testing.F) {
	for _, p := range []string{"testdata/proc/100/net/snmp", "testdata/proc/600/net/snmp", "/proc/self/net/snmp"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("Tcp: PassiveOpens\nTcp: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, ok, err := ParseSNMPPassiveOpens(data)
		if ok && (err != nil || !strings.Contains(string(data), "PassiveOpens")) {
			t.Fatalf("ok with error %v or without a PassiveOpens column", err)
		}
	})
}

func BenchmarkParseNetDev(b *testing.B) {
	data, err := os.ReadFile("testdata/proc/100/net/dev")
	if err != nil {
		b.Fatal(err)
	}
	var dst []Interface
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if dst, err = parseDev(data, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSNMP(b *testing.B) {
	data, err := os.ReadFile("testdata/proc/100/net/snmp")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, ok, err := ParseSNMPPassiveOpens(data); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// An interface may be named with any byte but '/', ':', blanks and NUL;
// the parsed name is valid UTF-8 whatever it holds.
func TestParseNetDevInvalidUTF8Name(t *testing.T) {
	got, err := parseDev([]byte(header+"veth\xff\xfex: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !utf8.ValidString(got[0].Name) || got[0].Name != "veth\uFFFDx" {
		t.Fatalf("interfaces = %+v", got)
	}
}

func TestParseSockstatInUse(t *testing.T) {
	for _, tc := range []struct {
		data, proto string
		want        uint64
		ok          bool
		err         string
	}{
		{"sockets: used 8\nTCP: inuse 3 orphan 0 tw 1 alloc 4 mem 1\nUDP: inuse 0 mem 0\n", "TCP", 3, true, ""},
		{"TCP6: inuse 2\nUDP6: inuse 0\n", "TCP6", 2, true, ""},
		// TCP6 is not TCP, nor TCP TCP6.
		{"TCP6: inuse 2\n", "TCP", 0, false, ""},
		{"TCP: inuse 2\n", "TCP6", 0, false, ""},
		{"TCP: orphan 0\n", "TCP", 0, false, ""},
		{"TCP: inuse\n", "TCP", 0, false, "line 1: TCP inuse without a value"},
		{"x\nTCP: inuse -1\n", "TCP", 0, false, "line 2: TCP inuse"},
		{"", "TCP", 0, false, ""},
	} {
		n, ok, err := ParseSockstatInUse([]byte(tc.data), tc.proto)
		if n != tc.want || ok != tc.ok || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%q %s: %d %v %v; want %d %v %q", tc.data, tc.proto, n, ok, err, tc.want, tc.ok, tc.err)
		}
	}
	data := []byte("sockets: used 8\nTCP: inuse 3 orphan 0 tw 1 alloc 4 mem 1\n")
	if a := testing.AllocsPerRun(100, func() { ParseSockstatInUse(data, "TCP") }); a != 0 {
		t.Errorf("ParseSockstatInUse allocates %v times", a)
	}
}

func FuzzParseSockstatInUse(f *testing.F) {
	for _, p := range []string{"testdata/proc/100/net/sockstat", "/proc/self/net/sockstat"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("TCP: inuse 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, ok, err := ParseSockstatInUse(data, "TCP")
		if ok && (err != nil || !strings.Contains(string(data), "TCP:")) {
			t.Fatalf("ok with error %v or without a TCP line", err)
		}
	})
}

// parseDev is ParseNetDev on a slice, as the tests of one namespace's
// interfaces want it.
func parseDev(data []byte, dst []Interface) ([]Interface, error) {
	s := Stats{Interfaces: dst}
	err := ParseNetDev(data, &s)
	return s.Interfaces, err
}
