package main

// The floor process: the least any sampler of these containers can cost.
// It reads exactly the files the agent reads, through the agent's own
// collectors and with kept-open descriptors, at the agent's interval, and
// does nothing else: no parsing, no history, no analysis, no export beyond a
// few counters. The agent's CPU divided by the floor's is what the agent
// adds on top of the kernel's work of rendering the files.
//
// It is this command run again (os.Executable) with floorArg as its first
// argument, so it needs no binary of its own and is measured like any other
// subject.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/types/task"

	"github.com/fleetscope/fleetscope/collectors/cgroups"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/collectors/netstat"
)

// floorArg, as the first argument, runs the floor process instead of the
// measurement. It is not a flag of the measurement, so -h does not show it.
const floorArg = "-floor-process"

// The agent's cadences, which the floor follows: limits and net/snmp once a
// minute, listening sockets and a full re-list of containers every five
// minutes.
const (
	floorLimitsEvery = time.Minute
	floorSNMPEvery   = time.Minute
	floorListenEvery = 5 * time.Minute
	floorRelistEvery = 5 * time.Minute
)

func floorSubject(self string, o options) *subject {
	return &subject{
		name: "floor",
		path: "/metrics",
		// It exports the agent's tracked-containers gauge, so the same
		// check tells when it has found every container.
		seen: fleetscopeSeen,
		command: func(_, addr, socket string, interval time.Duration) ([]string, error) {
			return []string{self, floorArg,
				"-socket", socket, "-namespace", namespace, "-listen", addr,
				"-interval", interval.String(), "-proc", o.procRoot, "-cgroup-root", o.cgroupRoot,
			}, nil
		},
	}
}

// floorMain runs the floor process until SIGTERM or SIGINT.
func floorMain(args []string) error {
	fl := flag.NewFlagSet("floor", flag.ContinueOnError)
	socket := fl.String("socket", "", "containerd socket")
	ns := fl.String("namespace", namespace, "containerd namespace")
	listen := fl.String("listen", "127.0.0.1:0", "address of /metrics")
	interval := fl.Duration("interval", 10*time.Second, "sample interval")
	procRoot := fl.String("proc", "/proc", "procfs mount point")
	cgroupRoot := fl.String("cgroup-root", "/sys/fs/cgroup", "cgroupfs mount point")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *socket == "" || *interval <= 0 {
		return errors.New("floor: -socket and a positive -interval are required")
	}
	host, err := cgroups.Detect(*cgroupRoot)
	if err != nil {
		return err
	}
	api, err := containerd.Dial(*socket, 10*time.Second)
	if err != nil {
		return err
	}
	defer api.Close()
	f := newFloor(host, *procRoot)
	defer f.close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(f.serveMetrics), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return f.run(ctx, api, *ns, *interval)
}

// floor holds one kept-open cgroup Handle per running container and one
// netstat Reader per network namespace other than the host's, as the
// agent's sampler does.
type floor struct {
	host     *cgroups.Host
	procRoot string
	hostNet  uint64

	conts map[string]*floorContainer // by container id
	nets  map[uint64]*floorNet       // by namespace inode

	tracked, ticks, bytes, errs atomic.Int64
}

type floorContainer struct {
	pid      uint32
	h        *cgroups.Handle
	netns    uint64
	limitsAt time.Time
}

type floorNet struct {
	r         *netstat.Reader
	snmpAt    time.Time
	listenDue time.Time
}

func newFloor(host *cgroups.Host, procRoot string) *floor {
	f := &floor{host: host, procRoot: procRoot,
		conts: map[string]*floorContainer{}, nets: map[uint64]*floorNet{}}
	if id, err := netstat.NamespaceID(procRoot, 1); err == nil {
		f.hostNet = id
	}
	return f
}

