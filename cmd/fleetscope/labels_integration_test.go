package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// labelFloodBound is the memory the agent may reach while containers carry
// label floods: below the Go runtime's soft limit in the chart's 128 MiB
// (96 MiB, the limit less a quarter), with a sixth of it to spare. Alone
// the flood peaks at 47–58 MiB; on a CI machine loaded by the other tests
// (6–9 ms scrapes instead of 0.5 ms) the collector lags and one run
// reached 64 MiB, where the bound was first set.
const labelFloodBound = 80 << 20

// addLabels sets labels on a container with `ctr containers label`, in
// calls that each stay well under the kernel's bound on a command line
// (2 MiB with the default 8 MiB stack). Every call is a containerd update,
// whose event carries the container's whole label set to subscribers.
func addLabels(ctx context.Context, d *testenv.Daemon, ns, id string, labels []string) error {
	const maxArgs = 1 << 20
	for len(labels) > 0 {
		args := []string{"-n", ns, "containers", "label", id}
		size := 0
		for len(labels) > 0 && size+len(labels[0]) < maxArgs {
			args = append(args, labels[0])
			size += len(labels[0]) + 1
			labels = labels[1:]
		}
		if _, err := d.Ctr(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// rssWatch samples pid's RSS every 20 ms until stopped, keeping the peak.
type rssWatch struct {
	peak atomic.Int64
	stop chan struct{}
	done sync.WaitGroup
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{stop: make(chan struct{})}
	w.done.Go(func() {
		for {
			if r, err := rssOf(pid); err == nil && r > w.peak.Load() {
				w.peak.Store(r)
			}
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	return w
}

func (w *rssWatch) Stop() int64 {
	close(w.stop)
	w.done.Wait()
	return w.peak.Load()
}

// timedScrape returns how long a full GET /metrics took, and the body.
func timedScrape(a *agentProc) (time.Duration, string, error) {
	start := time.Now()
	code, body, err := a.get("/metrics")
	took := time.Since(start)
	if err == nil && code != 200 {
		err = fmt.Errorf("status %d", code)
	}
	return took, body, err
}

// Label floods, as a tenant with access to containerd's API would set
// them, against the real binary in the chart's 128 MiB memory limit:
// eight containers with 3,500 labels of about 4 KB each (containerd
// accepts up to 4 KiB a label: 14 MB of labels per container, near its
// 16 MiB message bound), set while the agent runs (each update sends the
// whole set in an event) and present again when it restarts; and one
// container with 40,000 allow-listed labels. The agent must stay alive and
// under labelFloodBound, keep only the labels it needs (at most 64 allow-listed per
// container), answer /metrics quickly, and restart fine.
func TestLabelFlood(t *testing.T) {
	testenv.Need(t)
	t.Parallel()
	d := testenv.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	const floods, floodLabels, wideLabels = 8, 3500, 40_000
	ids := make([]string, floods)
	for i := range ids {
		ids[i] = testenv.RandomID()
		if _, err := d.Run(ctx, testenv.RunOptions{Namespace: "default", ID: ids[i], Args: []string{"sleep", "3600"},
			Labels: map[string]string{"app": fmt.Sprintf("flood-%d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	wide := testenv.RandomID()
	if _, err := d.Run(ctx, testenv.RunOptions{Namespace: "default", ID: wide, Args: []string{"sleep", "3600"},
		Labels: map[string]string{"app": "wide"}}); err != nil {
		t.Fatal(err)
	}

	// Both kinds of labels are allow-listed: the bounds must hold for
	// labels the agent would export, not only for ones it ignores.
	stateDir := t.TempDir()
	extra := "export:\n  container_labels: [\"app\", \"flood.example/*\", \"team.example/*\"]\n" +
		"history:\n  state_file: " + filepath.Join(stateDir, "state.bin") + "\n"
	a := startAgentIn(t, d.Socket, extra, newMemoryCgroup(t, chartMemoryLimit))
	a.waitReady(t)
	w := watchRSS(a.cmd.Process.Pid)

	value := strings.Repeat("v", 4000)
	floodSet := make([]string, floodLabels)
	for i := range floodSet {
		floodSet[i] = fmt.Sprintf("flood.example/%04d=%s", i, value)
	}
	start := time.Now()
	for _, id := range ids {
		if err := addLabels(ctx, d, "default", id, floodSet); err != nil {
			t.Fatalf("labelling %s: %v", id, err)
		}
	}
	wideSet := make([]string, wideLabels)
	for i := range wideSet {
		wideSet[i] = fmt.Sprintf("team.example/%05d=v", i)
	}
	if err := addLabels(ctx, d, "default", wide, wideSet); err != nil {
		t.Fatalf("labelling %s: %v", wide, err)
	}
	t.Logf("labels set in %v: %d × %d labels of %d bytes, 1 × %d small ones", time.Since(start).Round(time.Millisecond),
		floods, floodLabels, len(floodSet[0]), wideLabels)
	if out, err := d.Ctr(ctx, "-n", "default", "containers", "info", ids[0]); err != nil || len(out) < floodLabels*4000 {
		t.Fatalf("containerd did not keep the labels: %d bytes of info, %v", len(out), err)
	}

	// The agent re-reads each record on its update event: wait for the
	// last one's labels, then scrape.
	var body string
	testenv.Eventually(t, time.Minute, "the wide container's labels", func() error {
		_, b, err := timedScrape(a)
		if err != nil {
			return err
		}
		body = b
		if !strings.Contains(body, `container_label_team_example_00000="v"`) {
			return fmt.Errorf("not on /metrics yet")
		}
		return nil
	})
	if a.cmd.ProcessState != nil {
		t.Fatalf("the agent exited: %v", a.cmd.ProcessState)
	}
	var scrapes []time.Duration
	for range 5 {
		took, b, err := timedScrape(a)
		if err != nil {
			t.Errorf("GET /metrics: %v", err)
			continue
		}
		scrapes = append(scrapes, took)
		body = b
	}
	peak := w.Stop()
	t.Logf("peak RSS %d MiB while labelling (bound %d MiB); scrapes %v, %d bytes", peak>>20, labelFloodBound>>20, scrapes, len(body))
	if peak > labelFloodBound {
		t.Errorf("RSS reached %d MiB, bound %d MiB", peak>>20, labelFloodBound>>20)
	}
	for _, s := range scrapes {
		if s > time.Second {
			t.Errorf("a scrape took %v", s)
		}
	}
	checkLabelBounds(t, body, append(ids, wide))
	if log, _ := os.ReadFile(a.log); !strings.Contains(string(log), "container labels over the bounds") {
		t.Error("the agent did not report the containers whose labels were cut")
	}

	// A restart lists every record at once: the same bounds hold.
	stopAgent(t, a)
	logProblems(t, a)
	b := startAgentIn(t, d.Socket, extra, newMemoryCgroup(t, chartMemoryLimit))
	w = watchRSS(b.cmd.Process.Pid)
	restart := time.Now()
	b.waitReady(t)
	testenv.Eventually(t, 30*time.Second, "the containers after the restart", func() error {
		_, got, err := timedScrape(b)
		if err != nil {
			return err
		}
		body = got
		if !strings.Contains(body, `container_label_team_example_00000="v"`) {
			return fmt.Errorf("not on /metrics yet")
		}
		return nil
	})
	took, body, err := timedScrape(b)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	peak = w.Stop()
	t.Logf("restarted in %v; peak RSS %d MiB; scrape %v", time.Since(restart).Round(time.Millisecond), peak>>20, took)
	if peak > labelFloodBound {
		t.Errorf("RSS reached %d MiB after the restart, bound %d MiB", peak>>20, labelFloodBound>>20)
	}
	if took > time.Second {
		t.Errorf("a scrape took %v after the restart", took)
	}
	checkLabelBounds(t, body, append(ids, wide))
	stopAgent(t, b)
	logProblems(t, b)
}

// logProblems logs the agent's warnings and errors other than the
// expected ones about cut labels.
func logProblems(t *testing.T, a *agentProc) {
	t.Helper()
	data, _ := os.ReadFile(a.log)
	for l := range strings.Lines(string(data)) {
		if (strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`)) && !strings.Contains(l, "container labels over the bounds") {
			t.Logf("agent: %s", strings.TrimSpace(l))
		}
	}
}

// checkLabelBounds checks that each container's info series carries at
// most MaxLabels (64) labels of its own and none longer than 1 KiB.
func checkLabelBounds(t *testing.T, body string, ids []string) {
	t.Helper()
	for _, id := range ids {
		var line string
		for l := range strings.Lines(body) {
			if strings.HasPrefix(l, "fleetscope_container_info{") && strings.Contains(l, `container_id="`+id+`"`) {
				line = l
			}
		}
		if line == "" {
			t.Errorf("no info series for %s", id[:12])
			continue
		}
		n := strings.Count(line, "container_label_")
		if n < 2 || n > 64 {
			t.Errorf("%s: %d labels on its info series, want 2 to 64", id[:12], n)
		}
		if len(line) > 64*(1024+64)+4096 {
			t.Errorf("%s: an info line of %d bytes", id[:12], len(line))
		}
	}
}

// State-file tricks against the real binary: a 4 GiB sparse file where the
// checkpoint should be is refused by its size (unread) and moved aside, so
// the agent starts at once and its next checkpoint replaces it; a symbolic
// link as the state directory is neither read nor written through, and
// the agent still runs.
func TestStateFileTricks(t *testing.T) {
	testenv.Need(t)
	t.Parallel()
	d := testenv.Start(t)

	t.Run("sparse", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "state.bin")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("FSHISTRY\x06\x00\x00\x00")
		if err := f.Truncate(4 << 30); err != nil {
			t.Skipf("no sparse files: %v", err)
		}
		f.Close()
		binary(t) // built before the clock starts
		start := time.Now()
		a := startAgent(t, d.Socket, "history:\n  state_file: "+path+"\n")
		a.waitReady(t)
		took := time.Since(start)
		t.Logf("ready %v after start with a 4 GiB state file", took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("ready after %v", took)
		}
		stopAgent(t, a)
		log, _ := os.ReadFile(a.log)
		if !strings.Contains(string(log), "moved aside") || !strings.Contains(string(log), path) {
			t.Errorf("the log does not say the file was moved aside:\n%s", log)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Size() > 1<<20 {
			t.Errorf("the shutdown checkpoint did not replace the file: %v, %v", fi, err)
		}
		aside, _ := filepath.Glob(path + ".corrupt-*")
		if len(aside) != 1 {
			t.Errorf("moved-aside files: %v", aside)
		}
	})

	t.Run("linked directory", func(t *testing.T) {
		root := t.TempDir()
		target := filepath.Join(root, "elsewhere")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(root, "state")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		a := startAgent(t, d.Socket, "history:\n  state_file: "+filepath.Join(link, "state.bin")+"\n  checkpoint_interval: 2s\n")
		a.waitReady(t)
		t.Logf("ready %v after start with a linked state directory", time.Since(start).Round(time.Millisecond))
		time.Sleep(3 * time.Second) // a periodic checkpoint is due
		stopAgent(t, a)
		if entries, err := os.ReadDir(target); err != nil || len(entries) != 0 {
			t.Errorf("the agent wrote through the link: %v, %v", entries, err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Error("the link was replaced")
		}
		log, _ := os.ReadFile(a.log)
		if !strings.Contains(string(log), "symbolic link") {
			t.Errorf("the log does not report the link:\n%s", log)
		}
	})
}
