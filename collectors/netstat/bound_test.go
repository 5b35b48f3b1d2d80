package netstat

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// floodDev is a net/dev with lo, n tenant interfaces fl0..fl<n-1> carrying
// a few bytes each, and eth0 among them (at position at) carrying the
// pod's real traffic, laid out as the kernel lays it out.
func floodDev(n, at int) []byte {
	var b strings.Builder
	b.WriteString(header)
	fmt.Fprintf(&b, "%6s: %8d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n", "lo", 100, 1, 0, 0, 0, 0, 0, 0, 100, 1, 0, 0, 0, 0, 0, 0)
	for i := range n {
		if i == at {
			fmt.Fprintf(&b, "%6s: %8d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n", "eth0", 5000000, 4000, 1, 2, 0, 0, 0, 0, 7000000, 5000, 3, 4, 0, 0, 0, 0)
		}
		fmt.Fprintf(&b, "%6s: %8d %7d %4d %4d %4d %5d %10d %9d %8d %7d %4d %4d %4d %5d %7d %10d\n", fmt.Sprintf("fl%d", i), i%7, 1, 0, 0, 0, 0, 0, 0, i%5, 1, 0, 0, 0, 0, 0, 0)
	}
	return []byte(b.String())
}

// total sums every interface's counters, kept and folded.
func total(s *Stats) Interface {
	t := s.Others
	for _, it := range s.Interfaces {
		t.RxBytes += it.RxBytes
		t.RxPackets += it.RxPackets
		t.RxErrors += it.RxErrors
		t.RxDropped += it.RxDropped
		t.TxBytes += it.TxBytes
		t.TxPackets += it.TxPackets
		t.TxErrors += it.TxErrors
		t.TxDropped += it.TxDropped
	}
	t.Name = ""
	return t
}

// A tenant that administers its pod's network namespace can add thousands
// of interfaces. At most MaxInterfaces are kept, the pod's busy eth0
// among them wherever the file lists it; the rest are summed, so the
// namespace's totals stay whole.
func TestParseNetDevBound(t *testing.T) {
	const n = 5000
	var want Interface
	for i := range n {
		want.RxBytes += uint64(i % 7)
		want.TxBytes += uint64(i % 5)
	}
	want.RxBytes += 5000000
	want.TxBytes += 7000000
	want.RxPackets, want.TxPackets = n+4000, n+5000
	want.RxErrors, want.RxDropped, want.TxErrors, want.TxDropped = 1, 2, 3, 4

	for _, at := range []int{0, 2500, n - 1} {
		var s Stats
		if err := ParseNetDev(floodDev(n, at), &s); err != nil {
			t.Fatal(err)
		}
		if len(s.Interfaces) != MaxInterfaces || s.OthersCount != n+1-MaxInterfaces {
			t.Fatalf("eth0 at %d: kept %d, folded %d; want %d and %d", at, len(s.Interfaces), s.OthersCount, MaxInterfaces, n+1-MaxInterfaces)
		}
		if !slices.ContainsFunc(s.Interfaces, func(it Interface) bool { return it.Name == "eth0" && it.RxBytes == 5000000 }) {
			t.Errorf("eth0 at %d: not kept: %+v", at, s.Interfaces)
		}
		if s.Others.Name != "" {
			t.Errorf("Others has a name: %q", s.Others.Name)
		}
		if got := total(&s); got != want {
			t.Errorf("eth0 at %d: totals %+v, want %+v", at, got, want)
		}
		// In the order of the file.
		pos := func(name string) int { return strings.Index(string(floodDev(n, at)), "\n"+fmt.Sprintf("%6s:", name)) }
		for i := 1; i < len(s.Interfaces); i++ {
			if pos(s.Interfaces[i-1].Name) > pos(s.Interfaces[i].Name) {
				t.Fatalf("eth0 at %d: %s before %s, against the file's order", at, s.Interfaces[i-1].Name, s.Interfaces[i].Name)
			}
		}
	}
}

// Once kept, an interface stays kept while it exists, however busy the
// newcomers: the exported series do not flap and a flood cannot push a
// pod's interfaces out. A kept interface that goes leaves its place to
// the busiest of the others.
func TestParseNetDevSticky(t *testing.T) {
	line := func(name string, rx uint64) string {
		return fmt.Sprintf("%s: %d 1 0 0 0 0 0 0 %d 1 0 0 0 0 0 0\n", name, rx, rx)
	}
	var s Stats
	var b strings.Builder
	b.WriteString(header)
	for i := range MaxInterfaces {
		b.WriteString(line(fmt.Sprintf("a%d", i), 1))
	}
	if err := ParseNetDev([]byte(b.String()), &s); err != nil {
		t.Fatal(err)
	}
	first := slices.Clone(s.Interfaces)

	// A flood of far busier newcomers.
	for i := range 100 {
		b.WriteString(line(fmt.Sprintf("z%d", i), 1e9))
	}
	if err := ParseNetDev([]byte(b.String()), &s); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Interfaces, first) || s.OthersCount != 100 || s.Others.RxBytes != 100e9 {
		t.Fatalf("kept %v, %d folded (%d bytes); want the first ones kept", s.Interfaces, s.OthersCount, s.Others.RxBytes)
	}

	// a3 goes: the busiest newcomer takes its place, the rest stay.
	var c strings.Builder
	c.WriteString(header)
	for i := range MaxInterfaces {
		if i != 3 {
			c.WriteString(line(fmt.Sprintf("a%d", i), 1))
		}
	}
	for i := range 100 {
		c.WriteString(line(fmt.Sprintf("z%d", i), uint64(1e9+i)))
	}
	if err := ParseNetDev([]byte(c.String()), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Interfaces) != MaxInterfaces || s.Interfaces[MaxInterfaces-1].Name != "z99" || slices.ContainsFunc(s.Interfaces, func(it Interface) bool { return it.Name == "a3" }) {
		t.Fatalf("after a3 went: %v", s.Interfaces)
	}
}

