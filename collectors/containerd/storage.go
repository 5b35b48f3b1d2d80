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
// time budget per round, continuing where the last round stopped. A layer
// found unchanged is measured every second, then every fourth round until
// it changes: most layers on a node sit still, and each call costs the
// agent a gRPC round trip and containerd a walk of the layer.
type Storage struct {
	api      API
	disc     *Discovery
	interval time.Duration
	budget   time.Duration
	log      *slog.Logger

	mu    sync.Mutex
	usage map[containerKey]layerState
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
		log: log.With("component", "storage"), usage: map[containerKey]layerState{}}
}

// storageConcurrency is how many Usage calls a round keeps in flight.
const storageConcurrency = 4

// measure asks for one layer's usage and records it.
func (s *Storage) measure(ctx context.Context, c *Container, k containerKey, prev layerState, had bool, now func() time.Time) {
	u, err := s.api.SnapshotUsage(ctx, c.Namespace, c.Snapshotter, c.SnapshotKey)
	if err != nil {
		if !errdefs.IsNotFound(err) && ctx.Err() == nil {
			s.errs.Add(1)
			s.log.Debug("snapshot usage", "container", c.Key(), "err", err)
		}
		return
	}
	st := s.measured(prev, had, LayerUsage{Bytes: u.Size, Inodes: u.Inodes, At: now()})
	s.mu.Lock()
	s.usage[k] = st
	s.mu.Unlock()
}

// maxQuietShift caps the backoff of an unchanged layer at 1<<2 rounds: a
// layer that starts growing is seen at most four intervals late.
const maxQuietShift = 2

// layerState is a measurement and when the layer is next due.
type layerState struct {
	LayerUsage
	quiet int // measurements in a row that found no change, capped
	due   time.Time
}

// measured records u and schedules the next measurement: every round
// while the layer changes, then 2 and 4 rounds apart. Due times sit half
// an interval early so that a round's jitter never skips one more.
func (s *Storage) measured(prev layerState, had bool, u LayerUsage) layerState {
	st := layerState{LayerUsage: u}
	if had && prev.Bytes == u.Bytes && prev.Inodes == u.Inodes {
		st.quiet = min(prev.quiet+1, maxQuietShift)
	}
	st.due = u.At.Add(s.interval<<st.quiet - s.interval/2)
	return st
}

// containerKey identifies a container without building a string, so the
// per-tick lookup allocates nothing.
type containerKey struct{ ns, id string }

// Usage returns the last measurement of a container's writable layer.
func (s *Storage) Usage(namespace, id string) (LayerUsage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.usage[containerKey{namespace, id}]
	return u.LayerUsage, ok
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

// Round measures as many of cs as are due and the budget allows, and
// forgets containers no longer in cs.
func (s *Storage) Round(ctx context.Context, cs []*Container) {
	s.round(ctx, cs, time.Now)
}

func (s *Storage) round(ctx context.Context, cs []*Container, now func() time.Time) {
	deadline := now().Add(s.budget)
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

	// A few calls in flight at once: containerd walks layers in
	// parallel, and the agent wakes once for several answers instead of
	// going idle and waking again for each.
	sem := make(chan struct{}, storageConcurrency)
	var wg sync.WaitGroup
	done := 0
	for i := range cs {
		c := cs[(start+i)%len(cs)]
		if now().After(deadline) {
			s.partial.Add(1)
			s.log.Debug("storage round out of budget", "measured", done, "containers", len(cs))
			break
		}
		done++
		if c.Snapshotter == "" || c.SnapshotKey == "" {
			continue
		}
		k := containerKey{c.Namespace, c.ID}
		s.mu.Lock()
		prev, had := s.usage[k]
		s.mu.Unlock()
		if had && now().Before(prev.due) {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.measure(rctx, c, k, prev, had, now)
		})
	}
	wg.Wait()
	s.mu.Lock()
	s.next = start + done
	s.mu.Unlock()
}
