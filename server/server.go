// Package server is the agent's HTTP side: /metrics, /healthz, /readyz,
// the JSON API and, when enabled, Go's profiles, with TLS and basic auth
// from an exporter-toolkit web configuration. It reads published snapshots
// only; the command wires it to the agent and the metrics handler.
//
// Every listener is reachable from every pod on the node, so every
// connection and request is bounded here, in one place: header size and
// read time, write time, idle keep-alive time, open connections per
// listener and per client (see limitListener), HTTP/2 streams per
// connection, requests in flight per client and in all (see guard), API
// renderings, password checks (see authCache), and load shed near the
// memory limit.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
	"github.com/fleetscope/fleetscope/report"
)

// Limits on what one client may hold. A scrape of 1,000 containers takes
// well under a second to render, so these leave room for slow networks
// while a client that stalls is cut off.
const (
	// shutdownGrace bounds how long in-flight requests may finish at
	// shutdown; with the loop's immediate exit it keeps SIGTERM under 5 s.
	shutdownGrace = 3 * time.Second
	// readHeaderTimeout and maxHeaderBytes bound an unfinished request:
	// a scrape's headers are a few hundred bytes.
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	maxHeaderBytes    = 8 << 10
	// writeTimeout cuts off a client that does not read its response.
	writeTimeout = 30 * time.Second
	// idleTimeout closes keep-alive connections nobody uses: Prometheus
	// scrapes every 15 s or more and reconnects at no cost.
	idleTimeout = 60 * time.Second
	// DefaultMaxConnections is the open connections a listener keeps at
	// once; beyond it, a new one replaces the oldest idle one (see
	// limitListener).
	// A connection costs the agent about 20 KiB (goroutine, buffers, at
	// most maxHeaderBytes of request), so this bounds them to ~20 MiB.
	DefaultMaxConnections = 1024
	// maxStreams is the HTTP/2 streams a connection may have open: a
	// scraper uses one; the per-client in-flight cap counts them across
	// connections. It also bounds rapid reset: Go's server closes a
	// connection (ENHANCE_YOUR_CALM) once more than four times this many
	// streams wait for a handler, so a resetting client pays a TLS
	// handshake every 20 requests.
	maxStreams = 4
	// maxAPIRenders is how many API answers are rendered at once (each
	// holds the report of every container while it is written), and
	// apiWriteTimeout how long one may take to write, so that readers
	// that trickle free their slot.
	maxAPIRenders   = 2
	apiRenderWait   = time.Second
	apiWriteTimeout = 10 * time.Second
)

// Source hands out the latest snapshot; nil before the first tick.
type Source interface {
	Snapshot() *model.Snapshot
}

// Options configure a Server.
type Options struct {
	Web     config.WebConfig
	Version string
	// Currency and PriceSource label the API's money figures.
	Currency, PriceSource string
	// MaxConnections caps each listener's open connections;
	// zero means DefaultMaxConnections.
	MaxConnections int
	// Shed, when set, reports that the agent is near its memory limit:
	// requests other than /healthz are then turned away (503).
	Shed func() bool
	Log  *slog.Logger
}

// Server serves the endpoints on one listener, or two when the API has a
// listener of its own.
type Server struct {
	src       Source
	opt       Options
	log       *slog.Logger
	servers   []*http.Server // the main listener first
	fields    []string       // the configuration key of each, for errors
	auth      []bool         // whether web.config_file (TLS, auth) applies
	listeners []net.Listener // set by Listen, index for index

	web       *webConfig // nil without web.config_file; set by Listen
	passwords *authCache
	apiSlots  chan struct{}
}

