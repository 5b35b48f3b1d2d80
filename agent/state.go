package agent

import (
	"log/slog"
	"time"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/history"
	"github.com/fleetscope/fleetscope/model"
)

// analysisPeriod is how often verdicts are recomputed: history has minute
// resolution, so more often would only repeat the same answer.
const analysisPeriod = time.Minute

// state owns per-container history, its checkpoint and the latest
// analysis. Only the loop goroutine touches it.
type state struct {
	cfg   config.Config
	log   *slog.Logger
	store *history.Store

	thresholds map[*containerd.Container]history.Thresholds
	results    map[history.Key]*analysis.Result
	runs       *runLog
	runSummary []model.WorkloadRuns
	// dists sums each workload's distributions on the node; distSummary
	// is what snapshots publish of them, drained the scratch space.
	dists       map[distKey]*workloadDist
	distSummary []model.WorkloadDistributions
	drained     history.Distributions
	// members says which workload part each series of the store belongs
	// to (see analyseWorkloads); workloadSummary is what it concluded.
	members         map[history.Key]distKey
	workloadSummary []model.WorkloadResult

	// Pods, rebuilt each tick without allocating once sized: the pods
	// whose sandbox runs, and the index in the tick's containers of each
	// pod container's newest instance.
	livePods map[podKey]bool
	newest   map[podContainer]int
	// instances is the instance whose history each pod container's
	// follows, to tell when a new one replaces it.
	instances  map[podContainer]history.Key
	scratch    analysis.Scratch
	analysedAt time.Time

	lastCheckpoint     time.Time
	checkpointFailures uint64
	restoreFailures    uint64
	problem            string
}

// podKey names a pod.
type podKey struct{ namespace, uid string }

// podContainer names a container of a pod across its instances: the
// kubelet restarts a container under a new id in the same pod.
type podContainer struct{ namespace, podUID, name string }

// newState restores history from the state file. A missing file starts
// fresh silently; a corrupt or foreign one has been moved aside by
// history.LoadFile and is reported, never fatal.
func newState(cfg config.Config, log *slog.Logger) *state {
	st := &state{
		cfg: cfg, log: log.With("component", "history"),
		thresholds: map[*containerd.Container]history.Thresholds{},
		results:    map[history.Key]*analysis.Result{},
		runs:       newRunLog(cfg.Analysis),
		dists:      map[distKey]*workloadDist{},
		members:    map[history.Key]distKey{},
		livePods:   map[podKey]bool{},
		newest:     map[podContainer]int{},
		instances:  map[podContainer]history.Key{},
	}
	st.store = history.NewStore()
	if path := cfg.History.StateFile; path != "" {
		// A file larger than the series this configuration keeps can
		// take is refused unread, and moved aside like a corrupt one.
		store, err := history.LoadFileLimit(path, history.CheckpointLimit(cfg.History.MaxGone))
		if err != nil {
			st.restoreFailures++
			st.problem = "restoring history: " + err.Error()
			st.log.Error("history not restored; starting fresh", "err", err)
		} else {
			st.log.Info("history restored", "file", path, "containers", store.Len())
		}
		if store != nil {
			st.store = store
		}
	}
	st.lastCheckpoint = time.Now()
	return st
}

// thresholdsFor resolves (once per container version) the idle floors,
// with the container's label overrides.
func (st *state) thresholdsFor(c *containerd.Container) history.Thresholds {
	if th, ok := st.thresholds[c]; ok {
		return th
	}
	th, err := analysis.ThresholdsFor(st.cfg.Analysis.Idle, c.OverrideLabels)
	if err != nil {
		st.log.Warn("ignoring idle threshold label", "container", c.Key(), "err", err)
	}
	st.thresholds[c] = th
	return th
}

