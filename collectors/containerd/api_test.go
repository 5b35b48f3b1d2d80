package containerd

import (
	"context"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	namespacesapi "github.com/containerd/containerd/api/services/namespaces/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// daemon is a containerd stand-in that implements only the read RPCs, per
// namespace taken from the call's metadata as containerd does.
// Each service is its own type, since the generated placeholders of the
// unimplemented methods would clash in one.
type daemon struct {
	recs      map[string][]*containersapi.Container
	noStream  bool // behave like a daemon without ListStream
	filters   chan []string
	event     *types.Envelope
	usageSize int64
}

func namespaceOf(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(namespaceHeader); len(v) == 1 {
		return v[0], nil
	}
	return "", status.Error(codes.FailedPrecondition, "namespace is required")
}

type namespacesServer struct {
	namespacesapi.UnimplementedNamespacesServer
	*daemon
}

func (d namespacesServer) List(_ context.Context, _ *namespacesapi.ListNamespacesRequest) (*namespacesapi.ListNamespacesResponse, error) {
	var resp namespacesapi.ListNamespacesResponse
	for _, ns := range slices.Sorted(maps.Keys(d.recs)) {
		resp.Namespaces = append(resp.Namespaces, &namespacesapi.Namespace{Name: ns})
	}
	return &resp, nil
}

type containersServer struct {
	containersapi.UnimplementedContainersServer
	*daemon
}

func (d containersServer) List(ctx context.Context, req *containersapi.ListContainersRequest) (*containersapi.ListContainersResponse, error) {
	ns, err := namespaceOf(ctx)
	if err != nil {
		return nil, err
	}
	d.filters <- req.Filters
	return &containersapi.ListContainersResponse{Containers: d.recs[ns]}, nil
}

func (d containersServer) ListStream(req *containersapi.ListContainersRequest, s containersapi.Containers_ListStreamServer) error {
	if d.noStream {
		return status.Error(codes.Unimplemented, "no ListStream")
	}
	ns, err := namespaceOf(s.Context())
	if err != nil {
		return err
	}
	d.filters <- req.Filters
	for _, c := range d.recs[ns] {
		if !matches(req.Filters, c) {
			continue
		}
		if err := s.Send(&containersapi.ListContainerMessage{Container: c}); err != nil {
			return err
		}
	}
	return nil
}

// matches implements the one filter discovery sends, id=="<id>".
func matches(filters []string, c *containersapi.Container) bool {
	return len(filters) == 0 || filters[0] == `id=="`+c.ID+`"`
}

type tasksServer struct {
	tasksapi.UnimplementedTasksServer
	*daemon
}

func (d tasksServer) List(ctx context.Context, _ *tasksapi.ListTasksRequest) (*tasksapi.ListTasksResponse, error) {
	ns, err := namespaceOf(ctx)
	if err != nil {
		return nil, err
	}
	var resp tasksapi.ListTasksResponse
	for _, c := range d.recs[ns] {
		resp.Tasks = append(resp.Tasks, &task.Process{ID: c.ID, Pid: 7, Status: task.Status_RUNNING})
	}
	return &resp, nil
}

type eventsServer struct {
	eventsapi.UnimplementedEventsServer
	*daemon
}

func (d eventsServer) Subscribe(_ *eventsapi.SubscribeRequest, s eventsapi.Events_SubscribeServer) error {
	if err := s.Send(d.event); err != nil {
		return err
	}
	<-s.Context().Done()
	return nil
}

type snapshotsServer struct {
	snapshotsapi.UnimplementedSnapshotsServer
	*daemon
}

func (d snapshotsServer) Usage(ctx context.Context, req *snapshotsapi.UsageRequest) (*snapshotsapi.UsageResponse, error) {
	if ns, err := namespaceOf(ctx); err != nil || ns != "k8s.io" || req.Snapshotter != "overlayfs" || req.Key != "abc" {
		return nil, status.Errorf(codes.NotFound, "snapshot %s/%s does not exist", req.Snapshotter, req.Key)
	}
	return &snapshotsapi.UsageResponse{Size: d.usageSize, Inodes: 3}, nil
}

type versionServer struct {
	versionapi.UnimplementedVersionServer
	*daemon
}

func (versionServer) Version(context.Context, *emptypb.Empty) (*versionapi.VersionResponse, error) {
	return &versionapi.VersionResponse{Version: "1.6.20-test"}, nil
}

// serve runs d on socket until the test ends.
func (d *daemon) serve(t *testing.T, socket string) {
	t.Helper()
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.MaxSendMsgSize(64 << 20))
	namespacesapi.RegisterNamespacesServer(srv, namespacesServer{daemon: d})
	containersapi.RegisterContainersServer(srv, containersServer{daemon: d})
	tasksapi.RegisterTasksServer(srv, tasksServer{daemon: d})
	eventsapi.RegisterEventsServer(srv, eventsServer{daemon: d})
	snapshotsapi.RegisterSnapshotsServer(srv, snapshotsServer{daemon: d})
	versionapi.RegisterVersionServer(srv, versionServer{daemon: d})
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
}

