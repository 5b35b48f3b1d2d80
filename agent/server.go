package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/fleetscope/fleetscope/agent/report"
	promexp "github.com/fleetscope/fleetscope/exporters/prometheus"
)

// shutdownGrace bounds how long in-flight scrapes may finish at shutdown;
// together with the loop's immediate exit it keeps SIGTERM under 5 s.
const shutdownGrace = 3 * time.Second

// Server serves /metrics, /healthz and /readyz, with TLS and basic auth from
// an exporter-toolkit web configuration file when one is set.
type Server struct {
	addr, webConfig string
	log             *slog.Logger
	http            *http.Server
	agent           *Agent
}

// NewServer builds the HTTP server for a.
func NewServer(a *Agent) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle(a.cfg.Web.TelemetryPath, promexp.Handler(promexp.New(a, a.version), reg, a.log))
	s := &Server{addr: a.cfg.Web.ListenAddress, webConfig: a.cfg.Web.ConfigFile, log: a.log, agent: a}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", s.readyz)
	mux.HandleFunc("GET /api/v1/containers", s.containers)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "Fleetscope %s\n\n%s  metrics\n/healthz  liveness\n/readyz   readiness, with the reason when not ready\n/api/v1/containers  every container's figures, verdict and reasons (JSON)\n",
			a.version, a.cfg.Web.TelemetryPath)
	})
	s.http = &http.Server{Addr: s.addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// readyz is ready once containerd answers and a first sample is published;
// otherwise it says why, so `kubectl describe` shows the cause.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	var why []string
	h := s.agent.disc.Health()
	if !h.Connected {
		why = append(why, fmt.Sprintf("containerd not connected since %s: %s", h.Since.Format(time.RFC3339), h.Reason))
	}
	snap := s.agent.Snapshot()
	if snap == nil {
		why = append(why, "no sample taken yet")
	}
	if len(why) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(why, "\n"))
	} else {
		fmt.Fprintln(w, "ready")
	}
	// Problems that do not stop the agent's work are shown, not failed on.
	if snap != nil && snap.Self.StateProblem != "" {
		fmt.Fprintln(w, "warning:", snap.Self.StateProblem)
	}
}

// containers serves every container with its figures, verdict and reasons,
// sorted by money wasted; ?namespace= and ?verdict= filter (repeatable).
func (s *Server) containers(w http.ResponseWriter, r *http.Request) {
	p := s.agent.cfg.Analysis.Prices
	rep := report.FromSnapshot(s.agent.Snapshot(), p.Currency, p.Source)
	q := r.URL.Query()
	report.Filter{Namespaces: q["namespace"], Verdicts: q["verdict"], WithSandboxes: true}.Apply(&rep)
	w.Header().Set("Content-Type", "application/json")
	if err := report.Render(w, rep, "json"); err != nil {
		s.log.Debug("writing /api/v1/containers", "err", err)
	}
}

// Run serves until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		addrs := []string{s.addr}
		systemd := false
		cfg := s.webConfig
		errc <- web.ListenAndServe(s.http, &web.FlagConfig{
			WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &cfg,
		}, s.log)
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("web.listen_address %s: %w", s.addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
