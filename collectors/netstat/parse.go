// Package netstat reads per-network-namespace interface counters from procfs.
//
// A network namespace is read through any process inside it:
// /proc/<pid>/net/dev has the interface counters and /proc/<pid>/net/snmp the
// TCP counters, of which only PassiveOpens (connections accepted) is kept, as
// a cheap estimate of the requests a service handles. /proc/<pid>/net/tcp
// and tcp6 tell whether the namespace has a listening TCP socket (an
// always-on server), and its lowest port outside loopback: the kernel
// lists listening sockets before all others, so the first lines of each
// file answer, however many connections follow. All containers of a pod
// share one namespace; NamespaceID tells which processes do.
//
// The parsers work on bytes and allocate nothing once their destination has
// grown to size, because the reads repeat for every pod on every round.
package netstat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fleetscope/fleetscope/collectors/internal/kernfile"
)

// Interface holds the counters of one network interface, as the kernel
// reports them in /proc/<pid>/net/dev. Rx is traffic into the namespace.
type Interface struct {
	Name                                    string
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}

// Stats is one reading of a network namespace.
type Stats struct {
	// Interfaces lists at most MaxInterfaces interfaces, the loopback
	// excluded, in the order of the file (see ParseNetDev for which).
	Interfaces []Interface
	// Others sums the counters of the interfaces beyond MaxInterfaces
	// (its Name is empty), and OthersCount counts them: Interfaces and
	// Others together hold the traffic of every interface read.
	Others      Interface
	OthersCount int
	// Truncated is set when net/dev was longer than MaxNetDevBytes and
	// only its beginning was read: Others and OthersCount then miss the
	// interfaces listed after it.
	Truncated bool
	// TCPPassiveOpens counts TCP connections accepted in the namespace
	// since it was created; valid only when HaveTCP is true.
	TCPPassiveOpens uint64
	// HaveTCP is false when the namespace has no TCP counters (a kernel
	// without IPv4 has no net/snmp).
	HaveTCP bool
	// Listening is true when a TCP socket of the namespace is in state
	// LISTEN (IPv4 or IPv6); valid only when HaveListen is true.
	Listening, HaveListen bool
	// ListenPort is the lowest port of the listening sockets whose local
	// address is not loopback (127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104),
	// 0 when there is none; valid only when HaveListen is true. Like
	// Listening, it comes from the first few KiB of each table, which
	// hold every listener of all but a namespace with dozens of them.
	ListenPort uint16
}

// netDevFields is the number of counters per interface line: eight receive
// counters followed by eight transmit counters.
const netDevFields = 16

// Positions of the kept counters among the sixteen.
const (
	rxBytes, rxPackets, rxErrors, rxDropped = 0, 1, 2, 3
	txBytes, txPackets, txErrors, txDropped = 8, 9, 10, 11
)

// MaxInterfaces bounds the interfaces of one network namespace whose
// counters are kept one by one. A pod has one to four (eth0, perhaps a
// tunnel or a second network); one with multus attachments perhaps eight;
// sixteen leaves room for twice that. A tenant that administers its own
// namespace can add thousands (veth pairs cost it nothing), and each kept
// interface becomes eight exported series: beyond the bound, interfaces
// are summed into Stats.Others and counted in Stats.OthersCount, so the
// namespace's totals stay whole while its series stay few. (The exported
// help of fleetscope.pod.network.interfaces_dropped names the figure.)
const MaxInterfaces = 16

// maxNameLen bounds the interface names the parser keeps while it chooses.
// Linux names have at most 15 bytes (IFNAMSIZ - 1); a longer one can only
// come from a file that is not the kernel's, and is an error.
const maxNameLen = 64

// candidate is an interface in the running for one of the kept places,
// with a copy of its name: when net/dev is read in pieces, the line it
// came from is gone by the time the choice is made.
type candidate struct {
	name    [maxNameLen]byte
	nameLen uint8
	kept    bool // kept in the previous reading: it stays while it exists
	line    int  // position in the file, for the order of the result
	vals    [8]uint64
}

func (c *candidate) traffic() uint64 {
	return sat(c.vals[0], c.vals[4]) // received + transmitted bytes
}

// sat adds without wrapping: a saturated sum still ranks as the largest.
func sat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<64 - 1
}

