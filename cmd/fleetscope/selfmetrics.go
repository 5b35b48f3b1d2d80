package main

import (
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetscope/fleetscope/collectors/procfs"
)

// selfCollector exports the agent's process_* series under the names and
// help texts of client_golang's process collector, from procfs.Self: a
// scrape reads one kept-open file instead of five. The network counters
// that collector adds are left out: with hostNetwork they are the node's,
// not the agent's.
type selfCollector struct {
	mu   sync.Mutex
	self *procfs.Self
	log  *slog.Logger

	cpu, open, max, vsize, vmax, rss, start *prometheus.Desc
}

var _ prometheus.Collector = (*selfCollector)(nil)

func newSelfCollector(self *procfs.Self, log *slog.Logger) *selfCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &selfCollector{
		self:  self,
		log:   log,
		cpu:   d("process_cpu_seconds_total", "Total user and system CPU time spent in seconds."),
		open:  d("process_open_fds", "Number of open file descriptors."),
		max:   d("process_max_fds", "Maximum number of open file descriptors."),
		vsize: d("process_virtual_memory_bytes", "Virtual memory size in bytes."),
		vmax:  d("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes."),
		rss:   d("process_resident_memory_bytes", "Resident memory size in bytes."),
		start: d("process_start_time_seconds", "Start time of the process since unix epoch in seconds."),
	}
}

func (c *selfCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cpu, c.open, c.max, c.vsize, c.vmax, c.rss, c.start} {
		ch <- d
	}
}

// Collect sends what could be read, leaving out what could not, as the
// collector it replaces does.
func (c *selfCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	st, err := c.self.Read()
	c.mu.Unlock()
	if err != nil {
		c.log.Debug("reading the agent's own process figures", "err", err)
		return
	}
	if st.OpenFDs >= 0 {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(st.OpenFDs))
	}
	ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, st.CPUSeconds)
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, st.MaxFDs)
	ch <- prometheus.MustNewConstMetric(c.vsize, prometheus.GaugeValue, float64(st.VirtualBytes))
	ch <- prometheus.MustNewConstMetric(c.vmax, prometheus.GaugeValue, st.VirtualMaxBytes)
	ch <- prometheus.MustNewConstMetric(c.rss, prometheus.GaugeValue, float64(st.ResidentBytes))
	if !st.Start.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.start, prometheus.GaugeValue, float64(st.Start.UnixNano())/1e9)
	}
}
