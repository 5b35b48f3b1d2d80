package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// FieldError is one problem with one setting.
type FieldError struct {
	Field string // dotted YAML path, e.g. "sampling.interval"
	Msg   string
}

var _ error = (*FieldError)(nil)

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// maxNamespaceLen is containerd's limit on identifier length.
const maxNamespaceLen = 76

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"json", "text"}
	// reservedPaths are served by the agent itself.
	reservedPaths = []string{"/healthz", "/readyz"}
)

// Validate checks every setting and returns all problems at once, joined
// with errors.Join, each a *FieldError.
func (c Config) Validate() error {
	var v validator

	cd := c.Containerd
	v.absPath("containerd.socket", cd.Socket)
	seen := make(map[string]bool, len(cd.Namespaces))
	for i, ns := range cd.Namespaces {
		field := fmt.Sprintf("containerd.namespaces[%d]", i)
		if err := validNamespace(ns); err != "" {
			v.add(field, "%s, got %q", err, ns)
		} else if seen[ns] {
			v.add(field, "duplicate namespace %q", ns)
		}
		seen[ns] = true
	}
	v.positive("containerd.relist_interval", cd.RelistInterval)
	if cd.RelistInterval > 0 && c.Sampling.Interval > 0 && cd.RelistInterval < c.Sampling.Interval {
		v.add("containerd.relist_interval", "must not be shorter than sampling.interval (%s), got %q", c.Sampling.Interval, cd.RelistInterval)
	}
	v.positive("containerd.storage_interval", cd.StorageInterval)
	v.positive("containerd.storage_budget", cd.StorageBudget)
	if cd.StorageBudget > 0 && cd.StorageInterval > 0 && cd.StorageBudget >= cd.StorageInterval {
		v.add("containerd.storage_budget", "must be shorter than containerd.storage_interval (%s), got %q", cd.StorageInterval, cd.StorageBudget)
	}
	v.positive("containerd.reconnect_max_backoff", cd.ReconnectMaxBackoff)

	v.absPath("host.cgroup_root", c.Host.CgroupRoot)
	v.absPath("host.proc_root", c.Host.ProcRoot)
	v.absPath("host.sys_root", c.Host.SysRoot)
	v.absPath("host.root_filesystem", c.Host.RootFilesystem)
	if strings.ContainsFunc(c.Host.NodeName, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
		v.add("host.node_name", "must not contain spaces or control characters, got %q", c.Host.NodeName)
	}

	v.positive("sampling.interval", c.Sampling.Interval)
	if j := c.Sampling.Jitter; math.IsNaN(j) || j < 0 || j > 0.5 {
		v.add("sampling.jitter", "must be between 0 and 0.5, got %v", j)
	}
	if f := c.Sampling.FineInterval; f < 0 {
		v.add("sampling.fine_interval", "must not be negative, got %q", f)
	}
	if n := c.Sampling.FineMaxContainers; n < 0 || n > 1000 {
		v.add("sampling.fine_max_containers", "must be between 0 and 1000, got %d", n)
	}

	if err := validListenAddress(c.Web.ListenAddress); err != "" {
		v.add("web.listen_address", "%s, got %q", err, c.Web.ListenAddress)
	}
	if a := c.Web.APIListenAddress; a != "" {
		if err := validListenAddress(a); err != "" {
			v.add("web.api_listen_address", "%s, got %q", err, a)
		} else if a == c.Web.ListenAddress {
			v.add("web.api_listen_address", "must differ from web.listen_address (leave it empty to serve the API there), got %q", a)
		}
	}
	if a := c.Web.HealthListenAddress; a != "" {
		if err := validListenAddress(a); err != "" {
			v.add("web.health_listen_address", "%s, got %q", err, a)
		} else if a == c.Web.ListenAddress || a == c.Web.APIListenAddress {
			v.add("web.health_listen_address", "must differ from web.listen_address and web.api_listen_address, got %q", a)
		}
	}
	switch p := c.Web.TelemetryPath; {
	case !strings.HasPrefix(p, "/"):
		v.add("web.telemetry_path", "must start with \"/\", got %q", p)
	case strings.ContainsAny(p, "?# \t\r\n"):
		v.add("web.telemetry_path", "must be a plain URL path, got %q", p)
	case slices.Contains(reservedPaths, p):
		v.add("web.telemetry_path", "%q is reserved for the agent's health endpoints", p)
	}

	if !slices.Contains(logLevels, c.Log.Level) {
		v.add("log.level", "must be one of %s, got %q", strings.Join(logLevels, ", "), c.Log.Level)
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		v.add("log.format", "must be one of %s, got %q", strings.Join(logFormats, ", "), c.Log.Format)
	}
	c.validateAnalysis(&v)
	c.validateOTLP(&v)
	c.validateExport(&v)
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) positive(field string, d time.Duration) {
	if d <= 0 {
		v.add(field, "must be positive, got %q", d)
	}
}

func (v *validator) absPath(field, p string) {
	if !filepath.IsAbs(p) {
		v.add(field, "must be an absolute path, got %q", p)
	}
}

// validNamespace applies containerd's identifier rule: alphanumeric
// components joined by single '.', '_' or '-', at most 76 characters. It
// returns what is wrong, or "".
func validNamespace(ns string) string {
	switch {
	case ns == "":
		return "must not be empty"
	case len(ns) > maxNamespaceLen:
		return fmt.Sprintf("must be at most %d characters", maxNamespaceLen)
	}
	sep := true // at the start, as after a separator, a separator is invalid
	for i := range len(ns) {
		switch b := ns[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
			sep = false
		case (b == '.' || b == '_' || b == '-') && !sep:
			sep = true
		default:
			return "must be letters and digits, separated by single '.', '_' or '-'"
		}
	}
	if sep {
		return "must not end with '.', '_' or '-'"
	}
	return ""
}

func validListenAddress(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port"
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "port must be a number from 1 to 65535"
	}
	return ""
}
