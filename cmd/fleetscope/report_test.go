package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"unicode"

	"github.com/fleetscope/fleetscope/report"
)

// printable fails when text holds a character a terminal acts on.
func printable(t *testing.T, what, text string) {
	t.Helper()
	if i := strings.IndexFunc(text, func(r rune) bool {
		return r != '\n' && unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
	}); i >= 0 {
		t.Errorf("%s holds %q at %d:\n%s", what, text[i:min(i+8, len(text))], i, text)
	}
}

// An agent (or whatever answers at --url) that names a pod "\x1b[2J\r"
// clears no screen: every human-readable format shows the escapes, JSON
// the exact value.
func TestReportEscapesAnAgentsNames(t *testing.T) {
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(report.Report{Node: "n1\x1b]0;pwned\x07", Currency: "USD", Containers: []report.Container{{
			ID: "c1", Namespace: "k8s.io", Name: "app", PodName: "evil\x1b[2J\r", PodNamespace: "shop\u202e",
			Analysis: &report.Analysis{Verdict: "keep", Reasons: []report.Reason{{Code: "x", Text: "busy\r\n\x1b[1Afake line"}}},
		}}})
	}))
	defer agent.Close()
	for _, args := range [][]string{
		{"--output", "table"}, {"--output", "markdown"}, {"--by", "workload"}, {"--by", "workload", "--output", "markdown"},
	} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"report", "--url", agent.URL}, args...), &out, &errb); code != 0 {
			t.Fatalf("report %v: exit %d: %s", args, code, errb.String())
		}
		printable(t, strings.Join(args, " "), out.String())
		// The container view names the pod; both name its namespace.
		if args[0] == "--output" && !strings.Contains(out.String(), `x1b[2J`) && !strings.Contains(out.String(), `x1b\[2J`) ||
			!strings.Contains(out.String(), `shop\u202e`) && !strings.Contains(out.String(), `shop\\u202e`) {
			t.Errorf("report %v does not show the names escaped:\n%s", args, out.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"report", "--url", agent.URL, "--output", "json"}, &out, &errb); code != 0 {
		t.Fatalf("json: exit %d: %s", code, errb.String())
	}
	var r report.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Containers[0].PodName != "evil\x1b[2J\r" || r.Node != "n1\x1b]0;pwned\x07" {
		t.Errorf("json: %v %+v", err, r)
	}
}

// An error answer's body reaches the terminal escaped.
func TestReportEscapesErrorBodies(t *testing.T) {
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "\x1b[2J\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07\r\nreport: all fine", http.StatusServiceUnavailable)
	}))
	defer agent.Close()
	var out, errb bytes.Buffer
	if code := run([]string{"report", "--url", agent.URL}, &out, &errb); code != 1 {
		t.Fatalf("exit %d", code)
	}
	printable(t, "stderr", errb.String())
	if !strings.Contains(errb.String(), `503 Service Unavailable: \x1b[2J\x1b]8;;http://evil.example/\x07click`) || strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("stderr: %q", errb.String())
	}
}

// report --prometheus with a bearer token from a file: a redirect to
// another host is refused before that host hears of the token.
func TestReportPrometheusRedirectKeepsTheToken(t *testing.T) {
	const token = "s3cret-t0ken"
	var withAuth, seen atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		if r.Header.Get("Authorization") != "" {
			withAuth.Add(1)
		}
	}))
	defer other.Close()
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, otherURL+r.URL.RequestURI(), http.StatusFound)
	}))
	defer store.Close()
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"report", "--prometheus", store.URL, "--prometheus.bearer-token-file", file}, &out, &errb)
	if code != exitInvalid || !strings.Contains(errb.String(), "redirected to "+otherURL) || strings.Contains(errb.String(), token) {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	if seen.Load() != 0 || withAuth.Load() != 0 {
		t.Errorf("the other host got %d requests, %d with the token", seen.Load(), withAuth.Load())
	}
}
