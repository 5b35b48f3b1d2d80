package agent

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"time"

	"github.com/fleetscope/fleetscope/collectors/netstat"
	"github.com/fleetscope/fleetscope/model"
)

// netTracked is one network namespace's reader and previous counters.
type netTracked struct {
	r     *netstat.Reader
	stats netstat.Stats
	seen  bool // touched this tick
	owner *tracked
	ok    bool
	fresh bool // read in the current pass
	// traffic derives rates from the bytes received and sent, summed over
	// every interface (rx, tx in that order).
	traffic counters
	// accepts follows TCP passive opens, read on their own cadence; its
	// reading time tells when the next read is due.
	accepts     counters
	acceptDelta uint64    // since the previous read of net/snmp, for history
	listenDue   time.Time // next look for listening sockets
}

func (n *netTracked) close() {
	if n.r != nil {
		n.r.Close()
		n.r = nil
	}
}

// tcpRefresh is how often the TCP accept counter (net/snmp) is read: it
// feeds hourly request estimates, so once a minute is plenty.
const tcpRefresh = time.Minute

// listenRefresh is how often a namespace is searched for listening sockets
// (the first pages of net/tcp and net/tcp6, unless net/sockstat counts no
// TCP socket), which costs the kernel a walk of the host's whole
// connection table wherever there are few sockets: 3.3 ms a namespace on
// a 2-vCPU VM, more than everything else the agent does for it in that
// time when done every minute. A listening socket lives as
// long as its server, so the answer stands for the minutes in between;
// the first look is at once, so a new server is known as one from its
// first minute, and the second comes a random part of the interval early
// so that namespaces found together are not all searched in one tick.
const listenRefresh = 5 * time.Minute

// sampleNetworks reads each network namespace once, through its owner: the
// pod's sandbox when present, else the first container seen in it.
func (s *Sampler) sampleNetworks(now time.Time) bool {
	s.assignNetworks()
	ok := true
	for id, n := range s.nets {
		if !n.seen {
			n.close()
			delete(s.nets, id)
			continue
		}
		if err := s.readNetwork(n, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.netErrs++
			ok = false
		}
	}
	return ok
}

// assignNetworks marks the namespaces of this tick's sampled containers
// and picks each one's owner, preferring the pod's sandbox.
func (s *Sampler) assignNetworks() {
	for _, n := range s.nets {
		n.seen, n.owner, n.ok, n.fresh = false, nil, false, false
	}
	for _, t := range s.order {
		if !t.curOK || t.netns == 0 || t.netns == s.hostNet {
			continue
		}
		n := s.nets[t.netns]
		if n == nil {
			n = &netTracked{}
			s.nets[t.netns] = n
		}
		if n.owner == nil || (t.c.Sandbox && !n.owner.c.Sandbox) {
			n.owner = t
		}
		n.seen = true
	}
}

// readNetwork reads one namespace's counters through its owner and derives
// its rates.
func (s *Sampler) readNetwork(n *netTracked, now time.Time) error {
	if n.r == nil {
		r, err := netstat.NewReader(s.procRoot, int(n.owner.c.Pid), s.keepOpen)
		if err != nil {
			return err
		}
		n.r = r
	}
	readTCP := now.Sub(n.accepts.at) >= tcpRefresh
	read := n.r.ReadInterfaces
	if readTCP {
		read = n.r.Read
	}
	err := read(&n.stats)
	if err == nil && !now.Before(n.listenDue) {
		if err = n.r.ReadListening(&n.stats); err == nil {
			next := listenRefresh
			if n.listenDue.IsZero() {
				next -= rand.N(listenRefresh / 2)
			}
			n.listenDue = now.Add(next)
		}
	}
	if err != nil {
		// The reading process may have exited while the namespace
		// lives on; reopen through the current owner next tick.
		n.close()
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("reading network counters", "owner", n.owner.c.Key(), "err", err)
		}
		return err
	}
	n.ok, n.fresh = true, true
	// The interfaces beyond the collector's bound count in the
	// totals too: a flood of them hides no traffic.
	rx, tx := n.stats.Others.RxBytes, n.stats.Others.TxBytes
	for i := range n.stats.Interfaces {
		rx += n.stats.Interfaces[i].RxBytes
		tx += n.stats.Interfaces[i].TxBytes
	}
	traffic := n.traffic.step(now, rx, tx)
	n.acceptDelta = 0
	if readTCP && n.accepts.step(now, n.stats.TCPPassiveOpens) && traffic {
		n.acceptDelta = n.accepts.delta[0]
	}
	return nil
}

// fillNetworks copies the tick's network namespaces into snap, after its
// containers.
func (s *Sampler) fillNetworks(snap *model.Snapshot) {
	nIf := 0
	for _, n := range s.nets {
		if n.ok {
			nIf += len(n.stats.Interfaces)
		}
	}
	snap.Interfaces = make([]model.Interface, 0, nIf)
	snap.Networks = snap.Networks[:0]
	netIndex := make(map[uint64]int, len(s.nets))
	for id, n := range s.nets {
		// A pass over new containers only keeps last tick's networks, whose
		// owner may have left the inventory since.
		if !n.ok || n.owner == nil || n.owner.pos < 0 {
			continue
		}
		from := len(snap.Interfaces)
		for j := range n.stats.Interfaces {
			snap.Interfaces = append(snap.Interfaces, interfaceOf(&n.stats.Interfaces[j]))
		}
		owner := n.owner.pos
		var port uint16
		if n.stats.HaveListen {
			port = n.stats.ListenPort
		}
		netIndex[id] = len(snap.Networks)
		snap.Networks = append(snap.Networks, model.Network{
			Owner:           owner,
			Interfaces:      snap.Interfaces[from:len(snap.Interfaces):len(snap.Interfaces)],
			Others:          interfaceOf(&n.stats.Others),
			OtherInterfaces: n.stats.OthersCount,
			TCPPassiveOpens: n.stats.TCPPassiveOpens,
			HaveTCP:         n.stats.HaveTCP,
			ListenPort:      port,
			HaveRates:       n.traffic.ok,
			RxBytesPerSec:   n.traffic.rate(0),
			TxBytesPerSec:   n.traffic.rate(1),
		})
	}
	// Every container of a namespace points at its network, so the API can
	// show pod traffic next to each container without double counting.
	for i, t := range s.order {
		if j, ok := netIndex[t.netns]; ok && t.curOK {
			snap.Containers[i].Network = j
			n := s.nets[t.netns]
			d := &snap.Containers[i].Delta
			if n.traffic.ok && n.fresh && t.fresh {
				d.NetRxBytes, d.NetTxBytes, d.TCPAccepts = n.traffic.delta[0], n.traffic.delta[1], n.acceptDelta
			}
			d.Listening = n.stats.HaveListen && n.stats.Listening
		}
	}
}
