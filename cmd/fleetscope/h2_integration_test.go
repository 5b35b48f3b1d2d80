package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// webFiles writes a self-signed certificate for 127.0.0.1 and a web
// configuration with TLS and/or basic auth (user prom, password pw).
func webFiles(t *testing.T, withTLS, withAuth bool) string {
	t.Helper()
	dir := t.TempDir()
	var cfg bytes.Buffer
	if withTLS {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleetscope-test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		kd, _ := x509.MarshalECPrivateKey(k)
		os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
		cfg.WriteString("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n")
	}
	if withAuth {
		hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.DefaultCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&cfg, "basic_auth_users:\n  prom: %s\n", hash)
	}
	p := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(p, cfg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// h2Conn is a raw HTTP/2 client connection that says it accepts no data
// (flow-control window 0), from a loopback address of its own.
type h2Conn struct {
	c   net.Conn
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
	mu  sync.Mutex
}

func dialH2(ip net.IP, addr string) (*h2Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		return nil, err
	}
	if c.ConnectionState().NegotiatedProtocol != "h2" {
		c.Close()
		return nil, fmt.Errorf("no h2")
	}
	h := &h2Conn{c: c, fr: http2.NewFramer(c, c)}
	h.enc = hpack.NewEncoder(&h.hb)
	c.Write([]byte(http2.ClientPreface))
	h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	// Frames from the server are read and dropped; the window is never
	// opened.
	go func() {
		fr := http2.NewFramer(io.Discard, c)
		for {
			if _, err := fr.ReadFrame(); err != nil {
				return
			}
		}
	}()
	return h, nil
}

func (h *h2Conn) request(id uint32, authority, path, auth string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hb.Reset()
	h.enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
	h.enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: "https"})
	h.enc.WriteField(hpack.HeaderField{Name: ":authority", Value: authority})
	h.enc.WriteField(hpack.HeaderField{Name: ":path", Value: path})
	if auth != "" {
		h.enc.WriteField(hpack.HeaderField{Name: "authorization", Value: auth})
	}
	return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.hb.Bytes(), EndStream: true, EndHeaders: true})
}

func (h *h2Conn) reset(id uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fr.WriteRSTStream(id, http2.ErrCodeCancel)
}

