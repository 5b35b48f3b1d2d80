package kernfile

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// The parsers below run for every container on every tick, so they work on
// the raw bytes of a file, allocate nothing when the input is well formed
// and build an error value only when it is not. Their errors never quote
// file content; a caller that does bounds it with Clip.

// Errors of ParseUint and ParseInt. They are sentinels, so that a failed
// parse costs no allocation and the caller adds what the input was.
var (
	ErrSyntax = errors.New("not a decimal number")
	ErrRange  = errors.New("overflows 64 bits")
)

// ParseUint parses a non-empty run of ASCII decimal digits into a uint64,
// as strconv.ParseUint(s, 10, 64) does but without its allocation.
func ParseUint(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, ErrSyntax
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, ErrSyntax
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, ErrRange
		}
		n = n*10 + d
	}
	return n, nil
}

// ParseInt parses an optionally negative decimal that fits in an int64.
func ParseInt(b []byte) (int64, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, err := ParseUint(b)
	switch {
	case err != nil:
		return 0, err
	case neg && u > 1<<63, !neg && u > math.MaxInt64:
		return 0, ErrRange
	case neg:
		return -int64(u), nil
	}
	return int64(u), nil
}

// IsBlank reports whether c separates fields in the kernel's text files:
// ASCII white space, as C's isspace says (space, \t, \n, \v, \f, \r).
// It is written to stay cheap enough for NextField to be inlined.
func IsBlank(c byte) bool { return c == ' ' || c-'\t' <= '\r'-'\t' }

// TrimSpace drops the blanks at both ends of b.
func TrimSpace(b []byte) []byte {
	for len(b) > 0 && IsBlank(b[0]) {
		b = b[1:]
	}
	return TrimRight(b)
}

// TrimRight drops the blanks at the end of b, such as the newline the
// kernel prints after a single value.
func TrimRight(b []byte) []byte {
	for len(b) > 0 && IsBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// NextLine splits off the first line of b, without its newline. Callers
// loop while len(rest) > 0, so content ending in "\n" yields no trailing
// empty line.
func NextLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// NextField returns the first blank-separated field of b and what follows
// it, or nil if b holds only blanks.
func NextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && IsBlank(b[i]) {
		i++
	}
	if i == len(b) {
		return nil, nil
	}
	j := i
	for j < len(b) && !IsBlank(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

// ErrMalformed is wrapped by the errors about content that is not what the
// kernel writes, so that a caller can tell bad data from a vanished file or
// a permission problem.
var ErrMalformed = errors.New("malformed kernel file")

// Malformed returns an error wrapping ErrMalformed.
func Malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Clip bounds the file content an error message quotes: content comes from
// files a tenant may shape, and a message is no place for much of it.
func Clip(b []byte) []byte {
	const max = 64
	if len(b) > max {
		return b[:max]
	}
	return b
}

// Complete checks that content of one or more lines ends in a newline,
// which is how a file cut short is told from a whole one. Empty content is
// complete.
func Complete(b []byte) error {
	if len(b) == 0 || b[len(b)-1] == '\n' {
		return nil
	}
	last := b
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		last = b[i+1:]
	}
	return Malformed("truncated: no newline at end of %q", Clip(last))
}

// Keyed iterates over a flat-keyed file ("key value\n" per line, as
// cpu.stat and memory.stat). Its error is sticky: the first problem (a
// file cut short, a line that is not "key value", a bad number) ends the
// iteration and is what Err returns.
type Keyed struct {
	rest []byte
	err  error
}

// NewKeyed starts iterating over b.
func NewKeyed(b []byte) Keyed {
	if err := Complete(b); err != nil {
		return Keyed{err: err}
	}
	return Keyed{rest: b}
}

// Next returns the next key and value; ok is false at the end or on error.
func (k *Keyed) Next() (key, val []byte, ok bool) {
	if k.err != nil || len(k.rest) == 0 {
		return nil, nil, false
	}
	var line []byte
	line, k.rest = NextLine(k.rest)
	i := bytes.IndexByte(line, ' ')
	if i <= 0 || i == len(line)-1 {
		k.err = Malformed("line %q is not \"key value\"", Clip(line))
		return nil, nil, false
	}
	return line[:i], line[i+1:], true
}

// Uint parses val as the value of key, recording an error if it is not an
// unsigned number.
func (k *Keyed) Uint(key, val []byte) uint64 {
	n, err := ParseUint(val)
	if err != nil && k.err == nil {
		k.err = Malformed("value %q of %q is not an unsigned number", Clip(val), key)
	}
	return n
}

// Fail records err unless an error is recorded already.
func (k *Keyed) Fail(err error) {
	if k.err == nil {
		k.err = err
	}
}

// Err returns the first error met, if any.
func (k *Keyed) Err() error { return k.err }
