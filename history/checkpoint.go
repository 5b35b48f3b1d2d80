package history

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"slices"
)

// Sentinel errors of ReadStore and LoadFile.
var (
	// ErrCorrupt means the checkpoint is not one: bad magic, checksum,
	// length or value.
	ErrCorrupt = errors.New("corrupt history checkpoint")
	// ErrVersion means the checkpoint has another format version.
	ErrVersion = errors.New("unsupported history checkpoint version")
)

// The current format. Only the current version is written; the older ones
// are read by upgrading their records to it (see decoder.legacy).
const (
	magic         = "FSHISTRY"
	formatVersion = 6
	headerLen     = len(magic) + 4
	trailerLen    = 4

	flagSeen = 1 << 0

	// Bounds on what a checkpoint may claim, checked before allocating.
	maxSeries = 1 << 20
	maxKeyLen = 1024

	// hourRecLen is the length of a finished hour.
	hourRecLen = 42
	// seriesFixedLen is the size of a record with samples, without its
	// key strings and ring extents.
	seriesFixedLen = 2 + 2 + 1 + accLen
	// maxMinute keeps decoded minute numbers in the range of time.Time's
	// Unix nanoseconds.
	maxMinute = math.MaxInt64 / nsPerMinute
	// maxOffset bounds a timeline offset: the span of Unix nanoseconds.
	maxOffset = math.MaxInt64 / 2
	// minSeriesLen is the shortest series record: two empty keys and flags.
	minSeriesLen = 2 + 2 + 1
)

// accLen is the length of a record's fixed part: first and last sample,
// minute in progress and timeline offset; the minute's accumulator with
// its activity below the minute, down time and listening; the listening
// and down minutes and restarts of the hour; the hour's accumulator with
// its activity below the minute; the busy run in progress; the time the
// hour's samples covered.
const accLen = 4*8 + (4 + 7*8) + (8 + 8 + 4 + 8 + 8) + (8 + 1 + 3) + (6*8 + 2) + (8 + 8 + 4 + 8 + 8) + 8 + 8

var (
	le         = binary.LittleEndian
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// WriteTo writes the checkpoint of every series, sorted by key, to w, in
// the current format. It buffers one series at a time, so w need not be
// buffered.
func (st *Store) WriteTo(w io.Writer) (int64, error) {
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
	buf = le.AppendUint32(buf, formatVersion)
	buf = le.AppendUint32(buf, uint32(len(keys)))
	for _, k := range keys {
		buf = appendSeries(buf, k, st.series[k])
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

// appendSeries appends the record of a series with samples: its key and
// flags, its fixed part, then the minutes, their fine CPU codes and the
// finished hours still in the rings from the first sample on, oldest
// first.
func appendSeries(b []byte, k Key, s *Series) []byte {
	b = appendString(b, k.Namespace)
	b = appendString(b, k.ID)
	b = append(b, flagSeen)
	b = appendHead(b, s)
	mins, fine := s.mins(), s.fine()
	lo := s.minuteExtent()
	for i, j := range segments(lo, s.cur, len(mins)) {
		b = append(b, minuteBytes(mins[i:j])...)
	}
	for i, j := range segments(lo, s.cur, len(fine)) {
		b = append(b, fine[i:j]...)
	}
	for i, j := range segments(s.hourExtent(), floorDiv(s.cur, 60), len(s.hours)) {
		for x := i; x < j; x++ {
			b = appendHour(b, &s.hours[x])
		}
	}
	return b
}

// appendHead appends the fixed part of a record, accLen bytes.
func appendHead(b []byte, s *Series) []byte {
	b = le.AppendUint64(b, uint64(s.first))
	b = le.AppendUint64(b, uint64(s.last))
	b = le.AppendUint64(b, uint64(s.cur))
	b = le.AppendUint64(b, uint64(s.offset))

	a := &s.acc
	b = le.AppendUint32(b, a.samples)
	b = le.AppendUint64(b, uint64(a.observed))
	b = appendFloat(b, a.cpu)
	for _, v := range [...]uint64{a.rx, a.tx, a.disk, a.accepts, a.maxWS} {
		b = le.AppendUint64(b, v)
	}
	b = le.AppendUint64(b, uint64(a.busy))
	b = le.AppendUint64(b, uint64(a.longest))
	b = le.AppendUint32(b, a.runs)
	b = appendFloat(b, a.peak)
	b = appendFloat(b, a.busyCPU)
	b = le.AppendUint64(b, uint64(a.down))
	b = append(b, boolByte(a.listen), s.hour.listen, s.hour.down, s.hour.restarts)

	h := &s.hour
	b = appendFloat(b, h.cpu)
	for _, v := range [...]uint64{h.rx, h.tx, h.disk, h.accepts, h.maxWS} {
		b = le.AppendUint64(b, v)
	}
	b = append(b, h.minutes, h.actv)
	b = le.AppendUint64(b, uint64(h.busy))
	b = le.AppendUint64(b, uint64(h.longest))
	b = le.AppendUint32(b, h.runs)
	b = appendFloat(b, h.peak)
	b = appendFloat(b, h.busyCPU)
	b = le.AppendUint64(b, uint64(s.run))
	return le.AppendUint64(b, uint64(h.observed))
}

// appendHour appends a finished hour, hourRecLen bytes.
func appendHour(b []byte, r *hourRec) []byte {
	b = le.AppendUint32(b, math.Float32bits(r.cpu))
	b = le.AppendUint32(b, r.maxWSKiB)
	b = le.AppendUint32(b, math.Float32bits(r.rx))
	b = le.AppendUint32(b, math.Float32bits(r.tx))
	b = le.AppendUint32(b, math.Float32bits(r.disk))
	b = le.AppendUint32(b, r.accepts)
	c := r.counts()
	b = append(b, c.minutes, c.actv)
	b = le.AppendUint16(b, c.busy)
	b = le.AppendUint16(b, c.runs)
	b = le.AppendUint16(b, r.longest)
	b = le.AppendUint16(b, r.peak)
	b = le.AppendUint32(b, math.Float32bits(r.busyCPU))
	// Listening and down minutes in the low 6 bits, the restarts in the
	// top 2 bits of both, the high ones first.
	b = append(b, c.listen|c.restarts>>2<<6, c.down|c.restarts&3<<6)
	return le.AppendUint16(b, c.sampled)
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
