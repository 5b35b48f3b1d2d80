package history

import (
	"bytes"
	"math"
	"slices"
)

// Checkpoints of older format versions are read by upgrading each record,
// version by version, to the current format, and decoding the result as a
// record of the current format: only the current format has a decoder.
// A new format version adds the layout of the version it replaces and one
// upgrade function from it, and leaves the older ones alone.
const (
	// version1 had no timeline offset: its series have none.
	version1 = 1
	// version2 had no fine CPU codes: its minutes read as mid-bucket.
	version2 = 2
	// version3 had no activity below the minute: its hours read as busy
	// for their active minutes in full, in runs as long as those.
	version3 = 3
	// version4 had no restarts, down or listening minutes: its hours have
	// none.
	version4 = 4
	// version5 had no sampled seconds: its minutes read as sampled in
	// full.
	version5 = 5
)

// layout is what a record of an older version holds past its key and
// flags: a fixed part of headLen bytes, a byte per minute, a fine CPU code
// per minute if fine, and hourLen bytes per finished hour.
type layout struct {
	headLen, hourLen int
	fine             bool
}

// layouts holds the layout of each older version.
var layouts = [formatVersion]layout{
	version1: {headLen: 134, hourLen: 26},
	version2: {headLen: 142, hourLen: 26},
	version3: {headLen: 142, hourLen: 26, fine: true},
	version4: {headLen: 222, hourLen: 40, fine: true},
	version5: {headLen: 234, hourLen: 40, fine: true},
}

// upgrades holds, for each older version, the function that turns one of
// its records into a record of the next version.
var upgrades = [formatVersion]func(*legacyRecord) error{
	version1: upgradeV1,
	version2: upgradeV2,
	version3: upgradeV3,
	version4: upgradeV4,
	version5: upgradeV5,
}

// legacyRecord is a record past its key and flags, split into its parts,
// in the layout of some version.
type legacyRecord struct {
	head, mins, fine, hours []byte
	nHours                  int
}

// legacy decodes the rest of a record of the decoder's (older) version:
// it reads the record in that version's layout, upgrades it to the
// current format and decodes that.
func (d *decoder) legacy() (*Series, error) {
	l := layouts[d.version]
	c, err := d.next(l.headLen)
	if err != nil {
		return nil, err
	}
	// The times come first in every version.
	nMin, nHours, err := extents(int64(le.Uint64(c)), int64(le.Uint64(c[8:])), int64(le.Uint64(c[16:])))
	if err != nil {
		return nil, err
	}
	perMinute := int64(1)
	if l.fine {
		perMinute = 2
	}
	if !d.fits(nMin*perMinute + nHours*int64(l.hourLen)) {
		return nil, corrupt("rings longer than the rest of the file")
	}
	r := legacyRecord{head: bytes.Clone(c), mins: make([]byte, nMin), hours: make([]byte, nHours*int64(l.hourLen)), nHours: int(nHours)}
	if l.fine {
		r.fine = make([]byte, nMin)
	}
	for _, p := range [...][]byte{r.mins, r.fine, r.hours} {
		if err := d.read(p); err != nil {
			return nil, err
		}
	}
	for v := d.version; v < formatVersion; v++ {
		if err := upgrades[v](&r); err != nil {
			return nil, err
		}
	}
	b := slices.Concat(r.head, r.mins, r.fine, r.hours)
	if d.up == nil {
		d.up = &decoder{version: formatVersion}
	}
	d.up.r, d.up.n, d.up.size = bytes.NewReader(b), 0, int64(len(b))
	return d.up.record()
}

// upgradeV1 adds the timeline offset, zero, after the times.
func upgradeV1(r *legacyRecord) error {
	r.head = slices.Insert(r.head, 24, make([]byte, 8)...)
	return nil
}

// upgradeV2 adds fine CPU codes: mid-bucket, as minutes without them
// decoded before.
func upgradeV2(r *legacyRecord) error {
	r.fine = make([]byte, len(r.mins))
	for i, b := range r.mins {
		if c := Minute(b).Code(); c >= 2 && c < codeMax {
			r.fine[i] = FineUnknown
		}
	}
	return nil
}

// upgradeV3 adds activity below the minute. The minute so far counts as
// busy, and so do the hour's active minutes, as the analysis took them
// before, with all their CPU, in one run as long as those; there is no
// busy run in progress.
func upgradeV3(r *legacyRecord) error {
	// Offsets in a version 3 fixed part: the minute's observed time and
	// CPU, the end of its accumulator, the hour's CPU and active minutes.
	const observed, cpu, minuteEnd, hourCPU, hourActv = 36, 44, 92, 92, 141
	h := r.head
	busy := le.Uint64(h[observed:])
	b := append([]byte(nil), h[:minuteEnd]...)
	b = le.AppendUint64(b, busy)
	b = le.AppendUint64(b, busy)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint64(b, 0)
	b = append(b, h[cpu:cpu+8]...)
	b = append(b, h[minuteEnd:]...)
	hourBusy := uint64(h[hourActv]) * uint64(nsPerMinute)
	b = le.AppendUint64(b, hourBusy)
	b = le.AppendUint64(b, hourBusy)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint64(b, 0)
	b = append(b, h[hourCPU:hourCPU+8]...)
	r.head = le.AppendUint64(b, 0)
	return r.rehour(26, func(b, rec []byte, _ int) ([]byte, error) {
		busy := uint16(rec[25]) * 60
		b = append(b, rec...)
		b = le.AppendUint16(b, busy)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint16(b, busy)
		b = le.AppendUint32(b, 0)
		return append(b, rec[:4]...), nil
	})
}

// upgradeV4 adds restarts, down and listening minutes, none, and turns the
// CPU peak of an hour from a float32 into its code.
func upgradeV4(r *legacyRecord) error {
	// The end of the minute accumulator's activity below the minute.
	const at = 128
	r.head = slices.Insert(r.head, at, make([]byte, 12)...)
	return r.rehour(40, func(b, rec []byte, nth int) ([]byte, error) {
		peak := math.Float32frombits(le.Uint32(rec[32:]))
		if !finite(float64(peak)) {
			return nil, corrupt("finished hour %d of %d: negative or not finite", nth, r.nHours)
		}
		var code uint16
		if peak > 0 {
			code = peakCode(float64(peak))
		}
		b = append(b, rec[:32]...)
		b = le.AppendUint16(b, code)
		// The busy CPU, then no listening or down minutes.
		return append(b, rec[36], rec[37], rec[38], rec[39], 0, 0), nil
	})
}

// upgradeV5 adds the time sampled: the minutes sampled count in full, as
// the analysis took them before.
func upgradeV5(r *legacyRecord) error {
	// Offset of the hour's minutes in a version 5 fixed part.
	const minutes = 188
	r.head = le.AppendUint64(r.head, uint64(r.head[minutes])*uint64(nsPerMinute))
	return r.rehour(40, func(b, rec []byte, _ int) ([]byte, error) {
		return le.AppendUint16(append(b, rec...), uint16(rec[24])*60), nil
	})
}

// rehour rewrites each finished hour, of n bytes, with fn, which appends
// the new one to b; nth counts the hours from 1.
func (r *legacyRecord) rehour(n int, fn func(b, rec []byte, nth int) ([]byte, error)) error {
	out := make([]byte, 0, r.nHours*(n+8))
	for i := range r.nHours {
		var err error
		if out, err = fn(out, r.hours[i*n:(i+1)*n], i+1); err != nil {
			return err
		}
	}
	r.hours = out
	return nil
}