// record feeds the tick's deltas into history, analyses once a minute and
// checkpoints on schedule; then it attaches results to snap. srcs are the
// discovered records behind snap's containers, index for index.
func (st *state) record(snap *model.Snapshot, srcs []*containerd.Container) {
	st.runs.observe(snap)
	st.trackPods(srcs)
	for i := range snap.Containers {
		sc := &snap.Containers[i]
		key := history.Key{Namespace: srcs[i].Namespace, ID: srcs[i].ID}
		if !sc.Delta.Valid {
			series := st.store.Get(key)
			switch {
			case series == nil:
				continue
			case st.down(i, srcs):
				// Down while its pod lives: the pod keeps the
				// reservation, so the time is paid, idle.
				series.Add(history.Sample{Time: snap.Time, Down: true}, st.thresholdsFor(srcs[i]))
			default:
				// Close the minute of a container that stopped, so its
				// last active minute shows; no samples means no data, not
				// idle.
				series.Advance(snap.Time, st.thresholdsFor(srcs[i]))
			}
			st.evidence(snap.Time, sc, series)
			continue
		}
		d := sc.Delta
		series := st.store.GetOrCreate(key)
		series.Add(history.Sample{
			Time:           snap.Time,
			Interval:       d.Interval,
			CPUSeconds:     d.CPUSeconds,
			WorkingSet:     sc.Usage.MemoryWorkingSet,
			NetRxBytes:     d.NetRxBytes,
			NetTxBytes:     d.NetTxBytes,
			DiskWriteBytes: d.DiskWriteBytes,
			TCPAccepts:     d.TCPAccepts,
			Listening:      d.Listening,
			Busy:           d.Busy,
			BusyFrom:       resolutionOf(d.BusyFrom),
		}, st.thresholdsFor(srcs[i]))
		st.evidence(snap.Time, sc, series)
	}
	if snap.Time.Sub(st.analysedAt) >= analysisPeriod {
		st.analyse(snap, srcs)
		st.analysedAt = snap.Time
	} else {
		st.analyseMissing(snap, srcs)
	}
	st.attach(snap, srcs)
	if snap.Time.Sub(st.lastCheckpoint) >= st.cfg.History.CheckpointInterval {
		st.checkpoint(snap.Time, srcs)
	}
}

// evidence drains a container's distributions and puts its counters in
// the snapshot.
func (st *state) evidence(now time.Time, sc *model.Container, series *history.Series) {
	st.drain(now, series, sc.Meta)
	if !series.FirstSeen().IsZero() {
		sc.Evidence, sc.HaveEvidence = evidenceOf(series.Evidence()), true
	}
}

// trackPods finds the pods whose sandbox runs and each pod container's
// newest instance in srcs, and notes a restart when a new instance
// replaces a dead one: the new instance goes on with its history.
func (st *state) trackPods(srcs []*containerd.Container) {
	clear(st.livePods)
	clear(st.newest)
	for i, c := range srcs {
		switch {
		case c.Pod.UID == "":
		case c.Sandbox:
			if c.Running() {
				st.livePods[podKey{c.Namespace, c.Pod.UID}] = true
			}
		case c.Pod.ContainerName != "":
			pc := podContainer{c.Namespace, c.Pod.UID, c.Pod.ContainerName}
			if j, ok := st.newest[pc]; !ok || srcs[j].CreatedAt.Before(c.CreatedAt) {
				st.newest[pc] = i
			}
		}
	}
	for pc, i := range st.newest {
		key := history.Key{Namespace: srcs[i].Namespace, ID: srcs[i].ID}
		prev, ok := st.instances[pc]
		if ok && prev == key {
			continue
		}
		st.instances[pc] = key
		if !ok || running(prev, srcs) {
			continue // first seen (say, after an agent restart), or not a replacement
		}
		st.store.Rename(prev, key)
		if series := st.store.Get(key); series != nil {
			series.NoteRestart()
		}
	}
}

// running reports whether the container of key is listed and running.
func running(key history.Key, srcs []*containerd.Container) bool {
	for _, c := range srcs {
		if c.ID == key.ID && c.Namespace == key.Namespace {
			return c.Running()
		}
	}
	return false
}

// down reports whether srcs[i] is the newest instance of a pod container,
// not running while its pod's sandbox runs.
func (st *state) down(i int, srcs []*containerd.Container) bool {
	c := srcs[i]
	if c.Running() || c.Sandbox || c.Pod.UID == "" || c.Pod.ContainerName == "" || !st.livePods[podKey{c.Namespace, c.Pod.UID}] {
		return false
	}
	j, ok := st.newest[podContainer{c.Namespace, c.Pod.UID, c.Pod.ContainerName}]
	return ok && j == i
}

