// Package otlp exports the agent's snapshots as OpenTelemetry metrics over
// OTLP (gRPC or HTTP/protobuf). The instruments are generated from the
// schema table, as the Prometheus collector's descriptors are, so names,
// units and attributes are the same in both; one callback observes every
// value of the latest snapshot when the periodic reader collects, so an
// export never samples anything itself.
//
// Configuration follows the OpenTelemetry conventions: the standard
// OTEL_EXPORTER_OTLP_* and OTEL_RESOURCE_ATTRIBUTES environment variables
// apply and win over the agent's otlp section. Temporality is cumulative
// (unless OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE says otherwise),
// so an export holds only current state: while the collector is down each
// export fails after its timeout, is counted, and is dropped, and memory
// does not grow.
package otlp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/grpc/credentials"

	"github.com/fleetscope/fleetscope/config"
	"github.com/fleetscope/fleetscope/model"
)

// scope is the instrumentation scope of every metric.
const scope = "github.com/fleetscope/fleetscope"

// shutdownTimeout bounds the final flush at shutdown, so that a collector
// that is unreachable cannot delay the agent's exit.
const shutdownTimeout = 2 * time.Second

// Source hands out the latest snapshot; nil before the first tick.
type Source interface {
	Snapshot() *model.Snapshot
}

// Options are what the exporter needs besides its configuration.
type Options struct {
	// Version is the agent's version (service.version).
	Version string
	// NodeName is k8s.node.name, and also host.name and
	// service.instance.id when set: in a DaemonSet the pod's hostname is
	// the pod's name, not the node's. HostName (os.Hostname when empty)
	// stands in for both where the node name is unknown.
	NodeName, HostName string
	// MaxSeriesPerMetric caps each metric's series in one export; zero
	// means no cap.
	MaxSeriesPerMetric int
	Log                *slog.Logger
	// LookupEnv reads the environment; nil means os.LookupEnv. The SDK's
	// exporters read OTEL_* variables from the process environment
	// themselves; this decides which configuration keys they leave alone.
	LookupEnv func(string) (string, bool)
}

// Exporter pushes the latest snapshot to an OTLP endpoint periodically.
// New only prepares it; the periodic reader, which owns a goroutine, lives
// from Run's start to its return.
type Exporter struct {
	exp        *counting
	log        *slog.Logger
	protocol   string
	endpoint   string
	interval   time.Duration
	readerOpts []sdkmetric.PeriodicReaderOption
	res        *resource.Resource
	src        Source
	version    string
	maxSeries  int

	// provider is set by Run before ready is closed.
	provider *sdkmetric.MeterProvider
	ready    chan struct{}
}

// Enabled reports whether an endpoint is configured, in cfg or in the
// environment, and OpenTelemetry is not switched off there
// (OTEL_SDK_DISABLED=true or OTEL_METRICS_EXPORTER=none).
func Enabled(cfg config.OTLPConfig, lookup func(string) (string, bool)) bool {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if v, _ := lookup("OTEL_SDK_DISABLED"); strings.EqualFold(strings.TrimSpace(v), "true") {
		return false
	}
	if v, _ := lookup("OTEL_METRICS_EXPORTER"); strings.EqualFold(strings.TrimSpace(v), "none") {
		return false
	}
	return cfg.Endpoint != "" || envSet(lookup, "ENDPOINT")
}

// envSet reports whether OTEL_EXPORTER_OTLP_<name> or its metrics-specific
// OTEL_EXPORTER_OTLP_METRICS_<name> is set.
func envSet(lookup func(string) (string, bool), name string) bool {
	_, a := lookup("OTEL_EXPORTER_OTLP_" + name)
	_, b := lookup("OTEL_EXPORTER_OTLP_METRICS_" + name)
	return a || b
}

func envValue(lookup func(string) (string, bool), name string) (string, bool) {
	if v, ok := lookup("OTEL_EXPORTER_OTLP_METRICS_" + name); ok {
		return v, true
	}
	return lookup("OTEL_EXPORTER_OTLP_" + name)
}

