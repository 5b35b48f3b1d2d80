package history

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Sentinel errors of ReadStore and LoadFile.
var (
	// ErrCorrupt means the checkpoint is not one: bad magic, checksum,
	// length or value.
	ErrCorrupt = errors.New("corrupt history checkpoint")
	// ErrVersion means the checkpoint has another format version.
	ErrVersion = errors.New("unsupported history checkpoint version")
)

const (
	magic         = "FSHISTRY"
	formatVersion = 6
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
	version5   = 5
	headerLen  = len(magic) + 4
	trailerLen = 4

	flagSeen = 1 << 0

	// Bounds on what a checkpoint may claim, checked before allocating.
	maxSeries = 1 << 20
	maxKeyLen = 1024

	hourRecLen = 42
	// hourRecLenV5 is the length of an hour of version 5, without the
	// sampled seconds.
	hourRecLenV5 = 40
	// hourRecLenV4 is the length of an hour of version 4, with the peak
	// as a float32 and no listening, down minutes or restarts.
	hourRecLenV4 = 40
	// hourRecLenV3 is the length of an hour of versions 1 to 3.
	hourRecLenV3 = 26
	// seriesFixedLen is the size of a record with samples, without its
	// key strings and ring extents.
	seriesFixedLen = 2 + 2 + 1 + accLen
	// maxMinute keeps decoded minute numbers in the range of time.Time's
	// Unix nanoseconds.
	maxMinute = math.MaxInt64 / nsPerMinute
)

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// WriteTo writes the checkpoint of every series, sorted by key, to w. It
// buffers one series at a time, so w need not be buffered.
func (st *Store) WriteTo(w io.Writer) (int64, error) { return st.writeTo(w, formatVersion) }

// writeTo writes the checkpoint in format version (1 exists so that tests
// can make checkpoints as older agents wrote them).
func (st *Store) writeTo(w io.Writer, version uint32) (int64, error) {
	// A series that never got a sample holds no history: it is not
	// written, and the decoder skips any such record, so that a record of
	// a few bytes never costs a Series on the heap.
	keys := slices.DeleteFunc(st.Keys(), func(k Key) bool { return !st.series[k].seen })
	if len(keys) > maxSeries {
		return 0, fmt.Errorf("history checkpoint: %d series, at most %d can be written", len(keys), maxSeries)
	}
	for _, k := range keys {
		if len(k.Namespace) > maxKeyLen || len(k.ID) > maxKeyLen {
			return 0, fmt.Errorf("history checkpoint: key %.40q/%.40q longer than %d bytes", k.Namespace, k.ID, maxKeyLen)
		}
	}
	cw := &crcWriter{w: w}
	buf := make([]byte, 0, 32<<10)
	buf = append(buf, magic...)
	buf = le.AppendUint32(buf, version)
	buf = le.AppendUint32(buf, uint32(len(keys)))
	for _, k := range keys {
		buf = appendSeries(buf, k, st.series[k], version)
		if _, err := cw.Write(buf); err != nil {
			return cw.n, err
		}
		buf = buf[:0]
	}
	if _, err := cw.Write(buf); err != nil {
		return cw.n, err
	}
	_, err := cw.Write(le.AppendUint32(buf[:0], cw.crc))
	return cw.n, err
}

type crcWriter struct {
	w   io.Writer
	n   int64
	crc uint32
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}

