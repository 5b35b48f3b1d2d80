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
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	prommodel "github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/exporters/schema"
	"github.com/fleetscope/fleetscope/report"
)

// ErrNoData says the store answered but holds no Fleetscope series.
var ErrNoData = errors.New("no Fleetscope series")

// maxResponseBytes bounds what one query's answer may make us hold: a
// store, or whatever answers at its URL, may be hostile.
const maxResponseBytes = 256 << 20

// hoursPerMonth turns hourly money into monthly (365 × 24 / 12), as the
// analysis does.
const hoursPerMonth = 730

// Options say which store to ask and how.
type Options struct {
	// URL is the store's base URL (http://prometheus:9090, or a Thanos
	// Query, Mimir or VictoriaMetrics select path prefix).
	URL string
	// Username and Password, when set, are sent as basic auth; Bearer as a
	// bearer token. They never appear in errors.
	Username, Password, Bearer string
	// Timeout bounds each query; zero means 30 s.
	Timeout time.Duration
	// Transport is the HTTP transport; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Currency labels the money where the series carry no currency label
	// (agents before they had one); PriceSource describes the prices.
	Currency, PriceSource string
}

// nodeLabels are tried in order for the node a series comes from: the
// chart's ServiceMonitor and annotation scraping add "node"; an OpenTelemetry
// Collector's resource-to-label translation gives k8s_node_name; a plain
// scrape has only its instance.
var nodeLabels = []prommodel.LabelName{"node", "k8s_node_name", "instance"}

// Reports reads every node's containers from the store.
func Reports(ctx context.Context, o Options) ([]report.Report, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	rt := o.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	client, err := api.NewClient(api.Config{Address: o.URL, RoundTripper: &authTransport{next: rt, o: o}})
	if err != nil {
		return nil, fmt.Errorf("the Prometheus API URL %s: %w", o.URL, err)
	}
	q := &querier{api: v1.NewAPI(client), url: o.URL, timeout: o.Timeout, now: time.Now()}

	info, err := q.vector(ctx, schema.ContainerInfo.PromName())
	if err != nil {
		return nil, err
	}
	if len(info) == 0 {
		return nil, fmt.Errorf("%s: %w (%s is empty: are the agents scraped, or their OTLP data translated to Prometheus names?)", o.URL, ErrNoData, schema.ContainerInfo.PromName())
	}
	type key struct{ node, id string }
	byNode := map[string]*report.Report{}
	for _, s := range info {
		l := s.Metric
		node := nodeOf(l)
		r := byNode[node]
		if r == nil {
			r = &report.Report{Node: node, Time: s.Timestamp.Time(), Currency: o.Currency, PriceSource: o.PriceSource}
			byNode[node] = r
		}
		c := report.Container{
			ID: string(l["container_id"]), Namespace: string(l["containerd_namespace"]), Name: string(l["container_name"]),
			PodName: string(l["k8s_pod_name"]), PodNamespace: string(l["k8s_namespace_name"]), Image: string(l["container_image_name"]),
			Sandbox: l["fleetscope_pod_sandbox"] == "true", GPU: l["fleetscope_gpu"] == "true", Running: true,
			WorkloadKind: string(l["k8s_workload_kind"]), WorkloadName: string(l["k8s_workload_name"]), Node: node,
		}
		r.Containers = append(r.Containers, c)
	}
	// Pointers into the slices are stable once every append is done.
	index := map[key]*report.Container{}
	for _, r := range byNode {
		for i := range r.Containers {
			c := &r.Containers[i]
			index[key{c.Node, c.ID}] = c
		}
	}
	analysisOf := func(s *prommodel.Sample) *report.Analysis {
		c := index[key{nodeOf(s.Metric), string(s.Metric["container_id"])}]
		if c == nil {
			return nil
		}
		if c.Analysis == nil {
			c.Analysis = &report.Analysis{IdleRatio: map[string]float64{}, Reasons: []report.Reason{}, Blockers: []report.Reason{}}
		}
		return c.Analysis
	}

	fields := []struct {
		m   *schema.Metric
		set func(a *report.Analysis, s *prommodel.Sample, v float64)
	}{
		{&schema.ServerlessFit, func(a *report.Analysis, _ *prommodel.Sample, v float64) { a.Score = int(math.Round(v * 100)) }},
		{&schema.ServerlessVerdict, func(a *report.Analysis, s *prommodel.Sample, _ float64) {
			a.Verdict, a.Platform = string(s.Metric["verdict"]), string(s.Metric["platform"])
		}},
		{&schema.Cost, func(a *report.Analysis, _ *prommodel.Sample, v float64) {
			a.CurrentMonthlyCost = monthly(&schema.Cost, v)
			a.CostPerHour = a.CurrentMonthlyCost / hoursPerMonth
		}},
		{&schema.IdleCost, func(a *report.Analysis, _ *prommodel.Sample, v float64) {
			a.IdleCostPerMonth = monthly(&schema.IdleCost, v)
			a.IdleCostPerHour = a.IdleCostPerMonth / hoursPerMonth
		}},
		{&schema.OverReservationCost, func(a *report.Analysis, _ *prommodel.Sample, v float64) {
			a.OverReservedPerMon = monthly(&schema.OverReservationCost, v)
		}},
		{&schema.ServerlessCost, func(a *report.Analysis, _ *prommodel.Sample, v float64) {
			a.ServerlessMonthly = monthly(&schema.ServerlessCost, v)
		}},
		{&schema.ServerlessSavings, func(a *report.Analysis, _ *prommodel.Sample, v float64) {
			a.SavingsPerMonth = monthly(&schema.ServerlessSavings, v)
		}},
		{&schema.IdleRatio, func(a *report.Analysis, s *prommodel.Sample, v float64) { a.IdleRatio[string(s.Metric["window"])] = v }},
		{&schema.ObservedTime, func(a *report.Analysis, _ *prommodel.Sample, v float64) { a.ObservedSeconds = v }},
		{&schema.ServerlessReason, func(a *report.Analysis, s *prommodel.Sample, _ float64) {
			r := report.Reason{Code: string(s.Metric["code"]), Text: string(s.Metric["code"])}
			if s.Metric["kind"] == "blocker" {
				a.Blockers = append(a.Blockers, r)
			} else {
				a.Reasons = append(a.Reasons, r)
			}
		}},
	}
	for _, f := range fields {
		vec, err := q.vector(ctx, f.m.PromName())
		if err != nil {
			return nil, err
		}
		for _, s := range vec {
			if a := analysisOf(s); a != nil {
				f.set(a, s, float64(s.Value))
			}
			// The agents say which currency their price sheet is in.
			if cur := s.Metric["currency"]; f.m == &schema.Cost && cur != "" {
				if r := byNode[nodeOf(s.Metric)]; r != nil {
					r.Currency = string(cur)
				}
			}
		}
	}
	if err := q.runs(ctx, byNode, o); err != nil {
		return nil, err
	}
	out := make([]report.Report, 0, len(byNode))
	for _, r := range byNode {
		out = append(out, *r)
	}
	return out, nil
}

