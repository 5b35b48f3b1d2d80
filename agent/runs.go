package agent

import (
	"cmp"
	"slices"
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
)

// Bounds of the run log: a node runs a few hundred CronJobs at most, and a
// week of runs per CronJob is what AnalyzeRuns reads.
const (
	maxRunWorkloads    = 512
	maxRunsPerWorkload = 512
	runRetention       = 7 * 24 * time.Hour
)

type runKey struct{ ns, kind, name string }

// jobRun is one Job's pod: from its first start to its last running
// sample, with its containers' CPU time and memory.
type jobRun struct {
	start, end time.Time
	cpu        map[string]float64 // container id → CPU seconds so far
	mem        map[string]uint64  // container id → working set now
	cores      map[string]float64 // container id → reserved cores
	bytes      map[string]uint64  // container id → reserved memory
	peakMem    uint64
}

// runLog follows the runs of Jobs and CronJobs, whose pods are too short
// lived for per-container history to judge. It is owned by the loop.
type runLog struct {
	cfg  config.AnalysisConfig
	runs map[runKey]map[string]*jobRun // workload → job name → run
}

func newRunLog(cfg config.AnalysisConfig) *runLog {
	return &runLog{cfg: cfg, runs: map[runKey]map[string]*jobRun{}}
}

// observe records a tick's samples of Job pods' containers.
func (l *runLog) observe(snap *model.Snapshot) {
	for i := range snap.Containers {
		sc := &snap.Containers[i]
		m := sc.Meta
		w := &m.Workload
		if m.Sandbox || !sc.Sampled || (w.Kind != containerd.KindCronJob && w.Kind != containerd.KindJob) {
			continue
		}
		k := runKey{m.Pod.Namespace, w.Kind, w.Name}
		jobs := l.runs[k]
		if jobs == nil {
			if len(l.runs) >= maxRunWorkloads {
				continue
			}
			jobs = map[string]*jobRun{}
			l.runs[k] = jobs
		}
		job := w.Job
		if job == "" {
			job = w.Name
		}
		r := jobs[job]
		if r == nil {
			if len(jobs) >= maxRunsPerWorkload {
				l.dropOldest(jobs)
			}
			start := sc.StartedAt
			if start.IsZero() || start.After(snap.Time) {
				start = snap.Time
			}
			r = &jobRun{start: start, cpu: map[string]float64{}, mem: map[string]uint64{}, cores: map[string]float64{}, bytes: map[string]uint64{}}
			jobs[job] = r
		}
		if sc.StartedAt.Before(r.start) && !sc.StartedAt.IsZero() {
			r.start = sc.StartedAt
		}
		r.end = snap.Time
		r.cpu[m.ID] = float64(sc.Usage.CPUNanos) / 1e9
		r.mem[m.ID] = sc.Usage.MemoryWorkingSet
		var mem uint64
		for _, b := range r.mem {
			mem += b
		}
		r.peakMem = max(r.peakMem, mem)
		cores := sc.Limits.CPULimitCores()
		if cores == 0 {
			cores = sc.Limits.CPURequestCores()
		}
		r.cores[m.ID], r.bytes[m.ID] = cores, sc.Limits.MemoryBytes
	}
}

func (l *runLog) dropOldest(jobs map[string]*jobRun) {
	oldest := ""
	for name, r := range jobs {
		if oldest == "" || r.start.Before(jobs[oldest].start) {
			oldest = name
		}
	}
	delete(jobs, oldest)
}

// summary forgets runs older than the retention and judges each
// workload's runs. It runs once a minute; its result is immutable.
func (l *runLog) summary(now time.Time) []model.WorkloadRuns {
	var out []model.WorkloadRuns
	for k, jobs := range l.runs {
		for name, r := range jobs {
			if now.Sub(r.end) > runRetention {
				delete(jobs, name)
			}
		}
		if len(jobs) == 0 {
			delete(l.runs, k)
			continue
		}
		st := statsOf(jobs, now)
		out = append(out, model.WorkloadRuns{Namespace: k.ns, Kind: k.kind, Name: k.name, Stats: st, Verdict: analysis.AnalyzeRuns(st, l.cfg)})
	}
	slices.SortFunc(out, func(a, b model.WorkloadRuns) int {
		return cmp.Compare(a.Namespace+"/"+a.Kind+"/"+a.Name, b.Namespace+"/"+b.Kind+"/"+b.Name)
	})
	return out
}

func statsOf(jobs map[string]*jobRun, now time.Time) analysis.RunStats {
	var st analysis.RunStats
	durs := make([]time.Duration, 0, len(jobs))
	first := now
	var total time.Duration
	var cpu float64
	for _, r := range jobs {
		d := max(r.end.Sub(r.start), 0)
		durs = append(durs, d)
		total += d
		if r.start.Before(first) {
			first = r.start
		}
		var c, cores float64
		var b uint64
		for id, v := range r.cpu {
			c += v
			cores += r.cores[id]
			b += r.bytes[id]
		}
		cpu += c
		if d > 0 {
			st.PeakCores = max(st.PeakCores, c/d.Seconds())
		}
		st.PeakMemoryBytes = max(st.PeakMemoryBytes, r.peakMem)
		st.ReservedCores, st.ReservedBytes = max(st.ReservedCores, cores), max(st.ReservedBytes, b)
	}
	slices.Sort(durs)
	n := len(durs)
	st.Count = n
	st.Window = now.Sub(first)
	st.DurationP50, st.DurationP95, st.DurationMax = durs[(n-1)/2], durs[min(n-1, (n*95+99)/100-1)], durs[n-1]
	st.DurationMean = total / time.Duration(n)
	st.CPUSecondsMean = cpu / float64(n)
	if st.Window > 0 {
		st.BusyRatio = min(total.Seconds()/st.Window.Seconds(), 1)
	}
	return st
}
