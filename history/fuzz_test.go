package history

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func fuzzSeeds(f *testing.F) [][]byte {
	small := NewStore()
	small.GetOrCreate(Key{"k8s.io", "a"})
	s := small.GetOrCreate(Key{"k8s.io", "b"})
	feed(s, t0, t0.Add(2*time.Hour+30*time.Second), 10*time.Second, defaultTh, constant(Sample{CPUSeconds: 1, NetRxBytes: 5000}))
	return [][]byte{encode(f, small), encode(f, NewStore()), encode(f, sampleStore())}
}

// checkBounded asserts that what was decoded is proportional to the input:
// every series took at least a key and a flag byte, and every one with
// rings at least a fixed-size record.
func checkBounded(t *testing.T, st *Store, n int) {
	withRings := 0
	for _, s := range st.series {
		if s.ring != nil {
			withRings++
		}
	}
	if 5*(st.Len()-withRings)+seriesFixedLen*withRings > n {
		t.Fatalf("%d series (%d with rings) from %d bytes", st.Len(), withRings, n)
	}
}

func FuzzReadStore(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := ReadStore(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v wraps neither sentinel", err)
			}
			return
		}
		checkBounded(t, st, len(data))
		checkReencodes(t, st)
	})
}

// FuzzDecodePayload goes past the checksum, which would otherwise reject
// nearly every input before the decoder sees it.
func FuzzDecodePayload(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed[headerLen : len(seed)-trailerLen])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodePayload(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		checkBounded(t, st, len(data))
		checkReencodes(t, st)
	})
}
