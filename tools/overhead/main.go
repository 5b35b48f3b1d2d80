// Command overhead measures what the Fleetscope agent costs on a real host:
// its CPU time, resident memory, /metrics size and scrape cost while it
// watches N real containers, next to the CPU time containerd and its shims
// spend in the same window, so the result reads as "the agent costs x% of a
// core, or y times what containerd costs to run the same containers".
//
// Every container is real: it starts a private containerd and runs busybox
// containers in namespace k8s.io, each with its own runc shim, cgroups and
// process (a few of them burn a little CPU, the rest sleep), with
// Kubernetes-like labels. Containers start four at a time, each within two
// minutes; a thousand take several minutes and about 5 MiB of memory each
// (shim and container together). For each requested N it:
//
//  1. adds containers until N run (containers are reused for the next N),
//  2. lets the host settle for 10 s,
//  3. starts the agent and waits until it reports all N running containers,
//     then one more sample interval, so start-up and discovery are excluded,
//  4. measures over the window: utime+stime of the agent process, of
//     containerd and of its shims (from /proc/<pid>/stat), the agent's
//     VmRSS, and one scrape of /metrics every -scrape interval, as
//     Prometheus would, with the agent's CPU time during each scrape; from
//     each scrape of the agent it also reads the lag of its latest sampling
//     tick and its overrun counter,
//  5. reads containerd's RSS and the shims' PSS, and stops the agent with
//     SIGTERM.
//
// The agent exports the lag of its latest tick only, so to see most ticks
// it is scraped every -lag-every instead, by default every sample interval
// when a scrape every -scrape would see fewer than one tick in five (as with
// -interval 1s). Those scrapes cost the agent CPU; the report says how much.
//
// Right after the agent, the floor process is measured the same way (unless
// -floor=false): this command re-run as a minimal reader that preads, with
// kept-open descriptors and through the agent's own collectors, exactly the
// files the agent reads for the same containers at the same interval, and
// nothing else (see floor.go). The agent's CPU over the floor's is the
// agent's cost beyond the kernel's work of rendering those files.
//
// With -pods the containers form pods as on a Kubernetes node: a sandbox
// running sleep plus one to three app containers that join its network
// namespace, with the CRI labels (io.cri-containerd.kind sandbox or
// container) and the io.kubernetes.cri.sandbox-id annotation; N counts the
// sandboxes too. Without it every container has a network namespace of its
// own.
//
// With -cadvisor, cAdvisor is measured the same way after them, in its own
// window against the same containers, so no two subjects compete for the
// CPU and each has its own containerd baseline. -cadvisor-config picks how
// it runs: "kubelet" as the kubelet runs its embedded cAdvisor, with
// dynamic housekeeping between 10 s and 15 s,
//
//	cadvisor -listen_ip 127.0.0.1 -port P -housekeeping_interval 10s
//	  -max_housekeeping_interval 15s -allow_dynamic_housekeeping=true
//	  -containerd <socket> -containerd-namespace k8s.io -docker_only=false
//
// "fixed" with a fixed housekeeping interval equal to the agent's
// (-housekeeping_interval <interval> -allow_dynamic_housekeeping=false), or
// "both", one window each. Whatever -cadvisor-args adds comes last (a later
// flag overrides an earlier one). cAdvisor only recognises containerd
// containers whose id is 64 hex characters, which is what this command uses.
//
// Everything it started is removed at the end, also on Ctrl-C. It needs root:
//
//	sudo go run ./tools/overhead -containers 55,205,1000 -window 3m -out overhead.md
//	sudo go run ./tools/overhead -containers 1000 -interval 1s -window 10m
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// namespace is where the containers run, the namespace Kubernetes uses.
const namespace = "k8s.io"

const (
	settleTime       = 10 * time.Second
	discoveryTimeout = 3 * time.Minute
	stopTimeout      = 15 * time.Second
	startWorkers     = 4
	removeWorkers    = 8
	removeBatch      = 25
	cleanupTimeout   = 10 * time.Minute
	// runTimeout bounds one container's start, so one stuck ctr can't hang
	// a run of a thousand.
	runTimeout = 2 * time.Minute
)

