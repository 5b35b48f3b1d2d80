package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fleetscope/fleetscope/collectors/internal/kernfile"
)

// ErrForeignNamespace reports a cgroup path that starts with "/..": the
// kernel prints paths relative to the reader's cgroup namespace, so the
// target lives outside it and cannot be found under our root. An agent that
// sees this is running in a private cgroup namespace and needs the host's.
var ErrForeignNamespace = errors.New("cgroup path is outside the reader's cgroup namespace")

// Paths are one container's cgroup paths, each relative to the root of its
// hierarchy and starting with "/".
type Paths struct {
	// Unified is the path in the cgroup v2 (unified) hierarchy,
	// e.g. "/kubepods.slice/…/cri-containerd-<id>.scope".
	Unified string
	// Controllers maps a v1 controller name ("cpu", "cpuacct", "memory",
	// "blkio", "pids", …) to the path in that controller's hierarchy.
	Controllers map[string]string
}

// String returns a short form for messages: the unified path, or else the
// first v1 path among the controllers this package reads.
func (p Paths) String() string {
	if p.Unified != "" {
		return p.Unified
	}
	for _, c := range v1Names {
		if cp, ok := p.Controllers[c]; ok {
			return cp
		}
	}
	return ""
}

// checkPath validates a cgroup path as the kernel prints it: absolute,
// clean, without "..".
func checkPath(p string) error {
	if p == "/.." || strings.HasPrefix(p, "/../") {
		return fmt.Errorf("%q: %w", p, ErrForeignNamespace)
	}
	if p == "" || p[0] != '/' {
		return fmt.Errorf("cgroup path %q is not absolute", p)
	}
	if path.Clean(p) != p {
		return fmt.Errorf("cgroup path %q is not clean", p)
	}
	if strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("cgroup path %q escapes its hierarchy", p)
	}
	return nil
}

// ParseProcCgroup parses the content of /proc/<pid>/cgroup. v1 lines look
// like "4:cpu,cpuacct:/kubepods/…" and give each listed controller its path;
// the v2 line "0::/path" gives Unified. Named hierarchies such as
// "name=systemd" are ignored. A v2 path the kernel marks " (deleted)" means
// the process's cgroup is gone, reported as an error wrapping
// fs.ErrNotExist.
func ParseProcCgroup(data []byte) (Paths, error) {
	var p Paths
	b := data
	for len(b) > 0 {
		var line []byte
		line, b = kernfile.NextLine(b)
		if len(line) == 0 {
			continue
		}
		i := bytes.IndexByte(line, ':')
		j := -1
		if i >= 0 {
			j = bytes.IndexByte(line[i+1:], ':')
		}
		if i <= 0 || j < 0 {
			return Paths{}, fmt.Errorf("cgroups: /proc cgroup line %q is not \"id:controllers:path\"", kernfile.Clip(line))
		}
		if _, err := kernfile.ParseUint(line[:i]); err != nil {
			return Paths{}, fmt.Errorf("cgroups: /proc cgroup line %q has a bad hierarchy id", kernfile.Clip(line))
		}
		ctrls := string(line[i+1 : i+1+j])
		cpath := string(line[i+1+j+1:])
		if ctrls == "" {
			if string(line[:i]) != "0" {
				return Paths{}, fmt.Errorf("cgroups: /proc cgroup line %q: unified hierarchy must have id 0", kernfile.Clip(line))
			}
			if strings.HasSuffix(cpath, " (deleted)") {
				return Paths{}, fmt.Errorf("cgroups: cgroup %q was deleted: %w", strings.TrimSuffix(cpath, " (deleted)"), fs.ErrNotExist)
			}
			if err := checkPath(cpath); err != nil {
				return Paths{}, fmt.Errorf("cgroups: /proc cgroup unified line: %w", err)
			}
			p.Unified = cpath
			continue
		}
		if strings.HasPrefix(ctrls, "name=") {
			continue
		}
		if err := checkPath(cpath); err != nil {
			return Paths{}, fmt.Errorf("cgroups: /proc cgroup line for %q: %w", ctrls, err)
		}
		for c := range strings.SplitSeq(ctrls, ",") {
			if c == "" || strings.HasPrefix(c, "name=") {
				continue
			}
			if p.Controllers == nil {
				p.Controllers = make(map[string]string, 8)
			}
			p.Controllers[c] = cpath
		}
	}
	if p.Unified == "" && len(p.Controllers) == 0 {
		return Paths{}, errors.New("cgroups: /proc cgroup content names no hierarchy")
	}
	return p, nil
}

