package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixed struct{ s *model.Snapshot }

func (f fixed) Snapshot() *model.Snapshot { return f.s }

// start runs a server on a free loopback port until the test ends, and
// checks that Run returns (with every listener goroutine joined).
func start(t *testing.T, src Source, o Options) string {
	t.Helper()
	cf := o.Web.ConfigFile
	o.Web = config.Default().Web
	o.Web.ListenAddress, o.Web.ConfigFile = "127.0.0.1:0", cf
	s := New(src, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "metrics") }), o)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(shutdownGrace + 2*time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s.Addrs()[0].String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReadyz(t *testing.T) {
	src := &fixed{}
	addr := start(t, src, Options{})
	if code, body := get(t, "http://"+addr+"/readyz"); code != 503 || !strings.Contains(body, "no sample") {
		t.Fatalf("before the first sample: %d %q", code, body)
	}
	src.s = &model.Snapshot{Self: model.Self{ContainerdReason: "dial unix /run/x.sock: no such file", ContainerdSince: time.Unix(0, 0)}}
	if code, body := get(t, "http://"+addr+"/readyz"); code != 503 || !strings.Contains(body, "containerd not connected") || !strings.Contains(body, "no such file") {
		t.Fatalf("containerd down: %d %q", code, body)
	}
	src.s = &model.Snapshot{Self: model.Self{ContainerdUp: true, StateProblem: "restoring history: state.json: not a regular file"}}
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 || !strings.Contains(body, "warning: restoring history") {
		t.Fatalf("ready with a warning: %d %q", code, body)
	}
}

// One client holding many idle connections cannot take the slots that
// others need: past its share, its new connections are closed at once,
// and another client is still served.
func TestConnectionCaps(t *testing.T) {
	addr := start(t, &fixed{&model.Snapshot{Self: model.Self{ContainerdUp: true}}}, Options{MaxConnections: 2 * maxPerClient})
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	// The same client address: 127.0.0.1.
	for range maxPerClient {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// Make sure the server accepted them before probing the cap.
	time.Sleep(200 * time.Millisecond)
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(extra, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if line, err := bufio.NewReader(extra).ReadString('\n'); err == nil {
		t.Fatalf("a connection over the per-client cap was served: %q", line)
	}
	// Another address of the loopback network is another client.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	other, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	defer other.Close()
	other.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(other, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if line, err := bufio.NewReader(other).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("another client was refused: %q %v", line, err)
	}
	// Closing connections frees the slots.
	for _, c := range held {
		c.Close()
	}
	held = nil
	time.Sleep(200 * time.Millisecond)
	if code, _ := get(t, "http://"+addr+"/healthz"); code != 200 {
		t.Fatalf("after closing, /healthz = %d", code)
	}
}

// A client that sends headers without end is cut off by the header cap.
func TestHeaderCap(t *testing.T) {
	addr := start(t, &fixed{}, Options{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 64<<10))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.Contains(line, "431") {
		t.Fatalf("oversized headers answered %q, want 431", line)
	}
}

func TestListenNamesTheField(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	o := Options{Web: config.Default().Web}
	o.Web.ListenAddress = l.Addr().String()
	s := New(&fixed{}, http.NotFoundHandler(), o)
	err = s.Listen()
	if err == nil || !strings.Contains(err.Error(), "web.listen_address") {
		t.Fatalf("port in use: %v", err)
	}
}

// Clients that hold every slot with idle connections cannot lock a
// scraper out: at the cap, a new connection takes the oldest idle one's
// slot.
func TestIdleConnectionsGiveWay(t *testing.T) {
	const max = 4
	addr := start(t, &fixed{&model.Snapshot{Self: model.Self{ContainerdUp: true}}}, Options{MaxConnections: max})
	var idle []net.Conn
	for i := range max {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(10+i))}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
		time.Sleep(20 * time.Millisecond) // distinct ages
	}
	time.Sleep(100 * time.Millisecond)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("a scraper was locked out by idle connections: %q %v", line, err)
	}
	// The oldest idle connection gave its slot.
	idle[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("the oldest idle connection is still open: %v", err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// With basic auth on the metrics listener, the health listener still
// answers the kubelet's probes without credentials, and only them.
func TestHealthListenerWithoutAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(webCfg, []byte("basic_auth_users:\n  prom: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{Web: config.Default().Web}
	o.Web.ListenAddress, o.Web.HealthListenAddress, o.Web.ConfigFile = "127.0.0.1:0", "127.0.0.1:0", webCfg
	s := New(&fixed{&model.Snapshot{Self: model.Self{ContainerdUp: true}}}, http.NotFoundHandler(), o)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	main, health := s.Addrs()[0].String(), s.Addrs()[1].String()

	if code, _ := get(t, "http://"+main+"/healthz"); code != http.StatusUnauthorized {
		t.Errorf("metrics listener without credentials: %d, want 401", code)
	}
	if code, body := get(t, "http://"+health+"/readyz"); code != 200 || !strings.Contains(body, "ready") {
		t.Errorf("health listener /readyz: %d %q", code, body)
	}
	if code, _ := get(t, "http://"+health+"/healthz"); code != 200 {
		t.Errorf("health listener /healthz: %d", code)
	}
	if code, _ := get(t, "http://"+health+"/api/v1/containers"); code != http.StatusNotFound {
		t.Errorf("health listener serves the API: %d", code)
	}
}