// Reading a namespace of thousands of interfaces again allocates nothing:
// the cost of a flood is bounded by the cap, not by its lines.
func TestParseNetDevFloodAllocs(t *testing.T) {
	data := floodDev(5000, 2500)
	var s Stats
	if err := ParseNetDev(data, &s); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() {
		if err := ParseNetDev(data, &s); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ParseNetDev of 5,000 interfaces: %v allocations, want 0", n)
	}
}

// floodTree writes a procfs tree for pid 100 whose net/dev is dev.
func floodTree(t testing.TB, dev []byte) string {
	t.Helper()
	root := t.TempDir()
	src := filepath.Join(fixtureRoot, "100")
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if rel == filepath.Join("net", "dev") {
			data = dev
		}
		dst := filepath.Join(root, "100", rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// The Reader reads a long net/dev through a bounded buffer, in pieces,
// with the same result as parsing it whole, and allocates nothing once
// sized.
func TestReaderFlood(t *testing.T) {
	data := floodDev(10000, 7000) // ~1.2 MB, as 5,000 veth pairs make
	var want Stats
	if err := ParseNetDev(data, &want); err != nil {
		t.Fatal(err)
	}
	root := floodTree(t, data)
	for _, keepOpen := range []bool{false, true} {
		t.Run(mode(keepOpen), func(t *testing.T) {
			r := newReader(t, root, 100, keepOpen)
			var s Stats
			for range 2 {
				if err := r.ReadInterfaces(&s); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(s.Interfaces, want.Interfaces) || s.Others != want.Others || s.OthersCount != want.OthersCount || s.Truncated {
					t.Fatalf("got %d kept, others %+v (%d), truncated %v; want %d, %+v (%d)",
						len(s.Interfaces), s.Others, s.OthersCount, s.Truncated, len(want.Interfaces), want.Others, want.OthersCount)
				}
			}
			if cap(r.buf) > maxDevBuf {
				t.Errorf("buffer of %d bytes, want at most %d", cap(r.buf), maxDevBuf)
			}
			allocs := testing.AllocsPerRun(5, func() {
				if err := r.ReadInterfaces(&s); err != nil {
					t.Fatal(err)
				}
			})
			if keepOpen && allocs != 0 {
				t.Errorf("ReadInterfaces of 10,000 interfaces: %v allocations, want 0", allocs)
			}
			if !keepOpen && allocs > 3 {
				t.Errorf("ReadInterfaces by path of 10,000 interfaces: %v allocations, want the 3 of opening", allocs)
			}
		})
	}
}

// Beyond MaxNetDevBytes net/dev is not read: the interfaces after the
// bound are missing from the totals, which Truncated says.
func TestReaderTruncates(t *testing.T) {
	n := MaxNetDevBytes/100 + 1000
	data := floodDev(n, 10)
	if len(data) <= MaxNetDevBytes {
		t.Fatalf("fixture of %d bytes is within the bound", len(data))
	}
	r := newReader(t, floodTree(t, data), 100, true)
	var s Stats
	if err := r.ReadInterfaces(&s); err != nil {
		t.Fatal(err)
	}
	if !s.Truncated || len(s.Interfaces) != MaxInterfaces {
		t.Fatalf("truncated %v, %d kept", s.Truncated, len(s.Interfaces))
	}
	lines := strings.Count(string(data[:MaxNetDevBytes]), "\n") - 3 // headers and lo
	if got := len(s.Interfaces) + s.OthersCount; got != lines {
		t.Errorf("%d interfaces read, want the %d whole lines within the bound", got, lines)
	}
	if !slices.ContainsFunc(s.Interfaces, func(it Interface) bool { return it.Name == "eth0" }) {
		t.Error("eth0 not kept")
	}

	// A short file again: no longer truncated.
	if err := os.WriteFile(filepath.Join(r.dev.Name()), floodDev(3, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	r2 := newReader(t, filepath.Dir(filepath.Dir(filepath.Dir(r.dev.Name()))), 100, false)
	if err := r2.ReadInterfaces(&s); err != nil || s.Truncated || len(s.Interfaces) != 4 || s.OthersCount != 0 {
		t.Errorf("short file: %v, truncated %v, %d kept, %d folded", err, s.Truncated, len(s.Interfaces), s.OthersCount)
	}
}

func BenchmarkParseNetDevFlood(b *testing.B) {
	data := floodDev(10000, 7000)
	var s Stats
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := ParseNetDev(data, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFlood(b *testing.B) {
	root := floodTree(b, floodDev(10000, 7000))
	r := newReader(b, root, 100, true)
	var s Stats
	b.ReportAllocs()
	for b.Loop() {
		if err := r.ReadInterfaces(&s); err != nil {
			b.Fatal(err)
		}
	}
}

// Lines cut between two reads of a small buffer parse as whole ones.
func TestReaderPiecesAgreeWithParse(t *testing.T) {
	data := floodDev(300, 150)
	var want Stats
	if err := ParseNetDev(data, &want); err != nil {
		t.Fatal(err)
	}
	root := floodTree(t, data)
	for _, keepOpen := range []bool{false, true} {
		r := newReader(t, root, 100, keepOpen)
		r.buf = make([]byte, 0, 16) // shorter than a line
		var s Stats
		if err := r.ReadInterfaces(&s); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Interfaces, want.Interfaces) || s.Others != want.Others || s.OthersCount != want.OthersCount || s.Truncated {
			t.Errorf("%s: read in pieces differs from parsed whole", mode(keepOpen))
		}
	}
}