// New builds the exporter, or returns nil when it is not Enabled. It does
// not connect: a collector that is down at start only makes exports fail
// until it is up.
func New(ctx context.Context, cfg config.OTLPConfig, src Source, o Options) (*Exporter, error) {
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if !Enabled(cfg, lookup) {
		return nil, nil
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	protocol := cfg.Protocol
	if v, ok := envValue(lookup, "PROTOCOL"); ok {
		protocol = strings.TrimSpace(v)
	}
	var (
		inner sdkmetric.Exporter
		err   error
	)
	switch protocol {
	case config.OTLPProtocolGRPC:
		inner, err = newGRPC(ctx, cfg, lookup)
	case config.OTLPProtocolHTTP:
		inner, err = newHTTP(ctx, cfg, lookup)
	default:
		return nil, fmt.Errorf("OTLP protocol %q: want %s or %s", protocol, config.OTLPProtocolGRPC, config.OTLPProtocolHTTP)
	}
	if err != nil {
		return nil, err
	}
	res, err := newResource(ctx, o)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES loses only what could not
		// be parsed.
		log.Warn("OTLP resource incomplete", "err", err)
	}
	exp := &counting{Exporter: inner, log: log}
	readerOpts := []sdkmetric.PeriodicReaderOption{}
	interval := cfg.Interval
	if v, ok := lookup("OTEL_METRIC_EXPORT_INTERVAL"); ok {
		if ms, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && ms > 0 {
			interval = time.Duration(ms) * time.Millisecond
		}
	} else {
		readerOpts = append(readerOpts, sdkmetric.WithInterval(cfg.Interval))
	}
	if _, ok := lookup("OTEL_METRIC_EXPORT_TIMEOUT"); !ok {
		readerOpts = append(readerOpts, sdkmetric.WithTimeout(cfg.Timeout))
	}
	e := &Exporter{
		exp: exp, log: log, protocol: protocol, interval: interval, readerOpts: readerOpts, res: res,
		src: src, version: o.Version, maxSeries: o.MaxSeriesPerMetric, ready: make(chan struct{}),
	}
	e.endpoint = cfg.Endpoint
	if v, ok := envValue(lookup, "ENDPOINT"); ok {
		e.endpoint = v
	}
	// Once, at start: a port of the other protocol fails every export,
	// and the failure itself (an HTTP/2 preface error, a 4xx) does not
	// say why.
	if msg := config.OTLPPortMismatch(e.endpoint, protocol); msg != "" {
		log.Warn("OTLP endpoint and protocol disagree: "+msg, "protocol", protocol, "endpoint", config.RedactURL(e.endpoint))
	}
	return e, nil
}

// SDKErrorsTo sends the OpenTelemetry SDK's own error reports to log at
// debug level: the exporter logs the first failure of a streak itself.
// The SDK's handler is process-global, so only the command calls this.
func SDKErrorsTo(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Debug("OpenTelemetry SDK", "err", err) }))
}

// newProvider returns the meter provider around reader. The SDK's default
// cardinality limit (2000 series per instrument) would fold the series of
// a large node into an overflow series; it is lifted because asynchronous
// instruments with cumulative temporality keep only the series observed in
// the current callback, which are bounded by the containers on the node.
func newProvider(reader sdkmetric.Reader, res *resource.Resource) *sdkmetric.MeterProvider {
	return sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		sdkmetric.WithReader(reader),
		sdkmetric.WithCardinalityLimit(0),
	)
}

func newResource(ctx context.Context, o Options) (*resource.Resource, error) {
	host := o.NodeName
	if host == "" {
		host = o.HostName
	}
	if host == "" {
		host, _ = os.Hostname()
	}
	// One agent per node: the node's name identifies the instance, and
	// Prometheus' OTLP translation makes it the instance label.
	kv := []attribute.KeyValue{
		attribute.String("service.name", "fleetscope"),
		attribute.String("service.version", o.Version),
		attribute.String("service.instance.id", host),
		attribute.String("host.name", host),
	}
	if o.NodeName != "" {
		kv = append(kv, attribute.String("k8s.node.name", o.NodeName))
	}
	// Later options win: OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
	// may override ours.
	return resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(kv...), resource.WithFromEnv())
}

// headerEnv are the variables that carry export headers, the metrics
// one last: when both are set it wins, as in the SDK.
var headerEnv = [...]string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS"}

