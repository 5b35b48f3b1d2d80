package promtext

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

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

// Handler serves w's snapshot text followed by extra's metrics (the Go
// runtime and process collectors, whose cost does not grow with
// containers), gzipped when the client accepts it. A failing extra
// gatherer is logged and skipped: container metrics are still served.
func Handler(w *Writer, extra prometheus.Gatherer, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", contentType)
		var out io.Writer = rw
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
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
