package server

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
	"golang.org/x/crypto/bcrypt"
)

// The web configuration file keeps exporter-toolkit's format (TLS, client
// certificates, bcrypt basic auth, headers), which every exporter's users
// know, and its TLS code; the serving is the agent's own, because the
// toolkit's handler re-reads and re-parses the file on every request,
// checks passwords one at a time under a single lock and answers 401 with
// a body outside any in-flight cap: a client sending wrong passwords kept
// a core busy and delayed every scrape behind it.

// maxWebConfigBytes bounds the web configuration file; a real one is a
// few hundred bytes (with inline certificates, a few KiB).
const maxWebConfigBytes = 1 << 20

// webReloadEvery is how often, at most, the file and its certificates are
// looked at for changes (certificates rotate, users are added): a stat or
// four per handshake or request would be a cost any client could call.
const webReloadEvery = 5 * time.Second

// webSettings is one reading of the web configuration file.
type webSettings struct {
	tls     *tls.Config // nil: plain HTTP
	http2   bool
	headers map[string]string
	users   map[string]string // user → bcrypt hash
	files   []string          // the certificate files read, watched for changes
}

// webConfig is the configuration file, re-read when it or a file it
// names changes.
type webConfig struct {
	path string

	mu      sync.Mutex
	cur     *webSettings
	stamp   string // the files' sizes and times when cur was read
	checked time.Time
	err     error // the last reload's failure, reported once
}

// loadWebConfig reads path; an error names the file and the problem.
func loadWebConfig(path string) (*webConfig, error) {
	wc := &webConfig{path: path}
	s, stamp, err := readWebConfig(path)
	if err != nil {
		return nil, err
	}
	wc.cur, wc.stamp, wc.checked = s, stamp, time.Now()
	return wc, nil
}

// settings returns the current settings, reloading them when a file
// changed; a failed reload keeps the previous ones and is returned once.
func (wc *webConfig) settings() (*webSettings, error) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if time.Since(wc.checked) < webReloadEvery {
		return wc.cur, nil
	}
	wc.checked = time.Now()
	if fileStamp(wc.path, wc.cur) == wc.stamp {
		return wc.cur, nil
	}
	s, stamp, err := readWebConfig(wc.path)
	if err != nil {
		// Reported once per change of the files, not per request.
		first := wc.err == nil || wc.err.Error() != err.Error()
		wc.err = err
		wc.stamp = fileStamp(wc.path, wc.cur)
		if first {
			return wc.cur, err
		}
		return wc.cur, nil
	}
	wc.cur, wc.stamp, wc.err = s, stamp, nil
	return s, nil
}

// fileStamp sums up the size and modification time of the configuration
// file and the certificate files it names.
func fileStamp(path string, s *webSettings) string {
	stamp := statStamp(path)
	if s != nil && s.tls != nil {
		for _, f := range s.files {
			stamp += statStamp(f)
		}
	}
	return stamp
}

func statStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "missing;"
	}
	return fmt.Sprintf("%d@%d;", fi.Size(), fi.ModTime().UnixNano())
}

func readWebConfig(path string) (*webSettings, string, error) {
	fail := func(err error) (*webSettings, string, error) {
		return nil, "", fmt.Errorf("web configuration %s: %w", path, err)
	}
	stamp := statStamp(path)
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxWebConfigBytes+1))
	if err != nil {
		return fail(err)
	}
	if len(data) > maxWebConfigBytes {
		return fail(fmt.Errorf("larger than %d bytes", maxWebConfigBytes))
	}
	c := web.Config{
		TLSConfig:  web.TLSConfig{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13},
		HTTPConfig: web.HTTPConfig{HTTP2: true},
	}
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		// yaml's messages quote lines, which may hold a hash or a key:
		// say only where.
		return fail(errors.New("not valid YAML for an exporter-toolkit web configuration (keys: tls_server_config, http_server_config, basic_auth_users)"))
	}
	if c.RateLimiterConfig.Interval != 0 {
		// A rate shared by every client lets any one of them lock the
		// others out: the agent bounds clients one by one instead.
		return fail(errors.New("rate_limit: not supported; the agent caps requests per client and in all"))
	}
	s := &webSettings{http2: c.HTTPConfig.HTTP2, headers: c.HTTPConfig.Header, users: map[string]string{}}
	for user, hash := range c.Users {
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return fail(fmt.Errorf("basic_auth_users: the hash of a user is not a bcrypt hash"))
		}
		s.users[user] = string(hash)
	}
	if c.TLSConfig.IsEnabled() {
		c.TLSConfig.SetDirectory(filepath.Dir(path))
		tc, err := web.ConfigToTLSConfig(&c.TLSConfig)
		if err != nil {
			return fail(fmt.Errorf("tls_server_config: %w", err))
		}
		s.tls = tc
		for _, f := range []string{c.TLSConfig.TLSCertPath, c.TLSConfig.TLSKeyPath, c.TLSConfig.ClientCAs} {
			if f != "" {
				s.files = append(s.files, f)
				stamp += statStamp(f)
			}
		}
	}
	return s, stamp, nil
}

// authCacheSize bounds the remembered wrong passwords: each is a guess,
// remembered so that repeating one costs nothing, and forgotten first-in
// first-out. Right ones are kept apart (at most maxGood), so that no
// number of guesses can push a scraper's password out and send it back
// to the queue for a comparison.
const (
	authCacheSize = 256
	maxGood       = 64
)