func appendString(b []byte, s string) []byte {
	b = le.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendFloat(b []byte, f float64) []byte { return le.AppendUint64(b, math.Float64bits(f)) }

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func appendSeries(b []byte, k Key, s *Series, version uint32) []byte {
	b = appendString(b, k.Namespace)
	b = appendString(b, k.ID)
	b = append(b, flagSeen)
	b = le.AppendUint64(b, uint64(s.first))
	b = le.AppendUint64(b, uint64(s.last))
	b = le.AppendUint64(b, uint64(s.cur))
	if version != version1 {
		b = le.AppendUint64(b, uint64(s.offset))
	}

	a := &s.acc
	b = le.AppendUint32(b, a.samples)
	b = le.AppendUint64(b, uint64(a.observed))
	b = appendFloat(b, a.cpu)
	for _, v := range [...]uint64{a.rx, a.tx, a.disk, a.accepts, a.maxWS} {
		b = le.AppendUint64(b, v)
	}
	if version > version3 {
		b = le.AppendUint64(b, uint64(a.busy))
		b = le.AppendUint64(b, uint64(a.longest))
		b = le.AppendUint32(b, a.runs)
		b = appendFloat(b, a.peak)
		b = appendFloat(b, a.busyCPU)
	}
	if version > version4 {
		b = le.AppendUint64(b, uint64(a.down))
		b = append(b, boolByte(a.listen), s.hour.listen, s.hour.down, s.hour.restarts)
	}
	h := &s.hour
	b = appendFloat(b, h.cpu)
	for _, v := range [...]uint64{h.rx, h.tx, h.disk, h.accepts, h.maxWS} {
		b = le.AppendUint64(b, v)
	}
	b = append(b, h.minutes, h.actv)
	if version > version3 {
		b = le.AppendUint64(b, uint64(h.busy))
		b = le.AppendUint64(b, uint64(h.longest))
		b = le.AppendUint32(b, h.runs)
		b = appendFloat(b, h.peak)
		b = appendFloat(b, h.busyCPU)
		b = le.AppendUint64(b, uint64(s.run))
	}
	if version > version5 {
		b = le.AppendUint64(b, uint64(h.observed))
	}

	mins, fine := s.mins(), s.fine()
	for m, n := s.minuteExtent(), len(mins); m < s.cur; {
		i := mod(m, n)
		seg := mins[i:min(n, i+int(s.cur-m))]
		b = append(b, minuteBytes(seg)...)
		m += int64(len(seg))
	}
	if version > version2 {
		for m, n := s.minuteExtent(), len(fine); m < s.cur; {
			i := mod(m, n)
			seg := fine[i:min(n, i+int(s.cur-m))]
			b = append(b, seg...)
			m += int64(len(seg))
		}
	}
	for hr, curH := s.hourExtent(), floorDiv(s.cur, 60); hr < curH; hr++ {
		r := &s.hours[mod(hr, len(s.hours))]
		b = le.AppendUint32(b, math.Float32bits(r.cpu))
		b = le.AppendUint32(b, r.maxWSKiB)
		b = le.AppendUint32(b, math.Float32bits(r.rx))
		b = le.AppendUint32(b, math.Float32bits(r.tx))
		b = le.AppendUint32(b, math.Float32bits(r.disk))
		b = le.AppendUint32(b, r.accepts)
		c := r.counts()
		b = append(b, c.minutes, c.actv)
		switch {
		case version > version4:
			b = le.AppendUint16(b, c.busy)
			b = le.AppendUint16(b, c.runs)
			b = le.AppendUint16(b, r.longest)
			b = le.AppendUint16(b, r.peak)
			b = le.AppendUint32(b, math.Float32bits(r.busyCPU))
			// Listening and down minutes in the low 6 bits, the
			// restarts in the top 2 bits of both, the high ones first.
			b = append(b, c.listen|c.restarts>>2<<6, c.down|c.restarts&3<<6)
			if version > version5 {
				b = le.AppendUint16(b, c.sampled)
			}
		case version == version4:
			b = le.AppendUint16(b, c.busy)
			b = le.AppendUint16(b, c.runs)
			b = le.AppendUint16(b, r.longest)
			b = le.AppendUint32(b, math.Float32bits(float32(r.peakCores())))
			b = le.AppendUint32(b, math.Float32bits(r.busyCPU))
		}
	}
	return b
}

// minuteExtent is the first minute of the ring worth writing: nothing
// before the first sample holds data.
func (s *Series) minuteExtent() int64 {
	return max(s.cur-MinutesKept, floorDiv(s.first, nsPerMinute))
}

func (s *Series) hourExtent() int64 {
	return max(floorDiv(s.cur, 60)-HoursKept, floorDiv(s.first, nsPerHour))
}

// ReadStore reads a checkpoint written by WriteTo, up to the end of r.
// Errors wrap ErrCorrupt or ErrVersion when the data is at fault; other
// errors come from r.
func ReadStore(r io.Reader) (*Store, error) {
	return readStore(r, -1)
}

// readStore is ReadStore for a checkpoint of size bytes (-1: unknown),
// against which the decoder bounds every count and length it reads.
func readStore(r io.Reader, size int64) (*Store, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 64<<10), size: size}
	var hdr [headerLen]byte
	if err := d.read(hdr[:]); err != nil {
		return nil, err
	}
	v, err := checkHeader(hdr[:])
	if err != nil {
		return nil, err
	}
	d.version = v
	st, err := d.payload()
	if err != nil {
		return nil, err
	}
	want := d.crc
	var tr [trailerLen]byte
	if err := d.read(tr[:]); err != nil {
		return nil, err
	}
	if le.Uint32(tr[:]) != want {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	var one [1]byte
	switch _, err := io.ReadFull(d.r, one[:]); {
	case err == nil:
		return nil, fmt.Errorf("%w: data after the checksum at byte %d", ErrCorrupt, d.n)
	case err != io.EOF:
		return nil, err
	}
	return st, nil
}

