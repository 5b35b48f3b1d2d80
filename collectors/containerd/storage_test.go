package containerd

import (
	"context"
	"sync"
	"testing"
	"time"
)

// sizesAPI answers SnapshotUsage from a table and counts the calls.
type sizesAPI struct {
	*fakeAPI
	mu    sync.Mutex
	size  map[string]int64 // by snapshot key
	calls map[string]int
}

func (a *sizesAPI) SnapshotUsage(_ context.Context, _, _, key string) (Usage, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[key]++
	return Usage{Size: a.size[key], Inodes: 1}, nil
}

func TestStorageBacksOffUnchangedLayers(t *testing.T) {
	api := &sizesAPI{fakeAPI: newFakeAPI(), size: map[string]int64{"quiet": 100, "busy": 100}, calls: map[string]int{}}
	s := NewStorage(api, nil, time.Minute, 5*time.Second, nil)
	cs := []*Container{
		{Namespace: "ns", ID: "q", Snapshotter: "overlayfs", SnapshotKey: "quiet"},
		{Namespace: "ns", ID: "b", Snapshotter: "overlayfs", SnapshotKey: "busy"},
	}
	t0 := time.Unix(1_700_000_000, 0)
	var rounds []int // quiet's calls after each round
	for r := range 12 {
		// Rounds drift by a few seconds, as a ticker under load does.
		now := t0.Add(time.Duration(r)*time.Minute + time.Duration(r%3)*time.Second)
		api.size["busy"] += 4096
		s.round(context.Background(), cs, func() time.Time { return now })
		rounds = append(rounds, api.calls["quiet"])
		if u, ok := s.Usage("ns", "b"); !ok || u.Bytes != api.size["busy"] {
			t.Fatalf("round %d: busy layer %+v, want %d bytes", r, u, api.size["busy"])
		}
	}
	if api.calls["busy"] != 12 {
		t.Errorf("a growing layer was measured %d times in 12 rounds, want every round", api.calls["busy"])
	}
	// Measured at rounds 0 and 1 (unchanged once), 3 (twice), then every 4th.
	want := []int{1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5}
	for i := range want {
		if rounds[i] != want[i] {
			t.Fatalf("quiet layer's calls by round = %v, want %v", rounds, want)
		}
	}
	if u, _ := s.Usage("ns", "q"); u.Bytes != 100 || !u.At.Equal(t0.Add(11*time.Minute+2*time.Second)) {
		t.Errorf("quiet layer %+v: want 100 bytes measured at the last due round", u)
	}

	// A change, seen at the next due round, brings it back to every round.
	before := api.calls["quiet"]
	api.size["quiet"] = 200
	now := t0.Add(15 * time.Minute)
	s.round(context.Background(), cs, func() time.Time { return now })
	api.size["quiet"] = 300
	now = now.Add(time.Minute)
	s.round(context.Background(), cs, func() time.Time { return now })
	if got := api.calls["quiet"] - before; got != 2 {
		t.Errorf("a changed layer was measured %d times in the next two rounds, want 2", got)
	}
	if u, _ := s.Usage("ns", "q"); u.Bytes != 300 {
		t.Errorf("changed quiet layer reads %d bytes, want 300", u.Bytes)
	}
}

// slowAPI answers SnapshotUsage after a pause and records how many calls
// were in flight at once.
type slowAPI struct {
	*fakeAPI
	mu            sync.Mutex
	inFlight, max int
}

func (a *slowAPI) SnapshotUsage(ctx context.Context, _, _, _ string) (Usage, error) {
	a.mu.Lock()
	a.inFlight++
	a.max = max(a.max, a.inFlight)
	a.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	a.mu.Lock()
	a.inFlight--
	a.mu.Unlock()
	return Usage{Size: 1}, nil
}

func TestStorageRoundBoundsCallsInFlight(t *testing.T) {
	api := &slowAPI{fakeAPI: newFakeAPI()}
	s := NewStorage(api, nil, time.Minute, 5*time.Second, nil)
	var cs []*Container
	for i := range 20 {
		cs = append(cs, &Container{Namespace: "ns", ID: string(rune('a' + i)), Snapshotter: "overlayfs", SnapshotKey: string(rune('a' + i))})
	}
	s.Round(context.Background(), cs)
	if api.max != storageConcurrency {
		t.Errorf("%d calls in flight at most, want %d", api.max, storageConcurrency)
	}
	for _, c := range cs {
		if u, ok := s.Usage("ns", c.ID); !ok || u.Bytes != 1 {
			t.Errorf("container %s: usage %+v, %v after the round", c.ID, u, ok)
		}
	}
}
