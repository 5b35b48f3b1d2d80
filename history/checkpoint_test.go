package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleStore has a never-sampled series, one with gaps and a burst in
// progress, and one with more than a week of history.
func sampleStore() *Store {
	st := NewStore()
	st.GetOrCreate(Key{"k8s.io", "never"})

	s := st.GetOrCreate(Key{"k8s.io", "gappy"})
	feed(s, t0, t0.Add(90*time.Minute), 10*time.Second, defaultTh, constant(Sample{CPUSeconds: 0.05, WorkingSet: 5 << 20}))
	feed(s, t0.Add(5*time.Hour), t0.Add(6*time.Hour+30*time.Minute+30*time.Second), time.Second, defaultTh,
		constant(Sample{CPUSeconds: 2, NetRxBytes: 1 << 20, NetTxBytes: 3 << 20, DiskWriteBytes: 4096, TCPAccepts: 7, WorkingSet: 300 << 20, Listening: true}))
	// A restart, then down for 70 minutes and a few seconds.
	s.NoteRestart()
	feed(s, t0.Add(6*time.Hour+31*time.Minute), t0.Add(7*time.Hour+41*time.Minute+15*time.Second), 10*time.Second, defaultTh, constant(Sample{Down: true}))

	s = st.GetOrCreate(Key{"default", strings.Repeat("ab", 32)})
	feed(s, t0.Add(-9*24*time.Hour), t0.Add(6*time.Hour+20*time.Minute+20*time.Second), 10*time.Second, defaultTh, func(at time.Time) Sample {
		k := int(at.Sub(t0) / time.Minute)
		return Sample{CPUSeconds: weekPattern(k&0x7fff) * 10, NetRxBytes: uint64(k & 0xffff), WorkingSet: uint64(k&0xff) << 20}
	})
	return st
}

func encode(t testing.TB, st *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := st.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d", n, err, buf.Len())
	}
	return buf.Bytes()
}

// sameHistory compares what the public API returns for every series.
// Series without samples are not checkpointed, so want's are left out.
func sameHistory(t *testing.T, want, got *Store) {
	t.Helper()
	want = &Store{series: maps.Clone(want.series)}
	maps.DeleteFunc(want.series, func(_ Key, s *Series) bool { return !s.seen })
	if !reflect.DeepEqual(want.Keys(), got.Keys()) {
		t.Fatalf("keys = %v, want %v", got.Keys(), want.Keys())
	}
	from, to := t0.Add(-10*24*time.Hour), t0.Add(24*time.Hour)
	for _, k := range want.Keys() {
		w, g := want.Get(k), got.Get(k)
		if !w.FirstSeen().Equal(g.FirstSeen()) || !w.LastSeen().Equal(g.LastSeen()) || w.ObservedMinutes() != g.ObservedMinutes() {
			t.Errorf("%v: seen %v..%v (%d), want %v..%v (%d)", k, g.FirstSeen(), g.LastSeen(), g.ObservedMinutes(),
				w.FirstSeen(), w.LastSeen(), w.ObservedMinutes())
		}
		if !reflect.DeepEqual(w.AppendMinutes(nil, from, to), g.AppendMinutes(nil, from, to)) {
			t.Errorf("%v: minutes differ", k)
		}
		if !reflect.DeepEqual(w.AppendHours(nil, from, to), g.AppendHours(nil, from, to)) {
			t.Errorf("%v: hours differ", k)
		}
	}
	// Everything else, accumulators included, but the clock reading and
	// the evidence counters that only live in memory.
	noClock := func(st *Store) map[Key]Series {
		m := map[Key]Series{}
		for k, s := range st.series {
			c := *s
			c.clk = clock{}
			c.ev = evidence{}
			m[k] = c
		}
		return m
	}
	if !reflect.DeepEqual(noClock(want), noClock(got)) {
		t.Error("internal state differs")
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	st := sampleStore()
	data := encode(t, st)
	got, err := ReadStore(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sameHistory(t, st, got)
	if again := encode(t, got); !bytes.Equal(again, data) {
		t.Error("re-encoding the restored store gives other bytes")
	}
	t.Logf("checkpoint of %d series: %d bytes", st.Len(), len(data))
}

func TestBurstAcrossCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "history.bin")
	key := Key{"k8s.io", "burst"}
	burst := constant(Sample{CPUSeconds: 0.5})
	idle := constant(Sample{})

	// The same minute, without and with a restart half-way through it.
	control := NewSeries()
	feed(control, t0.Add(-time.Minute), t0, 10*time.Second, defaultTh, idle)
	feed(control, t0, t0.Add(time.Minute), time.Second, defaultTh, burst)
	feed(control, t0.Add(time.Minute), t0.Add(2*time.Minute), 10*time.Second, defaultTh, idle)

	st := NewStore()
	s := st.GetOrCreate(key)
	feed(s, t0.Add(-time.Minute), t0, 10*time.Second, defaultTh, idle)
	feed(s, t0, t0.Add(30*time.Second), time.Second, defaultTh, burst)
	if err := st.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	restored, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s = restored.Get(key)
	feed(s, t0.Add(30*time.Second), t0.Add(time.Minute), time.Second, defaultTh, burst)
	feed(s, t0.Add(time.Minute), t0.Add(2*time.Minute), 10*time.Second, defaultTh, idle)

	ms := s.AppendMinutes(nil, t0.Add(-time.Minute), t0.Add(2*time.Minute))
	want := control.AppendMinutes(nil, t0.Add(-time.Minute), t0.Add(2*time.Minute))
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("minutes = %v, without restart %v", ms, want)
	}
	// 60 samples of 0.5 s over 10 s (since the idle tick before) + 59 × 1 s.
	if !ms[1].Active() || ms[1].Code() != EncodeCPU(30.0/69) || ms[0].Active() || ms[2].Active() {
		t.Errorf("burst minute = %#x, want one active minute at 0.435 cores", uint8(ms[1]))
	}
	h := s.AppendHours(nil, t0, t0.Add(time.Hour))[0]
	if h.ActiveMinutes != 1 || h.CPUSeconds != 30 {
		t.Errorf("hour = %+v, want 1 active minute, 30 CPU seconds", h)
	}
	if !s.FirstSeen().Equal(t0.Add(-time.Minute)) {
		t.Errorf("FirstSeen = %v", s.FirstSeen())
	}
}

