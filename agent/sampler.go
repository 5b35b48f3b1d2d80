package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/collectors/netstat"
	"github.com/fleetscope/fleetscope/collectors/procfs"
	"github.com/fleetscope/fleetscope/model"
)

// Inventory is where the sampler learns which containers exist: the
// discovery source at the boundary. *containerd.Discovery implements it;
// tests and benchmarks use a fixed list.
type Inventory interface {
	Generation() uint64
	Containers(dst []*containerd.Container) ([]*containerd.Container, uint64)
}

var _ Inventory = (*containerd.Discovery)(nil)

// limitsRefresh is how often cgroup limits are re-read; they change only on
// an update, so reading them every tick would waste file reads.
const limitsRefresh = time.Minute

// reopenBackoff delays a new attempt to open a container's cgroup after a
// failure, so that a broken container costs little per tick.
const reopenBackoff = 30 * time.Second

// tracked is the sampler's private state for one container. Stats are
// read into cur in place.
type tracked struct {
	c      *containerd.Container
	meta   *model.Meta // c as the model publishes it
	h      *cgroups.Handle
	pid    uint32
	failAt time.Time // last open failure, for reopenBackoff
	// cpuSplit is the CPU-mode state of the last closed handle of this
	// task, resumed when it is reopened.
	cpuSplit  cgroups.CPUSplit
	haveSplit bool

	cur   cgroups.Stats
	curOK bool
	// use derives rates from successive good samples: CPU time, bytes
	// read, bytes written, in the order of useCPU, useRead, useWrite.
	use        counters
	limits     cgroups.Limits
	haveLimits bool
	limitsAt   time.Time
	netns      uint64
	busy       busyState // below the sample
	fineSt     fineState
	startedAt  time.Time
	lastErr    string // last logged error, to log each problem once
	pos        int    // index in the snapshot being filled
	fresh      bool   // read in the current pass
}

// The order of a container's counters in tracked.use.
const (
	useCPU = iota
	useRead
	useWrite
)

// cpuSeconds is the CPU time of the last good step, for history.
func (t *tracked) cpuSeconds() float64 { return float64(t.use.delta[useCPU]) / 1e9 }

// cpuCores is the CPU time of the last good step per second.
func (t *tracked) cpuCores() float64 {
	if t.use.span <= 0 {
		return 0
	}
	return t.cpuSeconds() / t.use.span.Seconds()
}

// Sampler reads every container's cgroup and network namespace once per
// tick. It is owned by one goroutine; only the snapshots it returns are
// shared.
type Sampler struct {
	// WorkloadLabel is containerd.workload_label; set it before sampling.
	WorkloadLabel string

	cg       *cgroups.Host
	procRoot string
	keepOpen bool
	log      *slog.Logger
	inv      Inventory

	gen     uint64
	byKey   map[string]*tracked
	order   []*tracked
	scratch []*containerd.Container
	// sources are the records behind the last filled snapshot's
	// containers, index for index: the agent's own view, with every label.
	sources []*containerd.Container
	nets    map[uint64]*netTracked
	hostNet uint64
	bootAt  time.Time

	cgroupErrs, netErrs uint64

	// Fine sampling (see fine.go): its configuration, the sampling
	// interval, the containers read finely and a scratch of candidates.
	fine              fineConfig
	interval          time.Duration
	fineSet, fineWait []*tracked
}

// NewSampler returns a sampler over the containers inv lists.
func NewSampler(cg *cgroups.Host, procRoot string, keepOpen bool, inv Inventory, log *slog.Logger) *Sampler {
	s := &Sampler{
		cg: cg, procRoot: procRoot, keepOpen: keepOpen, inv: inv, log: log,
		byKey: map[string]*tracked{}, nets: map[uint64]*netTracked{},
	}
	// Containers sharing the host's network namespace are not attributed
	// host traffic. Pid 1 of the (host) proc root is the reference.
	if id, err := netstat.NamespaceID(procRoot, 1); err == nil {
		s.hostNet = id
	}
	s.bootAt = procfs.BootTime(procRoot)
	return s
}

