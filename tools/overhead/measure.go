package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// measure runs s against the n running containers and measures it over one
// window.
func measure(ctx context.Context, o options, d *testenv.Daemon, s *subject, n int, ours map[string]bool, dir string, m *machine) (result, error) {
	r := result{n: n, subject: s.name, interval: o.interval}
	addr, err := testenv.FreeAddr()
	if err != nil {
		return r, err
	}
	p, err := startSubject(o, d, s, n, dir, addr)
	if err != nil {
		return r, err
	}
	defer func() {
		if err := p.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "overhead: %s: %v\n", s.name, err)
		}
	}()
	w := &window{
		o: o, s: s, p: p, ours: ours, r: &r,
		client: &http.Client{Timeout: 10 * time.Second},
		url:    "http://" + addr + s.path,
	}
	if err := w.awaitDiscovery(ctx, n); err != nil {
		return r, err
	}
	if s.name == "fleetscope" && m.cgroupFrom == "" {
		if mode := cgroupModeFromLog(p.logPath); mode != "" {
			m.cgroup, m.cgroupFrom = mode, "agent log"
		}
	}
	if err := sleep(ctx, o.interval); err != nil {
		return r, err
	}
	cdPid, shims, err := w.measureCPU(ctx, d)
	if err != nil {
		return r, err
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

// startSubject starts s serving its metrics on addr, with a scratch
// directory of its own under dir.
func startSubject(o options, d *testenv.Daemon, s *subject, n int, dir, addr string) (*process, error) {
	sdir := filepath.Join(dir, fmt.Sprintf("%s-%d", s.name, n))
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return nil, err
	}
	argv, err := s.command(sdir, addr, d.Socket, o.interval)
	if err != nil {
		return nil, err
	}
	step("starting %s: %s", s.name, strings.Join(argv, " "))
	p, err := startProcess(argv, filepath.Join(sdir, s.name+".log"))
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	return p, nil
}

// window is one subject under measurement, filling r.
type window struct {
	o      options
	s      *subject
	p      *process
	client *http.Client
	url    string
	ours   map[string]bool
	r      *result
}