// busyScript wakes up five times a second and counts to 2000 in the shell:
// a few milliseconds of CPU each time, so the containers have activity to
// sample without loading the host.
const busyScript = `while :; do sleep 0.2; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; done`

type options struct {
	counts       []int
	window       time.Duration
	interval     time.Duration
	scrapeEvery  time.Duration
	lagEvery     time.Duration
	busy         int
	pods         bool
	floor        bool
	fleetscope   string
	cadvisor     string
	cadvisorConf []string // "kubelet", "fixed"
	cadvisorArgs []string
	out          string
	profile      string
	profileFor   time.Duration
	procRoot     string
	cgroupRoot   string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == floorArg {
		if err := floorMain(os.Args[2:]); err != nil {
			fatalf("%v", err)
		}
		return
	}
	var o options
	counts := flag.String("containers", "55,205", "comma-separated container counts; each is measured separately, containers are reused")
	flag.DurationVar(&o.window, "window", 3*time.Minute, "measurement window per count")
	flag.DurationVar(&o.interval, "interval", 10*time.Second, "the agent's sample interval (and cAdvisor's housekeeping interval)")
	flag.DurationVar(&o.scrapeEvery, "scrape", 15*time.Second, "scrape /metrics this often during the window, as Prometheus would")
	flag.DurationVar(&o.lagEvery, "lag-every", 0, "scrape the agent this often instead, to sample its tick lag (0: every -interval if that is at most a fifth of -scrape, else never)")
	flag.IntVar(&o.busy, "busy", 5, "how many of the containers burn a little CPU; the rest sleep")
	flag.BoolVar(&o.pods, "pods", false, "containers form pods: a sandbox plus one to three app containers sharing its network namespace (default: a network namespace per container)")
	flag.BoolVar(&o.floor, "floor", true, "also measure the floor process: a bare reader of the files the agent reads")
	flag.StringVar(&o.fleetscope, "fleetscope", "", "fleetscope binary (default: build ./cmd/fleetscope)")
	flag.StringVar(&o.cadvisor, "cadvisor", "", "cAdvisor binary; if set, cAdvisor is measured the same way after the agent")
	cadvisorConf := flag.String("cadvisor-config", "kubelet", "how cAdvisor runs: kubelet (dynamic housekeeping, 10s to 15s), fixed (every -interval) or both")
	cadvisorArgs := flag.String("cadvisor-args", "", "extra space-separated flags for cAdvisor")
	flag.StringVar(&o.out, "out", "", "also write the results as a markdown file")
	flag.StringVar(&o.profile, "profile", "", "after each window, save a CPU profile (see -profile-for) and a heap profile of the agent in this directory")
	flag.DurationVar(&o.profileFor, "profile-for", 30*time.Second, "how long the CPU profiles run (in pieces of 30 s): at small counts the agent needs minutes for enough samples")
	flag.StringVar(&o.procRoot, "proc", "/proc", "procfs mount point")
	flag.StringVar(&o.cgroupRoot, "cgroup-root", "/sys/fs/cgroup", "cgroupfs mount point, to name the cgroup mode")
	flag.Parse()

	var err error
	if o.counts, err = parseCounts(*counts); err != nil {
		fatalf("-containers: %v", err)
	}
	o.cadvisorArgs = strings.Fields(*cadvisorArgs)
	if o.cadvisorConf, err = parseCadvisorConfig(*cadvisorConf); err != nil {
		fatalf("-cadvisor-config: %v", err)
	}
	switch {
	case o.window <= 0:
		fatalf("-window: must be positive")
	case o.interval <= 0:
		fatalf("-interval: must be positive")
	case o.scrapeEvery <= 0 || o.scrapeEvery > o.window:
		fatalf("-scrape: must be positive and at most -window")
	case o.lagEvery < 0:
		fatalf("-lag-every: must not be negative")
	case o.busy < 0:
		fatalf("-busy: must not be negative")
	case flag.NArg() > 0:
		fatalf("unexpected arguments %q", flag.Args())
	}
	// A scrape every -scrape sees one tick in scrape/interval; below one
	// in five, the lag percentiles would rest on too few ticks.
	if o.lagEvery == 0 && o.interval*5 <= o.scrapeEvery {
		o.lagEvery = o.interval
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err = run(ctx, o)
	// Signals stay caught until here, so a second Ctrl-C can't interrupt
	// the cleanup that run has just done.
	stop()
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "overhead: "+format+"\n", args...)
	os.Exit(1)
}

