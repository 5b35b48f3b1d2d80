package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fleetscope/fleetscope/config"
)

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"10.0.0.1:1", "10.0.0.1:2"},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:2"},      // one /64
		{"[::ffff:10.0.0.1]:1", "10.0.0.1:5"},                    // mapped
		{"[fe80::1%eth0]:1", "[fe80::2%eth0]:1"},                 // link-local /64
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:0:0:0:ffff]:443"}, // written otherwise
	} {
		if ka, kb := clientKey(tc.a), clientKey(tc.b); ka != kb {
			t.Errorf("%s and %s: %q and %q, want one client", tc.a, tc.b, ka, kb)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"10.0.0.1:1", "10.0.0.2:1"},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1"},
	} {
		if clientKey(tc.a) == clientKey(tc.b) {
			t.Errorf("%s and %s: one client, want two", tc.a, tc.b)
		}
	}
}

// A client gets maxClientInFlight requests at once and all clients
// maxInFlight; the rest are refused at once with no body, and a request
// with a body is refused before it is read.
func TestGuardCaps(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, maxInFlight)
	g := newGuard(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		entered <- struct{}{}
		<-release
	}), nil)
	serve := func(remote string, withBody bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if withBody {
			r.ContentLength = -1
		}
		r.RemoteAddr = remote
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, r)
		return rec
	}
	var wg sync.WaitGroup
	for range maxClientInFlight {
		wg.Go(func() { serve("[2001:db8::1]:1", false) })
	}
	for range maxClientInFlight {
		<-entered
	}
	if rec := serve("[2001:db8::ffff]:9", false); rec.Code != http.StatusServiceUnavailable || rec.Body.Len() != 0 {
		t.Errorf("a ninth request from the same /64: %d with %d body bytes", rec.Code, rec.Body.Len())
	}
	if rec := serve("10.0.0.1:1", true); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a request with a body: %d", rec.Code)
	}
	// Other clients fill the rest, up to the overall cap.
	for i := range (maxInFlight - maxClientInFlight) / maxClientInFlight {
		for range maxClientInFlight {
			wg.Go(func() { serve(fmt.Sprintf("10.1.%d.1:1", i), false) })
		}
	}
	for range maxInFlight - maxClientInFlight {
		<-entered
	}
	if rec := serve("10.2.0.1:1", false); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a request over the overall cap: %d", rec.Code)
	}
	close(release)
	wg.Wait()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.total != 0 || len(g.perClient) != 0 {
		t.Errorf("after every request: %d in flight, %d clients remembered", g.total, len(g.perClient))
	}
}

// Near the memory limit every request but /healthz is turned away.
func TestGuardSheds(t *testing.T) {
	g := newGuard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), func() bool { return true })
	for path, want := range map[string]int{"/metrics": 503, "/api/v1/containers": 503, "/healthz": 200} {
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s while shedding: %d, want %d", path, rec.Code, want)
		}
	}
}

// Wrong passwords are checked at most maxHashing at a time, outside any
// lock that right ones wait on: a scraper whose password was checked once
// gets through at once while guesses keep every slot busy. Guesses are
// remembered, and the memory is bounded.
func TestPasswordsNotSerialised(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]string{"prom": string(hash)}
	a := newAuthCache()
	if ok, _ := a.check(users, "prom", "right"); !ok {
		t.Fatal("the right password refused")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				a.check(users, "prom", fmt.Sprintf("guess-%d-%d", i, n))
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	for range 20 {
		start := time.Now()
		if ok, busy := a.check(users, "prom", "right"); !ok || busy {
			t.Fatalf("the right password under guessing: ok %v, busy %v", ok, busy)
		}
		if d := time.Since(start); d > 20*time.Millisecond {
			t.Errorf("a remembered password took %v under guessing", d)
		}
	}
	close(stop)
	wg.Wait()
	if ok, _ := a.check(users, "nobody", "right"); ok {
		t.Error("an unknown user admitted")
	}
	for i := range 2 * authCacheSize {
		a.seenPut(fmt.Sprint(i))
	}
	if n := len(a.seen); n > authCacheSize {
		t.Errorf("%d outcomes remembered, cap %d", n, authCacheSize)
	}
}

// seenPut remembers an outcome for a made-up key, as check does.
func (a *authCache) seenPut(s string) {
	var key [32]byte
	copy(key[:], s)
	a.remember(key, false)
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fleetscope-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return cert, key
}

// Over TLS the listener speaks HTTP/2 with few streams a connection, and
// a web configuration it cannot use fails the start naming the field.
func TestTLSAndHTTP2Streams(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	webCfg := filepath.Join(dir, "web.yml")
	os.WriteFile(webCfg, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n", cert, key)), 0o600)
	o := Options{}
	o.Web.ConfigFile = webCfg
	addr := start(t, fixed{}, o)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Errorf("over TLS: %s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}

	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: /nonexistent\n  key_file: "+key+"\n"), 0o600)
	o.Web = config.Default().Web
	o.Web.ConfigFile, o.Web.ListenAddress = bad, "127.0.0.1:0"
	if err := New(fixed{}, http.NotFoundHandler(), o).Listen(); err == nil {
		t.Error("a certificate that does not exist was accepted")
	} else if !strings.HasPrefix(err.Error(), "web.config_file: web configuration "+bad) {
		t.Errorf("error %q does not name the field and file", err)
	}
	for name, text := range map[string]string{
		"rate":  "rate_limit:\n  interval: 1s\n  burst: 1\n",
		"hash":  "basic_auth_users:\n  prom: plaintext-secret\n",
		"typo":  "basic_auth_user:\n  prom: x\n",
		"large": string(make([]byte, maxWebConfigBytes+1)),
	} {
		p := filepath.Join(dir, name+".yml")
		os.WriteFile(p, []byte(text), 0o600)
		_, err := loadWebConfig(p)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "plaintext-secret") {
			t.Errorf("%s: the error quotes the file: %s", name, msg)
		}
	}
}
