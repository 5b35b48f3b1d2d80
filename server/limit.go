package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// maxPerClient caps one client address's share of a listener's
// connections, so that one pod opening connections in a loop cannot take
// every slot from Prometheus and the kubelet's probes.
const maxPerClient = 16

// limitListener caps open connections, in all and per client address.
// At the overall cap, a new connection takes the slot of the oldest one
// that is doing nothing (connected without a request yet, or idle between
// requests): clients holding connections open cannot lock others out,
// while a request being served is never cut. A connection over its
// client's cap, or when every slot is busy serving, is closed at once
// rather than left in the kernel's backlog to delay others.
func limitListener(l net.Listener, max int) *limited {
	return &limited{Listener: l, max: max, conns: map[*limitedConn]struct{}{}, perHost: map[string]int{}}
}

type limited struct {
	net.Listener
	max int

	mu      sync.Mutex
	conns   map[*limitedConn]struct{} // at most max
	perHost map[string]int            // bounded by max entries
}

type limitedConn struct {
	net.Conn
	l    *limited
	host string
	once sync.Once
	// Guarded by l.mu.
	state http.ConnState
	since time.Time // when state was entered
}

func (l *limited) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitedConn{Conn: c, l: l, host: clientHost(c.RemoteAddr()), state: http.StateNew, since: time.Now()}
		if !l.admit(lc) {
			c.Close()
			continue
		}
		return lc, nil
	}
}

func (l *limited) admit(lc *limitedConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perHost[lc.host] >= min(maxPerClient, l.max) {
		return false
	}
	if len(l.conns) >= l.max {
		victim := l.oldestIdle()
		if victim == nil {
			return false
		}
		l.forget(victim)
		// Closing it makes the server's read fail; its own Close later
		// finds the slot already given back.
		victim.Conn.Close()
	}
	l.conns[lc] = struct{}{}
	l.perHost[lc.host]++
	return true
}

// oldestIdle is the connection longest without a request in progress.
func (l *limited) oldestIdle() *limitedConn {
	var v *limitedConn
	for c := range l.conns {
		if (c.state == http.StateNew || c.state == http.StateIdle) && (v == nil || c.since.Before(v.since)) {
			v = c
		}
	}
	return v
}

// forget gives c's slot back; the caller holds l.mu.
func (l *limited) forget(c *limitedConn) {
	c.once.Do(func() {
		delete(l.conns, c)
		if l.perHost[c.host]--; l.perHost[c.host] <= 0 {
			delete(l.perHost, c.host)
		}
	})
}

// connState is the http.Server's ConnState hook: it tells the limiter
// which connections are serving a request.
func (l *limited) connState(c net.Conn, st http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, ok := c.(*limitedConn)
	if !ok || lc.l != l {
		return
	}
	l.mu.Lock()
	lc.state, lc.since = st, time.Now()
	l.mu.Unlock()
}

func clientHost(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	return a.String()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.l.mu.Lock()
	c.l.forget(c)
	c.l.mu.Unlock()
	return err
}
