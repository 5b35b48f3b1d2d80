package netstat

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/fleetscope/fleetscope/collectors/internal/kernfile"
)

// initialBufSize fits net/dev of a pod's namespace and net/snmp (~1.3 KiB)
// in one read. The buffer grows to hold a longer file whole, but for
// net/dev, which a tenant can make as long as it likes, only to maxDevBuf.
const initialBufSize = 2 << 10

// MaxNetDevBytes bounds what one reading of net/dev reads: 2 MiB, about
// 17,000 interfaces of ~120 bytes a line, or 40 ms of the kernel's time.
// A namespace with more (a tenant's flood) is read up to the bound; the
// interfaces after it are left out of Stats.Others (Stats.Truncated).
const MaxNetDevBytes = 2 << 20

// maxDevBuf bounds the buffer net/dev is read through: a file longer than
// the buffer is read in several pieces, not into a larger buffer.
const maxDevBuf = 16 << 10

// maxWholeFile bounds the files read whole (net/snmp, stat, sockstat):
// each is about a kilobyte, and none grows with what a tenant creates.
const maxWholeFile = 64 << 10

// Reader reads one network namespace through one of its processes.
//
// It reuses its buffers, and Read reuses the Interfaces slice of the Stats
// it fills, names included: once sized, reading the same namespace into the
// same Stats again allocates nothing (with keepOpen). It is not safe for
// concurrent use.
//
// With keepOpen the files stay open between reads, which saves an open and
// close per file per read. An open file pins the namespace it belongs to, so
// it outlives the process: each read therefore also checks the process's
// state, reports its exit as fs.ErrNotExist, and the caller should then
// Close the Reader to release the namespace.
type Reader struct {
	pid      int
	keepOpen bool

	// Kept open only with keepOpen, and then snmp is not when the
	// namespace has no net/snmp, tcp[i] when it has no such file (no
	// IPv6, say).
	dev, snmp, stat kernfile.File
	tcp             [2]kernfile.File // net/tcp, net/tcp6
	sockstat        [2]kernfile.File // net/sockstat, net/sockstat6
	// procDir is the process's /proc/<pid> directory, used as a pidfd to
	// ask the kernel whether the process is alive: a signal 0, one cheap
	// system call, where reading stat makes the kernel format ~50 fields.
	// -1 where the kernel does not take it (before Linux 5.1, or a
	// fixture tree); stat is read instead.
	procFd int

	buf     []byte
	chooser netDevChooser
}

// NewReader returns a Reader for the network namespace of process pid, under
// the procfs mounted at procRoot. With keepOpen it opens the files now, and a
// process that is gone yields an error wrapping fs.ErrNotExist.
func NewReader(procRoot string, pid int, keepOpen bool) (*Reader, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("netstat: invalid pid %d", pid)
	}
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	r := &Reader{
		pid:      pid,
		keepOpen: keepOpen,
		dev:      kernfile.At(filepath.Join(dir, "net", "dev")),
		snmp:     kernfile.At(filepath.Join(dir, "net", "snmp")),
		stat:     kernfile.At(filepath.Join(dir, "stat")),
		tcp:      [2]kernfile.File{kernfile.At(filepath.Join(dir, "net", "tcp")), kernfile.At(filepath.Join(dir, "net", "tcp6"))},
		sockstat: [2]kernfile.File{kernfile.At(filepath.Join(dir, "net", "sockstat")), kernfile.At(filepath.Join(dir, "net", "sockstat6"))},
		buf:      make([]byte, 0, initialBufSize),
		procFd:   -1,
	}
	if !keepOpen {
		return r, nil
	}
	// net/dev and stat must be there; the others only where the namespace
	// has the protocol.
	for _, f := range r.kept() {
		err := f.Keep()
		if err != nil && (f == &r.dev || f == &r.stat || !kernfile.Vanished(err)) {
			r.Close()
			return nil, err
		}
	}
	r.procFd = openPidfd(dir)
	return r, nil
}

