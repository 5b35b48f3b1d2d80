// Package report is the JSON shape of the agent's /api/v1/containers and
// the rendering of `fleetscope report`: every container with its figures,
// verdict and reasons, sorted by the money it wastes.
package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/resources"
)

// Report is the API document.
type Report struct {
	Node        string      `json:"node"`
	Time        time.Time   `json:"time"`
	Currency    string      `json:"currency"`
	PriceSource string      `json:"price_source"`
	Containers  []Container `json:"containers"`
	// Runs are the Jobs' and CronJobs' runs seen on the node.
	Runs []Runs `json:"runs,omitempty"`
	// Parts are the workloads judged on the history of every pod they had
	// on the node, where that is more than one container's.
	Parts []WorkloadPart `json:"workload_parts,omitempty"`
}

// Container is one container's figures.
type Container struct {
	ID           string `json:"id"`
	Namespace    string `json:"namespace"`
	Name         string `json:"name"`
	PodName      string `json:"pod_name,omitempty"`
	PodNamespace string `json:"pod_namespace,omitempty"`
	// WorkloadKind and WorkloadName: what the container's figures add up
	// to (see WorkloadsOf).
	WorkloadKind string `json:"workload_kind,omitempty"`
	WorkloadName string `json:"workload_name,omitempty"`
	// Node is set where a report spans nodes (report --prometheus).
	Node    string `json:"node,omitempty"`
	Image   string `json:"image"`
	Running bool   `json:"running"`
	Sandbox bool   `json:"sandbox"`
	GPU     bool   `json:"gpu"`

	CPUCores        *float64 `json:"cpu_cores,omitempty"`
	WorkingSetBytes *uint64  `json:"working_set_bytes,omitempty"`
	// OOMKills is how many times the kernel's OOM killer killed a process of
	// the container's cgroup since it was created (memory.events oom_kill on
	// cgroup v2, memory.oom_control oom_kill on v1), where the kernel says.
	OOMKills *uint64 `json:"oom_kills,omitempty"`
	// CPUThrottledRatio is the share of the CFS bandwidth periods since the
	// cgroup was created in which it was throttled, where it has a quota.
	CPUThrottledRatio *float64 `json:"cpu_throttled_ratio,omitempty"`
	// ListenPort is the lowest TCP port the container's network namespace
	// listens on at an address other than loopback, where one does.
	ListenPort *uint16 `json:"listen_port,omitempty"`

	Analysis *Analysis `json:"analysis,omitempty"`
}