// awaitDiscovery waits until the subject reports all n containers, or
// notes how many it saw after discoveryTimeout and goes on. Discovery and
// the first samples cost more than the steady state this command is
// about, so the window starts after them.
func (w *window) awaitDiscovery(ctx context.Context, n int) error {
	step("waiting until %s reports %d containers", w.s.name, n)
	deadline := time.Now().Add(discoveryTimeout)
	for {
		if w.p.exited() {
			return w.p.exitErr()
		}
		if sc, err := scrapeOnce(ctx, w.client, w.url); err == nil {
			if w.r.seen, _ = w.s.seen(sc.body, w.ours); w.r.seen >= n {
				return nil
			}
		}
		if time.Now().After(deadline) {
			w.r.note = fmt.Sprintf("saw only %d of %d containers after %v", w.r.seen, n, discoveryTimeout)
			fmt.Fprintf(os.Stderr, "overhead: %s %s; measuring anyway\n", w.s.name, w.r.note)
			return nil
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// scrapeEvery is how often the window scrapes the subject. Only the agent
// has a tick lag to sample; cAdvisor is scraped as Prometheus would,
// whatever -lag-every says.
func (w *window) scrapeEvery() time.Duration {
	every := w.o.scrapeEvery
	if w.s.tickLag && w.o.lagEvery > 0 && w.o.lagEvery < every {
		every = w.o.lagEvery
		w.r.lagScrapes = true
	}
	return every
}

// measureCPU is the window itself: the CPU time of the subject, of
// containerd and of its shims between two readings, and the subject's
// scrapes and RSS in between. It returns containerd's pid and the shims',
// for the memory readings that follow.
func (w *window) measureCPU(ctx context.Context, d *testenv.Daemon) (cdPid int, shims []int, err error) {
	o, r := w.o, w.r
	every := w.scrapeEvery()
	step("measuring %s for %v, scraping every %v", w.s.name, o.window, every)
	cdPid = d.Pid()
	if cdPid == 0 {
		return 0, nil, fmt.Errorf("containerd is not running")
	}
	if shims, err = shimPids(o.procRoot, d.Socket); err != nil {
		return 0, nil, err
	}
	r.shims = len(shims)
	start, err := readCPU(o.procRoot, w.p.pid(), cdPid, shims)
	if err != nil {
		return 0, nil, err
	}
	t0 := time.Now()
	end := t0.Add(o.window)
	ticks, err := w.scrapeUntil(ctx, t0, end, every)
	if err != nil {
		return 0, nil, err
	}
	if err := sleep(ctx, time.Until(end)); err != nil {
		return 0, nil, err
	}
	w.sampleRSS()
	if w.p.exited() {
		return 0, nil, fmt.Errorf("died during the window: %w", w.p.exitErr())
	}
	stop, err := readCPU(o.procRoot, w.p.pid(), cdPid, shims)
	if err != nil {
		return 0, nil, err
	}
	r.elapsed = time.Since(t0)
	r.account(start, stop)
	r.lags = ticks.lags
	r.overruns, r.haveOverruns = ticks.overruns()
	if d.Pid() != cdPid {
		return 0, nil, fmt.Errorf("containerd restarted during the window")
	}
	return cdPid, shims, nil
}

// scrapeUntil scrapes the subject every period from t0 until end, as
// Prometheus would, and collects the agent's ticks from what it reports.
func (w *window) scrapeUntil(ctx context.Context, t0, end time.Time, every time.Duration) (tickLog, error) {
	var ticks tickLog
	for next := t0; next.Before(end); {
		if err := sleep(ctx, time.Until(next)); err != nil {
			return ticks, err
		}
		if err := w.scrape(ctx, &ticks); err != nil {
			return ticks, err
		}
		// Right after a scrape is when a Go agent's heap is largest.
		w.sampleRSS()
		// A scrape slower than the period skips turns rather than
		// piling onto the agent.
		for next = next.Add(every); time.Until(next) < 0; {
			next = next.Add(every)
		}
	}
	return ticks, nil
}

// scrape scrapes the subject once, counting a failed scrape unless ctx is
// done.
func (w *window) scrape(ctx context.Context, ticks *tickLog) error {
	r, procRoot, pid := w.r, w.o.procRoot, w.p.pid()
	run0, runErr := procRunNS(procRoot, pid)
	sc, err := scrapeOnce(ctx, w.client, w.url)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.scrapeErrs++
		fmt.Fprintf(os.Stderr, "overhead: %s scrape: %v\n", w.s.name, err)
		return nil
	}
	// The agent's CPU during the request: the scrape's cost, plus a
	// tick's if one ran meanwhile, which the median leaves out.
	if run1, err := procRunNS(procRoot, pid); err == nil && runErr == nil && run1 >= run0 {
		r.scrapeCPU = append(r.scrapeCPU, time.Duration(run1-run0))
	}
	r.latencies = append(r.latencies, sc.latency)
	r.bytes, r.series = len(sc.body), countSeries(sc.body)
	if seen, others := w.s.seen(sc.body, w.ours); seen > 0 {
		r.seen, r.others = seen, others
	}
	if w.s.tickLag {
		ticks.add(parseSelfReport(sc.body))
	}
	return nil
}

// sampleRSS notes the subject's resident memory.
func (w *window) sampleRSS() {
	if rss, err := procRSS(w.o.procRoot, w.p.pid()); err == nil {
		w.r.rssMax = max(w.r.rssMax, rss)
		w.r.rssLast = rss
	}
}

// cpuReading is what the window's CPU figures come from, read at its start
// and at its end.
type cpuReading struct {
	cpu, containerd float64 // utime+stime of the subject and of containerd
	// The threads' schedstat run time of both, exact where read.
	run, containerdRun       uint64
	runErr, containerdRunErr error
	shims                    float64 // utime+stime of the shims
	shimsGone                int     // shims that exited
	host                     hostCPU
}

func readCPU(procRoot string, pid, cdPid int, shims []int) (c cpuReading, err error) {
	c.run, c.runErr = procRunNS(procRoot, pid)
	c.containerdRun, c.containerdRunErr = procRunNS(procRoot, cdPid)
	if c.cpu, err = procCPUSeconds(procRoot, pid); err != nil {
		return c, err
	}
	if c.containerd, err = procCPUSeconds(procRoot, cdPid); err != nil {
		return c, err
	}
	c.shims, c.shimsGone = cpuSecondsSum(procRoot, shims)
	c.host, err = readHostCPU(procRoot)
	return c, err
}

// account sets r's CPU figures from readings at the start and the end of
// the window.
func (r *result) account(start, end cpuReading) {
	r.cpu, r.containerdCPU = end.cpu-start.cpu, end.containerd-start.containerd
	r.statCPU = r.cpu
	// stat counts in USER_HZ ticks, 10 ms: a floor process at 55
	// containers spends a handful of them in a window. The threads'
	// schedstat run time is exact; use it when it was read both times.
	if start.runErr == nil && end.runErr == nil && end.run >= start.run {
		r.cpu, r.exactCPU = float64(end.run-start.run)/1e9, true
	}
	if start.containerdRunErr == nil && end.containerdRunErr == nil && end.containerdRun >= start.containerdRun {
		r.containerdCPU = float64(end.containerdRun-start.containerdRun) / 1e9
	}
	if end.shimsGone == 0 {
		r.shimCPU = end.shims - start.shims
	} else {
		r.shims = 0 // a shim exited: the sum would be wrong
		fmt.Fprintf(os.Stderr, "overhead: %d shims exited during the window; shim CPU not reported\n", end.shimsGone)
	}
	r.hostBusy = start.host.busyPercent(end.host)
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
