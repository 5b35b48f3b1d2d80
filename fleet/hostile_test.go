package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/fleetscope/fleetscope/report"
)

// A store, or whatever answers at its URL, is as hostile here as a tenant
// is to the agent: these tests play the store.

const secret = "s3cret-t0ken"

// checkNoSecret fails when text shows a credential.
func checkNoSecret(t *testing.T, text string) {
	t.Helper()
	for _, s := range []string{secret, "fleetuser"} {
		if strings.Contains(text, s) {
			t.Errorf("%q shows %q", text, s)
		}
	}
}

// checkPrintable fails when text holds a character a terminal acts on.
func checkPrintable(t *testing.T, text string) {
	t.Helper()
	if i := strings.IndexFunc(text, func(r rune) bool {
		return r != '\n' && unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
	}); i >= 0 {
		t.Errorf("%q holds a control character at %d", text, i)
	}
}

// A store that redirects to another host (or port) never hands it the
// credentials: the other server gets no request at all, and the error
// names where the redirect led.
func TestRedirectToAnotherHostGetsNoCredentials(t *testing.T) {
	var seen, withAuth atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		if r.Header.Get("Authorization") != "" {
			withAuth.Add(1)
		}
		http.Error(w, "thanks", http.StatusUnauthorized)
	}))
	defer other.Close()
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())
	for _, host := range []string{"localhost:" + otherPort, "127.0.0.1:" + otherPort} {
		redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://"+host+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		}))
		withUserinfo := "http://fleetuser:" + secret + "@" + redirector.Listener.Addr().String()
		for name, o := range map[string]Options{
			"bearer":   {URL: redirector.URL, Bearer: secret},
			"basic":    {URL: redirector.URL, Username: "fleetuser", Password: secret},
			"userinfo": {URL: withUserinfo},
		} {
			_, err := Reports(context.Background(), o)
			if err == nil {
				t.Fatalf("%s: the redirect to %s was followed", name, host)
			}
			if !strings.Contains(err.Error(), "redirected to http://"+host) {
				t.Errorf("%s: the error does not name %s: %v", name, host, err)
			}
			checkNoSecret(t, err.Error())
		}
		redirector.Close()
	}
	if withAuth.Load() != 0 || seen.Load() != 0 {
		t.Errorf("the other host got %d requests, %d of them with credentials", seen.Load(), withAuth.Load())
	}
}

// A redirect that stays on the store's scheme, host and port (a proxy
// that moved the API under another prefix) is followed, credentials and
// all.
func TestSameHostRedirectFollowed(t *testing.T) {
	h := storeHandler(t, node("n1", 0.02))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/old"); ok {
			u := *r.URL
			u.Path = "/new" + rest
			http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
			return
		}
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/new")
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	reps, err := Reports(context.Background(), Options{URL: srv.URL + "/old/", Bearer: "tok"})
	if err != nil || len(reps) != 1 || len(reps[0].Containers) != 1 || reps[0].Containers[0].Analysis == nil {
		t.Fatalf("through a same-host redirect: %+v, %v", reps, err)
	}
}

func TestDefaultBounds(t *testing.T) {
	o := Options{}.withDefaults()
	if o.MaxAnswerBytes != 128<<20 || o.MaxSeries != 300_000 || o.Timeout != 30*time.Second {
		t.Errorf("defaults %+v", o)
	}
	if o := (Options{MaxAnswerBytes: 5, MaxSeries: 7}).withDefaults(); o.MaxAnswerBytes != 5 || o.MaxSeries != 7 {
		t.Errorf("explicit bounds replaced: %+v", o)
	}
}

// heapPeak runs f and returns how far the heap's objects grew above what
// they were before, at the highest, sampled as f runs.
func heapPeak(f func()) uint64 {
	debug.SetGCPercent(10) // so that the samples see what is held, not garbage
	defer debug.SetGCPercent(100)
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(s); return s[0].Value.Uint64() }
	var peak atomic.Uint64
	base := read()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := read(); v > base && v-base > peak.Load() {
				peak.Store(v - base)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	<-stopped
	return peak.Load()
}

