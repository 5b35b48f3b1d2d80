package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// AgentImage names the agent image BuildAgentImage makes.
type AgentImage struct {
	Ref               string // e.g. localhost/fleetscope:image-test
	Version, Revision string // build arguments of the Dockerfile
}

// buildBaseRef is the Dockerfile's build stage, made from this machine's Go
// by packaging/image/build-base.sh.
const buildBaseRef = "localhost/fleetscope-build-base:test"

// BuildAgentImage builds the repository's Dockerfile with podman or buildah
// on a storage of its own, without network (modules come from the module
// cache through a file:// GOPROXY), and returns the path of an OCI archive
// of the image that `ctr image import` takes. The storage goes when t ends.
// It skips t when neither tool is installed, or fails it under
// FLEETSCOPE_INTEGRATION=1.
func BuildAgentImage(t *testing.T, ctx context.Context, img AgentImage) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Clean(filepath.Join(filepath.Dir(file), "../.."))
	b := newBuilder(t, img.Ref)

	if out, err := exec.CommandContext(ctx, "go", "mod", "download").CombinedOutput(); err != nil {
		t.Fatalf("go mod download: %v\n%s", err, out)
	}
	modCache := goEnv(t, "GOMODCACHE")

	start := time.Now()
	b.run(ctx, filepath.Join(repo, "packaging/image/build-base.sh"), buildBaseRef)
	baseTime := time.Since(start)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	b.run(ctx, b.tool, "build", "--network", "none",
		// The tools raise RLIMIT_NOFILE in RUN steps to a default that a
		// restricted root may not reach; the current limit always works.
		"--ulimit", fmt.Sprintf("nofile=%d:%d", lim.Cur, lim.Max),
		"--volume", filepath.Join(modCache, "cache/download")+":/goproxy:ro",
		"--build-arg", "GO_IMAGE="+buildBaseRef,
		"--build-arg", "GOPROXY=file:///goproxy",
		"--build-arg", "GOFLAGS=-mod=readonly",
		"--build-arg", "VERSION="+img.Version,
		"--build-arg", "REVISION="+img.Revision,
		"-f", filepath.Join(repo, "Dockerfile"), "-t", img.Ref, repo)
	t.Logf("build stage image made in %v, agent image built in %v", baseTime.Round(time.Second), time.Since(start).Round(time.Second))

	archive := filepath.Join(t.TempDir(), "fleetscope.oci.tar")
	b.run(ctx, b.tool, "push", img.Ref, "oci-archive:"+archive+":"+img.Ref)
	return archive
}

// builder runs podman or buildah on a storage of its own under a temporary
// directory, so the test neither sees nor leaves images in the host's.
type builder struct {
	refs []string // images made, removed by cleanup
	t    *testing.T
	tool string
	env  []string
}

func newBuilder(t *testing.T, ref string) *builder {
	t.Helper()
	var tool string
	for _, name := range []string{"podman", "buildah"} {
		if p, err := exec.LookPath(name); err == nil {
			tool = p
			break
		}
	}
	if tool == "" {
		msg := "neither podman nor buildah found: apt-get install podman"
		if os.Getenv(IntegrationEnv) == "1" {
			t.Fatalf("%s=1 but %s", IntegrationEnv, msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "storage.conf")
	conf := fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(dir, "graph"), filepath.Join(dir, "run"))
	if err := os.WriteFile(storage, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// Hosts without systemd as PID 1 have neither systemd cgroups nor the
	// journal.
	containers := filepath.Join(dir, "containers.conf")
	conf = "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
	if err := os.WriteFile(containers, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b := &builder{t: t, tool: tool, refs: []string{ref, buildBaseRef}, env: append(os.Environ(),
		"CONTAINERS_STORAGE_CONF="+storage,
		"CONTAINERS_CONF="+containers,
		"CONTAINER_TOOL="+tool,
		"TMPDIR="+tmp,
	)}
	t.Cleanup(b.cleanup)
	return b
}

// run runs a command with the builder's environment and fails the test
// with its output if it fails.
func (b *builder) run(ctx context.Context, name string, args ...string) string {
	b.t.Helper()
	out, err := b.output(ctx, name, args...)
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}

func (b *builder) output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = b.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s\n%s", filepath.Base(name), strings.Join(args, " "), err, tail(string(out), 30), tail(stderr.String(), 30))
	}
	return string(out), nil
}

// cleanup removes the images, then every build container and layer left
// in the private storage (a failed build leaves some), and unmounts what
// remains before the temporary directory goes.
func (b *builder) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, args := range [][]string{
		append([]string{"rmi", "--force"}, b.refs...),
		{"rm", "--all"},
		{"rmi", "--all", "--force"},
	} {
		if args[0] == "rm" && filepath.Base(b.tool) == "podman" {
			args = []string{"rm", "--all", "--force"}
		}
		if _, err := b.output(ctx, b.tool, args...); err != nil && !strings.Contains(err.Error(), "image not known") {
			b.t.Logf("cleanup: %v", err)
		}
	}
	if out, err := b.output(ctx, b.tool, "images", "--quiet"); err != nil || strings.TrimSpace(out) != "" {
		b.t.Errorf("cleanup left images in the test storage: %q %v", out, err)
	}
	for _, kv := range b.env {
		if dir, ok := strings.CutPrefix(kv, "CONTAINERS_STORAGE_CONF="); ok {
			unmountUnder(filepath.Dir(dir))
		}
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go env %s: %q %v", name, out, err)
	}
	return strings.TrimSpace(string(out))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
