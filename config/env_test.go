package config

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	environ := []string{
		"HOME=/root",
		"FLEETSCOPE_CONTAINERD_SOCKET=/var/run/containerd.sock",
		"FLEETSCOPE_CONTAINERD_NAMESPACES= k8s.io, default ,,",
		"FLEETSCOPE_CONTAINERD_RELIST_INTERVAL=90s",
		"FLEETSCOPE_HOST_NODE_NAME=worker-7",
		"FLEETSCOPE_SAMPLING_JITTER=0.25",
		"FLEETSCOPE_SAMPLING_KEEP_FILES_OPEN=false",
		"FLEETSCOPE_WEB_LISTEN_ADDRESS=127.0.0.1:9100",
		"FLEETSCOPE_WEB_CONFIG_FILE=", // an empty value is a value
		"FLEETSCOPE_LOG_LEVEL=info",
		"FLEETSCOPE_LOG_LEVEL=debug", // the later entry wins
		"NOT_FLEETSCOPE_LOG_LEVEL=error",
	}
	c, err := Load("", environ)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Containerd.Socket = "/var/run/containerd.sock"
	want.Containerd.Namespaces = []string{"k8s.io", "default"}
	want.Containerd.RelistInterval = 90 * time.Second
	want.Host.NodeName = "worker-7"
	want.Sampling.Jitter = 0.25
	want.Sampling.KeepFilesOpen = false
	want.Web.ListenAddress = "127.0.0.1:9100"
	want.Log.Level = "debug"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestEnvEmptyListClearsNamespaces(t *testing.T) {
	c, err := Parse([]byte("containerd:\n  namespaces: [k8s.io]\n"), "cfg.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(&c, []string{"FLEETSCOPE_CONTAINERD_NAMESPACES="}); err != nil {
		t.Fatal(err)
	}
	normalize(&c)
	if c.Containerd.Namespaces != nil {
		t.Errorf("namespaces = %q, want nil (every namespace)", c.Containerd.Namespaces)
	}
}

func TestEnvErrors(t *testing.T) {
	environ := []string{
		"FLEETSCOPE_SAMPLING_INTERVAL=10",
		"FLEETSCOPE_SAMPLING_JITTER=a lot",
		"FLEETSCOPE_SAMPLING_KEEP_FILES_OPEN=maybe",
		"FLEETSCOPE_SAMPLING_INTERVALL=10s",
		"FLEETSCOPE_LOG=debug",
		"FLEETSCOPE_LOG_LEVEL=debug", // fine, and must not hide the others
	}
	_, err := Load("", environ)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, want := range []string{
		`environment variable FLEETSCOPE_SAMPLING_INTERVAL (sampling.interval): invalid value "10", want a duration such as "10s"`,
		`environment variable FLEETSCOPE_SAMPLING_JITTER (sampling.jitter): invalid value "a lot", want a number`,
		`environment variable FLEETSCOPE_SAMPLING_KEEP_FILES_OPEN (sampling.keep_files_open): invalid value "maybe", want true or false`,
		"environment variable FLEETSCOPE_SAMPLING_INTERVALL: no such setting",
		"environment variable FLEETSCOPE_LOG: no such setting",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 5 {
		t.Errorf("got %d errors, want 5: %v", n, err)
	}
}

func TestEnvVars(t *testing.T) {
	vars := EnvVars()
	for _, want := range []string{
		"FLEETSCOPE_CONTAINERD_SOCKET",
		"FLEETSCOPE_CONTAINERD_NAMESPACES",
		"FLEETSCOPE_CONTAINERD_RECONNECT_MAX_BACKOFF",
		"FLEETSCOPE_HOST_PROC_ROOT",
		"FLEETSCOPE_SAMPLING_INTERVAL",
		"FLEETSCOPE_WEB_LISTEN_ADDRESS",
		"FLEETSCOPE_LOG_FORMAT",
	} {
		if !slices.Contains(vars, want) {
			t.Errorf("EnvVars() lacks %s", want)
		}
	}
	seen := map[string]bool{}
	for _, v := range vars {
		if seen[v] {
			t.Errorf("two settings map to %s", v)
		}
		seen[v] = true
	}

	// Every leaf setting must be reachable from the environment, unless its
	// field opts out explicitly: a new field of an unsupported kind should be
	// a decision, not an accident.
	var leaves []string
	walkFields(reflect.TypeFor[Config](), nil, nil, func(path []string, _ []int, f reflect.StructField) {
		if f.Tag.Get("env") != "-" {
			leaves = append(leaves, strings.Join(path, "."))
		}
	})
	if len(leaves) != len(vars) {
		t.Errorf("%d settings but %d environment variables; mark fields that cannot be set from the environment with `env:\"-\"`", len(leaves), len(vars))
	}

	// Each variable must really set its field.
	for _, s := range settings() {
		c := Default()
		v := reflect.ValueOf(&c).Elem().FieldByIndex(s.index)
		raw := map[reflect.Kind]string{reflect.String: "/x", reflect.Bool: "false", reflect.Float64: "0.3", reflect.Slice: "a,b", reflect.Int64: "7m", reflect.Int: "77", reflect.Uint64: "77"}[v.Kind()]
		if v.Kind() == reflect.Bool {
			raw = strconv.FormatBool(!v.Bool())
		}
		if raw == "" {
			t.Fatalf("no test value for %s of kind %s", s.env, v.Kind())
		}
		before := v.Interface()
		if err := applyEnv(&c, []string{s.env + "=" + raw}); err != nil {
			t.Errorf("%s=%s: %v", s.env, raw, err)
			continue
		}
		if reflect.DeepEqual(before, v.Interface()) {
			t.Errorf("%s=%s did not change %s", s.env, raw, s.path)
		}
	}
}

// level stands for a future setting type with its own text form.
type level struct{ n int }

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		l.n = 1
	case "high":
		l.n = 2
	default:
		return errors.New("want low or high")
	}
	return nil
}

func TestEnvTextUnmarshaler(t *testing.T) {
	type section struct {
		Level level            `yaml:"level"`
		Table map[string]int   `yaml:"table" env:"-"`
		Inner struct{ X bool } `yaml:"inner"`
	}
	type cfg struct {
		S section `yaml:"s"`
	}
	var paths []string
	walkFields(reflect.TypeFor[cfg](), nil, nil, func(path []string, _ []int, f reflect.StructField) {
		if envSupported(f.Type) {
			paths = append(paths, strings.Join(path, "."))
		}
	})
	if want := []string{"s.level", "s.inner.x"}; !slices.Equal(paths, want) {
		t.Errorf("settable paths = %q, want %q", paths, want)
	}

	var c cfg
	v := reflect.ValueOf(&c).Elem().Field(0).Field(0)
	if err := setFromString(v, "high"); err != nil || c.S.Level.n != 2 {
		t.Errorf("setFromString(high) = %v, level %d", err, c.S.Level.n)
	}
	if err := setFromString(v, "medium"); err == nil || !strings.Contains(err.Error(), `invalid value "medium": want low or high`) {
		t.Errorf("setFromString(medium) = %v", err)
	}
}
