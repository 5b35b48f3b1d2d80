package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// MemoryLimitOf returns the memory limit that applies to the process
// whose cgroup membership file (/proc/<pid>/cgroup) is procCgroup, in
// bytes: the smallest limit on its memory cgroup and the cgroups above
// it, under root as the process sees the tree (/sys/fs/cgroup). Zero means
// no limit. It reads cgroup v2 (memory.max) and v1 (the memory
// controller's memory.limit_in_bytes).
//
// Inside a container with a cgroup namespace the membership file says "/"
// and root is the container's own cgroup; without one (cgroup v1
// containers), the path it names does not exist under the container's
// mount, whose root is then the container's own cgroup too.
func MemoryLimitOf(procCgroup, root string) (uint64, error) {
	f, err := os.Open(procCgroup)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var v1, v2 string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		ctrls, p, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		switch {
		case id == "0" && ctrls == "":
			v2 = p
		case hasController(ctrls, "memory"):
			v1 = p
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", procCgroup, err)
	}
	switch {
	case v1 != "":
		return smallestLimit(filepath.Join(root, "memory"), v1, "memory.limit_in_bytes", parseV1Limit)
	case v2 != "":
		return smallestLimit(root, v2, "memory.max", parseMax)
	}
	return 0, nil
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// smallestLimit walks from the cgroup p up to the mount's root, taking the
// smallest limit set (zero: none).
func smallestLimit(mount, p, file string, parse func([]byte) (uint64, error)) (uint64, error) {
	p = path.Clean("/" + p)
	if _, err := os.Stat(filepath.Join(mount, p)); err != nil {
		p = "/"
	}
	var limit uint64
	for {
		b, err := os.ReadFile(filepath.Join(mount, p, file))
		if err == nil {
			v, perr := parse(b)
			if perr != nil {
				return 0, fmt.Errorf("%s: %w", filepath.Join(mount, p, file), perr)
			}
			if v > 0 && (limit == 0 || v < limit) {
				limit = v
			}
		}
		// The root cgroup has no limit file: its absence is normal.
		if p == "/" {
			return limit, nil
		}
		p = path.Dir(p)
	}
}
