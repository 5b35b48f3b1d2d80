package history

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStore(t *testing.T) {
	st := NewStore()
	a, b := Key{"k8s.io", "b"}, Key{"default", "a"}
	if st.Get(a) != nil || st.Len() != 0 {
		t.Fatal("new store is not empty")
	}
	s := st.GetOrCreate(a)
	if s == nil || st.GetOrCreate(a) != s || st.Get(a) != s {
		t.Fatal("GetOrCreate does not return the same series")
	}
	st.GetOrCreate(b)
	if got := st.Keys(); !slices.Equal(got, []Key{b, a}) {
		t.Errorf("Keys = %v, want sorted", got)
	}
	empty := NewStore().SizeBytes()
	before := st.SizeBytes()
	s.Add(Sample{Time: t0}, defaultTh)
	if got, want := st.SizeBytes()-before, 2*minMinuteRing+minHourRing*40; got != want {
		t.Errorf("first sample grew SizeBytes by %d, want the short rings' %d (minutes with their fine codes, hours)", got, want)
	}
	s.Add(Sample{Time: t0.Add(8 * 24 * time.Hour)}, defaultTh)
	if got := st.SizeBytes() - before; got != SeriesBytes-SeriesHeaderBytes {
		t.Errorf("a week of history grew SizeBytes by %d, want the full rings' %d", got, SeriesBytes-SeriesHeaderBytes)
	}
	if before <= empty {
		t.Errorf("SizeBytes %d with two series, %d empty", before, empty)
	}
}

func TestPrune(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	st := NewStore()
	add := func(id string, last time.Time) Key {
		k := Key{"k8s.io", id}
		s := st.GetOrCreate(k)
		if !last.IsZero() {
			s.Add(Sample{Time: last}, defaultTh)
		}
		return k
	}
	old := add("old", now.Add(-25*time.Hour))
	oldLive := add("old-live", now.Add(-25*time.Hour))
	recent := add("recent", now.Add(-23*time.Hour))
	edge := add("edge", now.Add(-24*time.Hour)) // exactly at the retention: kept
	never := add("never", time.Time{})
	live := func(k Key) bool { return k == oldLive }

	if n := st.Prune(now, 24*time.Hour, -1, live); n != 2 {
		t.Errorf("Prune dropped %d, want 2", n)
	}
	for k, want := range map[Key]bool{old: false, oldLive: true, recent: true, edge: true, never: false} {
		if got := st.Get(k) != nil; got != want {
			t.Errorf("%s kept = %v, want %v", k.ID, got, want)
		}
	}
	if n := st.Prune(now.Add(time.Hour), time.Hour, -1, nil); n != 3 {
		t.Errorf("Prune with no live containers dropped %d, want 3", n)
	}
	if st.Len() != 0 {
		t.Errorf("%d series left", st.Len())
	}
}

// Beyond maxGone, the gone containers seen longest ago go first; live ones
// never count.
func TestPruneMaxGone(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	st := NewStore()
	for i := range 6 {
		st.GetOrCreate(Key{"k8s.io", fmt.Sprint("gone-", i)}).Add(Sample{Time: now.Add(-time.Duration(i) * time.Minute)}, defaultTh)
		st.GetOrCreate(Key{"k8s.io", fmt.Sprint("live-", i)}).Add(Sample{Time: now.Add(-time.Hour)}, defaultTh)
	}
	live := func(k Key) bool { return strings.HasPrefix(k.ID, "live-") }
	if n := st.Prune(now, 24*time.Hour, 2, live); n != 4 {
		t.Errorf("Prune dropped %d, want 4", n)
	}
	var kept []string
	for _, k := range st.Keys() {
		kept = append(kept, k.ID)
	}
	want := []string{"gone-0", "gone-1", "live-0", "live-1", "live-2", "live-3", "live-4", "live-5"}
	if !slices.Equal(kept, want) {
		t.Errorf("kept %v, want %v", kept, want)
	}
	if n := st.Prune(now, 24*time.Hour, 0, live); n != 2 || st.Len() != 6 {
		t.Errorf("maxGone 0 dropped %d and left %d, want 2 and 6", n, st.Len())
	}
}

func TestEmptyStoreRoundTrip(t *testing.T) {
	data := encode(t, NewStore())
	if len(data) != headerLen+4+trailerLen {
		t.Errorf("empty checkpoint: %d bytes", len(data))
	}
	st, err := ReadStore(bytes.NewReader(data))
	if err != nil || st.Len() != 0 {
		t.Errorf("ReadStore(empty) = %v, %v", st, err)
	}
}
