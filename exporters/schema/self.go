package schema

import (
	"github.com/fleetscope/fleetscope/model"
)

// The agent's own health: collectors, sampling, discovery, history
// checkpoints and exporters.
var (
	CollectorDuration = Metric{Name: "fleetscope.collector.duration", Unit: "s", Instrument: Gauge,
		Help: "Duration of the collector's last round.", Attributes: []string{"collector"}}
	CollectorSuccess = Metric{Name: "fleetscope.collector.success", Unit: "", Instrument: Gauge,
		Help: "Whether the collector's last round succeeded for every container (1) or not (0).", Attributes: []string{"collector"}}
	CollectorErrors = Metric{Name: "fleetscope.collector.errors", Unit: "{error}", Instrument: Counter,
		Help: "Errors by collector; a vanished container is not an error.", Attributes: []string{"collector"}}
	TickLag = Metric{Name: "fleetscope.sampler.tick_lag", Unit: "s", Instrument: Gauge,
		Help: "How late the last sampling tick started compared with its schedule."}
	TickOverruns = Metric{Name: "fleetscope.sampler.overruns", Unit: "{tick}", Instrument: Counter,
		Help: "Ticks that took longer than the sample interval."}
	ContainersTracked = Metric{Name: "fleetscope.containers.tracked", Unit: "{container}", Instrument: Gauge,
		Help: "Containers in the inventory, by whether their task is running.", Attributes: []string{"state"}}
	DiscoveryErrors = Metric{Name: "fleetscope.discovery.errors", Unit: "{error}", Instrument: Counter,
		Help: "Discovery errors: lost connections, failed lists, unreadable specs."}
	ContainerdUp = Metric{Name: "fleetscope.containerd.up", Unit: "", Instrument: Gauge,
		Help: "Whether the agent is connected to containerd."}
	OpenFiles = Metric{Name: "fleetscope.sampler.open_files", Unit: "{file}", Instrument: Gauge,
		Help: "cgroup and procfs files the sampler keeps open."}
	OTLPExportFailures = Metric{Name: "fleetscope.otlp.export.failures", Unit: "{export}", Instrument: Counter,
		Help: "OTLP exports that failed after the exporter's retries; present while the OTLP exporter is enabled."}
	OTLPExportPoints = Metric{Name: "fleetscope.otlp.export.points", Unit: "{point}", Instrument: Counter,
		Help: "Metric data points exported over OTLP successfully; present while the OTLP exporter is enabled."}
	DroppedSeries = Metric{Name: "fleetscope.exporter.dropped_series", Unit: "{series}", Instrument: Gauge,
		Help: "Series of a metric left out of the latest scrape or export because the metric reached export.max_series_per_metric, or a pod or container its share of it; absent while nothing is dropped.", Attributes: []string{"metric"}}
	Build = Metric{Name: "fleetscope.build.info", Unit: "", Instrument: Gauge,
		Help: "Build information; the value is always 1.", Attributes: []string{"version", "goversion"}}
	HistoryContainers = Metric{Name: "fleetscope.history.containers", Unit: "{container}", Instrument: Gauge,
		Help: "Containers with history in memory, including recently gone ones."}
	CheckpointFailures = Metric{Name: "fleetscope.history.checkpoint.failures", Unit: "{failure}", Instrument: Counter,
		Help: "Failed attempts to write the history checkpoint."}
	CheckpointAge = Metric{Name: "fleetscope.history.checkpoint.age", Unit: "s", Instrument: Gauge,
		Help: "Time since the last successful checkpoint (what a crash now would lose)."}
	RestoreFailures = Metric{Name: "fleetscope.history.restore.failures", Unit: "{failure}", Instrument: Counter,
		Help: "State files that could not be restored at start (corrupt, foreign or another version) and were moved aside."}
)

// self emits the agent's own health series.
func (w *Walker) self(s *model.Snapshot) {
	self := &s.Self
	for _, c := range self.Collectors {
		w.put1(&CollectorDuration, c.Duration.Seconds(), nil, c.Name)
		w.put1(&CollectorSuccess, boolValue(c.Success), nil, c.Name)
		w.put1(&CollectorErrors, float64(c.Errors), nil, c.Name)
	}
	w.put(&TickLag, self.TickLag.Seconds(), nil)
	w.put(&TickOverruns, float64(self.Overruns), nil)
	w.put1(&ContainersTracked, float64(self.Running), nil, "running")
	w.put1(&ContainersTracked, float64(self.Stopped), nil, "stopped")
	w.put(&DiscoveryErrors, float64(self.DiscoveryErrors), nil)
	w.put(&ContainerdUp, boolValue(self.ContainerdUp), nil)
	w.put(&OpenFiles, float64(self.OpenFiles), nil)
	w.put(&HistoryContainers, float64(self.HistoryContainers), nil)
	w.put(&CheckpointFailures, float64(self.CheckpointFailures), nil)
	w.put(&RestoreFailures, float64(self.RestoreFailures), nil)
	if !self.LastCheckpoint.IsZero() {
		w.put(&CheckpointAge, s.Time.Sub(self.LastCheckpoint).Seconds(), nil)
	}
	if self.OTLPEnabled {
		w.put(&OTLPExportFailures, float64(self.OTLPExportFailures), nil)
		w.put(&OTLPExportPoints, float64(self.OTLPExportPoints), nil)
	}
}
