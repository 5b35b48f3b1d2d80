// Package fleet answers for the whole fleet from the store that already
// holds every node's series: anything that speaks the Prometheus HTTP API
// (Prometheus, Thanos, Mimir, VictoriaMetrics). It reads the series the
// agents export and rebuilds one report per node, so the per-workload view
// across nodes is the same arithmetic as on one node. Fleetscope has no
// aggregator of its own.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/report"
)

// ErrNoData says the store answered but holds no Fleetscope series.
var ErrNoData = errors.New("no Fleetscope series")

// A store, or whatever answers at its URL, may be hostile: what one
// query's answer may make us read and hold is bounded.
//
// MaxAnswerBytes bounds the bytes of one answer. The largest answers are
// the info series (one per container, 600 to 900 bytes of JSON each with
// the labels the store adds: job, instance, node, the agent's pod) and the
// reasons (a few per container, 400 to 500 bytes each): 128 MiB holds the
// reasons of some 100,000 containers, 2,000 nodes of 50 each. The answer
// is decoded as it arrives and only the labels a report reads are kept, so
// this bounds the time and traffic a store can make us spend, and the
// memory its kept labels can take.
//
// MaxSeries bounds the series of one answer, as what a report keeps is
// per series (a container, a reason, a run: a few hundred bytes each, not
// counting the labels): 300,000 is three reasons for each of those 100,000
// containers.
// MaxPoints bounds the points of a range answer: an hour's counts for a
// week (169 points) of 10,000 containers, twice.
const (
	MaxAnswerBytes = 128 << 20
	MaxSeries      = 300_000
	MaxPoints      = 4_000_000
)

// Options say which store to ask and how.
type Options struct {
	// URL is the store's base URL (http://prometheus:9090, or a Thanos
	// Query, Mimir or VictoriaMetrics select path prefix).
	URL string
	// Username and Password, when set, are sent as basic auth; Bearer as a
	// bearer token (user information in URL, when neither is set, as
	// basic auth). They go to URL's own scheme, host and port only (a
	// redirect anywhere else is refused) and never appear in errors.
	Username, Password, Bearer string
	// Timeout bounds each query; zero means 30 s.
	Timeout time.Duration
	// Transport is the HTTP transport; nil means a copy of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// MaxAnswerBytes and MaxSeries bound each answer; zero means the
	// package's constants of the same names.
	MaxAnswerBytes int64
	MaxSeries      int
	// MaxPoints bounds the points of a range query's answer; zero means
	// the package's constant of that name.
	MaxPoints int
	// Currency labels the money where the series carry no currency label
	// (agents before they had one); PriceSource describes the prices.
	Currency, PriceSource string
	// At is the time the store is asked about; zero means now. Two stores
	// holding the same samples answer the same at the same At.
	At time.Time
}

// The labels a report reads: each is the Prometheus name of one of the
// schema's attributes, the names the agents export, never a literal of
// this package's.
var (
	labelContainerID         = schema.PromLabel(schema.AttrContainerID)
	labelContainerName       = schema.PromLabel(schema.AttrContainerName)
	labelPodContainerName    = schema.PromLabel(schema.AttrPodContainerName)
	labelContainerImageName  = schema.PromLabel(schema.AttrContainerImageName)
	labelContainerdNamespace = schema.PromLabel(schema.AttrContainerdNamespace)
	labelPodName             = schema.PromLabel(schema.AttrPodName)
	labelNamespaceName       = schema.PromLabel(schema.AttrNamespaceName)
	labelWorkloadKind        = schema.PromLabel(schema.AttrWorkloadKind)
	labelWorkloadName        = schema.PromLabel(schema.AttrWorkloadName)
	labelPodSandbox          = schema.PromLabel(schema.AttrPodSandbox)
	labelGPU                 = schema.PromLabel(schema.AttrGPU)
	labelVerdict             = schema.PromLabel(schema.AttrVerdict)
	labelPlatform            = schema.PromLabel(schema.AttrPlatform)
	labelCurrency            = schema.PromLabel(schema.AttrCurrency)
	labelWindow              = schema.PromLabel(schema.AttrWindow)
	labelReasonKind          = schema.PromLabel(schema.AttrReasonKind)
	labelReasonCode          = schema.PromLabel(schema.AttrReasonCode)
	labelStatistic           = schema.PromLabel(schema.AttrStatistic)
	labelSource              = schema.PromLabel(schema.AttrSource)
	labelResource            = schema.PromLabel("fleetscope.resource")
	// labelBucket is a classic histogram's bucket bound, Prometheus' own.
	labelBucket = "le"
)

