package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/config"
)

// statsTransport asks the store for each query's statistics and adds up
// the samples it read (Prometheus' totalQueryableSamples).
type statsTransport struct {
	samples, queries atomic.Int64
}

func (s *statsTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	q := r.URL.Query()
	q.Set("stats", "all")
	r.URL.RawQuery = q.Encode()
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var st struct {
		Data struct {
			Stats struct {
				Samples struct {
					TotalQueryableSamples int64 `json:"totalQueryableSamples"`
				} `json:"samples"`
			} `json:"stats"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &st) == nil {
		s.samples.Add(st.Data.Stats.Samples.TotalQueryableSamples)
	}
	s.queries.Add(1)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// deployments is a week of n Deployments of replicas pods each, spread
// over the nodes, every pod alive all week.
func deployments(n, replicas int) []*weekContainer {
	var out []*weekContainer
	for d := range n {
		for range replicas {
			i := len(out) + 1
			out = append(out, &weekContainer{
				id: fmt.Sprintf("%016x", i), pod: fmt.Sprintf("svc-%03d-5d8c-%05x", d, i), node: fmt.Sprintf("node-%d", i%weekNodes),
				kind: "Deployment", name: fmt.Sprintf("svc-%03d", d), cname: "app", start: 0, end: weekMinutes,
				cpuLimit: 1, memLimit: 512 << 20,
				load: func(m int) (bool, float64, uint64) {
					if (m/60+d)%24 < 8 {
						return true, 0.2, 200 << 20
					}
					return false, 0.001, 100 << 20
				},
			})
		}
	}
	return out
}

// BenchmarkWindowReport1000 is the 7-day fleet report over 1,000
// containers (250 Deployments of 4 replicas on 3 nodes) in a real
// Prometheus: its time, the queries it sends and the samples the store
// reads for them. The week is written with a sample every 10 minutes (the
// histograms every 30), so a store scraping every 30 s reads about 20
// times the counters' and gauges' samples for the same answer.
func BenchmarkWindowReport1000(b *testing.B) {
	url := startStore(b, deployments(250, 4), scrapes{gauges: 10, counters: 10, hists: 30})
	stats := &statsTransport{}
	o := Options{URL: url, At: weekEnd, Transport: stats}
	cfg := config.Default().Analysis
	b.ResetTimer()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		wr, err := Workloads(ctx, o, 7*24*time.Hour, cfg)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if len(wr.Workloads) != 250 {
			b.Fatalf("%d workloads, want 250", len(wr.Workloads))
		}
	}
	b.ReportMetric(float64(stats.samples.Load())/float64(b.N), "samples/op")
	b.ReportMetric(float64(stats.queries.Load())/float64(b.N), "queries/op")
}