// runs reads the Jobs' and CronJobs' runs into each node's report.
func (q *querier) runs(ctx context.Context, byNode map[string]*report.Report, o Options) error {
	type key struct{ node, ns, kind, name string }
	runs := map[key]*report.Runs{}
	get := func(s *prommodel.Sample) *report.Runs {
		l := s.Metric
		k := key{nodeOf(l), string(l["k8s_namespace_name"]), string(l["k8s_workload_kind"]), string(l["k8s_workload_name"])}
		r := runs[k]
		if r == nil {
			r = &report.Runs{Namespace: k.ns, Kind: k.kind, Name: k.name, Node: k.node}
			runs[k] = r
		}
		return r
	}
	for _, f := range []struct {
		m   *schema.Metric
		set func(r *report.Runs, s *prommodel.Sample, v float64)
	}{
		{&schema.WorkloadRuns, func(r *report.Runs, _ *prommodel.Sample, v float64) { r.Count = int(v) }},
		{&schema.WorkloadRunsWindow, func(r *report.Runs, _ *prommodel.Sample, v float64) { r.WindowSeconds = v }},
		{&schema.WorkloadRunDuration, func(r *report.Runs, s *prommodel.Sample, v float64) {
			switch s.Metric["statistic"] {
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
		{&schema.WorkloadRunsCost, func(r *report.Runs, _ *prommodel.Sample, v float64) {
			r.CostPerMonth = monthly(&schema.WorkloadRunsCost, v)
		}},
		{&schema.WorkloadServerlessCost, func(r *report.Runs, _ *prommodel.Sample, v float64) {
			r.ServerlessPerMonth = monthly(&schema.WorkloadServerlessCost, v)
		}},
		{&schema.WorkloadVerdict, func(r *report.Runs, s *prommodel.Sample, _ float64) {
			r.Verdict, r.Platform = string(s.Metric["verdict"]), string(s.Metric["platform"])
		}},
	} {
		vec, err := q.vectorOf(ctx, f.m.PromName()+`{k8s_workload_name!=""}`, f.m.PromName())
		if err != nil {
			return err
		}
		for _, s := range vec {
			f.set(get(s), s, float64(s.Value))
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
		return v * hoursPerMonth
	}
	return v
}

func nodeOf(l prommodel.Metric) string {
	for _, n := range nodeLabels {
		if v := l[n]; v != "" {
			return string(v)
		}
	}
	return ""
}

type querier struct {
	api     v1.API
	url     string
	timeout time.Duration
	now     time.Time
}

// vector runs an instant query for one metric's latest samples. Series of
// Fleetscope only: the selector requires its identity label, so that
// same-named series of other exporters (cAdvisor's container_* among them)
// are never mixed in.
func (q *querier) vector(ctx context.Context, metric string) (prommodel.Vector, error) {
	return q.vectorOf(ctx, metric+`{container_id!=""}`, metric)
}

// vectorOf runs the instant query expr, which reads metric.
func (q *querier) vectorOf(ctx context.Context, expr, metric string) (prommodel.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, q.timeout)
	defer cancel()
	v, _, _, err := q.api.Query(ctx, expr, q.now)
	if err != nil {
		return nil, fmt.Errorf("querying the Prometheus API at %s (%s): %w", q.url, metric, err)
	}
	vec, ok := v.(prommodel.Vector)
	if !ok {
		return nil, fmt.Errorf("the Prometheus API at %s answered %s with a %s, not a vector", q.url, metric, v.Type())
	}
	return vec, nil
}

// authTransport adds credentials and bounds the answer's size.
type authTransport struct {
	next http.RoundTripper
	o    Options
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	switch {
	case t.o.Bearer != "":
		req.Header.Set("Authorization", "Bearer "+t.o.Bearer)
	case t.o.Username != "" || t.o.Password != "":
		req.SetBasicAuth(t.o.Username, t.o.Password)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = limitedBody{io.LimitReader(resp.Body, maxResponseBytes), resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}
