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
	"sync/atomic"
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
// gets through at once while guesses keep every slot busy, however many
// guesses came since. Guesses are remembered, and the memory is bounded.
func TestPasswordsNotSerialised(t *testing.T) {
	users := testUsers(t, bcrypt.DefaultCost)
	a := newAuthCache()
	if ok, _ := a.check(users, "10.0.0.1", "prom", "right"); !ok {
		t.Fatal("the right password refused")
	}
	// More wrong outcomes than are remembered.
	for i := range 2 * authCacheSize {
		a.remember(keyOf(fmt.Sprint(i)), false)
	}
	_, stop := guess(a, users, 8, 8)
	time.Sleep(100 * time.Millisecond)
	for range 20 {
		start := time.Now()
		if ok, busy := a.check(users, "10.0.0.1", "prom", "right"); !ok || busy {
			t.Fatalf("the right password under guessing: ok %v, busy %v", ok, busy)
		}
		if d := time.Since(start); d > 20*time.Millisecond {
			t.Errorf("a remembered password took %v under guessing", d)
		}
	}
	stop()
	if ok, _ := a.check(users, "10.0.0.3", "nobody", "right"); ok {
		t.Error("an unknown user admitted")
	}
	if n := len(a.seen); n > authCacheSize {
		t.Errorf("%d outcomes remembered, cap %d", n, authCacheSize)
	}
	for i := range 2 * maxGuessers {
		client := fmt.Sprintf("10.3.%d.%d", i/250, i%250)
		a.mu.Lock()
		a.begin(client)
		a.mu.Unlock()
		a.end(client, true)
	}
	if n := len(a.guessers); n > maxGuessers {
		t.Errorf("%d guessers remembered, cap %d", n, maxGuessers)
	}
}

// A client that keeps guessing gets guessBurst comparisons, then one a
// guessEvery; a right password costs it nothing; other clients are not
// charged. Sequential, on a clock of the test's: counted, not timed.
func TestGuessesBudgeted(t *testing.T) {
	users := testUsers(t, bcrypt.MinCost)
	a := newAuthCache()
	a.wait = time.Hour // counting comparisons, not timing them
	now := time.Unix(1e9, 0)
	a.now = func() time.Time { return now }
	for i := range guessBurst {
		if ok, b := a.check(users, "10.0.0.9", "prom", fmt.Sprint("guess-", i)); ok || b {
			t.Fatalf("guess %d of the burst: ok %v, busy %v", i, ok, b)
		}
	}
	if ok, b := a.check(users, "10.0.0.9", "prom", "guess-0"); ok || b {
		t.Errorf("a remembered guess: ok %v, busy %v; want a plain refusal", ok, b)
	}
	if _, b := a.check(users, "10.0.0.9", "prom", "another"); !b {
		t.Error("a guess past the budget was compared")
	}
	if ok, b := a.check(users, "10.0.0.10", "prom", "right"); !ok || b {
		t.Errorf("another client's right password: ok %v, busy %v", ok, b)
	}
	now = now.Add(guessEvery)
	if _, b := a.check(users, "10.0.0.9", "prom", "after-a-second"); b {
		t.Error("no guess compared a guessEvery later")
	}
	if _, b := a.check(users, "10.0.0.9", "prom", "too-soon"); !b {
		t.Error("two guesses compared in one guessEvery")
	}
	// The spent client still gets in with the right password, once its
	// budget has a comparison in it: a right one is not charged.
	now = now.Add(guessEvery)
	for range 3 {
		if ok, b := a.check(users, "10.0.0.9", "prom", "right"); !ok || b {
			t.Errorf("the guesser's right password: ok %v, busy %v", ok, b)
		}
	}
}

// Comparisons are charged when they begin: a client's many at once pass
// on guessBurst, not each on the same untouched budget; and once one has
// failed, the client has one under way at a time.
func TestGuessesChargedAtTheStart(t *testing.T) {
	a := newAuthCache()
	now := time.Unix(1e9, 0)
	a.now = func() time.Time { return now }
	const c = "10.0.0.11"
	begin := func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.begin(c)
	}
	begun := 0
	for range 4 * guessBurst {
		if begin() {
			begun++
		}
	}
	if begun != guessBurst {
		t.Fatalf("%d comparisons begun at once, want %d", begun, guessBurst)
	}
	a.end(c, true)
	for range begun - 1 {
		a.end(c, true)
	}
	if begin() {
		t.Error("a comparison begun with the budget spent")
	}
	now = now.Add(guessEvery)
	if !begin() {
		t.Fatal("no comparison a guessEvery later")
	}
	now = now.Add(4 * guessEvery)
	if begin() {
		t.Error("a second comparison under way for a client that owes failures")
	}
	a.end(c, false)
	if !begin() {
		t.Error("no comparison once the one under way ended")
	}
}

// A scraper whose password was never checked (the agent restarted, or
// the password changed) gets through while two clients send guesses from
// sixteen connections as fast as they are answered: once their budgets
// are spent, they have one comparison under way each, so the scraper
// waits behind two comparisons, not sixteen. Counted, not timed, and at
// bcrypt's least cost, so that a comparison stays far shorter than the
// second a budget refills in however loaded the machine (one as long
// would leave a client never in debt).
func TestNewPasswordUnderGuessing(t *testing.T) {
	users := testUsers(t, bcrypt.MinCost)
	a := newAuthCache()
	a.wait = time.Minute
	made, stop := guess(a, users, 16, 2)
	defer stop()
	for deadline := time.Now().Add(time.Minute); made.Load() < 2*guessBurst && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	most := 0
	for range 100 {
		a.mu.Lock()
		n := 0
		for _, g := range a.guessers {
			n += g.pending
		}
		a.mu.Unlock()
		most = max(most, n)
		time.Sleep(5 * time.Millisecond)
	}
	if most > 2 {
		t.Errorf("%d guesses under way at once from 2 clients whose budgets are spent, want at most 2", most)
	}
	if ok, busy := a.check(users, "10.0.0.1", "prom", "right"); !ok || busy {
		t.Errorf("a new scraper under guessing: ok %v, busy %v", ok, busy)
	}
}

// guess sends wrong passwords from n goroutines spread over clients
// addresses until stop is called; made counts those compared.
func guess(a *authCache, users map[string]string, n, clients int) (made *atomic.Int64, stop func()) {
	made = new(atomic.Int64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-done:
					return
				default:
				}
				if _, busy := a.check(users, fmt.Sprint("10.2.0.", i%clients), "prom", fmt.Sprintf("guess-%d-%d", i, k)); !busy {
					made.Add(1)
				} else {
					time.Sleep(time.Millisecond) // a refusal's round trip
				}
			}
		})
	}
	return made, func() { close(done); wg.Wait() }
}

// testUsers has one user, prom, whose password, "right", is hashed at
// cost.
func testUsers(t *testing.T, cost int) map[string]string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("right"), cost)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"prom": string(hash)}
}

// keyOf is a made-up cache key.
func keyOf(s string) [32]byte {
	var key [32]byte
	copy(key[:], s)
	return key
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