// Read fills s with the namespace's current counters, reusing s.Interfaces,
// and leaves the listening fields as they were (see ReadListening). s is
// valid only when Read returns nil. A process that has exited yields an
// error wrapping fs.ErrNotExist; malformed content, an error naming the file.
func (r *Reader) Read(s *Stats) error {
	if err := r.readDev(s); err != nil {
		return err
	}
	s.TCPPassiveOpens, s.HaveTCP = 0, false
	data, err := r.readSNMP()
	if err != nil {
		return err
	}
	if data != nil {
		if s.TCPPassiveOpens, s.HaveTCP, err = ParseSNMPPassiveOpens(data); err != nil {
			return fmt.Errorf("%s: %w", r.snmp.Name(), err)
		}
	}
	if r.keepOpen {
		return r.checkAlive()
	}
	return nil
}

// ReadListening sets s.Listening, s.ListenPort and s.HaveListen. A
// namespace without TCP sockets (net/sockstat and sockstat6 count none in
// use, a few µs to read) has no listener, and a table whose protocol
// counts none is not read. Otherwise it reads the heads of net/tcp and
// net/tcp6, by far the costliest reads here: to fill even a short read
// the kernel walks the host's whole established-connection hash table
// unless it meets enough sockets first, about 1.6 ms a file on a host
// with 262,144 buckets against 5 µs for net/dev; callers should look
// rarely.
func (r *Reader) ReadListening(s *Stats) error {
	_, err := r.readListening(s)
	return err
}

// tcpInUse returns the TCP sockets in use in the namespace, IPv4 and IPv6
// (in that order), whether net/sockstat said, and the bytes read.
func (r *Reader) tcpInUse() (inuse [2]uint64, known bool, read int, err error) {
	for i, proto := range [2]string{"TCP", "TCP6"} {
		var data []byte
		err := fs.ErrNotExist
		if !r.keepOpen || r.sockstat[i].Kept() {
			data, err = r.sockstat[i].Head(r.buf[:cap(r.buf)])
		}
		read += len(data)
		if kernfile.Vanished(err) && i == 1 {
			break // no IPv6 in the namespace
		}
		if err != nil {
			return [2]uint64{}, false, read, err
		}
		n, ok, err := ParseSockstatInUse(data, proto)
		if err != nil {
			return [2]uint64{}, false, read, fmt.Errorf("%s: %w", r.sockstat[i].Name(), err)
		}
		if i == 0 && !ok {
			return [2]uint64{}, false, read, nil
		}
		inuse[i], known = n, true
	}
	return inuse, known, read, nil
}

// readSNMP returns net/snmp's content, nil where the namespace has none:
// kept open, a namespace without IPv4 had no file to open; opened by path,
// a missing file is that or a process that exited since net/dev was read,
// which the next read reports. The result aliases r.buf.
func (r *Reader) readSNMP() ([]byte, error) {
	if r.keepOpen && !r.snmp.Kept() {
		return nil, nil
	}
	data, err := r.snmp.Read(&r.buf, maxWholeFile)
	if err != nil && !r.keepOpen && kernfile.Vanished(err) {
		return nil, nil
	}
	return data, err
}

// readListening sets s.Listening and s.ListenPort from the first page of
// net/tcp and of net/tcp6: the kernel lists listening sockets first, so
// the listeners, if any, are there, and a namespace with thousands of
// connections costs no more than one with a single socket. Both tables
// are read, since the lowest port may be either's, except one whose
// protocol sockstat counts no socket of.
func (r *Reader) readListening(s *Stats) (int, error) {
	s.Listening, s.HaveListen, s.ListenPort = false, false, 0
	n, known, read, err := r.tcpInUse()
	switch {
	case kernfile.Vanished(err):
		// No sockstat: look at the tables. (A process that exited is
		// Read's to report.)
		known = false
	case err != nil:
		return read, err
	case known && n[0] == 0 && n[1] == 0:
		s.HaveListen = true
		return read, nil
	}
	var listening, have bool
	var port uint16
	for i := range r.tcp {
		f := &r.tcp[i]
		if known && n[i] == 0 {
			have = true // no socket of this protocol, so no listener
			continue
		}
		if r.keepOpen && !f.Kept() {
			continue
		}
		data, err := f.Head(r.buf[:cap(r.buf)])
		read += len(data)
		if kernfile.Vanished(err) && !r.keepOpen {
			continue // no such protocol in the namespace
		}
		if err != nil {
			return read, err
		}
		l, p, err := ParseTCPListening(data)
		if err != nil {
			return read, fmt.Errorf("%s: %w", f.Name(), err)
		}
		have, listening = true, listening || l
		if p != 0 && (port == 0 || p < port) {
			port = p
		}
	}
	s.Listening, s.HaveListen, s.ListenPort = listening, have, port
	return read, nil
}