// Analysis is the idle, cost and serverless part of a container.
type Analysis struct {
	ObservedSeconds float64            `json:"observed_seconds"`
	IdleRatio       map[string]float64 `json:"idle_ratio"`
	// BusyRatio is the share of the sampled time the container was busy,
	// below the minute; BusyFrom what measured it: "periods" (CFS
	// bandwidth periods), "fine" (fine sampling) or "samples".
	// DutyCycled says the verdict judged the container on that share
	// (work in pieces shorter than a minute) rather than on its minutes.
	BusyRatio  *float64 `json:"busy_ratio,omitempty"`
	BusyFrom   string   `json:"busy_from,omitempty"`
	DutyCycled bool     `json:"duty_cycled,omitempty"`
	Verdict    string   `json:"verdict"`
	Score      int      `json:"score"`
	Platform   string   `json:"platform,omitempty"`
	// PlatformSource is the row of the serverless price table that priced
	// the platform: its source and date.
	PlatformSource string `json:"platform_source,omitempty"`
	// PlatformVCPUs and PlatformMemoryMiB are the size the platform was
	// priced at.
	PlatformVCPUs     float64  `json:"platform_vcpus,omitempty"`
	PlatformMemoryMiB uint64   `json:"platform_memory_mib,omitempty"`
	Reasons           []Reason `json:"reasons"`
	Blockers          []Reason `json:"blockers"`

	ReservedCPUCores  float64 `json:"reserved_cpu_cores"`
	ReservedCPUSource string  `json:"reserved_cpu_source"`
	// ReservedCPURequestFrom says, for a reservation that is the request,
	// where the request was read: "spec" (what the runtime was asked
	// for), "cpu.shares" (cgroup v1) or "cpu.weight" (cgroup v2, only
	// when no spec says). A weight reads one way under runc 1.3.2 and
	// later or crun 1.23 and later, the reading priced, and another under
	// older runtimes: ReservedCPUCoresLegacyRuntime.
	ReservedCPURequestFrom        string   `json:"reserved_cpu_request_from,omitempty"`
	ReservedCPUCoresLegacyRuntime *float64 `json:"reserved_cpu_cores_legacy_runtime,omitempty"`
	ReservedMemory                uint64   `json:"reserved_memory_bytes"`
	ReservedMemorySrc             string   `json:"reserved_memory_source"`
	CPUP50                        float64  `json:"cpu_p50_cores"`
	CPUP95                        float64  `json:"cpu_p95_cores"`
	CPUMax                        float64  `json:"cpu_max_cores"`
	WorkingSetP95                 uint64   `json:"working_set_p95_bytes"`
	WorkingSetMax                 uint64   `json:"working_set_max_bytes"`
	Bursts                        int      `json:"bursts"`
	BurstP50Seconds               float64  `json:"burst_p50_seconds"`
	BurstP95Seconds               float64  `json:"burst_p95_seconds"`
	BurstMaxSeconds               float64  `json:"burst_max_seconds"`
	IdleHoursOfDay                []int    `json:"idle_hours_of_day,omitempty"`
	// Sleep is when a schedule could stop the container, in its time
	// zone; Replay what sleeping then did to the hours recorded.
	Sleep              *Sleep  `json:"sleep,omitempty"`
	Replay             *Replay `json:"replay,omitempty"`
	CostPerHour        float64 `json:"cost_per_hour"`
	IdleCostPerHour    float64 `json:"idle_cost_per_hour"`
	IdleCostPerMonth   float64 `json:"idle_cost_per_month"`
	OverReservedPerMon float64 `json:"overreservation_cost_per_month"`
	CurrentMonthlyCost float64 `json:"current_monthly_cost"`
	ServerlessMonthly  float64 `json:"serverless_monthly_cost"`
	SavingsPerMonth    float64 `json:"savings_per_month"`
	// GPUBusyRatio is the share of the time its GPU was busy, measured by
	// NVIDIA's DCGM exporter (GPUBusyFrom names the series), where the
	// store holds it; the GPU's idle money then comes from it rather than
	// from the container's own idleness.
	GPUBusyRatio *float64 `json:"gpu_busy_ratio,omitempty"`
	GPUBusyFrom  string   `json:"gpu_busy_from,omitempty"`
}

// Reason is one reason or blocker.
type Reason struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

// FromSnapshot builds the document from a snapshot.
func FromSnapshot(s *model.Snapshot, currency, priceSource string) Report {
	r := Report{Currency: currency, PriceSource: priceSource, Containers: []Container{}}
	if s == nil {
		return r
	}
	r.Node, r.Time = s.NodeName, s.Time
	for i := range s.Containers {
		sc := &s.Containers[i]
		m := sc.Meta
		c := Container{
			ID: m.ID, Namespace: m.Namespace, Name: m.Name, PodName: m.Pod.Name, PodNamespace: m.Pod.Namespace,
			Image: m.Image, Running: sc.Running, Sandbox: m.Sandbox, GPU: m.GPU,
			WorkloadKind: m.Workload.Kind, WorkloadName: m.Workload.Name, Node: s.NodeName,
		}
		if sc.Sampled {
			ws := sc.Usage.MemoryWorkingSet
			c.WorkingSetBytes = &ws
			if sc.HaveRates {
				cores := sc.CPUCores
				c.CPUCores = &cores
			}
			c.OOMKills, c.CPUThrottledRatio = oomKills(&sc.Usage), throttledRatio(&sc.Usage, &sc.Limits)
		}
		if sc.Network >= 0 && sc.Network < len(s.Networks) {
			if p := s.Networks[sc.Network].ListenPort; p != 0 {
				c.ListenPort = &p
			}
		}
		if a := sc.Analysis; a != nil {
			c.Analysis = fromResult(a)
			c.Analysis.setRequestFrom(a, sc.Limits.CPURequest())
		}
		r.Containers = append(r.Containers, c)
	}
	r.Parts = partsOf(s)
	for _, wr := range s.Runs {
		st, v := &wr.Stats, &wr.Verdict
		r.Runs = append(r.Runs, Runs{
			Namespace: wr.Namespace, Kind: wr.Kind, Name: wr.Name, Node: s.NodeName,
			Count: st.Count, WindowSeconds: st.Window.Seconds(),
			DurationP50Seconds: st.DurationP50.Seconds(), DurationP95Seconds: st.DurationP95.Seconds(),
			DurationMaxSeconds: st.DurationMax.Seconds(), DurationMeanSeconds: st.DurationMean.Seconds(),
			Verdict: string(v.Verdict), Platform: v.Platform, Reasons: reasons(v.Reasons),
			CostPerMonth: finite(v.ContainerMonthlyCost), ServerlessPerMonth: finite(v.ServerlessMonthlyCost),
		})
	}
	return r
}

