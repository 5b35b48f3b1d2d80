package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// maxPerClient caps one client's share of a listener's connections, so
// that one pod opening connections in a loop cannot take every slot from
// Prometheus and the kubelet's probes. A client is an IPv4 address or an
// IPv6 /64: a pod may own a whole /64 (IPv6 prefix delegation) and would
// otherwise get a cap per address.
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
		lc := &limitedConn{Conn: c, l: l, host: clientKey(c.RemoteAddr().String()), state: http.StateNew, since: time.Now()}
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

// clientKey names the client of a remote address ("host:port"): the
// IPv4 address, or the IPv6 address's /64.
func clientKey(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return remote
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
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

// Requests in flight, per client and in all, whatever the protocol: over
// HTTP/2 one connection carries several requests, and a stream whose
// client never opens its flow-control window holds its handler until the
// write timeout. A request's cost is a goroutine and a few KiB (scrapes
// share one rendering; the API has its own cap on renderings), so 256
// bound them to a few MiB, while a client gets 8, more than a scraper and
// a person with curl need.
const (
	maxInFlight       = 256
	maxClientInFlight = 8
)

// guard admits a request within the in-flight caps and while the agent is
// not short of memory; the rest are answered 503 at once, with no body
// (over HTTP/2 a body could wait on the client's flow control, holding the
// stream). Requests with a body are refused (413) before they are read:
// no endpoint takes one.
type guard struct {
	next http.Handler
	// shed reports whether the agent is near its memory limit; /healthz
	// still answers then, so that the kubelet does not restart an agent
	// that is only busy.
	shed func() bool

	mu        sync.Mutex
	total     int
	perClient map[string]int // at most maxInFlight entries
}

var _ http.Handler = (*guard)(nil)

func newGuard(next http.Handler, shed func() bool) *guard {
	return &guard{next: next, shed: shed, perClient: map[string]int{}}
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	if g.shed != nil && r.URL.Path != "/healthz" && g.shed() {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	key := clientKey(r.RemoteAddr)
	if !g.enter(key) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	defer g.leave(key)
	g.next.ServeHTTP(w, r)
}

func (g *guard) enter(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.total >= maxInFlight || g.perClient[key] >= maxClientInFlight {
		return false
	}
	g.total++
	g.perClient[key]++
	return true
}

func (g *guard) leave(key string) {
	g.mu.Lock()
	g.total--
	if g.perClient[key]--; g.perClient[key] <= 0 {
		delete(g.perClient, key)
	}
	g.mu.Unlock()
}
