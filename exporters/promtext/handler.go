package promtext

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"
)

// contentType is the text exposition format, version 0.0.4, which every
// Prometheus-compatible scraper reads.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// Writers are pooled: a gzip writer allocates its compression tables (a
// few hundred KiB) when made, and the process metrics' encoder writes in
// small pieces that want a buffer.
var (
	gzipPool  = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}
	bufioPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}
)

// MaxScrapesInFlight is how many scrapes render at once; a further one
// waits at most inFlightWait for a slot, then is answered 503, as
// promhttp's MaxRequestsInFlight does. Each
// rendering holds its text (a few MiB at a thousand containers), so this
// bounds the memory scrapes can take, whoever sends them.
const MaxScrapesInFlight = 8

// Handler serves w's snapshot text followed by extra's metrics (the Go
// runtime and process collectors, whose cost does not grow with
// containers), gzipped when the client accepts it. A failing extra
// gatherer is logged and skipped: container metrics are still served.
// Only GET and HEAD are served.
func Handler(w *Writer, extra prometheus.Gatherer, log *slog.Logger) http.Handler {
	inFlight := make(chan struct{}, MaxScrapesInFlight)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			rw.Header().Set("Allow", "GET, HEAD")
			http.Error(rw, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !acquire(r.Context(), inFlight) {
			http.Error(rw, fmt.Sprintf("too many concurrent scrapes (limit %d)", MaxScrapesInFlight), http.StatusServiceUnavailable)
			return
		}
		defer func() { <-inFlight }()
		rw.Header().Set("Content-Type", contentType)
		rw.Header().Add("Vary", "Accept-Encoding")
		if r.Method == http.MethodHead {
			return
		}
		var out io.Writer = rw
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			rw.Header().Set("Content-Encoding", "gzip")
			gz := gzipPool.Get().(*gzip.Writer)
			gz.Reset(rw)
			defer func() {
				gz.Close()
				gz.Reset(nil)
				gzipPool.Put(gz)
			}()
			out = gz
		}
		bw := bufioPool.Get().(*bufio.Writer)
		bw.Reset(out)
		defer func() {
			bw.Reset(nil)
			bufioPool.Put(bw)
		}()
		if _, err := w.WriteTo(bw); err != nil {
			log.Debug("writing metrics", "err", err)
			return
		}
		if extra != nil {
			mfs, err := extra.Gather()
			if err != nil {
				log.Warn("gathering process metrics", "err", err)
			}
			enc := expfmt.NewEncoder(bw, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range mfs {
				if err := enc.Encode(mf); err != nil {
					log.Debug("encoding process metrics", "err", err)
					break
				}
			}
		}
		if err := bw.Flush(); err != nil {
			log.Debug("writing metrics", "err", err)
		}
	})
}

// inFlightWait is how long a scrape waits for a free rendering slot before
// it is turned away: a rendering takes milliseconds, so a short wait lets a
// scraper through a burst of others, while a flood still gets 503s within
// a tenth of Prometheus' default scrape timeout.
const inFlightWait = time.Second

func acquire(ctx context.Context, slots chan struct{}) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(inFlightWait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// acceptsGzip reads Accept-Encoding (RFC 9110, section 12.5.3): gzip is
// used when listed, or covered by "*", with a non-zero quality.
func acceptsGzip(values []string) bool {
	gzip, star := -1.0, -1.0
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(item, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil || f < 0 || f > 1 {
						f = 0
					}
					q = f
				}
			}
			switch name {
			case "gzip", "x-gzip":
				gzip = q
			case "*":
				star = q
			}
		}
	}
	if gzip >= 0 {
		return gzip > 0
	}
	return star > 0
}

// Gather implements prometheus.Gatherer by parsing the Writer's own text,
// for tests and tools that want the families as client_model values. The
// scrape path never uses it.
func (w *Writer) Gather() ([]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(prommodel.UTF8Validation)
	byName, err := p.TextToMetricFamilies(bytes.NewReader(w.Append(nil)))
	if err != nil {
		return nil, err
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, nil
}