// oomKills is the sample's OOM kill counter, nil where it was not read.
func oomKills(u *model.Usage) *uint64 {
	if !u.Have.Has(model.HaveOOM) {
		return nil
	}
	n := u.OOMKills
	return &n
}

// throttledRatio is the share of the CFS periods in which the cgroup was
// throttled, bounded to [0, 1] whatever the counters say; nil without a
// quota now, since periods counted under a quota since removed say
// nothing of a container that can no longer be throttled.
func throttledRatio(u *model.Usage, l *model.Limits) *float64 {
	if !u.Have.Has(model.HaveThrottling) || l.CPULimitCores() <= 0 {
		return nil
	}
	return ThrottledRatio(float64(u.CPUThrottledPeriods), float64(u.CPUPeriods))
}

// ThrottledRatio is throttled periods over periods, bounded to [0, 1]
// whatever the counters (or a store's increases of them) say; nil
// without periods.
func ThrottledRatio(throttled, periods float64) *float64 {
	if !(periods > 0) || math.IsInf(periods, 0) || math.IsNaN(throttled) {
		return nil
	}
	return new(min(max(throttled/periods, 0), 1))
}

// OOMKillCount is a count of OOM kills read as a number (a store's
// counter or its increase), rounded and bounded; nil where it is not one.
func OOMKillCount(v float64) *uint64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return new(uint64(math.Round(min(max(v, 0), math.MaxUint32))))
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// setRequestFrom says where a request that the analysis prices was read.
func (an *Analysis) setRequestFrom(a *analysis.Result, r resources.CPURequest) {
	if a.Reserved.CPUSource != analysis.SourceRequest {
		return
	}
	an.ReservedCPURequestFrom = r.From.String()
	if r.From == resources.RequestWeight {
		legacy := r.LegacyCores()
		an.ReservedCPUCoresLegacyRuntime = &legacy
	}
}

func reasons(rs []analysis.Reason) []Reason {
	out := make([]Reason, 0, len(rs))
	for _, r := range rs {
		out = append(out, Reason{Code: r.Code, Text: r.Text})
	}
	return out
}