// attach points each container of snap at its latest result.
func (st *state) attach(snap *model.Snapshot, srcs []*containerd.Container) {
	snap.Runs = st.runSummary
	snap.Distributions = st.distSummary
	snap.Workloads = st.workloadSummary
	for i := range snap.Containers {
		snap.Containers[i].Analysis = st.results[history.Key{Namespace: srcs[i].Namespace, ID: srcs[i].ID}]
	}
}

// analyse recomputes every container's result. Results are new values
// each time, so snapshots already published keep theirs unchanged.
func (st *state) analyse(snap *model.Snapshot, srcs []*containerd.Container) {
	st.runSummary = st.runs.summary(snap.Time)
	st.distSummary = st.publishDists(snap)
	st.results = make(map[history.Key]*analysis.Result, len(snap.Containers))
	live := make(map[*containerd.Container]bool, len(snap.Containers))
	for i := range snap.Containers {
		live[srcs[i]] = true
		st.analyseOne(snap.Time, &snap.Containers[i], srcs[i])
	}
	// Forget the thresholds of container versions that are gone. Done here,
	// once a minute, rather than with a map built on every tick.
	for c := range st.thresholds {
		if !live[c] {
			delete(st.thresholds, c)
		}
	}
	for pc := range st.instances {
		if _, ok := st.newest[pc]; !ok {
			delete(st.instances, pc)
		}
	}
	st.workloadSummary = st.analyseWorkloads(snap, srcs)
}

// analyseMissing analyses containers that have history but no result yet:
// those discovered since the last round, e.g. right after a restart, so
// restored history shows at once rather than a minute later.
func (st *state) analyseMissing(snap *model.Snapshot, srcs []*containerd.Container) {
	for i := range snap.Containers {
		c := srcs[i]
		if st.results[history.Key{Namespace: c.Namespace, ID: c.ID}] == nil {
			st.analyseOne(snap.Time, &snap.Containers[i], c)
		}
	}
}

func (st *state) analyseOne(now time.Time, sc *model.Container, c *containerd.Container) {
	in := st.inputOf(now, sc, c)
	if in.Series == nil {
		return
	}
	res := analysis.Analyze(in, st.cfg.Analysis, &st.scratch)
	st.results[history.Key{Namespace: c.Namespace, ID: c.ID}] = &res
}

// checkpoint drops the history of containers gone for longer than the
// retention and writes the state file.
func (st *state) checkpoint(now time.Time, srcs []*containerd.Container) {
	live := make(map[history.Key]bool, len(srcs))
	for _, c := range srcs {
		live[history.Key{Namespace: c.Namespace, ID: c.ID}] = true
	}
	if n := st.store.Prune(now, st.cfg.History.Retention, st.cfg.History.MaxGone, func(k history.Key) bool { return live[k] }); n > 0 {
		st.log.Info("dropped history of gone containers (past history.retention or history.max_gone)", "containers", n)
	}
	path := st.cfg.History.StateFile
	if path == "" {
		st.lastCheckpoint = now
		return
	}
	start := time.Now()
	if err := st.store.SaveFile(path); err != nil {
		st.checkpointFailures++
		st.problem = "writing checkpoint: " + err.Error()
		st.log.Error("history checkpoint failed; will retry", "err", err)
		// Retry at the next interval rather than every tick.
		st.lastCheckpoint = now
		return
	}
	st.problem = ""
	st.lastCheckpoint = now
	st.log.Debug("history checkpoint written", "file", path, "containers", st.store.Len(), "took", time.Since(start))
}

// fillSelf reports history health in snap.
func (st *state) fillSelf(snap *model.Snapshot) {
	snap.Self.HistoryContainers = st.store.Len()
	snap.Self.CheckpointFailures = st.checkpointFailures
	snap.Self.LastCheckpoint = st.lastCheckpoint
	snap.Self.RestoreFailures = st.restoreFailures
	snap.Self.StateProblem = st.problem
}
