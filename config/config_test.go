package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// fieldsOf returns the sorted Field of every *FieldError in err, failing the
// test on any other kind of error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var fields []string
	for _, e := range errs {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("error %q is not a *FieldError", e)
		}
		if !strings.HasPrefix(fe.Error(), fe.Field+": ") {
			t.Errorf("error %q does not start with its field %q", fe, fe.Field)
		}
		fields = append(fields, fe.Field)
	}
	slices.Sort(fields)
	return fields
}

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestDefaultYAMLRoundTrip(t *testing.T) {
	out, err := Default().YAML()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(out, "default")
	if err != nil {
		t.Fatalf("Parse(YAML()) failed: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("round trip changed the defaults:\n got %+v\nwant %+v\nYAML:\n%s", got, Default(), out)
	}
}

func TestExampleFileIsDefault(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data, "example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Errorf("example.yaml differs from Default():\n got %+v\nwant %+v", got, Default())
	}

	// Equal to the defaults could also mean "empty"; the example must show
	// every setting.
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, l := range locate(&doc, reflect.TypeFor[Config](), "", nil, nil) {
		if l.isKey {
			present[l.path] = true
		}
	}
	for _, s := range settings() {
		if !present[s.path] {
			t.Errorf("example.yaml does not mention %s", s.path)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Containerd.Socket = "run/containerd.sock"
	c.Containerd.Namespaces = []string{"k8s.io", "-bad", "k8s.io"}
	c.Containerd.RelistInterval = 0
	c.Containerd.StorageBudget = 2 * time.Minute
	c.Host.CgroupRoot = ""
	c.Host.ProcRoot = "proc"
	c.Sampling.Interval = -time.Second
	c.Sampling.Jitter = 0.7
	c.Web.ListenAddress = "localhost"
	c.Web.TelemetryPath = "/healthz"
	c.Log.Level = "verbose"
	c.Log.Format = "xml"

	got := fieldsOf(t, c.Validate())
	want := []string{
		"containerd.namespaces[1]",
		"containerd.namespaces[2]",
		"containerd.relist_interval",
		"containerd.socket",
		"containerd.storage_budget",
		"host.cgroup_root",
		"host.proc_root",
		"log.format",
		"log.level",
		"sampling.interval",
		"sampling.jitter",
		"web.listen_address",
		"web.telemetry_path",
	}
	if !slices.Equal(got, want) {
		t.Errorf("fields with errors:\n got %q\nwant %q\nerror: %v", got, want, c.Validate())
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // fields with errors; nil means valid
		msg    string   // substring of the error, if any
	}{
		{"zero sampling interval", func(c *Config) { c.Sampling.Interval = 0 }, []string{"sampling.interval"}, `sampling.interval: must be positive, got "0s"`},
		{"relist shorter than sampling", func(c *Config) { c.Containerd.RelistInterval = 5 * time.Second }, []string{"containerd.relist_interval"}, "sampling.interval"},
		{"relist equal to sampling", func(c *Config) { c.Containerd.RelistInterval = 10 * time.Second }, nil, ""},
		{"storage budget equals interval", func(c *Config) { c.Containerd.StorageBudget = time.Minute }, []string{"containerd.storage_budget"}, "shorter than containerd.storage_interval"},
		{"storage interval zero", func(c *Config) { c.Containerd.StorageInterval = 0 }, []string{"containerd.storage_interval"}, ""},
		{"negative backoff", func(c *Config) { c.Containerd.ReconnectMaxBackoff = -1 }, []string{"containerd.reconnect_max_backoff"}, ""},
		{"socket relative", func(c *Config) { c.Containerd.Socket = "containerd.sock" }, []string{"containerd.socket"}, `must be an absolute path, got "containerd.sock"`},
		{"root filesystem empty", func(c *Config) { c.Host.RootFilesystem = "" }, []string{"host.root_filesystem"}, ""},
		{"node name with space", func(c *Config) { c.Host.NodeName = "node 1" }, []string{"host.node_name"}, ""},
		{"node name set", func(c *Config) { c.Host.NodeName = "worker-1.example.com" }, nil, ""},
		{"jitter zero", func(c *Config) { c.Sampling.Jitter = 0 }, nil, ""},
		{"jitter half", func(c *Config) { c.Sampling.Jitter = 0.5 }, nil, ""},
		{"jitter negative", func(c *Config) { c.Sampling.Jitter = -0.01 }, []string{"sampling.jitter"}, ""},
		{"listen port zero", func(c *Config) { c.Web.ListenAddress = ":0" }, []string{"web.listen_address"}, "1 to 65535"},
		{"listen port too big", func(c *Config) { c.Web.ListenAddress = "0.0.0.0:65536" }, []string{"web.listen_address"}, ""},
		{"listen port named", func(c *Config) { c.Web.ListenAddress = "localhost:http" }, []string{"web.listen_address"}, ""},
		{"listen ipv6", func(c *Config) { c.Web.ListenAddress = "[::1]:65535" }, nil, ""},
		{"telemetry path relative", func(c *Config) { c.Web.TelemetryPath = "metrics" }, []string{"web.telemetry_path"}, ""},
		{"telemetry path readyz", func(c *Config) { c.Web.TelemetryPath = "/readyz" }, []string{"web.telemetry_path"}, "reserved"},
		{"telemetry path query", func(c *Config) { c.Web.TelemetryPath = "/metrics?x=1" }, []string{"web.telemetry_path"}, ""},
		{"log level upper case", func(c *Config) { c.Log.Level = "INFO" }, []string{"log.level"}, "debug, info, warn, error"},
		{"log level debug", func(c *Config) { c.Log.Level = "debug" }, nil, ""},
		{"log format text", func(c *Config) { c.Log.Format = "text" }, nil, ""},
		{"namespaces valid", func(c *Config) {
			c.Containerd.Namespaces = []string{"k8s.io", "default", "moby", "a_b-c.d", "0abc", strings.Repeat("a", 76)}
		}, nil, ""},
		{"namespace too long", func(c *Config) { c.Containerd.Namespaces = []string{strings.Repeat("a", 77)} }, []string{"containerd.namespaces[0]"}, "76"},
		{"namespace empty", func(c *Config) { c.Containerd.Namespaces = []string{""} }, []string{"containerd.namespaces[0]"}, ""},
		{"namespace trailing dot", func(c *Config) { c.Containerd.Namespaces = []string{"k8s."} }, []string{"containerd.namespaces[0]"}, ""},
		{"namespace double separator", func(c *Config) { c.Containerd.Namespaces = []string{"a..b"} }, []string{"containerd.namespaces[0]"}, ""},
		{"namespace slash", func(c *Config) { c.Containerd.Namespaces = []string{"ok", "a/b"} }, []string{"containerd.namespaces[1]"}, `"a/b"`},
		{"api on localhost", func(c *Config) { c.Web.APIListenAddress = "127.0.0.1:10077" }, nil, ""},
		{"api without port", func(c *Config) { c.Web.APIListenAddress = "127.0.0.1" }, []string{"web.api_listen_address"}, "host:port"},
		{"api on the metrics listener", func(c *Config) { c.Web.APIListenAddress = c.Web.ListenAddress }, []string{"web.api_listen_address"}, "must differ"},
		{"health listener", func(c *Config) { c.Web.HealthListenAddress = ":10077" }, nil, ""},
		{"health on the metrics listener", func(c *Config) { c.Web.HealthListenAddress = c.Web.ListenAddress }, []string{"web.health_listen_address"}, "must differ"},
		{"health without port", func(c *Config) { c.Web.HealthListenAddress = "localhost" }, []string{"web.health_listen_address"}, "host:port"},
		{"labels listed", func(c *Config) { c.Export.ContainerLabels = []string{"app", "app.kubernetes.io/*", "team"} }, nil, ""},
		{"label star inside", func(c *Config) { c.Export.ContainerLabels = []string{"app", "a*b"} }, []string{"export.container_labels[1]"}, "may only end"},
		{"label empty", func(c *Config) { c.Export.ContainerLabels = []string{" "} }, []string{"export.container_labels[0]"}, "empty"},
		{"label twice", func(c *Config) { c.Export.ContainerLabels = []string{"app", "app"} }, []string{"export.container_labels[1]"}, "twice"},
		{"label with space", func(c *Config) { c.Export.ContainerLabels = []string{"my app"} }, []string{"export.container_labels[0]"}, "spaces"},
		{"label with colon", func(c *Config) { c.Export.ContainerLabels = []string{"example.com:team"} }, nil, ""},
		{"label not UTF-8", func(c *Config) { c.Export.ContainerLabels = []string{"te\xffam"} }, []string{"export.container_labels[0]"}, "UTF-8"},
		{"no vCPU limit", func(c *Config) { c.Analysis.Platforms.Function.MaxVCPUs = 0 }, []string{"analysis.platforms.function.max_vcpus"}, "positive"},
		{"vCPU step above the limit", func(c *Config) { c.Analysis.Platforms.Container.VCPUStep = 16 }, []string{"analysis.platforms.container.vcpu_step"}, "max_vcpus"},
		{"negative memory per vCPU", func(c *Config) { c.Analysis.Platforms.Function.MemoryMiBPerVCPU = -1 }, []string{"analysis.platforms.function.memory_mib_per_vcpu"}, ""},
		{"negative minimum saving", func(c *Config) { c.Analysis.MinSavingPerMonth = -1 }, []string{"analysis.min_saving_per_month"}, "non-negative"},
		{"no minimum saving", func(c *Config) { c.Analysis.MinSavingPerMonth = 0 }, nil, ""},
		{"series cap zero", func(c *Config) { c.Export.MaxSeriesPerMetric = 0 }, []string{"export.max_series_per_metric"}, "at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if got := fieldsOf(t, err); !slices.Equal(got, tt.want) {
				t.Fatalf("fields with errors = %q, want %q (error: %v)", got, tt.want, err)
			}
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestParseKeepsDefaultsForAbsentKeys(t *testing.T) {
	c, err := Parse([]byte("sampling:\n  interval: 30s\ncontainerd:\n  namespaces: [k8s.io, default]\nlog:\n"), "cfg.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Sampling.Interval = 30 * time.Second
	want.Containerd.Namespaces = []string{"k8s.io", "default"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n", "---\n", "containerd:\n  namespaces: []\n"} {
		c, err := Parse([]byte(doc), "cfg.yaml")
		if err != nil {
			t.Errorf("Parse(%q): %v", doc, err)
			continue
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Parse(%q) = %+v, want the defaults", doc, c)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the error
	}{
		{
			name: "unknown key",
			doc:  "sampling:\n  interval: 10s\n  intervall: 20s\n",
			want: []string{`cfg.yaml:3: unknown key "sampling.intervall"`, "known keys: interval, jitter, keep_files_open"},
		},
		{
			name: "unknown section",
			doc:  "containerd:\n  socket: /x\nsamplng:\n  interval: 10s\n",
			want: []string{`cfg.yaml:3: unknown key "samplng"`},
		},
		{
			name: "bad duration",
			doc:  "sampling:\n  interval: soon\n",
			want: []string{`cfg.yaml:2: sampling.interval: invalid value "soon", want a duration such as "10s"`},
		},
		{
			name: "bare number for a duration",
			doc:  "containerd:\n  relist_interval: 300\n",
			want: []string{`cfg.yaml:2: containerd.relist_interval: invalid value "300"`},
		},
		{
			name: "bad bool",
			doc:  "sampling:\n  keep_files_open: sometimes\n",
			want: []string{`cfg.yaml:2: sampling.keep_files_open: invalid value "sometimes", want true or false`},
		},
		{
			name: "map for a list",
			doc:  "containerd:\n  namespaces:\n    a: b\n",
			want: []string{`cfg.yaml:3: containerd.namespaces: invalid value a mapping, want a list of strings`},
		},
		{
			name: "scalar for a section",
			doc:  "web: 8080\n",
			want: []string{`cfg.yaml:1: web: invalid value "8080", want a mapping`},
		},
		{
			name: "several problems at once",
			doc:  "log:\n  level: info\n  colour: true\nsampling:\n  jitter: lots\n",
			want: []string{`cfg.yaml:3: unknown key "log.colour"`, `cfg.yaml:5: sampling.jitter: invalid value "lots", want a number`},
		},
		{
			name: "flow style",
			doc:  "sampling: {interval: 10s, jitter: x}\n",
			want: []string{`cfg.yaml:1: sampling.jitter: invalid value "x"`},
		},
		{
			name: "duplicate key",
			doc:  "log:\n  level: info\n  level: debug\n",
			want: []string{`cfg.yaml:3: duplicate key "log.level" (first at line 2)`},
		},
		{
			name: "syntax error",
			doc:  "sampling:\n  interval: [10s\n",
			want: []string{"cfg.yaml: yaml:"},
		},
		{
			name: "two documents",
			doc:  "log:\n  level: info\n---\nlog:\n  level: debug\n",
			want: []string{"cfg.yaml:3: a second YAML document"},
		},
		{
			name: "not a mapping",
			doc:  "- a\n- b\n",
			want: []string{"cfg.yaml:1: invalid value a list, want a mapping"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc), "cfg.yaml")
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fleetscope.yaml")
	if err := os.WriteFile(path, []byte("sampling:\n  interval: 30s\n  jitter: 0.2\nweb:\n  listen_address: \":9000\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, []string{"PATH=/bin", "FLEETSCOPE_SAMPLING_INTERVAL=1m"})
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Sampling.Interval = time.Minute // the environment beats the file
	want.Sampling.Jitter = 0.2
	want.Web.ListenAddress = ":9000"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}

	if c, err := Load("", nil); err != nil || !reflect.DeepEqual(c, Default()) {
		t.Errorf(`Load("", nil) = %+v, %v; want the defaults`, c, err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: got %v, want an error naming the file and wrapping fs.ErrNotExist", err)
	}

	if err := os.WriteFile(path, []byte("web:\n  listen: :80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, nil); err == nil || !strings.Contains(err.Error(), path+`:2: unknown key "web.listen"`) {
		t.Errorf("bad file: got %v", err)
	}
}
