package containerd

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
)

// LayerUsage is the size of a container's writable layer.
type LayerUsage struct {
	Bytes  int64
	Inodes int64
	// At is when it was measured; sizes are refreshed on a slow cadence.
	At time.Time
}

// Storage measures writable layers with the snapshotter's Usage call. That
// call walks the layer's files, so it runs on its own slow cadence with a
// time budget per round, continuing where the last round stopped.
type Storage struct {
	api      API
	disc     *Discovery
	interval time.Duration
	budget   time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	usage map[containerKey]LayerUsage
	next  int // index in the sorted inventory where the next round starts

	errs    atomic.Uint64
	partial atomic.Uint64
}

// NewStorage returns a Storage for the containers disc knows.
func NewStorage(api API, disc *Discovery, interval, budget time.Duration, log *slog.Logger) *Storage {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Storage{api: api, disc: disc, interval: interval, budget: budget,
		log: log.With("component", "storage"), usage: map[containerKey]LayerUsage{}}
}

// containerKey identifies a container without building a string, so the
// per-tick lookup allocates nothing.
type containerKey struct{ ns, id string }

// Usage returns the last measurement of a container's writable layer.
func (s *Storage) Usage(namespace, id string) (LayerUsage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.usage[containerKey{namespace, id}]
	return u, ok
}

// Errors counts failed measurements; IncompleteRounds counts rounds cut
// short by the budget.
func (s *Storage) Errors() uint64           { return s.errs.Load() }
func (s *Storage) IncompleteRounds() uint64 { return s.partial.Load() }

// Run measures every interval until ctx is done.
func (s *Storage) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	changed := s.disc.Subscribe()
	var cs []*Container
	for {
		// Wait for discovery's first list rather than measuring nothing
		// for a whole interval after start.
		for s.disc.Generation() == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
			case <-time.After(time.Second):
			}
		}
		cs, _ = s.disc.Containers(cs[:0])
		s.Round(ctx, cs)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Round measures as many of cs as the budget allows and forgets containers
// no longer in cs.
func (s *Storage) Round(ctx context.Context, cs []*Container) {
	deadline := time.Now().Add(s.budget)
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	live := make(map[containerKey]bool, len(cs))
	for _, c := range cs {
		live[containerKey{c.Namespace, c.ID}] = true
	}
	s.mu.Lock()
	for k := range s.usage {
		if !live[k] {
			delete(s.usage, k)
		}
	}
	start := s.next
	s.mu.Unlock()
	if start >= len(cs) {
		start = 0
	}

	done := 0
	for i := range cs {
		c := cs[(start+i)%len(cs)]
		if time.Now().After(deadline) {
			s.partial.Add(1)
			s.log.Debug("storage round out of budget", "measured", done, "containers", len(cs))
			break
		}
		done++
		if c.Snapshotter == "" || c.SnapshotKey == "" {
			continue
		}
		u, err := s.api.SnapshotUsage(rctx, c.Namespace, c.Snapshotter, c.SnapshotKey)
		if err != nil {
			if !errdefs.IsNotFound(err) && rctx.Err() == nil {
				s.errs.Add(1)
				s.log.Debug("snapshot usage", "container", c.Key(), "err", err)
			}
			continue
		}
		s.mu.Lock()
		s.usage[containerKey{c.Namespace, c.ID}] = LayerUsage{Bytes: u.Size, Inodes: u.Inodes, At: time.Now()}
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.next = start + done
	s.mu.Unlock()
}
