package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

const (
	imageRef = "localhost/fleetscope:image-test"
	version  = "v0.0.0-image-test"
	revision = "0123456789abcdef0123456789abcdef01234567"
)

// The image built from the Dockerfile, run under containerd the way the
// DaemonSet runs it, reports its sibling containers.
func TestImageMonitorsSiblings(t *testing.T) {
	testenv.Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	archive := testenv.BuildAgentImage(t, ctx, testenv.AgentImage{Ref: imageRef, Version: version, Revision: revision})
	checkImageConfig(t, archive)

	d := testenv.Start(t)
	if _, err := d.Ctr(ctx, "image", "import", archive); err != nil {
		t.Fatal(err)
	}
	// The stamped version is the one the binary reports.
	out, err := d.Ctr(ctx, "run", "--rm", imageRef, "fleetscope-version", "/fleetscope", "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, version) {
		t.Errorf("fleetscope version printed %q, want %s in it", out, version)
	}

	siblings := []string{testenv.RandomID(), testenv.RandomID()}
	for _, id := range siblings {
		if _, err := d.Run(ctx, testenv.RunOptions{ID: id, Args: []string{"sleep", "3600"}}); err != nil {
			t.Fatal(err)
		}
	}

	// The DaemonSet's setup: the host's cgroup tree and procfs and
	// containerd's socket directory read-only, a writable state directory,
	// a read-only root filesystem, no capability but CAP_SYS_PTRACE,
	// no-new-privileges (ctr's default) and the host network.
	addr := freeAddr(t)
	stateDir := t.TempDir()
	agentID := "fleetscope-agent"
	args := []string{"run", "-d", "--net-host", "--read-only",
		"--log-uri", "file://" + d.ContainerLog("default", agentID),
		"--mount", "type=bind,src=/sys/fs/cgroup,dst=/host/sys/fs/cgroup,options=rbind:ro",
		"--mount", "type=bind,src=/proc,dst=/host/proc,options=rbind:ro",
		"--mount", "type=bind,src=" + filepath.Dir(d.Socket) + ",dst=/run/containerd,options=rbind:ro",
		"--mount", "type=bind,src=" + stateDir + ",dst=/var/lib/fleetscope,options=rbind:rw",
		"--env", "FLEETSCOPE_HOST_CGROUP_ROOT=/host/sys/fs/cgroup",
		"--env", "FLEETSCOPE_HOST_PROC_ROOT=/host/proc",
		"--env", "FLEETSCOPE_CONTAINERD_SOCKET=/run/containerd/" + filepath.Base(d.Socket),
		"--env", "FLEETSCOPE_WEB_LISTEN_ADDRESS=" + addr,
		"--env", "FLEETSCOPE_HISTORY_STATE_FILE=/var/lib/fleetscope/state.bin",
		"--env", "FLEETSCOPE_SAMPLING_INTERVAL=1s",
		"--env", "FLEETSCOPE_SAMPLING_JITTER=0",
	}
	defaults, err := defaultCapabilities(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range defaults {
		args = append(args, "--cap-drop", c)
	}
	args = append(args, "--cap-add", "CAP_SYS_PTRACE", imageRef, agentID)
	if _, err := d.Ctr(ctx, args...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(d.ContainerLog("default", agentID))
			t.Logf("agent container log:\n%s", tail(string(log), 40))
		}
	})

	var body string
	testenv.Eventually(t, 30*time.Second, "agent ready", func() error {
		code, b, err := get(addr, "/readyz")
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("%d %s", code, b)
		}
		return err
	})
	testenv.Eventually(t, 30*time.Second, "sibling memory series", func() error {
		code, b, err := get(addr, "/metrics")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET /metrics: %d %v", code, err)
		}
		body = b
		for _, id := range siblings {
			v, ok, err := memoryUsage(b, id)
			if err != nil {
				return err
			}
			if !ok || v <= 0 {
				return fmt.Errorf("no positive container_memory_usage_bytes for sibling %s", id)
			}
		}
		return nil
	})
	if !strings.Contains(body, `container_image_name="`+imageRef+`"`) {
		t.Errorf("the agent does not list its own container (image %s) in fleetscope_container_info", imageRef)
	}

	// SIGTERM checkpoints history into the writable mount and exits.
	if _, err := d.Ctr(ctx, "task", "kill", "-s", "SIGTERM", agentID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "agent stopped after SIGTERM", func() error {
		tasks, err := d.Tasks(ctx, "default")
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(tasks, func(t testenv.Task) bool { return t.ID == agentID }); i >= 0 && tasks[i].Status != "STOPPED" {
			return fmt.Errorf("task is %s", tasks[i].Status)
		}
		return nil
	})
	if fi, err := os.Stat(filepath.Join(stateDir, "state.bin")); err != nil || fi.Size() == 0 {
		t.Errorf("no history checkpoint in the state directory after SIGTERM: %v", err)
	}
}

