// Package otlptest is an in-process OTLP metrics receiver for tests: the
// collector's gRPC service and its HTTP/protobuf endpoint on loopback,
// keeping every request for inspection.
package otlptest

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Receiver collects the export requests it is sent.
type Receiver struct {
	colmetricpb.UnimplementedMetricsServiceServer

	// Addr is host:port; URL is the base URL to configure an exporter
	// with (http://Addr).
	Addr, URL string

	mu       sync.Mutex
	requests []*colmetricpb.ExportMetricsServiceRequest
	headers  []map[string]string
	stop     func()
}

// StartGRPC serves the OTLP gRPC metrics service on addr ("" picks a free
// loopback port) until Stop or the end of the test.
func StartGRPC(t testing.TB, addr string) *Receiver {
	t.Helper()
	l := listen(t, addr)
	r := &Receiver{Addr: l.Addr().String(), URL: "http://" + l.Addr().String()}
	s := grpc.NewServer()
	colmetricpb.RegisterMetricsServiceServer(s, r)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	r.stop = func() { s.Stop(); <-done }
	t.Cleanup(r.Stop)
	return r
}

// StartHTTP serves OTLP/HTTP with protobuf bodies at /v1/metrics on addr
// ("" picks a free loopback port) until Stop or the end of the test.
func StartHTTP(t testing.TB, addr string) *Receiver {
	t.Helper()
	l := listen(t, addr)
	r := &Receiver{Addr: l.Addr().String(), URL: "http://" + l.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/metrics", r.serveHTTP)
	s := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	r.stop = func() { s.Close(); <-done }
	t.Cleanup(r.Stop)
	return r
}

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("OTLP receiver: %v", err)
	}
	return l
}

// Stop stops serving; it is safe to call more than once.
func (r *Receiver) Stop() {
	r.mu.Lock()
	stop := r.stop
	r.stop = nil
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Export implements the gRPC metrics service.
func (r *Receiver) Export(ctx context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	h := map[string]string{}
	if md, ok := metadataFrom(ctx); ok {
		h = md
	}
	r.add(req, h)
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = z
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var m colmetricpb.ExportMetricsServiceRequest
	if err := proto.Unmarshal(data, &m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h := map[string]string{}
	for k := range req.Header {
		h[strings.ToLower(k)] = req.Header.Get(k)
	}
	r.add(&m, h)
	out, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (r *Receiver) add(req *colmetricpb.ExportMetricsServiceRequest, headers map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req)
	r.headers = append(r.headers, headers)
}

// Requests returns the number of export requests received.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// Header returns a header (lower-case name) of the latest request.
func (r *Receiver) Header(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.headers) == 0 {
		return ""
	}
	return r.headers[len(r.headers)-1][name]
}

// Point is one data point of a received metric, flattened.
type Point struct {
	Resource map[string]string
	Scope    string
	Name     string
	Unit     string
	// Kind is "gauge" or "sum"; Monotonic and Cumulative describe sums.
	Kind                  string
	Monotonic, Cumulative bool
	Attributes            map[string]string
	Value                 float64
	Time                  time.Time
}

// Key identifies a point's series: its name and sorted attributes.
func (p Point) Key() string {
	keys := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(p.Name)
	for _, k := range keys {
		b.WriteString("|" + k + "=" + p.Attributes[k])
	}
	return b.String()
}

// Latest returns the points of the latest request, or nil if none came.
func (r *Receiver) Latest() []Point {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.requests) == 0 {
		return nil
	}
	return Flatten(r.requests[len(r.requests)-1])
}

// ErrNoRequest is returned by Wait when nothing arrived in time.
var ErrNoRequest = errors.New("no OTLP request received")

// WaitFor waits until at least n requests have arrived.
func (r *Receiver) WaitFor(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for r.Requests() < n {
		if time.Now().After(deadline) {
			return ErrNoRequest
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// Flatten lists every number data point of req.
func Flatten(req *colmetricpb.ExportMetricsServiceRequest) []Point {
	var out []Point
	for _, rm := range req.ResourceMetrics {
		res := attrMap(rm.GetResource().GetAttributes())
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				base := Point{Resource: res, Scope: sm.GetScope().GetName(), Name: m.Name, Unit: m.Unit}
				var dps []*metricpb.NumberDataPoint
				switch d := m.Data.(type) {
				case *metricpb.Metric_Gauge:
					base.Kind, dps = "gauge", d.Gauge.DataPoints
				case *metricpb.Metric_Sum:
					base.Kind, dps = "sum", d.Sum.DataPoints
					base.Monotonic = d.Sum.IsMonotonic
					base.Cumulative = d.Sum.AggregationTemporality == metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
				default:
					continue
				}
				for _, dp := range dps {
					p := base
					p.Attributes = attrMap(dp.Attributes)
					p.Time = time.Unix(0, int64(dp.TimeUnixNano))
					switch v := dp.Value.(type) {
					case *metricpb.NumberDataPoint_AsDouble:
						p.Value = v.AsDouble
					case *metricpb.NumberDataPoint_AsInt:
						p.Value = float64(v.AsInt)
					}
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.GetValue().GetStringValue()
	}
	return m
}