// Error texts of the decoder never quote what the file holds (bytes,
// keys, decoded values): the file may be anything, say a link to a
// secret, and the errors reach /readyz and the log. They say what is
// wrong and where (series index, byte offset).

// checkHeader returns the format version of a checkpoint it can read.
func checkHeader(hdr []byte) (uint32, error) {
	if string(hdr[:len(magic)]) != magic {
		return 0, fmt.Errorf("%w: not a history checkpoint (bad magic)", ErrCorrupt)
	}
	v := le.Uint32(hdr[len(magic):])
	if v < version1 || v > formatVersion {
		return 0, fmt.Errorf("%w: another format version (this agent reads versions %d to %d)", ErrVersion, version1, formatVersion)
	}
	return v, nil
}

// decodePayload decodes a payload without header and checksum; it exists
// so that the decoder can be fuzzed past the checksum.
func decodePayload(r io.Reader) (*Store, error) {
	return (&decoder{r: r, version: formatVersion, size: -1}).payload()
}

// decoder reads a checkpoint and keeps a running checksum. Fixed-size
// parts are read whole into scratch and taken apart with a cursor.
type decoder struct {
	r       io.Reader
	version uint32
	crc     uint32
	n       int64 // bytes consumed, for error messages
	size    int64 // of the whole checkpoint; -1 when unknown
	scratch [HoursKept * hourRecLen]byte
}

func (d *decoder) read(p []byte) error {
	n, err := io.ReadFull(d.r, p)
	d.crc = crc32.Update(d.crc, castagnoli, p[:n])
	d.n += int64(n)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = fmt.Errorf("%w: truncated at byte %d", ErrCorrupt, d.n)
	}
	return err
}

// next reads n ≤ len(scratch) bytes.
func (d *decoder) next(n int) (cursor, error) {
	p := d.scratch[:n]
	return cursor(p), d.read(p)
}

func (d *decoder) str(what string) (string, error) {
	c, err := d.next(2)
	if err != nil {
		return "", err
	}
	n := int(c.u16())
	if n > maxKeyLen || !d.fits(int64(n)) {
		return "", fmt.Errorf("%w: %s at byte %d longer than %d bytes or than the rest of the file", ErrCorrupt, what, d.n, maxKeyLen)
	}
	c, err = d.next(n)
	return string(c), err
}

// fits reports whether n more bytes can follow in a checkpoint of the
// known size (always, when the size is unknown).
func (d *decoder) fits(n int64) bool {
	return d.size < 0 || n <= d.size-d.n
}