func fromResult(a *analysis.Result) *Analysis {
	idle := map[string]float64{}
	for name, v := range map[string]float64{"1h": a.IdleRatio1h, "24h": a.IdleRatio24h, "7d": a.IdleRatio7d} {
		if !math.IsNaN(v) {
			idle[name] = v
		}
	}
	return &Analysis{
		ObservedSeconds: a.ObservedFor.Seconds(), IdleRatio: idle, BusyRatio: finitePtr(a.BusyRatio), BusyFrom: a.BusyFrom, DutyCycled: a.DutyCycled,
		Verdict: string(a.Verdict), Score: a.Score, Platform: a.Platform, PlatformSource: a.PlatformSource,
		PlatformVCPUs: finite(a.PlatformVCPUs), PlatformMemoryMiB: a.PlatformMemoryMiB,
		Reasons: reasons(a.Reasons), Blockers: reasons(a.Blockers),
		ReservedCPUCores: finite(a.Reserved.CPUCores), ReservedCPUSource: a.Reserved.CPUSource,
		ReservedMemory: a.Reserved.MemoryBytes, ReservedMemorySrc: a.Reserved.MemorySource,
		CPUP50: finite(a.CPUP50), CPUP95: finite(a.CPUP95), CPUMax: finite(a.CPUMax),
		WorkingSetP95: a.WorkingSetP95, WorkingSetMax: a.WorkingSetMax,
		Bursts: a.Bursts.Count, BurstP50Seconds: a.Bursts.P50.Seconds(), BurstP95Seconds: a.Bursts.P95.Seconds(), BurstMaxSeconds: a.Bursts.Max.Seconds(),
		IdleHoursOfDay: a.IdleHoursOfDay, Sleep: sleepOf(&a.Sleep), Replay: replayOf(&a.Replay, a.CostPerHour),
		CostPerHour: finite(a.CostPerHour), IdleCostPerHour: finite(a.IdleCostPerHour), IdleCostPerMonth: finite(a.IdleCostPerMonth),
		OverReservedPerMon: finite(a.OverReservationWastePerMonth), CurrentMonthlyCost: finite(a.CurrentMonthlyCost),
		ServerlessMonthly: finite(a.ServerlessMonthlyCost), SavingsPerMonth: finite(a.SavingsPerMonth),
	}
}

// Sleep is a sleep schedule: the hours of workdays (Monday to Friday)
// and of weekend days it sleeps in, in TimeZone.
type Sleep struct {
	TimeZone     string `json:"time_zone"`
	Workdays     []int  `json:"workdays"`
	Weekend      []int  `json:"weekend"`
	HoursPerWeek int    `json:"hours_per_week"`
}

// Replay is what a sleep schedule would have done to the hours recorded.
type Replay struct {
	HoursAsleep int `json:"hours_asleep"`
	// MinutesAtZero are the minutes it would have held no replica, of
	// HoursWithData hours recorded.
	MinutesAtZero int `json:"minutes_at_zero"`
	HoursWithData int `json:"hours_with_data"`
	// Starts are the cold starts its wake-ups would have made, StartsPerDay
	// their daily rate, and Flaps the sleeps shorter than two hours.
	Starts       int     `json:"starts"`
	StartsPerDay float64 `json:"starts_per_day"`
	Flaps        int     `json:"flaps"`
	// SavingPerMonth is the saving of the hours it would have slept, the
	// share of the hours recorded, per month: the schedule's own saving
	// checked against the week as it was.
	SavingPerMonth float64 `json:"saving_per_month"`
	// RefusedConnections are the connections above the hourly background
	// that arrived while it would have slept, in RefusedHours hours.
	RefusedConnections float64 `json:"refused_connections"`
	RefusedHours       int     `json:"refused_hours"`
}

func sleepOf(s *analysis.SleepSchedule) *Sleep {
	if s.HoursPerWeek() == 0 {
		return nil
	}
	return &Sleep{TimeZone: s.Zone, Workdays: s.Workdays.Hours(), Weekend: s.Weekend.Hours(), HoursPerWeek: s.HoursPerWeek()}
}

func replayOf(p *analysis.Replay, costPerHour float64) *Replay {
	if !p.Done {
		return nil
	}
	return &Replay{HoursAsleep: p.HoursAsleep, MinutesAtZero: 60 * p.HoursAsleep, HoursWithData: p.HoursWithData,
		Starts: p.Starts, StartsPerDay: finite(p.StartsPerDay()), Flaps: p.Flaps, SavingPerMonth: finite(p.SavingPerMonth(costPerHour)),
		RefusedConnections: finite(p.Connections), RefusedHours: p.RefusedHours}
}

// finitePtr is v, nil when it is not a number.
func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Filter keeps the containers matching every non-empty criterion.
type Filter struct {
	Namespaces []string // Kubernetes namespace, else containerd namespace
	Verdicts   []string
	// WithSandboxes keeps pod sandboxes, which are hidden by default.
	WithSandboxes bool
}

