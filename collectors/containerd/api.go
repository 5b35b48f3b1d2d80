// Package containerd discovers containers through containerd's API: a full
// list per namespace, an event subscription that keeps the inventory current,
// a periodic re-list that repairs anything missed, and writable-layer sizes
// from the snapshotter on a slow cadence.
//
// The package holds containerd only through API, a read-only interface of its
// own: the agent can observe containers but never create, change or delete
// anything.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	namespacesapi "github.com/containerd/containerd/api/services/namespaces/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/errdefs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// API is the read-only slice of containerd that discovery needs. Keeping it
// this narrow is a security property: nothing reachable from the agent can
// mutate containerd state.
type API interface {
	// Namespaces lists every containerd namespace.
	Namespaces(ctx context.Context) ([]string, error)
	// Containers lists the container records of one namespace, optionally
	// filtered with containerd's filter language (e.g. `id=="abc"`).
	Containers(ctx context.Context, namespace string, filters ...string) ([]Record, error)
	// Tasks lists the tasks of one namespace with their pid and status.
	Tasks(ctx context.Context, namespace string) ([]*task.Process, error)
	// Subscribe streams events of every namespace matching filters.
	Subscribe(ctx context.Context, filters ...string) (<-chan *Envelope, <-chan error)
	// SnapshotUsage measures a snapshot (a container's writable layer).
	SnapshotUsage(ctx context.Context, namespace, snapshotter, key string) (Usage, error)
	// Version returns the daemon's version; it doubles as a health probe.
	Version(ctx context.Context) (string, error)
	Close() error
}

// Record is a container record as containerd stores it, reduced to what
// discovery reads. Extensions are left out: nothing here uses them, and
// they are client-chosen blobs of any size.
type Record struct {
	ID     string
	Labels map[string]string
	Image  string
	// Runtime is the runtime's name (e.g. io.containerd.runc.v2).
	Runtime string
	// Spec is the OCI runtime spec as JSON, the value of the record's spec
	// Any; nil when the record has none.
	Spec                 []byte
	Snapshotter          string
	SnapshotKey          string
	CreatedAt, UpdatedAt time.Time
	// SandboxID is the sandbox the record names (containerd 2's sandbox
	// API); empty from older daemons and outside sandboxes.
	SandboxID string
}

// Envelope is one event as the events service delivers it. Event is a
// typeurl-encoded message of containerd's api/events package.
type Envelope struct {
	Timestamp time.Time
	Namespace string
	Topic     string
	Event     *anypb.Any
}

// Usage is a snapshot's disk usage.
type Usage struct {
	Size   int64 // bytes
	Inodes int64
}

// Bounds on what containerd may make the agent hold. containerd's own
// server and clients use 16 MiB per message; a record is a few KiB, so only
// a broken or hostile daemon comes near them.
const (
	// maxRecvMessage bounds one message from containerd: one container
	// record of a streamed list, one event, or a whole namespace's list
	// from a daemon too old to stream it.
	maxRecvMessage = 16 << 20
	// maxSendMessage bounds our requests, which are a few filters.
	maxSendMessage = 1 << 20
	// maxHeaderList bounds the response metadata containerd may send.
	maxHeaderList = 1 << 20
	// maxListBytes bounds the records one Containers call accumulates;
	// a thousand CRI containers take about 20 MiB.
	maxListBytes = 128 << 20
)

// namespaceHeader is the gRPC metadata key that carries the containerd
// namespace of a call; every namespaced service reads it.
const namespaceHeader = "containerd-namespace"

// readOnlyMethods are the only RPCs the connection lets through. The
// generated service clients offer every method of each service (Create,
// Delete, Kill, …); the interceptors below refuse all but these reads, so a
// mutation cannot reach containerd even through a mistake in this file.
var readOnlyMethods = map[string]bool{
	"/containerd.services.namespaces.v1.Namespaces/List":       true,
	"/containerd.services.containers.v1.Containers/List":       true,
	"/containerd.services.containers.v1.Containers/ListStream": true,
	"/containerd.services.tasks.v1.Tasks/List":                 true,
	"/containerd.services.events.v1.Events/Subscribe":          true,
	"/containerd.services.snapshots.v1.Snapshots/Usage":        true,
	"/containerd.services.version.v1.Version/Version":          true,
}

// errNotReadOnly is returned for an RPC outside readOnlyMethods.
var errNotReadOnly = errors.New("refused: not a read-only containerd call")

func guardUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if !readOnlyMethods[method] {
		return fmt.Errorf("%s: %w", method, errNotReadOnly)
	}
	return invoke(ctx, method, req, reply, cc, opts...)
}

func guardStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, open grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if !readOnlyMethods[method] {
		return nil, fmt.Errorf("%s: %w", method, errNotReadOnly)
	}
	return open(ctx, desc, cc, method, opts...)
}

// Dial returns an API over containerd's gRPC services on socket. The
// connection is lazy: a missing socket surfaces as an error of the first call,
// so callers retry with backoff rather than failing at start. timeout bounds
// each connection attempt, the delay between attempts and every call except
// the event subscription.
func Dial(socket string, timeout time.Duration) (API, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	bo := backoff.DefaultConfig
	// gRPC's own reconnection backoff grows to two minutes; discovery
	// retries on its own schedule and must find the socket as soon as
	// containerd is back.
	bo.MaxDelay = timeout
	conn, err := grpc.NewClient("unix:"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: timeout}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMessage), grpc.MaxCallSendMsgSize(maxSendMessage)),
		grpc.WithMaxHeaderListSize(maxHeaderList),
		grpc.WithChainUnaryInterceptor(guardUnary),
		grpc.WithChainStreamInterceptor(guardStream),
	)
	if err != nil {
		return nil, fmt.Errorf("containerd connection to %s: %w", socket, err)
	}
	return &rpcAPI{conn: conn, timeout: timeout, maxList: maxListBytes,
		namespaces: namespacesapi.NewNamespacesClient(conn),
		containers: containersapi.NewContainersClient(conn),
		tasks:      tasksapi.NewTasksClient(conn),
		events:     eventsapi.NewEventsClient(conn),
		snapshots:  snapshotsapi.NewSnapshotsClient(conn),
		version:    versionapi.NewVersionClient(conn),
	}, nil
}

type rpcAPI struct {
	conn    *grpc.ClientConn
	timeout time.Duration
	maxList int // bytes; a field so tests can lower it

	namespaces namespacesapi.NamespacesClient
	containers containersapi.ContainersClient
	tasks      tasksapi.TasksClient
	events     eventsapi.EventsClient
	snapshots  snapshotsapi.SnapshotsClient
	version    versionapi.VersionClient
}

// call returns ctx bounded by the API's timeout (unless it already has an
// earlier deadline) and carrying namespace ns when ns is not empty.
func (a *rpcAPI) call(ctx context.Context, ns string) (context.Context, context.CancelFunc) {
	if ns != "" {
		ctx = withNamespace(ctx, ns)
	}
	return context.WithTimeout(ctx, a.timeout)
}

// withNamespace sets the namespace header of ctx's outgoing metadata,
// replacing any earlier one so that the daemon sees exactly one.
func withNamespace(ctx context.Context, ns string) context.Context {
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(namespaceHeader, ns)
	return metadata.NewOutgoingContext(ctx, md)
}

// fromRPC turns a gRPC status into the errdefs sentinel callers test for
// (errdefs.IsNotFound and friends), keeping containerd's message.
func fromRPC(err error) error {
	st, ok := status.FromError(err)
	if !ok || err == nil {
		return err
	}
	var kind error
	switch st.Code() {
	case codes.NotFound:
		kind = errdefs.ErrNotFound
	case codes.Unavailable:
		kind = errdefs.ErrUnavailable
	case codes.InvalidArgument:
		kind = errdefs.ErrInvalidArgument
	case codes.Unimplemented:
		kind = errdefs.ErrNotImplemented
	case codes.PermissionDenied:
		kind = errdefs.ErrPermissionDenied
	case codes.ResourceExhausted:
		kind = errdefs.ErrResourceExhausted
	case codes.DeadlineExceeded:
		kind = context.DeadlineExceeded
	case codes.Canceled:
		kind = context.Canceled
	default:
		return err
	}
	return fmt.Errorf("%s: %w", st.Message(), kind)
}

func (a *rpcAPI) Namespaces(ctx context.Context) ([]string, error) {
	ctx, cancel := a.call(ctx, "")
	defer cancel()
	resp, err := a.namespaces.List(ctx, &namespacesapi.ListNamespacesRequest{})
	if err != nil {
		return nil, fromRPC(err)
	}
	names := make([]string, 0, len(resp.GetNamespaces()))
	for _, n := range resp.GetNamespaces() {
		names = append(names, n.GetName())
	}
	return names, nil
}

