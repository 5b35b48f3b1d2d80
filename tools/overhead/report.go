package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// result is one subject measured over one window with n containers.
type result struct {
	n        int
	subject  string
	seen     int // of our containers, the subject reported in its last scrape
	others   int // other containers of the host it reported
	interval time.Duration
	note     string
	startup  startup // of the containers added for this n

	elapsed         time.Duration // between the two CPU readings
	cpu             float64       // the subject's CPU seconds in the window: statCPU, or exact if exactCPU
	statCPU         float64       // utime+stime from stat, in 10 ms ticks
	exactCPU        bool          // cpu is the threads' schedstat run time
	containerdCPU   float64       // containerd's CPU seconds in the same window
	shimCPU         float64       // its shims' CPU seconds, valid if shims > 0
	shims           int
	containerdMem   uint64  // containerd's RSS after the window
	shimMem         uint64  // the shims' summed PSS after the window
	hostBusy        float64 // whole machine, percent of all CPUs
	rssMax, rssLast uint64
	bytes, series   int // of the last scrape
	latencies       []time.Duration
	scrapeCPU       []time.Duration // the subject's CPU time during each scrape
	scrapeErrs      int
	lagScrapes      bool // scraped every -lag-every rather than every -scrape

	lags         []time.Duration // tick lag of each distinct tick scraped
	overruns     uint64
	haveOverruns bool
}

// startup is how long adding containers took.
type startup struct {
	added int
	took  time.Duration
}

// cpuPercent is the subject's CPU in percent of one core.
func (r result) cpuPercent() float64 { return r.cpu / r.elapsed.Seconds() * 100 }

func (r result) containerdPercent() float64 { return r.containerdCPU / r.elapsed.Seconds() * 100 }

// runtimeCPU is containerd's and its shims' CPU seconds: what running the
// containers costs without any monitoring. ok is false when the shims were
// not measured.
func (r result) runtimeCPU() (cpu float64, ok bool) {
	return r.containerdCPU + r.shimCPU, r.shims > 0
}

// perContainerTick is the subject's CPU per container per sample interval,
// in microseconds. Everything the process does in the window is charged to
// the ticks: sampling, discovery, storage rounds and serving the scrapes.
func (r result) perContainerTick() float64 {
	ticks := r.elapsed.Seconds() / r.interval.Seconds()
	if r.n == 0 || ticks == 0 {
		return 0
	}
	return r.cpu * 1e6 / (float64(r.n) * ticks)
}

// latency returns the median and the largest scrape latency.
func (r result) latency() (p50, maxLat time.Duration) {
	return percentile(r.latencies, 50), percentile(r.latencies, 100)
}

// lagScrapeCPU estimates what the scrapes beyond one every -scrape cost the
// subject, in CPU seconds, from the median CPU of a scrape.
func (r result) lagScrapeCPU(scrapeEvery time.Duration) float64 {
	if !r.lagScrapes {
		return 0
	}
	extra := len(r.latencies) - int(r.elapsed/scrapeEvery)
	return float64(max(extra, 0)) * percentile(r.scrapeCPU, 50).Seconds()
}

var tableHeader = []string{
	"N", "agent", "seen", "CPU % of a core", "µs / container / tick",
	"RSS max MiB", "RSS last MiB", "/metrics KiB", "series",
	"scrape ms p50/max", "scrape CPU ms p50",
	"tick lag ms p50/p99/max (ticks)", "overruns",
	"containerd CPU %", "+ shims CPU %", "agent / containerd", "agent / (containerd + shims)",
	"containerd RSS MiB", "shims PSS MiB", "host busy %",
}

