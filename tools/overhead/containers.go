package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fleetscope/fleetscope/internal/testenv"
)

// containerSet is the set of containers this run started.
type containerSet struct {
	d    *testenv.Daemon
	busy int
	pods bool

	// Planned so far, for -pods: pods and app containers, so that a later
	// grow goes on with the next pod and the busy ones stay the first.
	nPods, nApps int

	mu  sync.Mutex
	ids []string
}

// idSet returns the ids of the running containers.
func (f *containerSet) idSet() map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := make(map[string]bool, len(f.ids))
	for _, id := range f.ids {
		set[id] = true
	}
	return set
}

func (f *containerSet) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ids)
}

// added records a started container and reports progress.
func (f *containerSet) added(id string, n int) {
	f.mu.Lock()
	f.ids = append(f.ids, id)
	started := len(f.ids)
	f.mu.Unlock()
	if started%25 == 0 || started == n {
		fmt.Printf("    %d/%d running\n", started, n)
	}
}

// podLabels are the CRI labels of a container of pod name, as containerd's
// CRI plugin sets them; kind is "sandbox" or "container".
func podLabels(name, kind, container string) map[string]string {
	l := map[string]string{
		"io.kubernetes.pod.name":      name,
		"io.kubernetes.pod.namespace": "overhead",
		"io.kubernetes.pod.uid":       name + "-uid",
		"io.cri-containerd.kind":      kind,
	}
	if container != "" {
		l["io.kubernetes.container.name"] = container
	}
	return l
}

// grow starts containers until n run, one namespace each or in pods. It
// stops at the first failure.
func (f *containerSet) grow(ctx context.Context, n int) error {
	if f.pods {
		return f.growPods(ctx, n)
	}
	have := f.len()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(startWorkers)
	for i := have; i < n; i++ {
		g.Go(func() error {
			args := []string{"sleep", "86400"}
			if i < f.busy {
				args = []string{"sh", "-c", busyScript}
			}
			id := testenv.RandomID()
			rctx, cancel := context.WithTimeout(gctx, runTimeout)
			defer cancel()
			_, err := f.d.Run(rctx, testenv.RunOptions{
				Namespace: namespace,
				ID:        id,
				Args:      args,
				Labels:    podLabels(fmt.Sprintf("overhead-%04d", i), "container", "app"),
			})
			if err != nil {
				return fmt.Errorf("container %d (%s): %w", i, id, err)
			}
			f.added(id, n)
			return nil
		})
	}
	return g.Wait()
}

// podPlan is one pod to start: how many app containers, and which of them
// run busyScript.
type podPlan struct {
	name string
	busy []bool // one per app container
}

// planPods plans pods holding `want` more containers, sandboxes included:
// pod i has 1 + i%3 app containers (so 1, 2, 3, 1, …), the last one fewer
// if the count says so. The first f.busy app containers ever planned are
// the busy ones.
func (f *containerSet) planPods(want int) []podPlan {
	var plan []podPlan
	for want > 0 {
		p := podPlan{name: fmt.Sprintf("overhead-%04d", f.nPods)}
		apps := min(1+f.nPods%3, want-1)
		for range apps {
			p.busy = append(p.busy, f.nApps < f.busy)
			f.nApps++
		}
		f.nPods++
		want -= 1 + apps
		plan = append(plan, p)
	}
	return plan
}

// growPods starts pods until n containers run: the sandbox first (sleep,
// as the pause container does nothing), then its app containers in its
// network namespace.
func (f *containerSet) growPods(ctx context.Context, n int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(startWorkers)
	for _, p := range f.planPods(n - f.len()) {
		g.Go(func() error {
			sandbox := testenv.RandomID()
			rctx, cancel := context.WithTimeout(gctx, runTimeout*time.Duration(1+len(p.busy)))
			defer cancel()
			pid, err := f.d.Run(rctx, testenv.RunOptions{
				Namespace: namespace,
				ID:        sandbox,
				Args:      []string{"sleep", "86400"},
				Labels:    podLabels(p.name, "sandbox", ""),
				Annotations: map[string]string{
					"io.kubernetes.cri.container-type": "sandbox",
				},
			})
			if err != nil {
				return fmt.Errorf("pod %s sandbox (%s): %w", p.name, sandbox, err)
			}
			f.added(sandbox, n)
			for k, busy := range p.busy {
				args := []string{"sleep", "86400"}
				if busy {
					args = []string{"sh", "-c", busyScript}
				}
				id := testenv.RandomID()
				_, err := f.d.Run(rctx, testenv.RunOptions{
					Namespace:    namespace,
					ID:           id,
					Args:         args,
					Labels:       podLabels(p.name, "container", fmt.Sprintf("app-%d", k)),
					NetNSFromPID: pid,
					Annotations: map[string]string{
						"io.kubernetes.cri.container-type": "container",
						"io.kubernetes.cri.sandbox-id":     sandbox,
					},
				})
				if err != nil {
					return fmt.Errorf("pod %s container %d (%s): %w", p.name, k, id, err)
				}
				f.added(id, n)
			}
			return nil
		})
	}
	return g.Wait()
}

// removeAll removes the containers in batches. testenv's Daemon.Remove
// polls the task list until the task has stopped, and containerd 1.6 asks
// every shim for its state to answer a task list (seconds with a thousand
// shims), so removing one by one would take hours. `ctr tasks delete
// --force` kills and waits per task instead, and both deletes take many ids;
// whatever is left afterwards goes through Remove.
func (f *containerSet) removeAll(ctx context.Context) error {
	f.mu.Lock()
	ids := f.ids
	f.ids = nil
	f.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	// Errors of a batch are expected (a task that never started has
	// nothing to delete); the listing below is what tells success.
	f.batches(ctx, ids, "tasks", "delete", "--force")
	f.batches(ctx, ids, "containers", "delete")

	out, err := f.d.Ctr(ctx, "-n", namespace, "containers", "ls", "-q")
	if err != nil {
		return fmt.Errorf("listing containers after removal: %w", err)
	}
	left := strings.Fields(out)
	if len(left) == 0 {
		return nil
	}
	fmt.Printf("    %d containers left, removing them one by one\n", len(left))
	var errs []error
	for _, id := range left {
		if err := f.d.Remove(ctx, namespace, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// batches runs `ctr -n <namespace> <args> <ids...>` over ids in batches,
// removeWorkers at a time.
func (f *containerSet) batches(ctx context.Context, ids []string, args ...string) {
	var g errgroup.Group
	g.SetLimit(removeWorkers)
	var done atomic.Int64
	for batch := range slices.Chunk(ids, removeBatch) {
		g.Go(func() error {
			argv := append(append([]string{"-n", namespace}, args...), batch...)
			if _, err := f.d.Ctr(ctx, argv...); err != nil && ctx.Err() == nil {
				fmt.Fprintf(os.Stderr, "overhead: cleanup: %.300v\n", err)
			}
			// Report every 200 and the end.
			if n := done.Add(int64(len(batch))); n/200 != (n-int64(len(batch)))/200 || int(n) == len(ids) {
				fmt.Printf("    %s %s: %d/%d\n", args[0], args[1], n, len(ids))
			}
			return nil
		})
	}
	g.Wait()
}