// envHeaders parses the headers of the environment, reporting whether any
// variable is set. Both are checked, so a malformed one is reported even
// when the other wins. Errors name the variable and the item, never a
// value: header values are credentials.
func envHeaders(lookup func(string) (string, bool)) (map[string]string, bool, error) {
	var h map[string]string
	set := false
	for _, name := range headerEnv {
		v, ok := lookup(name)
		if !ok {
			continue
		}
		parsed, err := config.ParseOTLPHeaders(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		h, set = parsed, true
	}
	return h, set, nil
}

// sdkEnv serialises hideHeaderEnv: the environment is the process's.
var sdkEnv sync.Mutex

// hideHeaderEnv removes the header variables from the process environment
// while the SDK builds its exporter, and returns the function that puts
// them back. The SDK parses them itself and logs a malformed item
// verbatim, through its own global logger, whatever the agent's log
// settings: a credential with a stray comma or percent sign would land in
// the log. The agent has parsed them already (envHeaders) and passes the
// headers as an option, which the SDK applies without logging.
func hideHeaderEnv() (restore func()) {
	sdkEnv.Lock()
	var saved [len(headerEnv)]*string
	for i, name := range headerEnv {
		if v, ok := os.LookupEnv(name); ok {
			saved[i] = &v
			os.Unsetenv(name)
		}
	}
	return func() {
		for i, name := range headerEnv {
			if saved[i] != nil {
				os.Setenv(name, *saved[i])
			}
		}
		sdkEnv.Unlock()
	}
}

// tlsConfig builds the TLS configuration of cfg's certificate files; nil
// when none is set.
func tlsConfig(cfg config.OTLPConfig) (*tls.Config, error) {
	if cfg.CAFile == "" && cfg.CertFile == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("otlp.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("otlp.ca_file: no PEM certificate in %s", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("otlp.cert_file, otlp.key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}

// fileSettings are the configuration keys to pass as options: those whose
// environment variables are not set (the SDK applies those itself, and
// options would override them).
type fileSettings struct {
	endpoint *url.URL
	insecure bool
	headers  map[string]string
	tls      *tls.Config
	timeout  time.Duration
}

func settingsFor(cfg config.OTLPConfig, lookup func(string) (string, bool)) (fileSettings, error) {
	var fs fileSettings
	if cfg.Endpoint != "" && !envSet(lookup, "ENDPOINT") {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return fs, fmt.Errorf("otlp.endpoint: %w", err)
		}
		fs.endpoint = u
	}
	if v, ok := envValue(lookup, "INSECURE"); ok {
		// Re-applied after our endpoint, whose scheme would otherwise
		// decide.
		fs.insecure, _ = strconv.ParseBool(strings.TrimSpace(v))
	} else {
		fs.insecure = cfg.Insecure
	}
	// Headers from the environment are parsed here, not by the SDK, and
	// passed as an option like the file's (see hideHeaderEnv).
	if h, ok, err := envHeaders(lookup); err != nil {
		return fs, err
	} else if ok {
		fs.headers = h
	} else if cfg.Headers != "" {
		h, err := config.ParseOTLPHeaders(cfg.Headers)
		if err != nil {
			return fs, fmt.Errorf("otlp.headers: %w", err)
		}
		fs.headers = h
	}
	if !envSet(lookup, "CERTIFICATE") && !envSet(lookup, "CLIENT_CERTIFICATE") {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return fs, err
		}
		fs.tls = tc
	}
	if !envSet(lookup, "TIMEOUT") {
		fs.timeout = cfg.Timeout
	}
	return fs, nil
}

func newGRPC(ctx context.Context, cfg config.OTLPConfig, lookup func(string) (string, bool)) (sdkmetric.Exporter, error) {
	fs, err := settingsFor(cfg, lookup)
	if err != nil {
		return nil, err
	}
	var opts []otlpmetricgrpc.Option
	if fs.endpoint != nil {
		opts = append(opts, otlpmetricgrpc.WithEndpointURL(fs.endpoint.String()))
	}
	if fs.insecure {
		opts = append(opts, otlpmetricgrpc.WithInsecure())
	}
	if fs.headers != nil {
		opts = append(opts, otlpmetricgrpc.WithHeaders(fs.headers))
	}
	if fs.tls != nil {
		opts = append(opts, otlpmetricgrpc.WithTLSCredentials(credentials.NewTLS(fs.tls)))
	}
	if fs.timeout > 0 {
		opts = append(opts, otlpmetricgrpc.WithTimeout(fs.timeout))
	}
	restore := hideHeaderEnv()
	exp, err := otlpmetricgrpc.New(ctx, opts...)
	restore()
	if err != nil {
		return nil, fmt.Errorf("OTLP gRPC exporter: %w", err)
	}
	return exp, nil
}