func (r result) cells() []string {
	na := "n/a"
	ratio, runtimeRatio, shimPct, shimMem := na, na, na, na
	if r.containerdCPU > 0 {
		ratio = fmt.Sprintf("%.2f", r.cpu/r.containerdCPU)
	}
	if rt, ok := r.runtimeCPU(); ok {
		shimPct = fmt.Sprintf("%.2f", r.shimCPU/r.elapsed.Seconds()*100)
		shimMem = fmt.Sprintf("%.0f (%d)", mib(r.shimMem), r.shims)
		if rt > 0 {
			runtimeRatio = fmt.Sprintf("%.3f", r.cpu/rt)
		}
	}
	p50, pmax := r.latency()
	scrape := fmt.Sprintf("%.1f / %.1f", ms(p50), ms(pmax))
	if r.scrapeErrs > 0 {
		scrape += fmt.Sprintf(" (%d failed)", r.scrapeErrs)
	}
	scrapeCPU := na
	if len(r.scrapeCPU) > 0 {
		scrapeCPU = fmt.Sprintf("%.2f", ms(percentile(r.scrapeCPU, 50)))
	}
	lag := na
	if len(r.lags) > 0 {
		lag = fmt.Sprintf("%.1f / %.1f / %.1f (%d)", ms(percentile(r.lags, 50)), ms(percentile(r.lags, 99)),
			ms(percentile(r.lags, 100)), len(r.lags))
	}
	overruns := na
	if r.haveOverruns {
		overruns = fmt.Sprint(r.overruns)
	}
	return []string{
		fmt.Sprint(r.n), r.subject, fmt.Sprint(r.seen),
		fmt.Sprintf("%.3f", r.cpuPercent()),
		fmt.Sprintf("%.1f", r.perContainerTick()),
		fmt.Sprintf("%.1f", mib(r.rssMax)), fmt.Sprintf("%.1f", mib(r.rssLast)),
		fmt.Sprintf("%.1f", float64(r.bytes)/1024), fmt.Sprint(r.series),
		scrape, scrapeCPU, lag, overruns,
		fmt.Sprintf("%.2f", r.containerdPercent()), shimPct, ratio, runtimeRatio,
		fmt.Sprintf("%.0f", mib(r.containerdMem)), shimMem,
		fmt.Sprintf("%.0f", r.hostBusy),
	}
}

// compared are the subjects set beside the agent, in the order of the
// comparison table's columns.
var compared = []struct{ subject, label string }{
	{"floor", "floor"},
	{"cadvisor-kubelet", "cAdvisor (kubelet)"},
	{"cadvisor-fixed", "cAdvisor (fixed)"},
}