// parseCounts parses "55,205" into ascending, distinct, positive counts.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		counts = append(counts, n)
	}
	slices.Sort(counts)
	return slices.Compact(counts), nil
}

func step(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

func run(ctx context.Context, o options) (err error) {
	if why := testenv.Requirements(); why != "" {
		return fmt.Errorf("cannot run here: %s", why)
	}
	dir, err := os.MkdirTemp("", "fleetscope-overhead-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	if o.fleetscope == "" {
		o.fleetscope = filepath.Join(dir, "fleetscope")
		step("building fleetscope")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", o.fleetscope, "./cmd/fleetscope").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/fleetscope (from the repository root, or pass -fleetscope): %v\n%s", err, out)
		}
	}
	subjects := []*subject{fleetscopeSubject(o.fleetscope, o.profile != "")}
	if o.floor {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("floor process: %w", err)
		}
		subjects = append(subjects, floorSubject(self, o))
	}
	if o.cadvisor != "" {
		path, err := exec.LookPath(o.cadvisor)
		if err != nil {
			return fmt.Errorf("-cadvisor: %w", err)
		}
		for _, conf := range o.cadvisorConf {
			subjects = append(subjects, cadvisorSubject(path, conf, o.cadvisorArgs))
		}
	}

	m := describeMachine(ctx, o)
	step("starting a private containerd")
	d, err := testenv.StartContainerd(ctx, filepath.Join(dir, "containerd"))
	if err != nil {
		return err
	}
	f := &fleet{d: d, busy: o.busy, pods: o.pods}
	defer func() {
		step("removing %d containers and containerd", f.len())
		if err := f.removeAll(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "overhead: cleanup:", err)
		}
		d.Cleanup(context.Background())
	}()
	m.containerd = containerdVersion(ctx, d)
	m.print(os.Stdout, o)

	var results []result
	defer func() {
		// Partial results are still worth seeing after a failure or Ctrl-C.
		if len(results) == 0 {
			return
		}
		fmt.Println()
		m.print(os.Stdout, o)
		fmt.Println()
		writeTable(os.Stdout, results, o.scrapeEvery, false)
		if o.out != "" {
			if werr := writeMarkdown(o.out, m, o, results); werr != nil {
				err = errors.Join(err, werr)
			} else {
				fmt.Printf("\nwritten to %s\n", o.out)
			}
		}
	}()

	for _, n := range o.counts {
		step("running %d containers (%d busy)", n, min(n, o.busy))
		had, t0 := f.len(), time.Now()
		growErr := f.grow(ctx, n)
		started := startup{added: f.len() - had, took: time.Since(t0)}
		step("started %d containers in %v", started.added, started.took.Round(time.Second))
		if growErr != nil {
			if ctx.Err() != nil || f.len() == 0 {
				return growErr
			}
			// Fall back to what runs: the largest N that works.
			fmt.Fprintf(os.Stderr, "overhead: only %d of %d containers started: %v\n", f.len(), n, growErr)
			n = f.len()
		}
		step("settling for %v", settleTime)
		if err := sleep(ctx, settleTime); err != nil {
			return err
		}
		for _, s := range subjects {
			r, err := measure(ctx, o, d, s, n, f.idSet(), dir, &m)
			r.startup = started
			if err != nil {
				return fmt.Errorf("%s with %d containers: %w", s.name, n, err)
			}
			r.print(os.Stdout)
			results = append(results, r)
		}
		if growErr != nil {
			break
		}
	}
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fleet is the set of containers this run started.
type fleet struct {
	d    *testenv.Daemon
	busy int
	pods bool

	// Planned so far, for -pods: pods and app containers, so that a later
	// grow goes on with the next pod and the busy ones stay the first.
	nPods, nApps int

	mu  sync.Mutex
	ids []string
}

