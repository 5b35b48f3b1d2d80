package promtext

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetscope/fleetscope/model"
)

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"deflate, gzip;q=1.0, *;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"gzip;q=0.001", true},
		{"identity", false},
		{"*", true},
		{"*;q=0", false},
		{"gzip;q=0, *", false},
		{"br, *;q=0.1", true},
		{"gzip;q=bogus", false},
		{"x-gzip", true},
	} {
		if got := acceptsGzip([]string{tc.header}); got != tc.want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestHandlerMethodsAndHeaders(t *testing.T) {
	w := New(fixed{testSnapshot()}, Options{Version: "x"})
	srv := httptest.NewServer(Handler(w, nil, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip;q=0")
	resp, err = http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("gzip;q=0: Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	resp, err = http.Head(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HEAD: %d", resp.StatusCode)
	}
}

// swapping hands out whichever snapshot was stored last.
type swapping struct {
	p atomic.Pointer[model.Snapshot]
}

func (s *swapping) Snapshot() *model.Snapshot { return s.p.Load() }

// Scrapes of one snapshot share one rendering; a new snapshot gets a new
// one.
func TestHandlerRendersOncePerSnapshot(t *testing.T) {
	src := &swapping{}
	src.p.Store(testSnapshot())
	h := Handler(New(src, Options{}), nil, slog.New(slog.DiscardHandler)).(*handler)
	a, b := h.page(context.Background()), h.page(context.Background())
	if a == nil || a != b {
		t.Fatalf("two scrapes of one snapshot rendered twice (%p, %p)", a, b)
	}
	src.p.Store(testSnapshot())
	if c := h.page(context.Background()); c == a || c == nil {
		t.Fatal("a new snapshot was served from the old rendering")
	}
	// A scrape that finds a rendering in progress waits, then is turned
	// away without a body.
	src.p.Store(testSnapshot())
	h.rendering <- struct{}{}
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	<-h.rendering
	if rec.Code != http.StatusServiceUnavailable || rec.Body.Len() != 0 || time.Since(start) < renderWait {
		t.Errorf("while rendering: %d with %d body bytes after %v", rec.Code, rec.Body.Len(), time.Since(start))
	}
}

// The compressed answer is a single gzip member holding exactly the plain
// answer, the shared text and the per-scrape tail.
func TestHandlerGzipIsOneMember(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tail_gauge", Help: "h"}, func() float64 { return 42 }))
	srv := httptest.NewServer(Handler(New(fixed{testSnapshot()}, Options{Version: "x"}), reg, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	fetch := func(enc string) ([]byte, *http.Response) {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ContentLength != int64(len(b)) {
			t.Errorf("%s: Content-Length %d, body %d", enc, resp.ContentLength, len(b))
		}
		return b, resp
	}
	plain, _ := fetch("identity")
	if !bytes.Contains(plain, []byte("tail_gauge 42\n")) || !bytes.Contains(plain, []byte("fleetscope_build_info")) {
		t.Fatalf("plain answer lacks the shared text or the tail:\n%s", plain)
	}
	for range 2 { // the second from the shared compressed text
		gz, resp := fetch("gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		// Read as one member only: a second one would leave this short.
		if !bytes.Equal(got, plain) {
			t.Fatalf("gzip answer differs from the plain one:\n%s\n---\n%s", got, plain)
		}
	}
}

// Clients that ask and never read hold no rendering: a well-behaved scrape
// still gets its answer at once.
func TestSlowReadersDoNotBlockScrapes(t *testing.T) {
	s := testSnapshot()
	for len(s.Containers) < 4000 { // a text larger than the socket buffers
		c := s.Containers[0]
		c.Meta.ID = fmt.Sprintf("%064d", len(s.Containers))
		s.Containers = append(s.Containers, c)
	}
	srv := httptest.NewServer(Handler(New(fixed{s}, Options{}), nil, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 32 {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n")
	}
	time.Sleep(200 * time.Millisecond)
	cl := &http.Client{Timeout: renderWait / 2}
	resp, err := cl.Get(srv.URL)
	if err != nil {
		t.Fatalf("scrape behind 32 stalled readers: %v", err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n < 1<<20 {
		t.Fatalf("scrape behind 32 stalled readers: %d, %d bytes", resp.StatusCode, n)
	}
}

// Allow-listed label keys come from images through CRI: a ':' or a leading
// digit must not make an invalid label name, and a flood of distinct keys
// must not grow the label-name cache without bound.
func TestHostileLabelKeys(t *testing.T) {
	s := testSnapshot()
	app := *s.Containers[2].Meta
	app.Labels = []model.Label{{Key: "example.com:team", Value: "a"}, {Key: "9lives", Value: "b"}}
	s.Containers[2].Meta = &app
	w := New(fixed{s}, Options{})
	text := w.Append(nil)
	if _, err := parse(text); err != nil {
		t.Fatalf("invalid exposition: %v", err)
	}
	if !strings.Contains(string(text), `container_label_example_com_team="a"`) || !strings.Contains(string(text), `_container_label_9lives="b"`) &&
		!strings.Contains(string(text), `container_label_9lives="b"`) {
		t.Errorf("sanitised labels missing:\n%s", text)
	}
	for i := range 3 * maxLabelNames {
		app.Labels = []model.Label{{Key: fmt.Sprintf("k%d", i), Value: "v"}}
		m := app
		s.Containers[2].Meta = &m
		w.Append(nil)
	}
	for _, r := range w.free {
		if len(r.labelNames) > maxLabelNames {
			t.Fatalf("label-name cache holds %d names, bound %d", len(r.labelNames), maxLabelNames)
		}
	}
}

// Stored blocks carry any length, across the 64 KiB a block holds.
func TestAppendStored(t *testing.T) {
	for _, n := range []int{0, 1, maxStored, maxStored + 1, 3*maxStored + 7} {
		data := bytes.Repeat([]byte("fleetscope "), n/11+1)[:n]
		got, err := io.ReadAll(flate.NewReader(bytes.NewReader(appendStored(nil, data))))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read back %d bytes, %v", n, len(got), err)
		}
	}
}
