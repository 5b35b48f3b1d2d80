package netstat

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const fixtureRoot = "testdata/proc"

func newReader(t testing.TB, root string, pid int, keepOpen bool) *Reader {
	t.Helper()
	r, err := NewReader(root, pid, keepOpen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

func TestReaderFixture(t *testing.T) {
	for _, keepOpen := range []bool{false, true} {
		t.Run(mode(keepOpen), func(t *testing.T) {
			r := newReader(t, fixtureRoot, 100, keepOpen)
			var s Stats
			for range 2 {
				if err := r.Read(&s); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(s.Interfaces, fixture100) || s.TCPPassiveOpens != 4242 || !s.HaveTCP {
					t.Fatalf("got %+v", s)
				}
			}

			allocs := testing.AllocsPerRun(50, func() {
				if err := r.Read(&s); err != nil {
					t.Fatal(err)
				}
			})
			if keepOpen && allocs != 0 {
				t.Errorf("Read of the same namespace: %v allocations, want 0", allocs)
			}
			// Opening by path costs the os.File and its path, three
			// allocations for each of net/dev, net/snmp, net/tcp and
			// net/tcp6; keep the budget tight so that parsing never starts
			// allocating.
			if !keepOpen && allocs > 12 {
				t.Errorf("Read by path: %v allocations, want at most 12", allocs)
			}
			t.Logf("%v allocations per Read", allocs)
		})
	}
}

func TestReaderGrowsBuffer(t *testing.T) {
	for _, keepOpen := range []bool{false, true} {
		r := newReader(t, fixtureRoot, 100, keepOpen)
		r.buf = make([]byte, 0, 16) // far smaller than each file
		var s Stats
		if err := r.Read(&s); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Interfaces, fixture100) || s.TCPPassiveOpens != 4242 {
			t.Errorf("%s: got %+v", mode(keepOpen), s)
		}
	}
}

func TestReaderNoSNMP(t *testing.T) {
	for _, keepOpen := range []bool{false, true} {
		r := newReader(t, fixtureRoot, 400, keepOpen)
		s := Stats{TCPPassiveOpens: 99, HaveTCP: true} // stale values must go
		if err := r.Read(&s); err != nil {
			t.Fatal(err)
		}
		want := []Interface{{Name: "eth0", RxBytes: 10, RxPackets: 1, TxBytes: 20, TxPackets: 2}}
		if !slices.Equal(s.Interfaces, want) || s.HaveTCP || s.TCPPassiveOpens != 0 {
			t.Errorf("%s: got %+v", mode(keepOpen), s)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		pid     int
		wantErr string // substring; the file must be named
	}{
		{200, "testdata/proc/200/net/dev: line 4:"},
		{300, `testdata/proc/300/net/dev: line 4: interface "eth1": 3 counters`},
		{600, "testdata/proc/600/net/snmp: line 2: Tcp PassiveOpens"},
	}
	for _, tt := range tests {
		for _, keepOpen := range []bool{false, true} {
			r := newReader(t, fixtureRoot, tt.pid, keepOpen)
			var s Stats
			err := r.Read(&s)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("pid %d, %s: error %v, want one containing %q", tt.pid, mode(keepOpen), err, tt.wantErr)
			}
		}
	}
}

func TestReaderProcessGone(t *testing.T) {
	// No such process.
	if _, err := NewReader(fixtureRoot, 999, true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NewReader of a missing pid with keepOpen: %v, want fs.ErrNotExist", err)
	}
	r := newReader(t, fixtureRoot, 999, false)
	if err := r.Read(&Stats{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "999/net/dev") {
		t.Errorf("Read of a missing pid: %v, want fs.ErrNotExist naming the file", err)
	}

	// A zombie: its files, kept open, still answer.
	r = newReader(t, fixtureRoot, 500, true)
	if err := r.Read(&Stats{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "process 500 has exited") {
		t.Errorf("Read of a zombie with keepOpen: %v, want fs.ErrNotExist", err)
	}

	if _, err := NewReader(fixtureRoot, 0, false); err == nil {
		t.Error("NewReader accepted pid 0")
	}
}

func TestNamespaceIDFixture(t *testing.T) {
	a, err := NamespaceID(fixtureRoot, 100)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NamespaceID(fixtureRoot, 101)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NamespaceID(fixtureRoot, 200)
	if err != nil {
		t.Fatal(err)
	}
	if a == 0 || a != b || a == c {
		t.Errorf("ids: 100=%d 101=%d 200=%d; want 100 and 101 equal, 200 different, none zero", a, b, c)
	}
	if _, err := NamespaceID(fixtureRoot, 999); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing pid: %v, want fs.ErrNotExist", err)
	}
}

// The tests below read this machine's own procfs.

func requireProc(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/proc/self/net/dev"); err != nil {
		t.Skipf("no procfs network files here: %v", err)
	}
}

// TestSeqFilePreadAtZero checks what keepOpen relies on: a procfs seq file
// read to its end, then read at offset 0, yields its whole content again.
func TestSeqFilePreadAtZero(t *testing.T) {
	requireProc(t)
	for _, p := range []string{"/proc/self/net/dev", "/proc/self/net/snmp", "/proc/self/stat"} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		// Read sequentially in small chunks, leaving the file at its end.
		first, err := io.ReadAll(io.LimitReader(f, 1<<20))
		if err != nil || len(first) == 0 {
			t.Fatalf("%s: %d bytes, %v", p, len(first), err)
		}
		for i := range 3 {
			buf := make([]byte, 2*len(first)+4096)
			n, err := f.ReadAt(buf, 0)
			if err != io.EOF {
				t.Fatalf("%s: ReadAt: %v", p, err)
			}
			// Counters move, but the first line does not: a header, or for
			// stat the pid and the command name.
			stable, _, _ := strings.Cut(string(first), "\n")
			if strings.HasSuffix(p, "/stat") {
				stable, _, _ = strings.Cut(stable, ")")
			}
			if !strings.HasPrefix(string(buf[:n]), stable) {
				t.Errorf("%s: read %d at offset 0 starts %.40q, want %.40q", p, i, buf[:n], stable)
			}
		}
	}
}