// The attacks of a tenant pod on the agent's port, against the real
// binary in the chart's memory limit, with TLS (HTTP/2) and basic auth on
// and off: streams that never accept data, rapid resets, readers that
// trickle, wrong passwords, all at once for 20 s. The agent must stay
// under half the limit, answer a scraper from another address every time
// within Prometheus' default scrape timeout, and stop within 10 s of
// SIGTERM afterwards.
func TestHTTPTenantAttacks(t *testing.T) {
	testenv.Need(t)
	t.Parallel()
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for range 6 {
		if _, err := d.Run(ctx, testenv.RunOptions{Namespace: "k8s.io", ID: testenv.RandomID(), Args: []string{"sleep", "3600"},
			Labels: map[string]string{"io.kubernetes.pod.name": "p", "io.kubernetes.pod.namespace": "tenant"}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, tc := range []struct {
		name          string
		tls, withAuth bool
	}{
		{"plain", false, false},
		{"basic-auth", false, true},
		{"tls", true, false},
		{"tls-basic-auth", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			attackAgent(t, d.Socket, byte(10+i), tc.tls, tc.withAuth)
		})
	}
}

func attackAgent(t *testing.T, socket string, net2 byte, withTLS, withAuth bool) {
	extra := ""
	if withTLS || withAuth {
		extra = "  config_file: " + webFiles(t, withTLS, withAuth) + "\n"
	}
	// startAgent's configuration ends in the web section, which extra
	// continues.
	a := startAgentIn(t, socket, extra, newMemoryCgroup(t, chartMemoryLimit))
	scheme := "http"
	if withTLS {
		scheme = "https"
	}
	good := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialFrom(net.IPv4(127, 0, 0, 2), addr)
		},
	}}
	scrape := func(path string) (int, error) {
		req, _ := http.NewRequest("GET", scheme+"://"+a.addr+path, nil)
		if withAuth {
			req.SetBasicAuth("prom", "pw")
		}
		resp, err := good.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
	testenv.Eventually(t, 20*time.Second, "ready", func() error {
		code, err := scrape("/readyz")
		if err != nil || code != 200 {
			return fmt.Errorf("%d %v", code, err)
		}
		return nil
	})
	pid := a.cmd.Process.Pid
	rss0, _ := rssOf(pid)

	const attack = 20 * time.Second
	stop := time.Now().Add(attack)
	var wg sync.WaitGroup
	var closers sync.Map
	defer closers.Range(func(k, _ any) bool { k.(io.Closer).Close(); return true })
	var streams, resets, slow, guesses atomic.Int64
	attacker := func(i int) net.IP { return net.IPv4(127, net2, byte(i/200), byte(1+i%200)) }

	if withTLS {
		// 16 connections × 250 streams that never accept data, from each
		// of two addresses, on the API, with no credentials when auth is
		// on (then 401s are what is stuck).
		for i := range 32 {
			wg.Go(func() {
				h, err := dialH2(attacker(i%2), a.addr)
				if err != nil {
					return
				}
				closers.Store(h.c, nil)
				for id := uint32(1); id < 500 && time.Now().Before(stop); id += 2 {
					if h.request(id, a.addr, "/api/v1/containers", "") != nil {
						return
					}
					streams.Add(1)
				}
			})
		}
		// Rapid reset on /metrics from two more addresses.
		for i := range 8 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					h, err := dialH2(attacker(2+i%2), a.addr)
					if err != nil {
						time.Sleep(50 * time.Millisecond)
						continue
					}
					closers.Store(h.c, nil)
					for id := uint32(1); id < 1<<20 && time.Now().Before(stop); id += 2 {
						if h.request(id, a.addr, "/metrics", "") != nil || h.reset(id) != nil {
							break
						}
						resets.Add(1)
					}
					h.c.Close()
				}
			})
		}
	}
	// Readers that trickle: 16 from each of two addresses, reading a byte
	// every 100 ms.
	for i := range 32 {
		wg.Go(func() {
			tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: withTLS,
				ReadBufferSize: 1, DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
					c, err := dialFrom(attacker(4+i%2), addr)
					if err == nil {
						c.(*net.TCPConn).SetReadBuffer(1024)
						closers.Store(c, nil)
					}
					return c, err
				}}
			defer tr.CloseIdleConnections()
			path := "/metrics"
			if i%4 == 0 {
				path = "/api/v1/containers"
			}
			for time.Now().Before(stop) {
				req, _ := http.NewRequest("GET", scheme+"://"+a.addr+path, nil)
				req.Header.Set("Accept-Encoding", "identity")
				if withAuth {
					req.SetBasicAuth("prom", "pw")
				}
				resp, err := (&http.Client{Transport: tr}).Do(req)
				if err != nil {
					time.Sleep(100 * time.Millisecond)
					continue
				}
				slow.Add(1)
				var b [1]byte
				for time.Now().Before(stop) {
					if _, err := resp.Body.Read(b[:]); err != nil {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				resp.Body.Close()
			}
		})
	}
	// Wrong passwords as fast as the agent answers.
	if withAuth {
		for i := range 16 {
			wg.Go(func() {
				tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: withTLS,
					DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
						return dialFrom(attacker(6+i%2), addr)
					}}
				defer tr.CloseIdleConnections()
				cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
				for n := 0; time.Now().Before(stop); n++ {
					req, _ := http.NewRequest("GET", scheme+"://"+a.addr+"/metrics", nil)
					req.SetBasicAuth("prom", fmt.Sprintf("guess-%d-%d", i, n))
					if resp, err := cl.Do(req); err == nil {
						resp.Body.Close()
						guesses.Add(1)
					}
				}
			})
		}
	}

	var maxRSS int64
	var failures []string
	ok, tries := 0, 0
	for time.Now().Before(stop) {
		tries++
		start := time.Now()
		code, err := scrape("/metrics")
		if err == nil && code == 200 {
			ok++
		} else if len(failures) < 5 {
			failures = append(failures, fmt.Sprintf("after %v: %d %v", time.Since(start).Round(time.Millisecond), code, err))
		}
		if r, err := rssOf(pid); err == nil {
			maxRSS = max(maxRSS, r)
		} else {
			t.Fatalf("the agent is gone: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	closers.Range(func(k, _ any) bool { k.(io.Closer).Close(); return true })
	wg.Wait()
	t.Logf("RSS %d MiB before, %d MiB at most; %d stalled streams, %d resets, %d slow reads, %d guesses; scraper %d/%d",
		rss0>>20, maxRSS>>20, streams.Load(), resets.Load(), slow.Load(), guesses.Load(), ok, tries)
	select {
	case err := <-a.done:
		t.Fatalf("the agent exited under attack: %v", err)
	default:
	}
	if maxRSS >= attackMemoryBound {
		t.Errorf("RSS reached %d MiB under attack, bound %d MiB", maxRSS>>20, attackMemoryBound>>20)
	}
	if ok < tries {
		t.Errorf("the scraper got %d of %d scrapes; failures: %v", ok, tries, failures)
	}
	// The Go runtime was told the cgroup's limit at start.
	if log, _ := os.ReadFile(a.log); !bytes.Contains(log, []byte(`"cgroup_limit_bytes":134217728`)) {
		t.Errorf("the agent did not take its memory limit from its cgroup:\n%s", log)
	}
	if code, err := scrape("/api/v1/containers"); err != nil || code != 200 {
		t.Errorf("the API after the attack: %d %v", code, err)
	}
	start := time.Now()
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
		t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Error("the agent did not stop within 10 s of SIGTERM")
	}
}
