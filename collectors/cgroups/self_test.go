package cgroups

import (
	"os"
	"path/filepath"
	"testing"
)

func writeSelfTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The agent's own limit is the smallest on its cgroup's path, on v2, on
// v1 (hybrid hosts included) and inside a cgroup namespace.
func TestMemoryLimitOf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  uint64
	}{
		{"v2 own limit", map[string]string{
			"proc":                              "0::/kubepods/pod1/agent\n",
			"fs/kubepods/memory.max":            "max\n",
			"fs/kubepods/pod1/memory.max":       "268435456\n",
			"fs/kubepods/pod1/agent/memory.max": "134217728\n",
		}, 128 << 20},
		{"v2 parent's limit is smaller", map[string]string{
			"proc":                              "0::/kubepods/pod1/agent\n",
			"fs/kubepods/pod1/memory.max":       "67108864\n",
			"fs/kubepods/pod1/agent/memory.max": "max\n",
		}, 64 << 20},
		{"v2 in a cgroup namespace", map[string]string{
			"proc":          "0::/\n",
			"fs/memory.max": "134217728\n",
		}, 128 << 20},
		{"v1 on a hybrid host", map[string]string{
			"proc": "12:pids:/x\n5:memory:/fleetscope-load\n0::/\n",
			"fs/memory/fleetscope-load/memory.limit_in_bytes": "134217728\n",
			"fs/memory/memory.limit_in_bytes":                 "9223372036854771712\n",
		}, 128 << 20},
		{"v1 in a container: the path is the host's", map[string]string{
			"proc":                            "4:cpu,memory:/kubepods/burstable/pod9/abc\n",
			"fs/memory/memory.limit_in_bytes": "134217728\n",
		}, 128 << 20},
		{"no limit", map[string]string{
			"proc":                     "0::/user.slice\n",
			"fs/user.slice/memory.max": "max\n",
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSelfTree(t, dir, tc.files)
			got, err := MemoryLimitOf(filepath.Join(dir, "proc"), filepath.Join(dir, "fs"))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
	dir := t.TempDir()
	writeSelfTree(t, dir, map[string]string{"proc": "0::/a\n", "fs/a/memory.max": "lots\n"})
	if _, err := MemoryLimitOf(filepath.Join(dir, "proc"), filepath.Join(dir, "fs")); err == nil {
		t.Error("garbage in memory.max accepted")
	}
}
