package history

import (
	"cmp"
	"slices"
	"time"
	"unsafe"
)

// Key identifies a container.
type Key struct{ Namespace, ID string }

func (k Key) compare(o Key) int {
	if c := cmp.Compare(k.Namespace, o.Namespace); c != 0 {
		return c
	}
	return cmp.Compare(k.ID, o.ID)
}

// Store holds every container's Series. Like a Series, it is not safe for
// concurrent use.
type Store struct {
	series map[Key]*Series
}

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{series: map[Key]*Series{}} }

// Get returns the Series of k, or nil if k is unknown.
func (st *Store) Get(k Key) *Series { return st.series[k] }

// GetOrCreate returns the Series of k, creating an empty one if needed.
func (st *Store) GetOrCreate(k Key) *Series {
	s := st.series[k]
	if s == nil {
		s = NewSeries()
		st.series[k] = s
	}
	return s
}

// Rename moves the Series of from to to, when from has one and to has
// none, and reports whether it did: a container that the kubelet restarted
// under a new id goes on with the history of the one it replaced.
func (st *Store) Rename(from, to Key) bool {
	s := st.series[from]
	if s == nil || st.series[to] != nil {
		return false
	}
	delete(st.series, from)
	st.series[to] = s
	return true
}

// Len is the number of series.
func (st *Store) Len() int { return len(st.series) }

// Keys returns the keys of all series, sorted by namespace then ID.
func (st *Store) Keys() []Key {
	keys := make([]Key, 0, len(st.series))
	for k := range st.series {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, Key.compare)
	return keys
}

// Prune drops the series that are not live (live may be nil: none is) and
// whose LastSeen is older than now-retention, including series that never
// got a sample; then, of the gone containers left, all but the maxGone seen
// last (maxGone < 0: no limit). It returns how many it dropped. The limit
// keeps a node where short jobs come and go from holding a full Series for
// each of them for the whole retention.
func (st *Store) Prune(now time.Time, retention time.Duration, maxGone int, live func(Key) bool) int {
	cutoff := now.Add(-retention)
	n := 0
	var gone []Key
	for k, s := range st.series {
		if live != nil && live(k) {
			continue
		}
		if s.seen && !s.LastSeen().Before(cutoff) {
			gone = append(gone, k)
			continue
		}
		delete(st.series, k)
		n++
	}
	if maxGone >= 0 && len(gone) > maxGone {
		// Oldest first; ties by key so that the choice is deterministic.
		slices.SortFunc(gone, func(a, b Key) int {
			if c := st.series[a].LastSeen().Compare(st.series[b].LastSeen()); c != 0 {
				return c
			}
			return a.compare(b)
		})
		for _, k := range gone[:len(gone)-maxGone] {
			delete(st.series, k)
			n++
		}
	}
	return n
}

// mapEntryBytes approximates what a map entry costs besides the Series:
// the key's string headers, the pointer and the map's own overhead.
const mapEntryBytes = int(unsafe.Sizeof(Key{})+unsafe.Sizeof((*Series)(nil))) + 16

// SizeBytes approximates the memory held by the store, for a self-metric.
func (st *Store) SizeBytes() int {
	n := int(unsafe.Sizeof(Store{}))
	for k, s := range st.series {
		n += mapEntryBytes + len(k.Namespace) + len(k.ID) + SeriesHeaderBytes
		n += len(s.ring)*int(unsafe.Sizeof(Minute(0))) + len(s.hours)*int(unsafe.Sizeof(hourRec{}))
	}
	return n
}
