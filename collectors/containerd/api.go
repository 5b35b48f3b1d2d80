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
	"google.golang.org/grpc/mem"
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
	ID string
	// Labels are the labels the API's LabelPolicy keeps; the others were
	// dropped as the answer was decoded.
	Labels map[string]string
	// LabelsCut counts the labels the policy would keep that a bound
	// dropped or shortened (see MaxLabels).
	LabelsCut int
	Image     string
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
// server and clients use 16 MiB per message; a record is a few KiB, but
// whoever creates a container may give it labels up to that size (any
// number of labels of up to 4 KiB each), which is why records are decoded
// through the label policy rather than whole.
const (
	// maxRecvMessage bounds one message from containerd: one container
	// record of a streamed list, one event, or a whole namespace's list
	// from a daemon too old to stream it. It is containerd's own bound,
	// so any record containerd accepted in one request can be read.
	maxRecvMessage = 16 << 20
	// maxSendMessage bounds our requests, which are a few filters.
	maxSendMessage = 1 << 20
	// maxHeaderList bounds the response metadata containerd may send.
	maxHeaderList = 1 << 20
	// flowWindow is the HTTP/2 flow-control window of the connection and
	// of each stream: how much containerd may send ahead of what the agent
	// has read. gRPC's default grows it with the measured bandwidth up to
	// 16 MiB, so a list of large records (or a burst of large update
	// events) could hold a whole next message in buffers on top of the
	// one being decoded; a fixed 1 MiB keeps that small, and is plenty
	// over a local socket.
	flowWindow = 1 << 20
	// maxListBytes bounds the records one Containers call accumulates,
	// counting what is kept of them (labels past the policy are not):
	// a thousand CRI containers take about 20 MiB, most of it specs.
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

// DialOption configures Dial.
type DialOption func(*rpcAPI)

// WithLabelPolicy makes the API keep only the container labels p keeps,
// dropping the others while decoding containerd's answers. Without it, only
// the labels the agent itself reads are kept.
func WithLabelPolicy(p *LabelPolicy) DialOption {
	return func(a *rpcAPI) { a.codec.policy = p }
}

// Dial returns an API over containerd's gRPC services on socket. The
// connection is lazy: a missing socket surfaces as an error of the first call,
// so callers retry with backoff rather than failing at start. timeout bounds
// each connection attempt, the delay between attempts and every call except
// the event subscription.
func Dial(socket string, timeout time.Duration, opts ...DialOption) (API, error) {
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
		grpc.WithInitialWindowSize(flowWindow),
		grpc.WithInitialConnWindowSize(flowWindow),
		grpc.WithChainUnaryInterceptor(guardUnary),
		grpc.WithChainStreamInterceptor(guardStream),
	)
	if err != nil {
		return nil, fmt.Errorf("containerd connection to %s: %w", socket, err)
	}
	a := &rpcAPI{conn: conn, timeout: timeout, maxList: maxListBytes,
		namespaces: namespacesapi.NewNamespacesClient(conn),
		containers: containersapi.NewContainersClient(conn),
		tasks:      tasksapi.NewTasksClient(conn),
		events:     eventsapi.NewEventsClient(conn),
		snapshots:  snapshotsapi.NewSnapshotsClient(conn),
		version:    versionapi.NewVersionClient(conn),
	}
	for _, o := range opts {
		o(a)
	}
	return a, nil
}

type rpcAPI struct {
	conn    *grpc.ClientConn
	timeout time.Duration
	maxList int // bytes; a field so tests can lower it
	codec   recordCodec

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
// daemon without ListStream gets the one-message List. Records are decoded
// by recordCodec, which keeps only the labels of the API's policy.
func (a *rpcAPI) Containers(ctx context.Context, ns string, filters ...string) ([]Record, error) {
	ctx, cancel := a.call(ctx, ns)
	defer cancel()
	req := &containersapi.ListContainersRequest{Filters: filters}
	stream, err := a.containers.ListStream(ctx, req, grpc.ForceCodecV2(a.codec))
	if err != nil {
		return nil, fromRPC(err)
	}
	b := recordBatch{policy: a.codec.policy}
	for {
		err := stream.RecvMsg(&b)
		if err == io.EOF {
			return b.recs, nil
		}
		if status.Code(err) == codes.Unimplemented && len(b.recs) == 0 {
			return a.list(ctx, ns, req)
		}
		if err != nil {
			return nil, fromRPC(err)
		}
		if b.size > a.maxList {
			return nil, fmt.Errorf("container list of namespace %q exceeds %d bytes: %w", ns, a.maxList, errdefs.ErrResourceExhausted)
		}
	}
}

// listMethod is the one-message List, called by name so that its answer
// decodes into a recordBatch.
const listMethod = "/containerd.services.containers.v1.Containers/List"

func (a *rpcAPI) list(ctx context.Context, ns string, req *containersapi.ListContainersRequest) ([]Record, error) {
	b := recordBatch{policy: a.codec.policy}
	if err := a.conn.Invoke(ctx, listMethod, req, &b, grpc.ForceCodecV2(a.codec)); err != nil {
		return nil, fromRPC(err)
	}
	if b.size > a.maxList {
		return nil, fmt.Errorf("container list of namespace %q exceeds %d bytes: %w", ns, a.maxList, errdefs.ErrResourceExhausted)
	}
	return b.recs, nil
}

// recordCodec encodes requests as protobuf and decodes container lists
// into a recordBatch (and events into an envelopeMsg), straight from
// gRPC's received buffers: the labels
// the policy does not keep are skipped in place, never copied, and the
// message is not first gathered into one contiguous slice. Its name is
// "proto", so the daemon sees an ordinary call.
type recordCodec struct{ policy *LabelPolicy }

func (recordCodec) Name() string { return "proto" }

func (recordCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("encoding %T: not a protobuf message", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (recordCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r := data.Reader()
	defer r.Close()
	switch m := v.(type) {
	case *recordBatch:
		return m.decode(r)
	case *envelopeMsg:
		return m.decode(r)
	}
	return fmt.Errorf("decoding into %T: only container lists and events", v)
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
	// The codec reduces a container event to its id (see envelopeMsg).
	stream, err := a.events.Subscribe(ctx, &eventsapi.SubscribeRequest{Filters: filters}, grpc.ForceCodecV2(a.codec))
	if err != nil {
		errs <- fromRPC(err)
		close(errs)
		return evs, errs
	}
	go func() {
		defer close(errs)
		for {
			var m envelopeMsg
			if err := stream.RecvMsg(&m); err != nil {
				errs <- fromRPC(err)
				return
			}
			env := &m.env
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