// v1Controllers are the controllers a cgroupfs-driver path is valid for.
var v1Controllers = [...]string{"cpu", "cpuacct", "memory", "blkio", "pids", "cpuset", "devices", "freezer", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc"}

// PathsFromSpec converts an OCI runtime spec's linux.cgroupsPath to Paths.
//
// With the cgroupfs driver the value is an absolute path ("/k8s.io/<id>"),
// the same in every hierarchy. With the systemd driver it is
// "slice:prefix:name", which runc turns into the unit "prefix-name.scope"
// (or "name" itself when it ends in ".slice") inside the slice; systemd nests
// a slice "a-b-c.slice" as /a.slice/a-b.slice/a-b-c.slice, and "-.slice" is
// the root. For example "kubepods-burstable-pod<uid>.slice:cri-containerd:<id>"
// lives at "/kubepods.slice/kubepods-burstable.slice/
// kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope". An empty slice
// defaults to "system.slice" as in runc.
func PathsFromSpec(cgroupsPath string) (Paths, error) {
	var p string
	if strings.HasPrefix(cgroupsPath, "/") {
		p = cgroupsPath
	} else {
		slice, rest, ok1 := strings.Cut(cgroupsPath, ":")
		prefix, name, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || strings.Contains(name, ":") {
			return Paths{}, fmt.Errorf("cgroups: cgroupsPath %q is neither absolute nor \"slice:prefix:name\"", cgroupsPath)
		}
		if slice == "" {
			slice = "system.slice"
		}
		dir, err := expandSlice(slice)
		if err != nil {
			return Paths{}, fmt.Errorf("cgroups: cgroupsPath %q: %w", cgroupsPath, err)
		}
		if name == "" || strings.Contains(name, "/") || strings.Contains(prefix, "/") {
			return Paths{}, fmt.Errorf("cgroups: cgroupsPath %q: bad unit name", cgroupsPath)
		}
		unit := name
		if !strings.HasSuffix(name, ".slice") {
			// runc always joins prefix and name with "-", even with an
			// empty prefix; we follow it so the path is the one it made.
			unit = prefix + "-" + name + ".scope"
		}
		p = path.Join(dir, unit)
	}
	if err := checkPath(p); err != nil {
		return Paths{}, fmt.Errorf("cgroups: cgroupsPath: %w", err)
	}
	ps := Paths{Unified: p, Controllers: make(map[string]string, len(v1Controllers))}
	for _, c := range v1Controllers {
		ps.Controllers[c] = p
	}
	return ps, nil
}

// expandSlice turns a systemd slice name into its path in the hierarchy.
func expandSlice(slice string) (string, error) {
	const suffix = ".slice"
	if !strings.HasSuffix(slice, suffix) || strings.Contains(slice, "/") {
		return "", fmt.Errorf("invalid slice name %q", slice)
	}
	if slice == "-.slice" {
		return "/", nil
	}
	base := strings.TrimSuffix(slice, suffix)
	if base == "" || strings.HasPrefix(base, "-") || strings.HasSuffix(base, "-") || strings.Contains(base, "--") {
		return "", fmt.Errorf("invalid slice name %q", slice)
	}
	var sb strings.Builder
	for i := 0; i <= len(base); i++ {
		if i == len(base) || base[i] == '-' {
			sb.WriteByte('/')
			sb.WriteString(base[:i])
			sb.WriteString(suffix)
		}
	}
	return sb.String(), nil
}

// ProcessPaths reads and parses <procRoot>/<pid>/cgroup: where a task's
// cgroups are, resolved once per task.
func ProcessPaths(procRoot string, pid uint32) (Paths, error) {
	file := filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10), "cgroup")
	data, err := os.ReadFile(file)
	if err != nil {
		return Paths{}, err
	}
	p, err := ParseProcCgroup(data)
	if err != nil {
		return Paths{}, fmt.Errorf("%s: %w", file, err)
	}
	return p, nil
}
