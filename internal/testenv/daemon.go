// Package testenv starts a private containerd and runs real runc containers
// for integration tests and the demo.
//
// Everything goes through the containerd and ctr binaries of the host, so the
// tests exercise the same daemon the agent meets in production and need
// nothing from a registry: the busybox image is built locally from the host's
// static busybox. A Daemon owns its root, state and socket; Cleanup removes
// its containers, stops it and deletes all of it, and is safe to call twice.
//
// For the fleet test it also runs the stores that hold a fleet's series:
// Prometheus, and Thanos sidecars and a querier in front of several of them.
// For the Kubernetes objects the project writes it runs a real
// kube-apiserver on etcd, with upstream CRDs, that accepts or refuses them.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BusyboxRef is the reference ImportBusybox gives the local busybox image.
const BusyboxRef = "docker.io/library/busybox:latest"

// BusyboxPath is the static busybox binary that busybox-static installs.
const BusyboxPath = "/bin/busybox"

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 20 * time.Second
)

// Daemon is a containerd process with its own root, state and socket.
type Daemon struct {
	// Dir holds the root and state directories, the config, containerd.log,
	// container logs and the busybox image tar.
	Dir string
	// Socket is the gRPC address for clients (the ttrpc one is Socket+".ttrpc").
	Socket string

	root, state, runcRoot, config, logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd     // nil while not running
	done chan struct{} // closed when cmd has been waited for

	importMu sync.Mutex
	imported map[string]bool // namespaces that hold the busybox image
}

