package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/fleetscope/fleetscope/exporters/promtext"
	"github.com/fleetscope/fleetscope/report"
)

// shutdownGrace bounds how long in-flight scrapes may finish at shutdown;
// together with the loop's immediate exit it keeps SIGTERM under 5 s.
const shutdownGrace = 3 * time.Second

// Server serves /metrics, /healthz and /readyz, and the API (with
// /debug/pprof/ when enabled) there or on a listener of its own, with TLS
// and basic auth from an exporter-toolkit web configuration file when one
// is set.
type Server struct {
	webConfig string
	log       *slog.Logger
	servers   []*http.Server // the main listener first
	agent     *Agent
}

// NewServer builds the HTTP server(s) for a.
func NewServer(a *Agent) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	s := &Server{webConfig: a.cfg.Web.ConfigFile, log: a.log, agent: a}
	w := a.cfg.Web
	mux := http.NewServeMux()
	mux.Handle(w.TelemetryPath, promtext.Handler(promtext.New(a, promtext.Options{Version: a.version, MaxSeriesPerMetric: a.cfg.Export.MaxSeriesPerMetric}), reg, a.log))
	mux.HandleFunc("/healthz", healthz)
	mux.HandleFunc("/readyz", s.readyz)
	api := mux
	if w.APIListenAddress != "" {
		api = http.NewServeMux()
		api.HandleFunc("/healthz", healthz)
	}
	api.HandleFunc("GET /api/v1/containers", s.containers)
	if w.PProf {
		api.HandleFunc("/debug/pprof/", pprof.Index)
		api.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		api.HandleFunc("/debug/pprof/profile", pprof.Profile)
		api.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		api.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	index := fmt.Sprintf("Fleetscope %s\n\n%s  metrics\n/healthz  liveness\n/readyz   readiness, with the reason when not ready\n", a.version, w.TelemetryPath)
	apiIndex := "/api/v1/containers  every container's figures, verdict and reasons (JSON)\n"
	if w.PProf {
		apiIndex += "/debug/pprof/  Go runtime profiles\n"
	}
	if w.APIListenAddress != "" {
		index += "(the API is served on " + w.APIListenAddress + ")\n"
		api.HandleFunc("/{$}", func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprint(rw, apiIndex) })
	} else {
		index += apiIndex
	}
	mux.HandleFunc("/{$}", func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprint(rw, index) })
	s.servers = append(s.servers, &http.Server{Addr: w.ListenAddress, Handler: mux, ReadHeaderTimeout: 10 * time.Second})
	if w.APIListenAddress != "" {
		s.servers = append(s.servers, &http.Server{Addr: w.APIListenAddress, Handler: api, ReadHeaderTimeout: 10 * time.Second})
	}
	return s
}

func healthz(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }

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

// Run serves until ctx is done, then shuts down gracefully. A listener
// that fails stops the whole server: an agent half reachable is worse than
// one that says why it cannot start.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, len(s.servers))
	for i, srv := range s.servers {
		field := "web.listen_address"
		if i > 0 {
			field = "web.api_listen_address"
		}
		go func() {
			addrs := []string{srv.Addr}
			systemd := false
			cfg := s.webConfig
			err := web.ListenAndServe(srv, &web.FlagConfig{
				WebListenAddresses: &addrs, WebSystemdSocket: &systemd, WebConfigFile: &cfg,
			}, s.log)
			errc <- fmt.Errorf("%s %s: %w", field, srv.Addr, err)
		}()
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	for _, srv := range s.servers {
		if serr := srv.Shutdown(sctx); serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	return err
}