// comparisons sets each fleetscope result beside the results of the other
// subjects for the same N: the floor process (fleetscope CPU ÷ floor CPU,
// the agent's cost over the kernel's) and cAdvisor in each configuration
// measured (cAdvisor CPU ÷ fleetscope CPU). It returns the header and the
// rows; no rows when the agent was measured alone.
func comparisons(results []result) [][]string {
	find := func(subject string, n int) (result, bool) {
		i := slices.IndexFunc(results, func(c result) bool { return c.subject == subject && c.n == n })
		if i < 0 {
			return result{}, false
		}
		return results[i], true
	}
	var present []int // indexes into compared
	for i, c := range compared {
		if slices.ContainsFunc(results, func(r result) bool { return r.subject == c.subject }) {
			present = append(present, i)
		}
	}
	if len(present) == 0 {
		return nil
	}
	header := []string{"N", "fleetscope CPU %"}
	names := []string{"fleetscope"}
	for _, i := range present {
		c := compared[i]
		names = append(names, c.label)
		if c.subject == "floor" {
			header = append(header, "floor CPU %", "fleetscope / floor CPU")
		} else {
			header = append(header, c.label+" CPU %", c.label+" / fleetscope CPU")
		}
	}
	header = append(header, "RSS max MiB ("+strings.Join(names, " / ")+")", "/metrics KiB ("+strings.Join(names, " / ")+")")
	rows := [][]string{header}
	for _, f := range results {
		if f.subject != "fleetscope" {
			continue
		}
		row := []string{fmt.Sprint(f.n), fmt.Sprintf("%.3f", f.cpuPercent())}
		rss := []string{fmt.Sprintf("%.1f", mib(f.rssMax))}
		size := []string{fmt.Sprintf("%.0f", float64(f.bytes)/1024)}
		for _, i := range present {
			c, ok := find(compared[i].subject, f.n)
			if !ok {
				row = append(row, "n/a", "n/a")
				rss, size = append(rss, "n/a"), append(size, "n/a")
				continue
			}
			ratio := "n/a"
			switch {
			case compared[i].subject == "floor" && c.cpu > 0:
				ratio = fmt.Sprintf("%.2f×", f.cpu/f.elapsed.Seconds()/(c.cpu/c.elapsed.Seconds()))
			case compared[i].subject != "floor" && f.cpu > 0:
				ratio = fmt.Sprintf("%.1f×", c.cpu/c.elapsed.Seconds()/(f.cpu/f.elapsed.Seconds()))
			}
			row = append(row, fmt.Sprintf("%.3f", c.cpuPercent()), ratio)
			rss = append(rss, fmt.Sprintf("%.1f", mib(c.rssMax)))
			size = append(size, fmt.Sprintf("%.0f", float64(c.bytes)/1024))
		}
		row = append(row, strings.Join(rss, " / "), strings.Join(size, " / "))
		rows = append(rows, row)
	}
	if len(rows) == 1 {
		return nil
	}
	return rows
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// print writes a one-line summary as soon as a window ends.
func (r result) print(w io.Writer) {
	fmt.Fprintf(w, "    %s, %d containers: %.3f%% of a core over %v (%.4f s CPU, %.2f s by stat), containerd %.2f%%, RSS max %.1f MiB\n",
		r.subject, r.n, r.cpuPercent(), r.elapsed.Round(time.Second), r.cpu, r.statCPU, r.containerdPercent(), mib(r.rssMax))
	if len(r.lags) > 0 {
		over := "n/a"
		if r.haveOverruns {
			over = fmt.Sprint(r.overruns)
		}
		fmt.Fprintf(w, "    tick lag p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d ticks; %s overruns\n",
			ms(percentile(r.lags, 50)), ms(percentile(r.lags, 99)), ms(percentile(r.lags, 100)), len(r.lags), over)
	}
}

// writeTable writes the results aligned for a terminal, or as markdown
// tables: every measurement, then fleetscope against cAdvisor when both were
// measured.
func writeTable(w io.Writer, results []result, scrapeEvery time.Duration, markdown bool) {
	rows := [][]string{tableHeader}
	for _, r := range results {
		rows = append(rows, r.cells())
	}
	writeRows(w, rows, markdown)
	if cmp := comparisons(results); len(cmp) > 0 {
		fmt.Fprintln(w)
		writeRows(w, cmp, markdown)
	}
	for _, r := range results {
		if r.startup.added > 0 && r.subject == "fleetscope" {
			fmt.Fprintf(w, "\nStarting %d containers for N=%d took %v.", r.startup.added, r.n, r.startup.took.Round(time.Second))
		}
	}
	fmt.Fprintln(w)
	for _, r := range results {
		if r.note != "" {
			fmt.Fprintf(w, "\nNote: %s with %d containers %s.\n", r.subject, r.n, r.note)
		}
		if r.others > 0 {
			fmt.Fprintf(w, "\nNote: %s with %d containers also watched %d other containers of the host, and its CPU includes them.\n",
				r.subject, r.n, r.others)
		}
		if c := r.lagScrapeCPU(scrapeEvery); c > 0 {
			fmt.Fprintf(w, "\nNote: %s with %d containers was scraped %d times to sample its tick lag; the scrapes beyond one every %v cost it about %.2f%% of a core, included in its CPU.\n",
				r.subject, r.n, len(r.latencies), scrapeEvery, c/r.elapsed.Seconds()*100)
		}
	}
}

func writeRows(w io.Writer, rows [][]string, markdown bool) {
	if markdown {
		for i, row := range rows {
			fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
			if i == 0 {
				fmt.Fprintf(w, "|%s\n", strings.Repeat("---:|", len(row)))
			}
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		for _, row := range rows {
			fmt.Fprintf(tw, "%s\t\n", strings.Join(row, "\t"))
		}
		tw.Flush()
	}
}

func writeMarkdown(path string, m machine, o options, results []result) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Fleetscope overhead\n\n")
	for _, l := range m.lines(o) {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintln(&b)
	writeTable(&b, results, o.scrapeEvery, true)
	fmt.Fprintf(&b, `
CPU is the run time of the process's threads (summed
/proc/<pid>/task/*/schedstat, nanoseconds) between the start and the end of
the window, which starts once the agent reports every container and one
more sample interval has passed; utime+stime from /proc/<pid>/stat, which
counts 10 ms ticks, only where schedstat could not be read (containerd's
likewise; its shims' from stat). "µs / container / tick" charges
everything the process did in the window (sampling, discovery, storage
rounds, serving scrapes) to N containers × window/interval ticks. RSS is
VmRSS, read right after each scrape. /metrics KiB and series are from the
last scrape (uncompressed text format); scrape ms is the time from sending
the request to the last byte, and scrape CPU the process's CPU time (summed
/proc/<pid>/task/*/schedstat) during the request, median over the window.
Tick lag is the agent's fleetscope_sampler_tick_lag_seconds, how late its
latest tick started, read at every scrape, each tick counted once;
percentiles are nearest-rank over the ticks seen. Overruns is the increase of
fleetscope_sampler_overruns_total between the first and the last scrape.
containerd CPU is the daemon's own process in the same window, "+ shims" the
containerd-shim processes of its containers: together the cost of running
the same containers without monitoring. containerd RSS and the shims' summed
PSS (shared pages divided among the processes that map them) are read after
the window. "host busy %%" is the whole machine over all CPUs, to show how
loaded it was.
`)
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// machine describes where the numbers were taken.
type machine struct {
	date       time.Time
	cpus       int
	cpuModel   string
	memory     string
	kernel     string
	cgroup     string
	cgroupFrom string // "agent log" once the agent has said so
	load       string
	containerd string
	fleetscope string
}

func describeMachine(ctx context.Context, o options) machine {
	m := machine{
		date:       time.Now().UTC(),
		cpus:       runtime.NumCPU(),
		cpuModel:   firstField(filepath.Join(o.procRoot, "cpuinfo"), "model name"),
		memory:     gib(firstField(filepath.Join(o.procRoot, "meminfo"), "MemTotal")),
		kernel:     readTrimmed(filepath.Join(o.procRoot, "sys/kernel/osrelease")),
		load:       loadAverage(filepath.Join(o.procRoot, "loadavg")),
		fleetscope: commandOutput(ctx, o.fleetscope, "version"),
	}
	m.cgroup = cgroupModeFromFS(o.cgroupRoot)
	return m
}

func (m machine) lines(o options) []string {
	cg := m.cgroup + " (from the agent's log)"
	if m.cgroupFrom == "" {
		cg = m.cgroup + " (from the filesystem types)"
	}
	return []string{
		"date: " + m.date.Format(time.RFC3339),
		fmt.Sprintf("machine: %d CPUs (%s), memory %s, kernel %s, cgroup %s", m.cpus, m.cpuModel, m.memory, m.kernel, cg),
		"load average at start: " + m.load,
		fmt.Sprintf("containerd %s; %s", m.containerd, m.fleetscope),
		fmt.Sprintf("window %v per N and agent, agent interval %v, scrape every %v%s, %d busy containers (the rest sleep)",
			o.window, o.interval, o.scrapeEvery, lagNote(o), o.busy),
		"layout: " + layout(o),
	}
}

func (m machine) print(w io.Writer, o options) {
	for _, l := range m.lines(o) {
		fmt.Fprintln(w, l)
	}
}

// firstField returns the value of the first "key: value" line of a procfs
// file such as cpuinfo or meminfo.
func firstField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown"
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// gib turns a meminfo value such as "24684092 kB" into GiB.
func gib(kb string) string {
	n, unit, _ := strings.Cut(kb, " ")
	v, err := strconv.ParseUint(n, 10, 64)
	if err != nil || unit != "kB" {
		return kb
	}
	return fmt.Sprintf("%.1f GiB", float64(v)/(1<<20))
}

// loadAverage returns the 1, 5 and 15 minute load averages of loadavg.
func loadAverage(path string) string {
	f := strings.Fields(readTrimmed(path))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// commandOutput returns the first line a command prints, or "unknown".
func commandOutput(ctx context.Context, name string, args ...string) string {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// containerdVersion returns the server version `ctr version` prints last.
func containerdVersion(ctx context.Context, d *testenv.Daemon) string {
	out, err := d.Ctr(ctx, "version")
	if err != nil {
		return "unknown"
	}
	v := "unknown"
	for line := range strings.Lines(out) {
		if k, val, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Version" {
			v = strings.TrimSpace(val)
		}
	}
	return v
}

// cgroupModeFromLog finds the mode in the agent's "cgroup layout detected"
// JSON log line.
func cgroupModeFromLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range bytes.Lines(b) {
		var rec struct {
			Msg  string `json:"msg"`
			Mode string `json:"mode"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "cgroup layout detected" {
			return rec.Mode
		}
	}
	return ""
}

// cgroupModeFromFS names the cgroup layout from the filesystem types: cgroup2
// at the root is unified; otherwise a cgroup2 "unified" child makes it hybrid.
func cgroupModeFromFS(root string) string {
	isV2 := func(p string) bool {
		var st unix.Statfs_t
		return unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
	}
	switch {
	case isV2(root):
		return "unified"
	case isV2(filepath.Join(root, "unified")):
		return "hybrid"
	default:
		return "legacy"
	}
}

func layout(o options) string {
	if o.pods {
		return "pods (a sandbox running sleep plus 1, 2, 3, 1, … app containers in its network namespace; N counts sandboxes)"
	}
	return "a network namespace per container"
}

func lagNote(o options) string {
	if o.lagEvery <= 0 || o.lagEvery >= o.scrapeEvery {
		return ""
	}
	return fmt.Sprintf(" (the agent every %v, for its tick lag)", o.lagEvery)
}