// maxHashing is how many bcrypt comparisons run at once; a check beyond
// that waits at most hashWait, then is turned away (429). Each takes a
// core for tens of milliseconds at the usual cost of 10.
const (
	maxHashing = 2
	hashWait   = time.Second
)

// Each client (an IPv4 address or IPv6 /64, as for connections) may fail
// guessBurst comparisons, then one every guessEvery, and once it has
// failed, it has one comparison at a time: without that, a pod sending
// guesses from many connections as fast as it is answered keeps every
// slot busy, and a scraper whose password was not checked yet (after a
// restart or a password change) waits hashWait and is turned away with
// the guesses. maxGuessers bounds the clients remembered.
const (
	guessBurst  = 8
	guessEvery  = time.Second
	maxGuessers = 4096
)

// unknownUserHash is compared against for a user that does not exist, so
// that timing does not tell which users do (bcrypt of a random string).
var unknownUserHash = func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte(fmt.Sprint(time.Now().UnixNano())), bcrypt.DefaultCost)
	return h
}()

// authCache remembers outcomes of bcrypt comparisons, keyed by a hash of
// user, stored hash and password, so no password is kept in memory.
type authCache struct {
	hashing chan struct{}
	wait    time.Duration // for a slot: hashWait
	now     func() time.Time

	mu       sync.Mutex
	good     map[[32]byte]struct{} // at most maxGood
	seen     map[[32]byte]struct{} // wrong ones, at most authCacheSize
	order    [][32]byte            // insertion order of seen, a ring
	next     int
	guessers map[string]guesser // at most maxGuessers
}

// guesser is a client's budget of failures (failures at since, paid
// off at one a guessEvery) and its comparisons under way.
type guesser struct {
	failures float64
	since    time.Time
	pending  int
}

func newAuthCache() *authCache {
	return &authCache{hashing: make(chan struct{}, maxHashing), wait: hashWait, now: time.Now,
		good: map[[32]byte]struct{}{}, seen: map[[32]byte]struct{}{}, guessers: map[string]guesser{}}
}

// check reports whether user:pass matches users, for a request from
// client (see clientKey); busy means the comparison was not made: the
// client failed too often lately, or no slot freed in time.
func (a *authCache) check(users map[string]string, client, user, pass string) (ok, busy bool) {
	hash, known := users[user]
	h := sha256.New()
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(hash))
	h.Write([]byte{0})
	h.Write([]byte(pass))
	var key [32]byte
	h.Sum(key[:0])
	a.mu.Lock()
	_, good := a.good[key]
	_, bad := a.seen[key]
	spent := !good && !bad && !a.begin(client)
	a.mu.Unlock()
	switch {
	case good:
		return known, false
	case bad:
		return false, false
	case spent:
		return false, true
	}
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.hashing <- struct{}{}:
	case <-t.C:
		a.end(client, false)
		return false, true
	}
	stored := []byte(hash)
	if !known {
		stored = unknownUserHash
	}
	ok = bcrypt.CompareHashAndPassword(stored, []byte(pass)) == nil && known
	<-a.hashing
	a.end(client, !ok)
	a.remember(key, ok)
	return ok, false
}

// failures is what client has yet to pay off now. Called with mu held.
func (a *authCache) failures(client string) float64 {
	g := a.guessers[client]
	return max(0, g.failures-float64(a.now().Sub(g.since))/float64(guessEvery))
}

// begin reports whether client may have a comparison made, and counts it
// under way: one within its budget, counting those under way as failed
// (concurrent guesses would otherwise all pass on the same budget), and
// only one at a time once it has failed. Called with mu held.
func (a *authCache) begin(client string) bool {
	g := a.guessers[client]
	owed := a.failures(client)
	if owed+float64(g.pending)+1 > guessBurst || owed > 0 && g.pending > 0 {
		return false
	}
	if _, known := a.guessers[client]; !known && len(a.guessers) >= maxGuessers {
		a.forgetGuessers()
	}
	a.guessers[client] = guesser{failures: owed, since: a.now(), pending: g.pending + 1}
	return true
}

// end counts a comparison begun for client as done, and failed or not.
func (a *authCache) end(client string, failed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	g, known := a.guessers[client]
	if !known {
		return // forgotten meanwhile
	}
	g.failures, g.since = a.failures(client), a.now()
	g.pending = max(0, g.pending-1)
	if failed {
		g.failures++
	}
	if g.failures == 0 && g.pending == 0 {
		delete(a.guessers, client)
		return
	}
	a.guessers[client] = g
}

// forgetGuessers makes room at maxGuessers: clients that owe nothing go
// first, then others at random. A guesser with thousands of addresses
// then gets a fresh budget now and then, still within maxHashing at a
// time. Called with mu held.
func (a *authCache) forgetGuessers() {
	for c, g := range a.guessers {
		if g.pending == 0 && a.failures(c) == 0 {
			delete(a.guessers, c)
		}
	}
	for c := range a.guessers {
		if len(a.guessers) < maxGuessers {
			break
		}
		delete(a.guessers, c)
	}
}

// remember keeps the outcome of a comparison.
func (a *authCache) remember(key [32]byte, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ok {
		if len(a.good) >= maxGood {
			clear(a.good) // passwords changed that often: check again
		}
		a.good[key] = struct{}{}
		return
	}
	if _, dup := a.seen[key]; dup {
		return
	}
	if len(a.order) < authCacheSize {
		a.order = append(a.order, key)
	} else {
		delete(a.seen, a.order[a.next])
		a.order[a.next] = key
		a.next = (a.next + 1) % authCacheSize
	}
	a.seen[key] = struct{}{}
}
