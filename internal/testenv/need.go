package testenv

import (
	"context"
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Requirements reports why this machine can't run the integration tests, or
// "" if it can.
func Requirements() string {
	if os.Geteuid() != 0 {
		return "integration tests need root (sudo ./scripts/test.sh)"
	}
	var missing []string
	for _, bin := range []string{"containerd", "ctr", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if _, err := os.Stat(BusyboxPath); err != nil {
		missing = append(missing, BusyboxPath)
	}
	if len(missing) > 0 {
		return fmt.Sprintf("%s not found: apt-get install containerd runc busybox-static", strings.Join(missing, ", "))
	}
	if static, err := isStatic(BusyboxPath); err != nil {
		return fmt.Sprintf("%s: %v", BusyboxPath, err)
	} else if !static {
		return BusyboxPath + " is dynamically linked and won't run in the image: apt-get install busybox-static"
	}
	return ""
}

// IntegrationEnv is the environment variable that turns a missing
// requirement from a skip into a failure, so that CI never counts a skipped
// integration test as a pass.
const IntegrationEnv = "FLEETSCOPE_INTEGRATION"

// Need skips t when Requirements reports a problem, or fails it when
// FLEETSCOPE_INTEGRATION=1. Without that variable, -short skips as well.
func Need(t testing.TB) {
	t.Helper()
	reason := Requirements()
	if os.Getenv(IntegrationEnv) == "1" {
		if reason != "" {
			t.Fatalf("%s=1 but %s", IntegrationEnv, reason)
		}
		return
	}
	if reason == "" && testing.Short() {
		reason = "integration test skipped in -short mode"
	}
	if reason != "" {
		t.Skip(reason)
	}
}

// Start calls Need, starts a daemon in a fresh temporary directory and
// registers its Cleanup. If the test fails, the end of containerd's log is
// logged first.
func Start(t testing.TB) *Daemon {
	t.Helper()
	Need(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := StartContainerd(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd log (%s):\n%s", d.logPath, d.LogTail(40))
		}
		// The test's context is already cancelled when cleanups run.
		d.Cleanup(context.Background())
	})
	return d
}

// isStatic reports whether the ELF binary at path has no program
// interpreter, i.e. runs in an image without a dynamic loader.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago, for an agent or tool started by a test, the demo or a measurement.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Eventually calls cond until it returns nil or timeout passes, then fails
// t with what and cond's last error.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}
