package promtext

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"hash/crc32"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"

	"github.com/fleetscope/fleetscope/model"
)

// contentType is the text exposition format, version 0.0.4, which every
// Prometheus-compatible scraper reads.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// A scrape's text is rendered once per snapshot and the bytes are shared
// by every scrape of that snapshot: a slow reader then holds only its
// connection, never a rendering or a buffer of its own, so readers that
// trickle cannot starve Prometheus of renderings (they could when each
// scrape rendered into a slot of its own and held it while writing), and
// a flood of scrapes costs one rendering per sample. Only the agent's own
// Go and process metrics, a few KiB, are gathered per scrape.
//
// Compressed answers are one gzip member (some clients read only the
// first): the shared text is deflated once, ending on a sync flush, and
// each scrape appends the small tail as the final, stored block, with the
// checksum carried on from the shared part.

// flatePool holds compressors: one allocates its tables (a few hundred
// KiB) when made.
var flatePool = sync.Pool{New: func() any { f, _ := flate.NewWriter(nil, flate.BestSpeed); return f }}

// renderWait is how long a scrape waits for the rendering of a new
// snapshot that another scrape started: a rendering takes milliseconds, so
// only a stuck machine reaches it, and the scrape is then turned away
// within a tenth of Prometheus' default scrape timeout.
const renderWait = time.Second

// page is the text of one snapshot, immutable once published.
type page struct {
	snap  *model.Snapshot
	plain []byte

	deflateOnce sync.Once
	deflated    []byte // raw DEFLATE of plain, ending on a sync flush
	crc         uint32 // CRC-32 of plain
}

// deflate compresses the page for gzip clients, once.
func (p *page) deflate() {
	p.deflateOnce.Do(func() {
		var buf bytes.Buffer
		buf.Grow(len(p.plain) / 6)
		f := flatePool.Get().(*flate.Writer)
		f.Reset(&buf)
		f.Write(p.plain) // a bytes.Buffer does not fail
		f.Flush()
		f.Reset(nil)
		flatePool.Put(f)
		p.deflated, p.crc = buf.Bytes(), crc32.ChecksumIEEE(p.plain)
	})
}

type handler struct {
	w     *Writer
	extra prometheus.Gatherer
	log   *slog.Logger
	// rendering is held by the one scrape rendering a new snapshot.
	rendering chan struct{}
	cur       atomic.Pointer[page]

	extraMu   sync.Mutex
	extraText []byte
	extraAt   time.Time
}

var _ http.Handler = (*handler)(nil)

// Handler serves w's snapshot text followed by extra's metrics (the Go
// runtime and process collectors, whose cost does not grow with
// containers), gzipped when the client accepts it. A failing extra
// gatherer is logged and skipped: container metrics are still served.
// Only GET and HEAD are served. How many scrapes may be in flight, per
// client and in all, is the server's to bound.
func Handler(w *Writer, extra prometheus.Gatherer, log *slog.Logger) http.Handler {
	return &handler{w: w, extra: extra, log: log, rendering: make(chan struct{}, 1)}
}

func (h *handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD")
		rw.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	rw.Header().Set("Content-Type", contentType)
	rw.Header().Add("Vary", "Accept-Encoding")
	if r.Method == http.MethodHead {
		return
	}
	p := h.page(r.Context())
	if p == nil {
		// No body: over HTTP/2 a body could wait on a client's flow
		// control, holding the stream.
		rw.Header().Del("Content-Type")
		rw.Header().Set("Retry-After", "1")
		rw.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	tail := h.gatherExtra()
	var err error
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		err = h.writeGzip(rw, p, tail)
	} else {
		rw.Header().Set("Content-Length", strconv.Itoa(len(p.plain)+len(tail)))
		if _, err = rw.Write(p.plain); err == nil {
			_, err = rw.Write(tail)
		}
	}
	if err != nil {
		h.log.Debug("writing metrics", "err", err)
	}
}

// page returns the text of the latest snapshot, rendering it if no scrape
// has yet; nil when the rendering could not be had in time.
func (h *handler) page(ctx context.Context) *page {
	s := h.w.src.Snapshot()
	if p := h.cur.Load(); p != nil && p.snap == s {
		return p
	}
	t := time.NewTimer(renderWait)
	defer t.Stop()
	select {
	case h.rendering <- struct{}{}:
	case <-t.C:
		return nil
	case <-ctx.Done():
		return nil
	}
	defer func() { <-h.rendering }()
	// Another scrape may have rendered it while this one waited; a newer
	// snapshot may have come too, and is then the one to render.
	s = h.w.src.Snapshot()
	old := h.cur.Load()
	if old != nil && old.snap == s {
		return old
	}
	size := 0
	if old != nil {
		size = len(old.plain) + len(old.plain)/8
	}
	p := &page{snap: s, plain: h.w.AppendSnapshot(make([]byte, 0, size), s)}
	h.cur.Store(p)
	return p
}

// extraTTL is how long the extra gatherer's text is reused: Go runtime
// and process figures a second old are as good as new to a scraper, and a
// flood of scrapes then gathers once a second rather than once each.
const extraTTL = time.Second

// gatherExtra renders the extra gatherer's families, or returns the
// rendering of less than extraTTL ago.
func (h *handler) gatherExtra() []byte {
	if h.extra == nil {
		return nil
	}
	h.extraMu.Lock()
	defer h.extraMu.Unlock()
	if h.extraText != nil && time.Since(h.extraAt) < extraTTL {
		return h.extraText
	}
	mfs, err := h.extra.Gather()
	if err != nil {
		h.log.Warn("gathering process metrics", "err", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			h.log.Debug("encoding process metrics", "err", err)
			break
		}
	}
	// A new slice each time: scrapes still writing the old one keep it.
	h.extraText, h.extraAt = buf.Bytes(), time.Now()
	return h.extraText
}

// gzipHeader is a member header (RFC 1952) without name, time or flags.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// writeGzip writes the page and tail as one gzip member: the page's shared
// DEFLATE blocks, then the tail, a few KiB, in stored (uncompressed) blocks
// ending the stream, which needs no compressor per scrape.
func (h *handler) writeGzip(rw http.ResponseWriter, p *page, tail []byte) error {
	p.deflate()
	end := appendStored(make([]byte, 0, len(tail)+5*(len(tail)/maxStored+1)+8), tail)
	end = binary.LittleEndian.AppendUint32(end, crc32.Update(p.crc, crc32.IEEETable, tail))
	end = binary.LittleEndian.AppendUint32(end, uint32(len(p.plain)+len(tail)))
	rw.Header().Set("Content-Encoding", "gzip")
	rw.Header().Set("Content-Length", strconv.Itoa(len(gzipHeader)+len(p.deflated)+len(end)))
	for _, b := range [][]byte{gzipHeader, p.deflated, end} {
		if _, err := rw.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// maxStored is the most a stored DEFLATE block holds.
const maxStored = 1<<16 - 1

// appendStored appends data as stored DEFLATE blocks (RFC 1951, 3.2.4),
// the last one final, to dst, which must end on a byte boundary (as a
// sync flush leaves it).
func appendStored(dst, data []byte) []byte {
	for {
		n := min(len(data), maxStored)
		final := byte(0)
		if n == len(data) {
			final = 1
		}
		// BFINAL, BTYPE 00, then padding to the byte: one byte.
		dst = append(dst, final)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(n))
		dst = binary.LittleEndian.AppendUint16(dst, ^uint16(n))
		dst = append(dst, data[:n]...)
		data = data[n:]
		if final == 1 {
			return dst
		}
	}
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
