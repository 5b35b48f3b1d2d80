package report

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/model"
)

func testReport() Report {
	mk := func(id, pod string, v analysis.Verdict, idleCost, over, saving float64, platform string, sandbox bool) model.Container {
		return model.Container{
			Meta: &model.Meta{Namespace: "k8s.io", ID: id, Name: "c-" + id, Sandbox: sandbox,
				Pod: model.Pod{Name: pod, Namespace: "shop", ContainerName: "c-" + id}},
			Analysis: &analysis.Result{Verdict: v, IdleRatio1h: 0.5, IdleRatio24h: math.NaN(), IdleRatio7d: 0.95,
				IdleCostPerMonth: idleCost, OverReservationWastePerMonth: over, SavingsPerMonth: saving, Platform: platform,
				CurrentMonthlyCost: 30, Reasons: []analysis.Reason{{Code: "idle_ratio_high", Text: "idle 95% of the time"}},
				Blockers: []analysis.Reason{{Code: "gpu", Text: "a GPU | is attached"}}},
		}
	}
	s := &model.Snapshot{Time: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), NodeName: "n1", Containers: []model.Container{
		mk("a", "p1", analysis.VerdictKeep, 1, 0, 0, "", false),
		mk("b", "p2", analysis.VerdictFunction, 20, 5, 24.5, "function", false),
		mk("c", "p3", analysis.VerdictRightsize, 3, 10, 0, "", false),
		mk("s", "p2", analysis.VerdictKeep, 100, 0, 0, "", true),
		{Meta: &model.Meta{Namespace: "default", ID: "d", Name: "d"}},
	}}
	return FromSnapshot(s, "USD", "list price")
}

func ids(r Report) string {
	var out []string
	for _, c := range r.Containers {
		out = append(out, c.ID)
	}
	return strings.Join(out, ",")
}

func TestSortedByMoneyWasted(t *testing.T) {
	r := testReport()
	Filter{}.Apply(&r)
	// b wastes 25, c 13, a 1, d has no analysis; the sandbox is hidden.
	if got := ids(r); got != "b,c,a,d" {
		t.Fatalf("order = %s, want b,c,a,d", got)
	}
}

// TestRankedBySaving: a candidate that idles cheaply but whose move saves
// more than another container wastes ranks above it.
func TestRankedBySaving(t *testing.T) {
	r := testReport()
	r.Containers = append(r.Containers, Container{ID: "e", Namespace: "k8s.io", Analysis: &Analysis{
		Verdict: "serverless-container", Platform: "serverless-container", IdleCostPerMonth: 2, SavingsPerMonth: 18}})
	Filter{}.Apply(&r)
	if got := ids(r); got != "b,e,c,a,d" {
		t.Fatalf("order = %s, want b,e,c,a,d", got)
	}
}

func TestFilters(t *testing.T) {
	r := testReport()
	Filter{Verdicts: []string{"function", "rightsize"}}.Apply(&r)
	if got := ids(r); got != "b,c" {
		t.Fatalf("verdict filter = %s", got)
	}
	r = testReport()
	Filter{Namespaces: []string{"default"}}.Apply(&r)
	if got := ids(r); got != "d" {
		t.Fatalf("namespace filter = %s (containerd namespace when not a pod)", got)
	}
	r = testReport()
	Filter{WithSandboxes: true}.Apply(&r)
	if got := ids(r); got != "s,b,c,a,d" {
		t.Fatalf("with sandboxes = %s", got)
	}
}