// idSet returns the ids of the running containers.
func (f *fleet) idSet() map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := make(map[string]bool, len(f.ids))
	for _, id := range f.ids {
		set[id] = true
	}
	return set
}

func (f *fleet) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ids)
}

// added records a started container and reports progress.
func (f *fleet) added(id string, n int) {
	f.mu.Lock()
	f.ids = append(f.ids, id)
	started := len(f.ids)
	f.mu.Unlock()
	if started%25 == 0 || started == n {
		fmt.Printf("    %d/%d running\n", started, n)
	}
}

// podLabels are the CRI labels of a container of pod name, as containerd's
// CRI plugin sets them; kind is "sandbox" or "container".
func podLabels(name, kind, container string) map[string]string {
	l := map[string]string{
		"io.kubernetes.pod.name":      name,
		"io.kubernetes.pod.namespace": "overhead",
		"io.kubernetes.pod.uid":       name + "-uid",
		"io.cri-containerd.kind":      kind,
	}
	if container != "" {
		l["io.kubernetes.container.name"] = container
	}
	return l
}

// grow starts containers until n run, one namespace each or in pods. It
// stops at the first failure.
func (f *fleet) grow(ctx context.Context, n int) error {
	if f.pods {
		return f.growPods(ctx, n)
	}
	have := f.len()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(startWorkers)
	for i := have; i < n; i++ {
		g.Go(func() error {
			args := []string{"sleep", "86400"}
			if i < f.busy {
				args = []string{"sh", "-c", busyScript}
			}
			id := testenv.RandomID()
			rctx, cancel := context.WithTimeout(gctx, runTimeout)
			defer cancel()
			_, err := f.d.Run(rctx, testenv.RunOptions{
				Namespace: namespace,
				ID:        id,
				Args:      args,
				Labels:    podLabels(fmt.Sprintf("overhead-%04d", i), "container", "app"),
			})
			if err != nil {
				return fmt.Errorf("container %d (%s): %w", i, id, err)
			}
			f.added(id, n)
			return nil
		})
	}
	return g.Wait()
}

// podPlan is one pod to start: how many app containers, and which of them
// run busyScript.
type podPlan struct {
	name string
	busy []bool // one per app container
}

// planPods plans pods holding `want` more containers, sandboxes included:
// pod i has 1 + i%3 app containers (so 1, 2, 3, 1, …), the last one fewer
// if the count says so. The first f.busy app containers ever planned are
// the busy ones.
func (f *fleet) planPods(want int) []podPlan {
	var plan []podPlan
	for want > 0 {
		p := podPlan{name: fmt.Sprintf("overhead-%04d", f.nPods)}
		apps := min(1+f.nPods%3, want-1)
		for range apps {
			p.busy = append(p.busy, f.nApps < f.busy)
			f.nApps++
		}
		f.nPods++
		want -= 1 + apps
		plan = append(plan, p)
	}
	return plan
}

