package agent

import (
	"log/slog"
	"testing"

	"github.com/fleetscope/fleetscope/analysis"
	"github.com/fleetscope/fleetscope/collectors/containerd"
	"github.com/fleetscope/fleetscope/config"
)

// An image label on an app container does not move its idle floors; the
// pod's labels (OverrideLabels, from discovery) do.
func TestThresholdsIgnoreImageLabels(t *testing.T) {
	cfg := config.Default()
	cfg.History.StateFile = ""
	st := newState(cfg, slog.New(slog.DiscardHandler))
	image := &containerd.Container{Namespace: "k8s.io", ID: "app",
		Labels: map[string]string{analysis.LabelIdleCPUCores: "50"}}
	if th := st.thresholdsFor(image); th.CPUCores != cfg.Analysis.Idle.CPUCores {
		t.Errorf("image label set the CPU floor to %v, want the config's %v", th.CPUCores, cfg.Analysis.Idle.CPUCores)
	}
	pod := &containerd.Container{Namespace: "k8s.io", ID: "app2",
		OverrideLabels: map[string]string{analysis.LabelIdleCPUCores: "0.5"}}
	if th := st.thresholdsFor(pod); th.CPUCores != 0.5 {
		t.Errorf("pod label: CPU floor %v, want 0.5", th.CPUCores)
	}
}
