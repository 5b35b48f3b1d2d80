package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// craftCheckpoint builds a valid checkpoint of about size bytes whose
// series are as small as the format allows: short keys and, if seen, a
// first sample in the minute in progress, so that no ring data follows.
// It is the cheapest file per series a hostile writer can produce.
func craftCheckpoint(size int, seen bool) []byte {
	b := []byte(magic)
	b = binary.LittleEndian.AppendUint32(b, formatVersion)
	rec := 2 + 2 + 4 + 1
	if seen {
		rec += accLen
	}
	n := (size - len(b) - 8) / rec
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	t := t0.UnixNano()
	for i := range n {
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = binary.LittleEndian.AppendUint16(b, 4)
		b = binary.LittleEndian.AppendUint32(b, uint32(i))
		if !seen {
			b = append(b, 0)
			continue
		}
		b = append(b, flagSeen)
		b = binary.LittleEndian.AppendUint64(b, uint64(t))
		b = binary.LittleEndian.AppendUint64(b, uint64(t))
		b = binary.LittleEndian.AppendUint64(b, uint64(t/nsPerMinute))
		b = append(b, make([]byte, accLen-24)...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// TestLoadFileHeapBoundedByFileSize loads crafted 3 MB checkpoints and
// measures what stays on the heap. Before the rings grew with a series'
// age, each 143-byte series record cost a week of rings (about 15 KB).
func TestLoadFileHeapBoundedByFileSize(t *testing.T) {
	const size = 3 << 20
	for _, seen := range []bool{true, false} {
		t.Run(fmt.Sprintf("seen=%v", seen), func(t *testing.T) {
			data := craftCheckpoint(size, seen)
			path := filepath.Join(t.TempDir(), "history.bin")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			st, err := LoadFile(path)
			runtime.GC()
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			growth := float64(after.HeapAlloc) - float64(before.HeapAlloc)
			ratio := growth / float64(len(data))
			t.Logf("%d-byte file, %d series: heap grew %.1f MB, %.1f× the file", len(data), st.Len(), growth/1e6, ratio)
			runtime.KeepAlive(st)
			if ratio > maxHeapPerFileByte {
				t.Errorf("heap grew %.1f× the file size, want at most %d×", ratio, maxHeapPerFileByte)
			}
		})
	}
}

// maxHeapPerFileByte bounds what loading a checkpoint may keep per byte
// of file.
const maxHeapPerFileByte = 4

const secret = "root:$6$s3cr3tHASH:19000:0:99999:7:::\n"

// TestLoadFileDoesNotFollowLinks plants a link to a secret-looking file
// where the checkpoint should be: the error names the path and the
// problem, never the content, and the target is left alone.
func TestLoadFileDoesNotFollowLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "shadow")
	if err := os.WriteFile(target, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "history.bin")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	st, err := LoadFile(path)
	if err == nil || st == nil || st.Len() != 0 {
		t.Fatalf("LoadFile(link) = %v, %v; want an empty store and an error", st, err)
	}
	msg := err.Error()
	t.Log(msg)
	if !strings.Contains(msg, path) || !strings.Contains(msg, "symbolic link") {
		t.Errorf("error %q does not name the path and the problem", msg)
	}
	checkNoContent(t, msg)
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was moved or replaced")
	}
	if b, _ := os.ReadFile(target); string(b) != secret {
		t.Error("the link's target changed")
	}
}

// TestLoadFileErrorsDoNotQuoteContent loads files that are not
// checkpoints, or damaged ones: no error quotes their bytes.
func TestLoadFileErrorsDoNotQuoteContent(t *testing.T) {
	valid := encode(t, sampleStore())
	for name, data := range map[string][]byte{
		"foreign":       []byte(secret),
		"other version": withVersion(append([]byte(magic), secret...), 0x73746f72),
		"bad checksum":  append(bytes.Clone(valid[:len(valid)-4]), "ro:x"...),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "history.bin")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadFile(path)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("LoadFile = %v, want an error naming %s", err, path)
			}
			t.Log(err)
			checkNoContent(t, err.Error())
			// The decoder alone, past the checksum.
			if _, err := ReadStore(bytes.NewReader(data)); err != nil {
				checkNoContent(t, err.Error())
			}
		})
	}
}

