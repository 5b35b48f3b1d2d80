package agent

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
)

// The Go runtime does not know the container's memory limit: without a
// soft limit of its own, a heap pushed up to the cgroup's limit by a burst
// of requests is neither collected in time nor killed, and the process
// thrashes on its own page faults, answering nothing and ignoring SIGTERM
// (seen for ten minutes at 128 MiB). The guard gives the runtime a soft
// limit below the cgroup's and tells the server to turn requests away
// before the heap reaches it.
const (
	// memoryHeadroom is the part of the cgroup's limit left outside the
	// Go runtime's limit: the binary's pages, kernel buffers of its
	// sockets and files, and the runtime's own slack.
	memoryHeadroomShare = 4 // a quarter
	memoryHeadroomMin   = 16 << 20
	// shedShare: requests are shed once the runtime's memory passes this
	// share of its limit (in tenths).
	shedTenths = 8
	// memoryRecheck is how often the cgroup's limit is read again: a
	// pod's limits can change in place (Kubernetes' in-place resize).
	memoryRecheck = 30 * time.Second
	// shedRecheck bounds how often the runtime's memory is read for
	// shedding: requests in between reuse the answer.
	shedRecheck = 100 * time.Millisecond
)

// MemoryGuard keeps the Go runtime's soft memory limit in step with the
// cgroup's and says when to shed load. Its zero value is not usable; make
// one with NewMemoryGuard.
type MemoryGuard struct {
	procCgroup, root string
	fromEnv          bool // GOMEMLIMIT set: the operator's limit stands
	log              *slog.Logger

	mu      sync.Mutex
	cgLimit uint64 // the cgroup's, zero: none found
	checked time.Time
	shed    bool
	samples []metrics.Sample
}

// NewMemoryGuard reads the agent's own cgroup limit (procCgroup is
// /proc/self/cgroup, root the cgroup mount as the agent sees it) and sets
// the runtime's limit from it, unless GOMEMLIMIT is set.
func NewMemoryGuard(procCgroup, root string, log *slog.Logger) *MemoryGuard {
	_, env := os.LookupEnv("GOMEMLIMIT")
	g := &MemoryGuard{procCgroup: procCgroup, root: root, fromEnv: env, log: log,
		samples: []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}}
	g.apply()
	return g
}

// Run re-reads the cgroup's limit every memoryRecheck until ctx is done.
func (g *MemoryGuard) Run(ctx context.Context) error {
	t := time.NewTicker(memoryRecheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			g.apply()
		}
	}
}

// apply reads the cgroup's limit and, when it changed, sets the runtime's.
func (g *MemoryGuard) apply() {
	limit, err := cgroups.MemoryLimitOf(g.procCgroup, g.root)
	if err != nil {
		g.log.Debug("reading the agent's own memory limit", "err", err)
		return
	}
	g.mu.Lock()
	changed := limit != g.cgLimit
	g.cgLimit = limit
	g.mu.Unlock()
	if !changed || g.fromEnv {
		return
	}
	if limit == 0 {
		debug.SetMemoryLimit(1<<63 - 1)
		g.log.Info("no memory limit on the agent's cgroup; the Go runtime has none")
		return
	}
	soft := SoftMemoryLimit(limit)
	debug.SetMemoryLimit(int64(soft))
	g.log.Info("the Go runtime's memory limit follows the cgroup's", "cgroup_limit_bytes", limit, "go_limit_bytes", soft)
}

// SoftMemoryLimit is the Go runtime's limit under a cgroup limit of
// limit bytes: a quarter less, and at least 16 MiB less.
func SoftMemoryLimit(limit uint64) uint64 {
	head := max(limit/memoryHeadroomShare, memoryHeadroomMin)
	if head >= limit {
		return limit / 2
	}
	return limit - head
}

// Shed reports whether the runtime's memory has passed 80 % of its limit;
// it reads the runtime's figures at most every shedRecheck.
func (g *MemoryGuard) Shed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.checked) < shedRecheck {
		return g.shed
	}
	g.checked = time.Now()
	limit := debug.SetMemoryLimit(-1)
	if limit <= 0 || limit == 1<<63-1 {
		g.shed = false
		return false
	}
	metrics.Read(g.samples)
	used := g.samples[0].Value.Uint64() - g.samples[1].Value.Uint64()
	g.shed = used > uint64(limit)/10*shedTenths
	return g.shed
}
