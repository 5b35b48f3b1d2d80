package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ThanosEnv names the Thanos binary the tests run (scripts/thanos.sh
// builds it and prints its path; scripts/test.sh sets it).
const ThanosEnv = "FLEETSCOPE_THANOS"

// readyTimeout bounds how long a server started here may take to answer
// ready: Prometheus replays its WAL, a sidecar waits for its Prometheus.
const readyTimeout = time.Minute

// PrometheusOptions say how StartPrometheus runs Prometheus.
type PrometheusOptions struct {
	// Config is the content of prometheus.yml.
	Config string
	// RemoteWriteReceiver accepts samples on /api/v1/write.
	RemoteWriteReceiver bool
	// DataDir is an existing TSDB directory to open; "" means a new one
	// under t.TempDir().
	DataDir string
}

// Prometheus is a server started by StartPrometheus.
type Prometheus struct {
	URL     string // http://127.0.0.1:port
	DataDir string
}

// StartPrometheus runs Debian's Prometheus on 127.0.0.1 with o's
// configuration, waits until it is ready and stops it when t ends. Without
// a prometheus binary it skips t, or fails it when
// FLEETSCOPE_INTEGRATION=1.
func StartPrometheus(t testing.TB, o PrometheusOptions) *Prometheus {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv(IntegrationEnv) == "1" {
			t.Fatalf("%s=1 but no prometheus binary (apt-get install prometheus): %v", IntegrationEnv, err)
		}
		t.Skip("no prometheus binary (apt-get install prometheus)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(o.Config), 0o644); err != nil {
		t.Fatal(err)
	}
	data := o.DataDir
	if data == "" {
		data = filepath.Join(dir, "data")
	}
	var url string
	startServer(t, "prometheus", bin, filepath.Join(dir, "prometheus.log"), nil, func() ([]string, string, []string) {
		addr := freeAddr(t)
		url = "http://" + addr
		args := []string{"--config.file=" + cfg, "--storage.tsdb.path=" + data,
			"--web.listen-address=" + addr, "--log.level=warn"}
		if o.RemoteWriteReceiver {
			args = append(args, "--web.enable-remote-write-receiver")
		}
		return args, url + "/-/ready", nil
	})
	return &Prometheus{URL: url, DataDir: data}
}

// ThanosBinary returns the path in FLEETSCOPE_THANOS. When it is unset it
// skips t, or fails it when FLEETSCOPE_INTEGRATION=1.
func ThanosBinary(t *testing.T) string {
	t.Helper()
	return toolBinary(t, ThanosEnv, "Thanos", "./scripts/thanos.sh")
}

// toolBinary returns the path of a tool a script builds, from the
// environment variable env. When env is unset it skips t, or fails it when
// FLEETSCOPE_INTEGRATION=1.
func toolBinary(t testing.TB, env, what, script string) string {
	t.Helper()
	bin := os.Getenv(env)
	if bin == "" {
		how := "set " + env + " to the path " + script + " prints (it builds " + what + " once per machine)"
		if os.Getenv(IntegrationEnv) == "1" {
			t.Fatalf("%s=1 but no %s: %s", IntegrationEnv, what, how)
		}
		t.Skip("no " + what + ": " + how)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v (%s builds it)", env, err, script)
	}
	return bin
}

// StartThanosSidecar runs a Thanos sidecar for the Prometheus at
// prometheusURL, which must have external labels (a sidecar refuses a
// Prometheus without them, as they tell its series from other stores'),
// and returns the address of its Store API (gRPC). Nothing is uploaded:
// the sidecar serves what the Prometheus holds.
func StartThanosSidecar(t *testing.T, prometheusURL string) string {
	t.Helper()
	bin := ThanosBinary(t)
	dir := t.TempDir()
	var grpcAddr string
	startServer(t, "thanos sidecar", bin, filepath.Join(dir, "sidecar.log"), nil, func() ([]string, string, []string) {
		httpAddr := freeAddr(t)
		grpcAddr = freeAddr(t)
		return []string{"sidecar", "--prometheus.url=" + prometheusURL, "--tsdb.path=" + dir,
				"--http-address=" + httpAddr, "--grpc-address=" + grpcAddr, "--log.level=warn"},
			"http://" + httpAddr + "/-/ready", []string{grpcAddr}
	})
	return grpcAddr
}

// StartThanosQuery runs a Thanos querier over the Store APIs at
// storeGRPCAddrs and returns its HTTP URL, the Prometheus HTTP API of all
// of them, once it has found every one. Partial responses are off: a store
// that fails a query fails the answer, rather than leaving its series out
// of it.
func StartThanosQuery(t *testing.T, storeGRPCAddrs ...string) string {
	t.Helper()
	bin := ThanosBinary(t)
	dir := t.TempDir()
	var sd strings.Builder
	sd.WriteString("endpoints:\n")
	for _, a := range storeGRPCAddrs {
		fmt.Fprintf(&sd, "  - address: %q\n", a)
	}
	logPath := filepath.Join(dir, "query.log")
	var url string
	startServer(t, "thanos query", bin, logPath, nil, func() ([]string, string, []string) {
		httpAddr, grpcAddr := freeAddr(t), freeAddr(t)
		url = "http://" + httpAddr
		return []string{"query", "--http-address=" + httpAddr, "--grpc-address=" + grpcAddr,
				"--endpoint.sd-config=" + sd.String(), "--no-query.partial-response", "--log.level=warn"},
			url + "/-/ready", []string{grpcAddr}
	})
	// Ready means serving, not that the endpoints have answered the
	// querier's first health check: until then a query sees none of them.
	deadline := time.Now().Add(readyTimeout)
	for {
		missing, err := missingStores(url, storeGRPCAddrs)
		if err == nil && len(missing) == 0 {
			return url
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("no healthy store at %s", strings.Join(missing, ", "))
			}
			t.Fatalf("thanos query at %s: %v after %s\nthanos query log (tail):\n%s", url, err, readyTimeout, logTail(logPath, 30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// missingStores returns the addrs that the querier at url does not list
// as healthy stores in /api/v1/stores.
func missingStores(url string, addrs []string) ([]string, error) {
	resp, err := http.Get(url + "/api/v1/stores")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/api/v1/stores: %s", resp.Status)
	}
	var body struct {
		Data map[string][]struct {
			Name      string  `json:"name"`
			LastError *string `json:"lastError"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("/api/v1/stores: %v", err)
	}
	healthy := map[string]bool{}
	for _, stores := range body.Data {
		for _, s := range stores {
			if s.LastError == nil {
				healthy[s.Name] = true
			}
		}
	}
	var missing []string
	for _, a := range addrs {
		if !healthy[a] {
			missing = append(missing, a)
		}
	}
	return missing, nil
}

// errPortTaken is a server that exited because a port it was given was
// taken between FreeAddr's check and its bind: parallel tests and outgoing
// connections draw from the same range.
var errPortTaken = errors.New("a port was taken before the server bound it")

// startServer runs bin with the arguments args makes from fresh ports,
// its output appended to logPath, and waits until the URL args returns
// answers 200 to client (nil: a plain one without credentials) and its
// other ports (dial) accept connections. A server that exits because a
// port was taken is started again with new ones, up to three times. The
// process is killed and waited for when t ends, and the end of its log is
// logged if t failed.
func startServer(t testing.TB, name, bin, logPath string, client *http.Client, args func() (argv []string, readyURL string, dial []string)) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		argv, ready, dial := args()
		err := tryServer(t, name, bin, logPath, client, argv, ready, dial)
		if err == nil {
			return
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatalf("%s: %v\n%s log (tail):\n%s", name, err, name, logTail(logPath, 30))
		}
		t.Logf("%s, attempt %d: %v; again with new ports", name, attempt, err)
	}
}

func tryServer(t testing.TB, name, bin, logPath string, client *http.Client, argv []string, readyURL string, dial []string) error {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, argv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Second}
	}
	isReady := func() bool {
		resp, err := client.Get(readyURL)
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		for _, addr := range dial {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	}
	exitErr := func() error {
		if strings.Contains(logTail(logPath, 30), "address already in use") {
			return fmt.Errorf("%w (%v)", errPortTaken, waitErr)
		}
		return fmt.Errorf("exited before it was ready: %v", waitErr)
	}
	deadline := time.Now().Add(readyTimeout)
	for !isReady() {
		select {
		case <-exited:
			return exitErr()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("not ready at %s after %s", readyURL, readyTimeout)
		}
	}
	// A port another process took answers as well, while this one exits
	// for want of it: look once more, a moment later.
	select {
	case <-exited:
		return exitErr()
	case <-time.After(100 * time.Millisecond):
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, logTail(logPath, 30))
		}
	})
	return nil
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) == 0 {
		return "(empty)"
	}
	return tail(string(b), n)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
