package otlp

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/fleetscope/fleetscope/config"
)

// The "OTLP export enabled" line names the endpoint without its
// credentials.
func TestEnabledLogLineRedactsEndpoint(t *testing.T) {
	var logs bytes.Buffer
	cfg := config.Default().OTLP
	cfg.Endpoint, cfg.Protocol = "http://fleet:pa55w0rd@127.0.0.1:1", config.OTLPProtocolHTTP
	noEnv := func(string) (string, bool) { return "", false }
	e, err := New(context.Background(), cfg, &fixed{fixture()}, Options{
		Version: "9.9.9", NodeName: "n1", HostName: "h1", LookupEnv: noEnv,
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run logs, then shuts down at once.
	e.Run(ctx)
	out := logs.String()
	if !strings.Contains(out, "OTLP export enabled") || !strings.Contains(out, "REDACTED@127.0.0.1:1") {
		t.Errorf("log lacks the redacted endpoint:\n%s", out)
	}
	if strings.Contains(out, "pa55w0rd") || strings.Contains(out, "fleet:") {
		t.Errorf("log shows the endpoint's credentials:\n%s", out)
	}
}