// nodeLabels are tried in order for the node a series comes from: the
// chart's ServiceMonitor and annotation scraping add "node" (the store's
// label, not an attribute of ours); an OpenTelemetry Collector's
// resource-to-label translation gives the OTLP resource's k8s.node.name; a
// plain scrape has only its instance (the store's, too).
var nodeLabels = []string{"node", schema.PromLabel(schema.AttrNodeName), "instance"}

// withDefaults fills in the zero fields that have a default.
func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MaxAnswerBytes <= 0 {
		o.MaxAnswerBytes = MaxAnswerBytes
	}
	if o.MaxSeries <= 0 {
		o.MaxSeries = MaxSeries
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = MaxPoints
	}
	return o
}

// newQuerier checks o's URL and fills in its defaults.
func newQuerier(o Options) (*querier, error) {
	o = o.withDefaults()
	q := &querier{o: o, shown: report.ShownURL(o.URL), now: o.At}
	if q.now.IsZero() {
		q.now = time.Now()
	}
	base, err := url.Parse(o.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("the Prometheus API URL %s is not an http:// or https:// URL", q.shown)
	}
	q.base = base
	return q, nil
}

// Reports reads every node's containers from the store.
func Reports(ctx context.Context, o Options) ([]report.Report, error) {
	q, err := newQuerier(o)
	if err != nil {
		return nil, err
	}
	o = q.o

	byNode, err := q.containers(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := q.analyses(ctx, byNode); err != nil {
		return nil, err
	}
	if err := q.signals(ctx, byNode); err != nil {
		return nil, err
	}
	if err := q.runs(ctx, byNode, o); err != nil {
		return nil, err
	}
	// In one order, so that what is summed from them is summed in the
	// same order whatever the store's.
	out := make([]report.Report, 0, len(byNode))
	for _, node := range slices.Sorted(maps.Keys(byNode)) {
		out = append(out, *byNode[node])
	}
	prices, err := q.nodePrices(ctx, "")
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(slices.Collect(maps.Values(prices)), func(p *nodePrice) bool { return p.openCost }) {
		reserved, err := q.reservedByContainer(ctx)
		if err != nil {
			return nil, err
		}
		repriceByOpenCost(out, prices, reserved)
	}
	busy, from, err := q.gpuBusy(ctx)
	if err != nil {
		return nil, err
	}
	gpuIdleFromDCGM(out, busy, from, prices)
	return out, nil
}

// containers reads every container's info series into a report per node.
func (q *querier) containers(ctx context.Context, o Options) (map[string]*report.Report, error) {
	info, err := q.vector(ctx, schema.ContainerInfo.PromName())
	if err != nil {
		return nil, err
	}
	if len(info) == 0 {
		return nil, fmt.Errorf("%s: %w (%s is empty: are the agents scraped, or their OTLP data translated to Prometheus names?)", q.shown, ErrNoData, schema.ContainerInfo.PromName())
	}
	byNode := map[string]*report.Report{}
	for _, s := range info {
		l := s.labels
		node := nodeOf(l)
		r := byNode[node]
		if r == nil {
			r = &report.Report{Node: node, Time: s.time, Currency: o.Currency, PriceSource: o.PriceSource}
			byNode[node] = r
		}
		c := report.Container{
			ID: l[labelContainerID], Namespace: l[labelContainerdNamespace], Name: l[labelContainerName],
			PodName: l[labelPodName], PodNamespace: l[labelNamespaceName], Image: l[labelContainerImageName],
			Sandbox: l[labelPodSandbox] == "true", GPU: l[labelGPU] == "true", Running: true,
			WorkloadKind: l[labelWorkloadKind], WorkloadName: l[labelWorkloadName], Node: node,
		}
		r.Containers = append(r.Containers, c)
	}
	return byNode, nil
}

// analysisFields are the analysis series a report reads back, each with
// where its value goes.
var analysisFields = []struct {
	m   *schema.Metric
	set func(a *report.Analysis, s *sample, v float64)
}{
	{&schema.ServerlessFit, func(a *report.Analysis, _ *sample, v float64) { a.Score = int(math.Round(v * 100)) }},
	{&schema.ServerlessVerdict, func(a *report.Analysis, s *sample, _ float64) {
		a.Verdict, a.Platform = s.labels[labelVerdict], s.labels[labelPlatform]
	}},
	{&schema.Cost, func(a *report.Analysis, _ *sample, v float64) {
		a.CurrentMonthlyCost = monthly(&schema.Cost, v)
		a.CostPerHour = a.CurrentMonthlyCost / analysis.HoursPerMonth
	}},
	{&schema.IdleCost, func(a *report.Analysis, _ *sample, v float64) {
		a.IdleCostPerMonth = monthly(&schema.IdleCost, v)
		a.IdleCostPerHour = a.IdleCostPerMonth / analysis.HoursPerMonth
	}},
	{&schema.OverReservationCost, func(a *report.Analysis, _ *sample, v float64) {
		a.OverReservedPerMon = monthly(&schema.OverReservationCost, v)
	}},
	{&schema.ServerlessCost, func(a *report.Analysis, _ *sample, v float64) {
		a.ServerlessMonthly = monthly(&schema.ServerlessCost, v)
	}},
	{&schema.ServerlessSavings, func(a *report.Analysis, _ *sample, v float64) {
		a.SavingsPerMonth = monthly(&schema.ServerlessSavings, v)
	}},
	{&schema.IdleRatio, func(a *report.Analysis, s *sample, v float64) { a.IdleRatio[s.labels[labelWindow]] = v }},
	{&schema.ObservedTime, func(a *report.Analysis, _ *sample, v float64) { a.ObservedSeconds = v }},
	{&schema.ServerlessReason, func(a *report.Analysis, s *sample, _ float64) {
		r := report.Reason{Code: s.labels[labelReasonCode], Text: s.labels[labelReasonCode]}
		if s.labels[labelReasonKind] == "blocker" {
			a.Blockers = append(a.Blockers, r)
		} else {
			a.Reasons = append(a.Reasons, r)
		}
	}},
}

// analyses reads the analysis series into the containers of byNode; a
// container gets an analysis once a series of one is found.
func (q *querier) analyses(ctx context.Context, byNode map[string]*report.Report) error {
	containerOf := indexContainers(byNode)
	analysisOf := func(s *sample) *report.Analysis {
		c := containerOf(s)
		if c == nil {
			return nil
		}
		if c.Analysis == nil {
			c.Analysis = &report.Analysis{IdleRatio: map[string]float64{}, Reasons: []report.Reason{}, Blockers: []report.Reason{}}
		}
		return c.Analysis
	}
	for _, f := range analysisFields {
		vec, err := q.vector(ctx, f.m.PromName())
		if err != nil {
			return err
		}
		for i := range vec {
			s := &vec[i]
			if a := analysisOf(s); a != nil {
				f.set(a, s, s.value)
			}
			// The agents say which currency their price sheet is in.
			if cur := s.labels[labelCurrency]; f.m == &schema.Cost && cur != "" {
				if r := byNode[nodeOf(s.labels)]; r != nil {
					r.Currency = cur
				}
			}
		}
	}
	return nil
}

// indexContainers returns the container of byNode a container series is
// of, nil for none. Pointers into the slices are stable once every append
// is done.
func indexContainers(byNode map[string]*report.Report) func(s *sample) *report.Container {
	type key struct{ node, id string }
	index := map[key]*report.Container{}
	for _, r := range byNode {
		for i := range r.Containers {
			c := &r.Containers[i]
			index[key{c.Node, c.ID}] = c
		}
	}
	return func(s *sample) *report.Container { return index[key{nodeOf(s.labels), s.labels[labelContainerID]}] }
}

// signals reads what went wrong for each container since it started, as
// a node's report has it: its OOM kills, and the share of its CFS periods
// it was throttled in.
func (q *querier) signals(ctx context.Context, byNode map[string]*report.Report) error {
	containerOf := indexContainers(byNode)
	type counts struct{ throttled, periods float64 }
	got := map[*report.Container]*counts{}
	for _, f := range []struct {
		m   *schema.Metric
		set func(c *report.Container, n *counts, v float64)
	}{
		{&schema.MemoryOOMKills, func(c *report.Container, _ *counts, v float64) { c.OOMKills = report.OOMKillCount(v) }},
		{&schema.CPUThrottledPeriods, func(_ *report.Container, n *counts, v float64) { n.throttled = v }},
		{&schema.CPUPeriods, func(_ *report.Container, n *counts, v float64) { n.periods = v }},
	} {
		vec, err := q.vector(ctx, f.m.PromName())
		if err != nil {
			return err
		}
		for i := range vec {
			c := containerOf(&vec[i])
			if c == nil {
				continue
			}
			if got[c] == nil {
				got[c] = &counts{}
			}
			f.set(c, got[c], vec[i].value)
		}
	}
	for c, n := range got {
		c.CPUThrottledRatio = report.ThrottledRatio(n.throttled, n.periods)
	}
	return nil
}

// runs reads the Jobs' and CronJobs' runs into each node's report.
func (q *querier) runs(ctx context.Context, byNode map[string]*report.Report, o Options) error {
	type key struct{ node, ns, kind, name string }
	runs := map[key]*report.Runs{}
	get := func(s *sample) *report.Runs {
		l := s.labels
		k := key{nodeOf(l), l[labelNamespaceName], l[labelWorkloadKind], l[labelWorkloadName]}
		r := runs[k]
		if r == nil {
			r = &report.Runs{Namespace: k.ns, Kind: k.kind, Name: k.name, Node: k.node}
			runs[k] = r
		}
		return r
	}
	for _, f := range []struct {
		m   *schema.Metric
		set func(r *report.Runs, s *sample, v float64)
	}{
		{&schema.WorkloadRuns, func(r *report.Runs, _ *sample, v float64) { r.Count = int(v) }},
		{&schema.WorkloadRunsWindow, func(r *report.Runs, _ *sample, v float64) { r.WindowSeconds = v }},
		{&schema.WorkloadRunDuration, func(r *report.Runs, s *sample, v float64) {
			switch s.labels[labelStatistic] {
			case "p50":
				r.DurationP50Seconds = v
			case "p95":
				r.DurationP95Seconds = v
			case "max":
				r.DurationMaxSeconds = v
			case "mean":
				r.DurationMeanSeconds = v
			}
		}},
		{&schema.WorkloadRunsCost, func(r *report.Runs, _ *sample, v float64) {
			r.CostPerMonth = monthly(&schema.WorkloadRunsCost, v)
		}},
		{&schema.WorkloadServerlessCost, func(r *report.Runs, _ *sample, v float64) {
			r.ServerlessPerMonth = monthly(&schema.WorkloadServerlessCost, v)
		}},
		{&schema.WorkloadVerdict, func(r *report.Runs, s *sample, _ float64) {
			r.Verdict, r.Platform = s.labels[labelVerdict], s.labels[labelPlatform]
		}},
	} {
		vec, err := q.vectorOf(ctx, f.m.PromName()+"{"+labelWorkloadName+`!=""}`, f.m.PromName())
		if err != nil {
			return err
		}
		for i := range vec {
			s := &vec[i]
			f.set(get(s), s, s.value)
		}
	}
	for k, r := range runs {
		rep := byNode[k.node]
		if rep == nil {
			rep = &report.Report{Node: k.node, Currency: o.Currency, PriceSource: o.PriceSource}
			byNode[k.node] = rep
		}
		rep.Runs = append(rep.Runs, *r)
	}
	return nil
}

// monthly converts a money figure in m's unit ("…/h" or "…/mo") to per
// month.
func monthly(m *schema.Metric, v float64) float64 {
	if strings.HasSuffix(m.Unit, "/h") {
		return v * analysis.HoursPerMonth
	}
	return v
}

func nodeOf(l map[string]string) string {
	for _, n := range nodeLabels {
		if v := l[n]; v != "" {
			return v
		}
	}
	return ""
}

type querier struct {
	// kept are the labels answers keep; nil: keptLabels, a report's.
	kept  map[string]bool
	o     Options
	base  *url.URL
	shown string // the store's URL as errors show it
	now   time.Time
}

// vector runs an instant query for one metric's latest samples. Series of
// Fleetscope only: the selector requires its identity label, so that
// same-named series of other exporters (cAdvisor's container_* among them)
// are never mixed in.
func (q *querier) vector(ctx context.Context, metric string) ([]sample, error) {
	return q.vectorOf(ctx, metric+"{"+labelContainerID+`!=""}`, metric)
}

// vectorOf runs the instant query expr, which reads metric. It asks with
// GET, which a redirect keeps as it is.
func (q *querier) vectorOf(ctx context.Context, expr, metric string) ([]sample, error) {
	return q.ask(ctx, "query", metric, func(params url.Values) {
		params.Set("query", expr)
		params.Set("time", unixTime(q.now))
	})
}

// matrixOf runs the range query expr, which reads metric, over [start,
// end] at step.
func (q *querier) matrixOf(ctx context.Context, expr, metric string, start, end time.Time, step time.Duration) ([]sample, error) {
	return q.ask(ctx, "query_range", metric, func(params url.Values) {
		params.Set("query", expr)
		params.Set("start", unixTime(start))
		params.Set("end", unixTime(end))
		params.Set("step", strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
	})
}

func unixTime(t time.Time) string { return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64) }

// ask sends one query to the API's endpoint (query or query_range), with
// the parameters set sets, and decodes its answer.
func (q *querier) ask(ctx context.Context, endpoint, metric string, set func(url.Values)) ([]sample, error) {
	ctx, cancel := context.WithTimeout(ctx, q.o.Timeout)
	defer cancel()
	u := *q.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/" + endpoint
	u.RawPath = ""
	params := u.Query()
	set(params)
	u.RawQuery = params.Encode()
	cred := report.Credentials{Username: q.o.Username, Password: q.o.Password, Bearer: q.o.Bearer}
	fail := func(err error) ([]sample, error) {
		return nil, fmt.Errorf("querying the Prometheus API at %s (%s): %w", q.shown, metric, err)
	}
	resp, err := report.Get(ctx, q.o.Transport, u.String(), cred, q.o.MaxAnswerBytes)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fail(report.ReadStatusError(resp))
	}
	kept := q.kept
	if kept == nil {
		kept = keptLabels
	}
	var vec []sample
	if endpoint == "query" {
		vec, err = decodeAnswer(resp.Body, "vector", kept, q.o.MaxSeries, 0)
	} else {
		vec, err = decodeAnswer(resp.Body, "matrix", kept, q.o.MaxSeries, q.o.MaxPoints)
	}
	if err != nil {
		return fail(err)
	}
	sortSamples(vec)
	return vec, nil
}

// sortSamples puts an answer in the order of its kept labels: stores
// return series in orders of their own (Thanos merges its stores'), and a
// sum of floats depends on its order, so without this two stores holding
// the same samples give reports that differ in their last digits.
func sortSamples(vec []sample) {
	keys := make([]string, len(vec))
	idx := make([]int, len(vec))
	var b strings.Builder
	for i := range vec {
		b.Reset()
		for _, k := range slices.Sorted(maps.Keys(vec[i].labels)) {
			b.WriteString(k)
			b.WriteByte(0)
			b.WriteString(vec[i].labels[k])
			b.WriteByte(0)
		}
		keys[i], idx[i] = b.String(), i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	sorted := make([]sample, len(vec))
	for i, j := range idx {
		sorted[i] = vec[j]
	}
	copy(vec, sorted)
}