// Apply filters r.Containers in place and sorts them by money at stake
// per month, largest first: what a serverless candidate would save, or
// what a container wastes (idle cost plus over-reservation), whichever is
// larger.
func (f Filter) Apply(r *Report) {
	out := r.Containers[:0]
	for _, c := range r.Containers {
		ns := c.PodNamespace
		if ns == "" {
			ns = c.Namespace
		}
		if len(f.Namespaces) > 0 && !slices.Contains(f.Namespaces, ns) {
			continue
		}
		verdict := ""
		if c.Analysis != nil {
			verdict = c.Analysis.Verdict
		}
		if len(f.Verdicts) > 0 && !slices.Contains(f.Verdicts, verdict) {
			continue
		}
		if c.Sandbox && !f.WithSandboxes {
			continue
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b Container) int {
		if c := cmp.Compare(atStake(b), atStake(a)); c != 0 {
			return c
		}
		return cmp.Compare(a.Namespace+"/"+a.ID, b.Namespace+"/"+b.ID)
	})
	r.Containers = out
}

// atStake is the money per month a decision about a container moves: what
// it pays for idling plus what it reserves beyond its p95 while busy, or,
// for a serverless candidate, the saving if that is larger (a candidate's
// saving, not its idle cost, is what acting on the verdict brings).
func atStake(c Container) float64 {
	a := c.Analysis
	if a == nil {
		return -1
	}
	wasted := a.IdleCostPerMonth + a.OverReservedPerMon
	if a.Platform != "" {
		return max(wasted, a.SavingsPerMonth)
	}
	return wasted
}

// Render writes r as "table", "json" or "markdown".
func Render(w io.Writer, r Report, o Options) error {
	switch o.Format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "table":
		return renderTable(w, r, o.Width)
	case "markdown":
		return renderMarkdown(w, r)
	}
	return fmt.Errorf("unknown output format %q (want table, json or markdown)", o.Format)
}

func money(cur string, v float64) string {
	if cur == "USD" {
		if v < 0 {
			return fmt.Sprintf("-$%.2f", -v)
		}
		return fmt.Sprintf("$%.2f", v)
	}
	return fmt.Sprintf("%.2f %s", v, cur)
}

func pct(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", v*100)
}

// idleColumn is the idleness the verdict used: the share of idle minutes
// over 7 days, or, for work in pieces shorter than a minute, the share of
// the sampled time not busy, marked as such.
func idleColumn(a *Analysis) string {
	if a.DutyCycled && a.BusyRatio != nil {
		return pct(1-*a.BusyRatio, true) + " of samples"
	}
	v, ok := a.IdleRatio["7d"]
	return pct(v, ok)
}

type row struct {
	name, ns, verdict, idle, cost, idleCost, saving, why string
}

func rows(r Report) []row {
	var out []row
	for _, c := range r.Containers {
		name := c.Name
		if c.PodName != "" {
			name = c.PodName + "/" + c.Name
		}
		ns := c.PodNamespace
		if ns == "" {
			ns = c.Namespace
		}
		rw := row{name: name, ns: ns, verdict: "-", idle: "-", cost: "-", idleCost: "-", saving: "-"}
		if a := c.Analysis; a != nil {
			rw.verdict = a.Verdict
			if a.Platform != "" && a.Verdict != a.Platform {
				rw.verdict += " (" + a.Platform + ")"
			}
			rw.idle = idleColumn(a)
			if a.Verdict != string(analysis.VerdictInsufficientData) {
				rw.cost = money(r.Currency, a.CurrentMonthlyCost)
				rw.idleCost = money(r.Currency, a.IdleCostPerMonth)
				if a.Platform != "" {
					rw.saving = money(r.Currency, a.SavingsPerMonth)
				}
			}
			why := observed(c)
			for _, b := range a.Blockers {
				why = append(why, "✗ "+b.Text)
			}
			for _, re := range a.Reasons {
				why = append(why, re.Text)
			}
			rw.why = strings.Join(why, "; ")
		}
		out = append(out, rw)
	}
	return out
}

