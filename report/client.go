package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/fleetscope/fleetscope/config"
)

// The CLI reads answers from an agent (report --url) and from a store
// (report --prometheus, in package fleet). Either may be hostile or
// impersonated, so what it reads is bounded and where credentials go is
// decided here, once.

// MaxRedirects is how many redirects one request follows, all on the URL's
// own origin: enough for a proxy that moves the API under a prefix or adds
// a trailing slash, too few to loop.
const MaxRedirects = 3

// MaxAgentAnswerBytes bounds the answer of an agent's /api/v1/containers.
// One container takes 1 to 2 KiB of its JSON, with its reasons and idle
// hours; a node runs at most a few hundred pods (the kubelet's default is
// 110), each with its sandbox and one to a few containers, so a real node
// answers in a few MiB at most: 16 MiB leaves room for several times that.
const MaxAgentAnswerBytes = 16 << 20

// MaxAgentAnswerValues bounds the JSON tokens (keys, values, brackets) of
// an agent's answer. Bytes alone do not bound memory: "{}," is three
// bytes but a whole Container once decoded, some 60 times as much. A real
// container takes about 100 tokens, so this allows some 5,000 containers
// while holding what 16 MiB can become to some tens of MiB.
const MaxAgentAnswerValues = 500_000

// maxErrorBodyBytes is how much of an error answer is read, and
// maxErrorTextRunes how much of it an error message quotes.
const (
	maxErrorBodyBytes = 64 << 10
	maxErrorTextRunes = 300
)

// Credentials are sent with a request: Bearer as a bearer token, else
// Username and Password as basic auth. They go only to the origin (scheme,
// host and port) of the URL asked, never into an error.
type Credentials struct {
	Username, Password, Bearer string
}

func (c Credentials) empty() bool { return c == Credentials{} }

// TooLargeError is returned by a read past the bytes allowed of an answer.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the answer is larger than %s, the most that is read of one answer", Size(e.Limit))
}

// StatusError is an answer with a status other than 2xx.
type StatusError struct {
	// Code is the status code; Status is the status line and Detail what
	// the body says, both escaped for printing and Detail shortened.
	Code           int
	Status, Detail string
}

func (e *StatusError) Error() string {
	if e.Detail == "" {
		return "answered " + e.Status
	}
	return "answered " + e.Status + ": " + e.Detail
}

// Size writes a byte count the way the limits are documented.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ShownURL is a URL fit for an error message: without its user
// information (which may be a password or a token, redacted by
// config.RedactURL even where the URL does not parse), its query and
// fragment (which may carry an API key), and escaped.
func ShownURL(raw string) string {
	s := config.RedactURL(raw)
	from := 0
	if i := strings.Index(s, config.Redacted+"@"); i >= 0 {
		from = i + len(config.Redacted) + 1
	} else if _, after, ok := strings.Cut(s, "://"); ok {
		from = len(s) - len(after)
	}
	if i := strings.IndexAny(s[from:], "?#"); i >= 0 {
		s = s[:from+i]
	}
	return Escape(s)
}

// defaultTransport is http.DefaultTransport (proxies from the environment
// and all) with response headers bounded to what an API answer needs.
var defaultTransport = sync.OnceValue(func() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t = t.Clone()
	t.MaxResponseHeaderBytes = 64 << 10
	return t
})

// Get sends a GET for target with cred and returns the answer, whatever
// its status, with its body bounded to maxBytes: a read past them fails
// with a *TooLargeError. The body counts as it is decoded, so a
// compressed answer cannot expand beyond the bound either. User
// information in target is taken as basic auth when cred is empty, and is
// dropped from the request's URL either way.
//
// Redirects are followed, at most MaxRedirects of them, only where they
// stay on target's scheme, host and port; one anywhere else is refused
// with an error that names where it led, so that credentials never reach
// a host they were not given for, and an answer never comes from one.
// Errors name target as ShownURL does; rt nil means a copy of
// http.DefaultTransport.
func Get(ctx context.Context, rt http.RoundTripper, target string, cred Credentials, maxBytes int64) (*http.Response, error) {
	shown := ShownURL(target)
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s is not an http:// or https:// URL", shown)
	}
	if u.User != nil {
		if cred.empty() {
			cred.Username = u.User.Username()
			cred.Password, _ = u.User.Password()
		}
		u.User = nil
	}
	if rt == nil {
		rt = defaultTransport()
	}
	client := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	origin := originOf(u)
	for hops := 0; ; hops++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("asking %s: %w", shown, err)
		}
		req.Header.Set("Accept", "application/json")
		switch {
		case originOf(u) != origin:
			// Never reached, as such a redirect is refused below; kept
			// so that credentials stay home whatever that check becomes.
		case cred.Bearer != "":
			req.Header.Set("Authorization", "Bearer "+cred.Bearer)
		case cred.Username != "" || cred.Password != "":
			req.SetBasicAuth(cred.Username, cred.Password)
		}
		resp, err := client.Do(req)
		if err != nil {
			// The url.Error's own text quotes the whole request URL.
			if ue := (*url.Error)(nil); errors.As(err, &ue) {
				err = ue.Err
			}
			// One may quote a header of the answer (a Location that
			// does not parse).
			if len(err.Error()) > 2*maxErrorTextRunes {
				err = errors.New(Excerpt(err.Error()))
			}
			return nil, fmt.Errorf("asking %s: %w", shown, err)
		}
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" {
			resp.Body = &cappedBody{r: resp.Body, c: resp.Body, left: maxBytes, limit: maxBytes}
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBodyBytes))
		resp.Body.Close()
		next, err := u.Parse(loc)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s redirected to a location that is not a URL", shown)
		case originOf(next) != origin:
			return nil, fmt.Errorf("%s redirected to %s: a redirect to another scheme, host or port is refused, so that no credentials follow it (give that URL itself if it is to be trusted)",
				shown, Escape(originOf(next).String()))
		case hops >= MaxRedirects:
			return nil, fmt.Errorf("%s redirected more than %d times", shown, MaxRedirects)
		}
		// Credentials come from the caller, never from a redirect.
		next.User = nil
		u = next
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// origin is what a URL's credentials belong to.
type origin struct{ scheme, host, port string }

