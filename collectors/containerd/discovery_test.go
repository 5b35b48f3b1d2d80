package containerd

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/anypb"
)

// fakeAPI is an in-memory containerd for discovery's logic. It can be made
// unavailable to exercise reconnection.
type fakeAPI struct {
	mu       sync.Mutex
	down     bool
	recs     map[string][]Record // by namespace
	tasks    map[string][]*task.Process
	evs      chan *Envelope
	errs     chan error
	lists    int
	filtered int
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{recs: map[string][]Record{}, tasks: map[string][]*task.Process{}}
}

var errDown = errors.New("connection refused")

func (f *fakeAPI) Namespaces(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	var nss []string
	for ns := range f.recs {
		nss = append(nss, ns)
	}
	return nss, nil
}

func (f *fakeAPI) Containers(_ context.Context, ns string, filters ...string) ([]Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	if len(filters) > 0 {
		f.filtered++
		for _, r := range f.recs[ns] {
			if filters[0] == `id=="`+r.ID+`"` {
				return []Record{r}, nil
			}
		}
		return nil, nil
	}
	f.lists++
	return append([]Record(nil), f.recs[ns]...), nil
}

func (f *fakeAPI) Tasks(_ context.Context, ns string) ([]*task.Process, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	return f.tasks[ns], nil
}

func (f *fakeAPI) Subscribe(ctx context.Context, _ ...string) (<-chan *Envelope, <-chan error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := make(chan error, 1)
	if f.down {
		errs <- errDown
		return nil, errs
	}
	f.evs, f.errs = make(chan *Envelope), errs
	return f.evs, errs
}

func (f *fakeAPI) SnapshotUsage(context.Context, string, string, string) (Usage, error) {
	return Usage{}, errdefs.ErrNotFound
}
func (f *fakeAPI) Version(context.Context) (string, error) { return "fake", nil }
func (f *fakeAPI) Close() error                            { return nil }

func (f *fakeAPI) add(ns, id string, labels map[string]string, spec string, pid uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := Record{ID: id, Labels: labels, Image: "docker.io/library/busybox:latest",
		CreatedAt: time.Unix(1, 0), UpdatedAt: time.Unix(1, 0)}
	if spec != "" {
		r.Spec = []byte(spec)
	}
	f.recs[ns] = append(f.recs[ns], r)
	if pid != 0 {
		// Like containerd 1.6, leave ContainerID empty.
		f.tasks[ns] = append(f.tasks[ns], &task.Process{ID: id, Pid: pid, Status: task.Status_RUNNING})
	}
}

// send delivers an event and returns once discovery has taken it.
func (f *fakeAPI) send(t *testing.T, ns string, ev any) {
	t.Helper()
	a, err := typeurl.MarshalAny(ev)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	ch := f.evs
	f.mu.Unlock()
	select {
	case ch <- &Envelope{Namespace: ns, Topic: "/x", Event: &anypb.Any{TypeUrl: a.GetTypeUrl(), Value: a.GetValue()}}:
	case <-time.After(5 * time.Second):
		t.Fatal("discovery did not take the event")
	}
}

