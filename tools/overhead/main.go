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
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

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
	subjects, err := makeSubjects(ctx, &o, dir)
	if err != nil {
		return err
	}

	m := describeMachine(ctx, o)
	step("starting a private containerd")
	d, err := testenv.StartContainerd(ctx, filepath.Join(dir, "containerd"))
	if err != nil {
		return err
	}
	f := &containerSet{d: d, busy: o.busy, pods: o.pods}
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
		if werr := printResults(m, o, results); werr != nil {
			err = errors.Join(err, werr)
		}
	}()
	for _, want := range o.counts {
		n, started, short, err := growTo(ctx, f, want, o.busy)
		if err != nil {
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
		if short {
			break
		}
	}
	return nil
}

// makeSubjects returns what to measure, in order: the agent (built from
// ./cmd/fleetscope into dir unless -fleetscope names a binary, which o then
// records), the floor process and cAdvisor in each configuration asked for.
func makeSubjects(ctx context.Context, o *options, dir string) ([]*subject, error) {
	if o.fleetscope == "" {
		o.fleetscope = filepath.Join(dir, "fleetscope")
		step("building fleetscope")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", o.fleetscope, "./cmd/fleetscope").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/fleetscope (from the repository root, or pass -fleetscope): %v\n%s", err, out)
		}
	}
	subjects := []*subject{fleetscopeSubject(o.fleetscope, o.profile != "")}
	if o.floor {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("floor process: %w", err)
		}
		subjects = append(subjects, floorSubject(self, *o))
	}
	if o.cadvisor != "" {
		path, err := exec.LookPath(o.cadvisor)
		if err != nil {
			return nil, fmt.Errorf("-cadvisor: %w", err)
		}
		for _, conf := range o.cadvisorConf {
			subjects = append(subjects, cadvisorSubject(path, conf, o.cadvisorArgs))
		}
	}
	return subjects, nil
}

// growTo starts containers until want run and lets the host settle. If
// some fail to start, it goes on with those that run, the largest count
// that works: n is the count to measure and short says that larger ones
// are out of reach. err is set only when nothing can be measured.
func growTo(ctx context.Context, f *containerSet, want, busy int) (n int, started startup, short bool, err error) {
	step("running %d containers (%d busy)", want, min(want, busy))
	had, t0 := f.len(), time.Now()
	growErr := f.grow(ctx, want)
	started = startup{added: f.len() - had, took: time.Since(t0)}
	step("started %d containers in %v", started.added, started.took.Round(time.Second))
	n = want
	if growErr != nil {
		if ctx.Err() != nil || f.len() == 0 {
			return 0, started, true, growErr
		}
		fmt.Fprintf(os.Stderr, "overhead: only %d of %d containers started: %v\n", f.len(), want, growErr)
		n, short = f.len(), true
	}
	step("settling for %v", settleTime)
	if err := sleep(ctx, settleTime); err != nil {
		return 0, started, true, err
	}
	return n, started, short, nil
}

// printResults prints the results with the machine they ran on and, with
// -out, writes them as markdown too.
func printResults(m machine, o options, results []result) error {
	if len(results) == 0 {
		return nil
	}
	fmt.Println()
	m.print(os.Stdout, o)
	fmt.Println()
	writeTable(os.Stdout, results, o.scrapeEvery, false)
	if o.out == "" {
		return nil
	}
	if err := writeMarkdown(o.out, m, o, results); err != nil {
		return err
	}
	fmt.Printf("\nwritten to %s\n", o.out)
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