// growPods starts pods until n containers run: the sandbox first (sleep,
// as the pause container does nothing), then its app containers in its
// network namespace.
func (f *fleet) growPods(ctx context.Context, n int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(startWorkers)
	for _, p := range f.planPods(n - f.len()) {
		g.Go(func() error {
			sandbox := testenv.RandomID()
			rctx, cancel := context.WithTimeout(gctx, runTimeout*time.Duration(1+len(p.busy)))
			defer cancel()
			pid, err := f.d.Run(rctx, testenv.RunOptions{
				Namespace: namespace,
				ID:        sandbox,
				Args:      []string{"sleep", "86400"},
				Labels:    podLabels(p.name, "sandbox", ""),
				Annotations: map[string]string{
					"io.kubernetes.cri.container-type": "sandbox",
				},
			})
			if err != nil {
				return fmt.Errorf("pod %s sandbox (%s): %w", p.name, sandbox, err)
			}
			f.added(sandbox, n)
			for k, busy := range p.busy {
				args := []string{"sleep", "86400"}
				if busy {
					args = []string{"sh", "-c", busyScript}
				}
				id := testenv.RandomID()
				_, err := f.d.Run(rctx, testenv.RunOptions{
					Namespace:    namespace,
					ID:           id,
					Args:         args,
					Labels:       podLabels(p.name, "container", fmt.Sprintf("app-%d", k)),
					NetNSFromPID: pid,
					Annotations: map[string]string{
						"io.kubernetes.cri.container-type": "container",
						"io.kubernetes.cri.sandbox-id":     sandbox,
					},
				})
				if err != nil {
					return fmt.Errorf("pod %s container %d (%s): %w", p.name, k, id, err)
				}
				f.added(id, n)
			}
			return nil
		})
	}
	return g.Wait()
}

// removeAll removes the containers in batches. testenv's Daemon.Remove
// polls the task list until the task has stopped, and containerd 1.6 asks
// every shim for its state to answer a task list (seconds with a thousand
// shims), so removing one by one would take hours. `ctr tasks delete
// --force` kills and waits per task instead, and both deletes take many ids;
// whatever is left afterwards goes through Remove.
func (f *fleet) removeAll(ctx context.Context) error {
	f.mu.Lock()
	ids := f.ids
	f.ids = nil
	f.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	// Errors of a batch are expected (a task that never started has
	// nothing to delete); the listing below is what tells success.
	f.batches(ctx, ids, "tasks", "delete", "--force")
	f.batches(ctx, ids, "containers", "delete")

	out, err := f.d.Ctr(ctx, "-n", namespace, "containers", "ls", "-q")
	if err != nil {
		return fmt.Errorf("listing containers after removal: %w", err)
	}
	left := strings.Fields(out)
	if len(left) == 0 {
		return nil
	}
	fmt.Printf("    %d containers left, removing them one by one\n", len(left))
	var errs []error
	for _, id := range left {
		if err := f.d.Remove(ctx, namespace, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// batches runs `ctr -n <namespace> <args> <ids...>` over ids in batches,
// removeWorkers at a time.
func (f *fleet) batches(ctx context.Context, ids []string, args ...string) {
	var g errgroup.Group
	g.SetLimit(removeWorkers)
	var done atomic.Int64
	for batch := range slices.Chunk(ids, removeBatch) {
		g.Go(func() error {
			argv := append(append([]string{"-n", namespace}, args...), batch...)
			if _, err := f.d.Ctr(ctx, argv...); err != nil && ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "overhead: cleanup: %.300v\n", err)
			}
			// Report every 200 and the end.
			if n := done.Add(int64(len(batch))); n/200 != (n-int64(len(batch)))/200 || int(n) == len(ids) {
				fmt.Printf("    %s %s: %d/%d\n", args[0], args[1], n, len(ids))
			}
			return nil
		})
	}
	g.Wait()
}

// subject is a monitoring agent under measurement.
type subject struct {
	name string
	// command returns the command line that serves metrics on addr (a
	// host:port) for the containerd at socket. dir is a scratch directory.
	command func(dir, addr, socket string, interval time.Duration) ([]string, error)
	// path of the metrics endpoint.
	path string
	// seen returns how many of the test containers (ours, by id) a
	// metrics page covers, and how many other containers of the host it
	// reports besides.
	seen func(metrics []byte, ours map[string]bool) (seen, others int)
	// tickLag: the page has the agent's tick lag and overrun metrics.
	tickLag bool
}

func fleetscopeSubject(bin string, pprof bool) *subject {
	return &subject{
		name:    "fleetscope",
		path:    "/metrics",
		seen:    fleetscopeSeen,
		tickLag: true,
		command: func(dir, addr, socket string, interval time.Duration) ([]string, error) {
			// Everything else keeps its default, as a user would run it,
			// but the history checkpoint is the run's own: a fresh
			// install, not the histories of earlier runs.
			cfg := filepath.Join(dir, "fleetscope.yaml")
			conf := fmt.Sprintf("containerd:\n  socket: %q\nsampling:\n  interval: %s\nweb:\n  listen_address: %q\n  pprof: %v\nhistory:\n  state_file: %q\nlog:\n  format: json\n",
				socket, interval, addr, pprof, filepath.Join(dir, "state.bin"))
			if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
				return nil, err
			}
			return []string{bin, "run", "--config", cfg}, nil
		},
	}
}