// failingWriter accepts n bytes, then fails like a process killed mid-write.
type failingWriter struct {
	w io.Writer
	n int
}

var errKilled = errors.New("killed")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n, _ := f.w.Write(p[:f.n])
		f.n = 0
		return n, errKilled
	}
	f.n -= len(p)
	return f.w.Write(p)
}

func TestSaveFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.bin")
	old := NewStore()
	old.GetOrCreate(Key{"k8s.io", "old"}).Add(Sample{Time: t0}, defaultTh)
	if err := old.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(path)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("checkpoint mode %v, want 0600", fi.Mode().Perm())
	}

	st := sampleStore()
	for _, n := range []int{0, 100, 14000} {
		err := saveFile(path, func(w io.Writer) error {
			_, err := st.WriteTo(&failingWriter{w: w, n: n})
			return err
		})
		if !errors.Is(err, errKilled) || !strings.Contains(err.Error(), path) {
			t.Errorf("after %d bytes: err = %v, want the write error naming %s", n, err, path)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
			t.Errorf("after %d bytes: old checkpoint changed", n)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("after %d bytes: %d files in the directory, want only the checkpoint", n, len(ents))
		}
	}
	if err := st.SaveFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sameHistory(t, st, got)
}

func TestSaveFileUnwritableDirectory(t *testing.T) {
	dir := t.TempDir()
	// A file where a directory should be defeats even root.
	blocker := filepath.Join(dir, "blocker")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(blocker, "state", "history.bin")
	err := NewStore().SaveFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("SaveFile into a file = %v, want an error naming %s", err, path)
	}

	if os.Geteuid() == 0 {
		t.Log("running as root: permission bits do not stop writes, only the file case was checked")
		return
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(ro, "history.bin")
	if err := NewStore().SaveFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("SaveFile into a read-only directory = %v, want an error naming %s", err, path)
	}
}

func TestSaveFileCreatesDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := sampleStore().SaveFile(filepath.Join(dir, "h.bin")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v, %v; want mode 0700", fi, err)
	}
}