// better ranks a before b for a kept place: an interface kept last time
// before a newcomer, so the choice does not flap from one reading to the
// next and a burst of new interfaces cannot push a pod's eth0 out; then
// the busier one (cumulative bytes, in which a long-lived eth0 leads and
// an interface created a moment ago has next to nothing); then the one
// first in the file.
func better(a, b *candidate) bool {
	if a.kept != b.kept {
		return a.kept
	}
	if ta, tb := a.traffic(), b.traffic(); ta != tb {
		return ta > tb
	}
	return a.line < b.line
}

// netDevChooser parses net/dev lines one at a time and keeps the best
// MaxInterfaces of them, summing the others: whatever the number of
// lines, it holds MaxInterfaces candidates and allocates nothing.
type netDevChooser struct {
	prev   []Interface // the previous reading's kept interfaces
	cands  [MaxInterfaces]candidate
	n      int // candidates in use
	worst  int // index of the worst candidate once all are in use
	lines  int // interface lines seen
	others [8]uint64
	count  int // interfaces summed in others
}

func (c *netDevChooser) reset(prev []Interface) {
	c.prev, c.n, c.worst, c.lines, c.others, c.count = prev, 0, 0, 0, [8]uint64{}, 0
}

// Positions of the kept counters among the sixteen, in candidate.vals
// and Interface order.
var keptFields = [8]int{rxBytes, rxPackets, rxErrors, rxDropped, txBytes, txPackets, txErrors, txDropped}

// line parses one line of net/dev (its number lineNo, counting from 1)
// and enters its interface in the running.
func (c *netDevChooser) line(line []byte, lineNo int) error {
	if len(kernfile.TrimSpace(line)) == 0 || bytes.IndexByte(line, '|') >= 0 {
		return nil
	}
	// Interface names cannot contain ':', so the first one ends the name.
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return fmt.Errorf("line %d: want \"name: counters\", got %q", lineNo, line)
	}
	name := kernfile.TrimSpace(line[:colon])
	if len(name) == 0 {
		return fmt.Errorf("line %d: empty interface name", lineNo)
	}
	if _, after := kernfile.NextField(name); len(after) > 0 {
		// Linux rejects blanks in interface names.
		return fmt.Errorf("line %d: interface name %q contains a blank", lineNo, name)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("line %d: interface name of %d bytes, more than %d", lineNo, len(name), maxNameLen)
	}
	var vals [netDevFields]uint64
	rest := line[colon+1:]
	for i := range vals {
		var f []byte
		f, rest = kernfile.NextField(rest)
		if f == nil {
			return fmt.Errorf("line %d: interface %q: %d counters, want %d", lineNo, name, i, netDevFields)
		}
		v, err := parseUint(f)
		if err != nil {
			return fmt.Errorf("line %d: interface %q: counter %d: %w", lineNo, name, i+1, err)
		}
		vals[i] = v
	}
	if string(name) == "lo" {
		return nil
	}
	var nc candidate
	nc.nameLen = uint8(copy(nc.name[:], name))
	nc.line = c.lines
	c.lines++
	for i, f := range keptFields {
		nc.vals[i] = vals[f]
	}
	for i := range c.prev {
		if c.prev[i].Name == string(name) { // compared without allocating
			nc.kept = true
			break
		}
	}
	switch {
	case c.n < len(c.cands):
		c.cands[c.n] = nc
		c.n++
		if c.n == len(c.cands) {
			c.findWorst()
		}
	case better(&nc, &c.cands[c.worst]):
		c.fold(&c.cands[c.worst])
		c.cands[c.worst] = nc
		c.findWorst()
	default:
		c.fold(&nc)
	}
	return nil
}

// fold adds an interface left out to the others.
func (c *netDevChooser) fold(x *candidate) {
	for i, v := range x.vals {
		c.others[i] = sat(c.others[i], v)
	}
	c.count++
}

func (c *netDevChooser) findWorst() {
	c.worst = 0
	for i := 1; i < c.n; i++ {
		if better(&c.cands[c.worst], &c.cands[i]) {
			c.worst = i
		}
	}
}

