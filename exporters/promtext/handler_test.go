package promtext

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

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

// blocking hands out a snapshot only when released, holding scrapes in
// flight.
type blocking struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) Snapshot() *model.Snapshot {
	b.entered <- struct{}{}
	<-b.release
	return nil
}

// Scrapes beyond the in-flight cap get 503 at once instead of piling up
// renders in memory.
func TestHandlerInFlightCap(t *testing.T) {
	src := &blocking{entered: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(Handler(New(src, Options{}), nil, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	var wg sync.WaitGroup
	for range MaxScrapesInFlight {
		wg.Go(func() {
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("scrape within the cap: %d", resp.StatusCode)
			}
		})
	}
	for range MaxScrapesInFlight {
		<-src.entered
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("scrape over the cap: %d, want 503", resp.StatusCode)
	}
	close(src.release)
	wg.Wait()
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
