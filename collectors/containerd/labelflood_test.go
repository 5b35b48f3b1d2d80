package containerd

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	apievents "github.com/containerd/containerd/api/events"
	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// floodLabels are n labels of about 4 KiB each (containerd's bound on a
// label), none of which the agent needs.
func floodLabels(n int) map[string]string {
	l := make(map[string]string, n)
	v := strings.Repeat("v", 4000)
	for i := range n {
		l[fmt.Sprintf("flood.example.com/%05d", i)] = v
	}
	return l
}

func TestLabelPolicy(t *testing.T) {
	p := NewLabelPolicy(NewLabelFilter([]string{"app", "team.example.com/*"}), "com.docker.compose.service")
	in := map[string]string{
		LabelPodName:                   "web-1",
		LabelCRIKind:                   "sandbox",
		labelPodTemplateHash:           "5d8c",
		"com.docker.compose.service":   "db",
		"fleetscope.io/idle-cpu-cores": "0.5",
		"app":                          "shop",
		"team.example.com/owner":       "payments",
		"application":                  "not allow-listed",
		"secret":                       "hunter2",
	}
	got, cut := p.apply(in)
	want := maps.Clone(in)
	delete(want, "application")
	delete(want, "secret")
	if !maps.Equal(got, want) || cut != 0 {
		t.Fatalf("kept %v (cut %d), want %v", got, cut, want)
	}
	// Without a policy (or an allow-list) only what the agent reads is kept.
	got, _ = (*LabelPolicy)(nil).apply(in)
	if _, ok := got["app"]; ok || got[LabelPodName] != "web-1" || got["fleetscope.io/idle-cpu-cores"] != "0.5" {
		t.Fatalf("default policy kept %v", got)
	}
	if got, cut := p.apply(nil); got != nil || cut != 0 {
		t.Fatalf("no labels: %v, %d", got, cut)
	}
}

func TestLabelPolicyBounds(t *testing.T) {
	p := NewLabelPolicy(NewLabelFilter([]string{"*"}), "")
	in := floodLabels(3500)
	in[LabelPodName] = "web-1"
	in[strings.Repeat("k", MaxLabelKey+1)] = "long key"
	got, cut := p.apply(in)

	if got[LabelPodName] != "web-1" {
		t.Errorf("a label the agent reads was dropped among a flood")
	}
	// The first labels in key order, within the count and byte bounds.
	size, n := 0, 0
	for k, v := range got {
		if k == LabelPodName {
			continue
		}
		n++
		size += len(k) + len(v)
		if len(v) > MaxLabelValue || !strings.HasSuffix(v, labelCutMarker) {
			t.Errorf("value of %s: %d bytes, want cut to %d with the marker", k, len(v), MaxLabelValue)
		}
	}
	if n == 0 || n > MaxLabels || size > MaxLabelBytes {
		t.Errorf("kept %d optional labels of %d bytes; bounds %d and %d", n, size, MaxLabels, MaxLabelBytes)
	}
	for i := range n {
		if _, ok := got[fmt.Sprintf("flood.example.com/%05d", i)]; !ok {
			t.Errorf("label %d missing: not the first %d in key order", i, n)
		}
	}
	if cut < 3500-n {
		t.Errorf("cut = %d, want at least %d", cut, 3500-n)
	}
	// Applying the policy again keeps the same labels.
	again, _ := p.apply(got)
	if !maps.Equal(again, got) {
		t.Error("the policy is not idempotent")
	}
}

func TestCutValueKeepsCharacters(t *testing.T) {
	for _, v := range []string{strings.Repeat("é", MaxLabelValue), strings.Repeat("x", MaxLabelValue) + "y", strings.Repeat("€", 2*MaxLabelValue)} {
		got := cutValue([]byte(v))
		if len(got) > MaxLabelValue || !utf8.Valid(got) || !bytes.HasSuffix(got, []byte(labelCutMarker)) {
			t.Errorf("cutValue(%d bytes of %q) = %d bytes, valid %v", len(v), v[:3], len(got), utf8.Valid(got))
		}
	}
}

