package history

import (
	"iter"
	"unsafe"
)

// Shortest rings, so that a young Series does not reallocate every minute.
const (
	minMinuteRing = 16
	minHourRing   = 2
)

// allocRings allocates rings long enough for need minutes and needH
// hours.
func (s *Series) allocRings(need, needH int64) {
	s.ring = make([]Minute, 2*ringLen(need, minMinuteRing, MinutesKept))
	s.hours = make([]hourRec, ringLen(needH, minHourRing, HoursKept))
}

// mins is the minute ring.
func (s *Series) mins() []Minute { return s.ring[:len(s.ring)/2] }

// fine holds the fine CPU code of each minute of the ring, slot for slot.
func (s *Series) fine() []uint8 { return minuteBytes(s.ring[len(s.ring)/2:]) }

// ringLen is the length of a ring that must hold need entries: a power of
// two (so that a growing Series reallocates only a few times in its first
// week) between lo and kept.
func ringLen(need int64, lo, kept int) int {
	n := lo
	for int64(n) < need && n < kept {
		n *= 2
	}
	return min(n, kept)
}

// growRings makes the rings long enough to hold every minute and hour from
// the first sample up to (not including) minute m, before m becomes the
// minute in progress. Entries move to their slots in the longer rings;
// slots before the first sample stay zero.
func (s *Series) growRings(m int64) {
	firstMin := floorDiv(s.first, nsPerMinute)
	if n, on := ringLen(m-firstMin, minMinuteRing, MinutesKept), len(s.ring)/2; n > on {
		// Minutes and their fine codes move together.
		old := s.ring
		s.ring = make([]Minute, 2*n)
		lo := max(s.cur-int64(on), firstMin)
		moveEntries(s.ring[:n], old[:on], lo, s.cur)
		moveEntries(s.ring[n:], old[on:], lo, s.cur)
	}
	firstH, curH := floorDiv(s.first, nsPerHour), floorDiv(s.cur, 60)
	if n := ringLen(floorDiv(m, 60)-firstH, minHourRing, HoursKept); n > len(s.hours) {
		old := s.hours
		s.hours = make([]hourRec, n)
		moveEntries(s.hours, old, max(curH-int64(len(old)), firstH), curH)
	}
}

// moveEntries copies entries [lo, hi) of ring src to their slots in ring
// dst, of another length.
func moveEntries[T any](dst, src []T, lo, hi int64) {
	for i, j := range segments(lo, hi, len(src)) {
		k := i
		for a, b := range segments(lo, lo+int64(j-i), len(dst)) {
			k += copy(dst[a:b], src[k:j])
		}
		lo += int64(j - i)
	}
}

func (s *Series) setMinute(m int64, b Minute, fine uint8) {
	n := len(s.ring) / 2
	i := mod(m, n)
	slot := &s.ring[i]
	if slot.Valid() {
		s.observed--
	}
	if b.Valid() {
		s.observed++
	}
	*slot = b
	s.ring[n+i] = Minute(fine)
}

// clearMinutes marks minutes [from, to) as without data. Only the last
// ring length of them can still be in the ring.
func (s *Series) clearMinutes(from, to int64) {
	n := len(s.ring) / 2
	if to-from > int64(n) {
		from = to - int64(n)
	}
	for i, j := range segments(from, to, n) {
		for _, b := range s.ring[i:j] {
			if b.Valid() {
				s.observed--
			}
		}
		clear(s.ring[i:j])
		clear(s.ring[n+i : n+j])
	}
}

func (s *Series) clearHours(from, to int64) {
	n := len(s.hours)
	if to-from > int64(n) {
		from = to - int64(n)
	}
	for i, j := range segments(from, to, n) {
		clear(s.hours[i:j])
	}
}

// segments walks the entries [lo, hi) of a ring of n slots, where entry x
// lives in slot x mod n, oldest first, and yields the slots they occupy
// as contiguous ranges [i, j): one range, or two when they wrap around the
// end of the ring. Every reader and writer of a ring walks it with
// segments, so that the modular arithmetic is written once. A ring holds
// only its last n entries: callers clamp lo to at least hi-n, or the walk
// wraps onto the slots of later entries.
func segments(lo, hi int64, n int) iter.Seq2[int, int] {
	return func(yield func(i, j int) bool) {
		for lo < hi {
			i := mod(lo, n)
			j := i + int(min(int64(n-i), hi-lo))
			if !yield(i, j) {
				return
			}
			lo += int64(j - i)
		}
	}
}

// mod is the slot of absolute index a in a ring of n.
func mod(a int64, n int) int {
	r := int(a % int64(n))
	if r < 0 {
		r += n
	}
	return r
}

// minuteBytes views a slice of minutes as bytes.
func minuteBytes(m []Minute) []byte {
	if len(m) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&m[0])), len(m))
}
