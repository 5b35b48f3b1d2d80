package otlp

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/fleetscope/fleetscope/config"
)

// A port of the other protocol fails every export with an error that does
// not say why (an HTTP/2 preface error, a 404): New warns once, whichever
// of the file and the environment named the endpoint and the protocol.
func TestPortProtocolMismatchWarnsOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		endpoint string
		env      map[string]string
		warn     bool
	}{
		{"default protocol, HTTP port", "http://c:4318", nil, false},
		{"default protocol, gRPC port", "http://c:4317", nil, true},
		{"env gRPC protocol, HTTP port", "http://c:4318", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true},
		{"env endpoint wins", "http://c:4318", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4317"}, true},
		{"env gRPC protocol and port", "", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			cfg := config.Default().OTLP
			cfg.Endpoint = tc.endpoint
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			e, err := New(context.Background(), cfg, &fixed{fixture()}, Options{Log: log, LookupEnv: lookup})
			if err != nil || e == nil {
				t.Fatalf("New: %v %v", e, err)
			}
			// New's gRPC client owns goroutines until shut down.
			defer e.exp.Shutdown(context.Background())
			if n := strings.Count(buf.String(), "disagree"); n != map[bool]int{true: 1, false: 0}[tc.warn] {
				t.Fatalf("warnings = %d, want warn=%v; log:\n%s", n, tc.warn, buf.String())
			}
		})
	}
}

// In a DaemonSet the pod's hostname is the pod's name: host.name and
// service.instance.id are the node's name whenever it is known, so that a
// collector, and Prometheus' instance label, show nodes by name.
func TestResourceNodeIdentity(t *testing.T) {
	for _, tc := range []struct {
		node, host string
		want       string
	}{
		{"node-a", "fleetscope-x7k2p", "node-a"},
		{"", "build-host", "build-host"},
	} {
		res, err := newResource(context.Background(), Options{Version: "1", NodeName: tc.node, HostName: tc.host})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, kv := range res.Attributes() {
			got[string(kv.Key)] = kv.Value.String()
		}
		if got["host.name"] != tc.want || got["service.instance.id"] != tc.want {
			t.Errorf("node %q host %q: host.name %q service.instance.id %q, want %q", tc.node, tc.host, got["host.name"], got["service.instance.id"], tc.want)
		}
		if tc.node != "" && got["k8s.node.name"] != tc.node {
			t.Errorf("k8s.node.name %q, want %q", got["k8s.node.name"], tc.node)
		}
	}
}