// checkNoContent fails if msg holds any 4-byte run of the secret, quoted
// or not, or the version number read from the crafted file.
func checkNoContent(t *testing.T, msg string) {
	t.Helper()
	for i := 0; i+4 <= len(secret); i++ {
		if run := secret[i : i+4]; strings.Contains(msg, run) || strings.Contains(msg, fmt.Sprintf("%q", run)[1:5]) {
			t.Errorf("error %q quotes the file's content (%q)", msg, run)
			return
		}
	}
	for _, v := range []string{"1936879474", "73746f72", "726f3a78"} {
		if strings.Contains(msg, v) {
			t.Errorf("error %q quotes a value read from the file (%s)", msg, v)
		}
	}
}

func TestLoadFileRejectsFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.bin")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := LoadFile(path); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), path) {
			t.Errorf("LoadFile(fifo) = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LoadFile blocked on a FIFO")
	}
}

// TestLoadFileRemovesStaleTemps leaves what a SIGKILL mid-save leaves
// behind, plus look-alikes that are not ours.
func TestLoadFileRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.bin")
	if err := sampleStore().SaveFile(path); err != nil {
		t.Fatal(err)
	}
	stale := []string{".history.bin.tmp-123456", ".history.bin.tmp-4294967295"}
	kept := []string{".history.bin.tmp-", ".history.bin.tmp-12x", ".other.bin.tmp-1", "history.bin.tmp-1", ".history.bin.tmp-7.keep", "history.bin.corrupt-1"}
	for _, n := range append(slices.Clone(stale), kept...) {
		if err := os.WriteFile(filepath.Join(dir, n), make([]byte, 1<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A link named like ours is not a file we wrote: left alone.
	link := ".history.bin.tmp-99"
	if err := os.Symlink(filepath.Join(dir, kept[0]), filepath.Join(dir, link)); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, link)
	st, err := LoadFile(path)
	if err != nil || st.Len() == 0 {
		t.Fatalf("LoadFile = %v, %v", st, err)
	}
	for _, n := range stale {
		if _, err := os.Lstat(filepath.Join(dir, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale temporary file %s is still there", n)
		}
	}
	for _, n := range append(kept, "history.bin") {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
	// What saveFile creates matches what is removed.
	if err := saveFile(path, func(io.Writer) error { return errors.New("interrupted") }); err == nil {
		t.Fatal("saveFile did not fail")
	}
	var names []string
	if err := saveFile(path, func(w io.Writer) error {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), tempPrefix(path)) && e.Type().IsRegular() && !slices.Contains(kept, e.Name()) {
				names = append(names, e.Name())
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 {
		t.Fatalf("temporary files during a save: %v", names)
	}
	if err := os.WriteFile(filepath.Join(dir, names[0]), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	LoadFile(path)
	if _, err := os.Lstat(filepath.Join(dir, names[0])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a temporary file named as saveFile names them (%s) was not removed", names[0])
	}
}

// TestLoadFileRejectsRingsPastTheEnd: a record whose times claim a week
// of history (minutes, their fine codes and hours) in a file too short to
// hold it is rejected before its rings are allocated.
func TestLoadFileRejectsRingsPastTheEnd(t *testing.T) {
	b := []byte(magic)
	b = binary.LittleEndian.AppendUint32(b, formatVersion)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = append(b, 'x', flagSeen)
	last := t0.UnixNano()
	first := last - int64(7*24*time.Hour)
	b = binary.LittleEndian.AppendUint64(b, uint64(first))
	b = binary.LittleEndian.AppendUint64(b, uint64(last))
	b = binary.LittleEndian.AppendUint64(b, uint64(last/nsPerMinute))
	b = append(b, make([]byte, accLen-24)...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	// What loading costs (reading buffers) when the same record is
	// rejected at its flags, before any ring could be allocated.
	bad := bytes.Clone(b)
	bad[len(magic)+4+4+2+2+1] = 0x80
	binary.LittleEndian.PutUint32(bad[len(bad)-4:], crc32.Checksum(bad[:len(bad)-4], crc32.MakeTable(crc32.Castagnoli)))
	load := func(data []byte) (uint64, error) {
		path := filepath.Join(t.TempDir(), "history.bin")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := LoadFile(path)
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, err
	}
	base, err := load(bad)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "unknown flags") {
		t.Fatalf("LoadFile(unknown flags) = %v", err)
	}
	n, err := load(b)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "rings longer than the rest of the file") {
		t.Fatalf("LoadFile = %v, want the rings rejected", err)
	}
	t.Log(err)
	// A week of rings is SeriesBytes; the accumulators and error texts
	// are a few hundred bytes (a few KiB more under the race detector).
	if n > base+uint64(SeriesBytes/2) {
		t.Errorf("allocated %d bytes, %d when rejected before the rings", n, base)
	}
}