// finish writes the kept interfaces into s.Interfaces, in the order of the
// file, reusing its elements and their names: when an interface has the
// same name as the element it lands on, as it does when the same
// namespace is read again, no string is allocated.
func (c *netDevChooser) finish(s *Stats) {
	kept := c.cands[:c.n]
	// Insertion sort by position in the file: at most MaxInterfaces.
	for i := 1; i < len(kept); i++ {
		for j := i; j > 0 && kept[j].line < kept[j-1].line; j-- {
			kept[j], kept[j-1] = kept[j-1], kept[j]
		}
	}
	dst := s.Interfaces[:0]
	for i := range kept {
		k := &kept[i]
		n := len(dst)
		if n < cap(dst) {
			dst = dst[:n+1]
		} else {
			dst = append(dst, Interface{})
		}
		it := &dst[n]
		name := k.name[:k.nameLen]
		if !utf8.Valid(name) {
			// Interface names may hold any byte but '/', ':', blanks and
			// NUL; what leaves the agent must be UTF-8.
			it.Name = strings.ToValidUTF8(string(name), "\uFFFD")
		} else if it.Name != string(name) { // compared without allocating
			it.Name = string(name)
		}
		setCounters(it, &k.vals)
	}
	s.Interfaces = dst
	s.Others = Interface{}
	setCounters(&s.Others, &c.others)
	s.OthersCount = c.count
	c.prev = nil
}

func setCounters(it *Interface, v *[8]uint64) {
	it.RxBytes, it.RxPackets, it.RxErrors, it.RxDropped = v[0], v[1], v[2], v[3]
	it.TxBytes, it.TxPackets, it.TxErrors, it.TxDropped = v[4], v[5], v[6], v[7]
}

// clearInterfaces empties what ParseNetDev fills, after an error.
func clearInterfaces(s *Stats) {
	s.Interfaces, s.Others, s.OthersCount, s.Truncated = s.Interfaces[:0], Interface{}, 0, false
}

// ParseNetDev parses the content of /proc/<pid>/net/dev into s.Interfaces,
// s.Others and s.OthersCount, leaving s's other fields as they were.
// Loopback is skipped. Of the other interfaces at most MaxInterfaces are
// kept, in the order of the file: those kept in s.Interfaces before (s
// holding the previous reading of the same namespace), then the busiest;
// the rest are summed into s.Others. It reuses s.Interfaces' elements and
// names, so reading the same namespace again allocates nothing, however
// many interfaces it has.
//
// Header lines are recognised by their '|'. Any other non-empty line must be
// "name: " followed by at least sixteen decimal counters (older kernels put
// no space after the colon); anything else is an error naming the line. On
// error, s.Interfaces is empty and s.Others zero.
func ParseNetDev(data []byte, s *Stats) error {
	var c netDevChooser
	c.reset(s.Interfaces)
	for lineNo := 1; len(data) > 0; lineNo++ {
		var line []byte
		line, data = kernfile.NextLine(data)
		if err := c.line(line, lineNo); err != nil {
			clearInterfaces(s)
			return err
		}
	}
	c.finish(s)
	s.Truncated = false
	return nil
}

// ParseSNMPPassiveOpens returns the PassiveOpens counter from the content of
// /proc/<pid>/net/snmp. There, each protocol has a line of names followed by
// a line of values, both prefixed "Tcp:" for TCP. The boolean is false, with
// no error, when the file has no such counter.
func ParseSNMPPassiveOpens(data []byte) (uint64, bool, error) {
	var names []byte
	for lineNo := 1; len(data) > 0; lineNo++ {
		var line []byte
		line, data = kernfile.NextLine(data)
		if len(line) < 4 || string(line[:4]) != "Tcp:" {
			continue
		}
		if names == nil {
			names = line[4:]
			continue
		}
		values := line[4:]
		for {
			var name, value []byte
			name, names = kernfile.NextField(names)
			value, values = kernfile.NextField(values)
			switch {
			case name == nil:
				return 0, false, nil
			case value == nil:
				return 0, false, fmt.Errorf("line %d: fewer Tcp values than names", lineNo)
			case string(name) == "PassiveOpens":
				v, err := parseUint(value)
				if err != nil {
					return 0, false, fmt.Errorf("line %d: Tcp PassiveOpens: %w", lineNo, err)
				}
				return v, true, nil
			}
		}
	}
	if names != nil {
		return 0, false, errors.New("a line of Tcp names without a line of values")
	}
	return 0, false, nil
}