// endlessVector answers an instant query with series that never end,
// each carrying labels, and counts the bytes it wrote.
func endlessVector(labels string, wrote *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[`)
		wrote.Add(int64(n))
		var chunk bytes.Buffer
		for i := 0; chunk.Len() < 64<<10; i++ {
			fmt.Fprintf(&chunk, `{"metric":{"__name__":"fleetscope_container_info","container_id":"c%d",%s},"value":[1764590400.5,"1"]},`, i, labels)
		}
		for r.Context().Err() == nil {
			n, err := w.Write(chunk.Bytes())
			wrote.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
}

// An answer past the byte bound is an error naming the store and the
// bound; it is read as it arrives, so memory stays a small part of the
// bound when the series carry labels the report does not read, and
// within it when they carry its own.
func TestAnswerOverTheByteBound(t *testing.T) {
	const bound = 32 << 20
	for _, tc := range []struct {
		name, labels string
		maxHeap      uint64
	}{
		{"unread labels", `"job":"` + strings.Repeat("j", 2000) + `","pod":"` + strings.Repeat("p", 2000) + `"`, bound / 4},
		{"read labels", `"k8s_pod_name":"` + strings.Repeat("p", 500) + `","container_image_name":"` + strings.Repeat("i", 500) + `"`, 2 * bound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wrote atomic.Int64
			srv := httptest.NewServer(endlessVector(tc.labels, &wrote))
			defer srv.Close()
			var err error
			peak := heapPeak(func() {
				_, err = Reports(context.Background(), Options{URL: srv.URL, MaxAnswerBytes: bound})
			})
			var tl *report.TooLargeError
			if !errors.As(err, &tl) || tl.Limit != bound {
				t.Fatalf("an endless answer: %v", err)
			}
			if !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "32 MiB") {
				t.Errorf("the error does not name the store and the bound: %v", err)
			}
			if w := wrote.Load(); w > bound+8<<20 {
				t.Errorf("%d bytes written for a bound of %d", w, bound)
			}
			t.Logf("heap peak %.1f MiB for a %d MiB answer", float64(peak)/(1<<20), bound>>20)
			if peak > tc.maxHeap {
				t.Errorf("the heap grew by %d bytes, more than %d", peak, tc.maxHeap)
			}
		})
	}
}

// vectorOf answers every instant query with n info series.
func vectorOf(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		b.WriteString(`{"status":"success","data":{"resultType":"vector","result":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"metric":{"container_id":"c%d","node":"n1"},"value":[1764590400,"1"]}`, i)
		}
		b.WriteString(`]}}`)
		w.Write(b.Bytes())
	}
}

// An answer with more series than allowed is an error naming the store
// and the bound; one with as many is read.
func TestAnswerOverTheSeriesBound(t *testing.T) {
	srv := httptest.NewServer(vectorOf(1001))
	defer srv.Close()
	_, err := Reports(context.Background(), Options{URL: srv.URL, MaxSeries: 1000})
	if err == nil || !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "more than 1000 series") {
		t.Errorf("1001 series: %v", err)
	}
	srv2 := httptest.NewServer(vectorOf(1000))
	defer srv2.Close()
	reps, err := Reports(context.Background(), Options{URL: srv2.URL, MaxSeries: 1000})
	if err != nil || len(reps) != 1 || len(reps[0].Containers) != 1000 {
		t.Errorf("1000 series: %d reports, %v", len(reps), err)
	}
}

// What a store says when it fails is quoted escaped, and short.
func TestStoreErrorsEscaped(t *testing.T) {
	hostile := "\x1b[2J\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07\r\nreport: all fine \u202e" + strings.Repeat("x", 5000)
	js, _ := json.Marshal(hostile)
	for name, h := range map[string]http.HandlerFunc{
		"plain 500": func(w http.ResponseWriter, _ *http.Request) { http.Error(w, hostile, http.StatusInternalServerError) },
		"json 400": func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"status":"error","errorType":"bad_data\u001b[31m","error":%s}`, js)
		},
		"json 200": func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `{"status":"error","errorType":"execution","error":%s}`, js)
		},
		"not a vector": func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":%s,"result":[]}}`, js)
		},
	} {
		srv := httptest.NewServer(h)
		_, err := Reports(context.Background(), Options{URL: srv.URL})
		srv.Close()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		msg := err.Error()
		checkPrintable(t, msg)
		if !strings.Contains(msg, `\x1b[2J\x1b]8;;http://evil.example/\x07click`) || !strings.Contains(msg, srv.URL) {
			t.Errorf("%s: %s", name, msg)
		}
		if len(msg) > 1200 {
			t.Errorf("%s: an error of %d bytes", name, len(msg))
		}
	}
}

// A store's series name pods, images and nodes as their owners chose:
// the table shows the escapes, the JSON the values.
func TestHostileSeriesRenderEscaped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		var result []any
		if strings.HasPrefix(r.Form.Get("query"), "fleetscope_container_info{") {
			result = append(result, map[string]any{"metric": map[string]string{
				"container_id": "c1", "k8s_pod_name": "evil\x1b[2J\r", "container_name": "app\u202etxt.exe",
				"k8s_namespace_name": "shop\x07", "node": "n1\x1b[1A",
			}, "value": []any{1764590400.5, "1"}})
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": result}})
	}))
	defer srv.Close()
	reps, err := Reports(context.Background(), Options{URL: srv.URL, Currency: "USD"})
	if err != nil || len(reps) != 1 {
		t.Fatalf("%d reports, %v", len(reps), err)
	}
	if c := reps[0].Containers[0]; c.PodName != "evil\x1b[2J\r" || c.Name != "app\u202etxt.exe" || reps[0].Time.Unix() != 1764590400 {
		t.Errorf("decoded %+v at %v", c, reps[0].Time)
	}
	var buf bytes.Buffer
	if err := report.RenderWorkloads(&buf, report.WorkloadsOf(reps), report.Options{Format: "table"}); err != nil {
		t.Fatal(err)
	}
	if err := report.Render(&buf, reps[0], report.Options{Format: "table"}); err != nil {
		t.Fatal(err)
	}
	checkPrintable(t, buf.String())
	if !strings.Contains(buf.String(), `evil\x1b[2J\r/app\u202etxt.exe`) || !strings.Contains(buf.String(), `n1\x1b[1A`) {
		t.Errorf("table:\n%s", buf.String())
	}
}

// Credentials in the store's URL stay out of errors, as do its query's.
func TestURLCredentialsNotInErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, u := range []string{
		"http://fleetuser:" + secret + "@" + addr,
		"http://fleetuser:" + secret + "/x?y#z@" + addr, // a password typed without encoding
		"http://" + addr + "/?api_key=" + secret,
	} {
		_, err := Reports(context.Background(), Options{URL: u, Timeout: 2 * time.Second})
		if err == nil {
			t.Fatalf("%s: no error", u)
		}
		checkNoSecret(t, err.Error())
		if !strings.Contains(err.Error(), addr) {
			t.Errorf("the error does not name the store: %v", err)
		}
	}
}
