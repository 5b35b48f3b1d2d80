package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a server that counts the requests it gets and those that
// carry credentials.
type recorder struct {
	*httptest.Server
	requests, withAuth atomic.Int32
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if req.Header.Get("Authorization") != "" {
			r.withAuth.Add(1)
		}
		h(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func serveReport(w http.ResponseWriter, _ *http.Request) {
	json.NewEncoder(w).Encode(Report{Node: "n1", Containers: []Container{{ID: "c1", Name: "app"}}})
}

// port is the port of a test server's URL.
func port(t *testing.T, s *httptest.Server) string {
	_, p, err := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A redirect to another host, or another port of the same one, is
// refused: the other server never sees the credentials (nor any request),
// and the error names where the redirect led, without the credentials.
func TestRedirectOffOriginRefused(t *testing.T) {
	other := newRecorder(t, serveReport)
	for _, cred := range []Credentials{{Bearer: "s3cret-t0ken"}, {Username: "fleet", Password: "s3cret-pa55"}, {}} {
		for _, host := range []string{"localhost:" + port(t, other.Server), "127.0.0.1:" + port(t, other.Server)} {
			for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
				first := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, "http://"+host+"/api/v1/containers?x=1", code)
				})
				target := first.URL
				if cred == (Credentials{}) {
					// Credentials in the URL itself.
					target = "http://fleet:s3cret-pa55@" + strings.TrimPrefix(first.URL, "http://")
				}
				_, err := Get(context.Background(), nil, target, cred, 1<<20)
				if err == nil {
					t.Fatalf("redirect %d to %s followed", code, host)
				}
				msg := err.Error()
				if !strings.Contains(msg, "http://"+host) || !strings.Contains(msg, "refused") {
					t.Errorf("error does not name the redirect's host %s: %v", host, msg)
				}
				for _, secret := range []string{"s3cret", "fleet"} {
					if strings.Contains(msg, secret) {
						t.Errorf("error shows %q: %v", secret, msg)
					}
				}
				if first.withAuth.Load() != 1 {
					t.Errorf("the URL's own host got %d requests with credentials, want 1", first.withAuth.Load())
				}
			}
		}
	}
	if n := other.requests.Load(); n != 0 {
		t.Errorf("the other host got %d requests (%d with credentials)", n, other.withAuth.Load())
	}
}

// A redirect on the same scheme, host and port is followed, credentials
// and all, a few times at most.
func TestRedirectOnOriginFollowed(t *testing.T) {
	var srv *recorder
	srv = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/containers":
			http.Redirect(w, r, "/agent/api/v1/containers", http.StatusFound)
		case r.URL.Path == "/agent/api/v1/containers" && r.Header.Get("Authorization") != "":
			serveReport(w, r)
		case strings.HasPrefix(r.URL.Path, "/loop"):
			http.Redirect(w, r, fmt.Sprintf("/loop%d", srv.requests.Load()), http.StatusTemporaryRedirect)
		default:
			http.Error(w, "no", http.StatusUnauthorized)
		}
	})
	rep, err := Fetch(context.Background(), nil, "http://u:p@"+strings.TrimPrefix(srv.URL, "http://"))
	if err != nil || rep.Node != "n1" || len(rep.Containers) != 1 {
		t.Fatalf("Fetch through a redirect: %+v, %v", rep, err)
	}
	if srv.withAuth.Load() != 2 {
		t.Errorf("%d requests carried the credentials, want both", srv.withAuth.Load())
	}
	before := srv.requests.Load()
	_, err = Get(context.Background(), nil, srv.URL+"/loop", Credentials{}, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "more than 3") {
		t.Errorf("a redirect loop: %v", err)
	}
	if n := srv.requests.Load() - before; n != MaxRedirects+1 {
		t.Errorf("%d requests for a redirect loop, want %d", n, MaxRedirects+1)
	}
}

