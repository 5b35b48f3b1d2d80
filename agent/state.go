package agent

import (
	"log/slog"
	"time"

	"github.com/fleetscope/fleetscope/agent/analysis"
	"github.com/fleetscope/fleetscope/agent/history"
	"github.com/fleetscope/fleetscope/agent/snapshot"
	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/config"
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
	scratch    analysis.Scratch
	analysedAt time.Time

	lastCheckpoint     time.Time
	checkpointFailures uint64
	restoreFailures    uint64
	problem            string
}

// newState restores history from the state file. A missing file starts
// fresh silently; a corrupt or foreign one has been moved aside by
// history.LoadFile and is reported, never fatal.
func newState(cfg config.Config, log *slog.Logger) *state {
	st := &state{
		cfg: cfg, log: log.With("component", "history"),
		thresholds: map[*containerd.Container]history.Thresholds{},
		results:    map[history.Key]*analysis.Result{},
	}
	st.store = history.NewStore()
	if path := cfg.History.StateFile; path != "" {
		store, err := history.LoadFile(path)
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
// checkpoints on schedule; then it attaches results to snap.
func (st *state) record(snap *snapshot.Snapshot) {
	for i := range snap.Containers {
		sc := &snap.Containers[i]
		key := history.Key{Namespace: sc.Meta.Namespace, ID: sc.Meta.ID}
		if !sc.Delta.Valid {
			// Close the minute of a container that stopped, so its last
			// active minute shows; no samples means no data, not idle.
			if series := st.store.Get(key); series != nil {
				series.Advance(snap.Time, st.thresholdsFor(sc.Meta))
			}
			continue
		}
		d := sc.Delta
		st.store.GetOrCreate(key).Add(history.Sample{
			Time:           snap.Time,
			Interval:       d.Interval,
			CPUSeconds:     d.CPUSeconds,
			WorkingSet:     sc.Stats.MemoryWorkingSet,
			NetRxBytes:     d.NetRxBytes,
			NetTxBytes:     d.NetTxBytes,
			DiskWriteBytes: d.DiskWriteBytes,
			TCPAccepts:     d.TCPAccepts,
		}, st.thresholdsFor(sc.Meta))
	}
	if snap.Time.Sub(st.analysedAt) >= analysisPeriod {
		st.analyse(snap)
		st.analysedAt = snap.Time
	} else {
		st.analyseMissing(snap)
	}
	st.attach(snap)
	if snap.Time.Sub(st.lastCheckpoint) >= st.cfg.History.CheckpointInterval {
		st.checkpoint(snap.Time, snap)
	}
}

// attach points each container of snap at its latest result.
func (st *state) attach(snap *snapshot.Snapshot) {
	for i := range snap.Containers {
		sc := &snap.Containers[i]
		sc.Analysis = st.results[history.Key{Namespace: sc.Meta.Namespace, ID: sc.Meta.ID}]
	}
}

// analyse recomputes every container's result. Results are new values
// each time, so snapshots already published keep theirs unchanged.
func (st *state) analyse(snap *snapshot.Snapshot) {
	st.results = make(map[history.Key]*analysis.Result, len(snap.Containers))
	live := make(map[*containerd.Container]bool, len(snap.Containers))
	for i := range snap.Containers {
		live[snap.Containers[i].Meta] = true
		st.analyseOne(snap.Time, &snap.Containers[i])
	}
	// Forget the thresholds of container versions that are gone. Done here,
	// once a minute, rather than with a map built on every tick.
	for c := range st.thresholds {
		if !live[c] {
			delete(st.thresholds, c)
		}
	}
}

// analyseMissing analyses containers that have history but no result yet:
// those discovered since the last round, e.g. right after a restart, so
// restored history shows at once rather than a minute later.
func (st *state) analyseMissing(snap *snapshot.Snapshot) {
	for i := range snap.Containers {
		m := snap.Containers[i].Meta
		if st.results[history.Key{Namespace: m.Namespace, ID: m.ID}] == nil {
			st.analyseOne(snap.Time, &snap.Containers[i])
		}
	}
}

func (st *state) analyseOne(now time.Time, sc *snapshot.Container) {
	key := history.Key{Namespace: sc.Meta.Namespace, ID: sc.Meta.ID}
	series := st.store.Get(key)
	if series == nil {
		return
	}
	in := analysis.Input{Now: now, Series: series, Labels: sc.Meta.OverrideLabels, GPU: sc.Meta.GPU}
	r := sc.Meta.Resources
	in.CPUQuotaMicros, in.CPUPeriodMicros, in.CPUShares = r.CPUQuotaMicros, r.CPUPeriodMicros, r.CPUShares
	if r.MemoryLimit > 0 {
		in.MemoryLimitBytes = uint64(r.MemoryLimit)
	}
	if l := &sc.Limits; sc.HaveLimits && l.Have.Has(cgroups.HaveCPU) {
		in.CPUQuotaMicros, in.CPUPeriodMicros, in.CPUShares = l.CPUQuotaMicros, l.CPUPeriodMicros, l.CPUShares
	}
	if l := &sc.Limits; sc.HaveLimits && l.Have.Has(cgroups.HaveMemory) {
		in.MemoryLimitBytes = l.MemoryLimit
	}
	res := analysis.Analyze(in, st.cfg.Analysis, &st.scratch)
	st.results[key] = &res
}

// checkpoint drops the history of containers gone for longer than the
// retention and writes the state file.
func (st *state) checkpoint(now time.Time, snap *snapshot.Snapshot) {
	live := map[history.Key]bool{}
	if snap != nil {
		for i := range snap.Containers {
			m := snap.Containers[i].Meta
			live[history.Key{Namespace: m.Namespace, ID: m.ID}] = true
		}
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
func (st *state) fillSelf(snap *snapshot.Snapshot) {
	snap.Self.HistoryContainers = st.store.Len()
	snap.Self.CheckpointFailures = st.checkpointFailures
	snap.Self.LastCheckpoint = st.lastCheckpoint
	snap.Self.RestoreFailures = st.restoreFailures
	snap.Self.StateProblem = st.problem
}
