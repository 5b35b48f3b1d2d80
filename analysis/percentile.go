package analysis

import (
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/fleetscope/fleetscope/history"
)

// cpuOrder lists every Minute value by ascending Cores, so CPU percentiles
// come from a 256-bucket histogram instead of sorting a week of floats.
var cpuOrder = func() (o [256]history.Minute) {
	for i := range o {
		o[i] = history.Minute(i)
	}
	slices.SortStableFunc(o[:], func(a, b history.Minute) int {
		if a.Cores() < b.Cores() {
			return -1
		}
		if a.Cores() > b.Cores() {
			return 1
		}
		return 0
	})
	return o
}()

// rank is the nearest-rank index of percentile q among n sorted values.
func rank(q float64, n int) int {
	i := int(math.Ceil(q*float64(n))) - 1
	return min(max(i, 0), n-1)
}

// cpuPercentiles finds the CPU code of each percentile in the histogram h
// of the n minutes with data, then the exact value within that code from
// the fine codes of the window [from, to) of ss, the series h counts.
func cpuPercentiles(h *[256]int32, n int, ss []*history.Series, from, to time.Time) (p50, p95, maxCores float64) {
	if n == 0 {
		return 0, 0, 0
	}
	// Per percentile: its CPU code and its 1-based rank among the
	// minutes of that code.
	ranks := [3]int{rank(0.5, n) + 1, rank(0.95, n) + 1, n}
	var code [3]uint8
	var within [3]int
	cum := 0
	for _, m := range cpuOrder {
		c := int(h[m])
		if c == 0 || minuteClass[m]&1 == 0 { // the scan counts minutes without data too
			continue
		}
		before := cum
		cum += c
		for i, r := range ranks {
			if before < r && cum >= r {
				code[i], within[i] = m.Code(), r-before
			}
		}
	}
	p95, maxCores = refine(code[1], within[1], code[2], ss, from, to)
	return history.CoresFine(code[0], history.FineUnknown), p95, maxCores
}

// refine gives the exact CPU of the k-th smallest (1-based) minute among
// those of CPU code c95, and of the largest minute of code cmax, from the
// fine codes of the window [from, to) of ss in one pass: the histogram's
// code says which bucket a percentile falls in, the pass says where in
// it. (The median is left at its bucket's middle: nothing is computed
// from it.)
func refine(c95 uint8, k int, cmax uint8, ss []*history.Series, from, to time.Time) (p95, maxCores float64) {
	p95, maxCores = history.CoresFine(c95, history.FineUnknown), history.CoresFine(cmax, history.FineUnknown)
	if c95 < 2 && cmax < 2 {
		return p95, maxCores
	}
	// The lanes to look for; the largest minute of c95 is the top of its
	// histogram, so a cmax equal to it needs no search of its own.
	f := refiner{want95: noCode, wantMax: noCode}
	if c95 >= 2 {
		f.want95 = uint64(c95)
	}
	if cmax >= 2 && cmax != c95 {
		f.wantMax = uint64(cmax)
	}
	for _, s := range ss {
		s.EachMinutes(from, to, f.add)
	}
	hist := &f.hist
	if c95 >= 2 {
		cum := 0
		for v := range 256 {
			c := int(hist[0][v] + hist[1][v] + hist[2][v] + hist[3][v])
			if cum += c; cum >= k {
				p95 = history.CoresFine(c95, uint8(v))
				break
			}
		}
		if cmax == c95 {
			for v := 255; v >= 0; v-- {
				if hist[0][v]|hist[1][v]|hist[2][v]|hist[3][v] != 0 {
					f.top = uint8(v)
					break
				}
			}
		}
	}
	if cmax >= 2 {
		maxCores = history.CoresFine(cmax, f.top)
	}
	return p95, maxCores
}

