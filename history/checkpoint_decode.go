package history

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

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
	n       int64    // bytes consumed, for error messages
	size    int64    // of the whole checkpoint; -1 when unknown
	up      *decoder // decodes the records of an older version once upgraded
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

// series decodes one record: its key, and the series it holds, nil for a
// record without samples.
func (d *decoder) series() (k Key, s *Series, err error) {
	k, seen, err := d.key()
	if err != nil || !seen {
		return k, nil, err
	}
	if d.version < formatVersion {
		s, err = d.legacy()
	} else {
		s, err = d.record()
	}
	return k, s, err
}

// key reads a record's key and flags, and reports whether it has samples.
func (d *decoder) key() (k Key, seen bool, err error) {
	if k.Namespace, err = d.str("namespace"); err != nil {
		return k, false, err
	}
	if k.ID, err = d.str("container ID"); err != nil {
		return k, false, err
	}
	c, err := d.next(1)
	if err != nil {
		return k, false, err
	}
	switch c.u8() {
	case 0:
		// Written by older agents for a series without samples.
		return k, false, nil
	case flagSeen:
		return k, true, nil
	}
	return k, false, corrupt("unknown flags")
}

// record decodes the rest of a record of the current format: its fixed
// part, then its rings.
func (d *decoder) record() (*Series, error) {
	c, err := d.next(accLen)
	if err != nil {
		return nil, err
	}
	var h head
	h.decode(&c)
	nMin, nHours, err := h.check()
	if err != nil {
		return nil, err
	}
	// The rings are as long as the history the record carries, which
	// follows from the times just checked and is read below: what is
	// allocated stays proportional to the bytes of the file, however
	// many series it holds. When the file's size is known, the record's
	// minutes, their fine codes and its hours must fit in what is left of
	// it before anything is allocated for them.
	if !d.fits(2*nMin + nHours*hourRecLen) {
		return nil, corrupt("rings longer than the rest of the file")
	}
	s := h.series()
	if err := d.minutes(s); err != nil {
		return nil, err
	}
	return s, d.hours(s)
}

// head is the fixed part of a record.
type head struct {
	first, last, cur, offset int64
	acc                      minuteAcc
	hour                     hourAcc
	listen                   uint8 // the minute accumulator's listening, 0 or 1
	run                      int64
}

// decode takes the fixed part off c, accLen bytes, in the order
// appendHead writes it.
func (h *head) decode(c *cursor) {
	h.first, h.last, h.cur, h.offset = int64(c.u64()), int64(c.u64()), int64(c.u64()), int64(c.u64())
	a, hr := &h.acc, &h.hour
	a.samples = c.u32()
	a.observed = int64(c.u64())
	a.cpu = c.f64()
	a.rx, a.tx, a.disk, a.accepts, a.maxWS = c.u64(), c.u64(), c.u64(), c.u64(), c.u64()
	a.busy, a.longest, a.runs, a.peak, a.busyCPU = int64(c.u64()), int64(c.u64()), c.u32(), c.f64(), c.f64()
	a.down = int64(c.u64())
	h.listen, hr.listen, hr.down, hr.restarts = c.u8(), c.u8(), c.u8(), c.u8()
	a.listen = h.listen == 1
	hr.cpu = c.f64()
	hr.rx, hr.tx, hr.disk, hr.accepts, hr.maxWS = c.u64(), c.u64(), c.u64(), c.u64(), c.u64()
	hr.minutes, hr.actv = c.u8(), c.u8()
	hr.busy, hr.longest, hr.runs, hr.peak, hr.busyCPU = int64(c.u64()), int64(c.u64()), c.u32(), c.f64(), c.f64()
	h.run = int64(c.u64())
	hr.observed = int64(c.u64())
}

// check range-checks the fixed part and returns how many minutes and
// finished hours the record's rings hold.
func (h *head) check() (nMin, nHours int64, err error) {
	if h.offset <= -maxOffset || h.offset >= maxOffset {
		return 0, 0, corrupt("timeline offset out of range")
	}
	if nMin, nHours, err = extents(h.first, h.last, h.cur); err != nil {
		return 0, 0, err
	}
	a, hr := &h.acc, &h.hour
	switch {
	case a.observed < 0 || !finite(a.cpu) || a.busy < 0 || a.busy > a.observed || a.longest < 0 || !finite(a.peak) || !finite(a.busyCPU) ||
		a.down < 0 || a.down > a.observed || h.listen > 1:
		return 0, 0, corrupt("bad minute accumulator")
	case hr.busy < 0 || hr.longest < 0 || !finite(hr.peak) || !finite(hr.busyCPU) || h.run < 0 || hr.observed < 0:
		return 0, 0, corrupt("bad activity below the minute")
	case !finite(hr.cpu) || hr.actv > hr.minutes || int(hr.minutes) > mod(h.cur, 60) || hr.listen > hr.minutes || hr.down > hr.minutes:
		return 0, 0, corrupt("bad hour accumulator")
	}
	return nMin, nHours, nil
}