// withVersion rewrites the version field and the checksum, as a future
// release would write.
func withVersion(data []byte, v uint32) []byte {
	out := bytes.Clone(data)
	binary.LittleEndian.PutUint32(out[len(magic):], v)
	body := out[:len(out)-trailerLen]
	binary.LittleEndian.PutUint32(out[len(body):], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func TestLoadFileBadFiles(t *testing.T) {
	valid := encode(t, sampleStore())
	flipped := bytes.Clone(valid)
	flipped[len(flipped)/2] ^= 0x10
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}

	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"magic only", valid[:len(magic)], ErrCorrupt},
		{"header only", valid[:headerLen], ErrCorrupt},
		{"truncated in half", valid[:len(valid)/2], ErrCorrupt},
		{"last byte missing", valid[:len(valid)-1], ErrCorrupt},
		{"trailing byte", append(bytes.Clone(valid), 0), ErrCorrupt},
		{"bit flipped", flipped, ErrCorrupt},
		{"foreign", random, ErrCorrupt},
		{"gob-like text", []byte("this is not a history checkpoint\n"), ErrCorrupt},
		{"other version", withVersion(valid, formatVersion+1), ErrVersion},
		{"version zero", withVersion(valid, 0), ErrVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "history.bin")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			st, err := LoadFile(path)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if st == nil || st.Len() != 0 {
				t.Errorf("store = %v, want a fresh one", st)
			}
			if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("%s is still there", path)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("moved-aside files: %v", aside)
			}
			if moved, _ := os.ReadFile(aside[0]); !bytes.Equal(moved, tc.data) {
				t.Error("moved-aside file differs from the original")
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, aside[0]) {
				t.Errorf("error %q does not name both paths", msg)
			}
			// The same data through ReadStore gives the same sentinel.
			if _, err := ReadStore(bytes.NewReader(tc.data)); !errors.Is(err, tc.want) {
				t.Errorf("ReadStore: err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestLoadFileMissing(t *testing.T) {
	st, err := LoadFile(filepath.Join(t.TempDir(), "nope", "history.bin"))
	if err != nil || st == nil || st.Len() != 0 {
		t.Errorf("LoadFile(missing) = %v, %v; want a fresh store and no error", st, err)
	}
}

func TestLoadFileNotAFile(t *testing.T) {
	// A directory is not corrupt data: it is reported and left alone.
	path := t.TempDir()
	st, err := LoadFile(path)
	if err == nil || errors.Is(err, ErrCorrupt) || st == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadFile(dir) = %v, %v", st, err)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Error("directory was moved")
	}
}

func TestReadStoreRejectsInconsistentPayloads(t *testing.T) {
	valid := encode(t, sampleStore())
	payload := valid[headerLen : len(valid)-trailerLen]
	if _, err := decodePayload(bytes.NewReader(payload)); err != nil {
		t.Fatalf("valid payload: %v", err)
	}
	// Corrupt one byte at a time past the checksum: the decoder either
	// rejects it with ErrCorrupt or decodes something it can re-encode.
	// Every byte of the first records, which are mostly fixed fields, then
	// a sample of the rest, which is mostly ring contents.
	for i := 0; i < len(payload); i += max(1, (i/400)*(len(payload)/300)) {
		p := bytes.Clone(payload)
		p[i] ^= 0xff
		st, err := decodePayload(bytes.NewReader(p))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d: %v does not wrap ErrCorrupt", i, err)
			}
			continue
		}
		checkReencodes(t, st)
	}
	// A duplicated key.
	st := NewStore()
	st.GetOrCreate(Key{"a", "b"}).Add(Sample{Time: t0}, defaultTh)
	p := encode(t, st)[headerLen:]
	p = p[:len(p)-trailerLen]
	binary.LittleEndian.PutUint32(p, 2)
	p = append(p, p[4:]...)
	if _, err := decodePayload(bytes.NewReader(p)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "repeats an earlier key") {
		t.Errorf("duplicate key: %v", err)
	}
}

// checkReencodes asserts that a decoded store survives another round trip
// unchanged: the decoder accepted only states the encoder can produce.
func checkReencodes(t testing.TB, st *Store) {
	t.Helper()
	again, err := ReadStore(bytes.NewReader(encode(t, st)))
	if err != nil {
		t.Fatalf("re-encoded store does not read back: %v", err)
	}
	if !reflect.DeepEqual(st.series, again.series) {
		t.Fatal("re-encoded store differs")
	}
}

func TestCheckpointSize(t *testing.T) {
	st := NewStore()
	k := Key{"k8s.io", strings.Repeat("0", 64)}
	*st.GetOrCreate(k) = *weekSeries()
	// Header, count and checksum; one record of 27,463 bytes plus the key,
	// as the package doc says.
	if got, want := len(encode(t, st)), headerLen+4+trailerLen+27463+len(k.Namespace)+len(k.ID); got != want {
		t.Errorf("checkpoint of one full week: %d bytes, want %d", got, want)
	}
}

func TestWriteToRejectsLongKeys(t *testing.T) {
	st := NewStore()
	st.GetOrCreate(Key{"k8s.io", strings.Repeat("x", maxKeyLen+1)}).Add(Sample{Time: t0}, defaultTh)
	var buf bytes.Buffer
	if _, err := st.WriteTo(&buf); err == nil || buf.Len() != 0 {
		t.Errorf("WriteTo with a %d-byte ID: err %v, %d bytes written", maxKeyLen+1, err, buf.Len())
	}
}

func TestAbsurdCPUDeltasKeepCheckpointsReadable(t *testing.T) {
	st := NewStore()
	s := st.GetOrCreate(Key{"k8s.io", "x"})
	for i := range 180 {
		s.Add(Sample{Time: t0.Add(time.Duration(i) * time.Second), CPUSeconds: 1e308}, defaultTh)
	}
	if _, err := ReadStore(bytes.NewReader(encode(t, st))); err != nil {
		t.Fatal(err)
	}
}
