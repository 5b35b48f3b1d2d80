package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
)

// Options configure a Discovery.
type Options struct {
	// Namespaces limits discovery; empty means every namespace.
	Namespaces []string
	// RelistInterval is how often the whole inventory is listed again to
	// repair missed events.
	RelistInterval time.Duration
	// MaxBackoff caps the delay between reconnection attempts.
	MaxBackoff time.Duration
	// ExportLabels chooses the container labels exporters may publish.
	ExportLabels *LabelFilter
	// Labels chooses the labels kept at all; nil keeps the ones the agent
	// reads and those ExportLabels allows. Give the API the same policy
	// (WithLabelPolicy) so that the others are dropped while decoding.
	Labels *LabelPolicy
	Logger *slog.Logger
}

// Health is discovery's view of its containerd connection, for /readyz.
type Health struct {
	Connected bool
	// Reason says why discovery is not connected ("" when connected).
	Reason string
	// Since is when the current state began.
	Since time.Time
	// LastList is when the inventory was last listed in full.
	LastList time.Time
}

// Discovery keeps an inventory of containers current. It is safe for
// concurrent use: Run writes, everyone else reads.
type Discovery struct {
	api API
	opt Options
	log *slog.Logger

	mu     sync.Mutex
	byKey  map[string]*Container
	health Health

	gen  atomic.Uint64
	errs atomic.Uint64
	cut  atomic.Uint64
	// warned holds the containers whose cut labels were logged, so that
	// each is logged once however often its record changes; it is pruned
	// to the inventory at every re-list. Guarded by mu.
	warned map[string]bool
	subsMu sync.Mutex
	subs   []chan struct{}
}