// ParseSockstatInUse returns the sockets in use of protocol proto ("TCP" in
// /proc/<pid>/net/sockstat, "TCP6" in sockstat6), from its line "PROTO:
// inuse N ...". The boolean is false, with no error, when the file has no
// such line; a line without a number after inuse is an error naming it.
func ParseSockstatInUse(data []byte, proto string) (uint64, bool, error) {
	for lineNo := 1; len(data) > 0; lineNo++ {
		var line []byte
		line, data = kernfile.NextLine(data)
		if len(line) <= len(proto) || string(line[:len(proto)]) != proto || line[len(proto)] != ':' {
			continue
		}
		rest := line[len(proto)+1:]
		for {
			var name, value []byte
			name, rest = kernfile.NextField(rest)
			value, rest = kernfile.NextField(rest)
			switch {
			case name == nil:
				return 0, false, nil
			case string(name) != "inuse":
				continue
			case value == nil:
				return 0, false, fmt.Errorf("line %d: %s inuse without a value", lineNo, proto)
			}
			v, err := parseUint(value)
			if err != nil {
				return 0, false, fmt.Errorf("line %d: %s inuse: %w", lineNo, proto, err)
			}
			return v, true, nil
		}
	}
	return 0, false, nil
}

// tcpListen is the state of a listening socket in /proc/net/tcp (TCP_LISTEN,
// in hex).
const tcpListen = "0A"

// ParseTCPListening reports whether the content of /proc/<pid>/net/tcp or
// tcp6 (or its beginning: a last line without its newline is ignored) lists
// a socket in state LISTEN, and the lowest port of those listening at an
// address other than loopback (0 if none). After a header line, each line
// is "sl: local_address rem_address st ...", st in hex, the local address
// "ADDR:PORT" in hex, ADDR as the kernel's 32-bit words in the host's byte
// order. A line of fewer fields is an error naming it; a listener whose
// local address is not of that form counts as listening, but its port
// does not. It allocates nothing.
func ParseTCPListening(data []byte) (listening bool, port uint16, err error) {
	for lineNo := 1; len(data) > 0; lineNo++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break // cut off by the read: the next one tells
		}
		line := data[:i]
		data = data[i+1:]
		if lineNo == 1 || len(kernfile.TrimSpace(line)) == 0 {
			continue // header
		}
		var local, st []byte
		rest := line
		for f := range 4 {
			st, rest = kernfile.NextField(rest)
			if f == 1 {
				local = st
			}
		}
		if st == nil {
			return false, 0, fmt.Errorf("line %d: want \"sl local rem st ...\", got %q", lineNo, kernfile.Clip(line))
		}
		if string(st) != tcpListen {
			continue
		}
		// Listeners come first, but the scan goes on to the end of the
		// piece: older kernels list each listener's pending connections
		// after it, and a piece is a few dozen lines.
		listening = true
		if p, ok := publicPort(local); ok && (port == 0 || p < port) {
			port = p
		}
	}
	return listening, port, nil
}

// publicPort returns the port of a local address of net/tcp or tcp6 that
// is not loopback; ok is false for loopback, port 0 and an address not
// of the kernel's form.
func publicPort(local []byte) (port uint16, ok bool) {
	colon := bytes.IndexByte(local, ':')
	if colon < 0 || len(local)-colon-1 != 4 {
		return 0, false
	}
	p, ok := parseHex(local[colon+1:])
	if !ok || p == 0 {
		return 0, false
	}
	addr := local[:colon]
	if len(addr) != 8 && len(addr) != 32 {
		return 0, false
	}
	// The kernel prints each 32-bit word of the address, which is in
	// network order in memory, as a number in the host's byte order;
	// storing the number back in that order recovers the address' bytes.
	var a [16]byte
	for w := 0; w < len(addr)/8; w++ {
		v, ok := parseHex(addr[8*w : 8*w+8])
		if !ok {
			return 0, false
		}
		binary.NativeEndian.PutUint32(a[4*w:], uint32(v))
	}
	if len(addr) == 8 {
		if a[0] == 127 {
			return 0, false
		}
		return uint16(p), true
	}
	var zero [10]byte
	switch {
	case a == [16]byte{15: 1}: // ::1
		return 0, false
	case [10]byte(a[:10]) == zero && a[10] == 0xff && a[11] == 0xff && a[12] == 127: // ::ffff:127.x.y.z
		return 0, false
	}
	return uint16(p), true
}

// parseHex parses at most 8 hex digits, upper or lower case.
func parseHex(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(c)
	}
	return n, true
}

// parseUint parses a counter, naming the bytes that are not one.
func parseUint(b []byte) (uint64, error) {
	n, err := kernfile.ParseUint(b)
	switch {
	case err == nil:
		return n, nil
	case len(b) == 0:
		return 0, err
	case err == kernfile.ErrRange:
		return 0, fmt.Errorf("%q %w", kernfile.Clip(b), err)
	}
	return 0, fmt.Errorf("%w: %q", err, kernfile.Clip(b))
}