// cursor takes little-endian values off the front of a slice that is
// known to be long enough.
type cursor []byte

func (c *cursor) u8() uint8 {
	v := (*c)[0]
	*c = (*c)[1:]
	return v
}

func (c *cursor) u16() uint16 {
	v := le.Uint16(*c)
	*c = (*c)[2:]
	return v
}

func (c *cursor) u32() uint32 {
	v := le.Uint32(*c)
	*c = (*c)[4:]
	return v
}

func (c *cursor) u64() uint64 {
	v := le.Uint64(*c)
	*c = (*c)[8:]
	return v
}

func (c *cursor) f32() float32 { return math.Float32frombits(c.u32()) }
func (c *cursor) f64() float64 { return math.Float64frombits(c.u64()) }

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

func (d *decoder) payload() (*Store, error) {
	c, err := d.next(4)
	if err != nil {
		return nil, err
	}
	count := c.u32()
	if count > maxSeries || !d.fits(int64(count)*minSeriesLen) {
		return nil, corrupt("series count over %d or more than the rest of the file can hold", maxSeries)
	}
	// Trust the count only as far as a small file could hold it.
	st := &Store{series: make(map[Key]*Series, min(count, 1024))}
	for i := range count {
		at := d.n
		k, s, err := d.series()
		if err != nil {
			return nil, fmt.Errorf("series %d at byte %d: %w", i, at, err)
		}
		if s == nil {
			continue // never sampled: nothing to keep
		}
		if _, dup := st.series[k]; dup {
			return nil, corrupt("series %d at byte %d repeats an earlier key", i, at)
		}
		st.series[k] = s
	}
	return st, nil
}

func finite(f float64) bool { return f >= 0 && f <= math.MaxFloat64 }

const accLen = 4*8 + (4 + 7*8) + (6*8 + 2) + accLenV4 + accLenV5 + accLenV6

// accLenV4 is what version 4 adds to the accumulators: activity below the
// minute in the minute's and the hour's, and the busy run in progress.
const accLenV4 = (8+8+4+8+8)*2 + 8

// accLenV5 is what version 5 adds: down time and listening in the minute's
// accumulator, listening and down minutes and restarts in the hour's.
const accLenV5 = 8 + 1 + 3

// accLenV6 is what version 6 adds: the time the hour's samples covered.
const accLenV6 = 8

// maxOffset bounds a timeline offset: the span of Unix nanoseconds.
const maxOffset = math.MaxInt64 / 2

// minSeriesLen is the shortest series record: two empty keys and flags.
const minSeriesLen = 2 + 2 + 1

