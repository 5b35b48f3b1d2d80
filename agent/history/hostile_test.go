package history

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"testing"
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