// New builds the server. metrics serves the telemetry path.
func New(src Source, metrics http.Handler, o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	s := &Server{src: src, opt: o, log: o.Log, passwords: newAuthCache(), apiSlots: make(chan struct{}, maxAPIRenders)}
	w := o.Web
	mux := http.NewServeMux()
	mux.Handle(w.TelemetryPath, metrics)
	mux.HandleFunc("/healthz", healthz)
	mux.HandleFunc("/readyz", s.readyz)
	api := mux
	if w.APIListenAddress != "" {
		api = http.NewServeMux()
		api.HandleFunc("/healthz", healthz)
	}
	api.Handle("GET /api/v1/containers", s.apiRender(s.containers))
	api.Handle("GET /api/v1/workloads", s.apiRender(s.workloads))
	if w.PProf {
		api.HandleFunc("/debug/pprof/", pprof.Index)
		api.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		api.HandleFunc("/debug/pprof/profile", pprof.Profile)
		api.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		api.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	index := fmt.Sprintf("Fleetscope %s\n\n%s  metrics\n/healthz  liveness\n/readyz   readiness, with the reason when not ready\n", o.Version, w.TelemetryPath)
	apiIndex := "/api/v1/containers  every container's figures, verdict and reasons (JSON)\n" +
		"/api/v1/workloads   the same summed per Deployment, StatefulSet, DaemonSet, Job, CronJob (JSON)\n"
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
	s.servers = append(s.servers, newHTTPServer(w.ListenAddress, newGuard(s.authenticated(mux), o.Shed), o.Log))
	s.fields = append(s.fields, "web.listen_address")
	s.auth = append(s.auth, true)
	if w.APIListenAddress != "" {
		s.servers = append(s.servers, newHTTPServer(w.APIListenAddress, newGuard(s.authenticated(api), o.Shed), o.Log))
		s.fields = append(s.fields, "web.api_listen_address")
		s.auth = append(s.auth, true)
	}
	if w.HealthListenAddress != "" {
		health := http.NewServeMux()
		health.HandleFunc("/healthz", healthz)
		health.HandleFunc("/readyz", s.readyz)
		s.servers = append(s.servers, newHTTPServer(w.HealthListenAddress, newGuard(health, o.Shed), o.Log))
		s.fields = append(s.fields, "web.health_listen_address")
		s.auth = append(s.auth, false)
	}
	return s
}

func newHTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Only with TLS (web.config_file): no endpoint takes a body, so
		// the receive windows are the protocol's minimum, and frames and
		// header tables stay at their defaults' floor.
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          maxStreams,
			MaxReadFrameSize:              16 << 10,
			MaxDecoderHeaderTableSize:     4 << 10,
			MaxEncoderHeaderTableSize:     4 << 10,
			MaxReceiveBufferPerConnection: 64 << 10,
			MaxReceiveBufferPerStream:     16 << 10,
		},
		// Clients that misbehave are not news worth a log line each.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

func healthz(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }

// readyz is ready once containerd answers and a first sample is published;
// otherwise it says why, so `kubectl describe` shows the cause.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	var why []string
	snap := s.src.Snapshot()
	if snap == nil {
		why = append(why, "no sample taken yet")
	} else if !snap.Self.ContainerdUp {
		why = append(why, fmt.Sprintf("containerd not connected since %s: %s", snap.Self.ContainerdSince.Format(time.RFC3339), snap.Self.ContainerdReason))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
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
	rep := report.FromSnapshot(s.src.Snapshot(), s.opt.Currency, s.opt.PriceSource)
	q := r.URL.Query()
	report.Filter{Namespaces: q["namespace"], Verdicts: q["verdict"], WithSandboxes: true}.Apply(&rep)
	w.Header().Set("Content-Type", "application/json")
	if err := report.Render(w, rep, report.Options{Format: "json"}); err != nil {
		s.log.Debug("writing /api/v1/containers", "err", err)
	}
}

// workloads serves the containers summed per workload; ?namespace=
// filters (repeatable).
func (s *Server) workloads(w http.ResponseWriter, r *http.Request) {
	rep := report.WorkloadsOf([]report.Report{report.FromSnapshot(s.src.Snapshot(), s.opt.Currency, s.opt.PriceSource)})
	report.FilterWorkloads(&rep, r.URL.Query()["namespace"])
	w.Header().Set("Content-Type", "application/json")
	if err := report.RenderWorkloads(w, rep, report.Options{Format: "json"}); err != nil {
		s.log.Debug("writing /api/v1/workloads", "err", err)
	}
}