func (d *decoder) series() (k Key, s *Series, err error) {
	if k.Namespace, err = d.str("namespace"); err != nil {
		return k, nil, err
	}
	if k.ID, err = d.str("container ID"); err != nil {
		return k, nil, err
	}
	c, err := d.next(1)
	if err != nil {
		return k, nil, err
	}
	switch c.u8() {
	case 0:
		// Written by older agents for a series without samples.
		return k, nil, nil
	case flagSeen:
	default:
		return k, nil, corrupt("unknown flags")
	}

	n := accLen
	if d.version <= version5 {
		n -= accLenV6
	}
	if d.version <= version4 {
		n -= accLenV5
	}
	if d.version <= version3 {
		n -= accLenV4
	}
	if d.version == version1 {
		n -= 8
	}
	if c, err = d.next(n); err != nil {
		return k, nil, err
	}
	first, last, cur := int64(c.u64()), int64(c.u64()), int64(c.u64())
	var offset int64
	if d.version != version1 {
		offset = int64(c.u64())
	}
	a, h := new(minuteAcc), new(hourAcc)
	a.samples = c.u32()
	a.observed = int64(c.u64())
	a.cpu = c.f64()
	a.rx, a.tx, a.disk, a.accepts, a.maxWS = c.u64(), c.u64(), c.u64(), c.u64(), c.u64()
	if d.version > version3 {
		a.busy, a.longest, a.runs, a.peak, a.busyCPU = int64(c.u64()), int64(c.u64()), c.u32(), c.f64(), c.f64()
	}
	var listen uint8
	if d.version > version4 {
		a.down = int64(c.u64())
		listen, h.listen, h.down, h.restarts = c.u8(), c.u8(), c.u8(), c.u8()
		a.listen = listen == 1
	}
	h.cpu = c.f64()
	h.rx, h.tx, h.disk, h.accepts, h.maxWS = c.u64(), c.u64(), c.u64(), c.u64(), c.u64()
	h.minutes, h.actv = c.u8(), c.u8()
	var run int64
	if d.version > version3 {
		h.busy, h.longest, h.runs, h.peak, h.busyCPU = int64(c.u64()), int64(c.u64()), c.u32(), c.f64(), c.f64()
		run = int64(c.u64())
	} else {
		// Recorded without activity below the minute: the minute so far
		// counts as busy, and so do the hour's active minutes, as the
		// analysis took them before, with all their CPU.
		a.busy, a.longest, a.busyCPU = a.observed, a.observed, a.cpu
		h.busy = int64(h.actv) * nsPerMinute
		h.longest, h.busyCPU = h.busy, h.cpu
	}
	if d.version > version5 {
		h.observed = int64(c.u64())
	} else {
		// Recorded without sampled time: the hour's minutes so far
		// count as sampled in full, as the analysis took them before.
		h.observed = int64(h.minutes) * nsPerMinute
	}
	switch {
	case offset <= -maxOffset || offset >= maxOffset:
		return k, nil, corrupt("timeline offset out of range")
	case first > last:
		return k, nil, corrupt("first sample after the last")
	case floorDiv(last, nsPerMinute) > cur || cur > maxMinute:
		return k, nil, corrupt("minute in progress out of range")
	case a.observed < 0 || !finite(a.cpu) || a.busy < 0 || a.busy > a.observed || a.longest < 0 || !finite(a.peak) || !finite(a.busyCPU) ||
		a.down < 0 || a.down > a.observed || listen > 1:
		return k, nil, corrupt("bad minute accumulator")
	case h.busy < 0 || h.longest < 0 || !finite(h.peak) || !finite(h.busyCPU) || run < 0 || h.observed < 0:
		return k, nil, corrupt("bad activity below the minute")
	case !finite(h.cpu) || h.actv > h.minutes || int(h.minutes) > mod(cur, 60) || h.listen > h.minutes || h.down > h.minutes:
		return k, nil, corrupt("bad hour accumulator")
	}
	// The rings are as long as the history the record carries, which
	// follows from the times just checked and is read below: what is
	// allocated stays proportional to the bytes of the file, however
	// many series it holds. When the file's size is known, the record's
	// minutes, their fine codes and its hours must fit in what is left of
	// it before anything is allocated for them.
	firstMin, curH := floorDiv(first, nsPerMinute), floorDiv(cur, 60)
	firstH := floorDiv(first, nsPerHour)
	nMin := cur - max(cur-MinutesKept, firstMin)
	nHours := curH - max(curH-HoursKept, firstH)
	perMinute := int64(1)
	if d.version > version2 {
		perMinute = 2
	}
	recLen := int64(hourRecLen)
	switch {
	case d.version <= version3:
		recLen = hourRecLenV3
	case d.version == version4:
		recLen = hourRecLenV4
	case d.version == version5:
		recLen = hourRecLenV5
	}
	var peak float32
	if !d.fits(nMin*perMinute + nHours*recLen) {
		return k, nil, corrupt("rings longer than the rest of the file")
	}
	s = NewSeries()
	s.allocRings(cur-firstMin, curH-firstH)
	s.start(first, cur)
	s.acc, s.hour, s.last, s.offset, s.run = *a, *h, last, offset, run
	h = &s.hour

	// The extents follow from the times just checked, so they are at
	// most a ring long.
	mins, fine := s.mins(), s.fine()
	for m, n := s.minuteExtent(), len(mins); m < cur; {
		i := mod(m, n)
		seg := mins[i:min(n, i+int(cur-m))]
		if err := d.read(minuteBytes(seg)); err != nil {
			return k, nil, err
		}
		for _, b := range seg {
			if b.Valid() {
				s.observed++
			}
		}
		m += int64(len(seg))
	}
	for m, n := s.minuteExtent(), len(fine); m < cur; {
		i := mod(m, n)
		seg := fine[i:min(n, i+int(cur-m))]
		if d.version > version2 {
			if err := d.read(seg); err != nil {
				return k, nil, err
			}
		} else {
			// Recorded without fine codes: mid-bucket, as they
			// decoded before.
			for j, b := range mins[i : i+len(seg)] {
				if c := b.Code(); c >= 2 && c < codeMax {
					seg[j] = FineUnknown
				}
			}
		}
		m += int64(len(seg))
	}
	var valid uint8
	for m := max(curH*60, s.minuteExtent()); m < cur; m++ {
		if mins[mod(m, len(mins))].Valid() {
			valid++
		}
	}
	if valid != h.minutes {
		return k, nil, corrupt("hour in progress disagrees with the minute ring")
	}

	lo := s.hourExtent()
	if c, err = d.next(int(curH-lo) * int(recLen)); err != nil {
		return k, nil, err
	}
	for hr := lo; hr < curH; hr++ {
		r := &s.hours[mod(hr, len(s.hours))]
		r.cpu, r.maxWSKiB = c.f32(), c.u32()
		r.rx, r.tx, r.disk = c.f32(), c.f32(), c.f32()
		r.accepts = c.u32()
		var n hourCounts
		n.minutes, n.actv = c.u8(), c.u8()
		peak = 0
		switch {
		case d.version > version4:
			n.busy, n.runs, r.longest, r.peak, r.busyCPU = c.u16(), c.u16(), c.u16(), c.u16(), c.f32()
			listen, down := c.u8(), c.u8()
			n.listen, n.down, n.restarts = listen&63, down&63, listen>>6<<2|down>>6
			n.sampled = uint16(n.minutes) * 60
			if d.version > version5 {
				n.sampled = c.u16()
			}
		case d.version == version4:
			n.busy, n.runs, r.longest = c.u16(), c.u16(), c.u16()
			peak, r.busyCPU = c.f32(), c.f32()
			if peak > 0 {
				r.peak = peakCode(float64(peak))
			}
			n.sampled = uint16(n.minutes) * 60
		default:
			n.busy = uint16(n.actv) * 60
			n.sampled = uint16(n.minutes) * 60
			r.longest, r.busyCPU = n.busy, r.cpu
		}
		if n.minutes > 60 || n.actv > n.minutes {
			return k, nil, corrupt("finished hour %d of %d: more active minutes than minutes, or more than 60", hr-lo+1, curH-lo)
		}
		if n.busy > 3600 || n.sampled > 3600 || n.listen > n.minutes || n.down > n.minutes || r.peak>>8 > codeMax {
			return k, nil, corrupt("finished hour %d of %d: busy or sampled longer than an hour, or more listening or down minutes than minutes", hr-lo+1, curH-lo)
		}
		for _, f := range [...]float32{r.cpu, r.rx, r.tx, r.disk, peak, r.busyCPU} {
			if !finite(float64(f)) {
				return k, nil, corrupt("finished hour %d of %d: negative or not finite", hr-lo+1, curH-lo)
			}
		}
		r.n = n.pack()
	}
	return k, s, nil
}

