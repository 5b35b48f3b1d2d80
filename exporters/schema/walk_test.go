package schema

import (
	"fmt"
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/model"
)

// countSink counts what a walk emits, per metric and per pod name.
type countSink struct {
	perMetric map[string]int
	perPod    map[string]map[string]int // pod name → metric → series
	values    map[string]float64        // metric|pod|attrs → value
}

func newCountSink() *countSink {
	return &countSink{perMetric: map[string]int{}, perPod: map[string]map[string]int{}, values: map[string]float64{}}
}

func (c *countSink) Point(m *Metric, v float64, meta *model.Meta, attrs []string) {
	c.perMetric[m.Name]++
	pod := ""
	if meta != nil {
		pod = meta.Pod.Name
	}
	if c.perPod[pod] == nil {
		c.perPod[pod] = map[string]int{}
	}
	c.perPod[pod][m.Name]++
	c.values[fmt.Sprint(m.Name, "|", pod, "|", attrs)] = v
}

func (c *countSink) Histogram(m *Metric, h *model.Histogram, _ time.Time, attrs []string) {
	c.perMetric[m.Name]++
	c.values[fmt.Sprint(m.Name, "||", attrs)] = float64(h.Count())
}

// floodSnapshot has pods with one interface each (victims), and one pod
// whose namespace lists n interfaces: more than any collector keeps, as a
// snapshot from elsewhere might, to test the walk's own bound.
func floodSnapshot(victims, n int) *model.Snapshot {
	s := &model.Snapshot{}
	add := func(name string, ifs []model.Interface) {
		meta := &model.Meta{Namespace: "k8s.io", ID: "id-" + name, Name: "POD", Sandbox: true,
			Pod: model.Pod{Name: name, Namespace: "tenant", UID: "uid-" + name}}
		s.Containers = append(s.Containers, model.Container{Meta: meta, Running: true, Network: len(s.Networks)})
		s.Networks = append(s.Networks, model.Network{Owner: len(s.Containers) - 1, Interfaces: ifs})
	}
	ifs := make([]model.Interface, n)
	for i := range ifs {
		ifs[i] = model.Interface{Name: fmt.Sprintf("fl%d", i), RxBytes: uint64(i)}
	}
	add("flood", ifs)
	for i := range victims {
		add(fmt.Sprintf("victim-%d", i), []model.Interface{{Name: "eth0", RxBytes: 100, TxBytes: 200}})
	}
	return s
}

// One pod's flood of series cannot push another pod's series out of a
// metric's cap, whatever the order of the walk: every victim keeps all
// its series, the flood takes what is left and the rest is counted.
func TestWalkerSharesTheCapPerPod(t *testing.T) {
	const maxSeries = 1000
	for _, victims := range []int{1, 10, 99} {
		s := floodSnapshot(victims, 10000)
		for _, reverse := range []bool{false, true} {
			if reverse {
				// The flood walked last rather than first.
				s.Networks = append(s.Networks[1:], s.Networks[0])
			}
			w := Walker{MaxSeries: maxSeries}
			c := newCountSink()
			w.Walk(s, c)
			for i := range victims {
				pod := fmt.Sprintf("victim-%d", i)
				for _, m := range []*Metric{&NetworkIO, &NetworkPackets, &NetworkErrors, &NetworkDropped} {
					if got := c.perPod[pod][m.Name]; got != 2 {
						t.Fatalf("%d victims, reverse %v: %s has %d series of %s, want 2", victims, reverse, pod, got, m.Name)
					}
				}
			}
			for _, m := range []*Metric{&NetworkIO, &NetworkPackets, &NetworkErrors, &NetworkDropped} {
				if got := c.perMetric[m.Name]; got != maxSeries {
					t.Errorf("%d victims, reverse %v: %d series of %s, want the cap %d used whole", victims, reverse, got, m.Name, maxSeries)
				}
				dropped := c.values[fmt.Sprint(DroppedSeries.Name, "||", []string{m.Name})]
				if want := float64(20000 + 2*victims - maxSeries); dropped != want {
					t.Errorf("%d victims, reverse %v: %v %s series counted dropped, want %v", victims, reverse, dropped, m.Name, want)
				}
			}
		}
	}
}

// Containers share a container metric's cap the same way.
func TestWalkerSharesTheCapPerContainer(t *testing.T) {
	s := &model.Snapshot{}
	for i := range 50 {
		meta := &model.Meta{Namespace: "k8s.io", ID: fmt.Sprintf("c%02d", i), Pod: model.Pod{Name: fmt.Sprintf("p%02d", i), Namespace: "ns"}}
		s.Containers = append(s.Containers, model.Container{Meta: meta, Network: -1})
	}
	w := Walker{MaxSeries: 10}
	c := newCountSink()
	w.Walk(s, c)
	if got := c.perMetric[ContainerInfo.Name]; got != 10 {
		t.Errorf("%d info series, want the cap, 10", got)
	}
	if got := c.values[fmt.Sprint(DroppedSeries.Name, "||", []string{ContainerInfo.Name})]; got != 40 {
		t.Errorf("%v info series counted dropped, want 40", got)
	}
}

// The interfaces a collector left out appear as one summed interface and
// a count.
func TestWalkerOtherInterfaces(t *testing.T) {
	s := floodSnapshot(0, 2)
	s.Networks[0].Others = model.Interface{RxBytes: 7, TxBytes: 9, RxPackets: 1}
	s.Networks[0].OtherInterfaces = 4998
	c := newCountSink()
	(&Walker{MaxSeries: 100}).Walk(s, c)
	if got := c.values[fmt.Sprint(NetworkInterfacesDropped.Name, "|flood|[]")]; got != 4998 {
		t.Errorf("interfaces dropped = %v, want 4998", got)
	}
	if got := c.values[fmt.Sprint(NetworkIO.Name, "|flood|", []string{"transmit", OtherInterfaces})]; got != 9 {
		t.Errorf("other interfaces' transmitted bytes = %v, want 9", got)
	}
	if got := c.perPod["flood"][NetworkIO.Name]; got != 6 {
		t.Errorf("%d network io series, want 6 (two interfaces and the others)", got)
	}

	// Without interfaces left out, neither.
	s.Networks[0].OtherInterfaces = 0
	c = newCountSink()
	(&Walker{MaxSeries: 100}).Walk(s, c)
	if n := c.perPod["flood"][NetworkInterfacesDropped.Name]; n != 0 || c.perPod["flood"][NetworkIO.Name] != 4 {
		t.Errorf("with every interface kept: %d dropped-interfaces series, %d io series", n, c.perPod["flood"][NetworkIO.Name])
	}
}

type nopSink struct{}

func (nopSink) Point(*Metric, float64, *model.Meta, []string) {}

func (nopSink) Histogram(*Metric, *model.Histogram, time.Time, []string) {}

// Walking a flood again allocates nothing.
func TestWalkerFloodAllocs(t *testing.T) {
	s := floodSnapshot(100, 10000)
	w := Walker{MaxSeries: 20000}
	w.Walk(s, nopSink{})
	if n := testing.AllocsPerRun(10, func() { w.Walk(s, nopSink{}) }); n != 0 {
		t.Errorf("Walk: %v allocations, want 0", n)
	}
}