// refiner is refine's pass: a histogram of the fine codes of the minutes
// of code want95, in four tables so that equal minutes in a row do not
// queue on one counter, and the top fine code of those of code wantMax.
type refiner struct {
	want95, wantMax uint64 // noCode for none
	hist            [4][256]int32
	top             uint8
}

// add takes the stretch of minutes mins, with their fine codes.
func (f *refiner) add(_ int, mins []history.Minute, fine []uint8) {
	hist, top := &f.hist, f.top
	want95, wantMax := f.want95, f.wantMax
	b95, bmax, search95, searchMax := want95*lanesOne, wantMax*lanesOne, want95 != noCode, wantMax != noCode
	i := 0
	for i+8 <= len(mins) {
		words := (len(mins) - i) >> 3
		if words >= 8 {
			words = 8
			// Under a steady load every minute of a block of 64 is of
			// want95 (and so none of wantMax): they are counted without
			// masks.
			// Whether a whole block matches is predictable, unlike
			// whether a word does.
			if search95 && sameCode(mins[i:i+64:i+64], b95) {
				f.add64(fine[i : i+64 : i+64])
				i += 64
				continue
			}
		}
		for range words {
			x := word8(mins[i:]) & lanesLow7
			e95, emax := zeroLanes(x^b95), uint64(0)
			if searchMax {
				emax = zeroLanes(x ^ bmax)
			}
			if e95|emax == 0 {
				i += 8
				continue
			}
			v := fine[i : i+8 : i+8]
			// Every lane is counted, by 1 where it matches and 0 where
			// not: a loop over the matching lanes would mispredict its
			// end at every word.
			m := e95 >> 7
			hist[0][v[0]] += int32(m & 1)
			hist[1][v[1]] += int32(m >> 8 & 1)
			hist[2][v[2]] += int32(m >> 16 & 1)
			hist[3][v[3]] += int32(m >> 24 & 1)
			hist[0][v[4]] += int32(m >> 32 & 1)
			hist[1][v[5]] += int32(m >> 40 & 1)
			hist[2][v[6]] += int32(m >> 48 & 1)
			hist[3][v[7]] += int32(m >> 56 & 1)
			for e := emax; e != 0; e &= e - 1 {
				top = max(top, v[bits.TrailingZeros64(e)>>3])
			}
			i += 8
		}
	}
	for ; i < len(mins); i++ {
		switch uint64(mins[i].Code()) {
		case want95:
			hist[0][fine[i]]++
		case wantMax:
			top = max(top, fine[i])
		}
	}
	f.top = top
}

// add64 counts the fine codes of a block of 64 minutes all of code want95.
func (f *refiner) add64(fine []uint8) {
	hist := &f.hist
	fine = fine[:64:64]
	for j := 0; j < 64; j += 8 {
		hist[0][fine[j]]++
		hist[1][fine[j+1]]++
		hist[2][fine[j+2]]++
		hist[3][fine[j+3]]++
		hist[0][fine[j+4]]++
		hist[1][fine[j+5]]++
		hist[2][fine[j+6]]++
		hist[3][fine[j+7]]++
	}
}

// p95Max gives the nearest-rank p95 and the maximum of vs (not empty), as
// sorting vs would. The p95 of a week of hours is their 9th largest, so
// keeping the few largest in order beats sorting all.
func p95Max(vs []uint64) (p95, largest uint64) {
	n := len(vs)
	k := n - rank(0.95, n) // the p95 is the k-th largest
	var top [16]uint64     // top[:m] are the m largest so far, descending
	if k > len(top) {
		slices.Sort(vs)
		return vs[n-k], vs[n-1]
	}
	m := 0
	for _, v := range vs {
		if m == k {
			if v <= top[k-1] {
				continue
			}
			m-- // v displaces the smallest kept
		}
		j := m
		for ; j > 0 && top[j-1] < v; j-- {
			top[j] = top[j-1]
		}
		top[j] = v
		m++
	}
	return top[k-1], top[0]
}
