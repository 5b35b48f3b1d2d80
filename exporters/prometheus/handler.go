package prometheus

import (
	"bytes"
	"compress/gzip"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// contentType is the text exposition format, version 0.0.4, which every
// Prometheus-compatible scraper reads.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Handler serves w's snapshot text followed by extra's metrics (the Go
// runtime and process collectors, whose cost does not grow with
// containers), gzipped when the client accepts it. A failing extra
// gatherer is logged and skipped: container metrics are still served.
func Handler(w *Writer, extra prometheus.Gatherer, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		buf := bufPool.Get().(*bytes.Buffer)
		defer bufPool.Put(buf)
		buf.Reset()
		buf.Write(w.Append(buf.AvailableBuffer()))
		if extra != nil {
			mfs, err := extra.Gather()
			if err != nil {
				log.Warn("gathering process metrics", "err", err)
			}
			enc := expfmt.NewEncoder(buf, expfmt.NewFormat(expfmt.TypeTextPlain))
			for _, mf := range mfs {
				if err := enc.Encode(mf); err != nil {
					log.Warn("encoding process metrics", "err", err)
					break
				}
			}
		}
		rw.Header().Set("Content-Type", contentType)
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			rw.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(rw)
			gz.Write(buf.Bytes())
			gz.Close()
			return
		}
		rw.Write(buf.Bytes())
	})
}

// Gather implements prometheus.Gatherer by parsing the Writer's own text,
// for tests and tools that want the families as client_model values. The
// scrape path never uses it.
func (w *Writer) Gather() ([]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
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
