package pricing

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/config"
)

const serverlessHead = "platform,kind,provider,region,tier,arch,max_duration,max_memory_mib,max_vcpus,vcpu_step,memory_mib_per_vcpu,min_memory_mib,memory_step_mib," +
	"price_per_vcpu_second,price_per_gib_second,price_per_million_requests,price_per_gpu_second,currency,source,date\n"

// The built-in table parses, and every row has its source and date.
func TestBuiltInServerlessTable(t *testing.T) {
	tb := BuiltInServerless()
	kinds := map[string]int{}
	for _, r := range tb.Rows {
		p := r.Platform
		kinds[p.Kind]++
		if !strings.Contains(p.Source, "https://") || r.Date == "" || r.Currency != "USD" {
			t.Errorf("%s: source %q, date %q, currency %q", p.Name, p.Source, r.Date, r.Currency)
		}
		if p.Listen != (p.Kind == config.KindContainer) {
			t.Errorf("%s: listen %v for kind %s", p.Name, p.Listen, p.Kind)
		}
	}
	if kinds[config.KindFunction] < 2 || kinds[config.KindContainer] < 4 {
		t.Errorf("kinds %v", kinds)
	}
	lambda := tb.Rows[0].Platform
	if lambda.Name != "aws-lambda/us-east-1/x86_64" || lambda.MaxDuration != 15*time.Minute || lambda.MaxMemoryMiB != 10240 ||
		lambda.PricePerGiBSecond != 0.0000166667 || lambda.PricePerMillionRequests != 0.2 {
		t.Errorf("first row %+v", lambda)
	}
}

// The default configuration picks, in the default regions and on x86_64,
// Lambda first, then the container platforms in the table's order; the
// configured regions and architectures pick others.
func TestPlatformsPicksRows(t *testing.T) {
	a := config.Default().Analysis
	ps, err := Platforms(a, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"aws-lambda/us-east-1/x86_64", "gcp-cloud-run/us-central1/x86_64", "aws-fargate/us-east-1/x86_64", "azure-container-apps/eastus/x86_64"}
	if got := names(ps); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("default platforms %v, want %v", got, want)
	}
	ps, err = Platforms(a, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(ps), " "); got != "aws-lambda/us-east-1/arm64 aws-fargate/us-east-1/arm64" {
		t.Errorf("arm64 node: %s", got)
	}
	a.Serverless.Regions = []string{"europe-west3", "eu-west-1"}
	a.Serverless.Architectures = []string{"x86_64", "arm64"}
	ps, err = Platforms(a, "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(ps), " "); got != "aws-lambda/eu-west-1/x86_64 aws-lambda/eu-west-1/arm64 gcp-cloud-run/europe-west3/x86_64" {
		t.Errorf("europe, both architectures: %s", got)
	}
	if ps[2].PricePerVCPUSecond != 0.0000336 || !strings.Contains(ps[2].Source, "tier 2") {
		t.Errorf("tier 2 row: %+v", ps[2])
	}
	a.Serverless.TableFile = config.TableNone
	if ps, err := Platforms(a, "x86_64"); ps != nil || err != nil {
		t.Errorf("no table: %v, %v", ps, err)
	}
	a.Serverless.TableFile = ""
	a.Serverless.Regions = []string{"mars-north-1"}
	if _, err := Platforms(a, "x86_64"); err == nil || !strings.Contains(err.Error(), "no row in regions mars-north-1") {
		t.Errorf("unknown region: %v", err)
	}
}

func names(ps []config.PlatformConfig) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name)
	}
	return s
}

// A table file's errors name the file, the line and the column; a row in
// another currency than the prices' is refused.
func TestServerlessTableErrors(t *testing.T) {
	row := "fn,function,x,r1,,x86_64,15m,1024,2,0,1769,128,1,0,0.00001,0.2,,USD,src,2026-01\n"
	for _, tc := range []struct{ name, body, want string }{
		{"columns", "platform,kind\n", `column 3 is missing, want "provider"`},
		{"kind", strings.Replace(row, ",function,", ",vm,", 1), `line 2: kind "vm"`},
		{"arch", strings.Replace(row, ",x86_64,", ",riscv,", 1), `line 2: arch "riscv"`},
		{"duration", strings.Replace(row, ",15m,", ",forever,", 1), `line 2: max_duration "forever"`},
		{"memory", strings.Replace(row, ",1024,", ",0,", 1), `line 2: max_memory_mib "0"`},
		{"price", strings.Replace(row, ",0.00001,", ",NaN,", 1), `line 2: price_per_gib_second "NaN"`},
		{"name", strings.Replace(row, "fn,", "f\x1b[2Jn,", 1), "line 2: platform and region"},
		{"twice", row + row, "line 3: fn/r1/x86_64 is listed twice"},
		{"source", strings.Replace(row, ",src,", ",,", 1), "line 2: currency, source and date"},
	} {
		path := filepath.Join(t.TempDir(), "serverless.csv")
		body := serverlessHead + tc.body
		if tc.name == "columns" {
			body = tc.body
		}
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadServerless(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want %q and the path", tc.name, err, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "eur.csv")
	if err := os.WriteFile(path, []byte(serverlessHead+strings.Replace(row, ",USD,", ",EUR,", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	a := config.Default().Analysis
	a.Serverless.TableFile, a.Serverless.Regions = path, []string{"r1"}
	if _, err := Platforms(a, "x86_64"); err == nil || !strings.Contains(err.Error(), "EUR, not USD") || !strings.Contains(err.Error(), "analysis.serverless.table_file") {
		t.Errorf("currency: %v", err)
	}
	a.Serverless.TableFile = filepath.Join(t.TempDir(), "missing.csv")
	if _, err := Platforms(a, "x86_64"); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing file: %v", err)
	}
}

// More rows than a verdict compares is an error, not a silent cut.
func TestServerlessTooManyPlatforms(t *testing.T) {
	var b strings.Builder
	b.WriteString(serverlessHead)
	for i := range config.MaxPlatforms + 1 {
		b.WriteString(strings.Replace("fnN,function,x,r1,,x86_64,15m,1024,2,0,1769,128,1,0,0.00001,0.2,,USD,src,2026-01\n", "N", string(rune('a'+i)), 1))
	}
	path := filepath.Join(t.TempDir(), "many.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	a := config.Default().Analysis
	a.Serverless.TableFile, a.Serverless.Regions = path, []string{"r1"}
	if _, err := Platforms(a, "x86_64"); err == nil || !strings.Contains(err.Error(), "more than the 16") {
		t.Errorf("17 rows: %v", err)
	}
}
