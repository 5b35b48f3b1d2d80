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
	"fmt"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
)

// API is the read-only slice of containerd that discovery needs. Keeping it
// this narrow is a security property: nothing reachable from the agent can
// mutate containerd state.
type API interface {
	// Namespaces lists every containerd namespace.
	Namespaces(ctx context.Context) ([]string, error)
	// Containers lists the container records of one namespace, optionally
	// filtered with containerd's filter language (e.g. `id=="abc"`).
	Containers(ctx context.Context, namespace string, filters ...string) ([]containers.Container, error)
	// Tasks lists the tasks of one namespace with their pid and status.
	Tasks(ctx context.Context, namespace string) ([]*task.Process, error)
	// Subscribe streams events of every namespace matching filters.
	Subscribe(ctx context.Context, filters ...string) (<-chan *events.Envelope, <-chan error)
	// SnapshotUsage measures a snapshot (a container's writable layer).
	SnapshotUsage(ctx context.Context, namespace, snapshotter, key string) (snapshots.Usage, error)
	// Version returns the daemon's version; it doubles as a health probe.
	Version(ctx context.Context) (string, error)
	Close() error
}

// Dial returns an API backed by containerd's Go client on socket. The
// connection is lazy: a missing socket surfaces as an error of the first call,
// so callers retry with backoff rather than failing at start.
func Dial(socket string, timeout time.Duration) (API, error) {
	c, err := client.New(socket, client.WithTimeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("containerd client for %s: %w", socket, err)
	}
	return &clientAPI{c: c}, nil
}

type clientAPI struct{ c *client.Client }

func (a *clientAPI) Namespaces(ctx context.Context) ([]string, error) {
	return a.c.NamespaceService().List(ctx)
}

func (a *clientAPI) Containers(ctx context.Context, ns string, filters ...string) ([]containers.Container, error) {
	return a.c.ContainerService().List(namespaces.WithNamespace(ctx, ns), filters...)
}

func (a *clientAPI) Tasks(ctx context.Context, ns string) ([]*task.Process, error) {
	resp, err := a.c.TaskService().List(namespaces.WithNamespace(ctx, ns), &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, err
	}
	return resp.Tasks, nil
}

func (a *clientAPI) Subscribe(ctx context.Context, filters ...string) (<-chan *events.Envelope, <-chan error) {
	return a.c.Subscribe(ctx, filters...)
}

func (a *clientAPI) SnapshotUsage(ctx context.Context, ns, snapshotter, key string) (snapshots.Usage, error) {
	return a.c.SnapshotService(snapshotter).Usage(namespaces.WithNamespace(ctx, ns), key)
}

func (a *clientAPI) Version(ctx context.Context) (string, error) {
	v, err := a.c.Version(ctx)
	if err != nil {
		return "", err
	}
	return v.Version, nil
}

func (a *clientAPI) Close() error { return a.c.Close() }