func TestRenderFormats(t *testing.T) {
	r := testReport()
	Filter{}.Apply(&r)
	var buf bytes.Buffer
	if err := Render(&buf, r, Options{Format: "table"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"p2/c-b", "95%", "function", "$24.50", "idle 95% of the time", "✗ a GPU | is attached",
		"Paid for idle time: $24.00 per month. Serverless candidates: 1, saving $24.50 per month."} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := Render(&buf, r, Options{Format: "markdown"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `a GPU \| is attached`) || !strings.Contains(buf.String(), "|---|") {
		t.Errorf("markdown not escaped or not a table:\n%s", buf.String())
	}
	buf.Reset()
	if err := Render(&buf, r, Options{Format: "json"}); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	b := back.Containers[0].Analysis
	if b.Verdict != "function" || b.IdleRatio["7d"] != 0.95 {
		t.Fatalf("json round trip: %+v", b)
	}
	if _, ok := b.IdleRatio["24h"]; ok {
		t.Fatal("a NaN idle ratio was encoded")
	}
	if err := Render(&buf, r, Options{Format: "yaml"}); err == nil {
		t.Fatal("unknown format accepted")
	}
}

// The IDLE column shows the idleness the verdict used: idle minutes, or
// for work shorter than a minute the share of sampled time not busy,
// marked as such (a duty-cycled candidate idle in 0% of its minutes).
func TestIdleColumnAsJudged(t *testing.T) {
	s := &model.Snapshot{Time: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), NodeName: "n1", Containers: []model.Container{
		{Meta: &model.Meta{Namespace: "k8s.io", ID: "poller", Name: "poller"},
			Analysis: &analysis.Result{Verdict: analysis.VerdictFunction, IdleRatio1h: 0, IdleRatio24h: 0, IdleRatio7d: 0,
				BusyRatio: 0.07, DutyCycled: true}},
		{Meta: &model.Meta{Namespace: "k8s.io", ID: "idler", Name: "idler"},
			Analysis: &analysis.Result{Verdict: analysis.VerdictFunction, IdleRatio1h: 1, IdleRatio24h: 1, IdleRatio7d: 0.97,
				BusyRatio: math.NaN()}},
	}}
	r := FromSnapshot(s, "USD", "list price")
	var buf bytes.Buffer
	if err := Render(&buf, r, Options{Format: "table"}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "93% of samples") || !strings.Contains(out, "97%") || strings.Contains(out, " 0% ") {
		t.Errorf("idle column:\n%s", out)
	}
	if b := r.Containers[1].Analysis.BusyRatio; b != nil {
		t.Errorf("a NaN busy ratio is given as %v", *b)
	}
}

// The observed signals come from the container's sample and its network
// namespace, each left out where it is not known.
func TestObservedSignals(t *testing.T) {
	quota := model.Limits{CPUQuotaMicros: 50000, CPUPeriodMicros: 100000}
	usage := func(have model.Have, periods, throttled, kills uint64) model.Usage {
		return model.Usage{Have: have, CPUPeriods: periods, CPUThrottledPeriods: throttled, OOMKills: kills}
	}
	all := model.HaveThrottling | model.HaveOOM
	mk := func(id string, sampled bool, u model.Usage, l model.Limits, network int) model.Container {
		return model.Container{Meta: &model.Meta{Namespace: "k8s.io", ID: id, Name: id}, Sampled: sampled, Usage: u, Limits: l, Network: network}
	}
	s := &model.Snapshot{
		Networks: []model.Network{{Owner: 0, ListenPort: 8080}, {Owner: 3}},
		Containers: []model.Container{
			mk("web", true, usage(all, 400, 100, 2), quota, 0),
			mk("sidecar", true, usage(model.HaveThrottling, 400, 0, 0), quota, 0), // same pod: same port
			mk("unlimited", true, usage(all, 400, 100, 0), model.Limits{CPUQuotaMicros: -1, CPUPeriodMicros: 100000}, -1),
			mk("idle", true, usage(model.HaveThrottling, 0, 0, 0), quota, 1), // no period yet; listens on loopback only
			mk("garbage", true, usage(model.HaveThrottling, 10, 20, 0), quota, 7),
			mk("unsampled", false, usage(all, 400, 100, 2), quota, -1),
		},
	}
	r := FromSnapshot(s, "USD", "list price")
	type want struct {
		kills *uint64
		ratio *float64
		port  *uint16
	}
	u := func(v uint64) *uint64 { return &v }
	f := func(v float64) *float64 { return &v }
	p := func(v uint16) *uint16 { return &v }
	wants := map[string]want{
		"web":       {u(2), f(0.25), p(8080)},
		"sidecar":   {nil, f(0), p(8080)},
		"unlimited": {u(0), nil, nil},
		"idle":      {nil, nil, nil},
		"garbage":   {nil, f(1), nil},
		"unsampled": {nil, nil, nil},
	}
	for _, c := range r.Containers {
		w := wants[c.ID]
		if !eqPtr(c.OOMKills, w.kills) || !eqPtr(c.CPUThrottledRatio, w.ratio) || !eqPtr(c.ListenPort, w.port) {
			t.Errorf("%s: oom %v, throttled %v, port %v; want %v, %v, %v", c.ID,
				show(c.OOMKills), show(c.CPUThrottledRatio), show(c.ListenPort), show(w.kills), show(w.ratio), show(w.port))
		}
	}
	b, err := json.Marshal(r.Containers[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"oom_kills":2`, `"cpu_throttled_ratio":0.25`, `"listen_port":8080`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	b, _ = json.Marshal(r.Containers[5])
	for _, key := range []string{"oom_kills", "cpu_throttled_ratio", "listen_port"} {
		if bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON of an unsampled container has %s: %s", key, b)
		}
	}
}

func eqPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// What went wrong leads a container's WHY, in the table and in Markdown:
// a plan raises the limits of a container the OOM killer killed or the
// CFS throttled, and the report says so first. Throttling under the share
// a plan acts on is not stated.
func TestWhyStatesWhatWentWrong(t *testing.T) {
	kills, throttled, mild := uint64(3), 0.12, 0.01
	r := Report{Currency: "USD", Containers: []Container{
		{ID: "oom", Name: "oom", OOMKills: &kills, CPUThrottledRatio: &throttled,
			Analysis: &Analysis{Verdict: "rightsize", Reasons: []Reason{{Text: "p95 uses 0.05 of 0.5 cores"}}}},
		{ID: "calm", Name: "calm", CPUThrottledRatio: &mild, Analysis: &Analysis{Verdict: "keep"}},
	}}
	for _, format := range []string{"table", "markdown"} {
		var buf bytes.Buffer
		if err := Render(&buf, r, Options{Format: format}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		want := "⚠ killed by the OOM killer 3 time(s); ⚠ CPU throttled in 12% of its periods; p95 uses 0.05 of 0.5 cores"
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks %q:\n%s", format, want, out)
		}
		if strings.Count(out, "throttled") != 1 {
			t.Errorf("%s states throttling under %v:\n%s", format, throttledShare, out)
		}
	}
}
