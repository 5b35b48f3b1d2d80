package main

import (
	"bytes"
	"strings"
	"testing"
)

// Asking a command for help is not an error.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"report", "--help"}, {"report", "-h"}, {"check-config", "--help"}, {"run", "--help"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Errorf("%v: exit %d, want 0\n%s", args, code, errb.String())
		}
		if !strings.Contains(errb.String(), "Usage of "+args[0]) {
			t.Errorf("%v: no usage printed: %q", args, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"report", "--no-such-flag"}, &out, &errb); code != exitInvalid {
		t.Errorf("unknown flag: exit %d, want %d", code, exitInvalid)
	}
}

// "help env" lists the OpenTelemetry variables the agent honours as well
// as its own.
func TestHelpEnvListsOTEL(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"help", "env"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, v := range []string{"FLEETSCOPE_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED", "OTEL_METRIC_EXPORT_INTERVAL"} {
		if !strings.Contains(out.String(), v+"\n") {
			t.Errorf("help env lacks %s", v)
		}
	}
}

// A time --at cannot read is named, quoted safely, before any store is
// asked.
func TestReportAtMustBeATime(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"report", "--prometheus", "http://127.0.0.1:1", "--at", "yesterday\x1b[2J"}, &out, &errb)
	if code != exitInvalid {
		t.Fatalf("exit %d, want %d", code, exitInvalid)
	}
	if msg := errb.String(); !strings.Contains(msg, "--at must be an RFC 3339 time") || strings.Contains(msg, "\x1b") {
		t.Errorf("message %q", msg)
	}
}

// A plan is per workload; a wrong --by, or two sources, is refused before
// anything is asked.
func TestPlanFlagsRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--by", "container"}, `--by must be workload`},
		{[]string{"plan", "--prometheus", "http://127.0.0.1:1", "--local"}, "exclude each other"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != exitInvalid || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, errb.String(), exitInvalid, c.want)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"plan", "--help"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "Usage of plan") {
		t.Errorf("plan --help: exit %d, %q", code, errb.String())
	}
}
