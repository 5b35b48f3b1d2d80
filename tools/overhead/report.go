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
	seen     int // containers the subject reported in its last scrape
	interval time.Duration
	note     string

	elapsed         time.Duration // between the two CPU readings
	cpu             float64       // the subject's CPU seconds in the window
	containerdCPU   float64       // containerd's CPU seconds in the same window
	hostBusy        float64       // whole machine, percent of all CPUs
	rssMax, rssLast uint64
	bytes, series   int // of the last scrape
	latencies       []time.Duration
	scrapeErrs      int
}

// cpuPercent is the subject's CPU in percent of one core.
func (r result) cpuPercent() float64 { return r.cpu / r.elapsed.Seconds() * 100 }

func (r result) containerdPercent() float64 { return r.containerdCPU / r.elapsed.Seconds() * 100 }

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
	if len(r.latencies) == 0 {
		return 0, 0
	}
	l := slices.Clone(r.latencies)
	slices.Sort(l)
	return l[(len(l)-1)/2], l[len(l)-1]
}

var tableHeader = []string{
	"N", "agent", "seen", "CPU % of a core", "µs / container / tick",
	"RSS max MiB", "RSS last MiB", "/metrics KiB", "series", "scrape ms p50/max",
	"containerd CPU %", "agent / containerd", "host busy %",
}

func (r result) cells() []string {
	p50, pmax := r.latency()
	ratio := "n/a"
	if r.containerdCPU > 0 {
		ratio = fmt.Sprintf("%.2f", r.cpu/r.containerdCPU)
	}
	scrape := fmt.Sprintf("%.1f / %.1f", ms(p50), ms(pmax))
	if r.scrapeErrs > 0 {
		scrape += fmt.Sprintf(" (%d failed)", r.scrapeErrs)
	}
	return []string{
		fmt.Sprint(r.n), r.subject, fmt.Sprint(r.seen),
		fmt.Sprintf("%.2f", r.cpuPercent()),
		fmt.Sprintf("%.1f", r.perContainerTick()),
		fmt.Sprintf("%.1f", mib(r.rssMax)), fmt.Sprintf("%.1f", mib(r.rssLast)),
		fmt.Sprintf("%.1f", float64(r.bytes)/1024), fmt.Sprint(r.series),
		scrape,
		fmt.Sprintf("%.2f", r.containerdPercent()), ratio,
		fmt.Sprintf("%.0f", r.hostBusy),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// print writes a one-line summary as soon as a window ends.
func (r result) print(w io.Writer) {
	fmt.Fprintf(w, "    %s, %d containers: %.2f%% of a core over %v (%.3f s CPU), containerd %.2f%%, RSS max %.1f MiB\n",
		r.subject, r.n, r.cpuPercent(), r.elapsed.Round(time.Second), r.cpu, r.containerdPercent(), mib(r.rssMax))
}

// writeTable writes the results aligned for a terminal, or as a markdown
// table.
func writeTable(w io.Writer, results []result, markdown bool) {
	rows := [][]string{tableHeader}
	for _, r := range results {
		rows = append(rows, r.cells())
	}
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
	for _, r := range results {
		if r.note != "" {
			fmt.Fprintf(w, "\nNote: %s with %d containers %s.\n", r.subject, r.n, r.note)
		}
	}
}

func writeMarkdown(path string, m machine, o options, results []result) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Fleetscope overhead\n\n")
	for _, l := range m.lines(o) {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	fmt.Fprintln(&b)
	writeTable(&b, results, true)
	fmt.Fprintf(&b, `
CPU is utime+stime of the process from /proc/<pid>/stat between the start and
the end of the window, which starts once the agent reports every container
and one more sample interval has passed. "µs / container / tick" charges
everything the process did in the window (sampling, discovery, storage
rounds, serving scrapes) to N containers × window/interval ticks. RSS is
VmRSS, read right after each scrape. /metrics KiB and series are from the
last scrape (uncompressed text format). containerd CPU is the daemon's own
process in the same window (not its shims), the cost of running the same
containers; "host busy %%" is the whole machine over all CPUs, to show how
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
		fmt.Sprintf("window %v per N and agent, agent interval %v, scrape every %v, %d busy containers (the rest sleep)",
			o.window, o.interval, o.scrapeEvery, o.busy),
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
