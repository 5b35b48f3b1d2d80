package pricing

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetscope/fleetscope/config"
)

// serverlessColumns are a serverless table's columns, in this order, named
// on its first line.
var serverlessColumns = []string{
	"platform", "kind", "provider", "region", "tier", "arch",
	"max_duration", "max_memory_mib", "max_vcpus", "vcpu_step", "memory_mib_per_vcpu", "min_memory_mib", "memory_step_mib",
	"price_per_vcpu_second", "price_per_gib_second", "price_per_million_requests", "price_per_gpu_second",
	"currency", "source", "date",
}

//go:embed serverless.csv
var builtInServerless []byte

// ServerlessTable is a serverless price table: a row per platform, region
// and architecture.
type ServerlessTable struct {
	// Name says which table it is: its file, or "the built-in serverless
	// price table".
	Name string
	Rows []ServerlessRow
}

// ServerlessRow is one platform in one region for one architecture.
type ServerlessRow struct {
	Platform config.PlatformConfig
	Currency string
	Date     string
}

// BuiltInServerless is the serverless table that ships with Fleetscope.
func BuiltInServerless() *ServerlessTable {
	t, err := ParseServerless(bytes.NewReader(builtInServerless), "the built-in serverless price table")
	if err != nil {
		panic(err) // a test parses it
	}
	return t
}

// LoadServerless reads the serverless table in path.
func LoadServerless(path string) (*ServerlessTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("serverless price table: %w", err)
	}
	defer f.Close()
	return ParseServerless(f, path)
}

// ParseServerless reads a serverless table in CSV: the columns of
// serverlessColumns named on the first line, lines starting with # are
// comments. Errors name the table, the line and the column.
func ParseServerless(r io.Reader, name string) (*ServerlessTable, error) {
	t := &ServerlessTable{Name: name}
	seen := map[string]bool{}
	err := readCSV(r, "serverless price table "+name, serverlessColumns, func(rec []string) error {
		row, err := parseServerlessRow(rec)
		if err != nil {
			return err
		}
		if seen[row.Platform.Name] {
			return fmt.Errorf("%s is listed twice", row.Platform.Name)
		}
		seen[row.Platform.Name] = true
		t.Rows = append(t.Rows, row)
		return nil
	})
	return t, err
}