func newDaemon(t *testing.T) *daemon {
	t.Helper()
	ev, err := typeurl.MarshalAny(&apievents.TaskStart{ContainerID: "abc", Pid: 7})
	if err != nil {
		t.Fatal(err)
	}
	return &daemon{
		recs: map[string][]*containersapi.Container{
			"k8s.io": {{
				ID:          "abc",
				Labels:      map[string]string{LabelPodName: "web"},
				Image:       "docker.io/library/busybox:latest",
				Runtime:     &containersapi.Container_Runtime{Name: "io.containerd.runc.v2"},
				Spec:        &anypb.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", Value: []byte(`{"linux":{"cgroupsPath":"/k8s.io/abc"}}`)},
				Snapshotter: "overlayfs",
				SnapshotKey: "abc",
				CreatedAt:   timestamppb.New(time.Unix(100, 0)),
				UpdatedAt:   timestamppb.New(time.Unix(200, 0)),
				Sandbox:     "sb",
			}},
			"default": {{ID: "plain"}},
		},
		filters:   make(chan []string, 10),
		event:     &types.Envelope{Timestamp: timestamppb.New(time.Unix(300, 0)), Namespace: "k8s.io", Topic: "/tasks/start", Event: &anypb.Any{TypeUrl: ev.GetTypeUrl(), Value: ev.GetValue()}},
		usageSize: 4096,
	}
}