// ReadInterfaces is Read without net/snmp, net/tcp and net/tcp6: it
// refreshes s.Interfaces and leaves the TCP fields as they were. net/snmp
// is the most expensive file here (the kernel formats every protocol's
// counters), and the TCP figures feed hourly history, so callers read
// them less often.
func (r *Reader) ReadInterfaces(s *Stats) error {
	if err := r.readDev(s); err != nil {
		return err
	}
	if r.keepOpen {
		return r.checkAlive()
	}
	return nil
}

func (r *Reader) readDev(s *Stats) error {
	if err := r.streamDev(s); err != nil {
		clearInterfaces(s)
		return err
	}
	return nil
}

// streamDev reads net/dev a buffer at a time, at most MaxNetDevBytes,
// and hands its lines to the chooser, which keeps MaxInterfaces of them:
// a namespace with thousands of interfaces costs a bounded buffer and
// bounded time, not memory in proportion.
func (r *Reader) streamDev(s *Stats) error {
	f := r.dev
	if !f.Kept() {
		// The pieces of one reading come through one descriptor.
		if err := f.Keep(); err != nil {
			return err
		}
		defer f.Close()
	}
	c := &r.chooser
	c.reset(s.Interfaces)
	s.Truncated = false
	buf := r.buf[:cap(r.buf)]
	lineNo, carry, off, eof := 1, 0, int64(0), false
	for !eof {
		want := len(buf) - carry
		if left := MaxNetDevBytes - off; int64(want) > left {
			want = int(left)
		}
		// Reading from offset 0 makes procfs generate the content afresh,
		// so a kept-open file needs no seek; the reads that follow go on
		// where the last one stopped. ReadAt fills the buffer unless the
		// file ends first.
		n, err := f.ReadAt(buf[carry:carry+want], off)
		switch {
		case err == io.EOF:
			eof = true
		case err != nil:
			return err
		}
		off += int64(n)
		data := buf[:carry+n]
		if !eof && off >= MaxNetDevBytes {
			// The bound: what follows is not read. The last line, cut
			// off, is dropped with it.
			s.Truncated = true
			if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
				data = data[:i+1]
			} else {
				data = data[:0]
			}
			eof = true
		}
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 && !eof {
				break // the rest of the line comes with the next read
			}
			var line []byte
			line, data = kernfile.NextLine(data)
			if err := c.line(line, lineNo); err != nil {
				return fmt.Errorf("%s: %w", f.Name(), err)
			}
			lineNo++
		}
		carry = copy(buf, data)
		if carry == len(buf) && len(buf) >= maxDevBuf {
			return fmt.Errorf("%s: line %d longer than %d bytes", f.Name(), lineNo, maxDevBuf)
		}
		if !eof && len(buf) < maxDevBuf {
			// A file longer than the buffer (or one line filling it):
			// fewer, larger reads, up to the bound, once per Reader.
			nb := make([]byte, min(2*len(buf), maxDevBuf))
			copy(nb, buf[:carry])
			buf, r.buf = nb, nb[:0]
		}
	}
	c.finish(s)
	return nil
}