// StartContainerd starts containerd with everything under dir, except the
// socket: unix socket paths are limited to 108 bytes, so it lives in a
// fresh /run/fsct-* directory. The CRI plugin and everything else that would
// want the network or shared host directories is disabled. It returns once
// the daemon answers `ctr version`, and a clear error if containerd or ctr is
// missing.
func StartContainerd(ctx context.Context, dir string) (*Daemon, error) {
	for _, bin := range []string{"containerd", "ctr"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s not found (apt-get install containerd runc busybox-static): %w", bin, err)
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	sockDir, err := os.MkdirTemp("/run", "fsct-")
	if err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	d := &Daemon{
		Dir:      dir,
		Socket:   filepath.Join(sockDir, "containerd.sock"),
		root:     filepath.Join(dir, "root"),
		state:    filepath.Join(dir, "state"),
		runcRoot: filepath.Join(dir, "runc"),
		config:   filepath.Join(dir, "config.toml"),
		logPath:  filepath.Join(dir, "containerd.log"),
		imported: make(map[string]bool),
	}
	if err := d.writeConfig(); err != nil {
		os.RemoveAll(sockDir)
		return nil, err
	}
	if err := d.start(ctx); err != nil {
		// Dir stays for the caller to inspect containerd.log.
		os.RemoveAll(sockDir)
		return nil, err
	}
	return d, nil
}

// writeConfig writes a version 2 config. Disabled plugins: CRI (it wants CNI
// and would manage the k8s.io namespace itself) and opt (it writes to /opt).
// The tasks service of containerd 1.6 needs the v1 runtime, so that stays,
// with its runc root moved under Dir.
func (d *Daemon) writeConfig() error {
	for _, p := range []string{d.root, d.state, d.runcRoot, filepath.Join(d.Dir, "tmp"), filepath.Join(d.Dir, "logs")} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
temp = %q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
]

[grpc]
  address = %q
  tcp_address = ""

[ttrpc]
  address = %q

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = %q
`, d.root, d.state, filepath.Join(d.Dir, "tmp"), d.Socket, d.Socket+".ttrpc", filepath.Join(d.runcRoot, "v1"))
	return os.WriteFile(d.config, []byte(conf), 0o600)
}

// start runs containerd and waits until it answers.
func (d *Daemon) start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil {
		return fmt.Errorf("containerd on %s is already running", d.Socket)
	}
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command("containerd", "--config", d.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group keeps a terminal's Ctrl-C away from the daemon,
	// so the test or demo that owns it can still clean up in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	logf.Close() // the child has its own copy
	if err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	d.cmd, d.done = cmd, done

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		// A fresh socket does not prove the gRPC server is serving yet;
		// a successful round trip does.
		if _, err := d.ctr(ctx, "version"); err == nil {
			return nil
		}
		select {
		case <-done:
			d.cmd, d.done = nil, nil
			return fmt.Errorf("containerd exited during startup (%v); log %s:\n%s", cmd.ProcessState, d.logPath, d.LogTail(20))
		case <-ctx.Done():
			cmd.Process.Kill()
			<-done
			d.cmd, d.done = nil, nil
			return fmt.Errorf("containerd on %s did not answer within %v; log %s:\n%s", d.Socket, startTimeout, d.logPath, d.LogTail(20))
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM and waits for containerd to exit, killing it after 20s.
// The shims and their containers keep running, as in a real daemon restart.
func (d *Daemon) Stop() error { return d.signal(syscall.SIGTERM) }

// Kill sends SIGKILL to containerd, as a crash would. Shims survive.
func (d *Daemon) Kill() error { return d.signal(syscall.SIGKILL) }

func (d *Daemon) signal(sig syscall.Signal) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return nil
	}
	defer func() { d.cmd, d.done = nil, nil }()
	if err := d.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal containerd: %w", err)
	}
	select {
	case <-d.done:
		return nil
	case <-time.After(stopTimeout):
		d.cmd.Process.Kill()
		<-d.done
		return fmt.Errorf("containerd ignored %v for %v and was killed", sig, stopTimeout)
	}
}

// Restart stops containerd if it runs and starts it again on the same root,
// state and socket; running tasks are reconnected to their shims.
func (d *Daemon) Restart(ctx context.Context) error {
	if err := d.Stop(); err != nil {
		return err
	}
	return d.start(ctx)
}

// Running reports whether the daemon process is alive.
func (d *Daemon) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// Pid returns the process id of the running containerd, or 0 when it is not
// running. It changes on Restart. Overhead measurements read the daemon's
// own CPU time through it.
func (d *Daemon) Pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return 0
	}
	return d.cmd.Process.Pid
}

// Ctr runs `ctr --address <socket> args...` and returns its standard output.
// The error includes ctr's standard error.
func (d *Daemon) Ctr(ctx context.Context, args ...string) (string, error) {
	return d.ctr(ctx, args...)
}

func (d *Daemon) ctr(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", d.Socket}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A namespace or snapshotter from the caller's environment must not leak
	// into ours.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "CONTAINERD_")
	})
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// ImportBusybox builds the busybox image from BusyboxPath (once, into Dir) and
// imports it into namespace unless it is already there. It returns the
// image reference.
func (d *Daemon) ImportBusybox(ctx context.Context, namespace string) (string, error) {
	d.importMu.Lock()
	defer d.importMu.Unlock()
	if d.imported[namespace] {
		return BusyboxRef, nil
	}
	out, err := d.ctr(ctx, "-n", namespace, "image", "ls", "-q")
	if err != nil {
		return "", err
	}
	if !slices.Contains(strings.Fields(out), BusyboxRef) {
		tarPath := filepath.Join(d.Dir, "busybox.tar")
		if _, err := os.Stat(tarPath); err != nil {
			if err := writeBusyboxTar(tarPath); err != nil {
				return "", err
			}
		}
		if _, err := d.ctr(ctx, "-n", namespace, "image", "import", tarPath); err != nil {
			return "", err
		}
	}
	d.imported[namespace] = true
	return BusyboxRef, nil
}

func writeBusyboxTar(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".busybox-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriter(f)
	err = BuildBusyboxImage(w, BusyboxPath, BusyboxRef)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	return err
}

// LogTail returns the last n lines of containerd's log, for failure messages.
func (d *Daemon) LogTail(n int) string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Cleanup removes every container in every namespace, stops the daemon,
// kills whatever this daemon's shims left behind, unmounts what remains under
// Dir and removes Dir and the socket directory. It reports problems on
// standard error instead of returning them, because there is nothing a
// caller could do but log them; it is safe to call twice and after Kill.
func (d *Daemon) Cleanup(ctx context.Context) {
	if d == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	warn := func(err error) {
		if err != nil {
			fmt.Fprintf(os.Stderr, "testenv cleanup %s: %v\n", d.Dir, err)
		}
	}
	if _, err := os.Stat(d.config); err == nil {
		// Deleting through containerd keeps its metadata, the snapshots and
		// the cgroups consistent, so bring a killed daemon back for that.
		if !d.Running() {
			warn(d.start(ctx))
		}
		if d.Running() {
			warn(d.removeAll(ctx))
		}
	}
	warn(d.Stop())
	// Last resort for a daemon that could not be reached: runc knows every
	// container it created under our root, and the shims name our socket.
	warn(d.forceDeleteRunc(ctx))
	warn(killProcesses(d.Socket))
	warn(unmountUnder(d.Dir))
	warn(os.RemoveAll(d.Dir))
	warn(os.RemoveAll(filepath.Dir(d.Socket)))
}

// removeAll removes every container of every namespace.
func (d *Daemon) removeAll(ctx context.Context) error {
	out, err := d.ctr(ctx, "namespaces", "ls", "-q")
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range strings.Fields(out) {
		ids, err := d.ctr(ctx, "-n", ns, "containers", "ls", "-q")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range strings.Fields(ids) {
			errs = append(errs, d.Remove(ctx, ns, id))
		}
	}
	return errors.Join(errs...)
}

// forceDeleteRunc deletes, with runc itself, any container still known under
// our runc root (one directory per namespace).
func (d *Daemon) forceDeleteRunc(ctx context.Context) error {
	nss, err := os.ReadDir(d.runcRoot)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	var errs []error
	for _, ns := range nss {
		root := filepath.Join(d.runcRoot, ns.Name())
		ids, err := os.ReadDir(root)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range ids {
			out, err := exec.CommandContext(ctx, "runc", "--root", root, "delete", "--force", id.Name()).CombinedOutput()
			if err != nil {
				errs = append(errs, fmt.Errorf("runc delete %s/%s: %w: %s", ns.Name(), id.Name(), err, bytes.TrimSpace(out)))
			}
		}
	}
	return errors.Join(errs...)
}

// killProcesses SIGKILLs every process whose command line names socket:
// the shims of our daemon (`containerd-shim-runc-v2 ... -address <socket>`).
func killProcesses(socket string) error {
	pids, err := processesWithArg(socket)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return err
}

// processesWithArg returns the pids whose command line has arg as one of its
// arguments.
func processesWithArg(arg string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // exited meanwhile
		}
		if slices.Contains(strings.Split(string(cmdline), "\x00"), arg) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	mounts, err := mountsUnder("/proc/self/mountinfo", dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// mountsUnder returns the mount points at or below dir listed in a
// mountinfo file, longest path first so children go before their parents.
func mountsUnder(mountinfo, dir string) ([]string, error) {
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		return nil, err
	}
	var mounts []string
	for line := range strings.Lines(string(b)) {
		// Field 5 is the mount point, with space, tab, newline and
		// backslash octal-escaped.
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			mounts = append(mounts, mp)
		}
	}
	slices.SortStableFunc(mounts, func(a, b string) int { return len(b) - len(a) })
	return mounts, nil
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// RandomID returns a random 64-hex-character container id, the form
// Kubernetes gives containers and that other tools expect.
func RandomID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