func TestReaderRealHost(t *testing.T) {
	requireProc(t)
	// Accept a connection between the two reads: PassiveOpens must count it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("cannot listen: %v", err)
	}
	defer ln.Close()

	for _, keepOpen := range []bool{false, true} {
		t.Run(mode(keepOpen), func(t *testing.T) {
			r := newReader(t, "/proc", os.Getpid(), keepOpen)
			var before, after Stats
			if err := r.Read(&before); err != nil {
				t.Fatal(err)
			}
			if !before.HaveTCP {
				t.Skip("no TCP counters in this namespace")
			}

			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			s.Close()

			if err := r.Read(&after); err != nil {
				t.Fatal(err)
			}
			if after.TCPPassiveOpens < before.TCPPassiveOpens+1 {
				t.Errorf("PassiveOpens went from %d to %d across an accepted connection", before.TCPPassiveOpens, after.TCPPassiveOpens)
			}
			for _, b := range before.Interfaces {
				if b.Name == "lo" {
					t.Error("loopback reported")
				}
				i := slices.IndexFunc(after.Interfaces, func(a Interface) bool { return a.Name == b.Name })
				if i < 0 {
					continue // removed in between
				}
				a := after.Interfaces[i]
				if a.RxBytes < b.RxBytes || a.TxBytes < b.TxBytes || a.RxPackets < b.RxPackets || a.TxPackets < b.TxPackets {
					t.Errorf("%s went backwards: %+v then %+v", b.Name, b, a)
				}
			}
			t.Logf("%d interfaces, PassiveOpens %d -> %d", len(after.Interfaces), before.TCPPassiveOpens, after.TCPPassiveOpens)
		})
	}
}

// TestReaderDetectsExit runs a real process, reads its namespace, and checks
// that its exit is reported even though kept-open files would still answer.
func TestReaderDetectsExit(t *testing.T) {
	requireProc(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	cmd := exec.Command(sleep, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})

	kept := newReader(t, "/proc", pid, true)
	byPath := newReader(t, "/proc", pid, false)
	// Linux 5.1 and later take /proc/<pid> as a pidfd: the cheap check.
	if kept.procFd < 0 {
		t.Error("kept-open reader checks liveness through stat, not a pidfd")
	}
	if kept.Files() != 8 || byPath.Files() != 0 { // dev, snmp, stat, tcp, tcp6, sockstat, sockstat6, pidfd
		t.Errorf("descriptors held: kept open %d, by path %d; want 8 and 0", kept.Files(), byPath.Files())
	}
	for _, r := range []*Reader{kept, byPath} {
		if err := r.Read(&Stats{}); err != nil {
			t.Fatalf("%s: %v", mode(r.keepOpen), err)
		}
	}
	id, err := NamespaceID("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	self, err := NamespaceID("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if id == 0 || id != self {
		t.Errorf("a child in our namespace has namespace id %d, we have %d", id, self)
	}

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	exited = true

	for _, r := range []*Reader{kept, byPath} {
		if err := r.Read(&Stats{}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: Read after exit: %v, want fs.ErrNotExist", mode(r.keepOpen), err)
		}
	}
	if _, err := NamespaceID("/proc", pid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("NamespaceID after exit: %v, want fs.ErrNotExist", err)
	}
}

func TestNamespaceIDRealHost(t *testing.T) {
	requireProc(t)
	a, err := NamespaceID("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	b, err := NamespaceID("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if a == 0 || a != b {
		t.Errorf("NamespaceID of self: %d then %d, want the same nonzero value", a, b)
	}

	// A process in a new network namespace must have another id.
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare for a second network namespace")
	}
	cmd := exec.Command(unshare, "--net", "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// unshare execs sleep once the namespace exists; wait for the exec.
	comm := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/comm"
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if b, _ := os.ReadFile(comm); string(b) == "sleep\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("unshare did not start sleep")
		}
	}
	c, err := NamespaceID("/proc", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Errorf("a process in a new network namespace has our id %d", c)
	}
}

