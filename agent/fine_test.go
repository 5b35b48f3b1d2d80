package agent

import (
	"testing"
	"time"

	"github.com/fleetscope/fleetscope/model"
)

// Fine sampling picks containers whose samples are neither idle nor busy,
// at most the bound, measures their busy time from the fine readings and
// lets them go when their pattern is clear.
func TestFineSampling(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	s := &Sampler{}
	s.SetFine(10*time.Second, time.Second, 1, 0.01)
	a, b := &tracked{}, &tracked{}
	s.order = []*tracked{a, b}
	var cpuA, cpuB uint64
	work := func(sec int, bursty bool) uint64 {
		// 1 s of one core every 20 s, from second 3 of each 20.
		if bursty && sec%20 == 3 {
			return 1e9
		}
		return 0
	}
	var busyA []time.Duration
	for sec := 0; sec <= 300; sec++ {
		now := t0.Add(time.Duration(sec) * time.Second)
		idle := sec >= 200 // a stops working
		cpuA += work(sec, !idle)
		cpuB += work(sec, true)
		if sec%10 != 0 {
			for _, t := range s.fineSet {
				s.fineStep(&t.fineSt, now, map[*tracked]uint64{a: cpuA, b: cpuB}[t])
			}
			continue
		}
		for i, tr := range s.order {
			tr.cur.CPUUsageNanos = []uint64{cpuA, cpuB}[i]
			tr.use.step(now, tr.cur.CPUUsageNanos, 0, 0)
			tr.stepBusy()
			s.stepFine(tr, now)
			tr.fresh, tr.pos = true, i
		}
		s.chooseFine()
		if a.busy.from == model.BusyFromFine {
			busyA = append(busyA, a.busy.d)
		}
		if len(s.fineSet) > 1 {
			t.Fatalf("second %d: %d containers read finely, bound 1", sec, len(s.fineSet))
		}
		if sec == 150 && (len(s.fineSet) != 1 || s.fineSet[0] != a || s.FineInterval() != time.Second) {
			t.Fatalf("second 150: fine set %v, want a alone", s.fineSet)
		}
	}
	if len(s.fineSet) != 1 || s.fineSet[0] != b {
		t.Errorf("after a went idle: fine set %v, want b alone", s.fineSet)
	}
	var total time.Duration
	for _, d := range busyA {
		total += d
	}
	// a worked 1 s in each 20 s while read finely: at most 2 s of fine
	// readings per second of work.
	if len(busyA) < 10 || total == 0 || total > time.Duration(len(busyA))*time.Second {
		t.Errorf("a's busy time from fine readings: %v over %d samples", busyA, len(busyA))
	}
}

// A container busy at a low rate all the time (a poll every 200 ms) looks
// unclear by its samples, but its fine readings are busy throughout: it
// leaves fine sampling and rests before it may join again, so it is read
// finely for a small part of the time.
func TestFineSamplingLeavesSteadyWork(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	s := &Sampler{}
	s.SetFine(10*time.Second, time.Second, 8, 0.01)
	c := &tracked{}
	s.order = []*tracked{c}
	var cpu uint64
	fine, samples := 0, 0
	for sec := 0; sec <= 3600; sec++ {
		now := t0.Add(time.Duration(sec) * time.Second)
		cpu += 5e7 // 0.05 cores, every second
		if sec%10 != 0 {
			for _, tr := range s.fineSet {
				s.fineStep(&tr.fineSt, now, cpu)
			}
			continue
		}
		c.cur.CPUUsageNanos = cpu
		c.use.step(now, cpu, 0, 0)
		c.stepBusy()
		s.stepFine(c, now)
		c.fresh, c.pos = true, 0
		s.chooseFine()
		samples++
		if c.fineSt.member {
			fine++
		}
	}
	if share := float64(fine) / float64(samples); fine == 0 || share > 0.2 {
		t.Errorf("read finely in %d of %d samples (%.0f %%), want some and at most a fifth", fine, samples, share*100)
	}
}
