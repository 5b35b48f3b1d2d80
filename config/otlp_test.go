package config

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateOTLP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*OTLPConfig)
		field  string // "" means valid
		msg    string
	}{
		{"grpc endpoint", func(o *OTLPConfig) { o.Endpoint = "http://otel-collector:4317" }, "", ""},
		{"https http endpoint", func(o *OTLPConfig) { o.Endpoint, o.Protocol = "https://c.example.com:4318/otlp", OTLPProtocolHTTP }, "", ""},
		{"headers", func(o *OTLPConfig) { o.Headers = "api-key=abc%3D%3D, tenant=a" }, "", ""},
		{"no scheme", func(o *OTLPConfig) { o.Endpoint = "collector:4317" }, "otlp.endpoint", "http:// or https://"},
		{"no host", func(o *OTLPConfig) { o.Endpoint = "http://" }, "otlp.endpoint", "must name a host"},
		{"protocol", func(o *OTLPConfig) { o.Protocol = "http/json" }, "otlp.protocol", "grpc, http/protobuf"},
		{"bad header", func(o *OTLPConfig) { o.Headers = "novalue" }, "otlp.headers", "not key=value"},
		{"bad escape", func(o *OTLPConfig) { o.Headers = "k=%zz" }, "otlp.headers", "value of \"k\""},
		{"interval", func(o *OTLPConfig) { o.Interval = 0 }, "otlp.interval", "positive"},
		{"timeout above interval", func(o *OTLPConfig) { o.Timeout = 2 * o.Interval }, "otlp.timeout", "not be longer"},
		{"cert without key", func(o *OTLPConfig) { o.CertFile = "/etc/tls/c.pem" }, "otlp.cert_file", "together"},
		{"relative ca", func(o *OTLPConfig) { o.CAFile = "ca.pem" }, "otlp.ca_file", "absolute"},
	} {
		c := Default()
		tc.mutate(&c.OTLP)
		err := c.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("%s: got %v, want %s: ...%s...", tc.name, err, tc.field, tc.msg)
		}
	}
}

func TestParseOTLPHeaders(t *testing.T) {
	h, err := ParseOTLPHeaders(" api-key = abc%3D%3D ,tenant=a%20b,")
	if err != nil || len(h) != 2 || h["api-key"] != "abc==" || h["tenant"] != "a b" {
		t.Fatalf("got %v %v", h, err)
	}
}

// FLEETSCOPE_OTLP_* variables override the file like every other key.
func TestOTLPFromEnvironment(t *testing.T) {
	c, err := Load("", []string{"FLEETSCOPE_OTLP_ENDPOINT=http://c:4318", "FLEETSCOPE_OTLP_PROTOCOL=http/protobuf", "FLEETSCOPE_OTLP_INTERVAL=30s", "FLEETSCOPE_OTLP_HEADERS=a=1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.OTLP.Endpoint != "http://c:4318" || c.OTLP.Protocol != OTLPProtocolHTTP || c.OTLP.Interval.Seconds() != 30 || c.OTLP.Headers != "a=1" {
		t.Fatalf("OTLP = %+v", c.OTLP)
	}
}

// The OTLP exporter specification: the default protocol SHOULD be
// http/protobuf, whose port (4318) the chart's and README's examples use.
func TestOTLPDefaultProtocolIsHTTP(t *testing.T) {
	if p := Default().OTLP.Protocol; p != OTLPProtocolHTTP {
		t.Fatalf("default otlp.protocol = %q, want %q", p, OTLPProtocolHTTP)
	}
}

func TestOTLPPortMismatch(t *testing.T) {
	for _, tc := range []struct {
		endpoint, protocol string
		want               string // "" means no warning
	}{
		{"http://c:4318", OTLPProtocolHTTP, ""},
		{"http://c:4317", OTLPProtocolGRPC, ""},
		{"http://c:4317", OTLPProtocolHTTP, "port 4317 is OTLP/gRPC's"},
		{"https://c:4318/otlp", OTLPProtocolGRPC, "port 4318 is OTLP/HTTP's"},
		{"c:4318", OTLPProtocolGRPC, "port 4318 is OTLP/HTTP's"},
		{"http://c:9090/api/v1/otlp", OTLPProtocolHTTP, ""},
		{"http://c", OTLPProtocolGRPC, ""},
		{"", OTLPProtocolGRPC, ""},
	} {
		got := OTLPPortMismatch(tc.endpoint, tc.protocol)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("OTLPPortMismatch(%q, %q) = %q, want ...%s...", tc.endpoint, tc.protocol, got, tc.want)
		}
	}
}