// checkImageConfig reads the image configuration from the OCI archive, as
// containerd will, and checks what the Dockerfile promises.
func checkImageConfig(t *testing.T, archive string) {
	t.Helper()
	blobs, err := readArchive(archive)
	if err != nil {
		t.Fatal(err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(blobs["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v, %d manifests", err, len(index.Manifests))
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(blobs["blobs/sha256/"+index.Manifests[0].Digest.Encoded()], &manifest); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	var img ocispec.Image
	if err := json.Unmarshal(blobs["blobs/sha256/"+manifest.Config.Digest.Encoded()], &img); err != nil {
		t.Fatalf("image config: %v", err)
	}
	c := img.Config
	if !slices.Equal(c.Entrypoint, []string{"/fleetscope"}) || !slices.Equal(c.Cmd, []string{"run"}) {
		t.Errorf("entrypoint %q cmd %q, want [/fleetscope] [run]", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.ExposedPorts["10076/tcp"]; !ok {
		t.Errorf("exposed ports %v, want 10076/tcp", c.ExposedPorts)
	}
	for k, want := range map[string]string{
		ocispec.AnnotationVersion:  version,
		ocispec.AnnotationRevision: revision,
		ocispec.AnnotationTitle:    "fleetscope",
		ocispec.AnnotationSource:   "https://github.com/fleetscope/fleetscope",
	} {
		if got := c.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{ocispec.AnnotationDescription, ocispec.AnnotationLicenses} {
		if c.Labels[k] == "" {
			t.Errorf("label %s is missing", k)
		}
	}
	// Scratch plus two COPYs: nothing of the build stage leaks in.
	if len(manifest.Layers) != 2 {
		t.Errorf("%d layers, want 2 (runtime tree, binary)", len(manifest.Layers))
	}
	var size int64
	for _, l := range manifest.Layers {
		size += l.Size
	}
	t.Logf("image: %d layers, %.1f MiB compressed", len(manifest.Layers), float64(size)/(1<<20))
}

// readArchive returns the small files of an OCI archive (index, manifests,
// configs) by name; layers are skipped.
func readArchive(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files := make(map[string][]byte)
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if h.Typeflag != tar.TypeReg || h.Size > 1<<20 {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, h.Name, err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = b
	}
}

// defaultCapabilities returns the capabilities ctr grants a container
// unless told otherwise, so that the test can drop every one of them.
func defaultCapabilities(ctx context.Context, d *testenv.Daemon) ([]string, error) {
	out, err := d.Ctr(ctx, "oci", "spec")
	if err != nil {
		return nil, err
	}
	var spec struct {
		Process struct {
			Capabilities struct {
				Bounding []string `json:"bounding"`
			} `json:"capabilities"`
		} `json:"process"`
	}
	if err := json.Unmarshal([]byte(out), &spec); err != nil {
		return nil, fmt.Errorf("ctr oci spec: %w", err)
	}
	if len(spec.Process.Capabilities.Bounding) == 0 {
		return nil, fmt.Errorf("ctr oci spec: no bounding capabilities")
	}
	return spec.Process.Capabilities.Bounding, nil
}

// memoryUsage finds container_memory_usage_bytes of container id in a
// /metrics text.
func memoryUsage(text, id string) (float64, bool, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return 0, false, fmt.Errorf("parsing /metrics: %w", err)
	}
	mf := mfs["container_memory_usage_bytes"]
	if mf == nil {
		return 0, false, nil
	}
	for _, m := range mf.Metric {
		for _, lp := range m.Label {
			if lp.GetName() == "container_id" && lp.GetValue() == id && m.Gauge != nil {
				return m.Gauge.GetValue(), true, nil
			}
		}
	}
	return 0, false, nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(addr, path string) (int, string, error) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
