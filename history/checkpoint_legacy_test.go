package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestReadVersion2: a checkpoint written before minutes kept fine CPU
// codes reads with its timeline offsets, and its minutes as mid-bucket.
func TestReadVersion2(t *testing.T) {
	st := sampleStore()
	got, err := ReadStore(bytes.NewReader(golden(t, version2)))
	if err != nil {
		t.Fatal(err)
	}
	minutesAsMidBucket(st)
	asVersion3(st)
	sameHistory(t, st, got)
}

// asVersion3 makes st what a checkpoint of version 3 or older reads back
// as: without activity below the minute, the minute in progress busy so
// far, active minutes busy in full, in runs as long as those.
func asVersion3(st *Store) {
	asVersion4(st)
	for _, s := range st.series {
		a, h := &s.acc, &s.hour
		a.busy, a.longest, a.runs, a.peak, a.busyCPU = a.observed, a.observed, 0, 0, a.cpu
		h.busy, h.runs, h.peak, h.busyCPU = int64(h.actv)*nsPerMinute, 0, 0, h.cpu
		h.longest = h.busy
		s.run = 0
		for i := range s.hours {
			r := &s.hours[i]
			c := r.counts()
			c.busy, c.runs = uint16(c.actv)*60, 0
			r.n, r.peak, r.busyCPU = c.pack(), 0, r.cpu
			r.longest = c.busy
		}
	}
}

// asVersion5 makes st what a checkpoint of version 5 or older reads back
// as: its minutes sampled in full.
func asVersion5(st *Store) {
	for _, s := range st.series {
		s.hour.observed = int64(s.hour.minutes) * nsPerMinute
		for i := range s.hours {
			r := &s.hours[i]
			c := r.counts()
			c.sampled = uint16(c.minutes) * 60
			r.n = c.pack()
		}
	}
}

// asVersion4 makes st what a checkpoint of version 4 or older reads back
// as: without listening or down minutes and restarts.
func asVersion4(st *Store) {
	asVersion5(st)
	for _, s := range st.series {
		s.acc.down, s.acc.listen = 0, false
		s.hour.listen, s.hour.down, s.hour.restarts = 0, 0, 0
		for i := range s.hours {
			r := &s.hours[i]
			c := r.counts()
			c.listen, c.down, c.restarts = 0, 0, 0
			r.n = c.pack()
			// Version 4 wrote the peak as a float32.
			if r.peak != 0 {
				r.peak = peakCode(float64(float32(r.peakCores())))
			}
		}
	}
}

// TestReadVersion5: a checkpoint written before the sampled time was kept
// reads its minutes as sampled in full, and the rest as it was.
func TestReadVersion5(t *testing.T) {
	st := sampleStore()
	got, err := ReadStore(bytes.NewReader(golden(t, version5)))
	if err != nil {
		t.Fatal(err)
	}
	asVersion5(st)
	sameHistory(t, st, got)
}

// TestReadVersion4: a checkpoint written before restarts, down and
// listening minutes were kept reads without them.
func TestReadVersion4(t *testing.T) {
	st := sampleStore()
	got, err := ReadStore(bytes.NewReader(golden(t, version4)))
	if err != nil {
		t.Fatal(err)
	}
	asVersion4(st)
	sameHistory(t, st, got)
}

// TestReadVersion3: a checkpoint written before activity below the minute
// was kept reads its hours as busy for their active minutes.
func TestReadVersion3(t *testing.T) {
	st := sampleStore()
	got, err := ReadStore(bytes.NewReader(golden(t, version3)))
	if err != nil {
		t.Fatal(err)
	}
	asVersion3(st)
	sameHistory(t, st, got)
}

// golden returns the checkpoint of sampleStore as the agent wrote it in
// format version v, frozen under testdata. Versions 1 to 5 were frozen
// when their writers were deleted: only the current version is written,
// and these files are how the tests still make checkpoints of the older
// ones. The current version's file is what this release writes.
func golden(t *testing.T, v uint32) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", fmt.Sprintf("checkpoint-v%d.bin", v)))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < headerLen || binary.LittleEndian.Uint32(data[len(magic):]) != v {
		t.Fatalf("checkpoint-v%d.bin does not hold format version %d", v, v)
	}
	return data
}

// TestReadCurrentVersion: a checkpoint of the current format written by
// this release (frozen when the older formats were) still loads, with
// everything it held, and the agent writes it again byte for byte. When
// the format version changes, this file becomes one of the old versions:
// freeze the new one beside it.
func TestReadCurrentVersion(t *testing.T) {
	data := golden(t, formatVersion)
	path := filepath.Join(t.TempDir(), "history.bin")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sameHistory(t, sampleStore(), got)
	if again := encode(t, got); !bytes.Equal(again, data) {
		t.Error("re-encoding the loaded store gives other bytes")
	}
	if now := encode(t, sampleStore()); !bytes.Equal(now, data) {
		t.Error("the current format's checkpoint of sampleStore changed: a new format needs a new version")
	}
}

// TestReadEveryVersion: a checkpoint of each older version loads through
// ReadStore into a store that re-encodes, in the current format, to
// itself.
func TestReadEveryVersion(t *testing.T) {
	for v := uint32(version1); v < formatVersion; v++ {
		got, err := ReadStore(bytes.NewReader(golden(t, v)))
		if err != nil {
			t.Fatalf("version %d: %v", v, err)
		}
		checkReencodes(t, got)
	}
}

// TestReadOldVersionsRejectInconsistentPayloads corrupts checkpoints of
// the older versions one byte at a time past the checksum, as
// TestReadStoreRejectsInconsistentPayloads does the current one: the
// upgrade and the decoder either reject the record with ErrCorrupt or
// decode something the encoder can write.
func TestReadOldVersionsRejectInconsistentPayloads(t *testing.T) {
	for v := uint32(version1); v < formatVersion; v++ {
		data := golden(t, v)
		payload := data[headerLen : len(data)-trailerLen]
		for i := 0; i < len(payload); i += max(1, (i/400)*(len(payload)/300)) {
			p := bytes.Clone(payload)
			p[i] ^= 0xff
			st, err := (&decoder{r: bytes.NewReader(p), version: v, size: -1}).payload()
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("version %d, byte %d: %v does not wrap ErrCorrupt", v, i, err)
				}
				continue
			}
			checkReencodes(t, st)
		}
	}
}

// minutesAsMidBucket is what a version without fine CPU codes (1 and 2)
// reads back: busy minutes as mid-bucket.
func minutesAsMidBucket(st *Store) {
	for _, s := range st.series {
		if s.ring == nil {
			continue
		}
		fine := s.fine()
		for i, m := range s.mins() {
			if c := m.Code(); c >= 2 && c < codeMax {
				fine[i] = FineUnknown
			}
		}
	}
}
