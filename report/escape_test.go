package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"checkout-worker-5d8c/worker", "checkout-worker-5d8c/worker"},
		{"café ✗ 日本 €", "café ✗ 日本 €"},
		{`back\slash`, `back\slash`},
		{"\x1b[2J\r", `\x1b[2J\r`},
		{"a\tb\nc", `a\tb\nc`},
		{"bell\x07 nul\x00 del\x7f", `bell\x07 nul\x00 del\x7f`},
		{"\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\", `\x1b]8;;http://evil/\x1b\click\x1b]8;;\x1b\`},
		{"csi\u009b2J", `csi\u009b2J`},                 // C1 CSI, as UTF-8
		{"raw\x9b2J", `raw\x9b2J`},                     // C1 CSI, as a raw byte (not UTF-8)
		{"not utf-8: \xff\xfe", `not utf-8: \xff\xfe`}, //
		{"gpj.\u202eexe", `gpj.\u202eexe`},             // right-to-left override
		{"\u2066isolate\u2069 \u200fmark \ufeffbom", `\u2066isolate\u2069 \u200fmark \ufeffbom`},
		{"line\u2028para\u2029", `line\u2028para\u2029`},
		{"tag\U000e0041", `tag\U000e0041`},
		{"\ufffd stays", "\ufffd stays"}, // a real replacement character is text
	} {
		if got := Escape(tc.in); got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// checkPrintable fails when text holds anything that a terminal would act
// on rather than show.
func checkPrintable(t *testing.T, what, text string) {
	t.Helper()
	if !utf8.ValidString(text) {
		t.Errorf("%s is not UTF-8: %q", what, text)
	}
	for _, r := range text {
		if r != '\n' && unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Errorf("%s holds %U: %q", what, r, text)
			return
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2J\r", "\xff\u202e\u009b", `\x1b`, "a|b\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		checkPrintable(t, "Escape", strings.ReplaceAll(e, "\n", "\x00"))
		if Escape(e) != e {
			t.Errorf("Escape is not idempotent on %q: %q, then %q", s, e, Escape(e))
		}
		clean := utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return unsafeRune(r, utf8.RuneLen(r)) }) < 0
		if clean != (e == s) {
			t.Errorf("Escape(%q) = %q", s, e)
		}
		m := markdownText(s)
		checkPrintable(t, "markdownText", strings.ReplaceAll(m, "\n", "\x00"))
		if strings.Contains(strings.ReplaceAll(m, `\|`, ""), "|") {
			t.Errorf("markdownText(%q) = %q leaves a bare |", s, m)
		}
	})
}

// hostileReport is a report whose every name was chosen by someone who
// wants to drive the operator's terminal.
func hostileReport() Report {
	a := &Analysis{Verdict: "function", Platform: "function\x1b[31m", IdleRatio: map[string]float64{"7d": 0.9},
		IdleCostPerMonth: 9, SavingsPerMonth: 8, CurrentMonthlyCost: 10,
		Reasons:  []Reason{{Code: "x", Text: "idle\x1b]8;;http://evil.example/\x07click here\x1b]8;;\x07"}},
		Blockers: []Reason{{Code: "y", Text: "line one\r\nfake: row | with pipe"}}}
	return Report{Node: "node\x1b[1A\x1b[2K", Time: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Currency: "US\x1b[8mD",
		PriceSource: "list\u202e price", Containers: []Container{{
			ID: "c1", Namespace: "k8s.io", Name: "app\u202etxt.exe", PodName: "evil\x1b[2J\r", PodNamespace: "shop\x07",
			WorkloadKind: "Deployment", WorkloadName: "evil\x1b[2J\r", Node: "node\x1b[1A\x1b[2K", Image: "img\x1b[2J", Running: true,
			Analysis: a,
		}},
		Runs: []Runs{{Namespace: "shop", Kind: "CronJob", Name: "job\x1b[2J\r", Node: "node", Count: 2, WindowSeconds: 3600,
			Verdict: "function", Platform: "function", Reasons: []Reason{{Code: "r", Text: "\x1b[2Jrun reason"}}}},
	}
}

// A pod named "\x1b[2J\r" (clear the screen, back to the line's start)
// shows as those characters' escapes in every human-readable format, by
// container and by workload; JSON keeps the value exactly.
func TestRenderEscapesHostileNames(t *testing.T) {
	for _, by := range []string{"container", "workload"} {
		for _, format := range []string{"table", "markdown"} {
			for _, width := range []int{0, 80} {
				var buf bytes.Buffer
				var err error
				if by == "container" {
					err = Render(&buf, hostileReport(), Options{Format: format, Width: width})
				} else {
					err = RenderWorkloads(&buf, WorkloadsOf([]Report{hostileReport()}), Options{Format: format, Width: width})
				}
				if err != nil {
					t.Fatal(err)
				}
				out := buf.String()
				what := by + " " + format
				checkPrintable(t, what, out)
				want := `\x1b[2J\r`
				if format == "markdown" {
					want = `\\x1b\[2J\\r`
				}
				if !strings.Contains(out, want) {
					t.Errorf("%s lacks %s:\n%s", what, want, out)
				}
				if format == "markdown" {
					// One line per row: the header, the rule and the
					// rows; a newline in a cell may not add one, nor
					// a "|" a cell.
					var rows []string
					for line := range strings.Lines(out) {
						if strings.HasPrefix(line, "|") {
							rows = append(rows, line)
						}
					}
					n := len(hostileReport().Containers) + 2
					if by == "workload" {
						n = len(WorkloadsOf([]Report{hostileReport()}).Workloads) + 2
					}
					if len(rows) != n {
						t.Errorf("%s: %d table lines, want %d:\n%s", what, len(rows), n, out)
					}
					for _, row := range rows {
						if cells := strings.Count(strings.ReplaceAll(row, `\|`, ""), "|"); cells != strings.Count(rows[0], "|") {
							t.Errorf("%s: row %q has %d separators, the header %d", what, row, cells, strings.Count(rows[0], "|"))
						}
					}
					for _, s := range []string{"](", "<", "&#"} {
						if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(out, `\<`, ""), `\]`, ""), s) {
							t.Errorf("%s: unescaped %q:\n%s", what, s, out)
						}
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := Render(&buf, hostileReport(), Options{Format: "json"}); err != nil {
		t.Fatal(err)
	}
	// JSON escapes the C0 controls itself (the rest is left as the
	// values are: JSON is for programs).
	if i := strings.IndexFunc(buf.String(), func(r rune) bool { return r < 0x20 && r != '\n' }); i >= 0 {
		t.Errorf("json holds a control character at %d:\n%s", i, buf.String())
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if c := back.Containers[0]; c.PodName != "evil\x1b[2J\r" || c.Name != "app\u202etxt.exe" || back.Node != "node\x1b[1A\x1b[2K" {
		t.Errorf("json changed the values: %+v", back)
	}
}

func TestShownURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:9090", "http://127.0.0.1:9090"},
		{"https://prom.example.com/prometheus/", "https://prom.example.com/prometheus/"},
		{"https://user:s3cret@prom.example.com/api/v1/query?query=up&api_key=k3y#frag", "https://REDACTED@prom.example.com/api/v1/query"},
		{"https://user:pa/ss?w#rd@prom:9090/x?api_key=k3y", "https://REDACTED@prom:9090/x"},
		{"http://prom:port?token=k3y", "http://prom:port"},
		{"http://prom\x1b[2J:9090", `http://prom\x1b[2J:9090`},
	} {
		if got := ShownURL(tc.in); got != tc.want {
			t.Errorf("ShownURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