// observed states what went wrong for c, first in its WHY: the targets a
// plan raises for it (see rightsize) should not come as a surprise.
func observed(c Container) []string {
	var out []string
	if c.OOMKills != nil && *c.OOMKills > 0 {
		out = append(out, fmt.Sprintf("⚠ killed by the OOM killer %d time(s)", *c.OOMKills))
	}
	if c.CPUThrottledRatio != nil && *c.CPUThrottledRatio >= throttledShare {
		out = append(out, fmt.Sprintf("⚠ CPU throttled in %.0f%% of its periods", 100**c.CPUThrottledRatio))
	}
	return out
}

// Options say how to render.
type Options struct {
	// Format is "table", "json" or "markdown".
	Format string
	// Width fits a table to a terminal this wide by shortening its last
	// column (WHY, with an ellipsis); 0 leaves it whole, as JSON always is.
	Width int
}

func renderTable(w io.Writer, r Report, width int) error {
	fmt.Fprintf(w, "Node %s, %s. Costs per month at %s.\n\n", Escape(r.Node), r.Time.Format(time.RFC3339), Escape(r.PriceSource))
	table := [][]string{{"CONTAINER", "NAMESPACE", "IDLE (7d)", "COST/MO", "IDLE COST/MO", "VERDICT", "SAVING/MO", "WHY"}}
	for _, rw := range rows(r) {
		table = append(table, []string{rw.name, rw.ns, rw.idle, rw.cost, rw.idleCost, rw.verdict, rw.saving, rw.why})
	}
	if err := writeTable(w, table, width); err != nil {
		return err
	}
	return summary(w, r, Escape)
}

// writeTable writes rows aligned in columns two spaces apart, the last
// column cut (with an ellipsis) so that lines fit width when it is set.
// Every cell is escaped (see Escape) first: that is what the table shows,
// and so what its widths are measured on.
func writeTable(w io.Writer, rows [][]string, width int) error {
	for _, row := range rows {
		for i := range row {
			row[i] = Escape(row[i])
		}
	}
	if width > 0 && len(rows) > 0 {
		n := len(rows[0])
		widths := make([]int, n)
		for _, row := range rows {
			for i, cell := range row[:n-1] {
				widths[i] = max(widths[i], utf8.RuneCountInString(cell))
			}
		}
		used := 0
		for _, cw := range widths[:n-1] {
			used += cw + 2
		}
		room := max(width-used, 16)
		for _, row := range rows {
			if last := []rune(row[n-1]); len(last) > room {
				row[n-1] = string(last[:room-1]) + "…"
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func renderMarkdown(w io.Writer, r Report) error {
	fmt.Fprintf(w, "### Fleetscope report: %s, %s\n\nCosts per month at %s.\n\n", markdownText(r.Node), r.Time.Format(time.RFC3339), markdownText(r.PriceSource))
	fmt.Fprintln(w, "| container | namespace | idle (7d) | cost/mo | idle cost/mo | verdict | saving/mo | why |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, rw := range rows(r) {
		writeMarkdownRow(w, []string{rw.name, rw.ns, rw.idle, rw.cost, rw.idleCost, rw.verdict, rw.saving, rw.why})
	}
	fmt.Fprintln(w)
	return summary(w, r, markdownText)
}

// writeMarkdownRow writes one row of a Markdown table, every cell escaped
// (see markdownText).
func writeMarkdownRow(w io.Writer, cells []string) {
	for i := range cells {
		cells[i] = markdownText(cells[i])
	}
	fmt.Fprintln(w, "| "+strings.Join(cells, " | ")+" |")
}

// summary writes the totals, its money escaped with esc.
func summary(w io.Writer, r Report, esc func(string) string) error {
	var idle, savings float64
	candidates := 0
	for _, c := range r.Containers {
		if a := c.Analysis; a != nil {
			idle += a.IdleCostPerMonth
			if a.Platform != "" && a.SavingsPerMonth > 0 {
				savings += a.SavingsPerMonth
				candidates++
			}
		}
	}
	_, err := fmt.Fprintf(w, "\nPaid for idle time: %s per month. Serverless candidates: %d, saving %s per month.\n",
		esc(money(r.Currency, idle)), candidates, esc(money(r.Currency, savings)))
	return err
}