// SaveFile writes the checkpoint to path atomically: to a temporary file in
// the same directory, synced, renamed over path, and the directory synced.
// It creates the directory (0700) if missing. On error the previous file is
// intact and the temporary file removed.
func (st *Store) SaveFile(path string) error {
	return saveFile(path, func(w io.Writer) error {
		_, err := st.WriteTo(w)
		return err
	})
}

func saveFile(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save history checkpoint %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return fmt.Errorf("save history checkpoint %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("save history checkpoint %s: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// tempPrefix begins the name of saveFile's temporary files for path;
// os.CreateTemp ends it with decimal digits.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// removeStaleTemps removes the temporary files a save of path left behind
// when the agent was killed mid-checkpoint (each as large as a
// checkpoint). Only regular files named exactly as saveFile names them,
// next to path, are removed. It is meant for start-up, before any save.
func removeStaleTemps(path string) {
	dir, prefix := filepath.Dir(path), tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // no directory, nothing left behind; other errors show on load
	}
	for _, e := range entries {
		digits, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		// A file that cannot be removed now is tried again at the next
		// start; it costs disk space, nothing else.
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
}

// syncDir makes a rename durable. Filesystems that cannot sync a
// directory say so with EINVAL or ENOTSUP; the rename then stands as is.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// LoadFile reads the checkpoint at path, at start-up: it first removes the
// temporary files of a save that was interrupted. A missing file gives an
// empty store and no error. path must be a regular file: a symbolic link
// (not followed) or anything else is reported and left in place, and the
// next save replaces it. A corrupt, foreign or other-version file is renamed
// to path+".corrupt-<unix time>" and LoadFile returns an empty store with
// an error that wraps ErrCorrupt or ErrVersion and names both paths. Any
// other error (say, permission denied) also comes with an empty store, and
// the file is left in place.
func LoadFile(path string) (*Store, error) {
	removeStaleTemps(path)
	st, err := loadFile(path)
	switch {
	case err == nil:
		return st, nil
	case errors.Is(err, os.ErrNotExist):
		return NewStore(), nil
	case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrVersion):
		aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
		if rerr := os.Rename(path, aside); rerr != nil {
			return NewStore(), fmt.Errorf("history checkpoint %s is unusable (%w) and could not be moved aside to %s: %v", path, err, aside, rerr)
		}
		return NewStore(), fmt.Errorf("history checkpoint %s is unusable, moved aside to %s: %w", path, aside, err)
	default:
		return NewStore(), fmt.Errorf("read history checkpoint %s: %w", path, err)
	}
}

// loadFile checks the header and the checksum in a first pass, so that a
// damaged file is rejected before anything is allocated for it, then
// decodes it.
func loadFile(path string) (*Store, error) {
	// O_NOFOLLOW: a link planted in the state directory must not make
	// the agent (root) read, and report on, a file it points to.
	// O_NONBLOCK: opening a FIFO for reading must not hang the start.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, errors.New("is a symbolic link, which is not followed")
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("is not a regular file (%s)", fileType(fi.Mode()))
	}
	if err := verify(f, fi.Size()); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return readStore(f, fi.Size())
}

// fileType names the type of a file that is not a regular one.
func fileType(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}

func verify(f *os.File, size int64) error {
	var hdr [headerLen]byte
	if err := readFull(f, hdr[:]); err != nil {
		return err
	}
	if _, err := checkHeader(hdr[:]); err != nil {
		return err
	}
	if size < int64(headerLen+trailerLen) {
		return fmt.Errorf("%w: truncated to %d bytes", ErrCorrupt, size)
	}
	sum := crc32.Update(0, castagnoli, hdr[:])
	buf := make([]byte, 64<<10)
	for left := size - int64(headerLen+trailerLen); left > 0; {
		p := buf[:min(left, int64(len(buf)))]
		if err := readFull(f, p); err != nil {
			return err
		}
		sum = crc32.Update(sum, castagnoli, p)
		left -= int64(len(p))
	}
	if err := readFull(f, buf[:trailerLen]); err != nil {
		return err
	}
	if le.Uint32(buf) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return nil
}

// readFull reads len(p) bytes; running out of file means truncation (the
// size was taken before reading), anything else is an I/O error.
func readFull(r io.Reader, p []byte) error {
	_, err := io.ReadFull(r, p)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	return err
}