// extents checks the times of a record (timeline nanoseconds of its first
// and last sample, its minute in progress) and returns how many minutes
// and finished hours its rings hold: those since the first sample, at
// most a ring long.
func extents(first, last, cur int64) (nMin, nHours int64, err error) {
	switch {
	case first > last:
		return 0, 0, corrupt("first sample after the last")
	case floorDiv(last, nsPerMinute) > cur || cur > maxMinute:
		return 0, 0, corrupt("minute in progress out of range")
	}
	curH := floorDiv(cur, 60)
	nMin = cur - max(cur-MinutesKept, floorDiv(first, nsPerMinute))
	nHours = curH - max(curH-HoursKept, floorDiv(first, nsPerHour))
	return nMin, nHours, nil
}

// series makes the Series of a checked fixed part, with rings as long as
// its history.
func (h *head) series() *Series {
	firstMin, curH := floorDiv(h.first, nsPerMinute), floorDiv(h.cur, 60)
	s := NewSeries()
	s.allocRings(h.cur-firstMin, curH-floorDiv(h.first, nsPerHour))
	s.start(h.first, h.cur)
	s.acc, s.hour, s.last, s.offset, s.run = h.acc, h.hour, h.last, h.offset, h.run
	return s
}

// minutes reads the minutes and their fine codes into the rings of s, and
// checks the hour in progress against them. The extents follow from the
// times already checked, so they are at most a ring long.
func (d *decoder) minutes(s *Series) error {
	mins, fine := s.mins(), s.fine()
	lo := s.minuteExtent()
	for i, j := range segments(lo, s.cur, len(mins)) {
		if err := d.read(minuteBytes(mins[i:j])); err != nil {
			return err
		}
		s.observed += int32(validMinutes(mins[i:j]))
	}
	for i, j := range segments(lo, s.cur, len(fine)) {
		if err := d.read(fine[i:j]); err != nil {
			return err
		}
	}
	valid := 0
	for i, j := range segments(max(floorDiv(s.cur, 60)*60, lo), s.cur, len(mins)) {
		valid += validMinutes(mins[i:j])
	}
	if valid != int(s.hour.minutes) {
		return corrupt("hour in progress disagrees with the minute ring")
	}
	return nil
}

func validMinutes(mins []Minute) int {
	n := 0
	for _, b := range mins {
		if b.Valid() {
			n++
		}
	}
	return n
}

// hours reads the finished hours into the hour ring of s.
func (d *decoder) hours(s *Series) error {
	lo, curH := s.hourExtent(), floorDiv(s.cur, 60)
	c, err := d.next(int(curH-lo) * hourRecLen)
	if err != nil {
		return err
	}
	nth := int64(0)
	for i, j := range segments(lo, curH, len(s.hours)) {
		for x := i; x < j; x++ {
			nth++
			if err := decodeHour(&c, &s.hours[x]); err != nil {
				return corrupt("finished hour %d of %d: %v", nth, curH-lo, err)
			}
		}
	}
	return nil
}

// decodeHour takes a finished hour off c, hourRecLen bytes, and checks it.
func decodeHour(c *cursor, r *hourRec) error {
	r.cpu, r.maxWSKiB = c.f32(), c.u32()
	r.rx, r.tx, r.disk = c.f32(), c.f32(), c.f32()
	r.accepts = c.u32()
	var n hourCounts
	n.minutes, n.actv = c.u8(), c.u8()
	n.busy, n.runs, r.longest, r.peak, r.busyCPU = c.u16(), c.u16(), c.u16(), c.u16(), c.f32()
	listen, down := c.u8(), c.u8()
	n.listen, n.down, n.restarts = listen&63, down&63, listen>>6<<2|down>>6
	n.sampled = c.u16()
	if n.minutes > 60 || n.actv > n.minutes {
		return errors.New("more active minutes than minutes, or more than 60")
	}
	if n.busy > 3600 || n.sampled > 3600 || n.listen > n.minutes || n.down > n.minutes || r.peak>>8 > codeMax {
		return errors.New("busy or sampled longer than an hour, or more listening or down minutes than minutes")
	}
	for _, f := range [...]float32{r.cpu, r.rx, r.tx, r.disk, r.busyCPU} {
		if !finite(float64(f)) {
			return errors.New("negative or not finite")
		}
	}
	r.n = n.pack()
	return nil
}

func finite(f float64) bool { return f >= 0 && f <= math.MaxFloat64 }
