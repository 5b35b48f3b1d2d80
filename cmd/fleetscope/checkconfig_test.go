package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clearFleetscopeEnv unsets the FLEETSCOPE_* variables of the test run
// (FLEETSCOPE_INTEGRATION and the like), which the configuration loader
// would reject as unknown settings, for the rest of the test.
func clearFleetscopeEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "FLEETSCOPE_") {
			t.Setenv(k, "") // restores the value after the test
			os.Unsetenv(k)
		}
	}
}

// check-config --print shows the effective configuration without the
// credentials it holds, and so does its report of an invalid file.
func TestCheckConfigPrintRedactsSecrets(t *testing.T) {
	clearFleetscopeEnv(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	for path, text := range map[string]string{
		good: "otlp:\n  endpoint: https://fleet:pa55w0rd@collector:4318\n  protocol: http/protobuf\n  headers: Authorization=Bearer%20s3cr3t\n",
		bad:  "otlp:\n  endpoint: ftp://fleet:pa55w0rd@collector:4318\n  headers: Bearer s3cr3t\n",
	} {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		path string
		code int
	}{{good, 0}, {bad, exitInvalid}} {
		var stdout, stderr bytes.Buffer
		if code := cmdCheckConfig([]string{"--print", tc.path}, &stdout, &stderr); code != tc.code {
			t.Fatalf("check-config --print %s = %d, want %d; stderr:\n%s", tc.path, code, tc.code, stderr.String())
		}
		out := stdout.String() + stderr.String()
		for _, s := range []string{"pa55w0rd", "fleet:", "s3cr3t"} {
			if strings.Contains(out, s) {
				t.Errorf("check-config --print %s shows %q:\n%s", filepath.Base(tc.path), s, out)
			}
		}
		if tc.code == 0 && !strings.Contains(out, "REDACTED@collector:4318") {
			t.Errorf("printed configuration lost the endpoint's host:\n%s", out)
		}
	}
}

// An unknown key is reported together with every other problem, in one run.
func TestCheckConfigReportsEverything(t *testing.T) {
	clearFleetscopeEnv(t)
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("sampling:\n  intervall: 10s\n  jitter: 3\nweb:\n  listen_address: nowhere\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := cmdCheckConfig([]string{path}, &stdout, &stderr); code != exitInvalid {
		t.Fatalf("exit %d, want %d", code, exitInvalid)
	}
	for _, want := range []string{"intervall", "sampling.jitter", "web.listen_address"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, stderr.String())
		}
	}
}

// report --local without containerd says so within seconds and fails,
// instead of sampling nothing for the whole duration.
func TestLocalReportWithoutContainerd(t *testing.T) {
	clearFleetscopeEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	sock := filepath.Join(dir, "no", "containerd.sock")
	if err := os.WriteFile(cfg, []byte("containerd:\n  socket: "+sock+"\n  reconnect_max_backoff: 1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := cmdReport([]string{"--local", "--duration", "2m", "--config", cfg}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), sock) || !strings.Contains(stderr.String(), "could not be reached") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("took %v to notice", took)
	}
	if stdout.Len() != 0 {
		t.Errorf("printed a report anyway:\n%s", stdout.String())
	}
}

// check-config reads the serverless price table the configuration names:
// a table in another currency, or one with no row in the regions asked
// for, is refused, naming the setting and the file.
func TestCheckConfigReadsTheServerlessTable(t *testing.T) {
	clearFleetscopeEnv(t)
	dir := t.TempDir()
	table := filepath.Join(dir, "serverless.csv")
	if err := os.WriteFile(table, []byte("platform,kind,provider,region,tier,arch,max_duration,max_memory_mib,max_vcpus,vcpu_step,memory_mib_per_vcpu,"+
		"min_memory_mib,memory_step_mib,price_per_vcpu_second,price_per_gib_second,price_per_million_requests,price_per_gpu_second,currency,source,date\n"+
		"fn,function,x,eu-1,,x86_64,15m,1024,2,0,1769,128,1,0,0.00001,0.2,,EUR,a price list,2026-11\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"analysis:\n  serverless:\n    table_file: " + table + "\n    regions: [eu-1]\n    architectures: [x86_64]\n", "EUR, not USD"},
		{"analysis:\n  serverless:\n    table_file: " + table + "\n    regions: [us-1]\n    architectures: [x86_64]\n", "no row in regions us-1"},
		{"analysis:\n  serverless:\n    regions: [eu-1]\n    architectures: [sparc]\n", "analysis.serverless.architectures"},
	} {
		path := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		if code := cmdCheckConfig([]string{path}, &stdout, &stderr); code != exitInvalid || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), exitInvalid, tc.want)
		}
	}
	// Rows in the currency and the regions asked for pass.
	path := filepath.Join(dir, "ok.yaml")
	if err := os.WriteFile(path, []byte("analysis:\n  prices:\n    currency: EUR\n  serverless:\n    table_file: "+table+"\n    regions: [eu-1]\n    architectures: [x86_64]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := cmdCheckConfig([]string{path}, &stdout, &stderr); code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}