func (f *fakeAPI) breakStream() {
	f.mu.Lock()
	f.down = true
	errs := f.errs
	f.mu.Unlock()
	errs <- errDown
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func get(d *Discovery, ns, id string) *Container {
	cs, _ := d.Containers(nil)
	for _, c := range cs {
		if c.Namespace == ns && c.ID == id {
			return c
		}
	}
	return nil
}

func start(t *testing.T, f *fakeAPI, opt Options) *Discovery {
	t.Helper()
	opt.MaxBackoff = 20 * time.Millisecond
	d := New(f, opt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return d
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDiscoveryListsEveryNamespace(t *testing.T) {
	f := newFakeAPI()
	f.add("k8s.io", "a", map[string]string{LabelPodName: "web", LabelPodNamespace: "shop", LabelContainerName: "nginx", LabelCRIKind: "container"}, "", 42)
	f.add("default", "b", nil, "", 0)
	d := start(t, f, Options{})
	waitFor(t, "connection", func() bool { return d.Health().Connected })
	a, b := get(d, "k8s.io", "a"), get(d, "default", "b")
	if a == nil || b == nil {
		t.Fatal("a container of some namespace is missing")
	}
	if a.Pid != 42 || !a.Running() || a.Pod.Name != "web" || a.Pod.ContainerName != "nginx" || a.Name() != "nginx" {
		t.Fatalf("a = %+v", a)
	}
	if b.Running() || b.Name() != "b" {
		t.Fatalf("b without a task = %+v", b)
	}
}

func TestDiscoveryOnlyConfiguredNamespaces(t *testing.T) {
	f := newFakeAPI()
	f.add("k8s.io", "a", nil, "", 1)
	f.add("moby", "b", nil, "", 2)
	d := start(t, f, Options{Namespaces: []string{"k8s.io"}})
	waitFor(t, "connection", func() bool { return d.Health().Connected })
	if get(d, "moby", "b") != nil || get(d, "k8s.io", "a") == nil {
		t.Fatal("namespace filter not applied")
	}
}

func TestDiscoveryFollowsEvents(t *testing.T) {
	f := newFakeAPI()
	f.add("k8s.io", "existing", nil, "", 1)
	d := start(t, f, Options{})
	// Two readers each get their own wake-up: one cannot steal the
	// other's.
	sampler, storage := d.Subscribe(), d.Subscribe()
	waitFor(t, "connection", func() bool { return d.Health().Connected })
	drain := func(c <-chan struct{}) {
		for {
			select {
			case <-c:
			default:
				return
			}
		}
	}
	drain(sampler)
	drain(storage)
	gen := d.Generation()

	f.add("k8s.io", "c", nil, "", 0)
	f.send(t, "k8s.io", &apievents.ContainerCreate{ID: "c"})
	waitFor(t, "create", func() bool { return get(d, "k8s.io", "c") != nil })
	if d.Generation() == gen {
		t.Fatal("generation did not move on a change")
	}
	for name, c := range map[string]<-chan struct{}{"first": sampler, "second": storage} {
		select {
		case <-c:
		default:
			t.Fatalf("no change notification for the %s subscriber", name)
		}
	}

	f.send(t, "k8s.io", &apievents.TaskStart{ContainerID: "c", Pid: 77})
	waitFor(t, "start", func() bool { c := get(d, "k8s.io", "c"); return c.Running() && c.Pid == 77 })

	// An exec exiting is not the container exiting.
	f.send(t, "k8s.io", &apievents.TaskExit{ContainerID: "c", ID: "exec-1", Pid: 90})
	f.send(t, "k8s.io", &apievents.TaskExit{ContainerID: "c", ID: "c", Pid: 77})
	waitFor(t, "exit", func() bool { return get(d, "k8s.io", "c").Status == StatusStopped })
	f.send(t, "k8s.io", &apievents.TaskDelete{ContainerID: "c"})
	waitFor(t, "task delete", func() bool { return get(d, "k8s.io", "c").Pid == 0 })
	f.send(t, "k8s.io", &apievents.ContainerDelete{ID: "c"})
	waitFor(t, "delete", func() bool { return get(d, "k8s.io", "c") == nil })

	// Event handling used filtered single-container reads, not re-lists.
	f.mu.Lock()
	lists, filtered := f.lists, f.filtered
	f.mu.Unlock()
	if lists != 1 || filtered != 1 {
		t.Fatalf("lists = %d, filtered = %d: want 1 full list and 1 filtered read", lists, filtered)
	}
}

// A task event for a container discovery has not seen yet fetches it.
func TestDiscoveryTaskBeforeCreate(t *testing.T) {
	f := newFakeAPI()
	d := start(t, f, Options{})
	waitFor(t, "connection", func() bool { return d.Health().Connected })
	f.add("k8s.io", "late", nil, "", 0)
	f.send(t, "k8s.io", &apievents.TaskStart{ContainerID: "late", Pid: 5})
	waitFor(t, "late container", func() bool { c := get(d, "k8s.io", "late"); return c != nil && c.Pid == 5 && c.Running() })
}

func TestDiscoveryReconnects(t *testing.T) {
	f := newFakeAPI()
	f.add("k8s.io", "a", nil, "", 1)
	d := start(t, f, Options{})
	waitFor(t, "connection", func() bool { return d.Health().Connected })

	f.breakStream()
	waitFor(t, "disconnect", func() bool { return !d.Health().Connected })
	if h := d.Health(); h.Reason == "" {
		t.Fatal("disconnected without a reason")
	}
	// The inventory survives the outage: containers outlive containerd.
	if get(d, "k8s.io", "a") == nil {
		t.Fatal("inventory dropped while containerd was away")
	}
	// While down, a container was removed and another created; the
	// re-list after reconnecting repairs both.
	f.mu.Lock()
	f.recs["k8s.io"], f.tasks["k8s.io"] = nil, nil
	f.down = false
	f.mu.Unlock()
	f.add("k8s.io", "b", nil, "", 2)
	waitFor(t, "reconnect", func() bool { return d.Health().Connected && get(d, "k8s.io", "b") != nil })
	if get(d, "k8s.io", "a") != nil {
		t.Fatal("container removed during the outage is still listed")
	}
	if d.Errors() == 0 {
		t.Fatal("the outage was not counted")
	}
}

func TestDiscoveryStartsWithoutContainerd(t *testing.T) {
	f := newFakeAPI()
	f.down = true
	d := start(t, f, Options{})
	waitFor(t, "an attempt", func() bool { return d.Errors() > 0 })
	if d.Health().Connected {
		t.Fatal("connected to a missing containerd")
	}
	f.mu.Lock()
	f.down = false
	f.mu.Unlock()
	waitFor(t, "connection once containerd appears", func() bool { return d.Health().Connected })
}

func TestDiscoveryUnreadableSpecKeepsContainer(t *testing.T) {
	f := newFakeAPI()
	f.add("k8s.io", "bad", nil, "{not json", 3)
	d := start(t, f, Options{})
	waitFor(t, "connection", func() bool { return d.Health().Connected })
	if c := get(d, "k8s.io", "bad"); c == nil || c.Pid != 3 {
		t.Fatal("a container with an unreadable spec was dropped")
	}
	if d.Errors() == 0 {
		t.Fatal("unreadable spec not counted")
	}
}
