package server

import (
	"net"
	"sync"
)

// maxPerClient caps one client address's share of a listener's
// connections, so that one pod opening connections in a loop cannot take
// every slot from Prometheus and the kubelet's probes.
const maxPerClient = 16

// limitListener caps open connections, in all and per client address.
// A connection over a cap is closed at once rather than left in the
// kernel's backlog, where it would delay well-behaved clients behind it.
func limitListener(l net.Listener, max int) net.Listener {
	return &limited{Listener: l, max: max, perHost: map[string]int{}}
}

type limited struct {
	net.Listener
	max int

	mu      sync.Mutex
	open    int
	perHost map[string]int // bounded by max entries
}

func (l *limited) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := clientHost(c.RemoteAddr())
		if !l.acquire(host) {
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, l: l, host: host}, nil
	}
}

func (l *limited) acquire(host string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max || l.perHost[host] >= min(maxPerClient, l.max) {
		return false
	}
	l.open++
	l.perHost[host]++
	return true
}

func (l *limited) release(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perHost[host]--; l.perHost[host] <= 0 {
		delete(l.perHost, host)
	}
}

func clientHost(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	return a.String()
}

type limitedConn struct {
	net.Conn
	l    *limited
	host string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.host) })
	return err
}
