package kubelet

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// getInNetns fetches http://127.0.0.1:port/path inside the network
// namespace of pid (as nsenter -n would, but from this process, through a
// socket made in that namespace): the pods here have no network but their
// own loopback.
func getInNetns(ctx context.Context, pid, port int, path string) (string, error) {
	client := http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				return dialInNetns(pid, fmt.Sprintf("127.0.0.1:%d", port))
			},
			DisableKeepAlives: true,
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s in the network namespace of %d: %w", path, pid, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	return string(body), err
}

// probeForwarder carries the kubelet's probes to the agent pod. The kubelet
// probes the pod's IP, which the loopback-only network reports as
// 127.0.0.1, from the host's network namespace; there the forwarder listens
// on the agent's port and relays each connection to 127.0.0.1:port inside
// the agent pod's network namespace. Connections before the agent's pid is
// known are closed, which a probe sees as a failure, as it should.
type probeForwarder struct {
	l        net.Listener
	port     int
	pid      atomic.Int64
	accepted atomic.Int64
	wg       sync.WaitGroup
}

func newProbeForwarder(port int) (*probeForwarder, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, err
	}
	f := &probeForwarder{l: l, port: port}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

func (f *probeForwarder) setPid(pid int) { f.pid.Store(int64(pid)) }

func (f *probeForwarder) Close() {
	f.l.Close()
	f.wg.Wait()
}

func (f *probeForwarder) serve() {
	defer f.wg.Done()
	for {
		c, err := f.l.Accept()
		if err != nil {
			return
		}
		f.accepted.Add(1)
		go f.relay(c)
	}
}

func (f *probeForwarder) relay(c net.Conn) {
	defer c.Close()
	pid := int(f.pid.Load())
	if pid == 0 {
		return
	}
	up, err := dialInNetns(pid, fmt.Sprintf("127.0.0.1:%d", f.port))
	if err != nil {
		return
	}
	defer up.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	up.SetDeadline(time.Now().Add(10 * time.Second))
	done := make(chan struct{})
	go func() {
		io.Copy(up, c)
		up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, up)
	<-done
}

// dialInNetns connects to addr from the network namespace of pid: the
// socket is made on an OS thread switched into that namespace, and keeps
// it after the thread switches back.
func dialInNetns(pid int, addr string) (net.Conn, error) {
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, err
	}
	defer target.Close()
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer self.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	c, dialErr := net.DialTimeout("tcp", addr, 5*time.Second)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and ends with this goroutine rather than
		// serve others in the wrong namespace.
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("back to the host network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return c, dialErr
}
