package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Mode is the cgroup layout of a host.
type Mode int

const (
	// ModeV1 has one hierarchy per controller (or per group of co-mounted
	// controllers) and no unified hierarchy.
	ModeV1 Mode = iota + 1
	// ModeV2 has only the unified hierarchy.
	ModeV2
	// ModeHybrid has v1 controller hierarchies plus a unified hierarchy,
	// usually at <root>/unified, holding few or no controllers.
	ModeHybrid
)

func (m Mode) String() string {
	switch m {
	case ModeV1:
		return "v1"
	case ModeV2:
		return "v2"
	case ModeHybrid:
		return "hybrid"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ctrl indexes the v1 controllers the package reads.
type ctrl int

const (
	ctrlCPU ctrl = iota
	ctrlCPUAcct
	ctrlMemory
	ctrlBlkio
	ctrlPids
	numCtrl
)

// v1Names are the v1 hierarchy names; v2Names the cgroup.controllers names
// that replace them in the unified hierarchy.
var (
	v1Names = [numCtrl]string{"cpu", "cpuacct", "memory", "blkio", "pids"}
	v2Names = [numCtrl]string{"cpu", "cpu", "memory", "io", "pids"}
)

// v1Marker is a file found at the root of a mounted v1 hierarchy, telling it
// from an empty mount point. Where the controller has no file in the root
// cgroup, any cgroup's cgroup.procs is used.
var v1Marker = [numCtrl]string{"cpu.shares", "cpuacct.usage", "memory.usage_in_bytes", "cgroup.procs", "cgroup.procs"}

// Host is the cgroup layout detected under a root directory. It also owns
// the buffer its Handles read into: Handles of one Host may be used from
// several goroutines, but their reads take turns.
type Host struct {
	root string
	mode Mode
	// v1 holds the directory of each v1 controller's hierarchy, "" when the
	// controller is not mounted as v1.
	v1 [numCtrl]string
	// unified is the directory of the unified hierarchy, "" if none.
	unified string
	// fromUnified marks the controllers read from the unified hierarchy.
	fromUnified [numCtrl]bool

	// mu guards buf, the one read buffer all Handles of this Host share, so
	// a thousand containers cost one buffer, not a thousand. Reads through
	// one Host are therefore serialized; a caller wanting parallel reads
	// uses one Host per worker goroutine.
	mu  sync.Mutex
	buf []byte
}

// Detect finds the cgroup layout under root (normally /sys/fs/cgroup; in a
// container with the host's filesystem mounted, e.g. /host/sys/fs/cgroup).
// It looks only at the directory tree, not at the mount table, because the
// root is a parameter:
//   - cgroup.controllers in root: cgroup v2.
//   - otherwise v1: each controller is found in the directory whose name,
//     split at commas, lists it ("cpu" and "cpuacct" may be separate
//     directories or one "cpu,cpuacct" with symlinks), and that holds the
//     controller's files.
//   - v1 plus a "unified" directory with cgroup.controllers: hybrid.
//
// On a hybrid host every resource comes from its v1 controller; the unified
// hierarchy is used for a resource only when its v1 controller is not
// mounted and the unified hierarchy lists it in cgroup.controllers, which is
// how systemd's hybrid mode is set up when it moves a controller to v2.
func Detect(root string) (*Host, error) {
	h := &Host{root: root, buf: make([]byte, 4096)}
	if isFile(filepath.Join(root, "cgroup.controllers")) {
		h.mode, h.unified = ModeV2, root
		for c := range h.fromUnified {
			h.fromUnified[c] = true
		}
		return h, nil
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("cgroups: detect layout under %s: %w", root, err)
	}
	found := false
	for _, e := range entries {
		name := e.Name()
		dir := filepath.Join(root, name)
		if name == "unified" {
			if isFile(filepath.Join(dir, "cgroup.controllers")) {
				h.unified = dir
			}
			continue
		}
		for part := range strings.SplitSeq(name, ",") {
			for c, n := range v1Names {
				if part == n && h.v1[c] == "" && isFile(filepath.Join(dir, v1Marker[c])) {
					h.v1[c] = dir
					found = true
				}
			}
		}
	}
	switch {
	case found && h.unified != "":
		h.mode = ModeHybrid
		avail, err := readControllers(h.unified)
		if err != nil {
			return nil, err
		}
		for c := range h.v1 {
			h.fromUnified[c] = h.v1[c] == "" && avail[v2Names[c]]
		}
	case found:
		h.mode = ModeV1
	case h.unified != "":
		// Only a unified hierarchy, mounted below root: v2 in all but name.
		h.mode = ModeV2
		for c := range h.fromUnified {
			h.fromUnified[c] = true
		}
	default:
		return nil, fmt.Errorf("cgroups: no cgroup v1 or v2 hierarchy under %s: %w", root, fs.ErrNotExist)
	}
	return h, nil
}

// Mode returns the detected layout.
func (h *Host) Mode() Mode { return h.mode }

// Root returns the directory Detect was given.
func (h *Host) Root() string { return h.root }

func readControllers(dir string) (map[string]bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	m := make(map[string]bool)
	for _, f := range strings.Fields(string(b)) {
		m[f] = true
	}
	return m, nil
}

func isFile(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && !fi.IsDir()
}

// isDir reports whether name is a directory; other errors than
// non-existence (say, permission denied) are returned.
func isDir(name string) (bool, error) {
	fi, err := os.Stat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("cgroups: %w", err)
	}
	return fi.IsDir(), nil
}