// fullRecord is a container record with every field discovery reads.
func fullRecord(labels map[string]string) *containersapi.Container {
	return &containersapi.Container{
		ID:          "abc",
		Labels:      labels,
		Image:       "docker.io/library/busybox:latest",
		Runtime:     &containersapi.Container_Runtime{Name: "io.containerd.runc.v2", Options: &anypb.Any{TypeUrl: "x", Value: []byte("opts")}},
		Spec:        &anypb.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", Value: []byte(`{"linux":{"cgroupsPath":"/k8s.io/abc"}}`)},
		Snapshotter: "overlayfs",
		SnapshotKey: "abc-key",
		CreatedAt:   timestamppb.New(time.Unix(100, 5)),
		UpdatedAt:   timestamppb.New(time.Unix(-200, 999999999)),
		Extensions:  map[string]*anypb.Any{"ext": {TypeUrl: "y", Value: bytes.Repeat([]byte("e"), 10000)}},
		Sandbox:     "sb",
	}
}

func decodeBytes(t testing.TB, p *LabelPolicy, b []byte) (recordBatch, error) {
	t.Helper()
	batch := recordBatch{policy: p}
	err := batch.decode(&byteWireReader{b: b})
	return batch, err
}

// The wire decoder reads what the generated code reads, from a stream
// message and from a whole list.
func TestDecodeRecordLikeProto(t *testing.T) {
	c := fullRecord(map[string]string{LabelPodName: "web", "other": "x"})
	want := Record{ID: "abc", Labels: map[string]string{LabelPodName: "web"}, Image: c.Image, Runtime: "io.containerd.runc.v2",
		Spec: c.Spec.Value, Snapshotter: "overlayfs", SnapshotKey: "abc-key", SandboxID: "sb",
		CreatedAt: time.Unix(100, 5).UTC(), UpdatedAt: time.Unix(-200, 999999999).UTC()}
	one, err := proto.Marshal(&containersapi.ListContainerMessage{Container: c})
	if err != nil {
		t.Fatal(err)
	}
	all, err := proto.Marshal(&containersapi.ListContainersResponse{Containers: []*containersapi.Container{c, {ID: "plain"}, c}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(r Record) {
		t.Helper()
		if r.ID != want.ID || !maps.Equal(r.Labels, want.Labels) || r.Image != want.Image || r.Runtime != want.Runtime ||
			!bytes.Equal(r.Spec, want.Spec) || r.Snapshotter != want.Snapshotter || r.SnapshotKey != want.SnapshotKey ||
			r.SandboxID != want.SandboxID || !r.CreatedAt.Equal(want.CreatedAt) || !r.UpdatedAt.Equal(want.UpdatedAt) || r.LabelsCut != 0 {
			t.Errorf("record = %+v\nwant     %+v", r, want)
		}
	}
	b, err := decodeBytes(t, nil, one)
	if err != nil || len(b.recs) != 1 {
		t.Fatalf("stream message: %d records, %v", len(b.recs), err)
	}
	check(b.recs[0])
	b, err = decodeBytes(t, nil, all)
	if err != nil || len(b.recs) != 3 {
		t.Fatalf("list: %d records, %v", len(b.recs), err)
	}
	check(b.recs[0])
	check(b.recs[2])
	if p := b.recs[1]; p.ID != "plain" || p.Labels != nil || p.Spec != nil || !p.CreatedAt.IsZero() {
		t.Errorf("record without fields = %+v", p)
	}
	// Truncated messages are errors, never a panic or a partial record.
	for i := range len(one) - 1 {
		if b, err := decodeBytes(t, nil, one[:i]); err == nil && len(b.recs) > 0 {
			t.Fatalf("a message cut to %d of %d bytes decoded as %+v", i, len(one), b.recs)
		}
	}
}

// A record carrying 3,500 labels of 4 KiB (14 MB, as containerd accepts)
// decodes without copying them: the labels not kept cost no memory.
func TestDecodeLabelFloodCopiesNothing(t *testing.T) {
	labels := floodLabels(3500)
	labels[LabelPodName] = "web"
	msg, err := proto.Marshal(&containersapi.ListContainerMessage{Container: fullRecord(labels)})
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b, err := decodeBytes(t, NewLabelPolicy(nil, ""), msg)
	runtime.ReadMemStats(&after)
	if err != nil || len(b.recs) != 1 {
		t.Fatal(len(b.recs), err)
	}
	if got := b.recs[0].Labels; !maps.Equal(got, map[string]string{LabelPodName: "web"}) {
		t.Fatalf("labels = %d", len(got))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<10 {
		t.Errorf("decoding a %d-byte record allocated %d bytes", len(msg), alloc)
	}
	if b.size > 4<<10 {
		t.Errorf("record counted as %d bytes", b.size)
	}

	// Allow-listed, they are bounded.
	b, err = decodeBytes(t, NewLabelPolicy(NewLabelFilter([]string{"flood.example.com/*"}), ""), msg)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.recs[0]; len(r.Labels) > MaxLabels+1 || r.LabelsCut < 3500-MaxLabels {
		t.Errorf("allow-listed flood: kept %d, cut %d", len(r.Labels), r.LabelsCut)
	}
}

// Through gRPC: eight containers of 14 MB of labels each list in one
// stream, and what comes back is small.
func TestAPIContainersLabelFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 115 MB through gRPC")
	}
	socket := filepath.Join(t.TempDir(), "containerd.sock")
	d := newDaemon(t)
	labels := floodLabels(3500)
	labels[LabelPodName] = "web"
	labels["app"] = "shop"
	for i := range 8 {
		c := fullRecord(labels)
		c.ID = fmt.Sprintf("flood-%d", i)
		d.recs["flood"] = append(d.recs["flood"], c)
	}
	d.serve(t, socket)
	api, err := Dial(socket, 30*time.Second, WithLabelPolicy(NewLabelPolicy(NewLabelFilter([]string{"app"}), "")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	go func() {
		for range d.filters {
		}
	}()
	t.Cleanup(func() { close(d.filters) })
	recs, err := api.Containers(context.Background(), "flood")
	if err != nil || len(recs) != 8 {
		t.Fatalf("Containers = %d records, %v", len(recs), err)
	}
	for _, r := range recs {
		if !maps.Equal(r.Labels, map[string]string{LabelPodName: "web", "app": "shop"}) {
			t.Fatalf("%s: kept %d labels", r.ID, len(r.Labels))
		}
	}
}

// capture is a slog handler that records messages.
type capture struct {
	mu   sync.Mutex
	msgs []string
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, r.Message)
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }

func (c *capture) count(sub string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// Discovery holds containers to the policy whatever the API returns,
// takes only the id from a container event (an update carries every
// label) and logs a container with cut labels once.
func TestDiscoveryBoundsLabels(t *testing.T) {
	f := newFakeAPI()
	flood := floodLabels(200)
	for k := range flood {
		flood["fleetscope.io/"+k] = "0.5"
	}
	flood[LabelPodName] = "web"
	f.add("k8s.io", "a", flood, "", 1)
	log := &capture{}
	d := start(t, f, Options{Logger: slog.New(log)})
	waitFor(t, "container a", func() bool { return get(d, "k8s.io", "a") != nil })
	c := get(d, "k8s.io", "a")
	if len(c.Labels) != MaxLabels+1 || c.Labels[LabelPodName] != "web" {
		t.Fatalf("kept %d labels", len(c.Labels))
	}
	if d.LabelsCut() != 1 || log.count("labels over the bounds") != 1 {
		t.Fatalf("LabelsCut = %d, logged %d times", d.LabelsCut(), log.count("labels over the bounds"))
	}
	// Updates re-read the record; the event's labels are not needed.
	for range 3 {
		f.send(t, "k8s.io", &apievents.ContainerUpdate{ID: "a", Labels: flood})
	}
	waitFor(t, "the updates", func() bool { return d.LabelsCut() == 4 })
	if n := log.count("labels over the bounds"); n != 1 {
		t.Errorf("logged %d times, want once per container", n)
	}
}

// FuzzDecodeRecords checks the wire decoder against the generated code:
// whatever both accept, they read alike.
func FuzzDecodeRecords(f *testing.F) {
	for _, c := range []*containersapi.Container{fullRecord(map[string]string{LabelPodName: "web", "x": "y"}), {ID: "plain"}} {
		b, err := proto.Marshal(&containersapi.ListContainersResponse{Containers: []*containersapi.Container{c}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	p := NewLabelPolicy(NewLabelFilter([]string{"*"}), "")
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeBytes(t, p, b)
		var want containersapi.ListContainersResponse
		if err != nil || proto.Unmarshal(b, &want) != nil {
			return
		}
		if len(got.recs) != len(want.Containers) {
			t.Fatalf("%d records, the generated code %d", len(got.recs), len(want.Containers))
		}
		for i, c := range want.Containers {
			r := got.recs[i]
			labels, _ := p.apply(c.GetLabels())
			if r.ID != c.GetID() || r.Image != c.GetImage() || r.Runtime != c.GetRuntime().GetName() || r.SandboxID != c.GetSandbox() ||
				!maps.Equal(r.Labels, labels) || !bytes.Equal(r.Spec, c.GetSpec().GetValue()) {
				t.Fatalf("record %d = %+v, generated %v", i, r, c)
			}
		}
	})
}

// A container whose record keeps changing is logged once, across re-lists.
func TestDiscoveryLogsCutLabelsOnce(t *testing.T) {
	f := newFakeAPI()
	flood := map[string]string{LabelPodName: "web"}
	for i := range 100 {
		flood[fmt.Sprintf("fleetscope.io/x%03d", i)] = "1"
	}
	f.add("k8s.io", "a", flood, "", 1)
	log := &capture{}
	d := start(t, f, Options{Logger: slog.New(log), RelistInterval: 10 * time.Millisecond})
	for i := range 5 {
		waitFor(t, "a re-list", func() bool { return d.LabelsCut() == uint64(i+1) })
		f.mu.Lock()
		f.recs["k8s.io"][0].UpdatedAt = time.Unix(int64(i+2), 0)
		f.mu.Unlock()
	}
	if n := log.count("labels over the bounds"); n != 1 {
		t.Errorf("logged %d times, want once", n)
	}
}

// An update event carries the container's whole label set: it is reduced
// to the container's id while decoded, copying none of the labels; other
// events pass whole.
func TestDecodeEventKeepsOnlyTheID(t *testing.T) {
	encode := func(ev any) []byte {
		t.Helper()
		a, err := typeurl.MarshalAny(ev)
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(&types.Envelope{Timestamp: timestamppb.New(time.Unix(300, 0)), Namespace: "k8s.io", Topic: "/x",
			Event: &anypb.Any{TypeUrl: a.GetTypeUrl(), Value: a.GetValue()}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	big := encode(&apievents.ContainerUpdate{ID: "abc", Image: "img", Labels: floodLabels(3500)})
	var m envelopeMsg
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := m.decode(&byteWireReader{b: big})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
		t.Errorf("decoding a %d-byte event allocated %d bytes", len(big), alloc)
	}
	if m.env.Namespace != "k8s.io" || m.env.Topic != "/x" || !m.env.Timestamp.Equal(time.Unix(300, 0)) {
		t.Errorf("envelope = %+v", m.env)
	}
	ev, err := typeurl.UnmarshalAny(m.env.Event)
	if u, ok := ev.(*apievents.ContainerUpdate); err != nil || !ok || u.ID != "abc" || len(u.Labels) != 0 || u.Image != "" {
		t.Fatalf("event = %v, %v", ev, err)
	}
	if id, err := eventContainerID(m.env.Event.GetValue()); err != nil || id != "abc" {
		t.Errorf("id = %q, %v", id, err)
	}

	exit := &apievents.TaskExit{ContainerID: "abc", ID: "abc", Pid: 7, ExitStatus: 3}
	if err := m.decode(&byteWireReader{b: encode(exit)}); err != nil {
		t.Fatal(err)
	}
	ev, err = typeurl.UnmarshalAny(m.env.Event)
	if e, ok := ev.(*apievents.TaskExit); err != nil || !ok || !proto.Equal(e, exit) {
		t.Fatalf("task event = %v, %v", ev, err)
	}
	// Cut anywhere, an event is an error, never a panic.
	b := encode(exit)
	for i := range len(b) - 1 {
		var m envelopeMsg
		m.decode(&byteWireReader{b: b[:i]})
	}
}

// One record larger than containerd's message bound (labels added by
// several updates can make one) fails the namespace's list; discovery then
// lists the containers with a task one by one, and only that one is left
// out.
func TestDiscoveryListsAroundAnOversizedRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 17 MB through gRPC")
	}
	socket := filepath.Join(t.TempDir(), "containerd.sock")
	d := newDaemon(t)
	d.recs = map[string][]*containersapi.Container{"big": {
		{ID: "huge", Labels: map[string]string{"x": strings.Repeat("x", maxRecvMessage)}},
		{ID: "ok", Labels: map[string]string{LabelPodName: "web"}},
	}}
	d.serve(t, socket)
	go func() {
		for range d.filters {
		}
	}()
	t.Cleanup(func() { close(d.filters) })
	api, err := Dial(socket, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	log := &capture{}
	disc := New(api, Options{Namespaces: []string{"big"}, Logger: slog.New(log), MaxBackoff: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { disc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the container beside the oversized one", func() bool { return get(disc, "big", "ok") != nil })
	if get(disc, "big", "huge") != nil || disc.Errors() == 0 || log.count("listed the containers with a task one by one") == 0 {
		t.Errorf("huge listed %v, %d errors, %d warnings", get(disc, "big", "huge") != nil, disc.Errors(), log.count("one by one"))
	}
	if c := get(disc, "big", "ok"); c.Pod.Name != "web" || c.Pid != 7 {
		t.Errorf("container = %+v", c)
	}
}