// parseServerlessRow reads one row's fields.
func parseServerlessRow(rec []string) (ServerlessRow, error) {
	col := func(name string) string { return rec[slices.Index(serverlessColumns, name)] }
	p := config.PlatformConfig{
		Kind: col("kind"), Provider: col("provider"), Region: col("region"), Tier: col("tier"), Arch: col("arch"),
	}
	row := ServerlessRow{Currency: col("currency"), Date: col("date")}
	if !validName(col("platform"), 40) || !validName(p.Region, 64) || len(p.Provider) > 32 || len(p.Tier) > 16 {
		return row, errors.New("platform and region must be 1 to 40 and 64 letters, digits or dashes; provider and tier at most 32 and 16 characters")
	}
	if p.Kind != config.KindFunction && p.Kind != config.KindContainer {
		return row, fmt.Errorf("kind %q is not %s or %s", p.Kind, config.KindFunction, config.KindContainer)
	}
	if p.Arch != "x86_64" && p.Arch != "arm64" {
		return row, fmt.Errorf("arch %q is not x86_64 or arm64", p.Arch)
	}
	if row.Currency == "" || col("source") == "" || row.Date == "" {
		return row, errors.New("currency, source and date must not be empty")
	}
	d, err := time.ParseDuration(col("max_duration"))
	if col("max_duration") == "0" {
		d, err = 0, nil
	}
	if err != nil || d < 0 {
		return row, fmt.Errorf("max_duration %q is not a duration such as 15m, or 0 for none", col("max_duration"))
	}
	p.MaxDuration = d
	ints := []struct {
		col string
		dst *uint64
		min uint64
	}{{"max_memory_mib", &p.MaxMemoryMiB, 1}, {"min_memory_mib", &p.MinMemoryMiB, 0}, {"memory_step_mib", &p.MemoryStepMiB, 1}}
	for _, n := range ints {
		v, err := strconv.ParseUint(col(n.col), 10, 32)
		if err != nil || v < n.min {
			return row, fmt.Errorf("%s %q is not a whole number of at least %d", n.col, col(n.col), n.min)
		}
		*n.dst = v
	}
	floats := []struct {
		col      string
		dst      *float64
		positive bool
	}{
		{"max_vcpus", &p.MaxVCPUs, true}, {"vcpu_step", &p.VCPUStep, false}, {"memory_mib_per_vcpu", &p.MemoryMiBPerVCPU, false},
		{"price_per_vcpu_second", &p.PricePerVCPUSecond, false}, {"price_per_gib_second", &p.PricePerGiBSecond, false},
		{"price_per_million_requests", &p.PricePerMillionRequests, false}, {"price_per_gpu_second", &p.PricePerGPUSecond, false},
	}
	for _, n := range floats {
		s := col(n.col)
		if s == "" && !n.positive {
			continue
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 1e6 || (n.positive && f == 0) {
			return row, fmt.Errorf("%s %q is not a number from 0 to a million (above 0 for max_vcpus)", n.col, s)
		}
		*n.dst = f
	}
	switch {
	case p.MinMemoryMiB > p.MaxMemoryMiB:
		return row, fmt.Errorf("min_memory_mib %d exceeds max_memory_mib %d", p.MinMemoryMiB, p.MaxMemoryMiB)
	case p.VCPUStep > p.MaxVCPUs:
		return row, fmt.Errorf("vcpu_step %v exceeds max_vcpus %v", p.VCPUStep, p.MaxVCPUs)
	}
	p.GPU = p.PricePerGPUSecond > 0
	p.Listen = p.Kind == config.KindContainer
	p.Name = col("platform") + "/" + p.Region + "/" + p.Arch
	tier := ""
	if p.Tier != "" {
		tier = ", tier " + p.Tier
	}
	p.Source = fmt.Sprintf("%s (%s%s): %s, %s", p.Name, p.Kind, tier, col("source"), row.Date)
	row.Platform = p
	return row, nil
}

// validName reports whether s is 1 to n ASCII letters, digits, dashes or
// underscores: it becomes part of a label value and of every reason.
func validName(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// NodeArch is the architecture of this machine as serverless tables name
// it.
func NodeArch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	default:
		return runtime.GOARCH
	}
}

// Platforms picks the serverless platforms a's verdicts compare from its
// table (analysis.serverless): the rows of its regions and architectures,
// functions first, in the table's order. arch is the architecture assumed
// when the configuration names none. No table (table_file none) gives
// none, and the analysis uses analysis.platforms.
func Platforms(a config.AnalysisConfig, arch string) ([]config.PlatformConfig, error) {
	sl := a.Serverless
	var t *ServerlessTable
	switch sl.TableFile {
	case config.TableNone:
		return nil, nil
	case "":
		t = BuiltInServerless()
	default:
		var err error
		if t, err = LoadServerless(sl.TableFile); err != nil {
			return nil, fmt.Errorf("analysis.serverless.table_file: %w", err)
		}
	}
	archs := sl.Architectures
	if len(archs) == 0 {
		archs = []string{arch}
	}
	var fns, cts []config.PlatformConfig
	for _, r := range t.Rows {
		if !slices.Contains(sl.Regions, r.Platform.Region) || !slices.Contains(archs, r.Platform.Arch) {
			continue
		}
		if r.Currency != a.Prices.Currency {
			return nil, fmt.Errorf("analysis.serverless.table_file: %s prices %s in %s, not %s (analysis.prices.currency): a report holds one currency",
				t.Name, r.Platform.Name, r.Currency, a.Prices.Currency)
		}
		if r.Platform.Kind == config.KindFunction {
			fns = append(fns, r.Platform)
		} else {
			cts = append(cts, r.Platform)
		}
	}
	ps := append(fns, cts...)
	switch {
	case len(ps) == 0:
		return nil, fmt.Errorf("analysis.serverless: %s has no row in regions %s for %s", t.Name, strings.Join(sl.Regions, ", "), strings.Join(archs, ", "))
	case len(ps) > config.MaxPlatforms:
		return nil, fmt.Errorf("analysis.serverless: %s has %d rows in regions %s for %s, more than the %d a verdict compares",
			t.Name, len(ps), strings.Join(sl.Regions, ", "), strings.Join(archs, ", "), config.MaxPlatforms)
	}
	return ps, nil
}