func dialTest(t *testing.T, socket string) *rpcAPI {
	t.Helper()
	api, err := Dial(socket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	return api.(*rpcAPI)
}

func TestAPIReads(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "containerd.sock")
	d := newDaemon(t)
	// The connection is lazy: Dial succeeds without a daemon, the first
	// call fails, and a later one succeeds once the daemon is there.
	api := dialTest(t, socket)
	ctx := context.Background()
	if _, err := api.Version(ctx); err == nil {
		t.Fatal("a call without a daemon succeeded")
	}
	d.serve(t, socket)
	var v string
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if v, err = api.Version(ctx); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || v != "1.6.20-test" {
		t.Fatalf("Version = %q, %v", v, err)
	}

	nss, err := api.Namespaces(ctx)
	if err != nil || !slices.Equal(nss, []string{"default", "k8s.io"}) {
		t.Fatalf("Namespaces = %v, %v", nss, err)
	}

	recs, err := api.Containers(ctx, "k8s.io", `id=="abc"`)
	if err != nil || len(recs) != 1 {
		t.Fatalf("Containers = %v, %v", recs, err)
	}
	if f := <-d.filters; !slices.Equal(f, []string{`id=="abc"`}) {
		t.Errorf("filters sent = %q", f)
	}
	r := recs[0]
	if r.ID != "abc" || r.Labels[LabelPodName] != "web" || r.Image != "docker.io/library/busybox:latest" ||
		r.Runtime != "io.containerd.runc.v2" || string(r.Spec) != `{"linux":{"cgroupsPath":"/k8s.io/abc"}}` ||
		r.Snapshotter != "overlayfs" || r.SnapshotKey != "abc" || r.SandboxID != "sb" ||
		!r.CreatedAt.Equal(time.Unix(100, 0)) || !r.UpdatedAt.Equal(time.Unix(200, 0)) {
		t.Fatalf("record = %+v", r)
	}
	c, err := newContainer("k8s.io", &r)
	if err != nil || c.CgroupsPath != "/k8s.io/abc" || c.Pod.SandboxID != "sb" {
		t.Fatalf("container = %+v, %v", c, err)
	}
	plain, err := api.Containers(ctx, "default")
	if err != nil || len(plain) != 1 || plain[0].Spec != nil || !plain[0].CreatedAt.IsZero() {
		t.Fatalf("record without spec or times = %+v, %v", plain, err)
	}
	<-d.filters

	procs, err := api.Tasks(ctx, "k8s.io")
	if err != nil || len(procs) != 1 || procs[0].ID != "abc" || procs[0].Pid != 7 {
		t.Fatalf("Tasks = %v, %v", procs, err)
	}

	u, err := api.SnapshotUsage(ctx, "k8s.io", "overlayfs", "abc")
	if err != nil || u != (Usage{Size: 4096, Inodes: 3}) {
		t.Fatalf("SnapshotUsage = %+v, %v", u, err)
	}
	// Callers test for containerd's errdefs sentinels.
	if _, err := api.SnapshotUsage(ctx, "k8s.io", "overlayfs", "gone"); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing snapshot: err = %v, want a not-found error with containerd's message", err)
	}

	sctx, cancel := context.WithCancel(ctx)
	evs, errs := api.Subscribe(sctx, `topic~="^/tasks/"`)
	select {
	case env := <-evs:
		if env.Namespace != "k8s.io" || env.Topic != "/tasks/start" || !env.Timestamp.Equal(time.Unix(300, 0)) {
			t.Fatalf("envelope = %+v", env)
		}
		ev, err := typeurl.UnmarshalAny(env.Event)
		if e, ok := ev.(*apievents.TaskStart); err != nil || !ok || e.ContainerID != "abc" || e.Pid != 7 {
			t.Fatalf("event = %#v, %v", ev, err)
		}
	case err := <-errs:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	cancel()
	select {
	case <-errs: // the stream's goroutine has ended
	case <-time.After(5 * time.Second):
		t.Fatal("subscription did not end with its context")
	}
}

// A daemon without ListStream (containerd before 1.3) gets the one-message
// List.
func TestAPIContainersWithoutStream(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "containerd.sock")
	d := newDaemon(t)
	d.noStream = true
	d.serve(t, socket)
	recs, err := dialTest(t, socket).Containers(context.Background(), "k8s.io")
	if err != nil || len(recs) != 1 || recs[0].ID != "abc" {
		t.Fatalf("Containers = %v, %v", recs, err)
	}
}

// A daemon sending more than the bounds is cut off with an error instead of
// being buffered.
func TestAPIBoundsWhatTheDaemonSends(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "containerd.sock")
	d := newDaemon(t)
	huge := &containersapi.Container{ID: "huge", Labels: map[string]string{"x": strings.Repeat("x", maxRecvMessage)}}
	d.recs["huge"] = []*containersapi.Container{huge}
	many := make([]*containersapi.Container, 100)
	for i := range many {
		// A label the agent keeps: the bound counts what is kept.
		many[i] = &containersapi.Container{ID: "c", Labels: map[string]string{LabelPodName: strings.Repeat("x", 1000)}}
	}
	d.recs["many"] = many
	d.serve(t, socket)
	api := dialTest(t, socket)
	ctx := context.Background()

	if _, err := api.Containers(ctx, "huge"); !errdefs.IsResourceExhausted(err) {
		t.Fatalf("a record over %d bytes: err = %v, want it refused", maxRecvMessage, err)
	}
	api.maxList = 50_000 // about 50 of the 100 records
	if _, err := api.Containers(ctx, "many"); !errdefs.IsResourceExhausted(err) {
		t.Fatalf("a list over the byte bound: err = %v, want it refused", err)
	}
	api.maxList = maxListBytes
	if recs, err := api.Containers(ctx, "many"); err != nil || len(recs) != 100 {
		t.Fatalf("a list within the bound: %d records, %v", len(recs), err)
	}
}