// Containers streams the list, one record per message, as containerd's
// own client does, so that no single message has to hold a namespace; a
// daemon without ListStream gets the one-message List.
func (a *rpcAPI) Containers(ctx context.Context, ns string, filters ...string) ([]Record, error) {
	ctx, cancel := a.call(ctx, ns)
	defer cancel()
	req := &containersapi.ListContainersRequest{Filters: filters}
	stream, err := a.containers.ListStream(ctx, req)
	if err != nil {
		return nil, fromRPC(err)
	}
	var recs []Record
	total := 0
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return recs, nil
		}
		if status.Code(err) == codes.Unimplemented && len(recs) == 0 {
			return a.list(ctx, req)
		}
		if err != nil {
			return nil, fromRPC(err)
		}
		if total += proto.Size(m); total > a.maxList {
			return nil, fmt.Errorf("container list of namespace %q exceeds %d bytes: %w", ns, a.maxList, errdefs.ErrResourceExhausted)
		}
		recs = append(recs, recordOf(m.GetContainer()))
	}
}

func (a *rpcAPI) list(ctx context.Context, req *containersapi.ListContainersRequest) ([]Record, error) {
	resp, err := a.containers.List(ctx, req)
	if err != nil {
		return nil, fromRPC(err)
	}
	recs := make([]Record, 0, len(resp.GetContainers()))
	for _, c := range resp.GetContainers() {
		recs = append(recs, recordOf(c))
	}
	return recs, nil
}

func recordOf(c *containersapi.Container) Record {
	r := Record{
		ID:          c.GetID(),
		Labels:      c.GetLabels(),
		Image:       c.GetImage(),
		Runtime:     c.GetRuntime().GetName(),
		Snapshotter: c.GetSnapshotter(),
		SnapshotKey: c.GetSnapshotKey(),
		SandboxID:   c.GetSandbox(),
	}
	if v := c.GetSpec().GetValue(); len(v) > 0 {
		r.Spec = v
	}
	// A missing timestamp stays the zero time rather than becoming 1970.
	if t := c.GetCreatedAt(); t != nil {
		r.CreatedAt = t.AsTime()
	}
	if t := c.GetUpdatedAt(); t != nil {
		r.UpdatedAt = t.AsTime()
	}
	return r
}

func (a *rpcAPI) Tasks(ctx context.Context, ns string) ([]*task.Process, error) {
	ctx, cancel := a.call(ctx, ns)
	defer cancel()
	resp, err := a.tasks.List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, fromRPC(err)
	}
	return resp.GetTasks(), nil
}

// Subscribe has no timeout: the stream lives until ctx ends or containerd
// goes away. The goroutine it starts ends with the stream, which ctx's end
// closes; the error channel is buffered so that it never blocks.
func (a *rpcAPI) Subscribe(ctx context.Context, filters ...string) (<-chan *Envelope, <-chan error) {
	evs := make(chan *Envelope)
	errs := make(chan error, 1)
	stream, err := a.events.Subscribe(ctx, &eventsapi.SubscribeRequest{Filters: filters})
	if err != nil {
		errs <- fromRPC(err)
		close(errs)
		return evs, errs
	}
	go func() {
		defer close(errs)
		for {
			m, err := stream.Recv()
			if err != nil {
				errs <- fromRPC(err)
				return
			}
			env := &Envelope{Namespace: m.GetNamespace(), Topic: m.GetTopic(), Event: m.GetEvent()}
			if t := m.GetTimestamp(); t != nil {
				env.Timestamp = t.AsTime()
			}
			select {
			case evs <- env:
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			}
		}
	}()
	return evs, errs
}

func (a *rpcAPI) SnapshotUsage(ctx context.Context, ns, snapshotter, key string) (Usage, error) {
	ctx, cancel := a.call(ctx, ns)
	defer cancel()
	resp, err := a.snapshots.Usage(ctx, &snapshotsapi.UsageRequest{Snapshotter: snapshotter, Key: key})
	if err != nil {
		return Usage{}, fromRPC(err)
	}
	return Usage{Size: resp.GetSize(), Inodes: resp.GetInodes()}, nil
}

func (a *rpcAPI) Version(ctx context.Context) (string, error) {
	ctx, cancel := a.call(ctx, "")
	defer cancel()
	resp, err := a.version.Version(ctx, &emptypb.Empty{})
	if err != nil {
		return "", fromRPC(err)
	}
	return resp.GetVersion(), nil
}

func (a *rpcAPI) Close() error { return a.conn.Close() }
