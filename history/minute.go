package history

import "math"

const (
	// MinutesKept is the length of the minute ring: one week.
	MinutesKept = 7 * 24 * 60
	// HoursKept is the length of the hour ring: one week.
	HoursKept = 7 * 24
)

// CPU codes of a [Minute]. Codes 2 to 126 split [0.0001, 64) cores into 125
// buckets of equal ratio r = 640000^(1/125) ≈ 1.1129, so a decoded value is
// within ±5.5% of what was measured:
//
//	code = 1                                   if cores < 0.0001 (or NaN)
//	code = 2 + floor(ln(cores/0.0001) / ln r)  if 0.0001 ≤ cores < 64
//	code = 127                                 if cores ≥ 64
//
// Decoding gives the geometric midpoint 0.0001 × r^(code-2+0.5) of the
// bucket, 0 for code 1 and 64 for the open-ended code 127.
const (
	minCores    = 0.0001
	maxCores    = 64.0
	codeBuckets = 125
	codeIdle    = 1   // below minCores
	codeMax     = 127 // maxCores and above
	activeBit   = 0x80
	codeMask    = 0x7f
)

var (
	logCodeRatio = math.Log(maxCores/minCores) / codeBuckets
	// codeCores is the decoded value of each code.
	codeCores = func() (t [128]float64) {
		for c := 2; c < codeMax; c++ {
			t[c] = minCores * math.Exp((float64(c-2)+0.5)*logCodeRatio)
		}
		t[codeMax] = maxCores
		return t
	}()
)

// Minute is one minute in one byte: bit 7 = active (not idle); bits 0..6 =
// CPU code. Code 0 means no sample in that minute (the container was not
// running or not observed), code 1 below 0.0001 cores, codes 2..127 a log
// scale from 0.0001 to 64 cores in ≈11% steps (see [EncodeCPU]).
type Minute uint8

// EncodeCPU maps an average CPU usage in cores to a code in 1..127: 1 below
// 0.0001 cores (and for NaN or negative input), then
// 2 + floor(ln(cores/0.0001)/ln r) with r = 640000^(1/125) ≈ 1.113, and 127
// from 64 cores up. It never returns 0, which means "no data".
func EncodeCPU(cores float64) uint8 {
	switch {
	case !(cores >= minCores): // also NaN
		return codeIdle
	case cores >= maxCores:
		return codeMax
	}
	c := 2 + int(math.Log(cores/minCores)/logCodeRatio)
	return uint8(min(c, codeMax))
}

// MakeMinute encodes a sampled minute.
func MakeMinute(cores float64, active bool) Minute {
	m := Minute(EncodeCPU(cores))
	if active {
		m |= activeBit
	}
	return m
}

// Valid reports whether the minute was sampled.
func (m Minute) Valid() bool { return m&codeMask != 0 }

// Active reports whether the sampled minute was above an idle threshold.
func (m Minute) Active() bool { return m.Valid() && m&activeBit != 0 }

// Code is the CPU code, 0 for a minute without samples.
func (m Minute) Code() uint8 { return uint8(m & codeMask) }

// Cores is the decoded average CPU usage: the geometric midpoint of the
// code's bucket, 0 below 0.0001 cores or without samples, 64 when saturated.
func (m Minute) Cores() float64 { return codeCores[m&codeMask] }

// EncodeCPUFine refines EncodeCPU: fine says where in its code's bucket
// cores lies, in 256 steps of equal ratio, so that CoresFine decodes within
// ±0.022% (r^(1/512)) of what was measured. It is 0 for codes 1 and 127,
// whose buckets are open.
func EncodeCPUFine(cores float64) (code, fine uint8) {
	code = EncodeCPU(cores)
	if code == codeIdle || code == codeMax {
		return code, 0
	}
	pos := (math.Log(cores/minCores)/logCodeRatio - float64(code-2)) * 256
	return code, uint8(min(max(pos, 0), 255))
}

// CoresFine decodes a CPU code and its fine code: the geometric midpoint of
// the fine step, 0 for code 0 or 1, 64 for code 127.
func CoresFine(code, fine uint8) float64 {
	code &= codeMask
	if code < 2 || code == codeMax {
		return codeCores[code]
	}
	return minCores * math.Exp((float64(code-2)+(float64(fine)+0.5)/256)*logCodeRatio)
}

// FineUnknown is the fine code of minutes recorded before fine codes were
// kept (checkpoint versions 1 and 2): the middle of the bucket, which is
// what Cores decodes.
const FineUnknown = 128