// endless writes chunk until the client goes away, and says how many
// bytes it wrote.
func endless(head, chunk string, wrote *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		n, _ := io.WriteString(w, head)
		wrote.Add(int64(n))
		for r.Context().Err() == nil {
			n, err := io.WriteString(w, chunk)
			wrote.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
}

// An agent's answer past MaxAgentAnswerBytes is an error naming the URL
// and the bound, and no more than the bound is read.
func TestFetchAnswerTooLarge(t *testing.T) {
	var wrote atomic.Int64
	srv := newRecorder(t, endless(`{"node":"n1","containers":[`, strings.Repeat(`{"id":"`+strings.Repeat("x", 1000)+`"},`, 16), &wrote))
	_, err := Fetch(context.Background(), nil, srv.URL)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != MaxAgentAnswerBytes {
		t.Fatalf("Fetch of an endless answer: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, srv.URL+"/api/v1/containers") || !strings.Contains(msg, "16 MiB") {
		t.Errorf("error does not name the URL and the bound: %v", msg)
	}
	// The server may have written past the bound into the socket's
	// buffers (several MiB each way on loopback) before it saw the
	// connection close; an uncapped client would read on for ever.
	if w := wrote.Load(); w > 2*MaxAgentAnswerBytes {
		t.Errorf("the server wrote %d bytes", w)
	}
}

// Values are bounded as well as bytes: "{}," is three bytes but a whole
// Container once decoded.
func TestFetchTooManyValues(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"node":"n1","containers":[`+strings.Repeat(`{},`, MaxAgentAnswerValues/2)+`{}]}`)
	})
	_, err := Fetch(context.Background(), nil, srv.URL)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d JSON values", MaxAgentAnswerValues)) {
		t.Fatalf("Fetch of %d empty containers: %v", MaxAgentAnswerValues/2, err)
	}
}

// An error answer's status and body are quoted escaped, and short.
func TestErrorAnswerEscaped(t *testing.T) {
	body := "\x1b[2J\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07\r\nforged line \u202e" + strings.Repeat("x", 5000)
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, body, http.StatusBadGateway) })
	_, err := Fetch(context.Background(), nil, srv.URL)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	checkPrintable(t, "error", msg)
	if !strings.Contains(msg, `502 Bad Gateway: \x1b[2J\x1b]8;;http://evil.example/\x07click`) || !strings.Contains(msg, `\r\nforged line \u202e`) {
		t.Errorf("error: %s", msg)
	}
	if len(msg) > 1000 || !strings.HasSuffix(msg, "…") {
		t.Errorf("error of %d bytes: %s", len(msg), msg)
	}

	// A status line of the server's own making.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		c.Read(buf)
		io.WriteString(c, "HTTP/1.1 500 \x1b[2J\x1b[1;1Hall fine\x07\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	}()
	_, err = Fetch(context.Background(), nil, "http://"+ln.Addr().String())
	if err == nil {
		t.Fatal("no error")
	}
	checkPrintable(t, "error", err.Error())
	if !strings.Contains(err.Error(), `500 \x1b[2J\x1b[1;1Hall fine\x07`) {
		t.Errorf("error: %v", err)
	}
}

// The connection refused: the error names the URL, without credentials,
// and says what to check.
func TestFetchUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Fetch(context.Background(), nil, "http://fleet:s3cret@"+addr+"/?token=k3y")
	if err == nil || !strings.Contains(err.Error(), "http://REDACTED@"+addr+"/api/v1/containers") ||
		strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "k3y") || !strings.Contains(err.Error(), "fleetscope run") {
		t.Errorf("unreachable agent: %v", err)
	}
}

// An answer exactly as long as the bound is read whole; one byte more is
// an error.
func TestAnswerBoundIsExact(t *testing.T) {
	body := strings.Repeat("x", 1000)
	srv := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })
	for _, tc := range []struct {
		bound   int64
		tooLong bool
	}{{1000, false}, {999, true}, {1 << 20, false}} {
		resp, err := Get(context.Background(), nil, srv.URL, Credentials{}, tc.bound)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		var tl *TooLargeError
		if tc.tooLong != errors.As(err, &tl) || !tc.tooLong && string(got) != body {
			t.Errorf("bound %d: read %d bytes, %v", tc.bound, len(got), err)
		}
	}
}