// drainDev reads net/dev as streamDev does, within the same bounds,
// without parsing it, and returns the bytes read.
func (r *Reader) drainDev() (int, error) {
	f := r.dev
	if !f.Kept() {
		if err := f.Keep(); err != nil {
			return 0, err
		}
		defer f.Close()
	}
	if cap(r.buf) == 0 {
		r.buf = make([]byte, 0, initialBufSize)
	}
	buf := r.buf[:cap(r.buf)]
	var off int64
	for off < MaxNetDevBytes {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), MaxNetDevBytes-off)], off)
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return int(off), err
		}
	}
	return int(off), nil
}

// checkAlive reports, as fs.ErrNotExist, the exit of a process whose files
// are kept open. Its stat file answers ESRCH once the process is reaped and
// shows state Z or X before that.
func (r *Reader) checkAlive() error {
	if r.procFd >= 0 {
		switch err := pidfdAlive(r.procFd); {
		case err == nil:
			return nil
		case kernfile.Vanished(err):
			return r.exited()
		}
	}
	data, err := r.stat.Read(&r.buf, maxWholeFile)
	if kernfile.Vanished(err) {
		return r.exited()
	}
	if err != nil {
		return err
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain them.
	end := bytes.LastIndexByte(data, ')')
	if end < 0 || end+2 >= len(data) {
		return fmt.Errorf("%s: no process state in %q", r.stat.Name(), kernfile.Clip(data))
	}
	switch data[end+2] {
	case 'Z', 'X', 'x':
		return r.exited()
	}
	return nil
}

func (r *Reader) exited() error {
	return fmt.Errorf("%s: process %d has exited: %w", r.stat.Name(), r.pid, fs.ErrNotExist)
}

// Close closes the files kept open, releasing the namespace they pin. The
// Reader must not be used afterwards.
func (r *Reader) Close() error {
	var errs []error
	for _, f := range r.kept() {
		errs = append(errs, f.Close())
	}
	if r.procFd >= 0 {
		errs = append(errs, closeFd(r.procFd))
	}
	r.procFd = -1
	return errors.Join(errs...)
}

// kept lists the files a keepOpen Reader may hold open.
func (r *Reader) kept() [7]*kernfile.File {
	return [7]*kernfile.File{&r.dev, &r.snmp, &r.stat, &r.tcp[0], &r.tcp[1], &r.sockstat[0], &r.sockstat[1]}
}

// Files counts the descriptors the Reader holds open.
func (r *Reader) Files() int {
	n := 0
	for _, f := range r.kept() {
		if f.Kept() {
			n++
		}
	}
	if r.procFd >= 0 {
		n++
	}
	return n
}

// NamespaceID returns the inode number of the network namespace of process
// pid, which is equal for all processes sharing the namespace (such as the
// containers of one pod). A process that is gone yields an error wrapping
// fs.ErrNotExist.
func NamespaceID(procRoot string, pid int) (uint64, error) {
	path := filepath.Join(procRoot, strconv.Itoa(pid), "ns", "net")
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%s: no inode number in %T", path, fi.Sys())
	}
	return st.Ino, nil
}

// ReadRaw reads the files ReadInterfaces reads, net/snmp as well when
// withSNMP is set (as Read does), without parsing them, and when
// withListen is set what ReadListening reads (sockstat, and the heads of
// net/tcp and net/tcp6 where it counts sockets); with keepOpen it
// also checks that the process is alive, as they do. It returns the bytes
// read. It exists to measure the floor of sampling a network namespace:
// what the kernel charges to render its files. It allocates nothing once
// the buffer has grown to the largest file.
func (r *Reader) ReadRaw(withSNMP, withListen bool) (int, error) {
	total, err := r.drainDev()
	if err != nil {
		return 0, err
	}
	if withSNMP {
		data, err := r.readSNMP()
		if err != nil {
			return total, err
		}
		total += len(data)
	}
	if withListen {
		// What ReadListening reads depends on what sockstat says, so it
		// is ReadListening, whose parsing of a few lines every few
		// minutes is next to nothing.
		var s Stats
		n, err := r.readListening(&s)
		total += n
		if err != nil {
			return total, err
		}
	}
	if r.keepOpen {
		return total, r.checkAlive()
	}
	return total, nil
}
