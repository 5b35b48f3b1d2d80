package analysis

import (
	"math/bits"
	"slices"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

// The analysis reads a week of minutes in place (see
// history.Series.EachMinutes), eight at a time, as the lanes of a 64-bit
// word (lane j, bits 8j to 8j+7, is the j-th minute): classifying a word
// costs a few instructions and no branch, where a minute at a time cost a
// branch per minute that activity made unpredictable.
const (
	lanesLow7 = 0x7f7f7f7f7f7f7f7f
	lanesHigh = 0x8080808080808080
	lanesOne  = 0x0101010101010101
	// gatherLanes moves bit 0 of lane j to bit 56+j when multiplied by;
	// no two partial products share a bit below 56, so nothing carries
	// into the top byte.
	gatherLanes = 0x0102040810204080
	// noCode is no minute's code (codes are 7 bits): a lane value that
	// matches nothing.
	noCode = 0xff
)

// word8 reads b[0:8] as one little-endian word; the compiler merges the
// loads into one.
func word8[T ~uint8](b []T) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// classify8 gives the valid and the active minutes of a word as 8-bit
// masks, bit j for lane j (see minuteClass).
func classify8(x uint64) (valid, active uint8) {
	// The high bit of a lane is set when its code (low 7 bits) is not 0;
	// no lane's sum carries into the next.
	v := ((x & lanesLow7) + lanesLow7) & lanesHigh
	a := v & x
	return uint8((v >> 7 * gatherLanes) >> 56), uint8((a >> 7 * gatherLanes) >> 56)
}

// zeroLanes sets the high bit of every lane of x that is 0, and no other
// bit.
func zeroLanes(x uint64) uint64 {
	return ^(((x & lanesLow7) + lanesLow7) | x | lanesLow7)
}

// extend makes b n long, zeroing what it adds.
func extend(b []uint64, n int) []uint64 {
	if l := len(b); l < n {
		b = slices.Grow(b, n-l)[:n]
		clear(b[l:])
	}
	return b
}

// minuteScan is what a pass over the window's minutes leaves: bitmaps of
// its valid and active minutes (bit i%64 of word i/64 is minute i of the
// window; they run a word past the window, so that a stretch ending on a
// word boundary may flush an empty word), from which counts per hour are
// popcounts and bursts a few bit scans each, and a histogram of their
// values, in four tables so that equal minutes in a row do not queue on
// one counter.
type minuteScan struct {
	valid, active []uint64
	hist          [4][256]int32
	held          int // minutes added
}

// add records the stretch of minutes at offset at of the window (its fine
// codes are for refine); the bitmaps reach its end.
func (w *minuteScan) add(at int, mins []history.Minute, _ []uint8) {
	w.held += len(mins)
	need := (at+len(mins))>>6 + 1
	w.valid, w.active = extend(w.valid, need), extend(w.active, need)
	i := 0
	// One by one up to a multiple of 8 in the window, so that each word
	// below fills whole bytes of the bitmaps.
	for ; i < len(mins) && (at+i)&7 != 0; i++ {
		w.add1(at+i, mins[i])
	}
	// The bitmaps' bits gather in registers and are written once a word.
	var accV, accA uint64
	cur := (at + i) >> 6
	h := &w.hist
	for i+8 <= len(mins) {
		words := (len(mins) - i) >> 3
		if words >= 8 {
			words = 8
			// A container that keeps one minute value for an hour (a
			// pod's pause container, idle below the lowest code; one
			// pinned at its limit) has its blocks of 64 minutes counted
			// at once. Whether a block is steady is predictable, unlike
			// whether a word is.
			if m := mins[i : i+64 : i+64]; steady(m) {
				h[0][m[0]] += 64
				c := uint64(minuteClass[m[0]])
				v, a := -(c & 1), -(c >> 1) // all ones or none
				p := at + i
				if p>>6 != cur {
					w.valid[cur] |= accV
					w.active[cur] |= accA
					accV, accA, cur = 0, 0, p>>6
				}
				accV |= v << (p & 63)
				accA |= a << (p & 63)
				if sh := p & 63; sh != 0 { // the block runs into the next word
					w.valid[cur] |= accV
					w.active[cur] |= accA
					accV, accA, cur = v>>(64-sh), a>>(64-sh), cur+1
				}
				i += 64
				continue
			}
		}
		for range words {
			m := mins[i : i+8 : i+8]
			x := word8(m)
			// Indexing by the bytes as loaded takes fewer instructions
			// than by shifts of x.
			h[0][m[0]]++
			h[1][m[1]]++
			h[2][m[2]]++
			h[3][m[3]]++
			h[0][m[4]]++
			h[1][m[5]]++
			h[2][m[6]]++
			h[3][m[7]]++
			v, a := classify8(x)
			p := at + i
			if p>>6 != cur {
				w.valid[cur] |= accV
				w.active[cur] |= accA
				accV, accA, cur = 0, 0, p>>6
			}
			accV |= uint64(v) << (p & 63)
			accA |= uint64(a) << (p & 63)
			i += 8
		}
	}
	w.valid[cur] |= accV
	w.active[cur] |= accA
	for ; i < len(mins); i++ {
		w.add1(at+i, mins[i])
	}
}

// sameCode reports whether the 64 minutes of m all have the code of the
// lanes of b.
func sameCode(m []history.Minute, b uint64) bool {
	m = m[:64:64]
	return ((word8(m[0:8])^b)|(word8(m[8:16])^b)|(word8(m[16:24])^b)|(word8(m[24:32])^b)|
		(word8(m[32:40])^b)|(word8(m[40:48])^b)|(word8(m[48:56])^b)|(word8(m[56:64])^b))&lanesLow7 == 0
}

// steady reports whether the 64 minutes of m are all the same.
func steady(m []history.Minute) bool {
	m = m[:64:64]
	x := word8(m[0:8])
	b := uint64(uint8(x)) * lanesOne
	return (x^b)|(word8(m[8:16])^b)|(word8(m[16:24])^b)|(word8(m[24:32])^b)|
		(word8(m[32:40])^b)|(word8(m[40:48])^b)|(word8(m[48:56])^b)|(word8(m[56:64])^b) == 0
}

func (w *minuteScan) add1(p int, m history.Minute) {
	w.hist[0][m]++
	c := uint64(minuteClass[m])
	w.valid[p>>6] |= (c & 1) << (p & 63)
	w.active[p>>6] |= (c >> 1) << (p & 63)
}

// countBits counts the set bits of bm in [lo, hi).
func countBits(bm []uint64, lo, hi int) int {
	if lo >= hi {
		return 0
	}
	wl, wh := lo>>6, (hi-1)>>6
	ml, mh := ^uint64(0)<<(lo&63), ^uint64(0)>>(63-(hi-1)&63)
	if wl == wh {
		return bits.OnesCount64(bm[wl] & ml & mh)
	}
	c := bits.OnesCount64(bm[wl]&ml) + bits.OnesCount64(bm[wh]&mh)
	for _, x := range bm[wl+1 : wh] {
		c += bits.OnesCount64(x)
	}
	return c
}

// scanWindow computes the figures of minuteStats for the window [from, to)
// of s, first the Unix minute of its first minute, and adds the window's
// bursts to sc.bursts, in one pass over the minutes; the percentiles then
// take a second pass, over the fine codes of the minutes they fall in
// (see refine).
func scanWindow(st *minuteStats, sc *Scratch, s *history.Series, from, to time.Time, first int64) {
	w := &sc.scan
	w.valid, w.active = w.valid[:0], w.active[:0]
	clear(w.hist[:])
	w.held = 0
	n := s.EachMinutes(from, to, w.add)
	w.valid, w.active = extend(w.valid, n>>6+1), extend(w.active, n>>6+1)
	for m := range st.cpu {
		st.cpu[m] = w.hist[0][m] + w.hist[1][m] + w.hist[2][m] + w.hist[3][m]
	}
	st.cpu[0] += int32(n - w.held) // the minutes the ring does not hold

	// Hour-of-day idleness, walking the window hour by hour (UTC): an
	// hour with an active minute refutes its hour of the day, one with
	// enough valid minutes and none active confirms it. An hour lies in
	// at most two words of the bitmaps.
	hourOfDay := int(((first/60)%24 + 24) % 24)
	u := floorDiv(first, 60) // the walked hour, in Unix hours
	for lo, hi := 0, 60-int((first%60+60)%60); lo < n; lo, hi, u = hi, hi+60, u+1 {
		end := min(hi, n)
		wl, wh := lo>>6, (end-1)>>6
		ml, mh := ^uint64(0)<<(lo&63), ^uint64(0)>>(63-(end-1)&63)
		if wl == wh {
			ml, mh = ml&mh, 0
		}
		refuted := w.active[wl]&ml|w.active[wh]&mh != 0
		confirmed := !refuted && bits.OnesCount64(w.valid[wl]&ml)+bits.OnesCount64(w.valid[wh]&mh) >= idleHourMinMinutes
		switch {
		case refuted:
			st.refute[hourOfDay] = min(st.refute[hourOfDay]+1, 255)
		case confirmed:
			st.confirm[hourOfDay] = min(st.confirm[hourOfDay]+1, 255)
		}
		if refuted || confirmed {
			we, zh := sc.clock.cell(u)
			st.week.add(we, zh, refuted, confirmed)
		}
		if hourOfDay++; hourOfDay == 24 {
			hourOfDay = 0
		}
	}
	// Valid and idle minutes of the last hour, day and 7 days: active
	// minutes are valid ones, so the rest of the valid are idle.
	for i, start := range [...]int{max(n-60, 0), max(n-24*60, 0), 0} {
		v := countBits(w.valid, start, n)
		st.valid[i], st.idle[i] = v, v-countBits(w.active, start, n)
	}

	w.runs(&sc.bursts, n>>6+1)
}

// runs finds the bursts, runs of active minutes, in the bitmaps' first
// words words: minutes without data inside a run join it, an idle minute
// ends it (a gap before it does not count), and a run still going at the
// end of the window counts as it is. A burst is thus its first active
// minute to its last one, and the bitmaps yield it in a few steps however
// long it is.
func (w *minuteScan) runs(b *burstStats, words int) {
	var start, last int
	in := false
	for i := range words {
		act := w.active[i]
		idle := w.valid[i] &^ act
		base := i << 6
		for {
			if !in {
				if act == 0 {
					break
				}
				p := bits.TrailingZeros64(act)
				start, last, in = base+p, base+p, true
				act &= act - 1
				idle &^= uint64(2)<<p - 1 // idle minutes before a burst end nothing
				continue
			}
			if idle == 0 {
				if act != 0 {
					last = base + 63 - bits.LeadingZeros64(act)
				}
				break
			}
			p := bits.TrailingZeros64(idle)
			if before := act & (uint64(1)<<p - 1); before != 0 {
				last = base + 63 - bits.LeadingZeros64(before)
			}
			b.add(last - start + 1)
			in = false
			act &^= uint64(1)<<p - 1
			idle &= idle - 1
		}
	}
	if in {
		b.add(last - start + 1)
	}
}

// burstStats collects burst lengths in minutes, for the percentiles of
// Bursts without sorting every burst: short ones are counted by length,
// the few longer ones listed.
type burstStats struct {
	short   [256]int32
	long    []int32
	n, most int
}

func (b *burstStats) reset() {
	clear(b.short[:])
	b.long = b.long[:0]
	b.n, b.most = 0, 0
}

func (b *burstStats) add(minutes int) {
	b.n++
	b.most = max(b.most, minutes)
	if minutes < len(b.short) {
		b.short[minutes]++
		return
	}
	b.long = append(b.long, int32(minutes))
}

// bursts gives the count, nearest-rank p50 and p95 and the maximum of the
// lengths collected, as sorting them all would.
func (b *burstStats) bursts() Bursts {
	n := b.n
	if n == 0 {
		return Bursts{}
	}
	slices.Sort(b.long)
	// at finds the length of rank r, ranks asked in ascending order;
	// cum counts the lengths up to l.
	l, cum := 0, int(b.short[0])
	at := func(r int) time.Duration {
		for cum <= r && l+1 < len(b.short) {
			l++
			cum += int(b.short[l])
		}
		if r < cum {
			return time.Duration(l) * time.Minute
		}
		return time.Duration(b.long[r-cum]) * time.Minute
	}
	p50 := at(rank(0.5, n))
	return Bursts{Count: n, P50: p50, P95: at(rank(0.95, n)), Max: time.Duration(b.most) * time.Minute}
}