// sync reconciles tracked state with the inventory when it changed. This
// is the only place that allocates per container, and only on change.
func (s *Sampler) sync() {
	if g := s.inv.Generation(); g == s.gen && s.order != nil {
		return
	}
	var gen uint64
	s.scratch, gen = s.inv.Containers(s.scratch[:0])
	s.gen = gen
	live := make(map[string]bool, len(s.scratch))
	s.order = s.order[:0]
	for _, c := range s.scratch {
		key := c.Key()
		live[key] = true
		t := s.byKey[key]
		if t == nil {
			t = &tracked{}
			s.byKey[key] = t
		}
		if t.c != nil && t.pid != c.Pid {
			// A new task (restart): its cgroup and counters start over.
			s.closeTracked(t)
			*t = tracked{}
		}
		if t.c != c {
			t.meta = metaOf(c, s.WorkloadLabel)
		}
		t.c = c
		s.order = append(s.order, t)
	}
	s.markCollisions()
	for key, t := range s.byKey {
		if !live[key] {
			s.closeTracked(t)
			t.pos = -1 // no longer in the snapshot: networks it owned are not shown
			delete(s.byKey, key)
		}
	}
}

// markCollisions gives the containers whose id another containerd
// namespace also holds a metadata record that exports their namespace, so
// that two containers never make one series. Runs on inventory changes.
func (s *Sampler) markCollisions() {
	seen := make(map[string]int, len(s.order))
	for _, t := range s.order {
		seen[t.c.ID]++
	}
	for _, t := range s.order {
		want := ""
		if seen[t.c.ID] > 1 {
			want = t.meta.Namespace
		}
		if t.meta.IdentityNamespace != want {
			m := *t.meta
			m.IdentityNamespace = want
			t.meta = &m
		}
	}
}

func (s *Sampler) closeTracked(t *tracked) {
	if t.h != nil {
		t.cpuSplit, t.haveSplit = t.h.CPUSplit(), true
		t.h.Close()
		t.h = nil
	}
}

// open resolves a container's cgroup once per task: from the task's
// /proc/<pid>/cgroup, else from the spec's cgroupsPath.
func (s *Sampler) open(t *tracked) error {
	c := t.c
	paths, err := cgroups.ProcessPaths(s.procRoot, c.Pid)
	if err != nil {
		if c.CgroupsPath == "" {
			return err
		}
		var serr error
		if paths, serr = cgroups.PathsFromSpec(c.CgroupsPath); serr != nil {
			return errors.Join(err, fmt.Errorf("spec cgroupsPath: %w", serr))
		}
	}
	h, err := s.cg.Open(paths, cgroups.Options{KeepOpen: s.keepOpen})
	if err != nil {
		return err
	}
	if t.haveSplit && t.pid == c.Pid {
		// The same task after a transient error: its CPU modes go on from
		// where they were, never backwards.
		h.ResumeCPUSplit(t.cpuSplit)
	}
	t.h, t.pid = h, c.Pid
	if id, err := netstat.NamespaceID(s.procRoot, int(c.Pid)); err == nil {
		t.netns = id
	}
	t.startedAt = procfs.StartTime(s.procRoot, c.Pid, s.bootAt)
	t.limitsAt = time.Time{}
	return nil
}

// note logs a container's error once until it changes or clears, so a
// persistent problem does not flood the log every tick.
func (s *Sampler) note(t *tracked, err error) {
	msg := err.Error()
	if msg == t.lastErr {
		return
	}
	t.lastErr = msg
	s.log.Warn("sampling container", "namespace", t.c.Namespace, "id", t.c.ID, "err", err)
}

// tickResult carries a tick's own accounting back to the agent.
type tickResult struct {
	cgroupDur, netDur time.Duration
	cgroupOK, netOK   bool
}

// Sample reads every running container once and fills snap (whose
// Containers and Networks it allocates: one slice each per tick, not per
// container).
func (s *Sampler) Sample(now time.Time, snap *model.Snapshot) tickResult {
	return s.sample(now, snap, false)
}

// SampleNew reads only containers that have no open cgroup yet (new ones,
// just discovered) and republishes everyone else's last figures, so that a
// new container shows without waiting for the next tick and without the
// cost of a full one. No deltas are produced for containers not read, so
// history is never fed twice.
func (s *Sampler) SampleNew(now time.Time, snap *model.Snapshot) tickResult {
	return s.sample(now, snap, true)
}