// parseCadvisorConfig turns -cadvisor-config into the configurations to
// measure, in order.
func parseCadvisorConfig(s string) ([]string, error) {
	switch s {
	case "kubelet", "fixed":
		return []string{s}, nil
	case "both":
		return []string{"kubelet", "fixed"}, nil
	}
	return nil, fmt.Errorf("%q: want kubelet, fixed or both", s)
}

// The kubelet's cAdvisor settings: housekeeping every 10 s, backing off to
// at most 15 s for containers whose stats do not change.
const (
	kubeletHousekeeping    = 10 * time.Second
	kubeletMaxHousekeeping = 15 * time.Second
)

// cadvisorSubject runs cAdvisor in configuration conf, "kubelet" or
// "fixed"; its name is cadvisor-<conf>.
func cadvisorSubject(bin, conf string, extra []string) *subject {
	return &subject{
		name: "cadvisor-" + conf,
		path: "/metrics",
		seen: cadvisorSeen(namespace),
		command: func(_, addr, socket string, interval time.Duration) ([]string, error) {
			return cadvisorArgs(bin, conf, addr, socket, interval, extra)
		},
	}
}

func cadvisorArgs(bin, conf, addr, socket string, interval time.Duration, extra []string) ([]string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	args := []string{bin, "-listen_ip", host, "-port", port}
	switch conf {
	case "kubelet":
		// As the kubelet runs it: dynamic housekeeping backs off for
		// containers whose stats do not change, idle ones.
		args = append(args,
			"-housekeeping_interval", kubeletHousekeeping.String(),
			"-max_housekeeping_interval", kubeletMaxHousekeeping.String(),
			"-allow_dynamic_housekeeping=true")
	case "fixed":
		// Samples every container as often as the agent does.
		args = append(args,
			"-housekeeping_interval", interval.String(),
			"-allow_dynamic_housekeeping=false")
	default:
		return nil, fmt.Errorf("cadvisor configuration %q: want kubelet or fixed", conf)
	}
	args = append(args,
		"-containerd", socket,
		"-containerd-namespace", namespace,
		"-docker_only=false",
	)
	return append(args, extra...), nil
}

// process is a started agent.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
}

