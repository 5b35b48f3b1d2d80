package otlp

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"go.opentelemetry.io/otel"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/exporters/otlp/otlptest"
)

const headerSecret = "s3cr3t-T0KEN"

// sdkLog captures what the OpenTelemetry SDK logs through its global
// logger (by default, to standard error whatever the agent's settings)
// for the rest of the test.
func sdkLog(t *testing.T) func() string {
	var mu sync.Mutex
	var buf strings.Builder
	otel.SetLogger(funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		buf.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 1}))
	t.Cleanup(func() { otel.SetLogger(funcr.New(func(string, string) {}, funcr.Options{})) })
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
}

// A malformed header variable stops the exporter with an error that names
// the variable and never the value; the SDK, which would log the bad item
// verbatim, never sees it.
func TestMalformedHeaderEnvIsNeverShown(t *testing.T) {
	bad := []string{
		"Authorization Bearer " + headerSecret,         // no '='
		"Authorization=Bearer%zz" + headerSecret,       // a bad escape
		"Bearer " + headerSecret + "=x",                // a value where the name goes
		"a=1," + headerSecret,                          // one bad item among good ones
		"authorization=Bearer%20" + headerSecret + "%", // a cut escape at the end
	}
	for _, name := range headerEnv {
		for _, v := range bad {
			t.Run(name, func(t *testing.T) {
				logged := sdkLog(t)
				var logs bytes.Buffer
				t.Setenv(name, v)
				cfg := config.Default().OTLP
				cfg.Endpoint, cfg.Protocol = "http://127.0.0.1:1", config.OTLPProtocolGRPC
				_, err := New(context.Background(), cfg, &fixed{fixture()}, Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
				if err == nil {
					t.Fatalf("%s=%q accepted", name, v)
				}
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
				for what, text := range map[string]string{"error": err.Error(), "log": logs.String(), "SDK log": logged()} {
					if strings.Contains(text, headerSecret) || strings.Contains(text, "Bearer") {
						t.Errorf("the %s shows the header value: %q", what, text)
					}
				}
			})
		}
	}
}

// Well-formed header variables reach the collector, over both protocols,
// with the metrics-specific one winning; the SDK logs nothing of them and
// the process environment is as it was.
func TestHeaderEnvReachesTheCollector(t *testing.T) {
	for _, proto := range []string{config.OTLPProtocolGRPC, config.OTLPProtocolHTTP} {
		t.Run(strings.ReplaceAll(proto, "/", "_"), func(t *testing.T) {
			logged := sdkLog(t)
			start := otlptest.StartGRPC
			if proto == config.OTLPProtocolHTTP {
				start = otlptest.StartHTTP
			}
			rcv := start(t, "")
			t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20wrong")
			t.Setenv("OTEL_EXPORTER_OTLP_METRICS_HEADERS", " authorization = Bearer%20"+headerSecret+" ,x-tenant=blue")
			cfg := config.Default().OTLP
			cfg.Endpoint, cfg.Protocol, cfg.Timeout = rcv.URL, proto, 5*time.Second
			cfg.Headers = "x-file=ignored"
			var logs bytes.Buffer
			e, err := New(context.Background(), cfg, &fixed{fixture()}, Options{Version: "9.9.9", NodeName: "n1",
				Log: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if v := os.Getenv("OTEL_EXPORTER_OTLP_METRICS_HEADERS"); !strings.Contains(v, headerSecret) {
				t.Fatalf("the environment was not restored: %q", v)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- e.Run(ctx) }()
			fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer fcancel()
			err = e.ForceFlush(fctx)
			cancel()
			<-done // the log is read once Run has ended
			if err != nil {
				t.Fatal(err)
			}
			if h := rcv.Header("authorization"); h != "Bearer "+headerSecret {
				t.Errorf("authorization = %q", h)
			}
			if h, f := rcv.Header("x-tenant"), rcv.Header("x-file"); h != "blue" || f != "" {
				t.Errorf("x-tenant = %q, x-file = %q; want the environment's headers only", h, f)
			}
			if strings.Contains(logs.String(), headerSecret) || strings.Contains(logged(), headerSecret) {
				t.Errorf("a header value was logged:\n%s\n%s", logs.String(), logged())
			}
		})
	}
}

// Even when the environment is read through another lookup (as in tests),
// the SDK is kept from parsing the process's header variables.
func TestSDKNeverParsesHeaderEnv(t *testing.T) {
	logged := sdkLog(t)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization Bearer "+headerSecret)
	cfg := config.Default().OTLP
	cfg.Endpoint = "http://127.0.0.1:1"
	for _, proto := range []string{config.OTLPProtocolGRPC, config.OTLPProtocolHTTP} {
		cfg.Protocol = proto
		noEnv := func(string) (string, bool) { return "", false }
		e, err := New(context.Background(), cfg, &fixed{fixture()}, Options{LookupEnv: noEnv})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // Run shuts the exporter down at once.
		e.Run(ctx)
	}
	if out := logged(); strings.Contains(out, headerSecret) || strings.Contains(out, "parse headers") {
		t.Errorf("the SDK parsed the header variable:\n%s", out)
	}
}