// New returns a Discovery over api; call Run to start it.
func New(api API, opt Options) *Discovery {
	if opt.RelistInterval <= 0 {
		opt.RelistInterval = 5 * time.Minute
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 30 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Labels == nil {
		opt.Labels = NewLabelPolicy(opt.ExportLabels, "")
	}
	return &Discovery{
		api:    api,
		opt:    opt,
		log:    opt.Logger.With("component", "discovery"),
		byKey:  map[string]*Container{},
		warned: map[string]bool{},
		health: Health{Reason: "not connected yet", Since: time.Now()},
	}
}

// Generation increases whenever the inventory changes; readers compare it
// with the last one they saw to skip rebuilding their own state.
func (d *Discovery) Generation() uint64 { return d.gen.Load() }

// Subscribe returns a channel of its own that is signalled (without
// blocking, coalesced) after every change, so a reader such as the
// sampler can pick up a new container before its next tick. Each reader
// subscribes once: a channel shared by two would let one steal the other's
// wake-up.
func (d *Discovery) Subscribe() <-chan struct{} {
	c := make(chan struct{}, 1)
	d.subsMu.Lock()
	d.subs = append(d.subs, c)
	d.subsMu.Unlock()
	return c
}

// Errors counts discovery errors: failed connections, lists, undecodable
// specs and events.
func (d *Discovery) Errors() uint64 { return d.errs.Load() }

// LabelsCut counts the container records (new or changed) that had
// labels dropped or shortened by a bound on the labels kept (MaxLabels and
// its siblings).
func (d *Discovery) LabelsCut() uint64 { return d.cut.Load() }

// Health reports the connection state.
func (d *Discovery) Health() Health {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.health
}

// Containers appends the current inventory to dst, sorted by key, and
// returns it with the generation it reflects.
func (d *Discovery) Containers(dst []*Container) ([]*Container, uint64) {
	d.mu.Lock()
	gen := d.gen.Load()
	for _, c := range d.byKey {
		dst = append(dst, c)
	}
	d.mu.Unlock()
	slices.SortFunc(dst, func(a, b *Container) int {
		if a.Namespace != b.Namespace {
			if a.Namespace < b.Namespace {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return dst, gen
}

// Run connects, lists, follows events and re-lists until ctx is done. A
// lost or missing containerd is retried with capped exponential backoff; the
// last inventory stays in place meanwhile, because the containers (and their
// cgroups) usually outlive a containerd restart.
func (d *Discovery) Run(ctx context.Context) error {
	backoff := 250 * time.Millisecond
	for {
		start := time.Now()
		err := d.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		d.errs.Add(1)
		d.setHealth(false, err.Error())
		if time.Since(start) > d.opt.MaxBackoff {
			backoff = 250 * time.Millisecond
		}
		// Full jitter keeps a fleet of agents from reconnecting in lockstep
		// after a containerd upgrade.
		wait := backoff/2 + rand.N(backoff/2+1)
		d.log.Warn("containerd unavailable, retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, d.opt.MaxBackoff)
	}
}

func (d *Discovery) setHealth(connected bool, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.health.Connected != connected || d.health.Reason != reason {
		d.health.Since = time.Now()
	}
	d.health.Connected, d.health.Reason = connected, reason
}

// session is one connection's life: subscribe first (so nothing between the
// list and the subscription is missed), list everything, then follow events.
func (d *Discovery) session(ctx context.Context) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs, errc := d.api.Subscribe(sctx, `topic~="^/tasks/"`, `topic~="^/containers/"`)
	if err := d.relist(sctx); err != nil {
		return err
	}
	d.setHealth(true, "")
	d.log.Info("connected to containerd", "containers", d.count())

	t := time.NewTicker(d.opt.RelistInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-errc:
			if !ok || err == nil {
				return errors.New("event stream closed")
			}
			return fmt.Errorf("event stream: %w", err)
		case ev, ok := <-evs:
			if !ok {
				return errors.New("event stream closed")
			}
			d.handle(sctx, ev)
		case <-t.C:
			if err := d.relist(sctx); err != nil {
				return err
			}
		}
	}
}

func (d *Discovery) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.byKey)
}

func (d *Discovery) wanted(ns string) bool {
	return len(d.opt.Namespaces) == 0 || slices.Contains(d.opt.Namespaces, ns)
}

// relist replaces the inventory with a full listing. Unchanged records keep
// their decoded Container, so a re-list costs no spec decoding.
func (d *Discovery) relist(ctx context.Context) error {
	nss := d.opt.Namespaces
	if len(nss) == 0 {
		var err error
		if nss, err = d.api.Namespaces(ctx); err != nil {
			return fmt.Errorf("listing namespaces: %w", err)
		}
	}
	d.mu.Lock()
	old := d.byKey
	d.mu.Unlock()

	next := make(map[string]*Container, len(old))
	for _, ns := range nss {
		recs, err := d.api.Containers(ctx, ns)
		if errdefs.IsNotFound(err) {
			continue // namespace deleted between the two calls
		}
		exhausted := errdefs.IsResourceExhausted(err)
		if err != nil && !exhausted {
			return fmt.Errorf("listing containers in namespace %q: %w", ns, err)
		}
		procs, err := d.api.Tasks(ctx, ns)
		if err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("listing tasks in namespace %q: %w", ns, err)
		}
		if exhausted {
			if recs, err = d.listEach(ctx, ns, procs); err != nil {
				return fmt.Errorf("listing containers in namespace %q one by one: %w", ns, err)
			}
		}
		type taskState struct {
			pid uint32
			st  Status
		}
		tasks := make(map[string]taskState, len(procs))
		for _, p := range procs {
			// containerd 1.x leaves ContainerID empty and puts the
			// container's id in ID (the init process is named after it).
			id := p.ContainerID
			if id == "" {
				id = p.ID
			}
			tasks[id] = taskState{p.Pid, statusOf(p.Status)}
		}
		for i := range recs {
			r := &recs[i]
			key := ns + "/" + r.ID
			c := old[key]
			if c == nil || !c.UpdatedAt.Equal(r.UpdatedAt) {
				c = d.decode(ns, r)
			}
			ts := tasks[r.ID]
			next[key] = c.withTask(ts.pid, ts.st)
		}
	}
	linkOverrides(next)

	d.mu.Lock()
	for k := range d.warned {
		if next[k] == nil {
			delete(d.warned, k)
		}
	}
	changed := len(next) != len(d.byKey)
	if !changed {
		for k, c := range next {
			if d.byKey[k] != c {
				changed = true
				break
			}
		}
	}
	d.byKey = next
	d.health.LastList = time.Now()
	d.mu.Unlock()
	if changed {
		d.bump()
	}
	return nil
}

// listEach lists the containers of namespace ns that have a task, one by
// one, after the namespace's list failed for its size: one record over
// the message bound (labels added by several updates can take a record
// past what containerd sends in one message) or records over the list's
// bound must not blind the agent to every other container. The records
// that are still too large are left out, and reported; any other error
// fails the whole list, which must not replace the inventory half done.
func (d *Discovery) listEach(ctx context.Context, ns string, procs []*task.Process) ([]Record, error) {
	var recs []Record
	left := 0
	for _, p := range procs {
		id := p.ContainerID
		if id == "" {
			id = p.ID
		}
		r, err := d.api.Containers(ctx, ns, fmt.Sprintf("id==%q", id))
		switch {
		case errdefs.IsResourceExhausted(err):
			left++
		case errdefs.IsNotFound(err):
			// Deleted since the task list.
		case err != nil:
			return nil, err
		default:
			recs = append(recs, r...)
		}
	}
	d.errs.Add(1)
	d.log.Warn("container list too large; listed the containers with a task one by one",
		"namespace", ns, "listed", len(recs), "left_out", left)
	return recs, nil
}

func (d *Discovery) bump() {
	d.gen.Add(1)
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	for _, c := range d.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// decode builds the Container of record r, keeping only the labels of the
// label policy. The API has already applied it while decoding (an API that
// did not, such as a test's, is held to it here: applying it twice keeps
// the same labels).
func (d *Discovery) decode(ns string, r *Record) *Container {
	labels, cut := d.opt.Labels.apply(r.Labels)
	r.Labels, r.LabelsCut = labels, r.LabelsCut+cut
	c, err := newContainer(ns, r)
	if err != nil {
		d.errs.Add(1)
		d.log.Warn("container spec unreadable; limits unknown", "namespace", ns, "id", r.ID, "err", err)
	}
	c.ExportLabels = d.opt.ExportLabels.Select(c.Labels)
	if r.LabelsCut > 0 {
		d.cut.Add(1)
		d.mu.Lock()
		first := !d.warned[c.Key()]
		d.warned[c.Key()] = true
		d.mu.Unlock()
		if first {
			d.log.Warn("container labels over the bounds were dropped or shortened",
				"namespace", ns, "id", r.ID, "labels_kept", len(c.Labels), "labels_cut", r.LabelsCut,
				"max_labels", MaxLabels, "max_label_bytes", MaxLabelBytes, "max_value_bytes", MaxLabelValue)
		}
	}
	return c
}

// Type URLs of the container events whose id is all discovery reads.
var (
	containerCreateURL = typeURL(&apievents.ContainerCreate{})
	containerUpdateURL = typeURL(&apievents.ContainerUpdate{})
)

func typeURL(v any) string {
	u, err := typeurl.TypeURL(v)
	if err != nil {
		panic(err)
	}
	return u
}

// handle applies one event to the inventory. Events carry enough to update a
// task's state without asking containerd; a new or updated container costs
// one filtered list of that container only.
func (d *Discovery) handle(ctx context.Context, env *Envelope) {
	if !d.wanted(env.Namespace) || env.Event == nil {
		return
	}
	ns := env.Namespace
	// A container event costs one re-read of the record, through the
	// label policy; the event's own copy of the labels (an update carries
	// them all) is never decoded.
	if u := env.Event.GetTypeUrl(); u == containerCreateURL || u == containerUpdateURL {
		id, err := eventContainerID(env.Event.GetValue())
		if err != nil {
			d.errs.Add(1)
			d.log.Debug("undecodable event", "topic", env.Topic, "err", err)
			return
		}
		d.refresh(ctx, ns, id)
		return
	}
	ev, err := typeurl.UnmarshalAny(env.Event)
	if err != nil {
		d.errs.Add(1)
		d.log.Debug("undecodable event", "topic", env.Topic, "err", err)
		return
	}
	switch e := ev.(type) {
	case *apievents.ContainerDelete:
		d.update(ns, e.ID, func(*Container) *Container { return nil })
	case *apievents.TaskCreate:
		d.setTask(ctx, ns, e.ContainerID, e.Pid, StatusCreated)
	case *apievents.TaskStart:
		d.setTask(ctx, ns, e.ContainerID, e.Pid, StatusRunning)
	case *apievents.TaskPaused:
		d.setTask(ctx, ns, e.ContainerID, 0, StatusPaused)
	case *apievents.TaskResumed:
		d.setTask(ctx, ns, e.ContainerID, 0, StatusRunning)
	case *apievents.TaskExit:
		if e.ID == e.ContainerID || e.ID == "" { // the init process, not an exec
			d.setTask(ctx, ns, e.ContainerID, e.Pid, StatusStopped)
		}
	case *apievents.TaskDelete:
		if e.ID == "" || e.ID == e.ContainerID {
			d.update(ns, e.ContainerID, func(c *Container) *Container { return c.withTask(0, StatusNone) })
		}
	}
}

// setTask records a task state; pid 0 keeps the known pid.
func (d *Discovery) setTask(ctx context.Context, ns, id string, pid uint32, st Status) {
	found := d.update(ns, id, func(c *Container) *Container {
		p := pid
		if p == 0 {
			p = c.Pid
		}
		return c.withTask(p, st)
	})
	if !found {
		// The task event overtook the container's create event, or we
		// missed it: fetch the record, then apply the state.
		d.refresh(ctx, ns, id)
		d.update(ns, id, func(c *Container) *Container { return c.withTask(pid, st) })
	}
}

// update applies fn to the container ns/id if known; fn returning nil
// deletes it. It reports whether the container was known.
func (d *Discovery) update(ns, id string, fn func(*Container) *Container) bool {
	key := ns + "/" + id
	d.mu.Lock()
	c, ok := d.byKey[key]
	var n *Container
	if ok {
		n = fn(c)
		if n == nil {
			delete(d.byKey, key)
			delete(d.warned, key)
		} else {
			d.byKey[key] = n
		}
	}
	d.mu.Unlock()
	if ok && n != c {
		d.bump()
	}
	return ok
}

// refresh re-reads one container's record, keeping its task state.
func (d *Discovery) refresh(ctx context.Context, ns, id string) {
	recs, err := d.api.Containers(ctx, ns, fmt.Sprintf("id==%q", id))
	if err != nil || len(recs) == 0 {
		if err != nil && !errdefs.IsNotFound(err) {
			d.errs.Add(1)
			d.log.Warn("reading container record", "namespace", ns, "id", id, "err", err)
		}
		return
	}
	c := d.decode(ns, &recs[0])
	key := c.Key()
	d.mu.Lock()
	if old := d.byKey[key]; old != nil {
		c = c.withTask(old.Pid, old.Status)
	}
	d.byKey[key] = c
	// A new app container finds its sandbox; a new sandbox, any container
	// of its pod seen before it.
	linkOverrides(d.byKey)
	d.mu.Unlock()
	d.bump()
}
