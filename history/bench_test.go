package history

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func BenchmarkAdd(b *testing.B) {
	b.ReportAllocs()
	s := NewSeries()
	at := t0
	sm := Sample{CPUSeconds: 0.02, NetRxBytes: 1200, NetTxBytes: 800, WorkingSet: 64 << 20}
	for b.Loop() {
		// A 10 s tick: a minute closes every sixth call.
		at = at.Add(10 * time.Second)
		sm.Time = at
		s.Add(sm, defaultTh)
	}
}

func weekSeries() *Series {
	s := NewSeries()
	feed(s, t0, t0.Add(7*24*time.Hour+time.Minute), 10*time.Second, defaultTh, func(at time.Time) Sample {
		return Sample{CPUSeconds: weekPattern(int(at.Sub(t0)/time.Minute)) * 10, WorkingSet: 100 << 20, NetRxBytes: 4096}
	})
	return s
}

func BenchmarkAppendMinutesWeek(b *testing.B) {
	b.ReportAllocs()
	s := weekSeries()
	to := t0.Add(7*24*time.Hour + time.Minute)
	from := to.Add(-7 * 24 * time.Hour)
	dst := make([]Minute, 0, MinutesKept)
	for b.Loop() {
		dst = s.AppendMinutes(dst[:0], from, to)
	}
	if len(dst) != MinutesKept || !dst[0].Valid() {
		b.Fatal("not a full week")
	}
}

// store1000 is 1000 containers with a full week each, copied from one
// series so that building it stays cheap.
func store1000() *Store {
	proto := weekSeries()
	st := NewStore()
	for i := range 1000 {
		s := st.GetOrCreate(Key{"k8s.io", fmt.Sprintf("%064x", i)})
		*s = *proto
		s.ring, s.hours = slices.Clone(proto.ring), slices.Clone(proto.hours)
	}
	return st
}

func BenchmarkSave1000(b *testing.B) {
	b.ReportAllocs()
	st := store1000()
	path := filepath.Join(b.TempDir(), "history.bin")
	var buf bytes.Buffer
	if _, err := st.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if err := st.SaveFile(path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "file-bytes")
}

func BenchmarkLoad1000(b *testing.B) {
	b.ReportAllocs()
	path := filepath.Join(b.TempDir(), "history.bin")
	if err := store1000().SaveFile(path); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		st, err := LoadFile(path)
		if err != nil || st.Len() != 1000 {
			b.Fatal(st.Len(), err)
		}
	}
}