// authenticated applies the web configuration's basic auth and headers.
// A refusal has no body: over HTTP/2 a body could wait on the client's
// flow control.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.web == nil {
			next.ServeHTTP(w, r)
			return
		}
		cfg, err := s.web.settings()
		if err != nil {
			s.log.Warn("the web configuration changed but cannot be used; keeping the previous one", "err", err)
		}
		for k, v := range cfg.headers {
			w.Header().Set(k, v)
		}
		if len(cfg.users) > 0 {
			ok, busy := false, false
			if user, pass, given := r.BasicAuth(); given {
				ok, busy = s.passwords.check(cfg.users, clientKey(r.RemoteAddr), user, pass)
			}
			switch {
			case busy:
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			case !ok:
				w.Header().Set("WWW-Authenticate", `Basic realm="fleetscope"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// apiRender bounds the API's renderings: at most maxAPIRenders at once,
// each with apiWriteTimeout to be written.
func (s *Server) apiRender(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(apiRenderWait)
		defer t.Stop()
		select {
		case s.apiSlots <- struct{}{}:
		case <-t.C:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case <-r.Context().Done():
			return
		}
		defer func() { <-s.apiSlots }()
		http.NewResponseController(w).SetWriteDeadline(time.Now().Add(apiWriteTimeout))
		h(w, r)
	})
}

// Listen reads the web configuration and binds every listener, so that a
// bad file or a port in use fails the start with the field that names it
// rather than later, inside Run.
func (s *Server) Listen() error {
	if f := s.opt.Web.ConfigFile; f != "" && s.web == nil {
		wc, err := loadWebConfig(f)
		if err != nil {
			return fmt.Errorf("web.config_file: %w", err)
		}
		s.web = wc
	}
	for i, srv := range s.servers {
		l, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			for _, prev := range s.listeners {
				prev.Close()
			}
			s.listeners = nil
			return fmt.Errorf("%s %s: %w", s.fields[i], srv.Addr, err)
		}
		lim := limitListener(l, s.opt.MaxConnections)
		srv.ConnState = lim.connState
		s.listeners = append(s.listeners, lim)
	}
	return nil
}

// Addrs are the bound addresses, main listener first; empty before Listen.
func (s *Server) Addrs() []net.Addr {
	var out []net.Addr
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// Run serves until ctx is done, then shuts down gracefully and returns once
// every listener's goroutine has ended. A listener that fails stops the
// whole server: an agent half reachable is worse than one that says why.
func (s *Server) Run(ctx context.Context) error {
	if s.listeners == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	errc := make(chan error, len(s.servers))
	var wg sync.WaitGroup
	for i, srv := range s.servers {
		l := s.listeners[i]
		wg.Go(func() {
			err := s.serve(l, srv, s.auth[i])
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s %s: %w", s.fields[i], srv.Addr, err)
			}
		})
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
	wg.Wait()
	return err
}

// serve serves one listener, with TLS when the web configuration has it
// and the listener uses it. Certificates are re-read when their files
// change, as exporter-toolkit does; whether HTTP/2 is offered is decided
// at start.
func (s *Server) serve(l net.Listener, srv *http.Server, useWeb bool) error {
	if !useWeb || s.web == nil {
		s.log.Info("listening", "address", l.Addr().String(), "tls", false)
		return srv.Serve(l)
	}
	first, _ := s.web.settings()
	if first.tls == nil {
		s.log.Info("listening", "address", l.Addr().String(), "tls", false, "basic_auth", len(first.users) > 0)
		return srv.Serve(l)
	}
	protos := []string{"h2", "http/1.1"}
	if !first.http2 {
		protos = protos[1:]
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	srv.TLSConfig = &tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cur, err := s.web.settings()
			if err != nil {
				s.log.Warn("the web configuration changed but cannot be used; keeping the previous one", "err", err)
			}
			if cur.tls == nil {
				return nil, errors.New("TLS was turned off in the web configuration: restart the agent to serve plain HTTP")
			}
			c := cur.tls.Clone()
			c.NextProtos = protos
			return c, nil
		},
	}
	s.log.Info("listening", "address", l.Addr().String(), "tls", true, "http2", first.http2, "basic_auth", len(first.users) > 0)
	return srv.ServeTLS(l, "", "")
}