func startProcess(argv []string, logPath string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group keeps a terminal's Ctrl-C away from it, so it
	// is stopped in order with everything else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{}), logPath: logPath}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits, killing the process after stopTimeout. It
// reports an unclean exit. Safe to call twice.
func (p *process) stop() error {
	if p.exited() {
		return p.exitErr()
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(stopTimeout):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("ignored SIGTERM for %v and was killed", stopTimeout)
	}
}

func (p *process) exitErr() error {
	if st := p.cmd.ProcessState; st != nil && !st.Success() {
		return fmt.Errorf("exited with %v; log %s:\n%s", st, p.logPath, tail(p.logPath, 10))
	}
	return nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// measure runs s against the n running containers and measures it over one
// window.
func measure(ctx context.Context, o options, d *testenv.Daemon, s *subject, n int, ours map[string]bool, dir string, m *machine) (result, error) {
	r := result{n: n, subject: s.name, interval: o.interval}
	addr, err := testenv.FreeAddr()
	if err != nil {
		return r, err
	}
	sdir := filepath.Join(dir, fmt.Sprintf("%s-%d", s.name, n))
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return r, err
	}
	argv, err := s.command(sdir, addr, d.Socket, o.interval)
	if err != nil {
		return r, err
	}
	step("starting %s: %s", s.name, strings.Join(argv, " "))
	p, err := startProcess(argv, filepath.Join(sdir, s.name+".log"))
	if err != nil {
		return r, fmt.Errorf("start: %w", err)
	}
	defer func() {
		if err := p.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "overhead: %s: %v\n", s.name, err)
		}
	}()
	client := &http.Client{Timeout: 10 * time.Second}
	url := "http://" + addr + s.path

	// Discovery and the first samples cost more than the steady state
	// this command is about, so the window starts after them.
	step("waiting until %s reports %d containers", s.name, n)
	deadline := time.Now().Add(discoveryTimeout)
	for {
		if p.exited() {
			return r, p.exitErr()
		}
		if sc, err := scrapeOnce(ctx, client, url); err == nil {
			if r.seen, _ = s.seen(sc.body, ours); r.seen >= n {
				break
			}
		}
		if time.Now().After(deadline) {
			r.note = fmt.Sprintf("saw only %d of %d containers after %v", r.seen, n, discoveryTimeout)
			fmt.Fprintf(os.Stderr, "overhead: %s %s; measuring anyway\n", s.name, r.note)
			break
		}
		if err := sleep(ctx, time.Second); err != nil {
			return r, err
		}
	}
	if s.name == "fleetscope" && m.cgroupFrom == "" {
		if mode := cgroupModeFromLog(p.logPath); mode != "" {
			m.cgroup, m.cgroupFrom = mode, "agent log"
		}
	}
	if err := sleep(ctx, o.interval); err != nil {
		return r, err
	}

	// Only the agent has a tick lag to sample; cAdvisor is scraped as
	// Prometheus would, whatever -lag-every says.
	every := o.scrapeEvery
	if s.tickLag && o.lagEvery > 0 && o.lagEvery < every {
		every = o.lagEvery
		r.lagScrapes = true
	}
	step("measuring %s for %v, scraping every %v", s.name, o.window, every)
	cdPid := d.Pid()
	if cdPid == 0 {
		return r, fmt.Errorf("containerd is not running")
	}
	shims, err := shimPids(o.procRoot, d.Socket)
	if err != nil {
		return r, err
	}
	r.shims = len(shims)
	cpu0, err := procCPUSeconds(o.procRoot, p.pid())
	run0, run0Err := procRunNS(o.procRoot, p.pid())
	cdRun0, cdRun0Err := procRunNS(o.procRoot, cdPid)
	if err != nil {
		return r, err
	}
	cd0, err := procCPUSeconds(o.procRoot, cdPid)
	if err != nil {
		return r, err
	}
	shim0, _ := cpuSecondsSum(o.procRoot, shims)
	host0, err := readHostCPU(o.procRoot)
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	end := t0.Add(o.window)
	sampleRSS := func() {
		if rss, err := procRSS(o.procRoot, p.pid()); err == nil {
			r.rssMax = max(r.rssMax, rss)
			r.rssLast = rss
		}
	}
	var ticks tickLog
	for next := t0; next.Before(end); {
		if err := sleep(ctx, time.Until(next)); err != nil {
			return r, err
		}
		run0, runErr := procRunNS(o.procRoot, p.pid())
		sc, err := scrapeOnce(ctx, client, url)
		if err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			r.scrapeErrs++
			fmt.Fprintf(os.Stderr, "overhead: %s scrape: %v\n", s.name, err)
		} else {
			// The agent's CPU during the request: the scrape's cost,
			// plus a tick's if one ran meanwhile, which the median
			// leaves out.
			if run1, err := procRunNS(o.procRoot, p.pid()); err == nil && runErr == nil && run1 >= run0 {
				r.scrapeCPU = append(r.scrapeCPU, time.Duration(run1-run0))
			}
			r.latencies = append(r.latencies, sc.latency)
			r.bytes, r.series = len(sc.body), countSeries(sc.body)
			if seen, others := s.seen(sc.body, ours); seen > 0 {
				r.seen, r.others = seen, others
			}
			if s.tickLag {
				ticks.add(parseSelfReport(sc.body))
			}
		}
		// Right after a scrape is when a Go agent's heap is largest.
		sampleRSS()
		// A scrape slower than the period skips turns rather than
		// piling onto the agent.
		for next = next.Add(every); time.Until(next) < 0; {
			next = next.Add(every)
		}
	}
	if err := sleep(ctx, time.Until(end)); err != nil {
		return r, err
	}
	sampleRSS()
	if p.exited() {
		return r, fmt.Errorf("died during the window: %w", p.exitErr())
	}
	run1, run1Err := procRunNS(o.procRoot, p.pid())
	cdRun1, cdRun1Err := procRunNS(o.procRoot, cdPid)
	cpu1, err := procCPUSeconds(o.procRoot, p.pid())
	if err != nil {
		return r, err
	}
	cd1, err := procCPUSeconds(o.procRoot, cdPid)
	if err != nil {
		return r, err
	}
	shim1, gone := cpuSecondsSum(o.procRoot, shims)
	host1, err := readHostCPU(o.procRoot)
	if err != nil {
		return r, err
	}
	r.elapsed = time.Since(t0)
	r.cpu, r.containerdCPU = cpu1-cpu0, cd1-cd0
	r.statCPU = r.cpu
	// stat counts in USER_HZ ticks, 10 ms: a floor process at 55
	// containers spends a handful of them in a window. The threads'
	// schedstat run time is exact; use it when it was read both times.
	if run0Err == nil && run1Err == nil && run1 >= run0 {
		r.cpu, r.exactCPU = float64(run1-run0)/1e9, true
	}
	if cdRun0Err == nil && cdRun1Err == nil && cdRun1 >= cdRun0 {
		r.containerdCPU = float64(cdRun1-cdRun0) / 1e9
	}
	if gone == 0 {
		r.shimCPU = shim1 - shim0
	} else {
		r.shims = 0 // a shim exited: the sum would be wrong
		fmt.Fprintf(os.Stderr, "overhead: %d shims exited during the window; shim CPU not reported\n", gone)
	}
	r.hostBusy = host0.busyPercent(host1)
	r.lags = ticks.lags
	r.overruns, r.haveOverruns = ticks.overruns()
	if d.Pid() != cdPid {
		return r, fmt.Errorf("containerd restarted during the window")
	}
	// Memory is read after the CPU window: a thousand smaps_rollup reads
	// are not free.
	if rss, err := procRSS(o.procRoot, cdPid); err == nil {
		r.containerdMem = rss
	}
	for _, pid := range shims {
		if pss, err := procPss(o.procRoot, pid); err == nil {
			r.shimMem += pss
		}
	}
	if o.profile != "" && s.name == "fleetscope" {
		if err := saveProfiles(ctx, "http://"+addr, o.profile, n, o.profileFor); err != nil {
			fmt.Fprintf(os.Stderr, "overhead: profiles: %v\n", err)
		}
	}
	step("stopping %s", s.name)
	return r, nil
}

// saveProfiles saves CPU profiles covering d and a heap profile of the
// agent at base into dir, after the measurement window so that profiling
// does not count in it. The agent's write timeout caps one CPU profile at
// 30 s, so a longer d is saved as several; read them together with
// `go tool pprof -top BINARY FILE...`.
func saveProfiles(ctx context.Context, base, dir string, n int, d time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	const maxProfile = 30
	type get struct{ path, file string }
	var gets []get
	for i, left := 1, max(int(d.Seconds()), 1); left > 0; i++ {
		secs := min(left, maxProfile)
		gets = append(gets, get{fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), fmt.Sprintf("fleetscope-%d-cpu-%d.pb.gz", n, i)})
		left -= secs
	}
	gets = append(gets, get{"/debug/pprof/heap", fmt.Sprintf("fleetscope-%d-heap.pb.gz", n)})
	client := &http.Client{Timeout: time.Minute}
	for _, p := range gets {
		step("saving %s", p.file)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+p.path, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", p.path, resp.Status)
		}
		if err := os.WriteFile(filepath.Join(dir, p.file), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