func (f *floor) run(ctx context.Context, api containerd.API, ns string, interval time.Duration) error {
	var listedAt time.Time
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		now := time.Now()
		if listedAt.IsZero() || now.Sub(listedAt) >= floorRelistEvery {
			if tasks, err := api.Tasks(ctx, ns); err == nil {
				f.sync(tasks)
				listedAt = now
			} else if ctx.Err() == nil {
				f.errs.Add(1)
				fmt.Fprintln(os.Stderr, "floor: listing tasks:", err)
			}
		}
		f.tick(now)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sync opens the cgroups of new running tasks, closes those of tasks that
// are gone, and groups the containers by network namespace, reading each
// namespace through one of its processes.
func (f *floor) sync(tasks []*task.Process) {
	live := map[string]bool{}
	for _, tk := range tasks {
		if tk.GetStatus() != task.Status_RUNNING || tk.GetPid() == 0 {
			continue
		}
		id, pid := tk.GetID(), tk.GetPid()
		live[id] = true
		if c := f.conts[id]; c != nil && c.pid == pid {
			continue
		}
		f.drop(id)
		paths, err := cgroups.ProcessPaths(f.procRoot, pid)
		if err != nil {
			f.note(err)
			continue
		}
		h, err := f.host.Open(paths, cgroups.Options{KeepOpen: true})
		if err != nil {
			f.note(err)
			continue
		}
		c := &floorContainer{pid: pid, h: h}
		if id, err := netstat.NamespaceID(f.procRoot, int(pid)); err == nil {
			c.netns = id
		}
		f.conts[id] = c
	}
	for id := range f.conts {
		if !live[id] {
			f.drop(id)
		}
	}
	f.syncNets()
}

func (f *floor) drop(id string) {
	if c := f.conts[id]; c != nil {
		c.h.Close()
		delete(f.conts, id)
	}
}

func (f *floor) syncNets() {
	owner := map[uint64]uint32{}
	for _, c := range f.conts {
		if c.netns != 0 && c.netns != f.hostNet {
			if _, ok := owner[c.netns]; !ok {
				owner[c.netns] = c.pid
			}
		}
	}
	for id, n := range f.nets {
		if _, ok := owner[id]; !ok {
			n.r.Close()
			delete(f.nets, id)
		}
	}
	for id, pid := range owner {
		if f.nets[id] != nil {
			continue
		}
		r, err := netstat.NewReader(f.procRoot, int(pid), true)
		if err != nil {
			f.note(err)
			continue
		}
		f.nets[id] = &floorNet{r: r}
	}
	f.tracked.Store(int64(len(f.conts)))
}

// tick reads every file once, as one tick of the agent does.
func (f *floor) tick(now time.Time) {
	total := 0
	for id, c := range f.conts {
		n, err := c.h.ReadRaw()
		total += n
		if err == nil && now.Sub(c.limitsAt) >= floorLimitsEvery {
			n, err = c.h.ReadLimitsRaw()
			total += n
			c.limitsAt = now
		}
		if err != nil {
			f.note(err)
			f.drop(id)
		}
	}
	for id, n := range f.nets {
		snmp := now.Sub(n.snmpAt) >= floorSNMPEvery
		// Listening sockets as the agent looks for them: at once, then
		// a random part of the interval early, then every interval.
		listen := !now.Before(n.listenDue)
		if listen {
			next := floorListenEvery
			if n.listenDue.IsZero() {
				next -= rand.N(floorListenEvery / 2)
			}
			n.listenDue = now.Add(next)
		}
		b, err := n.r.ReadRaw(snmp, listen)
		total += b
		if err != nil {
			f.note(err)
			n.r.Close()
			delete(f.nets, id)
			continue
		}
		if snmp {
			n.snmpAt = now
		}
	}
	f.tracked.Store(int64(len(f.conts)))
	f.ticks.Add(1)
	f.bytes.Add(int64(total))
}

// note counts an error; a container that exited is not one.
func (f *floor) note(err error) {
	if !errors.Is(err, fs.ErrNotExist) {
		f.errs.Add(1)
		fmt.Fprintln(os.Stderr, "floor:", err)
	}
}

func (f *floor) close() {
	for id := range f.conts {
		f.drop(id)
	}
	for id, n := range f.nets {
		n.r.Close()
		delete(f.nets, id)
	}
}

// serveMetrics writes the few counters the measurement reads. The tracked
// gauge has the agent's name, so fleetscopeSeen reads it.
func (f *floor) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "fleetscope_containers_tracked{state=\"running\"} %d\n", f.tracked.Load())
	fmt.Fprintf(w, "floor_ticks_total %d\n", f.ticks.Load())
	fmt.Fprintf(w, "floor_read_bytes_total %d\n", f.bytes.Load())
	fmt.Fprintf(w, "floor_errors_total %d\n", f.errs.Load())
}
