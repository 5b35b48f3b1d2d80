package kernfile

import (
	"fmt"
	"io"
	"io/fs"
	"unsafe"
)

// MinBuffer is the least a buffer grows to: a page, which holds most
// cgroup and procfs files whole.
const MinBuffer = 4096

// File is one kernel file. The zero File is none; use At.
//
// A File is a small value: copying one copies the right to use its kept
// descriptor, so keep one owner that closes it.
type File struct {
	path []byte // NUL-terminated, so that opening it allocates nothing
	// kept is the kept-open descriptor plus one: 0 means none, which
	// makes the zero File safe.
	kept  int
	pread func(fd int, p []byte, off int64) (int, error) // nil: pread(2)
}

// At returns the file at path, opened for each read until Keep.
func At(path string) File {
	p := make([]byte, len(path)+1)
	copy(p, path)
	return File{path: p}
}

// Name returns the file's path. It allocates nothing.
func (f *File) Name() string {
	if len(f.path) < 2 {
		return ""
	}
	// The path bytes are never written after At.
	return unsafe.String(&f.path[0], len(f.path)-1)
}

// Kept reports whether f holds a descriptor open between reads.
func (f *File) Kept() bool { return f.kept > 0 }

// Keep opens f and keeps the descriptor for later reads, until Close. A
// file that does not exist yields an error matching fs.ErrNotExist.
func (f *File) Keep() error {
	if f.kept > 0 {
		return nil
	}
	fd, err := f.open()
	if err != nil {
		return err
	}
	f.kept = fd + 1
	return nil
}

// Close closes the kept descriptor, if any. It is safe to call twice.
func (f *File) Close() error {
	if f.kept == 0 {
		return nil
	}
	err := sysClose(f.kept - 1)
	f.kept = 0
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.Name(), Err: err}
	}
	return nil
}

// SetPread replaces pread(2) for f's reads. It exists for tests, which fake
// what only a kernel does, such as the ENODEV that a removed cgroup's
// kept-open file answers.
func (f *File) SetPread(fn func(fd int, p []byte, off int64) (int, error)) { f.pread = fn }

// Read returns the whole content of f, read with one pread at offset 0
// into *buf, which it grows (to at most limit bytes) and reads again while
// a read fills it. One read is enough because the kernel renders cgroupfs
// files and single-record procfs files (stat, net/snmp, net/sockstat)
// whole, so a read that leaves room has returned everything; files served
// a page at a time (net/dev, net/tcp) need ReadAt. The result aliases
// *buf. Read allocates nothing once *buf holds the file.
func (f *File) Read(buf *[]byte, limit int) ([]byte, error) {
	if f.kept > 0 {
		return f.readWhole(f.kept-1, buf, limit)
	}
	fd, err := f.open()
	if err != nil {
		return nil, err
	}
	b, err := f.readWhole(fd, buf, limit)
	sysClose(fd)
	return b, err
}

func (f *File) readWhole(fd int, buf *[]byte, limit int) ([]byte, error) {
	for {
		b := (*buf)[:cap(*buf)]
		n, err := f.pread1(fd, b, 0)
		if err != nil {
			return nil, err
		}
		if n < len(b) {
			return b[:n], nil
		}
		if len(b) >= limit {
			return nil, fmt.Errorf("%s: larger than %d bytes", f.Name(), limit)
		}
		*buf = make([]byte, min(max(2*len(b), MinBuffer), limit))
	}
}

// ReadAt reads len(p) bytes at offset off, or fewer and io.EOF where the
// file ends, as io.ReaderAt does: for files the kernel serves a page at a
// time, read in pieces or only from their beginning. f must be kept open,
// because the pieces of one reading must come through one descriptor.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if f.kept == 0 {
		return 0, &fs.PathError{Op: "read", Path: f.Name(), Err: fs.ErrClosed}
	}
	n := 0
	for len(p) > 0 {
		m, err := f.pread1(f.kept-1, p, off)
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
		p = p[m:]
		off += int64(m)
	}
	return n, nil
}

// Head returns the beginning of f, as much as p holds, read as ReadAt
// does; f is opened for the read unless it is kept open. The result
// aliases p.
func (f *File) Head(p []byte) ([]byte, error) {
	if f.kept == 0 {
		g := *f
		if err := g.Keep(); err != nil {
			return nil, err
		}
		defer g.Close()
		f = &g
	}
	n, err := f.ReadAt(p, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return p[:n], nil
}

func (f *File) open() (int, error) {
	if len(f.path) == 0 {
		return -1, &fs.PathError{Op: "open", Path: "", Err: fs.ErrInvalid}
	}
	for {
		fd, err := sysOpen(f.path)
		if err == nil {
			return fd, nil
		}
		if !interrupted(err) {
			return -1, f.fail("open", err)
		}
	}
}

// pread1 is one pread, retried when a signal interrupts it.
func (f *File) pread1(fd int, p []byte, off int64) (int, error) {
	pread := f.pread
	if pread == nil {
		pread = sysPread
	}
	for {
		n, err := pread(fd, p, off)
		if err == nil {
			return n, nil
		}
		if !interrupted(err) {
			return 0, f.fail("read", err)
		}
	}
}

// fail names the file in err and marks it as gone when it is.
func (f *File) fail(op string, err error) error {
	if Vanished(err) {
		err = gone{err}
	}
	return &fs.PathError{Op: op, Path: f.Name(), Err: err}
}