func (o origin) String() string {
	if o.host == "" {
		return o.scheme + ":"
	}
	host := o.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return o.scheme + "://" + host + ":" + o.port
}

func originOf(u *url.URL) origin {
	o := origin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.port == "" {
		switch o.scheme {
		case "http":
			o.port = "80"
		case "https":
			o.port = "443"
		}
	}
	return o
}

// cappedBody reads at most limit bytes of an answer; the read that would
// go past them fails with a *TooLargeError.
type cappedBody struct {
	r     io.Reader
	c     io.Closer
	left  int64
	limit int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// At the limit: an answer exactly this long is fine, one byte
		// more is not.
		var one [1]byte
		if n, err := io.ReadFull(b.r, one[:]); n == 0 {
			return 0, err
		}
		return 0, &TooLargeError{Limit: b.limit}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.c.Close() }

// ReadStatusError reads the start of a non-2xx answer's body into a
// *StatusError. A JSON body with an "error" (and an "errorType"), as the
// Prometheus API and others answer, gives that message; any other body
// gives its first line or so.
func ReadStatusError(resp *http.Response) *StatusError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
	detail := string(body)
	var doc struct {
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.Error != "" {
		detail = doc.Error
		if doc.ErrorType != "" {
			detail = doc.ErrorType + ": " + detail
		}
	}
	return &StatusError{Code: resp.StatusCode, Status: Escape(resp.Status), Detail: Excerpt(detail)}
}

// Excerpt is remote text as an error message quotes it: escaped (see
// Escape) and cut to a few hundred characters, with an ellipsis when cut.
func Excerpt(s string) string {
	s = Escape(strings.TrimSpace(s))
	i := 0
	for j := range s {
		if i == maxErrorTextRunes {
			return s[:j] + "…"
		}
		i++
	}
	return s
}

// Fetch reads the report of a running agent at baseURL, through rt (nil:
// a copy of http.DefaultTransport). The answer is bounded by
// MaxAgentAnswerBytes and MaxAgentAnswerValues; user information in
// baseURL is sent as basic auth.
func Fetch(ctx context.Context, rt http.RoundTripper, baseURL string) (Report, error) {
	var r Report
	target := strings.TrimSuffix(baseURL, "/") + "/api/v1/containers"
	if u, err := url.Parse(baseURL); err == nil {
		u.Path, u.RawPath = strings.TrimSuffix(u.Path, "/")+"/api/v1/containers", ""
		target = u.String()
	}
	shown := ShownURL(target)
	resp, err := Get(ctx, rt, target, Credentials{}, MaxAgentAnswerBytes)
	if err != nil {
		if errors.As(err, new(*net.OpError)) {
			err = fmt.Errorf("%w (is `fleetscope run` running? --local samples without one)", err)
		}
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return r, fmt.Errorf("%s: %w", shown, ReadStatusError(resp))
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, fmt.Errorf("reading %s: %w", shown, err)
	}
	if err := countValues(body, MaxAgentAnswerValues); err != nil {
		return r, fmt.Errorf("decoding %s: %w", shown, err)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("decoding %s: %w", shown, err)
	}
	return r, nil
}

// countValues fails when the JSON document doc holds more than max
// values, before anything is decoded of it.
func countValues(doc []byte, max int) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	for n := 0; ; n++ {
		if _, err := dec.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if n == max {
			return fmt.Errorf("more than %d JSON values, the most that are read of one answer", max)
		}
	}
}