func mode(keepOpen bool) string {
	if keepOpen {
		return "keepOpen"
	}
	return "byPath"
}

func BenchmarkRead(b *testing.B) {
	cases := []struct {
		name string
		root string
		pid  int
	}{
		{"fixture", fixtureRoot, 100},
		{"self", "/proc", os.Getpid()},
	}
	for _, c := range cases {
		for _, keepOpen := range []bool{true, false} {
			b.Run(c.name+"/"+mode(keepOpen), func(b *testing.B) {
				if c.root == "/proc" {
					requireProc(b)
				}
				r := newReader(b, c.root, c.pid, keepOpen)
				var s Stats
				b.ReportAllocs()
				for b.Loop() {
					if err := r.Read(&s); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func TestReadInterfacesKeepsTCP(t *testing.T) {
	for _, keepOpen := range []bool{false, true} {
		t.Run(mode(keepOpen), func(t *testing.T) {
			r := newReader(t, fixtureRoot, 100, keepOpen)
			s := Stats{TCPPassiveOpens: 7, HaveTCP: true}
			if err := r.ReadInterfaces(&s); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Interfaces, fixture100) {
				t.Fatalf("interfaces = %+v", s.Interfaces)
			}
			if s.TCPPassiveOpens != 7 || !s.HaveTCP {
				t.Fatalf("ReadInterfaces touched the TCP counter: %+v", s)
			}
			if keepOpen {
				if a := testing.AllocsPerRun(20, func() { r.ReadInterfaces(&s) }); a != 0 {
					t.Errorf("ReadInterfaces: %v allocations, want 0", a)
				}
			}
		})
	}
}

// TestReaderListening: a listening socket in net/tcp or only in net/tcp6
// (a dual-stack server) counts; established connections do not; a
// namespace whose sockstat counts no TCP socket has none without a look at
// the tables; a namespace without the files has no answer. Reading it allocates nothing
// with kept-open files.
func TestReaderListening(t *testing.T) {
	for _, keepOpen := range []bool{false, true} {
		t.Run(mode(keepOpen), func(t *testing.T) {
			for _, tc := range []struct {
				pid             int
				listening, have bool
				port            uint16
			}{
				{100, true, true, 8080}, // tcp: a connection; tcp6: a listener on [::]:8080
				{400, true, true, 8080}, // tcp: a listener on 0.0.0.0:8080, no tcp6
				{700, false, false, 0},
				// net/tcp lists a listener, but sockstat counts no TCP
				// socket in use: the table is not read.
				{800, false, true, 0},
			} {
				r := newReader(t, fixtureRoot, tc.pid, keepOpen)
				var s Stats
				if err := r.Read(&s); err != nil {
					t.Fatal(err)
				}
				if s.Listening || s.HaveListen {
					t.Errorf("pid %d: Read looked for listening sockets", tc.pid)
				}
				if err := r.ReadListening(&s); err != nil {
					t.Fatal(err)
				}
				if s.Listening != tc.listening || s.HaveListen != tc.have || s.ListenPort != tc.port {
					t.Errorf("pid %d: listening %v on %d (have %v), want %v on %d (%v)",
						tc.pid, s.Listening, s.ListenPort, s.HaveListen, tc.listening, tc.port, tc.have)
				}
				// Read leaves the answer as it was.
				if err := r.Read(&s); err != nil || s.Listening != tc.listening || s.HaveListen != tc.have || s.ListenPort != tc.port {
					t.Errorf("pid %d: after Read, listening %v (have %v), %v", tc.pid, s.Listening, s.HaveListen, err)
				}
				if keepOpen {
					if a := testing.AllocsPerRun(20, func() { r.Read(&s); r.ReadListening(&s) }); a != 0 {
						t.Errorf("pid %d: Read and ReadListening allocate %v times", tc.pid, a)
					}
				}
			}
		})
	}
}

func TestParseTCPListening(t *testing.T) {
	requireLittleEndian(t)
	head := "  sl  local_address rem_address   st tx_queue\n"
	for _, tc := range []struct {
		data    string
		want    bool
		port    uint16
		wantErr string
	}{
		{head, false, 0, ""},
		{head + "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000\n", true, 8080, ""},
		{head + "   0: 0100007F:9F08 0100007F:9CD1 01 00000000:00000000\n   1: 0100007F:9F09 0100007F:9CD1 06 0\n", false, 0, ""},
		// A line cut off by the read is left for the next read.
		{head + "   0: 0100007F:9F08 0100007F:9CD1 01 0\n   1: 00000000:1F90 00000000:0000 0A", false, 0, ""},
		{head + "   0: 00000000:1F91 00000000:0000 0A 0\n   1: 00000000:1F90 00000000:0000 0A", true, 8081, ""},
		{head + "   0: 0100007F:9F08\n", false, 0, "line 2"},
		{head + "   0: 00000000:1F90 00000000:0000 0A 0\n   1: 0100007F:9F08\n", false, 0, "line 3"},
	} {
		got, port, err := ParseTCPListening([]byte(tc.data))
		if got != tc.want || port != tc.port || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: %v, %d, %v; want %v, %d, error %q", tc.data, got, port, err, tc.want, tc.port, tc.wantErr)
		}
	}
	data := []byte(head + "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000\n")
	if a := testing.AllocsPerRun(100, func() { ParseTCPListening(data) }); a != 0 {
		t.Errorf("ParseTCPListening allocates %v times", a)
	}
}

// TestReadRaw checks that ReadRaw reads net/dev, net/snmp when asked,
// whole, and the heads of net/tcp and net/tcp6 when asked, without
// allocating once the files are open.
func TestReadRaw(t *testing.T) {
	size := func(pid int, name string) int {
		b, err := os.ReadFile(fixtureRoot + "/" + strconv.Itoa(pid) + "/net/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return len(b)
	}
	for _, keepOpen := range []bool{false, true} {
		t.Run(mode(keepOpen), func(t *testing.T) {
			r := newReader(t, fixtureRoot, 100, keepOpen)
			r.buf = make([]byte, 0, 16) // it must grow to whole files
			dev, snmp := size(100, "dev"), size(100, "snmp")
			if n, err := r.ReadRaw(false, false); err != nil || n != dev {
				t.Errorf("ReadRaw(false, false) = %d, %v; want %d bytes", n, err, dev)
			}
			if n, err := r.ReadRaw(true, false); err != nil || n != dev+snmp {
				t.Errorf("ReadRaw(true, false) = %d, %v; want %d bytes", n, err, dev+snmp)
			}
			// sockstat counts sockets, so the heads of both tables are
			// read: tcp holds only a connection, tcp6 the listener.
			head := func(name string) int { return min(size(100, name), cap(r.buf)) }
			listen := size(100, "sockstat") + size(100, "sockstat6") + head("tcp") + head("tcp6")
			if n, err := r.ReadRaw(true, true); err != nil || n != dev+snmp+listen {
				t.Errorf("ReadRaw(true, true) = %d, %v; want %d bytes", n, err, dev+snmp+listen)
			}
			if !keepOpen {
				return
			}
			for _, withSNMP := range []bool{false, true} {
				if allocs := testing.AllocsPerRun(50, func() { _, _ = r.ReadRaw(withSNMP, withSNMP) }); allocs != 0 {
					t.Errorf("ReadRaw(%v, %v): %v allocations, want 0", withSNMP, withSNMP, allocs)
				}
			}
		})
	}
	// A namespace without net/snmp reads net/dev only.
	for _, keepOpen := range []bool{false, true} {
		r := newReader(t, fixtureRoot, 400, keepOpen)
		if n, err := r.ReadRaw(true, false); err != nil || n != size(400, "dev") {
			t.Errorf("%s: no net/snmp: ReadRaw(true, false) = %d, %v; want %d bytes", mode(keepOpen), n, err, size(400, "dev"))
		}
	}
}

// TestReadRawDetectsExit: like Read, ReadRaw of kept-open files reports a
// process that has exited.
func TestReadRawDetectsExit(t *testing.T) {
	requireProc(t)
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	r := newReader(t, "/proc", cmd.Process.Pid, true)
	if _, err := r.ReadRaw(true, true); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := r.ReadRaw(false, false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadRaw after the process exited = %v, want fs.ErrNotExist", err)
	}
}

func BenchmarkReadRaw(b *testing.B) {
	requireProc(b)
	for _, keepOpen := range []bool{true, false} {
		for _, files := range []string{"dev", "dev+snmp", "dev+tcp"} {
			withSNMP, withListen := files == "dev+snmp", files == "dev+tcp"
			b.Run(mode(keepOpen)+"/"+files, func(b *testing.B) {
				r := newReader(b, "/proc", os.Getpid(), keepOpen)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := r.ReadRaw(withSNMP, withListen); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