func (s *Sampler) sample(now time.Time, snap *model.Snapshot, onlyNew bool) tickResult {
	var res tickResult
	s.sync()

	start := time.Now()
	res.cgroupOK = true
	for _, t := range s.order {
		t.fresh = false
		if onlyNew && (t.h != nil || !t.c.Running()) {
			continue
		}
		t.curOK = false
		if !t.c.Running() {
			if t.h != nil {
				s.closeTracked(t)
			}
			continue
		}
		if t.h == nil {
			if !t.failAt.IsZero() && now.Sub(t.failAt) < reopenBackoff {
				continue
			}
			if err := s.open(t); err != nil {
				t.failAt = now
				if !errors.Is(err, fs.ErrNotExist) {
					s.cgroupErrs++
					res.cgroupOK = false
					s.note(t, err)
				}
				continue
			}
			t.failAt = time.Time{}
		}
		if err := t.h.Read(&t.cur); err != nil {
			// A vanished cgroup means the task exited between discovery
			// and now: normal, not an error. Anything else is counted.
			if !errors.Is(err, fs.ErrNotExist) {
				s.cgroupErrs++
				res.cgroupOK = false
				s.note(t, err)
			}
			s.closeTracked(t)
			t.failAt = now
			continue
		}
		t.lastErr = ""
		t.curOK, t.fresh = true, true
		if now.Sub(t.limitsAt) >= limitsRefresh {
			if err := t.h.Limits(&t.limits); err == nil {
				t.haveLimits, t.limitsAt = true, now
			}
		}
		t.use.step(now, t.cur.CPUUsageNanos, t.cur.IOReadBytes, t.cur.IOWriteBytes)
		t.stepBusy()
		s.stepFine(t, now)
	}
	if !onlyNew {
		s.chooseFine()
	}
	res.cgroupDur = time.Since(start)

	start = time.Now()
	if onlyNew {
		res.netOK = true
		for _, n := range s.nets {
			n.fresh = false
		}
	} else {
		res.netOK = s.sampleNetworks(now)
	}
	res.netDur = time.Since(start)

	s.fill(snap)
	return res
}

// fill copies the tick's results into snap.
func (s *Sampler) fill(snap *model.Snapshot) {
	snap.Containers = make([]model.Container, len(s.order))
	s.sources = s.sources[:0]
	for i, t := range s.order {
		t.pos = i
		s.sources = append(s.sources, t.c)
		sc := &snap.Containers[i]
		sc.Meta = t.meta
		sc.Running = t.c.Running()
		sc.Network = -1
		sc.StartedAt = t.startedAt
		if t.curOK {
			sc.Sampled, sc.Usage = true, usageOf(&t.cur)
			sc.HaveRates = t.use.ok
			sc.CPUCores, sc.IOReadBytesPerSec, sc.IOWriteBytesPerSec = t.cpuCores(), t.use.rate(useRead), t.use.rate(useWrite)
			if t.use.ok && t.fresh {
				sc.Delta = model.Delta{Valid: true, Interval: t.use.span, CPUSeconds: t.cpuSeconds(), DiskWriteBytes: t.use.delta[useWrite],
					Busy: t.busy.d, BusyFrom: t.busy.from}
			}
		}
		sc.Limits = resolveLimits(t.meta.Spec, &t.limits, t.haveLimits)
	}
	s.fillNetworks(snap)
}

// Sources returns the discovered records behind the last filled
// snapshot's containers, index for index. Valid until the next sample.
func (s *Sampler) Sources() []*containerd.Container { return s.sources }

// OpenFiles counts the descriptors the sampler holds.
func (s *Sampler) OpenFiles() int {
	n := 0
	for _, t := range s.order {
		if t.h != nil {
			n += t.h.Files()
		}
	}
	for _, nt := range s.nets {
		if nt.r != nil {
			n += nt.r.Files()
		}
	}
	return n
}

// Close releases every descriptor.
func (s *Sampler) Close() {
	for _, t := range s.byKey {
		s.closeTracked(t)
	}
	for _, n := range s.nets {
		n.close()
	}
}