func newHTTP(ctx context.Context, cfg config.OTLPConfig, lookup func(string) (string, bool)) (sdkmetric.Exporter, error) {
	fs, err := settingsFor(cfg, lookup)
	if err != nil {
		return nil, err
	}
	var opts []otlpmetrichttp.Option
	if u := fs.endpoint; u != nil {
		// Like OTEL_EXPORTER_OTLP_ENDPOINT, a base URL: the signal's
		// path is appended.
		opts = append(opts, otlpmetrichttp.WithEndpointURL(u.String()),
			otlpmetrichttp.WithURLPath(path.Join("/", u.Path, "v1/metrics")))
	}
	if fs.insecure {
		opts = append(opts, otlpmetrichttp.WithInsecure())
	}
	if fs.headers != nil {
		opts = append(opts, otlpmetrichttp.WithHeaders(fs.headers))
	}
	if fs.tls != nil {
		opts = append(opts, otlpmetrichttp.WithTLSClientConfig(fs.tls))
	}
	if fs.timeout > 0 {
		opts = append(opts, otlpmetrichttp.WithTimeout(fs.timeout))
	}
	restore := hideHeaderEnv()
	exp, err := otlpmetrichttp.New(ctx, opts...)
	restore()
	if err != nil {
		return nil, fmt.Errorf("OTLP HTTP exporter: %w", err)
	}
	return exp, nil
}

// Run starts the periodic reader and lets it export until ctx is done,
// then flushes once more within a short timeout and shuts the SDK down,
// ending the reader's goroutine before it returns.
func (e *Exporter) Run(ctx context.Context) error {
	hist := &histograms{}
	e.provider = newProvider(sdkmetric.NewPeriodicReader(e.exp, append(e.readerOpts, sdkmetric.WithProducer(hist))...), e.res)
	if _, err := newObserver(e.provider.Meter(scope), e.src, e.version, e.maxSeries, hist); err != nil {
		e.provider.Shutdown(context.WithoutCancel(ctx))
		return fmt.Errorf("OTLP instruments: %w", err)
	}
	// Only now: a ForceFlush before the instruments exist would export
	// an empty batch.
	close(e.ready)
	e.log.Info("OTLP export enabled", "protocol", e.protocol, "endpoint", config.RedactURL(e.endpoint), "interval", e.interval.String())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := e.provider.Shutdown(sctx); err != nil {
		e.log.Warn("OTLP exporter shutdown", "err", err)
	}
	return nil
}

// ForceFlush exports now, once Run has started (it waits for that, or for
// ctx).
func (e *Exporter) ForceFlush(ctx context.Context) error {
	select {
	case <-e.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	return e.provider.ForceFlush(ctx)
}

// Failures is the number of failed exports so far.
func (e *Exporter) Failures() uint64 { return e.exp.failures.Load() }

// Points is the number of data points exported successfully so far.
func (e *Exporter) Points() uint64 { return e.exp.points.Load() }

// counting wraps an exporter to count failed exports and exported points.
// The SDK's exporters retry with backoff within the export timeout; what
// fails after that is one failure here, and the batch is dropped: the next
// export carries the then current cumulative values anyway.
type counting struct {
	sdkmetric.Exporter
	log              *slog.Logger
	failures, points atomic.Uint64
	failing          atomic.Bool
}

// The embedded exporter satisfies this alone; the line marks counting as
// the exporter the reader is given.
var _ sdkmetric.Exporter = (*counting)(nil)

// Export implements sdkmetric.Exporter.
func (c *counting) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := c.Exporter.Export(ctx, rm)
	if err != nil {
		// Log a streak of failures once, not at every interval.
		if n := c.failures.Add(1); !c.failing.Swap(true) {
			c.log.Warn("OTLP export failed; retrying at the next interval", "err", err, "failures", n)
		}
		return err
	}
	if c.failing.Swap(false) {
		c.log.Info("OTLP export recovered", "failures", c.failures.Load())
	}
	c.points.Add(uint64(countPoints(rm)))
	return nil
}

func countPoints(rm *metricdata.ResourceMetrics) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[float64]:
				n += len(d.DataPoints)
			case metricdata.Sum[float64]:
				n += len(d.DataPoints)
			case metricdata.Histogram[float64]:
				n += len(d.DataPoints)
			}
		}
	}
	return n
}
