package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OTLPConfig configures the OpenTelemetry (OTLP) metrics exporter. The
// standard OTEL_EXPORTER_OTLP_* environment variables apply as well and take
// precedence over these keys, as FLEETSCOPE_* variables do over the file.
// The exporter is off unless an endpoint is set here or in the environment.
type OTLPConfig struct {
	// Endpoint is the collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT:
	// "http://collector:4317" for gRPC, "http://collector:4318" for
	// HTTP, where /v1/metrics is appended to the path. The scheme
	// http means plaintext, https TLS. Empty disables the exporter
	// unless the environment names an endpoint.
	Endpoint string `yaml:"endpoint"`
	// Protocol is "http/protobuf" (the default, as the OTLP exporter
	// specification recommends) or "grpc".
	Protocol string `yaml:"protocol"`
	// Insecure sends plaintext even to an https endpoint.
	Insecure bool `yaml:"insecure"`
	// Headers are sent with every export, in the format of
	// OTEL_EXPORTER_OTLP_HEADERS: "key1=value1,key2=value2", values
	// URL-encoded.
	Headers string `yaml:"headers"`
	// Interval is the export period, independent of the sample interval:
	// each export carries the latest sample.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one export, retries included.
	Timeout time.Duration `yaml:"timeout"`
	// CAFile verifies the collector's certificate; CertFile and KeyFile
	// are the client certificate for mutual TLS.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// OTLP protocols, as OTEL_EXPORTER_OTLP_PROTOCOL spells them.
const (
	OTLPProtocolGRPC = "grpc"
	OTLPProtocolHTTP = "http/protobuf"
)

var otlpProtocols = []string{OTLPProtocolGRPC, OTLPProtocolHTTP}

func defaultOTLP() OTLPConfig {
	return OTLPConfig{
		// The OTLP exporter specification: the default SHOULD be
		// http/protobuf. The chart's and README's examples use port 4318.
		Protocol: OTLPProtocolHTTP,
		Interval: time.Minute,
		Timeout:  10 * time.Second,
	}
}

// ParseOTLPHeaders parses headers in the OTEL_EXPORTER_OTLP_HEADERS format:
// comma-separated key=value pairs whose values are URL-encoded. Its errors
// name the pair by position and the header by name, never quoting a value:
// header values are credentials.
func ParseOTLPHeaders(s string) (map[string]string, error) {
	h := map[string]string{}
	i := 0
	for pair := range strings.SplitSeq(s, ",") {
		i++
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("item %d is not key=value", i)
		}
		// A name that is not an HTTP token may hold a credential put in
		// the wrong place ("Bearer s3cr3t=…"): it is not quoted either.
		if !isToken(k) {
			return nil, fmt.Errorf("item %d: the header name is not a valid HTTP token", i)
		}
		// PathUnescape's error quotes the bad escape, part of the value.
		val, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("value of %q is not URL-encoded (a %% must start a %%XX escape)", k)
		}
		h[k] = val
	}
	return h, nil
}

// isToken reports whether s is an HTTP token (RFC 9110), as header names
// must be.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return s != ""
}

// OTLP's well-known ports (IANA): 4317 for gRPC, 4318 for HTTP.
const (
	OTLPPortGRPC = "4317"
	OTLPPortHTTP = "4318"
)

// OTLPPortMismatch describes an endpoint whose port is the other protocol's
// well-known one (4317 with http/protobuf, 4318 with grpc), which almost
// always means a copied example and fails every export (an HTTP/2 preface
// error, or a 4xx). It returns "" when they agree or the port is another
// one: a collector may listen anywhere.
func OTLPPortMismatch(endpoint, protocol string) string {
	port := endpointPort(endpoint)
	switch {
	case port == OTLPPortGRPC && protocol == OTLPProtocolHTTP:
		return fmt.Sprintf("port %s is OTLP/gRPC's but the protocol is %s (whose port is %s); set the protocol to %s or the port to %s", port, protocol, OTLPPortHTTP, OTLPProtocolGRPC, OTLPPortHTTP)
	case port == OTLPPortHTTP && protocol == OTLPProtocolGRPC:
		return fmt.Sprintf("port %s is OTLP/HTTP's but the protocol is %s (whose port is %s); set the protocol to %s or the port to %s", port, protocol, OTLPPortGRPC, OTLPProtocolHTTP, OTLPPortGRPC)
	}
	return ""
}

// endpointPort is the port of an endpoint URL, or of a bare host:port as
// some gRPC examples write it; "" when there is none.
func endpointPort(endpoint string) string {
	endpoint = strings.TrimSpace(endpoint)
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		return u.Port()
	}
	if _, port, err := net.SplitHostPort(endpoint); err == nil {
		return port
	}
	return ""
}

func (c Config) validateOTLP(v *validator) {
	o := c.OTLP
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		shown := RedactURL(o.Endpoint)
		switch {
		case err != nil:
			v.add("otlp.endpoint", "must be a URL, got %q", shown)
		case u.Scheme != "http" && u.Scheme != "https":
			v.add("otlp.endpoint", "must be an http:// or https:// URL, got %q", shown)
		case u.Host == "":
			v.add("otlp.endpoint", "must name a host, got %q", shown)
		}
	}
	if !slices.Contains(otlpProtocols, o.Protocol) {
		v.add("otlp.protocol", "must be one of %s, got %q", strings.Join(otlpProtocols, ", "), o.Protocol)
	}
	if _, err := ParseOTLPHeaders(o.Headers); err != nil {
		v.add("otlp.headers", "%v", err)
	}
	v.positive("otlp.interval", o.Interval)
	v.positive("otlp.timeout", o.Timeout)
	if o.Timeout > 0 && o.Interval > 0 && o.Timeout > o.Interval {
		v.add("otlp.timeout", "must not be longer than otlp.interval (%s), got %q", o.Interval, o.Timeout)
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		v.add("otlp.cert_file", "otlp.cert_file and otlp.key_file must be set together")
	}
	for _, f := range []struct{ field, path string }{{"otlp.ca_file", o.CAFile}, {"otlp.cert_file", o.CertFile}, {"otlp.key_file", o.KeyFile}} {
		if f.path != "" {
			v.absPath(f.field, f.path)
		}
	}
}
